//! Tidiness checks that a reviewer would otherwise do by hand (rust-analyzer keeps such a
//! test): the ARCHITECTURE.md codemap names every source file, every library crate opens
//! with its design docs, and the lock file holds one HTTP stack.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_codemap_names_every_source_file() {
    let root = root();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        rust_files(&krate.path().join("src"), &mut files);
    }
    assert!(files.len() > 40, "found only {} source files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            !matches!(name.as_ref(), "lib.rs" | "main.rs" | "mod.rs")
                && !architecture.contains(name.as_ref())
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's codemap does not name: {missing:?} (say what each one is for)"
    );
}

#[test]
fn every_library_crate_opens_with_its_design() {
    for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        let lib = krate.path().join("src/lib.rs");
        let Ok(text) = std::fs::read_to_string(&lib) else {
            continue;
        };
        assert!(text.starts_with("//!"), "{} has no //! docs", lib.display());
        assert!(
            text.contains("# Example") || text.contains("```"),
            "{} shows no example",
            lib.display()
        );
    }
}

#[test]
fn one_http_stack_in_the_lock_file() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    for name in [
        "reqwest", "hyper", "rustls", "tokio", "axum", "redis", "sled",
    ] {
        let versions = lock
            .lines()
            .filter(|line| *line == format!("name = \"{name}\""))
            .count();
        assert_eq!(
            versions, 1,
            "{name} is in Cargo.lock {versions} times (cargo tree -d -i {name})"
        );
    }
}

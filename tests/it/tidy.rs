//! Tidiness checks that a reviewer would otherwise do by hand (rust-analyzer keeps such a
//! test): the ARCHITECTURE.md codemap names every source file, every library crate opens
//! with its design docs, jira-sim's modules import each other in no circle, and the lock
//! file holds one HTTP stack.

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

/// The codemap's section of each crate: from its `### \`crates/<name>\`` heading to the
/// next heading.
fn codemap_section<'a>(architecture: &'a str, krate: &str) -> Option<&'a str> {
    let heading = format!("### `crates/{krate}`");
    let start = architecture.find(&heading)?;
    let rest = &architecture[start + heading.len()..];
    let end = rest
        .find("\n### ")
        .or_else(|| rest.find("\n## "))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn the_codemap_names_every_source_file_in_its_crates_section() {
    let root = root();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    let mut files = 0;
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let name = krate.file_name().to_string_lossy().into_owned();
        let src = krate.path().join("src");
        let mut sources = Vec::new();
        rust_files(&src, &mut sources);
        files += sources.len();
        let Some(section) = codemap_section(&architecture, &name) else {
            missing.push(format!("a section for crates/{name}"));
            continue;
        };
        for file in sources {
            let relative = file.strip_prefix(&src).unwrap();
            let file_name = relative.file_name().unwrap().to_string_lossy();
            if matches!(file_name.as_ref(), "lib.rs" | "main.rs" | "mod.rs") {
                continue;
            }
            // The file by name, and its folder inside `src/` when it has one.
            let named = section.contains(&format!("`{file_name}`"))
                || section.contains(&format!("{file_name}`"));
            let folder_named = relative
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .is_none_or(|p| section.contains(&format!("{}/", p.display())));
            if !named || !folder_named {
                missing.push(format!("crates/{name}/src/{}", relative.display()));
            }
        }
    }
    assert!(files > 40, "found only {files} source files");
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's codemap does not name, in the crate's own section: {missing:?} (say what each one is for)"
    );
}

#[test]
fn no_source_file_is_over_a_thousand_lines() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["crates", "benches", "xtask", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).ok()?.lines().count();
            (lines > 1_000).then(|| {
                format!(
                    "{} ({lines} lines)",
                    f.strip_prefix(&root).unwrap().display()
                )
            })
        })
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:?}");
}

#[test]
fn the_cli_names_no_layer_crate() {
    let manifest = std::fs::read_to_string(root().join("crates/jira-ops-cli/Cargo.toml")).unwrap();
    for layer in [
        "jira-batch",
        "jira-cache",
        "jira-ratelimit",
        "jira-transport",
        "jira-redis",
    ] {
        assert!(
            !manifest
                .lines()
                .any(|line| line.trim_start().starts_with(layer)),
            "the CLI depends on {layer}: reach it through jira-client's re-exports"
        );
    }
}

/// The modules a crate's module imports (`crate::<module>` outside comments), by the
/// top-level module each file belongs to (`src/render/page.rs` is `render`).
fn module_imports(
    src: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a file name");
        let module = Path::new(first.as_os_str())
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if module == "lib" || module == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source reads");
        let imports = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split([',', '}']).collect(),
                    None => vec![rest],
                };
                for name in names {
                    let name: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                        .collect();
                    if !name.is_empty() && name != module {
                        imports.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// A circle in `graph`, if there is one.
fn find_circle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next)
                && let Some(circle) = visit(graph, next, path, done)
            {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn jira_sim_has_no_import_circle() {
    let graph = module_imports(&root().join("crates/jira-sim/src"));
    assert!(graph.contains_key("state") && graph["api"].contains("issues"));
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "jira-sim's modules import each other in a circle: {} (move what both need into a \
             module below them, as `state`, `edit` and `render` are)",
            circle.join(" -> ")
        );
    }
    // The check finds a circle when there is one.
    let mut circular = graph.clone();
    circular
        .get_mut("state")
        .expect("state")
        .insert("api".to_owned());
    assert!(find_circle(&circular).is_some());
}

/// Every package `package` depends on in Cargo.lock, itself included (normal, build and dev
/// dependencies alike: the lock file does not tell them apart, so this over-approximates).
fn locked_dependencies(lock: &str, package: &str) -> std::collections::BTreeSet<String> {
    let mut deps: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for block in lock.split("[[package]]") {
        let Some(name) = block
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .map(|n| n.trim_end_matches('"').to_owned())
        else {
            continue;
        };
        let list: Vec<String> = block
            .split("dependencies = [")
            .nth(1)
            .map(|rest| {
                rest.split(']')
                    .next()
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().trim_end_matches(',').strip_prefix('"'))
                    .map(|d| {
                        d.trim_end_matches('"')
                            .split(' ')
                            .next()
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        deps.entry(name).or_default().extend(list);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![package.to_owned()];
    while let Some(next) = todo.pop() {
        if seen.insert(next.clone()) {
            todo.extend(deps.get(&next).cloned().unwrap_or_default());
        }
    }
    seen
}

#[test]
fn the_facade_compiles_no_database_driver() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let client = locked_dependencies(&lock, "jira-client");
    assert!(
        client.contains("jira-transport"),
        "the walk works: {client:?}"
    );
    for driver in [
        "rusqlite",
        "libsqlite3-sys",
        "tokio-postgres",
        "postgres",
        "sqlx",
    ] {
        assert!(
            !client.contains(driver),
            "jira-client pulls in {driver}: a sink belongs to jira-sync, behind a feature"
        );
    }
    assert!(locked_dependencies(&lock, "jira-sync").contains("rusqlite"));
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

/// jira-model's route table was generated from the contract: it must still hold every
/// path the contract has (and its v2 spelling), so a proxied request finds its template.
#[test]
fn the_route_table_lists_every_path_of_the_contract() {
    let contract: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contract/jira-cloud-platform.openapi.v3.json"))
            .unwrap(),
    )
    .unwrap();
    let paths = contract["paths"]
        .as_object()
        .expect("the contract has paths");
    let mut missing = Vec::new();
    for path in paths.keys() {
        // A concrete path: each placeholder filled with a value no literal segment has.
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        if jira_model::template_of(&concrete).is_none() {
            missing.push(path.clone());
        }
        if let Some(rest) = path.strip_prefix("/rest/api/3/") {
            let v2 = concrete.replacen("/rest/api/3/", "/rest/api/2/", 1);
            if jira_model::template_of(&v2).is_none() {
                missing.push(format!("/rest/api/2/{rest}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "crates/jira-model/src/route_table.rs lacks {} of the contract's paths (regenerate it from contract/): {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(paths.len() > 400);
}

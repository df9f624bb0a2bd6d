//! Where a command's output goes: stdout, or the file `-o/--output FILE` names, written
//! atomically.
//!
//! With `-o`, everything a command would print on stdout goes to a temporary file beside
//! `FILE` (`.FILE.jira-ops-XXXXXX.tmp`, in the same directory so that the rename cannot
//! cross file systems). When the command ends, the file is flushed, synced and renamed to
//! `FILE` in one step: a reader sees the old file or the whole new one, never half. A run
//! that fails before its output is whole leaves `FILE` as it was (the temporary file is
//! removed); an interrupted run (Ctrl-C, SIGTERM), whose output is well-formed but short,
//! is kept as `FILE.partial` and said so.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::cli::Format;
use crate::error::{CliError, Code};

/// The open `-o` file, when one was asked for.
struct Target {
    path: PathBuf,
    file: BufWriter<tempfile::NamedTempFile>,
}

static TARGET: OnceLock<Mutex<Option<Target>>> = OnceLock::new();

fn target() -> MutexGuard<'static, Option<Target>> {
    TARGET
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends stdout to `path` from now on (see the module docs). The directory must exist;
/// `-` is stdout itself.
pub fn open(path: &Path) -> Result<(), CliError> {
    if path == Path::new("-") {
        return Ok(());
    }
    let shown = path.display();
    if path.is_dir() {
        return Err(CliError::usage(format!(
            "--output {shown} is a directory: name a file in it, e.g. --output {}",
            path.join("out.jsonl").display()
        )));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            CliError::usage(format!(
                "--output {shown} names no file: name one, e.g. --output out.jsonl"
            ))
        })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "--output {shown}: the directory {} does not exist; create it first (mkdir -p {})",
            dir.display(),
            dir.display()
        )));
    }
    let file = tempfile::Builder::new()
        .prefix(&format!(".{name}.jira-ops-"))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| {
            CliError::failure(format!(
                "--output {shown}: cannot write in {}: {e}",
                dir.display()
            ))
        })?;
    *target() = Some(Target {
        path: path.to_path_buf(),
        file: BufWriter::new(file),
    });
    Ok(())
}

/// The format a `-o` file's extension suggests (`.csv`, `.json`, `.jsonl`/`.ndjson`), for
/// commands run without `--format`.
pub fn format_hint() -> Option<Format> {
    let target = target();
    let extension = target
        .as_ref()?
        .path
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    match extension.as_str() {
        "csv" => Some(Format::Csv),
        "json" => Some(Format::Json),
        "jsonl" | "ndjson" => Some(Format::Jsonl),
        _ => None,
    }
}

/// Whether output goes to a file (no table, no terminal escapes).
pub fn to_file() -> bool {
    target().is_some()
}

/// Ends the output as the command's outcome says: renamed into place after a command
/// that ran to its end (whatever its exit code), kept as `FILE.partial` after an
/// interruption, removed after an error.
pub fn finish(outcome: &Result<Code, CliError>) -> Result<(), CliError> {
    let Some(Target { path, file }) = target().take() else {
        return Ok(());
    };
    let shown = path.display().to_string();
    let write_error =
        |e: std::io::Error| CliError::failure(format!("--output {shown}: cannot write: {e}"));
    let keep = match outcome {
        Ok(Code::Interrupted | Code::Terminated) => {
            let mut name = path.clone().into_os_string();
            name.push(".partial");
            Some(PathBuf::from(name))
        }
        Ok(_) => Some(path.clone()),
        Err(_) => None,
    };
    let Some(into) = keep else {
        // Dropping the temporary file removes it.
        return Ok(());
    };
    let file = file.into_inner().map_err(|e| write_error(e.into_error()))?;
    file.as_file().sync_all().map_err(write_error)?;
    file.persist(&into).map_err(|e| write_error(e.error))?;
    if into != path {
        crate::notes::say!(
            "jira-ops: the output so far is in {} ({shown} left as it was)",
            into.display()
        );
    }
    Ok(())
}

/// A handle on stdout or the `-o` file: what commands write their output to.
pub struct Stdout;

/// The handle to write a command's output to.
pub fn stdout() -> Stdout {
    Stdout
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match target().as_mut() {
            Some(target) => target.file.write(buf),
            None => std::io::stdout().lock().write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match target().as_mut() {
            Some(target) => target.file.write_all(buf),
            None => std::io::stdout().lock().write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match target().as_mut() {
            Some(target) => target.file.flush(),
            None => std::io::stdout().lock().flush(),
        }
    }
}

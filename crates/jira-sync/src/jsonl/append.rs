//! What a commit of a JSON Lines sink appends: the line of each record, serialised
//! straight into each file's buffer ([`Appender`]), synced before the manifest names it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::value::RawValue;

use super::{FILES, failed};
use crate::{Child, Error};

/// A line of `issues.jsonl`.
#[derive(Serialize)]
pub(super) struct IssueRecord<'a> {
    pub(super) id: u64,
    pub(super) key: &'a str,
    pub(super) updated_ms: i64,
    pub(super) deleted_ms: Option<i64>,
    pub(super) issue: Option<&'a RawValue>,
}

/// A line of `changelog.jsonl` or `comments.jsonl`.
#[derive(Serialize)]
pub(super) struct Children<'a> {
    pub(super) issue_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) entries: Option<Texts<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) comments: Option<Texts<'a>>,
}

/// A line of `worklogs.jsonl`.
#[derive(Serialize)]
pub(super) struct WorklogRecord<'a> {
    pub(super) id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) issue_id: Option<u64>,
    pub(super) deleted_ms: Option<i64>,
    pub(super) worklog: Option<&'a RawValue>,
}

/// Children written as the array of their JSON texts.
pub(super) struct Texts<'a>(pub(super) &'a [Child]);

impl Serialize for Texts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|child| &*child.json))
    }
}

/// Appends lines to the files, each through a small buffer as it is serialised: a
/// commit's tens of megabytes are never held as text beside the batch they come from.
pub(super) struct Appender {
    pub(super) dir: PathBuf,
    pub(super) files: [Option<(std::io::BufWriter<File>, u64)>; FILES.len()],
    pub(super) line: Vec<u8>,
}

impl Appender {
    pub(super) fn new(dir: &Path) -> Self {
        Appender {
            dir: dir.to_owned(),
            files: Default::default(),
            line: Vec::new(),
        }
    }

    /// Appends `record` as one line of file `file` (an index into [`FILES`]).
    pub(super) fn push(&mut self, file: usize, record: &impl Serialize) -> Result<(), Error> {
        let path = || self.dir.join(FILES[file]);
        self.line.clear();
        serde_json::to_writer(&mut self.line, record).map_err(|e| failed(&path(), e))?;
        self.line.push(b'\n');
        let (writer, written) = match &mut self.files[file] {
            Some(open) => open,
            slot => {
                let file = OpenOptions::new()
                    .append(true)
                    .open(path())
                    .map_err(|e| failed(&path(), e))?;
                slot.insert((std::io::BufWriter::with_capacity(256 * 1024, file), 0))
            }
        };
        writer
            .write_all(&self.line)
            .map_err(|e| failed(&self.dir.join(FILES[file]), e))?;
        *written += self.line.len() as u64;
        Ok(())
    }

    /// Flushes and syncs every file written to; the bytes appended to each.
    pub(super) fn finish(self) -> Result<[u64; FILES.len()], Error> {
        let mut written = [0; FILES.len()];
        for (n, open) in self.files.into_iter().enumerate() {
            if let Some((writer, bytes)) = open {
                let path = self.dir.join(FILES[n]);
                let file = writer
                    .into_inner()
                    .map_err(|e| failed(&path, e.into_error()))?;
                file.sync_all().map_err(|e| failed(&path, e))?;
                written[n] = bytes;
            }
        }
        Ok(written)
    }
}

//! The write journal: every write's intent, durable before it is sent, and its outcome
//! after, so that an interrupted or crashed run never writes anything twice.
//!
//! A journal is a JSON Lines file (one per site, in the state directory), appended to and
//! `fsync`ed in batches: the intents of a request's items before the request goes, their
//! outcomes once it answered. Each item is keyed by its *content key*: a SHA-256 of the job,
//! the whole input's digest, the item's place in it and its content. Re-running the same
//! input finds every item again: one known done is not written again (its issue key is
//! reported), one that was refused or never sent is tried again, and one whose outcome is
//! unknown (sent, no answer) is looked up on the server before anything is sent: every
//! create carries its content key as the issue entity property [`IDEMPOTENCY_PROPERTY`],
//! which JQL finds. A different input holding the same content is a different write.
//!
//! A torn last line (the process died while appending) is ignored on open; everything
//! before it was synced.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The issue entity property that carries a create's content key.
pub const IDEMPOTENCY_PROPERTY: &str = "jira-ops.idempotency";

/// Where a write stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteState {
    /// About to be sent; no outcome recorded yet (after a crash: unknown).
    Intent,
    /// Done: the issue exists.
    Done,
    /// Jira refused it (validation): nothing was written.
    Refused,
    /// Never reached Jira, or refused whole: nothing was written.
    NotSent,
    /// Sent, and the answer was lost: looked up before it is sent again.
    Unknown,
}

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// The item's content key.
    pub id: String,
    /// Where it stands.
    pub state: WriteState,
    /// The input line it came from, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The issue key, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The issue id, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_id: Option<String>,
    /// What went wrong, when something did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a transition sent: the status it moves the issue to, so that a run resolving
    /// a lost answer knows the issue got there (a transition named by its own name, such
    /// as `Close`, does not say which status it leads to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// When it was recorded, milliseconds since the Unix epoch.
    pub at_ms: i64,
}

impl JournalRecord {
    /// A record of `id` in `state`, now.
    pub fn new(id: &str, state: WriteState, line: Option<usize>) -> Self {
        JournalRecord {
            id: id.to_owned(),
            state,
            line,
            key: None,
            issue_id: None,
            message: None,
            target: None,
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        }
    }
}

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("write journal {}: {source} (it is the record of what was written: fix this before writing again)", path.display())]
pub struct JournalError {
    /// The journal file.
    pub path: PathBuf,
    /// What the file system said.
    #[source]
    pub source: std::io::Error,
}

/// An open journal: the latest record of every item, and the file to append to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    latest: HashMap<String, JournalRecord>,
}

impl Journal {
    /// Opens (creating, with its directory, owner-only) the journal at `path` and reads it.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let error = |source| JournalError {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(error)?;
        let mut latest = HashMap::new();
        for line in BufReader::new(&file).lines() {
            let line = line.map_err(error)?;
            // A torn last line (a crash while appending) is no record.
            if let Ok(record) = serde_json::from_str::<JournalRecord>(&line) {
                latest.insert(record.id.clone(), record);
            }
        }
        Ok(Journal {
            path: path.to_owned(),
            file,
            latest,
        })
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest record of `id`.
    pub fn latest(&self, id: &str) -> Option<&JournalRecord> {
        self.latest.get(id)
    }

    /// Appends `records` and syncs them to disk before returning.
    pub fn append(&mut self, records: &[JournalRecord]) -> Result<(), JournalError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for record in records {
            // A record always serialises: plain strings and numbers.
            text.push_str(&serde_json::to_string(record).unwrap_or_default());
            text.push('\n');
        }
        let error = |source| JournalError {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(text.as_bytes()).map_err(error)?;
        self.file.sync_data().map_err(error)?;
        for record in records {
            self.latest.insert(record.id.clone(), record.clone());
        }
        Ok(())
    }
}

/// The content keys of `items` of `job`: one per item, from the whole input's digest, the
/// item's place and its content (so the same input finds its items again, and a different
/// input holding the same content is a different write). 32 hex characters each.
pub fn content_keys<T: Serialize>(job: &str, items: &[T]) -> Vec<String> {
    let texts: Vec<String> = items
        .iter()
        .map(|item| serde_json::to_string(item).unwrap_or_default())
        .collect();
    let mut input = Sha256::new();
    input.update(job.as_bytes());
    for text in &texts {
        input.update((text.len() as u64).to_le_bytes());
        input.update(text.as_bytes());
    }
    let input = input.finalize();
    texts
        .iter()
        .enumerate()
        .map(|(n, text)| {
            let mut item = Sha256::new();
            item.update(input);
            item.update((n as u64).to_le_bytes());
            item.update(text.as_bytes());
            item.finalize()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site/journal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        journal
            .append(&[
                JournalRecord::new("a", WriteState::Intent, Some(1)),
                JournalRecord::new("b", WriteState::Intent, Some(2)),
            ])
            .unwrap();
        let mut done = JournalRecord::new("a", WriteState::Done, Some(1));
        done.key = Some("PROJ-1".into());
        journal.append(&[done]).unwrap();
        drop(journal);
        // A crash halfway through a line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"id":"b","state":"do"#).unwrap();
        drop(file);
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.latest("a").unwrap().state, WriteState::Done);
        assert_eq!(journal.latest("a").unwrap().key.as_deref(), Some("PROJ-1"));
        assert_eq!(journal.latest("b").unwrap().state, WriteState::Intent);
        assert!(journal.latest("c").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
    }

    #[test]
    fn content_keys_follow_the_input_and_the_content() {
        let keys = content_keys("create", &["x", "y", "x"]);
        assert_eq!(keys.len(), 3);
        assert_ne!(
            keys[0], keys[2],
            "the same content twice in one input is two writes"
        );
        assert_eq!(keys, content_keys("create", &["x", "y", "x"]));
        assert_ne!(keys[0], content_keys("create", &["x", "z", "x"])[0]);
        assert_ne!(keys[0], content_keys("apply", &["x", "y", "x"])[0]);
        assert!(keys.iter().all(|k| k.len() == 32));
    }
}

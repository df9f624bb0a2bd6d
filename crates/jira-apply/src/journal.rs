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
use std::io::{Read as _, Write};
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// What the write changed, so that its run can be reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<crate::undo::Undo>,
    /// A `done` that wrote nothing: the site already held what the line asks
    /// (`already_so`), so a later run reports it as such, with its message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_so: bool,
    /// The run that wrote it ([`crate::runs::Run::name`]); none in journals written
    /// before runs were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
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
            undo: None,
            already_so: false,
            run: None,
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

/// The prefix of the record that forgets a run (`forget:<run name>`).
const FORGET: &str = "forget:";

/// An open journal: the latest record of every item, and the file to append to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    latest: HashMap<String, JournalRecord>,
    /// The run records are appended for, stamped on each.
    run: Option<String>,
}

impl Journal {
    /// Opens (creating, with its directory, owner-only) the journal at `path` and reads it,
    /// refusing at once when another process holds it ([`Journal::open_waiting`]).
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        Self::open_waiting(path, std::time::Duration::ZERO)
    }

    /// Opens the journal at `path` for this process alone: an OS lock on the file (the
    /// second `apply` or `create` of a cron overlap waits up to `wait` for it, then is
    /// refused naming the holder), so two processes never write one journal. A torn last
    /// line (a crash mid-append) is cut before anything is appended; a record damaged
    /// anywhere else is refused with the way out.
    pub fn open_waiting(path: &Path, wait: std::time::Duration) -> Result<Journal, JournalError> {
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
        let holder = holder_path(path);
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let who = std::fs::read_to_string(&holder)
                        .map(|h| h.trim().to_owned())
                        .unwrap_or_else(|_| "another process".into());
                    return Err(error(std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        format!(
                            "{who} is writing it now; two runs on one journal could send a write twice, so this one stops: wait until that run ends{}",
                            if wait.is_zero() {
                                ""
                            } else {
                                " (waited as long as allowed)"
                            }
                        ),
                    )));
                }
                Err(std::fs::TryLockError::Error(source)) => return Err(error(source)),
            }
        }
        let _ = std::fs::write(
            &holder,
            format!(
                "process {} (since {} ms after the epoch)",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis())
            ),
        );
        let mut text = Vec::new();
        (&file).read_to_end(&mut text).map_err(error)?;
        let (records, complete) = parse(&text).map_err(error)?;
        if complete < text.len() {
            // A torn last line: a crash mid-append. Cut, so the next record starts a line.
            file.set_len(complete as u64).map_err(error)?;
        }
        let latest = latest_records(records);
        Ok(Journal {
            path: path.to_owned(),
            file,
            latest,
            run: None,
        })
    }

    /// Every record of the journal at `path`, in the order written, read without taking
    /// it from a run that may be writing it (a torn last line is left out): what
    /// `jira-ops journal list` and `show` read. A missing file holds none.
    pub fn read_records(path: &Path) -> Result<Vec<JournalRecord>, JournalError> {
        let error = |source| JournalError {
            path: path.to_owned(),
            source,
        };
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(error(e)),
        };
        parse(&text).map(|(records, _)| records).map_err(error)
    }

    /// Stamps every record appended from now on with `run` (until set again).
    pub fn set_run(&mut self, run: Option<String>) {
        self.run = run;
    }

    /// Forgets the run named `run`: every record it wrote stops counting, so the lines it
    /// wrote are new writes to the next run of its file, and the file's earlier run (if
    /// any) is its last one again. Appended like any record (the journal is never
    /// rewritten); returns how many of the file's lines it had written.
    pub fn forget(&mut self, run: &str) -> Result<usize, JournalError> {
        let mut record = JournalRecord::new(&format!("{FORGET}{run}"), WriteState::Done, None);
        record.message = Some(run.to_owned());
        let stamp = self.run.take();
        let appended = self.append(&[record]);
        self.run = stamp;
        appended?;
        // Records of other runs about the same items went under; read them again.
        let records = Self::read_records(&self.path)?;
        let items = records
            .iter()
            .filter(|r| r.run.as_deref() == Some(run) && !r.id.starts_with(crate::runs::RUN_PREFIX))
            .map(|r| r.id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len();
        self.latest = latest_records(records);
        Ok(items)
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest record of `id`.
    pub fn latest(&self, id: &str) -> Option<&JournalRecord> {
        self.latest.get(id)
    }

    /// The latest record of an item by its key, or by the key an earlier version gave it
    /// ([`positional_keys`]).
    pub fn latest_of(&self, id: &str, legacy: &str) -> Option<&JournalRecord> {
        self.latest.get(id).or_else(|| self.latest.get(legacy))
    }

    /// Appends `records` and syncs them to disk before returning.
    pub fn append(&mut self, records: &[JournalRecord]) -> Result<(), JournalError> {
        if records.is_empty() {
            return Ok(());
        }
        let records: Vec<JournalRecord> = records
            .iter()
            .map(|record| {
                let mut record = record.clone();
                if record.run.is_none() {
                    record.run.clone_from(&self.run);
                }
                record
            })
            .collect();
        let mut text = String::new();
        for record in &records {
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
            self.latest.insert(record.id.clone(), record);
        }
        Ok(())
    }
}

/// The records of a journal's text and the length of its complete lines (a torn last
/// line is not one); a damaged record anywhere else is an error naming its line.
fn parse(text: &[u8]) -> Result<(Vec<JournalRecord>, usize), std::io::Error> {
    let complete = text
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |at| at + 1);
    let mut records = Vec::new();
    for (n, line) in text[..complete].split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<JournalRecord>(line) {
            Ok(record) => records.push(record),
            Err(damage) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "line {} is not a record ({damage}): the file was changed by something other than jira-ops; move it aside (its lines before {} are intact) and run again, and the writes it recorded are looked up on the site",
                        n + 1,
                        n + 1
                    ),
                ));
            }
        }
    }
    Ok((records, complete))
}

/// Which of `records` count: not the ones a later record forgets (a run's name comes
/// back when its file is run afresh, so only what was written before the forgetting
/// goes), nor the forgetting records themselves.
pub(crate) fn counted(records: &[JournalRecord]) -> Vec<bool> {
    let mut last_forget: HashMap<&str, usize> = HashMap::new();
    for (n, record) in records.iter().enumerate() {
        if let Some(run) = record.id.strip_prefix(FORGET) {
            last_forget.insert(run, n);
        }
    }
    records
        .iter()
        .enumerate()
        .map(|(n, record)| {
            !record.id.starts_with(FORGET)
                && record
                    .run
                    .as_deref()
                    .and_then(|run| last_forget.get(run))
                    .is_none_or(|&forgotten_at| n > forgotten_at)
        })
        .collect()
}

/// The latest record of every item, leaving out what forgotten runs wrote.
fn latest_records(records: Vec<JournalRecord>) -> HashMap<String, JournalRecord> {
    let counted = counted(&records);
    records
        .into_iter()
        .zip(counted)
        .filter(|(_, counted)| *counted)
        .map(|(r, _)| (r.id.clone(), r))
        .collect()
}

/// The file naming the process that holds a journal (`JOURNAL.holder`).
fn holder_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".holder");
    path.with_file_name(name)
}

/// The content keys of `items` of `job`: one per item, from what the item does (its
/// content) and which occurrence of that content it is in the input (the second of two
/// identical comment lines is a second write), not from where it stands or what else the
/// input holds. So a re-run of an edited input sends only what is new or changed: a fixed
/// line is a new write, the lines around it are the ones already done, and a line
/// inserted at the top moves nothing. 32 hex characters each.
pub fn content_keys<T: Serialize>(job: &str, items: &[T]) -> Vec<String> {
    let mut seen: HashMap<String, u64> = HashMap::new();
    items
        .iter()
        .map(|item| {
            let text = serde_json::to_string(item).unwrap_or_default();
            let occurrence = seen.entry(text.clone()).or_default();
            let mut key = Sha256::new();
            key.update(b"content-v2\0");
            key.update(job.as_bytes());
            key.update([0]);
            key.update(occurrence.to_le_bytes());
            key.update(text.as_bytes());
            *occurrence += 1;
            hex16(&key.finalize())
        })
        .collect()
}

/// The keys journals written before [`content_keys`] used (the whole input's digest,
/// the item's place, its content): read beside the new ones, so a line an earlier
/// version recorded done is never sent again after an upgrade.
pub fn positional_keys<T: Serialize>(job: &str, items: &[T]) -> Vec<String> {
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
            hex16(&item.finalize())
        })
        .collect()
}

/// The first 16 bytes of a digest in hex.
fn hex16(digest: &[u8]) -> String {
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_a_torn_line_is_cut() {
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
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.latest("a").unwrap().state, WriteState::Done);
        assert_eq!(journal.latest("a").unwrap().key.as_deref(), Some("PROJ-1"));
        assert_eq!(journal.latest("b").unwrap().state, WriteState::Intent);
        assert!(journal.latest("c").is_none());
        // The torn tail was cut: the next record starts its own line and is read again.
        journal
            .append(&[JournalRecord::new("c", WriteState::Done, Some(3))])
            .unwrap();
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<JournalRecord>(l).is_ok()),
            "{text}"
        );
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.latest("c").unwrap().state, WriteState::Done);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
    }

    #[test]
    fn one_process_at_a_time_and_a_damaged_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let held = Journal::open(&path).unwrap();
        let refused = Journal::open(&path).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("process {}", std::process::id()))
                && refused.contains("is writing it now"),
            "{refused}"
        );
        let waited = std::time::Instant::now();
        assert!(Journal::open_waiting(&path, std::time::Duration::from_millis(300)).is_err());
        assert!(waited.elapsed() >= std::time::Duration::from_millis(300));
        drop(held);
        let mut journal = Journal::open(&path).unwrap();
        journal
            .append(&[JournalRecord::new("a", WriteState::Done, Some(1))])
            .unwrap();
        drop(journal);
        // Something else wrote into the middle of it.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}not a record\n{text}")).unwrap();
        let damaged = Journal::open(&path).unwrap_err().to_string();
        assert!(
            damaged.contains("line 2 is not a record") && damaged.contains("move it aside"),
            "{damaged}"
        );
    }

    #[test]
    fn content_keys_follow_the_content_and_its_occurrence() {
        let keys = content_keys("create", &["x", "y", "x"]);
        assert_eq!(keys.len(), 3);
        assert_ne!(
            keys[0], keys[2],
            "the same content twice in one input is two writes"
        );
        assert_eq!(keys, content_keys("create", &["x", "y", "x"]));
        // An edited line is a new write; the others keep their keys wherever they stand.
        let edited = content_keys("create", &["x", "z", "x"]);
        assert_eq!(
            (edited[0].as_str(), edited[2].as_str()),
            (keys[0].as_str(), keys[2].as_str())
        );
        assert_ne!(edited[1], keys[1]);
        let inserted = content_keys("create", &["w", "x", "y", "x"]);
        assert_eq!(&inserted[1..], &keys[..]);
        assert_ne!(keys[0], content_keys("apply", &["x", "y", "x"])[0]);
        assert!(keys.iter().all(|k| k.len() == 32));
        // The keys of journals written before stay readable.
        let old = positional_keys("create", &["x", "y", "x"]);
        assert_ne!(old[0], old[2]);
        assert_ne!(old[0], positional_keys("create", &["x", "z", "x"])[0]);
        assert_ne!(old[0], keys[0]);
    }
}

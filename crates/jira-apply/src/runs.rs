//! Runs: each `apply` of a file is a run, recorded in the journal, so a file applied to the
//! end is not applied again silently, and `--again` applies it once more, exactly once.
//!
//! A run is named by its file's content (the digest of its changes) and an id: the file's
//! first run has the empty id and its lines the plain content keys; a run asked for
//! again gets a new id, and its lines' keys carry it, so each line is a new write once
//! more. The journal records a run's start (`Intent`) and its end when every line held
//! (`Done`); an unfinished run is resumed by the next apply of the file, `--again` or not.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::journal::{Journal, JournalError, JournalRecord, WriteState};

/// The run an apply of a file takes part in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The journal record naming the file's runs.
    key: String,
    /// The run's id: empty for the file's first run.
    pub id: String,
    /// When the file's last run ended with every line held, if one did and this run is
    /// not a new one (milliseconds since the epoch): a run of a finished file sends
    /// nothing.
    pub finished_at_ms: Option<i64>,
    /// Whether this run resumes one that did not end.
    pub resumed: bool,
}

impl Run {
    /// The job name its lines' content keys are made with.
    pub fn job(&self, job: &str) -> String {
        if self.id.is_empty() {
            job.to_owned()
        } else {
            format!("{job}/{}", self.id)
        }
    }
}

/// The digest of a file's `items` (what its lines do, in order), 32 hex characters.
pub fn digest<T: Serialize>(items: &[T]) -> String {
    let mut digest = Sha256::new();
    for item in items {
        let text = serde_json::to_string(item).unwrap_or_default();
        digest.update((text.len() as u64).to_le_bytes());
        digest.update(text.as_bytes());
    }
    digest.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The run of `job` over the file whose digest is `digest`: an unfinished one resumed; a
/// new one when `again` and the last one finished (its start recorded); else the file's
/// last run, finished or first.
pub fn start(
    journal: &mut Journal,
    job: &str,
    digest: &str,
    again: bool,
) -> Result<Run, JournalError> {
    let key = format!("run:{job}:{digest}");
    let last = journal.latest(&key).cloned();
    let run = match last {
        Some(JournalRecord {
            state: WriteState::Done,
            message,
            at_ms,
            ..
        }) if !again => Run {
            key,
            id: message.unwrap_or_default(),
            finished_at_ms: Some(at_ms),
            resumed: false,
        },
        Some(JournalRecord {
            state: WriteState::Done,
            ..
        }) => {
            let id = format!("r{:x}", crate::once::now_ms());
            let mut record = JournalRecord::new(&key, WriteState::Intent, None);
            record.message = Some(id.clone());
            journal.append(&[record])?;
            Run {
                key,
                id,
                finished_at_ms: None,
                resumed: false,
            }
        }
        Some(record) => Run {
            key,
            id: record.message.unwrap_or_default(),
            finished_at_ms: None,
            resumed: true,
        },
        None => {
            journal.append(&[JournalRecord::new(&key, WriteState::Intent, None)])?;
            Run {
                key,
                id: String::new(),
                finished_at_ms: None,
                resumed: false,
            }
        }
    };
    Ok(run)
}

/// Records that `run` ended with every line held.
pub fn finish(journal: &mut Journal, run: &Run) -> Result<(), JournalError> {
    let mut record = JournalRecord::new(&run.key, WriteState::Done, None);
    record.message = (!run.id.is_empty()).then(|| run.id.clone());
    journal.append(&[record])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_file_is_not_run_again_unless_asked_and_an_unfinished_run_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.jsonl")).unwrap();
        let file = digest(&["a", "b"]);
        let first = start(&mut journal, "apply", &file, false).unwrap();
        assert_eq!((first.id.as_str(), first.resumed), ("", false));
        assert_eq!(first.job("apply"), "apply");
        // Interrupted: the next apply resumes it, --again or not.
        let resumed = start(&mut journal, "apply", &file, true).unwrap();
        assert!(resumed.resumed && resumed.id.is_empty());
        finish(&mut journal, &resumed).unwrap();
        let done = start(&mut journal, "apply", &file, false).unwrap();
        assert!(done.finished_at_ms.is_some() && done.id.is_empty());
        let again = start(&mut journal, "apply", &file, true).unwrap();
        assert!(again.id.starts_with('r') && again.finished_at_ms.is_none());
        assert_eq!(again.job("apply"), format!("apply/{}", again.id));
        // The new run, interrupted, is the one the next apply resumes.
        let next = start(&mut journal, "apply", &file, false).unwrap();
        assert_eq!((next.id.as_str(), next.resumed), (again.id.as_str(), true));
        finish(&mut journal, &next).unwrap();
        let after = start(&mut journal, "apply", &file, false).unwrap();
        assert_eq!(after.id, again.id);
        assert!(after.finished_at_ms.is_some());
        // Another file has runs of its own.
        let other = start(&mut journal, "apply", &digest(&["c"]), false).unwrap();
        assert!(other.finished_at_ms.is_none() && !other.resumed);
    }
}

//! Runs: each `apply` of a file is a run, recorded in the journal, so a file applied to the
//! end is not applied again silently, and `--again` applies it once more, exactly once.
//!
//! A run is named by its file's content (the digest of its changes) and an id: the file's
//! first run has the empty id and its lines the plain content keys; a run asked for
//! again gets a new id, and its lines' keys carry it, so each line is a new write once
//! more. The journal records a run's start (`Intent`) and its end when every line held
//! (`Done`); an unfinished run is resumed by the next apply of the file, `--again` or not.
//!
//! Every record a run appends carries its [name](Run::name), so the journal can say what
//! each run did ([`list`], [`lines`]) and forget one ([`Journal::forget`]).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::journal::{Journal, JournalError, JournalRecord, WriteState};

/// The prefix of the journal record naming a file's runs (`run:<job>:<digest>`).
pub(crate) const RUN_PREFIX: &str = "run:";

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
    /// The run's name, as `jira-ops journal` shows it: the job, the first 12 characters
    /// of the file's digest, and the id of a run asked for again
    /// (`apply-3f2a9c01d4e5`, `apply-3f2a9c01d4e5-r18c2b7e0a11`).
    pub name: String,
}

/// The name of the run `id` of `job` over the file whose digest is `digest`.
fn run_name(job: &str, digest: &str, id: &str) -> String {
    let short = digest.get(..12).unwrap_or(digest);
    if id.is_empty() {
        format!("{job}-{short}")
    } else {
        format!("{job}-{short}-{id}")
    }
}

impl Run {
    /// The job name its lines' content keys are made with, for the job it was started
    /// for (`apply`, `revert`, ...).
    pub fn own_job(&self) -> String {
        let job = self
            .key
            .strip_prefix(RUN_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .map_or("apply", |(job, _)| job);
        self.job(job)
    }

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
    let key = format!("{RUN_PREFIX}{job}:{digest}");
    let name = |id: &str| run_name(job, digest, id);
    let last = journal.latest(&key).cloned();
    let run = match last {
        Some(JournalRecord {
            state: WriteState::Done,
            message,
            at_ms,
            ..
        }) if !again => {
            let id = message.unwrap_or_default();
            Run {
                key,
                name: name(&id),
                id,
                finished_at_ms: Some(at_ms),
                resumed: false,
            }
        }
        Some(JournalRecord {
            state: WriteState::Done,
            ..
        }) => {
            let id = format!("r{:x}", crate::once::now_ms());
            let mut record = JournalRecord::new(&key, WriteState::Intent, None);
            record.message = Some(id.clone());
            record.run = Some(name(&id));
            journal.append(&[record])?;
            Run {
                key,
                name: name(&id),
                id,
                finished_at_ms: None,
                resumed: false,
            }
        }
        Some(record) => {
            let id = record.message.unwrap_or_default();
            Run {
                key,
                name: name(&id),
                id,
                finished_at_ms: None,
                resumed: true,
            }
        }
        None => {
            let mut record = JournalRecord::new(&key, WriteState::Intent, None);
            record.run = Some(name(""));
            journal.append(&[record])?;
            Run {
                key,
                name: name(""),
                id: String::new(),
                finished_at_ms: None,
                resumed: false,
            }
        }
    };
    journal.set_run(Some(run.name.clone()));
    Ok(run)
}

/// Records that `run` ended with every line held.
pub fn finish(journal: &mut Journal, run: &Run) -> Result<(), JournalError> {
    let mut record = JournalRecord::new(&run.key, WriteState::Done, None);
    record.message = (!run.id.is_empty()).then(|| run.id.clone());
    record.run = Some(run.name.clone());
    journal.append(&[record])
}

/// What one run did, as the journal holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Its name ([`Run::name`]).
    pub name: String,
    /// `apply` or `create`.
    pub job: String,
    /// The digest of the file it ran.
    pub file_digest: String,
    /// When it started, milliseconds since the epoch.
    pub started_at_ms: i64,
    /// When it last wrote a record.
    pub last_at_ms: i64,
    /// Whether it ended with every line held.
    pub finished: bool,
    /// Its lines by where they stand now (`done`, `refused`, `not_sent`, `unknown`,
    /// `intent`: sent, outcome not recorded yet).
    pub lines: BTreeMap<String, usize>,
}

/// The runs `records` (a whole journal, [`Journal::read_records`]) hold, oldest first,
/// less the forgotten ones.
pub fn list(records: &[JournalRecord]) -> Vec<RunSummary> {
    let counted = crate::journal::counted(records);
    let mut runs: Vec<RunSummary> = Vec::new();
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (record, _) in records.iter().zip(&counted).filter(|(_, c)| **c) {
        let Some(name) = record.run.as_deref() else {
            continue;
        };
        let Some(run_key) = record.id.strip_prefix(RUN_PREFIX) else {
            continue;
        };
        let (job, digest) = run_key.split_once(':').unwrap_or((run_key, ""));
        let n = *at.entry(name).or_insert_with(|| {
            runs.push(RunSummary {
                name: name.to_owned(),
                job: job.to_owned(),
                file_digest: digest.to_owned(),
                started_at_ms: record.at_ms,
                last_at_ms: record.at_ms,
                finished: false,
                lines: BTreeMap::new(),
            });
            runs.len() - 1
        });
        runs[n].finished |= record.state == WriteState::Done;
    }
    for run in &mut runs {
        for line in lines_counted(records, &counted, &run.name) {
            *run.lines.entry(state_name(line.state)).or_default() += 1;
            run.last_at_ms = run.last_at_ms.max(line.at_ms);
        }
    }
    runs
}

/// The latest record of every line the run `name` wrote, in the order of their lines
/// (the journal's order where a record names none).
pub fn lines(records: &[JournalRecord], name: &str) -> Vec<JournalRecord> {
    lines_counted(records, &crate::journal::counted(records), name)
}

fn lines_counted(records: &[JournalRecord], counted: &[bool], name: &str) -> Vec<JournalRecord> {
    let mut latest: Vec<JournalRecord> = Vec::new();
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (record, _) in records.iter().zip(counted).filter(|(_, c)| **c) {
        if record.run.as_deref() != Some(name) || record.id.starts_with(RUN_PREFIX) {
            continue;
        }
        match at.get(record.id.as_str()) {
            Some(&n) => latest[n] = record.clone(),
            None => {
                at.insert(&record.id, latest.len());
                latest.push(record.clone());
            }
        }
    }
    latest.sort_by_key(|r| r.line.unwrap_or(usize::MAX));
    latest
}

/// A state as the journal writes it.
fn state_name(state: WriteState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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

    #[test]
    fn runs_are_listed_shown_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        let file = digest(&["a", "b"]);
        let first = start(&mut journal, "apply", &file, false).unwrap();
        assert_eq!(first.name, format!("apply-{}", &file[..12]));
        let mut a = JournalRecord::new("line-a", WriteState::Done, Some(1));
        a.key = Some("PROJ-1".into());
        journal
            .append(&[
                JournalRecord::new("line-a", WriteState::Intent, Some(1)),
                JournalRecord::new("line-b", WriteState::Refused, Some(2)),
                a,
            ])
            .unwrap();
        let again = {
            finish(&mut journal, &first).unwrap();
            start(&mut journal, "apply", &file, true).unwrap()
        };
        journal
            .append(&[JournalRecord::new("line-a2", WriteState::Done, Some(1))])
            .unwrap();
        drop(journal);

        let records = Journal::read_records(&path).unwrap();
        let runs = list(&records);
        assert_eq!(
            runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            [first.name.as_str(), again.name.as_str()]
        );
        assert!(runs[0].finished && !runs[1].finished);
        assert_eq!(
            (runs[0].job.as_str(), runs[0].file_digest.as_str()),
            ("apply", file.as_str())
        );
        assert_eq!(runs[0].lines["done"], 1);
        assert_eq!(runs[0].lines["refused"], 1);
        let shown = lines(&records, &first.name);
        assert_eq!(
            shown
                .iter()
                .map(|r| (r.id.as_str(), r.state))
                .collect::<Vec<_>>(),
            [
                ("line-a", WriteState::Done),
                ("line-b", WriteState::Refused)
            ]
        );

        // Forgetting the first run: its lines are new writes again, its file has no run
        // left but the second; forgetting that too leaves the file never run.
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.forget(&first.name).unwrap(), 2);
        assert!(journal.latest("line-a").is_none());
        assert_eq!(journal.latest("line-a2").unwrap().state, WriteState::Done);
        assert_eq!(journal.forget(&again.name).unwrap(), 1);
        let fresh = start(&mut journal, "apply", &file, false).unwrap();
        assert!(fresh.id.is_empty() && !fresh.resumed && fresh.finished_at_ms.is_none());
        drop(journal);
        let journal = Journal::open(&path).unwrap();
        assert!(
            journal.latest("line-a2").is_none(),
            "forgetting survives reopening"
        );
        let runs = list(&Journal::read_records(&path).unwrap());
        assert_eq!(runs.len(), 1, "{runs:?}");
    }
}

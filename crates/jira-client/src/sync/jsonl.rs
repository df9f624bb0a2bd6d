//! [`JsonlSink`]: a sync into a directory of JSON Lines files, one per entity, and a
//! manifest.
//!
//! The files are append-only logs, the last line for an id wins:
//!
//! - `issues.jsonl`: `{"id", "key", "updated_ms", "deleted_ms", "issue"}`; a tombstone has
//!   `deleted_ms` set and `issue` null; an issue back on the site is fetched and written
//!   again.
//! - `changelog.jsonl`: `{"issue_id", "entries"}`, an issue's complete history.
//! - `comments.jsonl`: `{"issue_id", "comments"}`, an issue's comments.
//! - `worklogs.jsonl`: `{"id", "issue_id", "deleted_ms", "worklog"}`.
//! - `manifest.json`: the committed length of every file, the live counts, the field
//!   catalogue and the sync state of every query.
//!
//! A commit appends to the files, syncs them, then replaces the manifest (written beside
//! it, synced, renamed). Opening the directory cuts every file back to the length the
//! manifest names, so a run killed mid-commit leaves the last commit, whole. The sink
//! keeps an index of issue ids, keys and counts (for the census, the worklogs and the
//! manifest's counts) in memory, so its memory grows with the export; the SQLite sink
//! keeps none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Census, Sink, SyncBatch, SyncState};
use crate::Error;

const FILES: [&str; 4] = [
    "issues.jsonl",
    "changelog.jsonl",
    "comments.jsonl",
    "worklogs.jsonl",
];

/// The manifest of a JSON Lines export.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The layout's version.
    pub format: u32,
    /// Committed bytes of each file.
    pub bytes: BTreeMap<String, u64>,
    /// Live counts: `issues`, `issues_deleted`, `history_entries`, `comments`,
    /// `worklogs`, `worklogs_deleted`.
    pub counts: BTreeMap<String, u64>,
    /// The site's fields (`GET /field`), so ids in the files can be read as names.
    #[serde(default)]
    pub fields: Vec<Value>,
    /// The sync state of each query.
    pub states: BTreeMap<String, SyncState>,
}

#[derive(Clone, Debug)]
struct IssueEntry {
    key: String,
    updated_ms: i64,
    deleted: bool,
}

/// A directory of JSON Lines files and its manifest.
pub struct JsonlSink {
    dir: PathBuf,
    manifest: Manifest,
    issues: HashMap<u64, IssueEntry>,
    history: HashMap<u64, u32>,
    comments: HashMap<u64, u32>,
    worklogs: HashMap<u64, bool>,
    census: HashSet<u64>,
}

fn failed(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Sync(format!(
        "sync: {} failed: {error} (check the path and free space; nothing past the last commit was written)",
        path.display()
    ))
}

#[derive(Deserialize)]
struct IssueLine {
    id: u64,
    #[serde(default)]
    key: String,
    #[serde(default)]
    updated_ms: i64,
    deleted_ms: Option<i64>,
}

#[derive(Deserialize)]
struct ChildrenLine {
    issue_id: u64,
    #[serde(default)]
    entries: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    comments: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct WorklogLine {
    id: u64,
    deleted_ms: Option<i64>,
}

impl JsonlSink {
    /// Opens (or creates) the export in `dir`, cutting each file back to its last commit.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| failed(&dir, e))?;
        let path = dir.join("manifest.json");
        let manifest: Manifest = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Sync(format!(
                    "sync: {} does not read ({e}); move the directory away to start over",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest {
                format: 1,
                ..Manifest::default()
            },
            Err(e) => return Err(failed(&path, e)),
        };
        let mut sink = JsonlSink {
            dir,
            manifest,
            issues: HashMap::new(),
            history: HashMap::new(),
            comments: HashMap::new(),
            worklogs: HashMap::new(),
            census: HashSet::new(),
        };
        for name in FILES {
            let path = sink.dir.join(name);
            let committed = sink.manifest.bytes.get(name).copied().unwrap_or(0);
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| failed(&path, e))?;
            file.set_len(committed).map_err(|e| failed(&path, e))?;
            file.sync_all().map_err(|e| failed(&path, e))?;
        }
        sink.index()?;
        Ok(sink)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest as last committed.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn lines(
        &self,
        name: &str,
    ) -> Result<impl Iterator<Item = Result<String, Error>> + use<>, Error> {
        let path = self.dir.join(name);
        let file = File::open(&path).map_err(|e| failed(&path, e))?;
        Ok(BufReader::new(file)
            .lines()
            .map(move |line| line.map_err(|e| failed(&path, e))))
    }

    /// Rebuilds the in-memory index from the committed files.
    fn index(&mut self) -> Result<(), Error> {
        let bad = |name: &str, e: serde_json::Error| {
            Error::Sync(format!(
                "sync: a committed line of {} does not read ({e}); move the directory away to start over",
                name
            ))
        };
        for line in self.lines("issues.jsonl")? {
            let line: IssueLine =
                serde_json::from_str(&line?).map_err(|e| bad("issues.jsonl", e))?;
            self.issues.insert(
                line.id,
                IssueEntry {
                    key: line.key,
                    updated_ms: line.updated_ms,
                    deleted: line.deleted_ms.is_some(),
                },
            );
        }
        for (name, map) in [("changelog.jsonl", 0), ("comments.jsonl", 1)] {
            for line in self.lines(name)? {
                let line: ChildrenLine = serde_json::from_str(&line?).map_err(|e| bad(name, e))?;
                let n = line.entries.len().max(line.comments.len()) as u32;
                match map {
                    0 => self.history.insert(line.issue_id, n),
                    _ => self.comments.insert(line.issue_id, n),
                };
            }
        }
        for line in self.lines("worklogs.jsonl")? {
            let line: WorklogLine =
                serde_json::from_str(&line?).map_err(|e| bad("worklogs.jsonl", e))?;
            self.worklogs.insert(line.id, line.deleted_ms.is_some());
        }
        Ok(())
    }

    fn counts(&self) -> BTreeMap<String, u64> {
        let live = |id: &u64| self.issues.get(id).is_some_and(|e| !e.deleted);
        let deleted = self.issues.values().filter(|e| e.deleted).count() as u64;
        BTreeMap::from([
            ("issues".into(), self.issues.len() as u64 - deleted),
            ("issues_deleted".into(), deleted),
            (
                "history_entries".into(),
                self.history
                    .iter()
                    .filter(|(id, _)| live(id))
                    .map(|(_, n)| u64::from(*n))
                    .sum(),
            ),
            (
                "comments".into(),
                self.comments
                    .iter()
                    .filter(|(id, _)| live(id))
                    .map(|(_, n)| u64::from(*n))
                    .sum(),
            ),
            (
                "worklogs".into(),
                self.worklogs.values().filter(|d| !**d).count() as u64,
            ),
            (
                "worklogs_deleted".into(),
                self.worklogs.values().filter(|d| **d).count() as u64,
            ),
        ])
    }

    /// Appends `lines` to each file, syncs them, then replaces the manifest.
    fn append(&mut self, lines: [Vec<String>; 4]) -> Result<(), Error> {
        for (name, lines) in FILES.iter().zip(lines) {
            if lines.is_empty() {
                continue;
            }
            let path = self.dir.join(name);
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| failed(&path, e))?;
            // Line by line through a small buffer: a commit's tens of megabytes are never
            // one allocation (large ones left glibc's heap growing with the export).
            let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
            let mut written = 0u64;
            for line in lines {
                writer
                    .write_all(line.as_bytes())
                    .and_then(|()| writer.write_all(b"\n"))
                    .map_err(|e| failed(&path, e))?;
                written += line.len() as u64 + 1;
            }
            let file = writer
                .into_inner()
                .map_err(|e| failed(&path, e.into_error()))?;
            file.sync_all().map_err(|e| failed(&path, e))?;
            *self.manifest.bytes.entry((*name).to_owned()).or_default() += written;
        }
        self.manifest.counts = self.counts();
        let path = self.dir.join("manifest.json");
        let temporary = self.dir.join("manifest.json.tmp");
        let body = serde_json::to_vec_pretty(&self.manifest).map_err(|e| failed(&path, e))?;
        let mut file = File::create(&temporary).map_err(|e| failed(&temporary, e))?;
        file.write_all(&body).map_err(|e| failed(&temporary, e))?;
        file.sync_all().map_err(|e| failed(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| failed(&path, e))?;
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// A committed manifest the failing append did not change: the in-memory index is
    /// rebuilt from the files so a failed commit leaves nothing half-applied.
    fn recover(&mut self, error: Error) -> Error {
        if let Ok(fresh) = JsonlSink::open(self.dir.clone()) {
            *self = fresh;
        }
        error
    }
}

/// A line of `issues.jsonl`.
#[derive(Serialize)]
struct IssueRecord<'a> {
    id: u64,
    key: &'a str,
    updated_ms: i64,
    deleted_ms: Option<i64>,
    issue: Option<&'a jira_model::Issue>,
}

/// A line of `changelog.jsonl` or `comments.jsonl`.
#[derive(Serialize)]
struct Children<'a> {
    issue_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<&'a [Value]>,
}

/// One JSON line (serialized straight from the borrowed data, no copy into a `Value`).
fn line(record: &impl Serialize) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

fn numeric(value: &Value, name: &str) -> u64 {
    match value.get(name) {
        Some(Value::String(s)) => s.parse().unwrap_or_default(),
        Some(Value::Number(n)) => n.as_u64().unwrap_or_default(),
        _ => 0,
    }
}

impl Sink for JsonlSink {
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error> {
        Ok(self.manifest.states.get(jql).cloned())
    }

    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        let mut lines: [Vec<String>; 4] = Default::default();
        for issue in &batch.issues {
            let id: u64 = issue.id.parse().map_err(|_| {
                Error::Sync(format!("sync: issue id {:?} is not a number", issue.id))
            })?;
            let updated_ms = issue
                .fields
                .get("updated")
                .and_then(Value::as_str)
                .and_then(super::jira_time_ms)
                .unwrap_or_default();
            lines[0].push(line(&IssueRecord {
                id,
                key: &issue.key,
                updated_ms,
                deleted_ms: None,
                issue: Some(issue),
            }));
            self.issues.insert(
                id,
                IssueEntry {
                    key: issue.key.clone(),
                    updated_ms,
                    deleted: false,
                },
            );
        }
        for (issue_id, entries) in &batch.histories {
            let id: u64 = issue_id.parse().unwrap_or_default();
            lines[1].push(line(&Children {
                issue_id: id,
                entries: Some(entries),
                comments: None,
            }));
            self.history.insert(id, entries.len() as u32);
        }
        for (issue_id, comments) in &batch.comments {
            let id: u64 = issue_id.parse().unwrap_or_default();
            lines[2].push(line(&Children {
                issue_id: id,
                entries: None,
                comments: Some(comments),
            }));
            self.comments.insert(id, comments.len() as u32);
        }
        for worklog in &batch.worklogs {
            let id = numeric(worklog, "id");
            let issue_id = numeric(worklog, "issueId");
            lines[3].push(
                json!({"id": id, "issue_id": issue_id, "deleted_ms": null, "worklog": worklog})
                    .to_string(),
            );
            self.worklogs.insert(id, false);
        }
        for (id, at) in &batch.deleted_worklogs {
            if self.worklogs.get(id) == Some(&false) {
                lines[3].push(json!({"id": id, "deleted_ms": at, "worklog": null}).to_string());
                self.worklogs.insert(*id, true);
            }
        }
        self.manifest
            .states
            .insert(state.jql.clone(), state.clone());
        if let Err(error) = self.append(lines) {
            return Err(self.recover(error));
        }
        Ok(())
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        Ok(id
            .parse::<u64>()
            .is_ok_and(|id| self.issues.contains_key(&id)))
    }

    fn census_begin(&mut self) -> Result<(), Error> {
        self.census.clear();
        Ok(())
    }

    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error> {
        self.census.extend(ids);
        Ok(())
    }

    fn census_finish(&mut self, at_ms: i64) -> Result<Census, Error> {
        let mut lines: [Vec<String>; 4] = Default::default();
        let mut census = Census::default();
        for (id, entry) in self.issues.iter_mut() {
            if !entry.deleted && !self.census.contains(id) {
                lines[0].push(line(&IssueRecord {
                    id: *id,
                    key: &entry.key,
                    updated_ms: entry.updated_ms,
                    deleted_ms: Some(at_ms),
                    issue: None,
                }));
                entry.deleted = true;
                census.deleted += 1;
            }
        }
        census.absent = self
            .census
            .iter()
            .filter(|id| self.issues.get(id).is_none_or(|e| e.deleted))
            .copied()
            .collect();
        census.absent.sort_unstable();
        self.census.clear();
        if let Err(error) = self.append(lines) {
            return Err(self.recover(error));
        }
        Ok(census)
    }

    fn set_fields(&mut self, fields: &[Value]) -> Result<(), Error> {
        // Kept with the next commit's manifest.
        self.manifest.fields = fields.to_vec();
        Ok(())
    }
}

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
//! - `members.jsonl`: `{"query", "held"}` or `{"query", "released"}`: which query (its
//!   place in the manifest's `queries`) holds which issue ids, so a census judges only
//!   its own query's issues.
//! - `manifest.json`: the committed length of every file, the live counts, the field
//!   catalogue, the queries and the sync state of every query.
//!
//! A commit appends to the files, syncs them, then replaces the manifest (written beside
//! it, synced, renamed). When a run ends the files are compacted to one line per entity
//! (its last), atomically ([`compact`](mod@compact)), so after a run each file holds the
//! current record of each entity once. Opening the directory cuts every file back to the length the
//! manifest names, so a run killed mid-commit leaves the last commit, whole. The sink
//! keeps an index of issue ids, keys and counts (for the census, the worklogs and the
//! manifest's counts) in memory, so its memory grows with the export; the SQLite sink
//! keeps none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::{Census, Sink, SyncBatch, SyncState};

mod append;
mod compact;

use append::{Appender, Children, IssueRecord, Texts, WorklogRecord};

const FILES: [&str; 5] = [
    "issues.jsonl",
    "changelog.jsonl",
    "comments.jsonl",
    "worklogs.jsonl",
    "members.jsonl",
];

/// The queries one directory holds at most (an issue's membership is a 16-bit mask).
pub(crate) const MAX_QUERIES: usize = 16;

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
    /// The queries synced into the directory, in the order `members.jsonl` numbers them.
    #[serde(default)]
    pub queries: Vec<String>,
    /// What each file holds, for a reader who has only the directory.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// What each file of a JSON Lines sink holds (the manifest's `files`).
fn file_descriptions() -> BTreeMap<String, String> {
    [
        ("issues.jsonl", "one line per issue: {id, key, updated_ms, deleted_ms, issue}; issue is the issue as Jira sent it, null for a tombstone (deleted_ms set)"),
        ("changelog.jsonl", "one line per issue: {issue_id, entries}, its complete history (POST /changelog/bulkfetch), oldest first"),
        ("comments.jsonl", "one line per issue: {issue_id, comments}, all its comments as Jira sent them"),
        ("worklogs.jsonl", "one line per worklog: {id, issue_id, deleted_ms, worklog}; a tombstone has deleted_ms set"),
        ("members.jsonl", "one line per query: {query, held}, the ids of the issues it holds (query is its place in queries)"),
        ("manifest.json", "this file: committed bytes of each file, live counts, the field catalogue, the queries and their sync states; a commit appends to the files (the last line of a record wins) and the end of a run compacts them to one line per record"),
    ]
    .into_iter()
    .map(|(name, text)| (name.to_owned(), text.to_owned()))
    .collect()
}

/// What the index keeps of an issue: 32 bytes in one map entry (the key is its project
/// prefix's number and its own number).
#[derive(Clone, Debug)]
struct IssueEntry {
    key: Key,
    updated_ms: i64,
    history: u32,
    comments: u32,
    deleted: bool,
    /// The queries that hold it, a bit each (their place in the manifest's `queries`).
    queries: u16,
}

/// An issue key as a prefix (interned in [`Prefixes`]) and a number; a key of another
/// shape is kept whole as a prefix with no number.
#[derive(Clone, Copy, Debug, Default)]
struct Key {
    prefix: u32,
    number: Option<std::num::NonZeroU32>,
}

/// The key prefixes an export holds (its projects): few, so a list.
#[derive(Debug, Default)]
struct Prefixes(Vec<Box<str>>);

impl Prefixes {
    fn intern(&mut self, key: &str) -> Key {
        let (prefix, number) = match key.rsplit_once('-') {
            Some((prefix, digits)) => match digits.parse::<std::num::NonZeroU32>() {
                // Only a number that prints back the same (no leading zeros).
                Ok(n) if n.to_string() == digits => (prefix, Some(n)),
                _ => (key, None),
            },
            None => (key, None),
        };
        let index = match self.0.iter().position(|p| &**p == prefix) {
            Some(index) => index,
            None => {
                self.0.push(prefix.into());
                self.0.len() - 1
            }
        };
        Key {
            prefix: index as u32,
            number,
        }
    }

    fn key(&self, key: Key) -> String {
        let prefix = self.0.get(key.prefix as usize).map_or("", |p| &**p);
        match key.number {
            Some(n) => format!("{prefix}-{n}"),
            None => prefix.to_owned(),
        }
    }
}

/// A directory of JSON Lines files and its manifest.
pub struct JsonlSink {
    dir: PathBuf,
    manifest: Manifest,
    issues: HashMap<u64, IssueEntry>,
    prefixes: Prefixes,
    /// Each worklog's issue and whether it is deleted.
    worklogs: HashMap<u64, (u64, bool)>,
    census: HashSet<u64>,
    /// One sync at a time (`DIR/sync.lock`).
    _lock: crate::lock::SinkLock,
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
    issue_id: Option<u64>,
    deleted_ms: Option<i64>,
}

/// A line of `members.jsonl`: issues a query took or let go of.
#[derive(Serialize, Deserialize)]
struct MembersLine {
    query: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    held: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    released: Vec<u64>,
}

impl JsonlSink {
    /// Opens (or creates) the export in `dir`, cutting each file back to its last commit;
    /// refused at once when another sync has it open.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::open_waiting(dir, std::time::Duration::ZERO)
    }

    /// [`JsonlSink::open`], waiting up to `wait` for another sync of it to end.
    pub fn open_waiting(dir: impl Into<PathBuf>, wait: std::time::Duration) -> Result<Self, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| failed(&dir, e))?;
        // The lock file is the first thing a sink makes: a directory holding it is ours
        // even before its first manifest (a first run killed mid-commit).
        let ours = dir.join("sync.lock").exists();
        let lock = crate::lock::SinkLock::acquire(&dir.join("sync.lock"), &dir, wait)?;
        // A compaction cut off is finished (or undone) before anything reads the files.
        compact::recover(&dir)?;
        let path = dir.join("manifest.json");
        let manifest: Manifest = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Sync(format!(
                    "sync: {} does not read ({e}); move the directory away to start over",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // No manifest: a new sink, unless the directory holds files of these
                // names with data, which are not ours to truncate.
                if let Some(name) = FILES
                    .iter()
                    .filter(|_| !ours)
                    .find(|name| std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() > 0))
                {
                    return Err(Error::Sync(format!(
                        "sync: {} already holds {name} but no manifest.json, so it is not a jira-ops sink (its files would be overwritten): sync into a new or empty directory, or move those files away",
                        dir.display()
                    )));
                }
                Manifest {
                    format: 1,
                    ..Manifest::default()
                }
            }
            Err(e) => return Err(failed(&path, e)),
        };
        // Every file holds at least what the manifest committed: a file deleted or cut
        // short is damage to say, not to paper over with zeros.
        for name in FILES {
            let committed = manifest.bytes.get(name).copied().unwrap_or(0);
            let held = std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
            if held < committed {
                return Err(Error::Sync(format!(
                    "sync: {} holds {held} bytes of the {committed} its manifest committed (deleted or cut short): this sink is damaged; restore the file, or move the directory away and sync into a new one to export from scratch",
                    dir.join(name).display()
                )));
            }
        }
        let mut sink = JsonlSink {
            dir,
            manifest,
            issues: HashMap::new(),
            prefixes: Prefixes::default(),
            worklogs: HashMap::new(),
            census: HashSet::new(),
            _lock: lock,
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

    /// Rewrites the files to hold one line per entity (its last; tombstones kept) and
    /// `members.jsonl` one line per query, atomically; whether any file had a line to
    /// drop. A sync does this when its run ends.
    pub fn compact(&mut self) -> Result<bool, Error> {
        let members: Vec<(usize, Vec<u64>)> = (0..self.manifest.queries.len())
            .map(|query| {
                let bit = 1u16.checked_shl(query as u32).unwrap_or(0);
                let mut held: Vec<u64> = self
                    .issues
                    .iter()
                    .filter(|(_, entry)| entry.queries & bit != 0)
                    .map(|(id, _)| *id)
                    .collect();
                held.sort_unstable();
                (query, held)
            })
            .filter(|(_, held)| !held.is_empty())
            .collect();
        compact::compact(&self.dir, &mut self.manifest, &members)
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
            // Last line per id wins; children are counted from their own files below.
            self.issues.insert(
                line.id,
                IssueEntry {
                    key: self.prefixes.intern(&line.key),
                    updated_ms: line.updated_ms,
                    history: 0,
                    comments: 0,
                    deleted: line.deleted_ms.is_some(),
                    queries: 0,
                },
            );
        }
        for (name, history) in [("changelog.jsonl", true), ("comments.jsonl", false)] {
            for line in self.lines(name)? {
                let line: ChildrenLine = serde_json::from_str(&line?).map_err(|e| bad(name, e))?;
                let n = line.entries.len().max(line.comments.len()) as u32;
                // Children are committed with (or after) their issue.
                if let Some(entry) = self.issues.get_mut(&line.issue_id) {
                    match history {
                        true => entry.history = n,
                        false => entry.comments = n,
                    }
                }
            }
        }
        for line in self.lines("worklogs.jsonl")? {
            let line: WorklogLine =
                serde_json::from_str(&line?).map_err(|e| bad("worklogs.jsonl", e))?;
            let issue = line
                .issue_id
                .or_else(|| self.worklogs.get(&line.id).map(|(issue, _)| *issue))
                .unwrap_or(0);
            self.worklogs
                .insert(line.id, (issue, line.deleted_ms.is_some()));
        }
        let mut members = 0;
        for line in self.lines("members.jsonl")? {
            let line: MembersLine =
                serde_json::from_str(&line?).map_err(|e| bad("members.jsonl", e))?;
            members += 1;
            let bit = 1u16.checked_shl(line.query as u32).unwrap_or(0);
            for (ids, held) in [(&line.held, true), (&line.released, false)] {
                for id in ids {
                    if let Some(entry) = self.issues.get_mut(id) {
                        match held {
                            true => entry.queries |= bit,
                            false => entry.queries &= !bit,
                        }
                    }
                }
            }
        }
        if members == 0 && !self.issues.is_empty() {
            // A directory from before `members.jsonl`: every query holds every issue,
            // so a census marks one deleted only once every query's census missed it.
            for jql in self.manifest.states.keys() {
                if !self.manifest.queries.contains(jql) {
                    self.manifest.queries.push(jql.clone());
                }
            }
            let all = match self.manifest.queries.len() {
                0 => 0,
                n => u16::MAX >> (16 - n.min(MAX_QUERIES)),
            };
            for entry in self.issues.values_mut().filter(|e| !e.deleted) {
                entry.queries = all;
            }
        }
        Ok(())
    }

    fn counts(&self) -> BTreeMap<String, u64> {
        let live = || self.issues.values().filter(|e| !e.deleted);
        let deleted = self.issues.values().filter(|e| e.deleted).count() as u64;
        BTreeMap::from([
            ("issues".into(), self.issues.len() as u64 - deleted),
            ("issues_deleted".into(), deleted),
            (
                "history_entries".into(),
                live().map(|e| u64::from(e.history)).sum(),
            ),
            (
                "comments".into(),
                live().map(|e| u64::from(e.comments)).sum(),
            ),
            (
                "worklogs".into(),
                self.worklogs.values().filter(|(_, d)| !*d).count() as u64,
            ),
            (
                "worklogs_deleted".into(),
                self.worklogs.values().filter(|(_, d)| *d).count() as u64,
            ),
        ])
    }

    /// Syncs what `out` appended, then replaces the manifest: the commit point.
    fn finish(&mut self, out: Appender) -> Result<(), Error> {
        for (name, written) in FILES.iter().zip(out.finish()?) {
            if written > 0 {
                *self.manifest.bytes.entry((*name).to_owned()).or_default() += written;
            }
        }
        self.manifest.counts = self.counts();
        self.manifest.files = file_descriptions();
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

    /// Appends `batch` and commits it with `state`; on failure the caller recovers.
    fn write_commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        let query = self.query(&state.jql)?;
        let mut out = Appender::new(&self.dir);
        for issue in &batch.issues {
            out.push(
                0,
                &IssueRecord {
                    id: issue.id,
                    key: &issue.key,
                    updated_ms: issue.updated_ms,
                    deleted_ms: None,
                    issue: Some(&issue.json),
                },
            )?;
            let key = self.prefixes.intern(&issue.key);
            let entry = self.issues.entry(issue.id).or_insert(IssueEntry {
                key,
                updated_ms: 0,
                history: 0,
                comments: 0,
                deleted: false,
                queries: 0,
            });
            entry.key = key;
            entry.updated_ms = issue.updated_ms;
            entry.deleted = false;
            entry.queries |= 1 << query;
        }
        if !batch.issues.is_empty() {
            out.push(
                4,
                &MembersLine {
                    query,
                    held: batch.issues.iter().map(|i| i.id).collect(),
                    released: Vec::new(),
                },
            )?;
        }
        for (issue_id, entries) in &batch.histories {
            out.push(
                1,
                &Children {
                    issue_id: *issue_id,
                    entries: Some(Texts(entries)),
                    comments: None,
                },
            )?;
            if let Some(entry) = self.issues.get_mut(issue_id) {
                entry.history = entries.len() as u32;
            }
        }
        for (issue_id, comments) in &batch.comments {
            out.push(
                2,
                &Children {
                    issue_id: *issue_id,
                    entries: None,
                    comments: Some(Texts(comments)),
                },
            )?;
            if let Some(entry) = self.issues.get_mut(issue_id) {
                entry.comments = comments.len() as u32;
            }
        }
        for worklog in &batch.worklogs {
            out.push(
                3,
                &WorklogRecord {
                    id: worklog.id,
                    issue_id: Some(worklog.issue_id),
                    deleted_ms: None,
                    worklog: Some(&worklog.json),
                },
            )?;
            self.worklogs.insert(worklog.id, (worklog.issue_id, false));
        }
        for (id, at) in &batch.deleted_worklogs {
            if let Some((_, deleted @ false)) = self.worklogs.get_mut(id) {
                *deleted = true;
                out.push(
                    3,
                    &WorklogRecord {
                        id: *id,
                        issue_id: None,
                        deleted_ms: Some(*at),
                        worklog: None,
                    },
                )?;
            }
        }
        self.manifest
            .states
            .insert(state.jql.clone(), state.clone());
        self.finish(out)
    }

    /// The place of `jql` in the manifest's queries, added if new.
    fn query(&mut self, jql: &str) -> Result<usize, Error> {
        if let Some(n) = self.manifest.queries.iter().position(|q| q == jql) {
            return Ok(n);
        }
        if self.manifest.queries.len() >= MAX_QUERIES {
            return Err(Error::Sync(format!(
                "sync: {} already holds {MAX_QUERIES} queries, the most a JSON Lines export holds; sync {jql:?} into another directory or into SQLite (--to sqlite:FILE)",
                self.dir.display()
            )));
        }
        self.manifest.queries.push(jql.to_owned());
        Ok(self.manifest.queries.len() - 1)
    }

    /// Ends the census of `jql` (see [`Sink::census_finish`]) and commits; on failure the
    /// caller recovers.
    fn write_census(&mut self, jql: &str, at_ms: i64) -> Result<Census, Error> {
        let query = self.query(jql)?;
        let bit = 1u16 << query;
        let mut out = Appender::new(&self.dir);
        let mut census = Census::default();
        let mut released = Vec::new();
        let mut tombstoned = HashSet::new();
        let prefixes = &self.prefixes;
        for (id, entry) in self.issues.iter_mut() {
            if entry.queries & bit == 0 || self.census.contains(id) {
                continue;
            }
            entry.queries &= !bit;
            released.push(*id);
            if entry.queries == 0 && !entry.deleted {
                out.push(
                    0,
                    &IssueRecord {
                        id: *id,
                        key: &prefixes.key(entry.key),
                        updated_ms: entry.updated_ms,
                        deleted_ms: Some(at_ms),
                        issue: None,
                    },
                )?;
                entry.deleted = true;
                tombstoned.insert(*id);
                census.deleted += 1;
            }
        }
        // A deleted issue's worklogs go with it.
        for (id, (issue, deleted)) in self.worklogs.iter_mut() {
            if !*deleted && tombstoned.contains(issue) {
                out.push(
                    3,
                    &WorklogRecord {
                        id: *id,
                        issue_id: None,
                        deleted_ms: Some(at_ms),
                        worklog: None,
                    },
                )?;
                *deleted = true;
            }
        }
        let mut held = Vec::new();
        for id in &self.census {
            match self.issues.get_mut(id) {
                Some(entry) if !entry.deleted => {
                    if entry.queries & bit == 0 {
                        entry.queries |= bit;
                        held.push(*id);
                    }
                }
                _ => census.absent.push(*id),
            }
        }
        if !held.is_empty() || !released.is_empty() {
            released.sort_unstable();
            held.sort_unstable();
            out.push(
                4,
                &MembersLine {
                    query,
                    held,
                    released,
                },
            )?;
        }
        census.absent.sort_unstable();
        self.census.clear();
        self.finish(out)?;
        Ok(census)
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

impl Sink for JsonlSink {
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error> {
        Ok(self.manifest.states.get(jql).cloned())
    }

    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        self.write_commit(batch, state)
            .map_err(|error| self.recover(error))
    }

    fn census_finish(&mut self, jql: &str, at_ms: i64) -> Result<Census, Error> {
        self.write_census(jql, at_ms)
            .map_err(|error| self.recover(error))
    }

    fn finish_run(&mut self) -> Result<(), Error> {
        self.compact()
            .map(|_| ())
            .map_err(|error| self.recover(error))
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        Ok(id
            .parse::<u64>()
            .is_ok_and(|id| self.issues.get(&id).is_some_and(|e| !e.deleted)))
    }

    fn issues_held(&mut self, jql: &str) -> Result<Option<u64>, Error> {
        let Some(query) = self.manifest.queries.iter().position(|q| q == jql) else {
            return Ok(Some(0));
        };
        let bit = 1u16 << query;
        Ok(Some(
            self.issues
                .values()
                .filter(|e| !e.deleted && e.queries & bit != 0)
                .count() as u64,
        ))
    }

    fn newest_held(&mut self, jql: &str, n: usize) -> Result<Vec<(u64, i64)>, Error> {
        let Some(query) = self.manifest.queries.iter().position(|q| q == jql) else {
            return Ok(Vec::new());
        };
        let bit = 1u16 << query;
        let mut held: Vec<(u64, i64)> = self
            .issues
            .iter()
            .filter(|(_, e)| !e.deleted && e.queries & bit != 0)
            .map(|(id, e)| (*id, e.updated_ms))
            .collect();
        held.sort_unstable_by_key(|(id, updated)| std::cmp::Reverse((*updated, *id)));
        held.truncate(n);
        Ok(held)
    }

    fn census_begin(&mut self) -> Result<(), Error> {
        self.census.clear();
        Ok(())
    }

    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error> {
        self.census.extend(ids);
        Ok(())
    }

    fn set_fields(&mut self, fields: &[Value]) -> Result<(), Error> {
        // Kept with the next commit's manifest.
        self.manifest.fields = fields.to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_interned_and_print_back_whole() {
        let mut prefixes = Prefixes::default();
        for key in ["APO-1", "APO-12345", "BEA-7", "ODD", "APO-007", "X-Y-3", ""] {
            let interned = prefixes.intern(key);
            assert_eq!(prefixes.key(interned), key);
        }
        // One prefix for a project's keys.
        assert_eq!(
            prefixes.intern("APO-2").prefix,
            prefixes.intern("APO-3").prefix
        );
        assert_eq!(std::mem::size_of::<IssueEntry>(), 32);
    }
}

//! [`JsonlSink`]: a sync into a directory of JSON Lines files, one per table of the
//! relational schema the database sinks write, and a manifest.
//!
//! Each line of `TABLE.jsonl` is a row of that table as a JSON object of its columns
//! (docs/sync.md): the same records as SQLite's and PostgreSQL's, with times in UTC ISO
//! 8601 and each JSON column embedded as the JSON Jira sent. Beside them:
//!
//! - `members.jsonl`: `{"query", "held"}` or `{"query", "released"}`: which query (its
//!   place in the manifest's `queries`) holds which issue ids, so a census judges only
//!   its own query's issues.
//! - `sets.jsonl`: a line per commit that replaced an issue's rows in a table written
//!   per issue (custom field values, history, comments) or the field catalogue: where
//!   its lines begin in each file and whose rows they replace. Compaction reads it and
//!   empties it.
//! - `manifest.json`: the committed length of every file, the live counts, the queries,
//!   the sync state of every query and what each file holds.
//!
//! A commit appends to the files, syncs them, then replaces the manifest (written beside
//! it, synced, renamed). Between commits the last line of a row's key wins, and a line of
//! only the key and `deleted_at` (a tombstone) marks the row before it deleted. When a
//! run ends the files are compacted ([`compact`](mod@compact)), atomically: each holds
//! one line per row, the current one, as the database tables hold them (a deleted issue,
//! comment or worklog keeps its row with `deleted_at`; the field values and history an
//! issue no longer has are gone). Opening the directory cuts every file back to the
//! length the manifest names, so a run killed mid-commit leaves the last commit, whole,
//! and compacts what that run appended. The sink keeps an index of issue ids, keys and
//! counts (for the census, the worklogs and the manifest's counts) in memory, so its
//! memory grows with the export; the database sinks keep none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::relational::schema::{self, Table};
use crate::relational::{Rows, SqlValue, field_rows, time_ms};
use crate::{Census, Sink, SyncBatch, SyncState};

mod append;
mod compact;
mod index;
mod migrate;
mod rewrite;

use append::{Appender, Tombstone};
use index::{IssueEntry, Prefixes};

/// The files of a sink: a file per table of [`TABLES`], in its order, then
/// `members.jsonl` and `sets.jsonl`.
pub(crate) const FILES: [&str; 11] = [
    "issues.jsonl",
    "issue_field_values.jsonl",
    "changelog.jsonl",
    "changelog_items.jsonl",
    "comments.jsonl",
    "worklogs.jsonl",
    "users.jsonl",
    "fields.jsonl",
    "statuses.jsonl",
    "members.jsonl",
    "sets.jsonl",
];

/// The tables the files hold, in the order of [`FILES`].
const TABLES: [&Table; 9] = schema::DATA_TABLES;

const MEMBERS: usize = 9;
const SETS: usize = 10;

/// The place in [`FILES`] of `table`'s file.
fn file_of(table: &Table) -> usize {
    TABLES
        .iter()
        .position(|t| t.name == table.name)
        .expect("a table a JSON Lines sink holds")
}

/// The layout's version: 2 is a file per table of the relational schema; 1 (before
/// it) held each issue's JSON, history and comments as one line each, and is migrated
/// in place when a sync opens it.
pub const FORMAT: u32 = 2;

/// The queries one directory holds at most (an issue's membership is a 16-bit mask).
pub(crate) const MAX_QUERIES: usize = 16;

/// The manifest of a JSON Lines export.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The layout's version ([`FORMAT`]).
    pub format: u32,
    /// Committed bytes of each file.
    pub bytes: BTreeMap<String, u64>,
    /// Live counts: `issues`, `issues_deleted`, `history_entries`, `comments`,
    /// `worklogs`, `worklogs_deleted`.
    pub counts: BTreeMap<String, u64>,
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
    let tables = TABLES.iter().zip(FILES).map(|(table, name)| {
        let key = table.key.join(", ");
        (
            name,
            format!(
                "one line per row of the {} table (docs/sync.md), an object of its columns {}; after a run one line per {key}, between commits the last line of a {key} wins and a line of only {key} and deleted_at is a tombstone",
                table.name,
                table.column_list()
            ),
        )
    });
    tables
        .chain([
            ("members.jsonl", "one line per query after a run: {query, held}, the ids of the issues it holds (query is its place in queries); {query, released} lets go of some".to_owned()),
            ("sets.jsonl", "empty after a run: one line per commit that replaced issues' rows in issue_field_values, changelog, changelog_items and comments, or the field catalogue: {at, from, replaced}, where its lines begin in each file and whose rows they replace".to_owned()),
            ("manifest.json", "this file: committed bytes of each file, live counts, the queries, their sync states and what each file holds".to_owned()),
        ])
        .map(|(name, text)| (name.to_owned(), text))
        .collect()
}

/// A line of `sets.jsonl`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SetsLine {
    /// When the commit was made (UTC ISO 8601): the `deleted_at` of a comment it no
    /// longer holds.
    pub(crate) at: String,
    /// Where the commit's lines begin in each file it replaced rows of.
    pub(crate) from: BTreeMap<String, u64>,
    /// The issues whose rows it replaced, by file (`fields.jsonl`: `[0]`, the whole
    /// catalogue).
    pub(crate) replaced: BTreeMap<String, Vec<u64>>,
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
    /// Field names by id (the site's catalogue), for the field values' rows.
    names: HashMap<String, String>,
    /// A catalogue [`Sink::set_fields`] gave, written with the next commit.
    fields: Option<Vec<Value>>,
    /// Whether an issue was written again, deleted or moved since the files were last
    /// compacted (or the index found such lines): only then do `issues.jsonl` and the
    /// files written per issue hold superseded lines, and a run's compaction reads them.
    rewritten: bool,
    /// Whether a worklog was written again or marked deleted since the files were last
    /// compacted (or the index found such lines): only then does `worklogs.jsonl` hold
    /// superseded lines (a query's first read writes each worklog once, and its
    /// compaction need not read them all back).
    worklogs_rewritten: bool,
    /// One sync at a time (`DIR/sync.lock`).
    /// `None` once a failed commit could not be undone (see [`JsonlSink::recover`]):
    /// the sink then refuses every write.
    lock: Option<crate::lock::SinkLock>,
}

fn failed(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Sync(format!(
        "sync: {} failed: {error} (check the path and free space; nothing past the last commit was written)",
        path.display()
    ))
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
        Self::open_locked(dir, lock, ours)
    }

    /// Opens the sink in `dir` whose lock `lock` this process holds; `ours` when the
    /// directory held the lock file before (so its files are a sink's, manifest or not).
    fn open_locked(dir: PathBuf, lock: crate::lock::SinkLock, ours: bool) -> Result<Self, Error> {
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
                    format: FORMAT,
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
            names: HashMap::new(),
            fields: None,
            rewritten: false,
            worklogs_rewritten: false,
            lock: Some(lock),
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
        if sink.manifest.format < FORMAT {
            migrate::migrate(&sink.dir, &mut sink.manifest)?;
            sink.rewritten = true;
        }
        // What a run cut off appended is compacted before the index reads the files.
        if sink.manifest.bytes.get(FILES[SETS]).is_some_and(|b| *b > 0) {
            compact::compact(&sink.dir, &mut sink.manifest, None, (true, true))?;
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

    /// Rewrites the files to hold one line per row, as the tables hold them (a deleted
    /// issue, comment or worklog keeps its row with `deleted_at`; the field values and
    /// history an issue no longer has are gone), `members.jsonl` one line per query and
    /// `sets.jsonl` none, atomically; whether any file was rewritten. A sync does this
    /// when its run ends.
    pub fn compact(&mut self) -> Result<bool, Error> {
        self.compact_files((true, true))
    }

    /// [`JsonlSink::compact`], reading `issues.jsonl` and the files written per issue
    /// only when `reread.0`, and `worklogs.jsonl` only when either (see
    /// [`compact::compact`]).
    fn compact_files(&mut self, reread: (bool, bool)) -> Result<bool, Error> {
        self.usable()?;
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
        let compacted = compact::compact(&self.dir, &mut self.manifest, Some(&members), reread)?;
        if reread.0 {
            self.rewritten = false;
        }
        if reread.0 || reread.1 {
            self.worklogs_rewritten = false;
        }
        Ok(compacted)
    }

    pub(super) fn lines(
        &self,
        name: &str,
    ) -> Result<impl Iterator<Item = Result<String, Error>> + use<>, Error> {
        let path = self.dir.join(name);
        let file = File::open(&path).map_err(|e| failed(&path, e))?;
        Ok(BufReader::new(file)
            .lines()
            .map(move |line| line.map_err(|e| failed(&path, e))))
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
        // An issue the files hold already (or this commit holds twice), written again:
        // its lines are superseded.
        let mut seen = HashSet::with_capacity(batch.issues.len());
        let again = batch.issues.iter().any(|issue| !seen.insert(issue.id))
            || batch
                .issues
                .iter()
                .map(|issue| issue.id)
                .chain(batch.histories.keys().copied())
                .chain(batch.comments.keys().copied())
                .any(|id| self.issues.contains_key(&id));
        let keys: HashMap<u64, String> = Rows::keys_needed(batch)
            .into_iter()
            .filter_map(|id| {
                let entry = self.issues.get(&id)?;
                Some((id, self.prefixes.key(entry.key)))
            })
            .collect();
        let rows = Rows::build(batch, &self.names, &keys)?;
        let mut out = Appender::new(&self.dir);
        // What the commit replaces, and where its lines of each such file begin.
        let mut sets = SetsLine {
            at: match time_ms(crate::record::now_ms()) {
                SqlValue::Text(at) => at,
                _ => String::new(),
            },
            ..SetsLine::default()
        };
        let mut replace = |table: &Table, ids: Vec<u64>, manifest: &Manifest| {
            if !ids.is_empty() {
                let name = FILES[file_of(table)];
                let at = manifest.bytes.get(name).copied().unwrap_or(0);
                sets.from.insert(name.to_owned(), at);
                sets.replaced.insert(name.to_owned(), ids);
            }
        };
        let written: Vec<u64> = batch.issues.iter().map(|i| i.id).collect();
        replace(&schema::FIELD_VALUES, written.clone(), &self.manifest);
        let histories: Vec<u64> = batch.histories.keys().copied().collect();
        replace(&schema::CHANGELOG, histories.clone(), &self.manifest);
        replace(&schema::CHANGELOG_ITEMS, histories, &self.manifest);
        replace(
            &schema::COMMENTS,
            batch.comments.keys().copied().collect(),
            &self.manifest,
        );
        let fields = self.fields.as_deref().map(|fields| field_rows(fields).0);
        if fields.is_some() {
            replace(&schema::FIELDS, vec![0], &self.manifest);
        }

        out.rows(&schema::ISSUES, &rows.issues)?;
        for issue in &batch.issues {
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
        out.rows(&schema::FIELD_VALUES, &rows.field_values)?;
        out.rows(&schema::CHANGELOG, &rows.changelog)?;
        out.rows(&schema::CHANGELOG_ITEMS, &rows.changelog_items)?;
        for (issue_id, entries) in &batch.histories {
            if let Some(entry) = self.issues.get_mut(issue_id) {
                entry.history = entries.len() as u32;
            }
        }
        out.rows(&schema::COMMENTS, &rows.comments)?;
        for (issue_id, comments) in &batch.comments {
            if let Some(entry) = self.issues.get_mut(issue_id) {
                entry.comments = comments.len() as u32;
            }
        }
        out.rows(&schema::WORKLOGS, &rows.worklogs)?;
        for worklog in &batch.worklogs {
            let before = self.worklogs.insert(worklog.id, (worklog.issue_id, false));
            self.worklogs_rewritten |= before.is_some();
        }
        let worklogs = file_of(&schema::WORKLOGS);
        for (id, at) in &batch.deleted_worklogs {
            if let Some((_, deleted @ false)) = self.worklogs.get_mut(id) {
                *deleted = true;
                self.worklogs_rewritten = true;
                out.push(
                    worklogs,
                    &Tombstone {
                        key: &[("id", SqlValue::Int(*id as i64))],
                        deleted_at: time_ms(*at),
                    },
                )?;
            }
        }
        out.rows(&schema::USERS, &rows.users)?;
        if let Some(fields) = &fields {
            out.rows(&schema::FIELDS, fields)?;
        }
        out.rows(&schema::STATUSES, &rows.statuses)?;
        if !batch.issues.is_empty() {
            out.push(
                MEMBERS,
                &MembersLine {
                    query,
                    held: written,
                    released: Vec::new(),
                },
            )?;
        }
        if !sets.replaced.is_empty() {
            out.push(SETS, &sets)?;
        }
        self.manifest
            .states
            .insert(state.jql.clone(), state.clone());
        self.finish(out)?;
        self.fields = None;
        self.rewritten |= again;
        Ok(())
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
                    file_of(&schema::ISSUES),
                    &Tombstone {
                        key: &[
                            ("id", SqlValue::Int(*id as i64)),
                            ("key", SqlValue::Text(prefixes.key(entry.key))),
                        ],
                        deleted_at: time_ms(at_ms),
                    },
                )?;
                entry.deleted = true;
                tombstoned.insert(*id);
                census.deleted += 1;
            }
        }
        // A deleted issue's worklogs go with it (its comments too: compaction marks
        // them, as this index does not hold them).
        for (id, (issue, deleted)) in self.worklogs.iter_mut() {
            if !*deleted && tombstoned.contains(issue) {
                out.push(
                    file_of(&schema::WORKLOGS),
                    &Tombstone {
                        key: &[("id", SqlValue::Int(*id as i64))],
                        deleted_at: time_ms(at_ms),
                    },
                )?;
                *deleted = true;
                self.worklogs_rewritten = true;
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
                MEMBERS,
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
        self.rewritten |= !tombstoned.is_empty();
        Ok(census)
    }

    /// A committed manifest the failing append did not change: the in-memory index is
    /// rebuilt from the files so a failed commit leaves nothing half-applied.
    ///
    /// The sink is opened again under the lock it holds: the files are cut back to the
    /// manifest's lengths (dropping what the failed commit appended, so the next commit
    /// does not append after it) and the index is read from them. When that fails too,
    /// the sink writes nothing more; a new sink opened on the directory starts clean.
    fn recover(&mut self, error: Error) -> Error {
        let Some(lock) = self.lock.take() else {
            return error;
        };
        match JsonlSink::open_locked(self.dir.clone(), lock, true) {
            Ok(fresh) => {
                // What the commits before the failed one wrote again is still in the files.
                let rewritten = (self.rewritten, self.worklogs_rewritten);
                *self = fresh;
                self.rewritten |= rewritten.0;
                self.worklogs_rewritten |= rewritten.1;
            }
            Err(reopen) => {
                tracing::error!(dir = %self.dir.display(), error = %reopen, "a JSON Lines sink could not be reopened after a failed commit; it writes nothing more");
            }
        }
        error
    }

    /// Refuses a write to a sink a failed commit left unusable.
    fn usable(&self) -> Result<(), Error> {
        match self.lock {
            Some(_) => Ok(()),
            None => Err(Error::Sync(format!(
                "sync: {} could not be reopened after a failed commit; its files hold the last commit whole: run the sync again",
                self.dir.display()
            ))),
        }
    }
}

impl Sink for JsonlSink {
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error> {
        Ok(self.manifest.states.get(jql).cloned())
    }

    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        self.usable()?;
        self.write_commit(batch, state)
            .map_err(|error| self.recover(error))
    }

    fn census_finish(&mut self, jql: &str, at_ms: i64) -> Result<Census, Error> {
        self.usable()?;
        self.write_census(jql, at_ms)
            .map_err(|error| self.recover(error))
    }

    fn finish_run(&mut self) -> Result<(), Error> {
        self.usable()?;
        let reread = (self.rewritten, self.worklogs_rewritten);
        self.compact_files(reread)
            .map(|_| ())
            .map_err(|error| self.recover(error))
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        Ok(id
            .parse::<u64>()
            .is_ok_and(|id| self.issues.get(&id).is_some_and(|e| !e.deleted)))
    }

    fn worklogs_held(&mut self, issues: &[u64]) -> Result<Vec<(u64, u64)>, Error> {
        if issues.is_empty() {
            return Ok(Vec::new());
        }
        let issues: HashSet<u64> = issues.iter().copied().collect();
        Ok(self
            .worklogs
            .iter()
            .filter(|(_, (issue, deleted))| !deleted && issues.contains(issue))
            .map(|(id, (issue, _))| (*issue, *id))
            .collect())
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
        // Written with the next commit; its names name the field values from now on.
        self.names = field_rows(fields).1;
        self.fields = Some(fields.to_vec());
        Ok(())
    }
}

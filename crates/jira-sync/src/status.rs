//! What a sink holds and what its last runs did, read without taking it from a sync that
//! may be writing it: SQLite is opened read-only (WAL lets a reader in beside the writer),
//! a JSON Lines directory is read through its manifest (replaced atomically, so always
//! whole).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, SyncState};

/// A sink as `jira-ops sync status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SinkStatus {
    /// `sqlite`, `postgres` or `jsonl`.
    pub kind: &'static str,
    /// The file or directory (a database's URL without its password).
    pub path: PathBuf,
    /// The layout's version: the JSON Lines manifest's `format`, a database's schema
    /// version (`schema_version`).
    pub format: u32,
    /// Live and tombstoned counts: `issues`, `issues_deleted`, `history_entries`,
    /// `comments`, `worklogs`, `worklogs_deleted`.
    pub counts: BTreeMap<String, u64>,
    /// Each query synced into it, with its state (mark, census, runs, an unfinished
    /// window, the last runs) and the issues it holds when the sink records that.
    pub queries: Vec<QueryStatus>,
    /// The sync writing it now, as its lock names it.
    pub in_use_by: Option<String>,
}

/// One query of a sink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueryStatus {
    /// Its saved state.
    pub state: SyncState,
    /// Live issues it holds.
    pub issues: Option<u64>,
}

/// What a database sink counts, and how: the same SQL in SQLite and PostgreSQL.
pub(crate) const COUNTS: [(&str, &str); 6] = [
    (
        "issues",
        "SELECT COUNT(*) FROM issues WHERE deleted_at IS NULL",
    ),
    (
        "issues_deleted",
        "SELECT COUNT(*) FROM issues WHERE deleted_at IS NOT NULL",
    ),
    (
        "history_entries",
        "SELECT COUNT(*) FROM changelog c JOIN issues i ON i.id = c.issue_id WHERE i.deleted_at IS NULL",
    ),
    (
        "comments",
        "SELECT COUNT(*) FROM comments WHERE deleted_at IS NULL",
    ),
    (
        "worklogs",
        "SELECT COUNT(*) FROM worklogs WHERE deleted_at IS NULL",
    ),
    (
        "worklogs_deleted",
        "SELECT COUNT(*) FROM worklogs WHERE deleted_at IS NOT NULL",
    ),
];

fn failed(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Sync(format!(
        "sync status: {} does not read: {error}",
        path.display()
    ))
}

/// The status of the SQLite sink at `path` (which must exist).
#[cfg(feature = "sqlite")]
pub fn sqlite_status(path: &Path) -> Result<SinkStatus, Error> {
    use rusqlite::{Connection, OpenFlags};
    if !path.is_file() {
        return Err(Error::Sync(format!(
            "sync status: {} does not exist: no sync has written there (check the path)",
            path.display()
        )));
    }
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| failed(path, e))?;
    let format = match crate::sqlite::version(&db).map_err(|e| failed(path, e))? {
        Some(crate::relational::schema::SCHEMA_VERSION) => {
            crate::relational::schema::SCHEMA_VERSION
        }
        Some(1) => {
            return Err(Error::Sync(format!(
                "sync status: {} was written by an older jira-ops (schema version 1, JSON only); run `jira-ops sync migrate --to {}` to move it to the relational schema in place (the next sync does so too)",
                path.display(),
                path.display()
            )));
        }
        other => {
            return Err(Error::Sync(format!(
                "sync status: {} is not a jira-ops sync database of a schema this version knows (schema version {}); check the path",
                path.display(),
                other.map_or_else(|| "none".to_owned(), |v| v.to_string())
            )));
        }
    };
    let mut counts = BTreeMap::new();
    for (name, sql) in COUNTS {
        let n = db
            .query_row(sql, [], |row| row.get::<_, i64>(0))
            .map_err(|e| failed(path, e))?;
        counts.insert(name.to_owned(), n.max(0) as u64);
    }
    let live = "SELECT id FROM issues WHERE deleted_at IS NULL";
    let mut statement = db
        .prepare("SELECT json FROM sync_state ORDER BY jql")
        .map_err(|e| failed(path, e))?;
    let states: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .and_then(Iterator::collect)
        .map_err(|e| failed(path, e))?;
    let mut queries = Vec::new();
    for json in states {
        let state: SyncState = serde_json::from_str(&json).map_err(|e| failed(path, e))?;
        let issues = db
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM sync_members WHERE jql = ?1 AND issue_id IN ({live})"
                ),
                [&state.jql],
                |row| row.get::<_, i64>(0),
            )
            .ok()
            .map(|n| n.max(0) as u64);
        queries.push(QueryStatus { state, issues });
    }
    let mut lock = path.to_path_buf().into_os_string();
    lock.push(".sync-lock");
    Ok(SinkStatus {
        kind: "sqlite",
        path: path.to_path_buf(),
        format: format as u32,
        counts,
        queries,
        in_use_by: crate::lock::holder(Path::new(&lock)),
    })
}

/// The status of the JSON Lines sink in `dir` (which must hold a manifest).
pub fn jsonl_status(dir: &Path) -> Result<SinkStatus, Error> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::Sync(format!(
            "sync status: {} cannot be read ({e}): no sync has committed there (check the path)",
            path.display()
        ))
    })?;
    let manifest: crate::Manifest = serde_json::from_slice(&bytes).map_err(|e| failed(&path, e))?;
    let queries = manifest
        .states
        .into_values()
        .map(|state| QueryStatus {
            state,
            issues: None,
        })
        .collect();
    Ok(SinkStatus {
        kind: "jsonl",
        path: dir.to_path_buf(),
        format: manifest.format,
        counts: manifest.counts,
        queries,
        in_use_by: crate::lock::holder(&dir.join("sync.lock")),
    })
}

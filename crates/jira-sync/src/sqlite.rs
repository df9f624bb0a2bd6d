//! [`SqliteSink`]: a sync into one SQLite file (bundled SQLite, no server): a table per
//! entity, upserts by id, and the sync state in the same transaction as the data it
//! describes, so a killed run leaves either the whole page or none of it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Error;
use crate::{Census, Sink, SyncBatch, SyncState};

/// A SQLite database holding `issues`, `changelog` and `sync_state`.
pub struct SqliteSink {
    path: PathBuf,
    connection: Connection,
    /// One sync at a time (`PATH.sync-lock`).
    _lock: crate::lock::SinkLock,
}

fn failed(path: &Path, error: rusqlite::Error) -> Error {
    Error::Sync(format!(
        "sync: the SQLite database {} failed: {error} (check the path and free space; nothing past the last commit was written)",
        path.display()
    ))
}

impl SqliteSink {
    /// Opens (or creates) the database at `path` with its tables; refused at once when
    /// another sync has it open.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::open_waiting(path, std::time::Duration::ZERO)
    }

    /// [`SqliteSink::open`], waiting up to `wait` for another sync of it to end.
    pub fn open_waiting(
        path: impl Into<PathBuf>,
        wait: std::time::Duration,
    ) -> Result<Self, Error> {
        let path = path.into();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".sync-lock");
        let lock = crate::lock::SinkLock::acquire(Path::new(&lock_path), &path, wait)?;
        let connection = Connection::open(&path).map_err(|e| failed(&path, e))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 CREATE TABLE IF NOT EXISTS issues (
                     id INTEGER PRIMARY KEY,
                     key TEXT NOT NULL,
                     updated_ms INTEGER NOT NULL,
                     deleted_ms INTEGER,
                     json TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS changelog (
                     issue_id INTEGER NOT NULL,
                     id INTEGER NOT NULL,
                     created TEXT NOT NULL,
                     json TEXT NOT NULL,
                     PRIMARY KEY (issue_id, id)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS comments (
                     id INTEGER PRIMARY KEY,
                     issue_id INTEGER NOT NULL,
                     updated TEXT NOT NULL,
                     json TEXT NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS comments_by_issue ON comments (issue_id);
                 CREATE TABLE IF NOT EXISTS worklogs (
                     id INTEGER PRIMARY KEY,
                     issue_id INTEGER NOT NULL,
                     updated TEXT NOT NULL,
                     deleted_ms INTEGER,
                     json TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS fields (
                     id TEXT PRIMARY KEY,
                     name TEXT NOT NULL,
                     json TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS sync_state (
                     jql TEXT PRIMARY KEY,
                     json TEXT NOT NULL
                 );",
            )
            .map_err(|e| failed(&path, e))?;
        // Which query holds which issue, so a census judges only its own. A database from
        // before the table lets every query hold every issue: a census then marks an
        // issue deleted only once every query's census has missed it.
        let members_existed: bool = connection
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sync_members'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| failed(&path, e))?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS sync_members (
                     jql TEXT NOT NULL,
                     issue_id INTEGER NOT NULL,
                     PRIMARY KEY (jql, issue_id)
                 ) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS sync_members_by_issue ON sync_members (issue_id);
                 CREATE INDEX IF NOT EXISTS worklogs_by_issue ON worklogs (issue_id);",
            )
            .map_err(|e| failed(&path, e))?;
        if !members_existed {
            connection
                .execute(
                    "INSERT OR IGNORE INTO sync_members (jql, issue_id)
                     SELECT s.jql, i.id FROM sync_state s, issues i WHERE i.deleted_ms IS NULL",
                    [],
                )
                .map_err(|e| failed(&path, e))?;
        }
        Ok(SqliteSink {
            path,
            connection,
            _lock: lock,
        })
    }

    /// The database's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open connection, to read what the sync wrote.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// The numeric `id` of a comment or worklog (Jira sends it as a string).
impl Sink for SqliteSink {
    fn census_begin(&mut self) -> Result<(), Error> {
        self.connection
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS present (id INTEGER PRIMARY KEY); DELETE FROM present;",
            )
            .map_err(|e| failed(&self.path, e))
    }

    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction()
            .map_err(|e| failed(&path, e))?;
        {
            let mut insert = transaction
                .prepare_cached("INSERT OR IGNORE INTO present (id) VALUES (?1)")
                .map_err(|e| failed(&path, e))?;
            for id in ids {
                insert
                    .execute(params![*id as i64])
                    .map_err(|e| failed(&path, e))?;
            }
        }
        transaction.commit().map_err(|e| failed(&path, e))
    }

    fn census_finish(&mut self, jql: &str, at_ms: i64) -> Result<Census, Error> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction()
            .map_err(|e| failed(&path, e))?;
        let exec = |sql: &str, values: &[&dyn rusqlite::ToSql]| -> Result<usize, Error> {
            transaction
                .execute(sql, values)
                .map_err(|e| failed(&path, e))
        };
        // What this query held and the census did not see: no longer this query's.
        transaction
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS gone (id INTEGER PRIMARY KEY); DELETE FROM gone;",
            )
            .map_err(|e| failed(&path, e))?;
        exec(
            "INSERT INTO gone (id) SELECT issue_id FROM sync_members
             WHERE jql = ?1 AND issue_id NOT IN (SELECT id FROM present)",
            params![jql],
        )?;
        exec(
            "DELETE FROM sync_members WHERE jql = ?1 AND issue_id IN (SELECT id FROM gone)",
            params![jql],
        )?;
        // Gone from every query that held it: a tombstone, its worklogs with it.
        exec(
            "DELETE FROM gone WHERE id IN (SELECT issue_id FROM sync_members)
                 OR id NOT IN (SELECT id FROM issues WHERE deleted_ms IS NULL)",
            [].as_slice(),
        )?;
        let deleted = exec(
            "UPDATE issues SET deleted_ms = ?1 WHERE id IN (SELECT id FROM gone)",
            params![at_ms],
        )?;
        exec(
            "UPDATE worklogs SET deleted_ms = ?1
             WHERE deleted_ms IS NULL AND issue_id IN (SELECT id FROM gone)",
            params![at_ms],
        )?;
        // What the census saw live is this query's from now on.
        exec(
            "INSERT OR IGNORE INTO sync_members (jql, issue_id)
             SELECT ?1, p.id FROM present p JOIN issues i ON i.id = p.id
             WHERE i.deleted_ms IS NULL",
            params![jql],
        )?;
        let absent = {
            let mut statement = transaction
                .prepare(
                    "SELECT p.id FROM present p LEFT JOIN issues i ON i.id = p.id
                     WHERE i.id IS NULL OR i.deleted_ms IS NOT NULL ORDER BY p.id",
                )
                .map_err(|e| failed(&path, e))?;
            statement
                .query_map([], |row| row.get::<_, i64>(0))
                .map_err(|e| failed(&path, e))?
                .map(|id| id.map(|id| id as u64))
                .collect::<Result<Vec<u64>, _>>()
                .map_err(|e| failed(&path, e))?
        };
        exec("DELETE FROM present", [].as_slice())?;
        exec("DELETE FROM gone", [].as_slice())?;
        transaction.commit().map_err(|e| failed(&path, e))?;
        Ok(Census { deleted, absent })
    }

    fn set_fields(&mut self, fields: &[serde_json::Value]) -> Result<(), Error> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction()
            .map_err(|e| failed(&path, e))?;
        transaction
            .execute("DELETE FROM fields", [])
            .map_err(|e| failed(&path, e))?;
        for field in fields {
            let text = |name: &str| {
                field
                    .get(name)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            transaction
                .execute(
                    "INSERT OR REPLACE INTO fields (id, name, json) VALUES (?1, ?2, ?3)",
                    params![text("id"), text("name"), field.to_string()],
                )
                .map_err(|e| failed(&path, e))?;
        }
        transaction.commit().map_err(|e| failed(&path, e))
    }

    fn issues_held(&mut self, jql: &str) -> Result<Option<u64>, Error> {
        self.connection
            .query_row(
                "SELECT COUNT(*) FROM sync_members m JOIN issues i ON i.id = m.issue_id
                 WHERE m.jql = ?1 AND i.deleted_ms IS NULL",
                params![jql],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| Some(n as u64))
            .map_err(|e| failed(&self.path, e))
    }

    fn newest_held(&mut self, jql: &str, n: usize) -> Result<Vec<(u64, i64)>, Error> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT i.id, i.updated_ms FROM sync_members m JOIN issues i ON i.id = m.issue_id
                 WHERE m.jql = ?1 AND i.deleted_ms IS NULL ORDER BY i.updated_ms DESC LIMIT ?2",
            )
            .map_err(|e| failed(&self.path, e))?;
        let rows = statement
            .query_map(params![jql, n as i64], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)?))
            })
            .map_err(|e| failed(&self.path, e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(&self.path, e))
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let found: Option<i64> = self
            .connection
            .query_row(
                "SELECT 1 FROM issues WHERE id = ?1 AND deleted_ms IS NULL",
                params![id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| failed(&self.path, e))?;
        Ok(found.is_some())
    }

    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error> {
        let json: Option<String> = self
            .connection
            .query_row(
                "SELECT json FROM sync_state WHERE jql = ?1",
                params![jql],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| failed(&self.path, e))?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|e| {
                Error::Sync(format!(
                    "sync: the state saved in {} does not read ({e}); run with --full to start over",
                    self.path.display()
                ))
            })
        })
        .transpose()
    }

    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction()
            .map_err(|e| failed(&path, e))?;
        // Statements prepared once per connection: a commit runs thousands of them.
        let exec = |sql: &str, values: &[&dyn rusqlite::ToSql]| -> Result<usize, Error> {
            transaction
                .prepare_cached(sql)
                .and_then(|mut statement| statement.execute(values))
                .map_err(|e| failed(&path, e))
        };
        for issue in &batch.issues {
            exec("INSERT INTO issues (id, key, updated_ms, deleted_ms, json) VALUES (?1, ?2, ?3, NULL, ?4)
                     ON CONFLICT(id) DO UPDATE SET key = ?2, updated_ms = ?3, deleted_ms = NULL, json = ?4", params![issue.id as i64, issue.key, issue.updated_ms, issue.json.get()])?;
            exec(
                "INSERT OR IGNORE INTO sync_members (jql, issue_id) VALUES (?1, ?2)",
                params![state.jql, issue.id as i64],
            )?;
        }
        for (issue_id, entries) in &batch.histories {
            exec(
                "DELETE FROM changelog WHERE issue_id = ?1",
                params![*issue_id as i64],
            )?;
            for entry in entries {
                exec(
                    "INSERT OR REPLACE INTO changelog (issue_id, id, created, json) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        *issue_id as i64,
                        entry.id as i64,
                        entry.at,
                        entry.json.get()
                    ],
                )?;
            }
        }
        for (issue_id, comments) in &batch.comments {
            exec(
                "DELETE FROM comments WHERE issue_id = ?1",
                params![*issue_id as i64],
            )?;
            for comment in comments {
                exec(
                    "INSERT OR REPLACE INTO comments (id, issue_id, updated, json) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        comment.id as i64,
                        *issue_id as i64,
                        comment.at,
                        comment.json.get()
                    ],
                )?;
            }
        }
        for worklog in &batch.worklogs {
            exec("INSERT INTO worklogs (id, issue_id, updated, deleted_ms, json) VALUES (?1, ?2, ?3, NULL, ?4)
                     ON CONFLICT(id) DO UPDATE SET issue_id = ?2, updated = ?3, deleted_ms = NULL, json = ?4", params![worklog.id as i64, worklog.issue_id as i64, worklog.at, worklog.json.get()])?;
        }
        for (id, at) in &batch.deleted_worklogs {
            exec(
                "UPDATE worklogs SET deleted_ms = ?2 WHERE id = ?1",
                params![*id as i64, at],
            )?;
        }
        let state_json = serde_json::to_string(state).unwrap_or_default();
        exec(
            "INSERT INTO sync_state (jql, json) VALUES (?1, ?2)
                 ON CONFLICT(jql) DO UPDATE SET json = ?2",
            params![state.jql, state_json],
        )?;
        transaction.commit().map_err(|e| failed(&path, e))?;
        // A sync commits far more than it reads back: the pages it wrote need not stay
        // cached (memory stays flat however large the export).
        let _ = self.connection.release_memory();
        Ok(())
    }
}

//! [`SqliteSink`]: a sync into one SQLite file (bundled SQLite, no server) in the
//! relational schema of [`crate::relational`]: upserts by id, and the sync state in the
//! same transaction as the data it describes, so a killed run leaves either the whole
//! page or none of it. A file of an older schema is migrated in place when opened
//! ([`migrate`]).

mod migrate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::types::{ToSqlOutput, Value as Sqlite};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::relational::schema::{self, Dialect, Table};
use crate::relational::{Row, Rows, SqlValue, field_rows, time_ms};
use crate::{Census, Error, Sink, SyncBatch, SyncState};

/// A SQLite database in the relational schema (docs/sync.md), with `sync_state`.
pub struct SqliteSink {
    path: PathBuf,
    connection: Connection,
    /// Field names by id, for `issue_field_values.field_name`.
    names: HashMap<String, String>,
    /// One sync at a time (`PATH.sync-lock`).
    _lock: crate::lock::SinkLock,
}

pub(crate) fn failed(path: &Path, error: rusqlite::Error) -> Error {
    Error::Sync(format!(
        "sync: the SQLite database {} failed: {error} (check the path and free space; nothing past the last commit was written)",
        path.display()
    ))
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Owned(Sqlite::Null),
            SqlValue::Int(n) => ToSqlOutput::Owned(Sqlite::Integer(*n)),
            SqlValue::Real(x) => ToSqlOutput::Owned(Sqlite::Real(*x)),
            SqlValue::Text(text) => ToSqlOutput::Borrowed(text.as_str().into()),
            SqlValue::Bool(b) => ToSqlOutput::Owned(Sqlite::Integer(i64::from(*b))),
        })
    }
}

/// The schema version a SQLite file holds: none for a new file, 1 for one written before
/// `schema_version` existed.
pub(crate) fn version(connection: &Connection) -> rusqlite::Result<Option<i64>> {
    let has = |table: &str| -> rusqlite::Result<bool> {
        connection
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
    };
    if has("schema_version")? {
        return connection.query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        });
    }
    Ok(has("issues")?.then_some(1))
}

impl SqliteSink {
    /// Opens (or creates) the database at `path` with its tables; refused at once when
    /// another sync has it open.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::open_waiting(path, std::time::Duration::ZERO)
    }

    /// [`SqliteSink::open`], waiting up to `wait` for another sync of it to end. A file
    /// of an older schema is migrated in place, in one transaction.
    pub fn open_waiting(
        path: impl Into<PathBuf>,
        wait: std::time::Duration,
    ) -> Result<Self, Error> {
        let path = path.into();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".sync-lock");
        let lock = crate::lock::SinkLock::acquire(Path::new(&lock_path), &path, wait)?;
        let mut connection = Connection::open(&path).map_err(|e| failed(&path, e))?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(|e| failed(&path, e))?;
        match version(&connection).map_err(|e| failed(&path, e))? {
            None => {
                let transaction = connection.transaction().map_err(|e| failed(&path, e))?;
                create(&transaction).map_err(|e| failed(&path, e))?;
                transaction.commit().map_err(|e| failed(&path, e))?;
            }
            Some(1) => migrate::from_v1(&mut connection, &path)?,
            Some(schema::SCHEMA_VERSION) => {}
            Some(newer) => {
                return Err(Error::Sync(format!(
                    "sync: {} holds schema version {newer}, newer than this jira-ops knows ({}); sync it with the jira-ops that wrote it, or into a new file",
                    path.display(),
                    schema::SCHEMA_VERSION
                )));
            }
        }
        let names = {
            let mut statement = connection
                .prepare("SELECT id, name FROM fields")
                .map_err(|e| failed(&path, e))?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .and_then(Iterator::collect)
                .map_err(|e| failed(&path, e))?
        };
        Ok(SqliteSink {
            path,
            connection,
            names,
            _lock: lock,
        })
    }

    /// Brings the existing database at `path` to this version's schema, in place, and
    /// says from which version (equal to [`schema::SCHEMA_VERSION`] when it was already
    /// there). Waits up to `wait` for a sync that holds it.
    pub fn migrate(path: &Path, wait: std::time::Duration) -> Result<i64, Error> {
        if !path.is_file() {
            return Err(Error::Sync(format!(
                "sync migrate: {} does not exist: no sync has written there (check the path)",
                path.display()
            )));
        }
        let before = {
            let connection =
                Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(|e| failed(path, e))?;
            version(&connection).map_err(|e| failed(path, e))?
        };
        let Some(before) = before else {
            return Err(Error::Sync(format!(
                "sync migrate: {} holds no jira-ops sync (no issues table); check the path",
                path.display()
            )));
        };
        SqliteSink::open_waiting(path, wait)?;
        Ok(before)
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

/// Creates the schema and records its version.
pub(crate) fn create(transaction: &Transaction<'_>) -> rusqlite::Result<()> {
    transaction.execute_batch(&schema::ddl(Dialect::Sqlite))?;
    transaction.execute(
        "INSERT INTO schema_version (version, migrated_at) VALUES (?1, ?2)",
        params![schema::SCHEMA_VERSION, time_ms(crate::record::now_ms())],
    )?;
    Ok(())
}

/// Upserts `rows` into `table` by its key.
fn upsert(transaction: &Transaction<'_>, table: &Table, rows: &[Row]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let marks = (1..=table.columns.len())
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let updates = table
        .columns
        .iter()
        .filter(|c| !table.key.contains(&c.name))
        .map(|c| format!("{0} = excluded.{0}", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks}) ON CONFLICT ({}) DO UPDATE SET {updates}",
        table.name,
        table.column_list(),
        table.key.join(", ")
    );
    let mut statement = transaction.prepare_cached(&sql)?;
    for row in rows {
        statement.execute(rusqlite::params_from_iter(row.iter()))?;
    }
    Ok(())
}

/// Writes `batch` (not the state) into the open transaction; `names` names fields.
pub(crate) fn write_batch(
    transaction: &Transaction<'_>,
    batch: &SyncBatch,
    names: &HashMap<String, String>,
    jql: Option<&str>,
) -> rusqlite::Result<()> {
    let mut keys = HashMap::new();
    for id in Rows::keys_needed(batch) {
        let key: Option<String> = transaction
            .prepare_cached("SELECT key FROM issues WHERE id = ?1")?
            .query_row([id as i64], |row| row.get(0))
            .optional()?;
        keys.extend(key.map(|key| (id, key)));
    }
    let rows = Rows::build(batch, names, &keys)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let exec = |sql: &str, values: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<usize> {
        transaction.prepare_cached(sql)?.execute(values)
    };
    for issue in &batch.issues {
        let id = issue.id as i64;
        let old: Option<String> = transaction
            .prepare_cached("SELECT key FROM issues WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?;
        if old.is_some_and(|old| old != issue.key) {
            for table in schema::KEYED_CHILDREN {
                exec(
                    &format!("UPDATE {table} SET issue_key = ?2 WHERE issue_id = ?1"),
                    params![id, issue.key],
                )?;
            }
        }
        exec(
            "DELETE FROM issue_field_values WHERE issue_id = ?1",
            params![id],
        )?;
        if let Some(jql) = jql {
            exec(
                "INSERT OR IGNORE INTO sync_members (jql, issue_id) VALUES (?1, ?2)",
                params![jql, id],
            )?;
        }
    }
    upsert(transaction, &schema::ISSUES, &rows.issues)?;
    upsert(transaction, &schema::FIELD_VALUES, &rows.field_values)?;
    for id in &rows.history_issue_ids {
        exec("DELETE FROM changelog WHERE issue_id = ?1", params![id])?;
        exec(
            "DELETE FROM changelog_items WHERE issue_id = ?1",
            params![id],
        )?;
    }
    upsert(transaction, &schema::CHANGELOG, &rows.changelog)?;
    upsert(transaction, &schema::CHANGELOG_ITEMS, &rows.changelog_items)?;
    let now = time_ms(crate::record::now_ms());
    for id in &rows.comment_issue_ids {
        exec(
            "UPDATE comments SET deleted_at = ?2 WHERE issue_id = ?1 AND deleted_at IS NULL",
            params![id, now],
        )?;
    }
    upsert(transaction, &schema::COMMENTS, &rows.comments)?;
    upsert(transaction, &schema::WORKLOGS, &rows.worklogs)?;
    for (id, at) in &rows.deleted_worklogs {
        exec(
            "UPDATE worklogs SET deleted_at = ?2 WHERE id = ?1",
            params![id, at],
        )?;
    }
    upsert(transaction, &schema::USERS, &rows.users)?;
    upsert(transaction, &schema::STATUSES, &rows.statuses)?;
    Ok(())
}

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
        let at = time_ms(at_ms);
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
        // Gone from every query that held it: a tombstone, its worklogs and comments
        // with it.
        exec(
            "DELETE FROM gone WHERE id IN (SELECT issue_id FROM sync_members)
                 OR id NOT IN (SELECT id FROM issues WHERE deleted_at IS NULL)",
            [].as_slice(),
        )?;
        let deleted = exec(
            "UPDATE issues SET deleted_at = ?1 WHERE id IN (SELECT id FROM gone)",
            params![at],
        )?;
        for table in ["worklogs", "comments"] {
            exec(
                &format!(
                    "UPDATE {table} SET deleted_at = ?1
                     WHERE deleted_at IS NULL AND issue_id IN (SELECT id FROM gone)"
                ),
                params![at],
            )?;
        }
        // What the census saw live is this query's from now on.
        exec(
            "INSERT OR IGNORE INTO sync_members (jql, issue_id)
             SELECT ?1, p.id FROM present p JOIN issues i ON i.id = p.id
             WHERE i.deleted_at IS NULL",
            params![jql],
        )?;
        let absent = {
            let mut statement = transaction
                .prepare(
                    "SELECT p.id FROM present p LEFT JOIN issues i ON i.id = p.id
                     WHERE i.id IS NULL OR i.deleted_at IS NOT NULL ORDER BY p.id",
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
        let (rows, names) = field_rows(fields);
        let transaction = self
            .connection
            .transaction()
            .map_err(|e| failed(&path, e))?;
        transaction
            .execute("DELETE FROM fields", [])
            .map_err(|e| failed(&path, e))?;
        upsert(&transaction, &schema::FIELDS, &rows).map_err(|e| failed(&path, e))?;
        transaction.commit().map_err(|e| failed(&path, e))?;
        self.names = names;
        Ok(())
    }

    fn issues_held(&mut self, jql: &str) -> Result<Option<u64>, Error> {
        self.connection
            .query_row(
                "SELECT COUNT(*) FROM sync_members m JOIN issues i ON i.id = m.issue_id
                 WHERE m.jql = ?1 AND i.deleted_at IS NULL",
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
                "SELECT i.id, i.updated FROM sync_members m JOIN issues i ON i.id = m.issue_id
                 WHERE m.jql = ?1 AND i.deleted_at IS NULL ORDER BY i.updated DESC LIMIT ?2",
            )
            .map_err(|e| failed(&self.path, e))?;
        let rows = statement
            .query_map(params![jql, n as i64], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get::<_, String>(1)?))
            })
            .map_err(|e| failed(&self.path, e))?;
        let rows = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(&self.path, e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, updated)| Some((id, crate::record::jira_time_ms(&updated)?)))
            .collect())
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let found: Option<i64> = self
            .connection
            .query_row(
                "SELECT 1 FROM issues WHERE id = ?1 AND deleted_at IS NULL",
                params![id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| failed(&self.path, e))?;
        Ok(found.is_some())
    }

    fn worklogs_held(&mut self, issues: &[u64]) -> Result<Vec<(u64, u64)>, Error> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT id FROM worklogs WHERE issue_id = ?1 AND deleted_at IS NULL")
            .map_err(|e| failed(&self.path, e))?;
        let mut held = Vec::new();
        for issue in issues {
            let ids = statement
                .query_map(params![*issue as i64], |row| row.get::<_, i64>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| failed(&self.path, e))?;
            held.extend(ids.into_iter().map(|id| (*issue, id as u64)));
        }
        Ok(held)
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
        write_batch(&transaction, batch, &self.names, Some(&state.jql))
            .map_err(|e| failed(&path, e))?;
        let state_json = serde_json::to_string(state).unwrap_or_default();
        upsert(
            &transaction,
            &schema::SYNC_STATE,
            &[vec![
                SqlValue::Text(state.jql.clone()),
                SqlValue::Text(state_json),
            ]],
        )
        .map_err(|e| failed(&path, e))?;
        transaction.commit().map_err(|e| failed(&path, e))?;
        // A sync commits far more than it reads back: the pages it wrote need not stay
        // cached (memory stays flat however large the export).
        let _ = self.connection.release_memory();
        Ok(())
    }
}

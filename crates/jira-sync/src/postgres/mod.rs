//! [`PostgresSink`]: a sync into a shared PostgreSQL database (feature `postgres`), in
//! the same relational schema as SQLite ([`crate::relational`]), with the same commit:
//! a page's data and its query's state in one transaction.
//!
//! - **Several syncs at once, one per query.** Workers syncing different queries share
//!   the database; each query is held by a session-level advisory lock
//!   (`pg_try_advisory_lock(hashtextextended(jql, 0))`) from the run's first read of its
//!   state until the sink is dropped (or the process dies: the server lets go with the
//!   session). A second sync of the same query is refused at once naming the holder (the
//!   session's `application_name`, `jira-ops sync (process N on HOST)`, and since when),
//!   or waits with `--wait`.
//! - **Bulk writes**: one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE` per
//!   table per commit; a commit that meets a deadlock or a serialization failure (two
//!   workers upserting the same user) is run again, whole.
//! - **Its own thread**: the driver (`postgres`, the blocking face of `tokio-postgres`)
//!   runs on a thread of the sink's, so the sync's runtime never blocks inside another.
//! - The password comes from the URL, `PGPASSWORD` or `~/.pgpass` and is never shown
//!   ([`connect`]).

mod connect;
mod status;
mod write;

use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use connect::{Target, redact};
pub use status::postgres_status;

use crate::relational::schema::{self, SCHEMA_VERSION};
use crate::relational::{Rows, field_rows, time_ms};
use crate::{Census, Error, Sink, SyncBatch, SyncState};

type Job = Box<dyn FnOnce(&mut postgres::Client) + Send>;

/// A sync into a PostgreSQL database.
pub struct PostgresSink {
    target: Target,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Field names by id, for `issue_field_values.field_name`.
    names: HashMap<String, String>,
    /// How long to wait for another sync of a query to end.
    wait: Duration,
    /// Queries this sink holds the lock of.
    locked: BTreeSet<String>,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSink")
            .field("target", &self.target.shown())
            .finish_non_exhaustive()
    }
}

/// Attempts of a commit that meets a deadlock or a serialization failure.
const ATTEMPTS: usize = 5;

fn is_retryable(error: &postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// What this process calls itself to the server (shown to a second sync it refuses).
fn application_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .map_or_else(String::new, |h| format!(" on {h}"));
    format!("jira-ops sync (process {}{host})", std::process::id())
}

impl PostgresSink {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`) and creates the
    /// schema when the database has none.
    pub fn open(url: &str) -> Result<Self, Error> {
        Self::open_waiting(url, Duration::ZERO)
    }

    /// [`PostgresSink::open`]; a query another sync holds is waited for up to `wait`.
    pub fn open_waiting(url: &str, wait: Duration) -> Result<Self, Error> {
        let target = Target::parse(url)?;
        let mut config = target.config.clone();
        config.application_name(&application_name());
        config.connect_timeout(Duration::from_secs(20));
        let shown = target.shown().to_owned();
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel::<Result<(), Error>>();
        let thread = std::thread::Builder::new()
            .name("jira-sync-postgres".into())
            .spawn(move || {
                let mut client = match config.connect(postgres::NoTls) {
                    Ok(client) => client,
                    Err(e) => {
                        let _ = ready.send(Err(Error::Sync(format!(
                            "sync: cannot connect to {shown}: {} (check the host, port, user and database; the password comes from the URL, PGPASSWORD or ~/.pgpass)",
                            describe(&e)
                        ))));
                        return;
                    }
                };
                let schema = client
                    .batch_execute("SET TIME ZONE 'UTC'")
                    .and_then(|()| write::ensure_schema(&mut client));
                let outcome = match schema {
                    Ok(SCHEMA_VERSION) => Ok(()),
                    Ok(other) => Err(Error::Sync(format!(
                        "sync: {shown} holds schema version {other}, which this jira-ops ({SCHEMA_VERSION}) does not write; sync it with the jira-ops that wrote it, or into another database"
                    ))),
                    Err(e) => Err(Error::Sync(format!(
                        "sync: {shown} refused the schema: {} (the user needs CREATE on the database's schema)",
                        describe(&e)
                    ))),
                };
                let failed = outcome.is_err();
                let _ = ready.send(outcome);
                if failed {
                    return;
                }
                for job in inbox {
                    job(&mut client);
                }
            })
            .map_err(|e| Error::Sync(format!("sync: cannot start the database thread: {e}")))?;
        connected
            .recv()
            .map_err(|_| Error::Sync("sync: the database thread ended".into()))??;
        let mut sink = PostgresSink {
            target,
            jobs: Some(jobs),
            thread: Some(thread),
            names: HashMap::new(),
            wait,
            locked: BTreeSet::new(),
        };
        let rows: Vec<(String, String)> = sink.call(|client| {
            Ok(client
                .query("SELECT id, name FROM fields", &[])?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })?;
        sink.names = rows.into_iter().collect();
        Ok(sink)
    }

    /// The database, as messages name it (no password).
    pub fn shown(&self) -> &str {
        self.target.shown()
    }

    /// Runs `job` on the connection's thread and returns what it returned.
    fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut postgres::Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        let shown = self.target.shown().to_owned();
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| Error::Sync("sync: the database connection is closed".into()))?;
        jobs.send(Box::new(move |client| {
            let _ = reply.send(job(client));
        }))
        .map_err(|_| Error::Sync(format!("sync: the connection to {shown} ended")))?;
        let outcome = crate::memory::blocking(|| answer.recv()).map_err(|_| {
            Error::Sync(format!(
                "sync: the connection to {} ended",
                self.target.shown()
            ))
        })?;
        outcome.map_err(|e| {
            Error::Sync(format!(
                "sync: {} failed: {} (nothing past the last commit was written)",
                self.target.shown(),
                describe(&e)
            ))
        })
    }

    /// Takes the lock of `jql`, waiting up to the sink's patience, or names its holder.
    fn lock(&mut self, jql: &str) -> Result<(), Error> {
        if self.locked.contains(jql) {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            let owned = jql.to_owned();
            let got: bool = self.call(move |client| {
                Ok(client
                    .query_one(
                        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                        &[&owned],
                    )?
                    .get(0))
            })?;
            if got {
                self.locked.insert(jql.to_owned());
                return Ok(());
            }
            if started.elapsed() >= self.wait {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let owned = jql.to_owned();
        let holder: Option<(String, String)> = self.call(move |client| {
            Ok(client
                .query_opt(
                    "SELECT a.application_name, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'advisory' AND l.granted
                       AND l.objsubid = 1
                       AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
                     LIMIT 1",
                    &[&owned],
                )?
                .map(|row| (row.get(0), row.get(1))))
        })?;
        let holder = holder.map_or_else(
            || "another session".to_owned(),
            |(name, since)| format!("{name}, connected since {since}"),
        );
        let waited = if self.wait.is_zero() {
            ""
        } else {
            " (it waited as long as allowed)"
        };
        Err(Error::Sync(format!(
            "sync: the query {jql:?} in {} is being synced by {holder}: two syncs of one query would each read the whole window, so this one stops{waited}; run it again once that one has ended, or wait for it with --wait SECS (syncs of other queries into the same database run side by side)",
            self.target.shown()
        )))
    }
}

/// A driver error with the server's own words when there are some.
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    }
}

impl Drop for PostgresSink {
    fn drop(&mut self) {
        // Closing the channel ends the thread, which closes the session: its locks go.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Sink for PostgresSink {
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error> {
        self.lock(jql)?;
        let owned = jql.to_owned();
        let json: Option<String> = self.call(move |client| {
            Ok(client
                .query_opt(
                    "SELECT json::text FROM sync_state WHERE jql = $1",
                    &[&owned],
                )?
                .map(|row| row.get(0)))
        })?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|e| {
                Error::Sync(format!(
                    "sync: the state saved in {} does not read ({e}); run with --full to start over",
                    self.target.shown()
                ))
            })
        })
        .transpose()
    }

    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        self.lock(&state.jql)?;
        let needed: Vec<i64> = Rows::keys_needed(batch)
            .into_iter()
            .map(|id| id as i64)
            .collect();
        let keys: HashMap<u64, String> = if needed.is_empty() {
            HashMap::new()
        } else {
            self.call(move |client| {
                Ok(client
                    .query("SELECT id, key FROM issues WHERE id = ANY($1)", &[&needed])?
                    .iter()
                    .map(|row| (row.get::<_, i64>(0) as u64, row.get(1)))
                    .collect())
            })?
        };
        let commit = write::Commit {
            rows: Rows::build(batch, &self.names, &keys)?,
            issues: batch
                .issues
                .iter()
                .map(|i| (i.id as i64, i.key.clone()))
                .collect(),
            jql: state.jql.clone(),
            state_json: serde_json::to_string(state).unwrap_or_default(),
            now: match time_ms(crate::record::now_ms()) {
                crate::relational::SqlValue::Text(now) => now,
                _ => String::new(),
            },
        };
        self.call(move |client| {
            let mut attempt = 1;
            loop {
                let outcome = client.transaction().and_then(|mut tx| {
                    write::write(&mut tx, &commit)?;
                    tx.commit()
                });
                match outcome {
                    Err(e) if attempt < ATTEMPTS && is_retryable(&e) => {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(20 * attempt as u64));
                    }
                    other => return other,
                }
            }
        })
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        self.call(move |client| {
            Ok(client
                .query_opt(
                    "SELECT 1 FROM issues WHERE id = $1 AND deleted_at IS NULL",
                    &[&id],
                )?
                .is_some())
        })
    }

    fn census_begin(&mut self) -> Result<(), Error> {
        self.call(|client| {
            client.batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS present (id bigint PRIMARY KEY); TRUNCATE present;",
            )
        })
    }

    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error> {
        let ids: Vec<i64> = ids.iter().map(|id| *id as i64).collect();
        self.call(move |client| {
            client.execute(
                "INSERT INTO present (id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
                &[&ids],
            )?;
            Ok(())
        })
    }

    fn census_finish(&mut self, jql: &str, at_ms: i64) -> Result<Census, Error> {
        let jql = jql.to_owned();
        let at = match time_ms(at_ms) {
            crate::relational::SqlValue::Text(at) => at,
            _ => String::new(),
        };
        self.call(move |client| {
            let mut tx = client.transaction()?;
            tx.batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS gone (id bigint PRIMARY KEY); TRUNCATE gone;",
            )?;
            // What this query held and the census did not see: no longer this query's.
            tx.execute(
                "INSERT INTO gone (id) SELECT m.issue_id FROM sync_members m
                 WHERE m.jql = $1 AND NOT EXISTS (SELECT 1 FROM present p WHERE p.id = m.issue_id)",
                &[&jql],
            )?;
            tx.execute(
                "DELETE FROM sync_members WHERE jql = $1 AND issue_id IN (SELECT id FROM gone)",
                &[&jql],
            )?;
            // Gone from every query that held it: a tombstone, its worklogs and comments
            // with it.
            tx.execute(
                "DELETE FROM gone g WHERE EXISTS (SELECT 1 FROM sync_members m WHERE m.issue_id = g.id)
                    OR NOT EXISTS (SELECT 1 FROM issues i WHERE i.id = g.id AND i.deleted_at IS NULL)",
                &[],
            )?;
            let deleted = tx.execute(
                "UPDATE issues SET deleted_at = $1::text::timestamptz WHERE id IN (SELECT id FROM gone)",
                &[&at],
            )?;
            for table in ["worklogs", "comments"] {
                tx.execute(
                    &format!(
                        "UPDATE {table} SET deleted_at = $1::text::timestamptz
                         WHERE deleted_at IS NULL AND issue_id IN (SELECT id FROM gone)"
                    ),
                    &[&at],
                )?;
            }
            // What the census saw live is this query's from now on.
            tx.execute(
                "INSERT INTO sync_members (jql, issue_id)
                 SELECT $1, p.id FROM present p JOIN issues i ON i.id = p.id
                 WHERE i.deleted_at IS NULL ON CONFLICT DO NOTHING",
                &[&jql],
            )?;
            let absent = tx
                .query(
                    "SELECT p.id FROM present p LEFT JOIN issues i ON i.id = p.id
                     WHERE i.id IS NULL OR i.deleted_at IS NOT NULL ORDER BY p.id",
                    &[],
                )?
                .iter()
                .map(|row| row.get::<_, i64>(0) as u64)
                .collect();
            tx.batch_execute("TRUNCATE present; TRUNCATE gone;")?;
            tx.commit()?;
            Ok(Census {
                deleted: deleted as usize,
                absent,
            })
        })
    }

    fn issues_held(&mut self, jql: &str) -> Result<Option<u64>, Error> {
        let jql = jql.to_owned();
        self.call(move |client| {
            let n: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM sync_members m JOIN issues i ON i.id = m.issue_id
                     WHERE m.jql = $1 AND i.deleted_at IS NULL",
                    &[&jql],
                )?
                .get(0);
            Ok(Some(n as u64))
        })
    }

    fn newest_held(&mut self, jql: &str, n: usize) -> Result<Vec<(u64, i64)>, Error> {
        let (jql, n) = (jql.to_owned(), n as i64);
        self.call(move |client| {
            Ok(client
                .query(
                    "SELECT i.id, (EXTRACT(EPOCH FROM i.updated) * 1000)::bigint
                     FROM sync_members m JOIN issues i ON i.id = m.issue_id
                     WHERE m.jql = $1 AND i.deleted_at IS NULL ORDER BY i.updated DESC LIMIT $2",
                    &[&jql, &n],
                )?
                .iter()
                .map(|row| (row.get::<_, i64>(0) as u64, row.get(1)))
                .collect())
        })
    }

    fn set_fields(&mut self, fields: &[serde_json::Value]) -> Result<(), Error> {
        let (rows, names) = field_rows(fields);
        let ids: Vec<String> = names.keys().cloned().collect();
        self.call(move |client| {
            let mut tx = client.transaction()?;
            write::upsert(&mut tx, &schema::FIELDS, &rows)?;
            tx.execute("DELETE FROM fields WHERE NOT (id = ANY($1))", &[&ids])?;
            tx.commit()
        })?;
        self.names = names;
        Ok(())
    }
}

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
//!   or waits with `--wait`. A holder that is a sync of this host whose process has
//!   ended (killed mid-commit: the server ends its session once that statement is
//!   done) is waited for, up to 30 s, so a sync run again at once goes on.
//! - **Bulk writes**: one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE` per
//!   table per commit, each statement prepared once per connection; a commit that meets a
//!   deadlock or a serialization failure (two workers upserting the same user) is run
//!   again, whole.
//! - **One commit in flight**: [`Sink::commit`] hands the page to the sink's thread and
//!   returns, so the sync reads the next page while the database writes this one; every
//!   later call waits for it first, and its failure is that call's (the run's last one
//!   is waited for by [`Sink::finish_run`]). The session commits without waiting for the
//!   server's WAL flush: data and state are one transaction, so a server crash loses only
//!   whole last commits, which the next run reads again.
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

/// The connection, on the sink's thread, with the statements prepared on it.
struct Conn {
    client: postgres::Client,
    statements: write::Statements,
}

impl Conn {
    /// The rows of `sql` (prepared once) with `params`.
    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = write::prepared(&mut self.client, &mut self.statements, sql)?;
        self.client.query(&statement, params)
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// Where a job's outcome arrives.
type Answer<R> = mpsc::Receiver<Result<R, Failure>>;

/// Why a job failed: the database, or the sync's own reading of what it was given.
enum Failure {
    Database(postgres::Error),
    Sync(Error),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Failure::Database(error)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Sync(error)
    }
}

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
    /// The commit in flight: the sync reads its next page while the database writes
    /// this one; every later call waits for it first (so at most one is in flight, and
    /// its failure is the next call's).
    pending: Option<Answer<()>>,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSink")
            .field("target", &self.target.shown())
            .finish_non_exhaustive()
    }
}

/// The session's settings. Commits need not wait for the server's WAL flush
/// (`synchronous_commit = off`): a page's data and its state are one transaction, so a
/// server crash can only lose the last commits whole, which the next run reads again.
const SESSION: &str = "SET TIME ZONE 'UTC'; SET synchronous_commit = off;";

/// Compresses the large JSON values with lz4 where the server has it (PostgreSQL 14 and
/// later, built with lz4): several times cheaper than the default pglz for the same
/// bytes. Refused quietly elsewhere.
const LZ4: &str = "SET default_toast_compression = 'lz4'";

/// The session holding the lock of the query `$1`: its `application_name` and since when
/// (UTC). A `bigint` advisory key is split into `classid` (high half) and `objid`.
const HOLDER: &str = "SELECT a.application_name, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
     LIMIT 1";

/// The live issues the query `$1` holds.
const HELD: &str = "SELECT COUNT(*) FROM sync_members m JOIN issues i ON i.id = m.issue_id
     WHERE m.jql = $1 AND i.deleted_at IS NULL";

/// Attempts of a commit that meets a deadlock or a serialization failure.
const ATTEMPTS: usize = 5;

fn is_retryable(error: &postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// How long a sync waits for the session of a killed sync of its query (on this host)
/// to be ended by the server: the statement that session was running when its process
/// died (a commit of one page) runs to its end first.
const ORPHANED_WAIT: Duration = Duration::from_secs(30);

/// What a sync calls itself to the server: `application_name`'s prefix.
const APPLICATION: &str = "jira-ops sync (process ";

/// This machine's name, when it has one.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// What this process calls itself to the server (shown to a second sync it refuses).
fn application_name() -> String {
    let host = host_name().map_or_else(String::new, |h| format!(" on {h}"));
    format!("{APPLICATION}{}{host})", std::process::id())
}

/// Whether `application_name` is a sync of this host whose process no longer runs
/// (read from `/proc`; where there is none, no holder is known to have ended).
fn process_ended_here(application_name: &str) -> bool {
    let Some((pid, host)) = application_name
        .strip_prefix(APPLICATION)
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|rest| rest.split_once(" on "))
    else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host_name().as_deref() == Some(host)
        && pid.parse::<u32>().is_ok()
        && proc.join("self").exists()
        && !proc.join(pid).exists()
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
        let connector = target.clone();
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel::<Result<(), Error>>();
        let thread = std::thread::Builder::new()
            .name("jira-sync-postgres".into())
            .spawn(move || {
                let mut client = match connector.connect(&config) {
                    Ok(client) => client,
                    Err(connect::ConnectError::Setup(message)) => {
                        let _ = ready.send(Err(Error::Sync(message)));
                        return;
                    }
                    Err(connect::ConnectError::Database(e)) => {
                        let _ = ready.send(Err(Error::Sync(format!(
                            "sync: cannot connect to {shown}: {} (check the host, port, user and database; the password comes from the URL, PGPASSWORD or ~/.pgpass; TLS from sslmode and sslrootcert)",
                            describe(&e)
                        ))));
                        return;
                    }
                };
                let schema = client
                    .batch_execute(SESSION)
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
                if outcome.is_ok() && client.batch_execute(LZ4).is_err() {
                    tracing::debug!("the server has no lz4 compression; its default stays");
                }
                let failed = outcome.is_err();
                let _ = ready.send(outcome);
                if failed {
                    return;
                }
                let mut conn = Conn {
                    client,
                    statements: write::Statements::new(),
                };
                for job in inbox {
                    job(&mut conn);
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
            pending: None,
        };
        let rows: Vec<(String, String)> = sink.call(|conn: &mut Conn| {
            let client = &mut conn.client;
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

    /// Hands `job` to the connection's thread; its answer comes on the receiver.
    fn send<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> Result<R, Failure> + Send + 'static,
    ) -> Result<Answer<R>, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| Error::Sync("sync: the database connection is closed".into()))?;
        jobs.send(Box::new(move |conn: &mut Conn| {
            let _ = reply.send(job(conn));
        }))
        .map_err(|_| {
            Error::Sync(format!(
                "sync: the connection to {} ended",
                self.target.shown()
            ))
        })?;
        Ok(answer)
    }

    /// Waits for the answer of a job [`PostgresSink::send`] handed over.
    fn wait<R>(&self, answer: Answer<R>) -> Result<R, Error> {
        let outcome = crate::memory::blocking(|| answer.recv()).map_err(|_| {
            Error::Sync(format!(
                "sync: the connection to {} ended",
                self.target.shown()
            ))
        })?;
        outcome.map_err(|failure| match failure {
            Failure::Sync(error) => error,
            Failure::Database(e) => Error::Sync(format!(
                "sync: {} failed: {} (nothing past the last commit was written)",
                self.target.shown(),
                describe(&e)
            )),
        })
    }

    /// Waits for the commit in flight, if any: its failure is this call's.
    fn settle(&mut self) -> Result<(), Error> {
        match self.pending.take() {
            Some(answer) => self.wait(answer),
            None => Ok(()),
        }
    }

    /// Runs `job` on the connection's thread (after the commit in flight) and returns
    /// what it returned.
    fn call<R: Send + 'static>(
        &mut self,
        job: impl FnOnce(&mut Conn) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, Error> {
        self.settle()?;
        let answer = self.send(job)?;
        self.wait(answer)
    }

    /// Takes the lock of `jql`, waiting up to the sink's patience, or names its holder.
    ///
    /// A holder that is a sync of this host whose process has ended is an orphaned
    /// session: the server ends it (and lets go of the lock) once the statement it was
    /// running when its process died is done. That is waited for, up to
    /// [`ORPHANED_WAIT`], so a sync run again right after one was killed goes on.
    fn lock(&mut self, jql: &str) -> Result<(), Error> {
        if self.locked.contains(jql) {
            return Ok(());
        }
        let started = Instant::now();
        let mut told = false;
        loop {
            let owned = jql.to_owned();
            let got: bool = self.call(move |conn: &mut Conn| {
                let client = &mut conn.client;
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
            let holder = self.holder(jql)?;
            let orphaned = holder
                .as_ref()
                .is_some_and(|(name, _)| process_ended_here(name));
            let patience = if orphaned {
                self.wait.max(ORPHANED_WAIT)
            } else {
                self.wait
            };
            if started.elapsed() >= patience {
                return Err(self.refusal(jql, holder));
            }
            if orphaned && !told {
                told = true;
                tracing::warn!(
                    holder = holder.as_ref().map_or("", |(name, _)| name.as_str()),
                    "the query is held by the session of a sync whose process has ended; waiting for the server to end that session"
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The session holding the lock of `jql`: its `application_name` and since when;
    /// none once it has let go.
    fn holder(&mut self, jql: &str) -> Result<Option<(String, String)>, Error> {
        let owned = jql.to_owned();
        self.call(move |conn: &mut Conn| {
            let client = &mut conn.client;
            Ok(client
                .query_opt(HOLDER, &[&owned])?
                .map(|row| (row.get(0), row.get(1))))
        })
    }

    /// The error of a sync that found its query held by `holder` past its patience.
    fn refusal(&self, jql: &str, holder: Option<(String, String)>) -> Error {
        let holder = holder.map_or_else(
            || "another session".to_owned(),
            |(name, since)| format!("{name}, connected since {since}"),
        );
        let waited = if self.wait.is_zero() {
            ""
        } else {
            " (it waited as long as allowed)"
        };
        Error::Sync(format!(
            "sync: the query {jql:?} in {} is being synced by {holder}: two syncs of one query would each read the whole window, so this one stops{waited}; run it again once that one has ended, or wait for it with --wait SECS (syncs of other queries into the same database run side by side)",
            self.target.shown()
        ))
    }
}

/// A driver error with the server's own words when there are some, else the error and
/// its causes (a TLS handshake says why the certificate was refused).
fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Drop for PostgresSink {
    fn drop(&mut self) {
        if let Err(error) = self.settle() {
            tracing::warn!(%error, "the last commit into PostgreSQL failed");
        }
        // The queries' locks are given back before the sink is gone, so that a sync that
        // starts right after finds them free: the server frees a closed session's locks
        // only once it has seen the session end, a moment later.
        if !self.locked.is_empty() {
            let unlocked = self.call(|conn: &mut Conn| {
                conn.client
                    .batch_execute("SELECT pg_advisory_unlock_all()")
                    .map_err(Failure::from)
            });
            if let Err(error) = unlocked {
                tracing::debug!(%error, "the queries' locks go with the session instead");
            }
        }
        // Closing the channel ends the thread, which closes the session.
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
        let json: Option<String> = self.call(move |conn: &mut Conn| {
            let client = &mut conn.client;
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
        self.settle()?;
        self.lock(&state.jql)?;
        // The rows are made on the connection's thread, beside the sync's next reads.
        let batch = batch.clone();
        let names = self.names.clone();
        let jql = state.jql.clone();
        let state_json = serde_json::to_string(state).unwrap_or_default();
        let answer = self.send(move |conn: &mut Conn| {
            // The keys the sink holds: for children of issues not in the batch, and to
            // notice an issue whose key changed (moved to another project).
            let asked: Vec<i64> = Rows::keys_needed(&batch)
                .into_iter()
                .chain(batch.issues.iter().map(|i| i.id))
                .map(|id| id as i64)
                .collect();
            let keys: HashMap<u64, String> = if asked.is_empty() {
                HashMap::new()
            } else {
                conn.query("SELECT id, key FROM issues WHERE id = ANY($1)", &[&asked])?
                    .iter()
                    .map(|row| (row.get::<_, i64>(0) as u64, row.get(1)))
                    .collect()
            };
            let renamed: Vec<(i64, String)> = batch
                .issues
                .iter()
                .filter(|i| keys.get(&i.id).is_some_and(|held| *held != i.key))
                .map(|i| (i.id as i64, i.key.clone()))
                .collect();
            let commit = write::Commit {
                rows: Rows::build(&batch, &names, &keys)?,
                issues: batch.issues.iter().map(|i| i.id as i64).collect(),
                renamed,
                jql,
                state_json,
                now: match time_ms(crate::record::now_ms()) {
                    crate::relational::SqlValue::Text(now) => now,
                    _ => String::new(),
                },
            };
            drop(batch);
            let Conn { client, statements } = conn;
            let mut attempt = 1;
            loop {
                let outcome = client.transaction().and_then(|mut tx| {
                    write::write(&mut tx, statements, &commit)?;
                    tx.commit()
                });
                match outcome {
                    Err(e) if attempt < ATTEMPTS && is_retryable(&e) => {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(20 * attempt as u64));
                    }
                    other => return other.map_err(Failure::from),
                }
            }
        })?;
        self.pending = Some(answer);
        Ok(())
    }

    fn finish_run(&mut self) -> Result<(), Error> {
        self.settle()
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        self.call(move |conn: &mut Conn| {
            Ok(!conn
                .query(
                    "SELECT 1 FROM issues WHERE id = $1 AND deleted_at IS NULL",
                    &[&id],
                )?
                .is_empty())
        })
    }

    fn held_of(&mut self, ids: &[u64]) -> Result<std::collections::HashSet<u64>, Error> {
        let ids: Vec<i64> = ids.iter().map(|id| *id as i64).collect();
        self.call(move |conn: &mut Conn| {
            Ok(conn
                .query(
                    "SELECT id FROM issues WHERE id = ANY($1) AND deleted_at IS NULL",
                    &[&ids],
                )?
                .iter()
                .map(|row| row.get::<_, i64>(0) as u64)
                .collect())
        })
    }

    fn worklogs_held(&mut self, issues: &[u64]) -> Result<Vec<(u64, u64)>, Error> {
        let issues: Vec<i64> = issues.iter().map(|id| *id as i64).collect();
        self.call(move |conn: &mut Conn| {
            Ok(conn
                .query(
                    "SELECT issue_id, id FROM worklogs WHERE issue_id = ANY($1) AND deleted_at IS NULL",
                    &[&issues],
                )?
                .iter()
                .map(|row| (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
                .collect())
        })
    }

    fn census_begin(&mut self) -> Result<(), Error> {
        self.call(|conn: &mut Conn| {
            let client = &mut conn.client;
            Ok(client.batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS present (id bigint PRIMARY KEY); TRUNCATE present;",
            )?)
        })
    }

    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error> {
        let ids: Vec<i64> = ids.iter().map(|id| *id as i64).collect();
        self.call(move |conn: &mut Conn| {
            let client = &mut conn.client;
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
        self.call(move |conn: &mut Conn| {
            let client = &mut conn.client;
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
        self.call(move |conn: &mut Conn| {
            let client = &mut conn.client;
            let n: i64 = client.query_one(HELD, &[&jql])?.get(0);
            Ok(Some(n as u64))
        })
    }

    fn newest_held(&mut self, jql: &str, n: usize) -> Result<Vec<(u64, i64)>, Error> {
        let (jql, n) = (jql.to_owned(), n as i64);
        self.call(move |conn: &mut Conn| {
            let client = &mut conn.client;
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
        self.call(move |conn: &mut Conn| {
            let client = &mut conn.client;
            let mut tx = client.transaction()?;
            write::upsert(
                &mut tx,
                &mut write::Statements::new(),
                &schema::FIELDS,
                &rows,
            )?;
            tx.execute("DELETE FROM fields WHERE NOT (id = ANY($1))", &[&ids])?;
            Ok(tx.commit()?)
        })?;
        self.names = names;
        Ok(())
    }
}

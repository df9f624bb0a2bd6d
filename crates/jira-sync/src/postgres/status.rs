//! What a PostgreSQL sink holds and what its last runs did (`jira-ops sync status`), read
//! in one read-only transaction beside any sync writing it; the syncs holding a query
//! now, from the server's lock table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::connect::ConnectError;
use super::{Target, describe};
use crate::relational::schema::SCHEMA_VERSION;
use crate::{Error, QueryStatus, SinkStatus, SyncState};

/// The status of the PostgreSQL sink at `url`.
pub fn postgres_status(url: &str) -> Result<SinkStatus, Error> {
    let target = Target::parse(url)?;
    let shown = target.shown().to_owned();
    let failed = |e: ConnectError| match e {
        ConnectError::Setup(message) => Error::Sync(message),
        ConnectError::Database(e) => Error::Sync(format!(
            "sync status: {shown} does not read: {}",
            describe(&e)
        )),
    };
    // The driver runs a runtime of its own: off the caller's.
    std::thread::scope(|scope| {
        scope
            .spawn(|| read(&target).map_err(failed))
            .join()
            .map_err(|_| Error::Sync("sync status: the database thread failed".into()))?
    })?
}

fn read(target: &Target) -> Result<Result<SinkStatus, Error>, ConnectError> {
    let mut client = target.connect(&target.config)?;
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(Err(Error::Sync(format!(
            "sync status: {} holds no jira-ops sync (no schema_version table); check the URL",
            target.shown()
        ))));
    }
    let format: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
        .get(0);
    if format != SCHEMA_VERSION {
        return Ok(Err(Error::Sync(format!(
            "sync status: {} holds schema version {format}, which this jira-ops ({SCHEMA_VERSION}) does not read",
            target.shown()
        ))));
    }
    let mut counts = BTreeMap::new();
    for (name, sql) in crate::status::COUNTS {
        let n: i64 = tx.query_one(sql, &[])?.get(0);
        counts.insert(name.to_owned(), n.max(0) as u64);
    }
    let mut queries = Vec::new();
    let mut holders = Vec::new();
    let states = tx.query("SELECT jql, json::text FROM sync_state ORDER BY jql", &[])?;
    for row in states {
        let (jql, json): (String, String) = (row.get(0), row.get(1));
        let Ok(state) = serde_json::from_str::<SyncState>(&json) else {
            return Ok(Err(Error::Sync(format!(
                "sync status: the state of {jql:?} in {} does not read; a sync of it with --full starts it over",
                target.shown()
            ))));
        };
        let issues: i64 = tx.query_one(super::HELD, &[&jql])?.get(0);
        let holder = tx.query_opt(super::HOLDER, &[&jql])?;
        if let Some(holder) = holder {
            let (name, since): (String, String) = (holder.get(0), holder.get(1));
            holders.push(format!("{name} since {since} (query {jql:?})"));
        }
        queries.push(QueryStatus {
            state,
            issues: Some(issues.max(0) as u64),
        });
    }
    tx.commit()?;
    Ok(Ok(SinkStatus {
        kind: "postgres",
        path: PathBuf::from(target.shown()),
        format: format as u32,
        counts,
        queries,
        in_use_by: (!holders.is_empty()).then(|| holders.join("; ")),
    }))
}

//! The commands about a sink itself, not the site: `jira-ops sync status --to DEST` (what
//! it holds and what its last runs did, read from the sink alone:
//! [`jira_sync::SinkStatus`]) and `jira-ops sync migrate --to DEST` (an older schema
//! brought to this version's) and `jira-ops sync compact --to DIR` (JSON Lines rewritten
//! to one line per row).

use jira_sync::{QueryStatus, RunRecord, SinkStatus};
use serde_json::{Value, json};

use super::sync::Destination;
use crate::error::{CliError, CliResult, Code};
use crate::output;

pub fn run(destination: &Destination, json: bool) -> CliResult {
    let status = match destination {
        Destination::Sqlite(path) => jira_sync::sqlite_status(path),
        Destination::Jsonl(dir) => jira_sync::jsonl_status(dir),
        Destination::Postgres(url, _) => jira_sync::postgres_status(url),
    }
    .map_err(|e| CliError::usage(e.to_string()))?;
    if json {
        output::outln!("{}", to_json(&status));
    } else {
        output::outln!("{}", render(&status));
    }
    Ok(Code::Ok)
}

/// `sync migrate`: brings a sink to this version's schema (a database) or layout (JSON
/// Lines).
pub fn migrate(destination: &Destination, wait_secs: u64) -> CliResult {
    let wait = std::time::Duration::from_secs(wait_secs);
    match destination {
        Destination::Sqlite(path) => {
            let before = jira_sync::SqliteSink::migrate(path, wait)
                .map_err(|e| CliError::failure(e.to_string()))?;
            let now = jira_sync::relational::schema::SCHEMA_VERSION;
            if before == now {
                crate::notes::say!(
                    "{} is at schema version {now} already; nothing to do",
                    path.display()
                );
            } else {
                crate::notes::say!(
                    "{} migrated from schema version {before} to {now} (docs/sync.md describes its tables)",
                    path.display()
                );
            }
            Ok(Code::Ok)
        }
        Destination::Jsonl(dir) => {
            // Opening migrates a directory of an older layout in place.
            let before = jira_sync::jsonl_status(dir)
                .map_err(|e| CliError::usage(e.to_string()))?
                .format;
            let sink = jira_sync::JsonlSink::open_waiting(dir, wait)
                .map_err(|e| CliError::failure(e.to_string()))?;
            let now = sink.manifest().format;
            if before == now {
                crate::notes::say!(
                    "{} is at JSON Lines format {now} already; nothing to do",
                    dir.display()
                );
            } else {
                crate::notes::say!(
                    "{} migrated from JSON Lines format {before} to {now}: a file per table (docs/sync.md)",
                    dir.display()
                );
            }
            Ok(Code::Ok)
        }
        Destination::Postgres(url, target) => {
            // Every PostgreSQL sink was made at this schema, the first to hold one: what
            // is left is to check it is one (a status reads it, or says what it is not).
            jira_sync::postgres_status(url).map_err(|e| CliError::failure(e.to_string()))?;
            crate::notes::say!(
                "{} is at schema version {} already; nothing to do",
                target.shown(),
                jira_sync::relational::schema::SCHEMA_VERSION
            );
            Ok(Code::Ok)
        }
    }
}

/// `sync compact`: a JSON Lines sink rewritten to one line per row.
pub fn compact(destination: &Destination, wait_secs: u64) -> CliResult {
    let Destination::Jsonl(dir) = destination else {
        crate::notes::say!(
            "{} is a database, which holds one row per entity already; nothing to compact",
            destination.shown()
        );
        return Ok(Code::Ok);
    };
    let failure = |e: jira_sync::Error| CliError::failure(e.to_string());
    if !dir.join("manifest.json").is_file() {
        return Err(CliError::usage(format!(
            "sync compact: {} holds no JSON Lines sink (no manifest.json); check the path",
            dir.display()
        )));
    }
    let mut sink =
        jira_sync::JsonlSink::open_waiting(dir, std::time::Duration::from_secs(wait_secs))
            .map_err(failure)?;
    let bytes = |sink: &jira_sync::JsonlSink| sink.manifest().bytes.values().sum::<u64>();
    let before = bytes(&sink);
    if sink.compact().map_err(failure)? {
        crate::notes::say!(
            "{} compacted: {} bytes, from {before}; each file holds one line per row",
            dir.display(),
            bytes(&sink)
        );
    } else {
        crate::notes::say!(
            "{} holds one line per row already; nothing to compact",
            dir.display()
        );
    }
    Ok(Code::Ok)
}

/// An instant as Jira writes times (UTC), or `-`.
fn when(ms: Option<i64>) -> String {
    ms.and_then(jira_model::JiraTimestamp::from_unix_millis)
        .map_or_else(|| "-".to_owned(), |t| t.to_string())
}

fn run_json(run: &RunRecord) -> Value {
    json!({
        "started": when(Some(run.started_ms)),
        "seconds": run.took_ms as f64 / 1000.0,
        "issues_written": run.issues_written,
        "issues_unchanged": run.issues_unchanged,
        "issues_deleted": run.issues_deleted,
        "requests": run.requests,
        "strategy": run.strategy,
    })
}

fn query_json(query: &QueryStatus) -> Value {
    let state = &query.state;
    json!({
        "jql": state.jql,
        "issues": query.issues,
        "mark": state.mark_ms.map(|ms| when(Some(ms))),
        "mark_ms": state.mark_ms,
        "census": state.census_ms.map(|ms| when(Some(ms))),
        "runs": state.runs,
        "unfinished": state.window.is_some(),
        "worklogs_without_feed": state.worklogs_without_feed,
        "last_runs": state.last_runs.iter().map(run_json).collect::<Vec<_>>(),
    })
}

/// The status as one JSON document.
fn to_json(status: &SinkStatus) -> Value {
    json!({
        "kind": status.kind,
        "path": status.path.display().to_string(),
        "format": status.format,
        "counts": status.counts,
        "in_use_by": status.in_use_by,
        "queries": status.queries.iter().map(query_json).collect::<Vec<_>>(),
    })
}

/// The status for people: the sink, its counts, then each query and its last runs.
fn render(status: &SinkStatus) -> String {
    let count = |name: &str| status.counts.get(name).copied().unwrap_or(0);
    let mut text = format!(
        "{} sink {} (format {})\n",
        status.kind,
        status.path.display(),
        status.format
    );
    if let Some(holder) = &status.in_use_by {
        text.push_str(&format!("being synced now by {holder}\n"));
    }
    text.push_str(&format!(
        "{} live, {} deleted; {} history entries, {} comments, {} ({} deleted)\n",
        output::count(count("issues"), "issue"),
        count("issues_deleted"),
        count("history_entries"),
        count("comments"),
        output::count(count("worklogs"), "worklog"),
        count("worklogs_deleted"),
    ));
    if status.queries.is_empty() {
        text.push_str("no query has finished a commit here yet\n");
    }
    for query in &status.queries {
        let state = &query.state;
        text.push_str(&format!("\nquery {:?}", state.jql));
        if let Some(issues) = query.issues {
            text.push_str(&format!(": {}", output::count(issues, "issue")));
        }
        text.push_str(&format!(
            "\n  read up to {}; {} ended; last census {}\n",
            when(state.mark_ms),
            output::count(state.runs, "run"),
            when(state.census_ms),
        ));
        if state.window.is_some() {
            text.push_str("  a run was interrupted: the next one goes on with its window\n");
        }
        if state.worklogs_without_feed {
            text.push_str(
                "  the site has no worklog feed: each run reads its issues' worklogs from the issues (`--full` asks the site again)\n",
            );
        }
        if state.last_runs.is_empty() {
            continue;
        }
        let mut table = output::table(&[
            "started",
            "seconds",
            "written",
            "unchanged",
            "deleted",
            "requests",
            "way",
        ]);
        for run in state.last_runs.iter().rev() {
            table.add_row(output::table_row([
                when(Some(run.started_ms)),
                format!("{:.1}", run.took_ms as f64 / 1000.0),
                run.issues_written.to_string(),
                run.issues_unchanged.to_string(),
                run.issues_deleted.to_string(),
                run.requests.to_string(),
                run.strategy.clone().unwrap_or_else(|| "-".into()),
            ]));
        }
        text.push_str(&format!("{table}\n"));
    }
    text.trim_end().to_owned()
}

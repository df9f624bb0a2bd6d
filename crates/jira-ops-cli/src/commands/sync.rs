//! `jira-ops sync`: the facade's sync into a SQLite file, with a summary.

use std::time::{Duration, Instant};

use jira_client::sync::{SqliteSink, SyncOptions};

use crate::cli::{Global, SyncArgs};
use crate::error::{CliError, CliResult, Code};
use crate::signals;

pub async fn run(global: &Global, args: SyncArgs) -> CliResult {
    let Some(path) = args.to.strip_prefix("sqlite:").filter(|p| !p.is_empty()) else {
        return Err(CliError::usage(format!(
            "--to {:?} is not a destination jira-ops knows: use sqlite:PATH (e.g. --to sqlite:jira.db)",
            args.to
        )));
    };
    if args.jql.trim().is_empty() {
        return Err(CliError::usage(
            "--jql is empty: give a bounded query, e.g. --jql 'project = PROJ'",
        ));
    }
    if args.jql.to_ascii_lowercase().contains("order by") {
        return Err(CliError::usage(format!(
            "--jql {:?} has an ORDER BY: leave it out, the sync orders by updated itself",
            args.jql
        )));
    }
    let settings = super::settings(global)?;
    let client = settings.client().await?;
    let mut sink = SqliteSink::open(path).map_err(|e| CliError::failure(e.to_string()))?;
    let options = SyncOptions {
        changelogs: !args.no_changelog,
        comments: !args.no_comments,
        worklogs: !args.no_worklogs,
        census: !args.no_census,
        settle: Duration::from_secs(args.settle_secs),
        full: args.full,
        ..SyncOptions::new(args.jql.clone())
    };
    let started = Instant::now();
    // Every commit is durable: a signal ends the run between pages, and the next run
    // goes on from there.
    let report = tokio::select! {
        report = client.sync(&mut sink, &options) => report,
        code = signals::wait() => {
            eprintln!(
                "jira-ops: interrupted; everything committed to {path} is kept, and the same command goes on from there"
            );
            return Ok(code);
        }
    };
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            super::refused_credentials(&client)?;
            return Err(CliError::failure(format!(
                "{error} (what was committed to {path} is kept; run the same command to resume)"
            )));
        }
    };
    if args.json {
        let summary = serde_json::json!({
            "destination": args.to,
            "jql": args.jql,
            "issues_written": report.issues_written,
            "issues_unchanged": report.issues_unchanged,
            "history_entries": report.history_entries,
            "comments": report.comments,
            "worklogs": report.worklogs,
            "worklogs_deleted": report.worklogs_deleted,
            "issues_deleted": report.issues_deleted,
            "requests": report.requests,
            "commits": report.commits,
            "mark_ms": report.mark_ms,
            "missing": report.missing,
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{summary}");
    } else if !global.quiet {
        eprintln!(
            "synced {} issues into {path} ({} unchanged, {} marked deleted, {} history entries, {} comments, {} worklogs, {} requests, {:.1} s)",
            report.issues_written,
            report.issues_unchanged,
            report.issues_deleted,
            report.history_entries,
            report.comments,
            report.worklogs,
            report.requests,
            started.elapsed().as_secs_f64()
        );
    }
    for missing in &report.missing {
        eprintln!(
            "jira-ops: issue {missing} was in the search but could not be fetched (deleted meanwhile?)"
        );
    }
    Ok(Code::Ok)
}

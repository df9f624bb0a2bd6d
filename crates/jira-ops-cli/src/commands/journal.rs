//! `jira-ops journal list | show RUN | forget RUN`: what the write journal of the site
//! holds ([`jira_apply::runs`]). Reading needs no credentials and no network; forgetting
//! takes the journal from any run (a run writing it makes `forget` wait for nothing: it is
//! refused, naming the holder).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use jira_apply::runs::{self, RunSummary};
use jira_apply::{Journal, JournalRecord};
use serde_json::json;

use crate::cli::{Format, Global, JournalCommand};
use crate::error::{CliError, CliResult, Code};

pub fn run(global: &Global, command: JournalCommand) -> CliResult {
    let path = journal_path(global)?;
    let read = || Journal::read_records(&path).map_err(|e| CliError::failure(e.to_string()));
    match command {
        JournalCommand::List { format } => {
            let records = read()?;
            let listed = runs::list(&records);
            let runs: Vec<_> = listed.iter().map(run_json).collect();
            match format.resolve() {
                Format::Json => {
                    print_json(&json!({"journal": path.display().to_string(), "runs": runs}))?;
                }
                Format::Table if listed.is_empty() => crate::notes::say!(
                    "jira-ops: the journal {} holds no runs (apply and create record theirs there)",
                    path.display()
                ),
                Format::Table => print_runs(&listed)?,
                other => crate::records::write(other, RUN_COLUMNS, &runs)?,
            }
            Ok(Code::Ok)
        }
        JournalCommand::Show { run, format } => {
            let records = read()?;
            let summary = find(&records, &run, &path)?;
            let lines = runs::lines(&records, &run);
            let line_records: Vec<_> = lines.iter().map(line_json).collect();
            match format.resolve() {
                Format::Json => {
                    print_json(&json!({"run": run_json(&summary), "lines": line_records}))?;
                }
                Format::Table => print_lines(&summary, &lines)?,
                other => crate::records::write(other, LINE_COLUMNS, &line_records)?,
            }
            Ok(Code::Ok)
        }
        JournalCommand::Forget { run, yes } => {
            let summary = find(&read()?, &run, &path)?;
            let what = format!(
                "forgetting run {run} ({} of {}) makes the {} lines it wrote new writes to the next run of its file: running that file again sends them again",
                summary.job,
                when(summary.started_at_ms),
                summary.lines.values().sum::<usize>()
            );
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(CliError::usage(format!(
                        "{what}; refusing without a terminal to ask on: add --yes (nothing was changed)"
                    )));
                }
                if !super::confirm(&format!("{what}. Forget it?"))? {
                    return Err(CliError::usage("not confirmed; nothing was changed"));
                }
            }
            let mut journal = Journal::open(&path).map_err(|e| CliError::failure(e.to_string()))?;
            let lines = journal
                .forget(&run)
                .map_err(|e| CliError::failure(e.to_string()))?;
            crate::notes::say!(
                "jira-ops: forgot run {run}: {lines} line{} it wrote will be sent again by the next run of its file",
                if lines == 1 { "" } else { "s" }
            );
            Ok(Code::Ok)
        }
    }
}

/// The journal of the configured site (`journal_dir`, one file per site).
fn journal_path(global: &Global) -> Result<PathBuf, CliError> {
    let loaded = super::settings(global)?;
    let site = loaded.require_site()?;
    let key = jira_model::SiteKey::from_url(&site)
        .map_err(|e| CliError::usage(format!("--site: {e}")))?;
    Ok(loaded.settings.journal_path(&key))
}

/// The run named `name`, or a usage error listing the ones there are.
pub(super) fn find(
    records: &[JournalRecord],
    name: &str,
    path: &std::path::Path,
) -> Result<RunSummary, CliError> {
    let listed = runs::list(records);
    if let Some(found) = listed.iter().find(|r| r.name == name) {
        return Ok(found.clone());
    }
    let known: Vec<&str> = listed
        .iter()
        .rev()
        .take(5)
        .map(|r| r.name.as_str())
        .collect();
    Err(CliError::usage(format!(
        "no run {name:?} in the journal {}: {}",
        path.display(),
        if known.is_empty() {
            "it holds none".to_owned()
        } else {
            format!(
                "the latest are {} (`jira-ops journal list` shows all)",
                known.join(", ")
            )
        }
    )))
}

/// The columns of `journal list` in CSV.
const RUN_COLUMNS: &[&str] = &["name", "job", "started", "last_write", "finished", "lines"];

/// The columns of `journal show` in CSV.
const LINE_COLUMNS: &[&str] = &[
    "line",
    "state",
    "key",
    "issue_id",
    "target_status",
    "message",
    "at",
];

fn run_json(run: &RunSummary) -> serde_json::Value {
    json!({
        "name": run.name,
        "job": run.job,
        "file_digest": run.file_digest,
        "started": when(run.started_at_ms),
        "last_write": when(run.last_at_ms),
        "finished": run.finished,
        "lines": run.lines,
    })
}

fn line_json(record: &JournalRecord) -> serde_json::Value {
    let state = serde_json::to_value(record.state).unwrap_or_default();
    json!({
        "line": record.line,
        "state": state,
        "key": record.key,
        "issue_id": record.issue_id,
        "target_status": record.target,
        "message": record.message,
        "at": when(record.at_ms),
    })
}

/// A journal time as Jira writes times (UTC).
fn when(ms: i64) -> String {
    jira_model::JiraTimestamp::from_unix_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.to_string())
}

fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let mut out = crate::destination::stdout();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(|e| CliError::failure(format!("could not write to stdout: {e}")))?;
    writeln!(out)?;
    Ok(())
}

fn print_runs(listed: &[RunSummary]) -> Result<(), CliError> {
    let mut table = crate::output::table(&["RUN", "JOB", "STARTED", "STATE", "LINES"]);
    for run in listed {
        let lines: Vec<String> = run.lines.iter().map(|(s, n)| format!("{n} {s}")).collect();
        table.add_row(crate::output::table_row([
            run.name.clone(),
            run.job.clone(),
            when(run.started_at_ms),
            if run.finished {
                "finished"
            } else {
                "unfinished"
            }
            .to_owned(),
            lines.join(", "),
        ]));
    }
    writeln!(crate::destination::stdout(), "{table}")?;
    Ok(())
}

fn print_lines(run: &RunSummary, lines: &[JournalRecord]) -> Result<(), CliError> {
    let mut out = crate::destination::stdout();
    writeln!(
        out,
        "run {} ({}, started {}, {})",
        run.name,
        run.job,
        when(run.started_at_ms),
        if run.finished {
            "finished"
        } else {
            "unfinished: the next run of its file goes on with it"
        }
    )?;
    let mut table = crate::output::table(&["LINE", "STATE", "ISSUE", "MESSAGE"]);
    for line in lines {
        let state = serde_json::to_value(line.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        table.add_row(crate::output::table_row([
            line.line.map_or_else(String::new, |n| n.to_string()),
            state,
            line.key.clone().unwrap_or_default(),
            crate::output::terminal_safe(line.message.as_deref().unwrap_or("")).into_owned(),
        ]));
    }
    writeln!(out, "{table}")?;
    Ok(())
}

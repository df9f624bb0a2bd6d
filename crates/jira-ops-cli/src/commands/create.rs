//! `jira-ops create --from-file F.jsonl`: bulk create, one result line per input line.

use jira_client::CreateError;
use serde_json::json;

use crate::cli::{CreateArgs, Global};
use crate::config::CacheUse;
use crate::error::{CliError, CliResult, Code};
use crate::{output, signals};

/// The issues of a JSON Lines input with their line numbers
/// ([`jira_apply::parse_creates`]); any bad line stops everything before a request is sent.
pub fn read_issues(
    reader: impl std::io::Read,
    source: &str,
) -> Result<Vec<(usize, jira_model::IssueUpdate)>, CliError> {
    jira_apply::parse_creates(reader).map_err(|error| match error.line {
        0 => CliError::usage(format!("{source}: {}", error.message)),
        line => CliError::usage(format!("{source}, line {line}: {}", error.message)),
    })
}

pub async fn run(global: &Global, args: CreateArgs) -> CliResult {
    let started = std::time::Instant::now();
    let source = args.from_file.display().to_string();
    let issues = if source == "-" {
        read_issues(std::io::stdin().lock(), "stdin")?
    } else {
        let file = std::fs::File::open(&args.from_file)
            .map_err(|e| CliError::usage(format!("--from-file {source}: {e}")))?;
        read_issues(file, &source)?
    };
    let settings = super::settings(global)?;
    let client = settings.client(CacheUse::Writes).await?;
    let journal_path = settings.settings.journal_path(client.site_key());
    let mut journal = super::apply::open_journal(&journal_path, args.wait)?;
    let contents: Vec<&jira_model::IssueUpdate> = issues.iter().map(|(_, issue)| issue).collect();
    let digest = jira_apply::runs::digest(&contents);
    let run = super::apply::start_run(
        &mut journal,
        "create",
        &digest,
        args.again,
        &source,
        global.quiet,
    )?;
    let journal = std::sync::Mutex::new(journal);
    let lines: Vec<usize> = issues.iter().map(|(line, _)| *line).collect();
    let stop = || signals::stopped().is_some();
    let results = jira_apply::create_issues_once_in(&client, issues, &journal, &run, &stop)
        .await
        .map_err(|e| CliError::failure(e.to_string()))?;
    if results.iter().all(Result::is_ok) {
        let mut journal = journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        jira_apply::runs::finish(&mut journal, &run)
            .map_err(|e| CliError::failure(e.to_string()))?;
    }
    client.close().await?;
    let (mut created, mut earlier, mut refused, mut not_sent, mut unknown) = (0, 0, 0, 0, 0);
    let mut records = Vec::with_capacity(results.len());
    for (line, result) in lines.iter().zip(&results) {
        records.push(match result {
            Ok(done) if done.earlier => {
                earlier += 1;
                json!({"line": line, "key": done.issue.key, "id": done.issue.id, "outcome": "existing"})
            }
            Ok(done) => {
                created += 1;
                json!({"line": line, "key": done.issue.key, "id": done.issue.id, "outcome": "created"})
            }
            // Messages name the input's line, as every other message about the file does.
            Err(CreateError::Refused { errors, .. }) => {
                refused += 1;
                let error = format!("line {line}: Jira refused the issue: {}", errors.summary());
                json!({"line": line, "outcome": "refused", "message": error, "errors": errors})
            }
            Err(CreateError::NotSent { message, .. }) => {
                not_sent += 1;
                let error = format!(
                    "line {line}: not created (the request was not performed; safe to run again): {message}"
                );
                json!({"line": line, "outcome": "not_sent", "message": error})
            }
            Err(CreateError::Unknown { message, .. }) => {
                unknown += 1;
                let error = format!(
                    "line {line}: the outcome is unknown (running again looks it up before creating anything): {message}"
                );
                json!({"line": line, "outcome": "unknown", "message": error})
            }
        });
    }
    // The journal, not stdout, is the record: a closed or full stdout loses no outcome.
    if let Err(error) = crate::records::write(args.format.resolve(), COLUMNS, &records) {
        return Err(CliError::failure(format!(
            "could not write the results to stdout ({}); every outcome is in the write journal {}, and running the same input again prints them without creating anything twice",
            if error.closed_output {
                "it was closed".to_owned()
            } else {
                error.message
            },
            journal_path.display()
        )));
    }
    super::refused_credentials(&client)?;
    if !global.quiet {
        crate::notes::say!(
            "created {created} of {} ({earlier} already created by an earlier run); {refused} refused by Jira, {not_sent} not sent (safe to create again), {unknown} with an unknown outcome (running again looks them up first)",
            output::count(results.len() as u64, "issue")
        );
    }
    output::Summary::of("create", &client, created as u64, "issues", 0, started).print(global);
    if let Some(code) = signals::stopped() {
        crate::notes::say!(
            "jira-ops: interrupted: run the same input again to create what was not sent (the journal {} keeps what was)",
            journal_path.display()
        );
        return Ok(code);
    }
    Ok(Code::of_run(refused + not_sent + unknown))
}

/// The columns of `create`'s results in CSV and tables.
const COLUMNS: &[&str] = &["line", "outcome", "key", "id", "message"];

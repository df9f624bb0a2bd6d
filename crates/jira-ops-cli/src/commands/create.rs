//! `jira-ops create --from-file F.jsonl`: bulk create, one result line per input line.

use std::io::{BufRead, BufReader, Read, Write};

use jira_batch::CreateError;
use jira_model::IssueUpdate;
use serde_json::json;

use crate::cli::{CreateArgs, Global};
use crate::error::{CliError, CliResult, Code};

/// The issues of a JSON Lines input with their line numbers; any bad line stops
/// everything before a request is sent.
pub fn read_issues(reader: impl Read, source: &str) -> Result<Vec<(usize, IssueUpdate)>, CliError> {
    let mut issues = Vec::new();
    for (n, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| CliError::usage(format!("{source}, line {}: {e}", n + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let issue: IssueUpdate = serde_json::from_str(&line).map_err(|e| {
            CliError::usage(format!(
                "{source}, line {}: not an issue: {e} (expected e.g. {{\"fields\": {{\"project\": {{\"key\": \"PROJ\"}}, \"issuetype\": {{\"name\": \"Task\"}}, \"summary\": \"...\"}}}}); nothing was created",
                n + 1
            ))
        })?;
        if issue.fields.is_empty() {
            return Err(CliError::usage(format!(
                "{source}, line {}: the issue has no fields (project, issuetype and summary at least); nothing was created",
                n + 1
            )));
        }
        issues.push((n + 1, issue));
    }
    if issues.is_empty() {
        return Err(CliError::usage(format!("{source}: no issues in it")));
    }
    Ok(issues)
}

pub async fn run(global: &Global, args: CreateArgs) -> CliResult {
    let source = args.from_file.display().to_string();
    let issues = if source == "-" {
        read_issues(std::io::stdin().lock(), "stdin")?
    } else {
        let file = std::fs::File::open(&args.from_file)
            .map_err(|e| CliError::usage(format!("--from-file {source}: {e}")))?;
        read_issues(file, &source)?
    };
    let settings = super::settings(global)?;
    let client = settings.client().await?;
    let (lines, inputs): (Vec<usize>, Vec<IssueUpdate>) = issues.into_iter().unzip();
    let results = client.create_issues(inputs).await;
    client.close().await?;
    let mut out = std::io::stdout().lock();
    let (mut created, mut refused, mut not_sent, mut unknown) = (0, 0, 0, 0);
    for (line, result) in lines.iter().zip(&results) {
        let record = match result {
            Ok(issue) => {
                created += 1;
                json!({"line": line, "key": issue.key, "id": issue.id})
            }
            Err(error @ CreateError::Refused { errors, .. }) => {
                refused += 1;
                json!({"line": line, "outcome": "refused", "error": error.to_string(), "errors": errors})
            }
            Err(error @ CreateError::NotSent { .. }) => {
                not_sent += 1;
                json!({"line": line, "outcome": "not_sent", "error": error.to_string()})
            }
            Err(error @ CreateError::Unknown { .. }) => {
                unknown += 1;
                json!({"line": line, "outcome": "unknown", "error": error.to_string()})
            }
        };
        writeln!(out, "{record}")?;
    }
    out.flush()?;
    super::refused_credentials(&client)?;
    if !global.quiet {
        eprintln!(
            "created {created} of {} issues; {refused} refused by Jira, {not_sent} not sent (safe to create again), {unknown} with an unknown outcome (check those before creating them again)",
            results.len()
        );
    }
    Ok(if refused + not_sent + unknown == 0 {
        Code::Ok
    } else {
        Code::Failure
    })
}

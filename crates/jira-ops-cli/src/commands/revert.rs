//! `jira-ops apply --revert [RUN]`: the lines that put back what a run changed
//! ([`jira_apply::revert_plan`]), applied by `apply` as a run of its own.

use jira_apply::runs;
use jira_apply::{Change, Journal};

use crate::cli::{ApplyArgs, Global};
use crate::config::Loaded;
use crate::error::CliError;

/// A revert to apply.
pub(super) struct Revert {
    /// The lines to apply.
    pub changes: Vec<Change>,
    /// How messages name it (`the revert of apply-3f2a9c01d4e5`).
    pub name: String,
    /// Whether fields another hand changed since were left as they are.
    pub left_changed: bool,
}

/// The revert `args` ask for: of the run named by `--revert RUN`, or of the last run of
/// `--from-file`. What it leaves (and why) is said on stderr.
pub(super) async fn changes(
    global: &Global,
    settings: &Loaded,
    client: &jira_client::JiraClient,
    args: &ApplyArgs,
) -> Result<Revert, CliError> {
    let path = settings.settings.journal_path(client.site_key());
    let records = Journal::read_records(&path).map_err(|e| CliError::failure(e.to_string()))?;
    let run = match args.revert.as_deref().filter(|r| !r.is_empty()) {
        Some(run) => super::journal::find(&records, run, &path)?,
        None => {
            if args.from_file.is_none() {
                return Err(CliError::usage(
                    "--revert needs a run to revert: name it (`jira-ops journal list` shows them) or give the file with --from-file",
                ));
            }
            let (changes, name) = super::apply::read_changes(args)?;
            let ops: Vec<&jira_apply::Operation> = changes.iter().map(|c| &c.op).collect();
            let digest = runs::digest(&ops);
            runs::list(&records)
                .into_iter()
                .rev()
                .find(|r| r.job == "apply" && r.file_digest == digest)
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "{name} has no run in the journal {} to revert (it was never applied on this site, or its run was forgotten); `jira-ops journal list` shows the runs there are",
                        path.display()
                    ))
                })?
        }
    };
    let lines = runs::lines(&records, &run.name);
    let plan = jira_apply::revert_plan(client, &lines, args.delete_created, args.force)
        .await
        .map_err(|e| CliError::failure(format!("reverting {}: {e}", run.name)))?;
    let left_changed = plan.left.iter().any(|l| l.changed_since);
    if !global.quiet {
        for left in &plan.left {
            crate::notes::say!(
                "jira-ops: line {}{}: {}",
                left.line,
                left.issue
                    .as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default(),
                left.reason
            );
        }
        if plan.changes.is_empty() {
            crate::notes::say!(
                "jira-ops: nothing to revert in run {}: every value it changed is back{}",
                run.name,
                if plan.left.is_empty() {
                    ""
                } else {
                    " or left as said above"
                }
            );
        } else if !run.finished {
            crate::notes::say!(
                "jira-ops: run {} did not end: what it wrote is reverted; its other lines were never sent",
                run.name
            );
        }
    }
    Ok(Revert {
        changes: plan.changes,
        name: format!("the revert of {}", run.name),
        left_changed,
    })
}

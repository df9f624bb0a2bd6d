//! `jira-ops apply --from-file changes.jsonl`: a file of changes applied exactly once, one
//! result line per input line (the work is `jira_apply::apply`).

use std::io::{IsTerminal as _, Read, Write};
use std::sync::{Arc, Mutex};

use jira_apply::{ApplyReport, Change, Journal, Outcome};

use crate::cli::{ApplyArgs, Format, Global};
use crate::config::CacheUse;
use crate::error::{CliError, CliResult, Code};
use crate::output;
use crate::signals;

/// The changes of the file (or stdin), every line checked; a bad line is exit 2 naming
/// every bad line, before anything is sent.
pub(super) fn read_changes(args: &ApplyArgs) -> Result<(Vec<Change>, String), CliError> {
    let from_file = args.from_file.clone().unwrap_or_default();
    let source = from_file.display().to_string();
    let mut text = String::new();
    let read = if source == "-" {
        std::io::stdin().lock().read_to_string(&mut text)
    } else {
        std::fs::File::open(&from_file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| CliError::usage(format!("--from-file {source}: {e}")))?;
    let name = if source == "-" {
        "stdin".to_owned()
    } else {
        source
    };
    let changes = jira_apply::parse_changes(&text).map_err(|errors| {
        let shown: Vec<String> = errors
            .iter()
            .take(20)
            .map(|e| format!("  {name}, {e}"))
            .collect();
        let more = if errors.len() > 20 {
            format!("\n  ... and {} more", errors.len() - 20)
        } else {
            String::new()
        };
        CliError::usage(format!(
            "{} of the lines of {name} cannot be applied; nothing was sent:\n{}{more}",
            errors.len(),
            shown.join("\n")
        ))
    })?;
    if changes.is_empty() {
        return Err(CliError::usage(format!(
            "{name}: no changes in it (one JSON object a line; see `jira-ops apply --help`)"
        )));
    }
    warn_repeats(&changes, &name);
    Ok((changes, name))
}

/// Says on stderr which lines repeat an earlier one: each occurrence is a write of its own
/// (two identical comment lines make two comments), which a copy-paste slip rarely means.
fn warn_repeats(changes: &[Change], name: &str) {
    let mut first: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for change in changes {
        let text = serde_json::to_string(&change.op).unwrap_or_default();
        match first.get(&text) {
            Some(line) => crate::notes::say!(
                "jira-ops: warning: {name}, line {} repeats line {line}: both are applied (each occurrence is a write of its own); remove one if that is not meant",
                change.line
            ),
            None => {
                first.insert(text, change.line);
            }
        }
    }
}

/// Starts the run of `job` (`apply`, `create`) over the file `name` whose lines do
/// `digest` ([`jira_apply::runs::start`]), saying on stderr when the file was done to the
/// end by an earlier run (nothing is sent again; `--again` starts a new run) or when an
/// unfinished run goes on.
pub(super) fn start_run(
    journal: &mut Journal,
    job: &str,
    digest: &str,
    again: bool,
    name: &str,
    quiet: bool,
) -> Result<jira_apply::runs::Run, CliError> {
    let run = jira_apply::runs::start(journal, job, digest, again)
        .map_err(|e| CliError::failure(e.to_string()))?;
    if quiet {
        return Ok(run);
    }
    let done = if job == "create" {
        "created"
    } else {
        "applied"
    };
    if let Some(at_ms) = run.finished_at_ms {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let ago = std::time::Duration::from_millis(now.saturating_sub(at_ms).max(0) as u64);
        crate::notes::say!(
            "jira-ops: {name} was {done} to the end by an earlier run ({} ago): nothing is sent again; `--again` runs it once more as a new run",
            jira_model::HumanDuration(ago)
        );
    } else if run.resumed {
        crate::notes::say!("jira-ops: going on with the unfinished run of {name}");
    }
    Ok(run)
}

/// The site's write journal, waiting up to `wait` seconds for a run holding it.
pub(super) fn open_journal(path: &std::path::Path, wait: u64) -> Result<Journal, CliError> {
    Journal::open_waiting(path, std::time::Duration::from_secs(wait)).map_err(|e| {
        let busy = e.source.kind() == std::io::ErrorKind::WouldBlock && wait == 0;
        CliError::failure(format!(
            "{e}{}",
            if busy {
                " (or give --wait SECS to wait for it)"
            } else {
                ""
            }
        ))
    })
}

/// Deleting issues cannot be undone: a file with `delete` lines asks first on a terminal
/// (as `cache clear` does) and is refused without one unless `--yes`.
fn confirm_deletes(changes: &[Change], name: &str, yes: bool) -> Result<(), CliError> {
    let deletes = changes
        .iter()
        .filter(|c| {
            matches!(
                c.op,
                jira_apply::Operation::Delete { .. }
                    | jira_apply::Operation::DeleteComment { .. }
                    | jira_apply::Operation::Unlink { .. }
            )
        })
        .count();
    if deletes == 0 || yes {
        return Ok(());
    }
    let what = format!(
        "{name} has {deletes} line{} that delete{} (an issue, a comment or a link; deleting cannot be undone)",
        if deletes == 1 { "" } else { "s" },
        if deletes == 1 { "s" } else { "" }
    );
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "{what}: refusing to run it without a terminal to ask on; add --yes to run it, or --dry-run to see what it would do (nothing was sent)"
        )));
    }
    if super::confirm(&format!("{what}. Run it?"))? {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "{what}: not confirmed; nothing was sent"
        )))
    }
}

pub async fn run(global: &Global, args: ApplyArgs) -> CliResult {
    let started = std::time::Instant::now();
    // A revert reads the journal and the site first; a file needs neither for --plan.
    let (changes, name, job, loaded, left_changed) = if args.revert.is_some() {
        let settings = super::settings(global)?;
        let client = settings.client(CacheUse::Writes).await?;
        let revert = super::revert::changes(global, &settings, &client, &args).await?;
        if revert.changes.is_empty() {
            client.close().await?;
            return Ok(if revert.left_changed {
                Code::Failure
            } else {
                Code::Ok
            });
        }
        (
            revert.changes,
            revert.name,
            "revert",
            Some((settings, client)),
            revert.left_changed,
        )
    } else {
        let (changes, name) = read_changes(&args)?;
        (changes, name, "apply", None, false)
    };
    if args.plan {
        return print_plan(&changes, args.format.is_json());
    }
    if !args.dry_run {
        confirm_deletes(&changes, &name, args.yes)?;
    }
    let (settings, client) = match loaded {
        Some(loaded) => loaded,
        None => {
            let settings = super::settings(global)?;
            // A dry run only reads; a run that writes invalidates what it changes.
            let cache = match args.dry_run {
                true => CacheUse::IfFree,
                false => CacheUse::Writes,
            };
            let client = settings.client(cache).await?;
            (settings, client)
        }
    };
    if args.dry_run {
        let lines = jira_apply::apply_dry_run(&client, &changes).await;
        client.close().await?;
        super::refused_credentials(&client)?;
        let mut out = crate::destination::stdout();
        let records = || -> Result<Vec<serde_json::Value>, CliError> {
            lines
                .iter()
                .map(|line| {
                    serde_json::to_value(line).map_err(|e| {
                        CliError::failure(format!("the dry run does not serialise: {e}"))
                    })
                })
                .collect()
        };
        // Without a format asked for, the dry run speaks to people (one line each).
        let asked = args.format.json
            || args.format.format.is_some()
            || crate::destination::format_hint().is_some();
        match if asked {
            args.format.resolve()
        } else {
            Format::Table
        } {
            Format::Json => {
                writeln!(out, "{}", json_text(serde_json::to_string_pretty(&lines))?)?;
            }
            format @ (Format::Jsonl | Format::Csv) => {
                crate::records::write(format, DRY_RUN_COLUMNS, &records()?)?;
            }
            Format::Table => {
                for line in &lines {
                    writeln!(
                        out,
                        "line {:<5} {:<10} {:<12} {}{}",
                        line.line,
                        line.op,
                        line.issue.as_deref().unwrap_or("-"),
                        line.change,
                        if line.would_write { "" } else { "  (no write)" }
                    )?;
                }
            }
        }
        let failing = lines.iter().filter(|l| l.would_fail).count();
        if !global.quiet {
            let writes = lines.iter().filter(|l| l.would_write).count();
            crate::notes::say!(
                "dry run: {writes} of {} lines would write{}; nothing was written",
                lines.len(),
                if failing == 0 {
                    String::new()
                } else {
                    format!(", {failing} would be refused (each says why above)")
                }
            );
        }
        return Ok(if failing == 0 && !left_changed {
            Code::Ok
        } else {
            Code::Failure
        });
    }
    let journal_path = settings.settings.journal_path(client.site_key());
    let journal = open_journal(&journal_path, args.wait)?;
    let ops: Vec<&jira_apply::Operation> = changes.iter().map(|c| &c.op).collect();
    let mut journal = journal;
    let digest = jira_apply::runs::digest(&ops);
    let run = start_run(&mut journal, job, &digest, args.again, &name, global.quiet)?;
    let journal = Arc::new(Mutex::new(journal));
    let bar = output::bar(
        changes.len() as u64,
        &format!("applying {name}"),
        output::progress_allowed(global.quiet, args.format.is_json()),
    );
    let stop = || signals::stopped().is_some();
    let report = jira_apply::apply_run(&client, &changes, journal.clone(), &run, &stop, &|_| {
        bar.inc(1)
    })
    .await
    .map_err(|e| CliError::failure(e.to_string()))?;
    if report.all_succeeded() {
        let mut journal = journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        jira_apply::runs::finish(&mut journal, &run)
            .map_err(|e| CliError::failure(e.to_string()))?;
    }
    bar.finish_and_clear();
    client.close().await?;
    // The journal, not stdout, is the record: a closed or full stdout loses no outcome.
    let summary = output::Summary::of(
        "apply",
        &client,
        report
            .results
            .iter()
            .filter(|r| r.outcome.succeeded())
            .count() as u64,
        "lines",
        0,
        started,
    );
    if let Err(error) = write_report(&report, &summary, args.format.resolve()) {
        return Err(CliError::failure(format!(
            "could not write the results to stdout ({}); every outcome is in the write journal {}, and running the same file again prints them without applying anything twice",
            if error.closed_output {
                "it was closed".to_owned()
            } else {
                error.message
            },
            journal_path.display()
        )));
    }
    super::refused_credentials(&client)?;
    let count = |outcome: Outcome| {
        report
            .results
            .iter()
            .filter(|r| r.outcome == outcome)
            .count()
    };
    let earlier = report.results.iter().filter(|r| r.earlier).count();
    if !global.quiet {
        let wire = client.wire_tally().snapshot();
        crate::notes::say!(
            "applied {} of {} lines: {} done ({earlier} by an earlier run), {} already so; {} refused by Jira, {} not sent (run again to send them), {} unknown (running again resolves them first); {} requests on the wire, {} rate-limited",
            count(Outcome::Done) + count(Outcome::AlreadySo),
            report.results.len(),
            count(Outcome::Done),
            count(Outcome::AlreadySo),
            count(Outcome::Refused),
            count(Outcome::NotSent),
            count(Outcome::Unknown),
            wire.requests,
            wire.rate_limited,
        );
    }
    if !args.format.is_json() {
        summary.print(global);
    }
    if let Some(code) = signals::stopped() {
        crate::notes::say!(
            "jira-ops: interrupted: run the same file again to apply what was not sent (the journal {} keeps what was)",
            journal_path.display()
        );
        return Ok(code);
    }
    Ok(Code::of_run(report.failed() + usize::from(left_changed)))
}

fn print_plan(changes: &[Change], json: bool) -> CliResult {
    let plan = jira_apply::plan_at_default_limits(changes);
    let mut out = crate::destination::stdout();
    if json {
        writeln!(out, "{}", json_text(serde_json::to_string_pretty(&plan))?)?;
        return Ok(Code::Ok);
    }
    let mut table = output::table(&["operation", "lines"]);
    for (op, n) in &plan.operations {
        table.add_row(vec![op.clone(), n.to_string()]);
    }
    writeln!(out, "{table}")?;

    writeln!(
        out,
        "{} lines on {} issues (at most {} on one): writes {}, and {} reads (statuses, transitions, the values kept for a revert)",
        plan.lines,
        plan.issues,
        plan.most_on_one_issue,
        plan.writes_text(),
        plan.reads
    )?;
    if plan.bulk_lines > 0 {
        writeln!(
            out,
            "{} lines through {} asynchronous bulk operation(s) (the same change to many issues), polled until done",
            plan.bulk_lines, plan.bulk_tasks
        )?;
    }
    writeln!(
        out,
        "least time at Atlassian's limits: {:.1} s ({})",
        plan.seconds, plan.bound_by
    )?;
    Ok(Code::Ok)
}

/// The columns of `apply`'s results in CSV and tables.
const COLUMNS: &[&str] = &["line", "op", "issue", "outcome", "earlier", "message"];

/// The columns of `apply --dry-run` in CSV.
const DRY_RUN_COLUMNS: &[&str] = &["line", "op", "issue", "change", "would_write", "would_fail"];

fn write_report(
    report: &ApplyReport,
    summary: &output::Summary,
    format: Format,
) -> Result<(), CliError> {
    let mut out = crate::destination::stdout();
    if let format @ (Format::Csv | Format::Table) = format {
        let records = serde_json::to_value(&report.results)
            .map_err(|e| CliError::failure(format!("the results do not serialise: {e}")))?;
        let records = records.as_array().cloned().unwrap_or_default();
        return crate::records::write(format, COLUMNS, &records);
    }
    if format == Format::Json {
        let mut document = serde_json::to_value(report)
            .map_err(|e| CliError::failure(format!("the results do not serialise: {e}")))?;
        document["summary"] = summary.json();
        writeln!(
            out,
            "{}",
            json_text(serde_json::to_string_pretty(&document))?
        )?;
    } else {
        for result in &report.results {
            writeln!(out, "{}", json_text(serde_json::to_string(result))?)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A report always serialises (strings, numbers and maps); a failure is still an error,
/// never a panic.
fn json_text(text: Result<String, serde_json::Error>) -> Result<String, CliError> {
    text.map_err(|e| CliError::failure(format!("the results do not serialise: {e}")))
}

//! `jira-ops sync`: the facade's sync into JSON Lines files or SQLite, with a plan,
//! progress on a terminal and a summary.

use std::time::{Duration, Instant};

use jira_client::fields::FieldCatalogue;
use jira_sync::{JsonlSink, Sink, SqliteSink, Strategy, SyncOptions, SyncPlan};

use crate::cli::{Global, SyncArgs, SyncCommand, SyncPart, SyncStrategy};
use crate::config::CacheUse;
use crate::error::{CliError, CliResult, Code};
use crate::output;
use crate::signals;

/// Where a sync writes.
pub(crate) enum Destination {
    Sqlite(std::path::PathBuf),
    Jsonl(std::path::PathBuf),
    /// A PostgreSQL database: the URL as given (it may hold the password: shown only
    /// through [`jira_sync::PostgresTarget::shown`]) and where it points.
    Postgres(String, Box<jira_sync::PostgresTarget>),
}

impl Destination {
    pub(crate) fn parse(to: &str) -> Result<Self, CliError> {
        const CHOICES: &str = "a directory of JSON Lines files (one that exists, or a new one written with a trailing slash: --to ./export/, or jsonl:DIR), a SQLite file (--to jira.db, or sqlite:PATH) or a PostgreSQL database (--to postgres://user@host/db)";
        if to.starts_with("postgres://") || to.starts_with("postgresql://") {
            let target = jira_sync::PostgresTarget::parse(to)
                .map_err(|e| CliError::usage(format!("--to: {e}")))?;
            return Ok(Destination::Postgres(to.to_owned(), Box::new(target)));
        }
        if let Some(path) = to.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(CliError::usage(
                    "--to sqlite: names no file: use sqlite:PATH (e.g. --to sqlite:jira.db)",
                ));
            }
            return Destination::sqlite(to, path.into());
        }
        let explicit = to.strip_prefix("jsonl:");
        let dir = explicit.unwrap_or(to);
        if dir.is_empty() || dir.contains("://") {
            return Err(CliError::usage(format!(
                "--to {:?} is not a destination jira-ops knows: use {CHOICES}",
                jira_sync::redact_url(to)
            )));
        }
        let path = std::path::PathBuf::from(dir);
        let looks_like_a_database = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["db", "sqlite", "sqlite3"].contains(&e.to_ascii_lowercase().as_str())
        });
        // `--to jira.db` means the database it names (`jsonl:jira.db` is still a
        // directory, for whoever wants one by that name).
        if looks_like_a_database && !path.is_dir() && explicit.is_none() {
            return Destination::sqlite(to, path);
        }
        if path.is_file() {
            return Err(CliError::usage(format!(
                "--to {to:?} is a file, not a directory: JSON Lines go into a directory (--to ./export/); for a database say sqlite:{dir}"
            )));
        }
        // A bare name that is neither a directory nor a database could be a typo of
        // either: refused rather than made into a directory nobody asked for.
        if explicit.is_none() && !path.is_dir() && !dir.ends_with('/') {
            return Err(CliError::usage(format!(
                "--to {to:?} names neither an existing directory nor a database file: say {dir}/ for a new directory of JSON Lines files, {dir}.db for a SQLite file, or use {CHOICES}"
            )));
        }
        Ok(Destination::Jsonl(path))
    }

    /// A SQLite file, refused when it could never be opened: its directory missing (a
    /// typo, or one not made yet), or a directory in its place.
    fn sqlite(to: &str, path: std::path::PathBuf) -> Result<Self, CliError> {
        if path.is_dir() {
            return Err(CliError::usage(format!(
                "--to {to:?} is a directory, not a SQLite file: name a file in it (e.g. sqlite:{}/jira.db), or say jsonl:{} for JSON Lines files there",
                path.display(),
                path.display()
            )));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(CliError::usage(format!(
                "--to {to:?}: the directory {} does not exist: create it first (mkdir -p {}) or name a file in one that does",
                parent.display(),
                parent.display()
            )));
        }
        Ok(Destination::Sqlite(path))
    }

    fn exists(&self) -> bool {
        match self {
            Destination::Sqlite(path) => path.exists(),
            Destination::Jsonl(dir) => dir.join("manifest.json").exists(),
            // A database is there to be asked; opening it creates nothing but the schema.
            Destination::Postgres(..) => true,
        }
    }

    /// The sink, waiting up to `wait` for another sync of it to end.
    fn open(&self, wait: Duration) -> Result<Box<dyn Sink>, CliError> {
        let failure = |e: jira_sync::Error| CliError::failure(e.to_string());
        Ok(match self {
            Destination::Sqlite(path) => {
                Box::new(SqliteSink::open_waiting(path, wait).map_err(failure)?)
            }
            Destination::Jsonl(dir) => {
                Box::new(JsonlSink::open_waiting(dir, wait).map_err(failure)?)
            }
            Destination::Postgres(url, _) => {
                Box::new(jira_sync::PostgresSink::open_waiting(url, wait).map_err(failure)?)
            }
        })
    }

    pub(crate) fn shown(&self) -> String {
        match self {
            Destination::Sqlite(path) => path.display().to_string(),
            Destination::Jsonl(dir) => dir.display().to_string(),
            Destination::Postgres(_, target) => target.shown().to_owned(),
        }
    }
}

/// An age (`7d`, `12h`, `30m`, `45s`) in milliseconds.
pub(crate) fn age_ms(text: &str) -> Option<i64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|i| *i > 0)?;
    let (number, unit) = text.split_at(split);
    let unit_ms = match unit {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1_000,
        _ => return None,
    };
    Some(number.parse::<i64>().ok()?.saturating_mul(unit_ms))
}

/// `--since`: a date, a timestamp, epoch milliseconds or an age, as epoch milliseconds.
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let fix = "use a date (2026-11-01), a time (2026-11-01T08:00:00Z), epoch milliseconds or an age (7d, 12h, 30m)";
    if let Some(age) = age_ms(text) {
        return Ok(now_ms - age);
    }
    if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        return text
            .parse::<i64>()
            .map_err(|_| format!("--since {text:?} is too large: {fix}"));
    }
    let with_time = if text.len() == 10 {
        format!("{text}T00:00:00.000+0000")
    } else {
        text.to_owned()
    };
    with_time
        .parse::<jira_model::JiraTimestamp>()
        .map(|t| t.unix_millis())
        .map_err(|_| format!("--since {text:?} is not a time jira-ops reads: {fix}"))
}

/// `--census-every`: `0`, or an age.
fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    age_ms(text)
        .map(|ms| Duration::from_millis(ms.max(0) as u64))
        .ok_or_else(|| {
            format!("{text:?} is not an age: use 0 (every run) or a number with d, h, m or s (12h)")
        })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub async fn run(global: &Global, args: SyncArgs) -> CliResult {
    match &args.command {
        Some(SyncCommand::Status { to, format }) => {
            return super::sync_status::run(&Destination::parse(to)?, format.json());
        }
        Some(SyncCommand::Migrate { to, wait }) => {
            return super::sync_status::migrate(&Destination::parse(to)?, *wait);
        }
        Some(SyncCommand::Compact { to, wait }) => {
            return super::sync_status::compact(&Destination::parse(to)?, *wait);
        }
        None => {}
    }
    // clap requires both when no subcommand is given.
    let (Some(jql), Some(to)) = (args.jql.clone(), args.to.clone()) else {
        return Err(CliError::usage(
            "sync needs --jql JQL and --to DEST (or: sync status --to DEST)",
        ));
    };
    let destination = Destination::parse(&to)?;
    jira_sync::check_query(&jql).map_err(|e| CliError::usage(format!("--jql: {e}")))?;
    let since_ms = args
        .since
        .as_deref()
        .map(|since| parse_since(since, now_ms()))
        .transpose()
        .map_err(CliError::usage)?;
    if args.with.contains(&SyncPart::None) && args.with.len() > 1 {
        return Err(CliError::usage(
            "--with none cannot be combined with other parts: give either none or a list",
        ));
    }
    let mut settings = super::settings(global)?;
    // A quota that runs out pauses the run until the reset (at most an hour) instead of
    // failing it: what is committed stays, and the wait is announced.
    settings.settings.max_wait_secs = settings.settings.max_wait_secs.max(3_700);
    let client = settings.client(CacheUse::Never).await?;
    let mut options = SyncOptions {
        changelogs: args.with.contains(&SyncPart::Changelog),
        comments: args.with.contains(&SyncPart::Comments),
        worklogs: args.with.contains(&SyncPart::Worklogs),
        census_every: match args.no_census {
            true => None,
            false => Some(
                parse_age(&args.census_every)
                    .map_err(|e| CliError::usage(format!("--census-every: {e}")))?,
            ),
        },
        settle: Duration::from_secs(args.settle_secs),
        full: args.full,
        since_ms,
        strategy: args.strategy.map(|s| match s {
            SyncStrategy::Ids => Strategy::Ids,
            SyncStrategy::Pages => Strategy::Pages,
            SyncStrategy::Slices => Strategy::Slices,
        }),
        ..SyncOptions::new(jql.clone())
    };
    if let Some(mib) = args.memory_mb {
        options.memory_budget = usize::try_from(mib << 20).unwrap_or(usize::MAX);
    }
    if let Some(fields) = &args.fields {
        let catalogue = FieldCatalogue::fetch(&**client.uncached())
            .await
            .map_err(|e| CliError::failure(e.to_string()))?;
        options.fields = catalogue
            .resolve_list(fields)
            .map_err(|e| CliError::usage(format!("--fields {fields:?}: {e}")))?;
    }
    let shown = destination.shown();
    if args.plan {
        let mut sink = match destination.exists() {
            true => destination.open(Duration::from_secs(args.wait))?,
            false => Box::new(jira_sync::EmptySink),
        };
        let plan = match jira_sync::plan(&client, &mut *sink, &options).await {
            Ok(plan) => plan,
            Err(error) if error.is_invalid_jql() => {
                return Err(error.into());
            }
            Err(error) => {
                super::refused_credentials(&client)?;
                return Err(CliError::failure(error.to_string()));
            }
        };
        print_plan(&plan, args.format.json())?;
        return Ok(Code::Ok);
    }
    let mut sink = destination.open(Duration::from_secs(args.wait))?;
    let visible = output::progress_allowed(global.quiet, args.format.json());
    let bar = output::spinner("syncing", visible);
    let started = Instant::now();
    let warned = std::sync::atomic::AtomicBool::new(false);
    // The last commit's report; the bar is redrawn from it and from the requests on the
    // wire four times a second, so it moves while the first pages are read and measured,
    // not only at each commit.
    let latest = std::sync::Mutex::new(None::<jira_sync::SyncReport>);
    let progress = |report: &jira_sync::SyncReport| {
        if let Some(warning) = &report.quota_warning
            && !warned.swap(true, std::sync::atomic::Ordering::Relaxed)
            && !global.quiet
        {
            bar.suspend(|| crate::notes::say!("jira-ops: {warning}"));
        }
        *latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(report.clone());
    };
    let redraw = || {
        let wire = client.wire_tally().snapshot().requests;
        let latest = latest.lock().unwrap_or_else(|p| p.into_inner());
        bar.set_message(progress_message(latest.as_ref(), wire, started.elapsed()));
        if let Some(report) = latest.as_ref() {
            bar.set_position((report.issues_written + report.issues_unchanged) as u64);
        }
    };
    redraw();
    // The sync reads the site, never the cache, so it does not hold the cache; the copies
    // the cache has of what it synced are dropped once it ends (below).
    let mut seen = jira_sync::KeysSeen {
        inner: &mut *sink,
        keys: Vec::new(),
    };
    // Every commit is durable: a signal ends the run between commits, and the same
    // command goes on from there.
    let ended = {
        let run = jira_sync::sync_with_progress(&client, &mut seen, &options, &progress);
        tokio::pin!(run);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                report = &mut run => break Ok(report),
                code = signals::wait() => break Err(code),
                _ = tick.tick(), if visible => redraw(),
            }
        }
    };
    bar.finish_and_clear();
    forget_cached(&settings, &seen.keys).await;
    let report = match ended {
        Ok(report) => report,
        Err(code) => {
            crate::notes::say!(
                "jira-ops: interrupted; everything committed to {shown} is kept, and the same command goes on from there"
            );
            return Ok(code);
        }
    };
    let report = match report {
        Ok(report) => report,
        Err(error) if error.is_invalid_jql() => {
            return Err(error.into());
        }
        Err(error) => {
            super::refused_credentials(&client)?;
            return Err(CliError::failure(format!(
                "{error} (what was committed to {shown} is kept; run the same command to resume)"
            )));
        }
    };
    let wire = client.wire_tally().snapshot();
    let seconds = started.elapsed().as_secs_f64();
    let run_summary = output::Summary::of(
        "sync",
        &client,
        report.issues_written as u64,
        "issues",
        0,
        started,
    );
    if args.format.json() {
        let summary = serde_json::json!({
            "summary": run_summary.json(),
            "destination": to,
            "jql": jql,
            "strategy": report.strategy.map(Strategy::name),
            "reason": report.reason,
            "resumed": report.resumed,
            "issues_written": report.issues_written,
            "issues_unchanged": report.issues_unchanged,
            "history_entries": report.history_entries,
            "comments": report.comments,
            "worklogs": report.worklogs,
            "worklogs_deleted": report.worklogs_deleted,
            "issues_deleted": report.issues_deleted,
            "issues_restored": report.issues_restored,
            "requests": report.requests,
            "requests_on_the_wire": wire.requests,
            "rate_limited": wire.rate_limited,
            "points": wire.points,
            "commits": report.commits,
            "mark_ms": report.mark_ms,
            "missing": report.missing,
            "quota_warning": report.quota_warning,
            "went_back": report.went_back,
            "unit_issues": report.unit_issues,
            "seconds": seconds,
        });
        output::outln!("{summary}");
    } else if !global.quiet {
        crate::notes::say!(
            "synced {} into {shown} ({} unchanged, {} marked deleted, {} history entries, {} comments, {} worklogs; {} requests, {} on the wire, {} 429s, {} points, {:.1} s)",
            output::count(report.issues_written as u64, "issue"),
            report.issues_unchanged,
            report.issues_deleted,
            report.history_entries,
            report.comments,
            report.worklogs,
            report.requests,
            wire.requests,
            wire.rate_limited,
            wire.points,
            seconds
        );
        if let Some(strategy) = report.strategy {
            crate::notes::say!("jira-ops: read by {} ({})", strategy.name(), report.reason);
        }
        if let Some(mark) = report
            .mark_ms
            .and_then(jira_model::JiraTimestamp::from_unix_millis)
            && args.settle_secs > 0
        {
            crate::notes::say!(
                "jira-ops: note: read up to {mark}, {} s before the run began: later edits (Jira's search may not show them yet) are taken by the next run (--settle-secs)",
                args.settle_secs
            );
        }
        run_summary.print(global);
    }
    for missing in &report.missing {
        crate::notes::say!(
            "jira-ops: issue {missing} was in the search but could not be fetched (deleted meanwhile?)"
        );
    }
    Ok(Code::Ok)
}

/// Drops the cache's copies of the issues a sync wrote (they are older than what the
/// sink now holds), the cache opened for that moment only; a cache another process
/// holds keeps them until their TTL ends, as a note says.
async fn forget_cached(settings: &crate::config::Loaded, keys: &[String]) {
    if keys.is_empty() || settings.settings.cache_store == "none" {
        return;
    }
    let mut quiet = settings.clone();
    quiet.quiet = true;
    match quiet.client(CacheUse::IfFree).await {
        Ok(client) if client.has_live_cache() => {
            client.forget_cached(keys).await;
            let _ = client.close().await;
        }
        Ok(_) if !settings.quiet => crate::notes::say!(
            "jira-ops: note: the cache is in use by another process: its copies of the {} synced issues stay until their TTL ends (`fetch --fresh` reads them anew)",
            keys.len()
        ),
        _ => {}
    }
}

/// The progress bar's words: before the first commit, what the run is doing and the
/// requests so far; after it, the issues, pages, requests, commits and time left.
fn progress_message(
    report: Option<&jira_sync::SyncReport>,
    wire_requests: u64,
    elapsed: Duration,
) -> String {
    let Some(report) = report else {
        return format!(
            "measuring the site and reading the first pages ({wire_requests} requests so far)"
        );
    };
    let done = (report.issues_written + report.issues_unchanged) as u64;
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let left = report
        .expected
        .map(|n| n.saturating_sub(done))
        .filter(|_| rate > 0.0)
        .map(|n| format!(", ~{:.0} s left", n as f64 / rate))
        .unwrap_or_default();
    format!(
        "issues{} ({} pages, {} requests, {} commits{left})",
        report
            .expected
            .map(|n| format!(" of ~{n}"))
            .unwrap_or_default(),
        report.search_pages,
        wire_requests.max(report.requests as u64),
        report.commits,
    )
}

fn print_plan(plan: &SyncPlan, json: bool) -> Result<(), CliError> {
    if json {
        let value = serde_json::to_value(plan).map_err(|e| CliError::failure(e.to_string()))?;
        output::outln!("{value}");
        return Ok(());
    }
    output::outln!("about {} issues to read: {}", plan.count, plan.jql);
    let mut table = output::table(&[
        "strategy",
        "requests",
        "points",
        "wall time",
        "fits the quota",
    ]);
    for estimate in &plan.estimates {
        table.add_row(vec![
            format!(
                "{}{}",
                estimate.strategy.name(),
                if estimate.strategy == plan.chosen {
                    " (chosen)"
                } else {
                    ""
                }
            ),
            estimate.requests.to_string(),
            estimate.points.to_string(),
            output::seconds(Duration::from_secs_f64(estimate.seconds.max(0.0))),
            match plan.sample.quota_points {
                None => "no quota announced".to_owned(),
                Some(_) if estimate.fits_quota => "yes".to_owned(),
                Some(_) => "no: waits for the reset".to_owned(),
            },
        ]);
    }
    output::outln!("{table}");
    output::outln!(
        "chosen: {}; ids reads units of {} issues, up to {} at once (the burst rate × a unit's measured latency; the memory budget and the connection slots may hold fewer); the run holds up to {} MiB of answers (what its units in flight need, within --memory-mb)",
        plan.reason,
        plan.unit_issues,
        plan.concurrency,
        plan.estimate(plan.chosen)
            .map_or(0, |e| e.memory_budget >> 20)
    );
    if plan.exhausts_quota {
        output::outln!(
            "the run needs more points than the hourly quota has left: it will pause until the quota resets (at the top of the hour) and go on; everything committed before is kept"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_dates_times_epochs_and_ages() {
        let now = 1_764_000_000_000;
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(parse_since("30m", now).unwrap(), now - 1_800_000);
        assert_eq!(
            parse_since("1733000000000", now).unwrap(),
            1_733_000_000_000
        );
        assert_eq!(parse_since("2024-12-01", now).unwrap(), 1_733_011_200_000);
        assert_eq!(
            parse_since("2024-12-01T08:00:00.000+0000", now).unwrap(),
            1_733_040_000_000
        );
        let bad = parse_since("last tuesday", now).unwrap_err();
        assert!(
            bad.contains("\"last tuesday\"") && bad.contains("7d"),
            "{bad}"
        );
        assert!(parse_since("7w", now).is_err());
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_age("0").unwrap(), Duration::ZERO);
        assert!(parse_age("soon").unwrap_err().contains("\"soon\""));
    }
}

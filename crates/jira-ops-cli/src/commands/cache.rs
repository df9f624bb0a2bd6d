//! `jira-ops cache status | warm | clear`.

use std::io::IsTerminal;

use jira_client::cache::{AnyStore, Category, JiraCache, Pattern, Target};
use jira_client::health::human_bytes;
use jira_client::warm::{WarmPlan, WarmReport};
use serde_json::json;

use crate::cli::{CacheCommand, ClearArgs, Global, WarmArgs};
use crate::config::{CacheUse, Loaded};
use crate::error::{CliError, CliResult, Code};
use crate::output;

/// The error of a cache command run with the cache off.
const NEEDS_CACHE: &str = "the cache commands need the cache: drop --no-cache";

pub async fn run(global: &Global, command: CacheCommand) -> CliResult {
    let settings = super::settings(global)?;
    if settings.settings.cache_store == "none" {
        return Err(CliError::usage(NEEDS_CACHE));
    }
    match command {
        CacheCommand::Status { format } => {
            let json = format.json();
            // Not waited for: a cache in use is reported as such.
            let mut quick = settings.clone();
            quick.settings.cache_lock_wait_secs = 0;
            settings.require_site()?;
            let report = match quick.settings.open_cache(&settings.profile.value).await {
                Ok(Some(cache)) => {
                    let report = status(&cache).await?;
                    cache.close().await?;
                    report
                }
                Ok(None) => return Err(CliError::usage(NEEDS_CACHE)),
                Err(jira_client::Error::Cache(jira_client::cache::Error::Locked {
                    dir,
                    holder,
                    ..
                })) => held_status(&settings, &dir, &holder),
                Err(other) => return Err(other.into()),
            };
            if report.get("in_use_by").is_some() {
                if json {
                    crate::output::outln!("{report}");
                } else {
                    crate::output::outln!("{}", render_held(&report));
                }
                return Ok(Code::Ok);
            }
            if json {
                crate::output::outln!("{report}");
            } else {
                crate::output::outln!("{}", render_status(&report));
            }
            Ok(Code::Ok)
        }
        CacheCommand::Warm(args) => warm(global, &settings, args).await,
        CacheCommand::Clear(args) => clear(&settings, args).await,
    }
}

/// Opens the cache of the configured site without needing credentials.
async fn open(settings: &Loaded) -> Result<JiraCache<AnyStore>, CliError> {
    settings.require_site()?;
    settings
        .settings
        .open_cache(&settings.profile.value)
        .await?
        .ok_or_else(|| CliError::usage(NEEDS_CACHE))
}

/// The cache's state as JSON.
pub async fn status(cache: &JiraCache<AnyStore>) -> Result<serde_json::Value, CliError> {
    let stats = cache.stats().await?;
    let config = cache.config();
    let mut categories = serde_json::Map::new();
    for (name, entries) in &stats.entries {
        let counters = stats.categories.get(name).copied().unwrap_or_default();
        categories.insert(
            name.clone(),
            json!({"entries": entries, "hits": counters.hits, "misses": counters.misses, "sets": counters.sets}),
        );
    }
    Ok(json!({
        "site": config.site,
        "profile": config.profile,
        "store": cache.store().describe(),
        "entries": stats.entries.values().sum::<u64>(),
        "bytes": stats.bytes,
        "max_bytes": config.max_size_bytes,
        "hits": stats.hits(),
        "misses": stats.misses(),
        "hit_rate": stats.hit_rate(),
        "evictions": stats.evictions,
        "corrupt": stats.corrupt,
        "categories": categories,
    }))
}

/// What can be said of a sled cache another process holds without opening it: its
/// directory, its holder and its size on disk.
fn held_status(settings: &Loaded, dir: &std::path::Path, holder: &str) -> serde_json::Value {
    let disk_bytes: u64 = walk_size(dir);
    json!({
        "site": settings.settings.site_url,
        "profile": settings.profile.value,
        "store": format!("sled at {}", dir.display()),
        "in_use_by": holder,
        "disk_bytes": disk_bytes,
    })
}

/// The bytes of the files under `dir` (what can be read of them).
fn walk_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk_size(&entry.path()),
            _ => entry.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// The status of a cache another process holds.
fn render_held(report: &serde_json::Value) -> String {
    format!(
        "cache of {} (profile {}) in {}\nin use by {}: entries and hit rate show once it lets go; {} on disk",
        report["site"].as_str().unwrap_or(""),
        report["profile"].as_str().unwrap_or(""),
        report["store"].as_str().unwrap_or(""),
        report["in_use_by"].as_str().unwrap_or(""),
        human_bytes(report["disk_bytes"].as_u64().unwrap_or(0)),
    )
}

/// The status as a table.
pub fn render_status(report: &serde_json::Value) -> String {
    let mut table = output::table(&["category", "entries", "hits", "misses", "sets"]);
    if let Some(categories) = report["categories"].as_object() {
        for (name, c) in categories {
            table.add_row(vec![
                name.clone(),
                c["entries"].to_string(),
                c["hits"].to_string(),
                c["misses"].to_string(),
                c["sets"].to_string(),
            ]);
        }
    }
    let bytes = report["bytes"].as_u64().unwrap_or(0);
    let cap = report["max_bytes"].as_u64().unwrap_or(1).max(1);
    format!(
        "cache of {} (profile {}) in {}\n{table}\nsize {} of {} ({:.1}%), hit rate {:.1}% ({} hits, {} misses), {} evicted, {} corrupt dropped",
        report["site"].as_str().unwrap_or(""),
        report["profile"].as_str().unwrap_or(""),
        report["store"].as_str().unwrap_or(""),
        human_bytes(bytes),
        human_bytes(cap),
        bytes as f64 / cap as f64 * 100.0,
        report["hit_rate"].as_f64().unwrap_or(0.0) * 100.0,
        report["hits"],
        report["misses"],
        report["evictions"],
        report["corrupt"],
    )
}

/// The plan the warm flags describe; no flag at all means everything.
pub fn plan(args: &WarmArgs) -> WarmPlan {
    let none = !(args.fields || args.projects || args.users || args.issues);
    let all = args.all || none;
    WarmPlan {
        fields: all || args.fields,
        projects: all || args.projects,
        users: all || args.users,
        issues: all || args.issues || !args.project_keys.is_empty(),
        issue_projects: args.project_keys.clone(),
        days: args.days,
        issues_per_project: args.per_project,
        issue_fields: args.issue_fields.clone(),
        ..WarmPlan::default()
    }
}

async fn warm(global: &Global, settings: &Loaded, args: WarmArgs) -> CliResult {
    let started = std::time::Instant::now();
    let client = settings.client(CacheUse::Required).await?;
    let plan = plan(&args);
    let visible = output::progress_allowed(global.quiet, args.format.json());
    let spinner = output::spinner("warming the cache", visible);
    let progress = |stage: &str, items: usize| {
        spinner.set_message(format!("warming the cache: {stage}; items"));
        spinner.set_position(items as u64);
    };
    let report = client.warm_with_progress(&plan, &progress).await;
    spinner.finish_and_clear();
    client.close().await?;
    let report = report?;
    let summary = output::Summary::of(
        "cache warm",
        &client,
        report.items() as u64,
        "items",
        0,
        started,
    );
    let stages: Vec<_> = report
        .stages
        .iter()
        .map(|s| {
            json!({"stage": s.stage, "items": s.items, "bytes": s.bytes, "requests": s.requests,
                   "points": s.points, "elapsed_ms": s.elapsed.as_millis() as u64})
        })
        .collect();
    if args.format.json() {
        crate::output::outln!(
            "{}",
            json!({"stages": stages, "items": report.items(), "bytes": report.bytes(),
                   "requests": report.requests(), "points": report.points(),
                   "elapsed_ms": report.elapsed().as_millis() as u64,
                   "summary": summary.json()})
        );
    } else {
        crate::output::outln!("{}", render_warm(&report));
        summary.print(global);
    }
    Ok(Code::Ok)
}

/// A warm report as a table.
pub fn render_warm(report: &WarmReport) -> String {
    let mut table = output::table(&["stage", "items", "size", "requests", "points", "time"]);
    for s in &report.stages {
        table.add_row(vec![
            s.stage.clone(),
            s.items.to_string(),
            human_bytes(s.bytes as u64),
            s.requests.to_string(),
            s.points.to_string(),
            output::seconds(s.elapsed),
        ]);
    }
    table.add_row(vec![
        "total".to_owned(),
        report.items().to_string(),
        human_bytes(report.bytes() as u64),
        report.requests().to_string(),
        report.points().to_string(),
        output::seconds(report.elapsed()),
    ]);
    table.to_string()
}

/// What `cache clear` removes, from its flags.
fn targets(args: &ClearArgs) -> Result<(Vec<Target>, String), CliError> {
    if args.all {
        return Ok((
            Category::BUILT_IN
                .into_iter()
                .map(Target::Category)
                .collect(),
            "every entry".to_owned(),
        ));
    }
    let Some(name) = &args.category else {
        return Err(CliError::usage(
            "say what to clear: --category C [--key K | --pattern P], or --all (see `jira-ops cache clear --help`)",
        ));
    };
    let category = Category::parse(name)?;
    Ok(match (&args.key, &args.pattern) {
        // An issue is cached once per set of fields asked for: clear them all.
        (Some(key), _) if category == Category::Issue => (
            jira_client::cache::issue_targets(key),
            format!("{name} entries of {key:?}"),
        ),
        (Some(key), _) => (
            vec![Target::Key(category, key.clone())],
            format!("{name} entry {key:?}"),
        ),
        // Issue keys are case-insensitive (`--key bea-1` is BEA-1), so is a pattern over
        // them: its key part (before any `?fields=`) is matched upper-case.
        (None, Some(pattern)) if category == Category::Issue => {
            let (key, rest) = pattern.split_at(pattern.find('?').unwrap_or(pattern.len()));
            let upper = format!("{}{rest}", key.to_ascii_uppercase());
            (
                vec![Target::Pattern(category, Pattern::new(&upper)?)],
                format!("{name} entries matching {pattern:?}"),
            )
        }
        (None, Some(pattern)) => (
            vec![Target::Pattern(category, Pattern::new(pattern)?)],
            format!("{name} entries matching {pattern:?}"),
        ),
        (None, None) => (
            vec![Target::Category(category)],
            format!("every {name} entry"),
        ),
    })
}

async fn clear(settings: &Loaded, args: ClearArgs) -> CliResult {
    if args.reset {
        if settings.settings.cache_store != "sled" {
            return Err(CliError::usage(
                "--reset moves a damaged sled cache aside; this profile's cache_store is not sled (for Redis, clear with --all)",
            ));
        }
        let dir = &settings.settings.cache_dir;
        match jira_client::cache::SledStore::reset(dir)? {
            Some(aside) => crate::output::outln!(
                "moved the cache directory {} aside to {}; the next run starts a fresh cache",
                dir.display(),
                aside.display()
            ),
            None => {
                crate::output::outln!("no cache directory at {}: nothing to reset", dir.display())
            }
        }
        return Ok(Code::Ok);
    }
    // Validate the flags before touching the cache.
    let (targets, what) = targets(&args)?;
    let cache = open(settings).await?;
    let mut count = 0;
    for target in &targets {
        count += cache.count_matching(target).await?;
    }
    if args.dry_run || count == 0 {
        cache.close().await?;
        let verb = if args.dry_run {
            "would remove"
        } else {
            "nothing to remove:"
        };
        crate::output::outln!("{verb} {count} entries ({what})");
        return Ok(Code::Ok);
    }
    if !args.force {
        if !std::io::stdin().is_terminal() {
            cache.close().await?;
            return Err(CliError::usage(format!(
                "refusing to remove {count} entries ({what}) without --force when stdin is not a terminal (add --force, or --dry-run to count)"
            )));
        }
        let question = format!("Remove {count} entries ({what}) from the cache?");
        if !super::confirm(&question)? {
            cache.close().await?;
            crate::notes::say!("nothing removed");
            return Ok(Code::Failure);
        }
    }
    let mut removed = 0;
    for target in &targets {
        removed += cache.invalidate(target).await?;
    }
    cache.close().await?;
    crate::output::outln!("removed {removed} entries ({what})");
    Ok(Code::Ok)
}

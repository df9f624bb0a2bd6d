//! `jira-ops demo`: the main job against an embedded jira-sim with Atlassian-like limits
//! and a little trouble, with a summary the simulator's own counters can check.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jira_client::JiraClient;
use jira_client::SearchOptions;
use jira_client::TallySnapshot;
use jira_client::health::{HealthOptions, human_bytes};
use jira_client::warm::WarmPlan;
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use serde_json::{Value, json};

use crate::cli::{DemoArgs, Global};
use crate::config::{CacheUse, FileConfig, Loaded};
use crate::error::{CliError, CliResult, Code};
use crate::output;

/// The fields the demo exports.
const FIELDS: [&str; 6] = [
    "summary",
    "status",
    "assignee",
    "priority",
    "issuetype",
    "updated",
];

/// What one stage cost.
struct Stage {
    name: String,
    wire: TallySnapshot,
    logical: TallySnapshot,
    cache_hits: usize,
    items: usize,
    elapsed: Duration,
}

impl Stage {
    /// Attempts beyond the first (the health check sends on the bare wire: each of its
    /// requests is logical and on the wire once).
    fn retries(&self) -> u64 {
        self.wire.requests.saturating_sub(self.logical.requests)
    }

    fn json(&self) -> Value {
        json!({
            "stage": self.name,
            "items": self.items,
            "requests": self.wire.requests,
            "points": self.wire.points,
            "rate_limited": self.wire.rate_limited,
            "server_errors": self.wire.server_errors,
            "retries": self.retries(),
            "cache_hits": self.cache_hits,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }
}

/// Counters between two snapshots.
fn delta(after: TallySnapshot, before: TallySnapshot) -> TallySnapshot {
    TallySnapshot {
        requests: after.requests - before.requests,
        success: after.success - before.success,
        client_errors: after.client_errors - before.client_errors,
        unauthorized: after.unauthorized - before.unauthorized,
        rate_limited: after.rate_limited - before.rate_limited,
        server_errors: after.server_errors - before.server_errors,
        failed: after.failed - before.failed,
        points: after.points - before.points,
        ..after
    }
}

/// Runs `work` as a stage, measuring what it cost on the wire.
async fn stage<F, Fut>(client: &JiraClient, name: &str, work: F) -> Result<Stage, CliError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(usize, usize), CliError>>,
{
    let (wire, logical) = (
        client.wire_tally().snapshot(),
        client.logical_tally().snapshot(),
    );
    let started = Instant::now();
    let (items, cache_hits) = work().await?;
    Ok(Stage {
        name: name.to_owned(),
        wire: delta(client.wire_tally().snapshot(), wire),
        logical: delta(client.logical_tally().snapshot(), logical),
        cache_hits,
        items,
        elapsed: started.elapsed(),
    })
}

pub async fn run(global: &Global, args: DemoArgs) -> CliResult {
    if !(0.0..=1.0).contains(&args.unavailable) {
        return Err(CliError::usage(format!(
            "--unavailable {} must be a share between 0 and 1 (e.g. 0.02)",
            args.unavailable
        )));
    }
    if args.projects == 0 || args.issues_per_project == 0 {
        return Err(CliError::usage(
            "--projects and --issues-per-project must be at least 1",
        ));
    }
    let total_started = Instant::now();
    let visible = output::progress_allowed(global.quiet, args.format.json());
    let say = |line: String| {
        if !args.format.json() && !global.quiet {
            crate::notes::say!("{line}");
        }
    };

    // The tenant: Atlassian's limits, latency, and some 503s with Retry-After.
    let mut rules = vec![FaultRule::new(
        Fault::Latency {
            fixed_ms: args.latency_ms,
            jitter_ms: args.latency_ms / 2,
        },
        1.0,
    )];
    if args.unavailable > 0.0 {
        // On the data endpoints, where retries hide them; the health check sees the site
        // as it is.
        for endpoint in ["/rest/api/3/search/jql", "/rest/api/3/issue/bulkfetch"] {
            rules.push(
                FaultRule::new(
                    Fault::Unavailable {
                        retry_after_secs: 1,
                    },
                    args.unavailable,
                )
                .on(endpoint),
            );
        }
    }
    let sim = SimHandle::start(SimConfig {
        projects: args.projects,
        issues_per_project: args.issues_per_project,
        limits: LimitConfig::atlassian(),
        faults: FaultConfig { rules },
        ..SimConfig::default()
    })
    .await
    .map_err(|e| CliError::failure(format!("cannot start jira-sim: {e}")))?;
    let project = sim
        .project_keys()
        .first()
        .cloned()
        .ok_or_else(|| CliError::failure("jira-sim has no project"))?;
    say(format!(
        "jira-sim: {} projects, {} issues, Atlassian's limits, {} ms latency, {:.0}% of searches and bulk fetches answered 503 with Retry-After, at {}",
        args.projects,
        sim.issue_count(),
        args.latency_ms,
        args.unavailable * 100.0,
        sim.base_url()
    ));

    // The client: the user's flags, no config file, a throwaway cache.
    let cache_dir = tempfile::tempdir()?;
    let mut flags = global.clone();
    flags.site = Some(sim.base_url().to_string());
    flags.email = Some(sim.credential().email.clone());
    flags.cache_dir = Some(cache_dir.path().join("cache").display().to_string());
    flags.no_cache = false;
    // The demo has no config file: a profile named for real sites means nothing here.
    flags.profile = None;
    flags.config = None;
    let mut settings = Loaded::resolve(
        &flags,
        |_| None,
        "",
        FileConfig::default(),
        PathBuf::from("(none: the demo uses built-in settings)"),
        false,
    )?;
    settings.settings.api_token = Some(jira_client::Secret::new(
        sim.credential().api_token.expose(),
    ));
    settings.settings.cache_store = "sled".into();
    let client = settings.client(CacheUse::Required).await?;
    let cache = client
        .cache()
        .cloned()
        .ok_or_else(|| CliError::failure("the demo needs its cache"))?;
    let site = client.site_key().as_str().to_owned();
    let mut stages = Vec::new();

    // 1. Health.
    let spinner = output::spinner("health check", visible);
    let mut health = None;
    stages.push(
        stage(&client, "health check", || async {
            let report = client.health(&HealthOptions::default()).await;
            let checks = report.checks.len();
            health = Some(report);
            Ok((checks, 0))
        })
        .await?,
    );
    spinner.finish_and_clear();
    let health = health.ok_or_else(|| CliError::failure("the health check did not run"))?;
    say(format!(
        "1. health: {} ({})",
        health.status.as_str(),
        health
            .checks
            .iter()
            .map(|c| format!("{} {}", c.name, c.status.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if health.failure.is_some() {
        return Err(CliError::failure(format!(
            "the embedded simulator failed its health check: {}",
            super::health::render(&site, &health)
        )));
    }

    // 2. Cache warm: metadata.
    let spinner = output::spinner("warming the cache", visible);
    let plan = WarmPlan {
        issues: false,
        jitter: Duration::ZERO,
        ..WarmPlan::default()
    };
    stages.push(
        stage(&client, "cache warm", || async {
            let report = client.warm(&plan).await?;
            Ok((report.items(), 0))
        })
        .await?,
    );
    spinner.finish_and_clear();
    say(format!(
        "2. cache warm: {} fields, projects and users cached",
        stages[1].items
    ));

    // 3. Every issue of one project: search for ids, then bulk fetch by 100.
    let jql = format!("project = {project}");
    let mut ids = Vec::new();
    let bar = output::bar(args.issues_per_project as u64, "fetching", visible);
    let fetched = stage(&client, &format!("fetch {project}"), || async {
        let options = SearchOptions {
            fields: Vec::new(),
            page_size: jira_model::SEARCH_ID_PAGE_MAX,
            prefetch: true,
            limit: None,
        };
        let mut pages = std::pin::pin!(client.search_pages(&jql, options));
        while let Some(page) = pages.next().await {
            ids.extend(page?.issues.into_iter().map(|issue| issue.id));
        }
        let (found, hits) = fetch_all(&client, &ids, &bar).await?;
        Ok((found, hits))
    })
    .await?;
    bar.finish_and_clear();
    say(format!(
        "3. fetch {project}: {} issues in {} requests ({} of them bulk fetches of up to {})",
        fetched.items,
        fetched.wire.requests,
        ids.len()
            .div_ceil(jira_model::bulk_fetch_max_issues(&FIELDS, &[])),
        jira_model::bulk_fetch_max_issues(&FIELDS, &[])
    ));
    stages.push(fetched);

    // 4. The same again: from the cache.
    let bar = output::bar(ids.len() as u64, "fetching again", visible);
    let again = stage(&client, &format!("fetch {project} again"), || async {
        fetch_all(&client, &ids, &bar).await
    })
    .await?;
    bar.finish_and_clear();
    say(format!(
        "4. fetch {project} again: {} issues, {} from the cache, {} requests",
        again.items, again.cache_hits, again.wire.requests
    ));
    stages.push(again);

    // 5. Cache status.
    let status = super::cache::status(&cache).await?;
    client.close().await?;
    let server = sim.stats();
    let wire = client.wire_tally().snapshot();
    let logical = client.logical_tally().snapshot();
    let wall = total_started.elapsed();
    let server_json = json!({
        "requests": server.requests,
        "points": server.points_spent,
        "rate_limited": server.rate_limited,
        "unavailable": server.with_status(503),
        "early_retries": server.early_retries,
    });
    let total = json!({
        "requests": wire.requests,
        "points": wire.points,
        "rate_limited": wire.rate_limited,
        "server_errors": wire.server_errors,
        "retries": wire.requests.saturating_sub(logical.requests),
        "cache_hits": stages.iter().map(|s| s.cache_hits).sum::<usize>(),
        "elapsed_ms": wall.as_millis() as u64,
    });
    let agree = wire.requests == server.requests
        && wire.rate_limited == server.rate_limited
        && wire.server_errors == server.with_status(503)
        && wire.points == server.points_spent;
    let site_hint = "JIRA_API_TOKEN=<token> jira-ops --site https://your-domain.atlassian.net --email you@example.com search 'project = YOURPROJ' --format jsonl > issues.jsonl";
    if args.format.json() {
        crate::output::outln!(
            "{}",
            json!({
                "project": project,
                "issues": ids.len(),
                "stages": stages.iter().map(Stage::json).collect::<Vec<_>>(),
                "total": total,
                "server": server_json,
                "client_and_server_agree": agree,
                "cache": status,
                "health": super::health::to_json(&site, &health),
                "next": site_hint,
            })
        );
    } else {
        let mut table = output::table(&[
            "stage",
            "items",
            "requests",
            "points",
            "429s",
            "503s",
            "retries",
            "cache hits",
            "time",
        ]);
        for s in &stages {
            table.add_row(vec![
                s.name.clone(),
                s.items.to_string(),
                s.wire.requests.to_string(),
                s.wire.points.to_string(),
                s.wire.rate_limited.to_string(),
                s.wire.server_errors.to_string(),
                s.retries().to_string(),
                s.cache_hits.to_string(),
                output::seconds(s.elapsed),
            ]);
        }
        table.add_row(vec![
            "total".to_owned(),
            String::new(),
            total["requests"].to_string(),
            total["points"].to_string(),
            total["rate_limited"].to_string(),
            total["server_errors"].to_string(),
            total["retries"].to_string(),
            total["cache_hits"].to_string(),
            output::seconds(wall),
        ]);
        let hit_rate = status["hit_rate"].as_f64().unwrap_or(0.0) * 100.0;
        crate::output::outln!("{table}");
        crate::output::outln!(
            "jira-sim counted {} requests, {} points, {} 429s, {} 503s, {} early retries: {}",
            server.requests,
            server.points_spent,
            server.rate_limited,
            server.with_status(503),
            server.early_retries,
            if agree {
                "the same as the client"
            } else {
                "NOT the same as the client"
            }
        );
        crate::output::outln!(
            "cache: {} entries, {}, hit rate {hit_rate:.1}%",
            status["entries"],
            human_bytes(status["bytes"].as_u64().unwrap_or(0)),
        );
        crate::output::outln!("\nRun the same against your site:\n  {site_hint}");
    }
    sim.shutdown().await;
    Ok(if agree { Code::Ok } else { Code::Failure })
}

/// Fetches `ids` in rounds of 1,000 (so the bar moves), returns (found, cache hits).
async fn fetch_all(
    client: &JiraClient,
    ids: &[String],
    bar: &indicatif::ProgressBar,
) -> Result<(usize, usize), CliError> {
    let (mut found, mut hits) = (0, 0);
    for round in ids.chunks(1_000) {
        let (results, report) = client.fetch_issues(round, &FIELDS, &[]).await?;
        let failed: Vec<_> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .collect();
        if let Some(first) = failed.first() {
            return Err(CliError::failure(format!(
                "{} of {} issues failed, first: {first}",
                failed.len(),
                round.len()
            )));
        }
        found += results.len();
        hits += report.cache_hits;
        bar.inc(round.len() as u64);
    }
    Ok((found, hits))
}

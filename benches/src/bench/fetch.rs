//! Scenario 1: fetch N issues under Atlassian's default burst limits with 20 ms latency,
//! three ways: the reference guide's strategy (baseline), per-issue GETs paced by
//! jira-ratelimit, and jira-ops coalesced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_batch::{BatchConfig, fetch_issues};
use jira_ratelimit::{LimitsConfig, RateLimited};
use jira_sim::{BurstConfig, LimitConfig, SimHandle};
use jira_transport::{RetryPolicy, TransportExt};

use crate::common::{self, get_issues, secs};
use crate::report::{Figure, Scenario};

/// Atlassian's default burst for `GET /issue/{id}` and for POSTs (the bulk fetch).
const GET_ISSUE_RATE: f64 = 150.0;
const POST_RATE: f64 = 100.0;
const LATENCY: Duration = Duration::from_millis(20);

struct Row {
    name: &'static str,
    wall: Duration,
    requests: u64,
    points: u64,
    rate_limited: u64,
    failures: u64,
    minimum: Duration,
}

/// The least time `requests` need at `rate` a second from a full bucket of `rate`, and
/// never less than `rounds` latencies.
fn minimum(requests: f64, rate: f64, rounds: f64) -> Duration {
    let paced = ((requests - rate).max(0.0)) / rate;
    Duration::from_secs_f64(paced.max(rounds * LATENCY.as_secs_f64()))
}

/// The reference guide's strategy (`common::reference_guide`): 10 workers, one GET per
/// issue, 3 retries, no pacing.
async fn reference_strategy(sim: &SimHandle, keys: &Arc<Vec<String>>) -> Row {
    sim.reset_stats();
    let requests = keys
        .iter()
        .map(|key| {
            let path = format!("/rest/api/3/issue/{key}?fields=summary");
            (reqwest::Method::GET, path, None)
        })
        .collect();
    let run = common::reference_guide(sim, requests, Duration::from_secs(600)).await;
    let stats = sim.stats();
    Row {
        name: "(a) the reference guide: 10 workers, per-issue GETs, 3 retries",
        wall: run.wall,
        requests: stats.requests,
        points: stats.points_spent,
        rate_limited: stats.rate_limited,
        failures: run.failed,
        minimum: minimum(keys.len() as f64, GET_ISSUE_RATE, (keys.len() / 10) as f64),
    }
}

async fn paced_gets(sim: &SimHandle, keys: &Arc<Vec<String>>) -> Row {
    sim.reset_stats();
    let jira = Arc::new(
        RateLimited::new(common::http(sim.base_url(), 64), LimitsConfig::default())
            .with_retries(RetryPolicy::default()),
    );
    let load = get_issues(jira, keys.clone(), keys.len(), 32).await;
    let stats = sim.stats();
    Row {
        name: "(b) per-issue GETs paced by jira-ratelimit",
        wall: load.wall,
        requests: stats.requests,
        points: stats.points_spent,
        rate_limited: stats.rate_limited,
        failures: load.failures,
        minimum: minimum(keys.len() as f64, GET_ISSUE_RATE, (keys.len() / 32) as f64),
    }
}

/// What (c) reads: three explicit fields, none multi-valued.
const LEAN_FIELDS: [&str; 3] = ["summary", "status", "updated"];

async fn coalesced(sim: &SimHandle, keys: &Arc<Vec<String>>) -> Row {
    sim.reset_stats();
    let jira = Arc::new(
        RateLimited::new(common::http(sim.base_url(), 64), LimitsConfig::default())
            .with_retries(RetryPolicy::default()),
    );
    let config = BatchConfig {
        max_concurrent: 16,
        ..BatchConfig::default()
    };
    let started = Instant::now();
    let (results, _) =
        fetch_issues::<_, jira_cache::SledStore>(&jira, None, &config, keys, &LEAN_FIELDS, &[])
            .await
            .expect("the fetch runs");
    let stats = sim.stats();
    // Three plain fields: a lean bulk fetch, 1,000 issues a call.
    let requests = keys
        .len()
        .div_ceil(jira_model::bulk_fetch_max_issues(&LEAN_FIELDS, &[])) as f64;
    Row {
        name: "(c) jira-ops: lean bulk fetches of 1,000, paced",
        wall: started.elapsed(),
        requests: stats.requests,
        points: stats.points_spent,
        rate_limited: stats.rate_limited,
        failures: results.iter().filter(|(_, r)| r.is_err()).count() as u64,
        minimum: minimum(requests, POST_RATE, (requests / 16.0).ceil()),
    }
}

pub async fn run(quick: bool) -> Scenario {
    let issues = if quick { 1_000 } else { 10_000 };
    let sim = common::sim(
        5,
        issues / 5,
        LimitConfig {
            burst: Some(BurstConfig::default()),
            ..LimitConfig::off()
        },
        LATENCY.as_millis() as u64,
    )
    .await;
    let keys = Arc::new(common::keys(&sim, issues / 5));
    let keys_len = keys.len();
    let rows = [
        reference_strategy(&sim, &keys).await,
        paced_gets(&sim, &keys).await,
        coalesced(&sim, &keys).await,
    ];
    sim.shutdown().await;
    let mut scenario = Scenario::new(
        1,
        &format!("Fetch {issues} issues: Atlassian's default burst limits, 20 ms latency"),
        &[
            "strategy",
            "wall time",
            "HTTP requests",
            "points",
            "429s",
            "failures",
            "minimum the limits allow",
            "wall ÷ minimum",
        ],
    );
    for row in &rows {
        scenario.row(vec![
            row.name.to_owned(),
            secs(row.wall),
            row.requests.to_string(),
            row.points.to_string(),
            row.rate_limited.to_string(),
            row.failures.to_string(),
            secs(row.minimum),
            format!("{:.2}", row.wall.as_secs_f64() / row.minimum.as_secs_f64()),
        ]);
    }
    let [a, b, c] = &rows;
    scenario.figures = vec![
        Figure::info(
            "(c) vs (a): times faster",
            a.wall.as_secs_f64() / c.wall.as_secs_f64(),
        ),
        Figure::info(
            "(c) vs (b): times faster",
            b.wall.as_secs_f64() / c.wall.as_secs_f64(),
        ),
        Figure::info("(c) ÷ (a): points", c.points as f64 / a.points as f64),
        Figure::at_most(
            "(c) requests per 5,000 issues (3 explicit fields)",
            c.requests as f64 * 5_000.0 / keys_len as f64,
            6.0,
        )
        .hard(),
        Figure::exactly("(c) failures", c.failures as f64, 0.0),
        Figure::exactly("(b) failures", b.failures as f64, 0.0),
    ];
    scenario.notes.push(format!(
        "The minimum: per-issue GETs drain a full bucket of {GET_ISSUE_RATE:.0} at once, then {GET_ISSUE_RATE:.0} a second; bulk fetches the same at {POST_RATE:.0} a second (POST); never less than one 20 ms latency per round of concurrent requests. Baseline (a) is `RequestBatcher(max_concurrent=10)` with urllib3's `Retry(total=3, backoff_factor=2)` from the guide, reimplemented with reqwest."
    ));
    scenario
}

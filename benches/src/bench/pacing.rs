//! Scenarios 2 and 3: per-issue GETs against a known limit and against a hidden one.

use std::sync::Arc;

use jira_ratelimit::{BurstLimits, LimitsConfig, RateLimited};
use jira_sim::{BurstConfig, LimitConfig};
use jira_transport::{RetryPolicy, TransportExt};

use crate::common::{self, get_issues, secs};
use crate::report::{Figure, Scenario};

const RATE: f64 = 200.0;

fn burst_only(advertise: bool) -> LimitConfig {
    LimitConfig {
        burst: Some(BurstConfig::uniform(RATE)),
        advertise,
        ..LimitConfig::off()
    }
}

/// Scenario 2: the server announces its limit; the limiter should run at it.
pub async fn known(quick: bool) -> Scenario {
    let count = if quick { 800 } else { 4_000 };
    let sim = common::sim(2, 200, burst_only(true), 0).await;
    let keys = Arc::new(common::keys(&sim, 200));
    let jira = Arc::new(
        RateLimited::new(common::http(sim.base_url(), 64), LimitsConfig::default())
            .with_retries(RetryPolicy::default()),
    );
    let load = get_issues(jira, keys, count, 32).await;
    let stats = sim.stats();
    sim.shutdown().await;
    // The bucket starts full (RATE at once), then refills at RATE a second.
    let minimum = (count as f64 - RATE) / RATE;
    let ratio = load.wall.as_secs_f64() / minimum;
    let share = stats.rate_limited as f64 / stats.requests as f64;
    let mut scenario = Scenario::new(
        2,
        &format!("Known limit: {count} per-issue GETs at an announced {RATE:.0}/s"),
        &[
            "wall time",
            "minimum",
            "wall ÷ minimum",
            "requests",
            "429s",
            "failures",
            "early retries",
        ],
    );
    scenario.row(vec![
        secs(load.wall),
        format!("{minimum:.2} s"),
        format!("{ratio:.3}"),
        stats.requests.to_string(),
        stats.rate_limited.to_string(),
        load.failures.to_string(),
        stats.early_retries.to_string(),
    ]);
    scenario.figures = vec![
        Figure::at_most("wall ÷ theoretical minimum", ratio, 1.10),
        Figure::at_most("429 share", share, 0.01),
        Figure::exactly("failures", load.failures as f64, 0.0),
    ];
    scenario
}

/// Scenario 3: the server hides its limit until the first 429; the limiter should learn it.
pub async fn hidden(quick: bool) -> Scenario {
    let count = if quick { 1_200 } else { 4_000 };
    let sim = common::sim(2, 200, burst_only(false), 0).await;
    let keys = Arc::new(common::keys(&sim, 200));
    // The client believes in twice the real limit.
    let jira = Arc::new(
        RateLimited::new(
            common::http(sim.base_url(), 64),
            LimitsConfig {
                burst: BurstLimits::uniform(2.0 * RATE),
                ..LimitsConfig::default()
            },
        )
        .with_retries(RetryPolicy::default()),
    );
    let load = get_issues(jira, keys, count, 32).await;
    let stats = sim.stats();
    sim.shutdown().await;
    let sustained = load.sustained_rate();
    let share = stats.rate_limited as f64 / stats.requests as f64;
    let mut scenario = Scenario::new(
        3,
        &format!(
            "Hidden limit: {count} per-issue GETs, the server's {RATE:.0}/s unannounced, the client configured for {:.0}/s",
            2.0 * RATE
        ),
        &[
            "wall time",
            "sustained rate (second half)",
            "÷ hidden limit",
            "requests",
            "429s",
            "failures",
        ],
    );
    scenario.row(vec![
        secs(load.wall),
        format!("{sustained:.0}/s"),
        format!("{:.3}", sustained / RATE),
        stats.requests.to_string(),
        stats.rate_limited.to_string(),
        load.failures.to_string(),
    ]);
    scenario.figures = vec![
        Figure::at_least(
            "throughput ÷ hidden limit after warm-up",
            sustained / RATE,
            0.85,
        ),
        Figure::info("429 share", share),
        Figure::exactly("failures", load.failures as f64, 0.0),
    ];
    scenario
}

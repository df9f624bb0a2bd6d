//! Scenario 4: the full stack's requests per second against bare reqwest's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use jira_model::ApiRequest;
use jira_ratelimit::{BurstLimits, LimitsConfig, RateLimited};
use jira_sim::LimitConfig;
use jira_transport::{BreakerConfig, RetryPolicy, Transport, TransportExt};

use crate::common;
use crate::report::{Figure, Scenario};

const CONCURRENCY: usize = 32;

async fn bare(base: &str, count: u64) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("a client");
    let url = format!("{base}/rest/api/3/myself");
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, next) = (client.clone(), url.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let response = client
                        .get(&url)
                        .basic_auth("sim@example.com", Some("sim-token"))
                        .send()
                        .await
                        .expect("an answer");
                    assert_eq!(response.status(), 200);
                    let _ = response.bytes().await.expect("a body");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

async fn full_stack(base: &str, count: u64) -> f64 {
    let jira = Arc::new(
        RateLimited::new(
            common::http(base, CONCURRENCY).with_circuit_breaker("bench", BreakerConfig::default()),
            LimitsConfig {
                burst: BurstLimits::uniform(1e9),
                ..LimitsConfig::default()
            },
        )
        .with_retries(RetryPolicy::default()),
    );
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (jira, next) = (jira.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let response = jira.send(ApiRequest::myself()).await.expect("an answer");
                    assert_eq!(response.status, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(quick: bool) -> Scenario {
    let count = if quick { 4_000 } else { 20_000 };
    let rounds = if quick { 3 } else { 7 };
    let sim = common::sim(1, 10, LimitConfig::off(), 0).await;
    let base = sim.base_url().to_owned();
    // Pairs run back to back, so a pair shares the machine's mood; the verdict is the
    // median of the pairs' ratios, and each side's best round is shown beside it.
    bare(&base, count / 10).await;
    full_stack(&base, count / 10).await;
    let (mut bare_best, mut full_best) = (0.0_f64, 0.0_f64);
    let mut ratios = Vec::new();
    for round in 0..rounds {
        // Alternate which side goes first.
        let (b, f) = if round % 2 == 0 {
            let b = bare(&base, count).await;
            (b, full_stack(&base, count).await)
        } else {
            let f = full_stack(&base, count).await;
            (bare(&base, count).await, f)
        };
        bare_best = bare_best.max(b);
        full_best = full_best.max(f);
        ratios.push(f / b);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    sim.shutdown().await;
    let mut scenario = Scenario::new(
        4,
        &format!(
            "Transport overhead: {count} GET /myself, {CONCURRENCY} concurrent, no limits, {rounds} rounds each"
        ),
        &["client", "requests per second (best round)"],
    );
    scenario.row(vec!["bare reqwest".into(), format!("{bare_best:.0}")]);
    scenario.row(vec![
        "full stack (Retrying → RateLimited → CircuitBreaker → HttpTransport)".into(),
        format!("{full_best:.0}"),
    ]);
    scenario.figures = vec![
        Figure::at_least(
            "full stack ÷ bare reqwest (median of the rounds)",
            median,
            0.9,
        ),
        Figure::info(
            "full stack ÷ bare reqwest (best round ÷ best round)",
            full_best / bare_best,
        ),
    ];
    scenario.notes.push(format!(
        "Ratios of the {rounds} rounds: {}. jira-sim serves in the same process on the same two cores, so every microsecond the client spends is one the server cannot: this is the worst case for overhead; against a real site, latency hides it.",
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
    ));
    scenario
}

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
    // Alternate, and keep each side's best round: the machine's noise hits both alike.
    let (mut bare_best, mut full_best) = (0.0_f64, 0.0_f64);
    bare(&base, count / 10).await;
    full_stack(&base, count / 10).await;
    for _ in 0..rounds {
        bare_best = bare_best.max(bare(&base, count).await);
        full_best = full_best.max(full_stack(&base, count).await);
    }
    sim.shutdown().await;
    let mut scenario = Scenario::new(
        4,
        &format!(
            "Transport overhead: {count} GET /myself, {CONCURRENCY} concurrent, no limits, best of {rounds}"
        ),
        &["client", "requests per second"],
    );
    scenario.row(vec!["bare reqwest".into(), format!("{bare_best:.0}")]);
    scenario.row(vec![
        "full stack (Retrying → RateLimited → CircuitBreaker → HttpTransport)".into(),
        format!("{full_best:.0}"),
    ]);
    scenario.figures = vec![Figure::at_least(
        "full stack ÷ bare reqwest",
        full_best / bare_best,
        0.9,
    )];
    scenario
}

//! Scenario 9: the hourly quota runs out while four processes share one Redis budget. A
//! quota refusal pauses the whole site until the reset for every process: none sends
//! before it (the simulator counts requests that arrive during a wait it announced, apart
//! from those already on the wire), and all resume after it.

use jira_ops_tests::RedisServer;
use jira_sim::{LimitConfig, QuotaConfig, QuotaKind};

use crate::common;
use crate::report::{Figure, Scenario};

const WORKERS: usize = 4;
/// Points a (scaled) hour: 150 single-issue GETs at 2 points each.
const QUOTA: u64 = 300;

pub async fn run(quick: bool) -> Scenario {
    // A scaled hour of 5 real seconds (quick) or 30 (full): the reset is at most that far.
    let hour_secs: f64 = if quick { 5.0 } else { 30.0 };
    let per_worker: u64 = 100;
    let redis = RedisServer::start();
    let sim = common::sim(
        1,
        10,
        LimitConfig {
            quota: Some(QuotaConfig {
                points_per_hour: QUOTA,
                kind: QuotaKind::Tenant,
            }),
            time_scale: 3600.0 / hour_secs,
            ..LimitConfig::off()
        },
        0,
    )
    .await;
    let (site, url) = (sim.base_url().to_owned(), redis.url.clone());
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || {
        jira_ops_tests::run_scaleout_workers(
            std::path::Path::new(&super::scaleout::worker_path()),
            &site,
            &url,
            WORKERS,
            per_worker,
        )
    })
    .await
    .expect("the workers ran");
    let wall = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    sim.shutdown().await;
    let resumed = report
        .ok_per_worker
        .iter()
        .filter(|ok| **ok == per_worker)
        .count();
    let mut scenario = Scenario::new(
        9,
        &format!(
            "Quota exhausted: {WORKERS} processes × {per_worker} GETs on one Redis budget, {QUOTA} points a scaled hour of {hour_secs:.0} s"
        ),
        &[
            "wall",
            "requests",
            "quota 429s",
            "arrived during a wait, already in flight",
            "sent during a wait (early)",
            "processes that finished every request",
            "failures",
        ],
    );
    scenario.row(vec![
        format!("{wall:.2} s"),
        stats.requests.to_string(),
        stats.rate_limited.to_string(),
        stats.in_flight_during_wait.to_string(),
        stats.early_retries.to_string(),
        format!("{resumed} of {WORKERS}"),
        report.failed.to_string(),
    ]);
    scenario.figures = vec![
        Figure::at_least(
            "quota refusals met (the run crossed a reset)",
            stats.rate_limited as f64,
            1.0,
        )
        .hard(),
        Figure::exactly(
            "requests sent before the reset",
            stats.early_retries as f64,
            0.0,
        ),
        Figure::exactly(
            "processes that did not resume",
            (WORKERS - resumed) as f64,
            0.0,
        ),
        Figure::exactly("failures", report.failed as f64, 0.0),
    ];
    scenario.notes.push(format!(
        "{} GETs cost {} points against {QUOTA} a scaled hour, so every run crosses at least one reset. A request that arrives within the simulator's grace (100 ms) of the refusal was already on the wire; one after it was sent by a client that had been told to wait, by its own process or, through Redis, another.",
        WORKERS as u64 * per_worker,
        WORKERS as u64 * per_worker * 2
    ));
    scenario
}

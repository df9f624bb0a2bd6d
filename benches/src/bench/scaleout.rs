//! Scenario 7: four processes sharing one Redis budget against four with their own.

use jira_ops_tests::RedisServer;
use jira_sim::{BurstConfig, LimitConfig};

use crate::common;
use crate::report::{Figure, Scenario};

const WORKERS: usize = 4;
const RATE: f64 = 200.0;

/// The `scaleout-worker` binary of jira-ops-tests (xtask builds it and says where).
pub(crate) fn worker_path() -> String {
    std::env::var("JIRA_OPS_SCALEOUT_WORKER").unwrap_or_else(|_| {
        let exe = std::env::current_exe().expect("this binary");
        exe.with_file_name("scaleout-worker").display().to_string()
    })
}

/// Runs the workers at once; returns (sustained combined rate, failures).
async fn run_workers(site: &str, budget: &str, per_worker: u64) -> (f64, u64) {
    let (site, budget) = (site.to_owned(), budget.to_owned());
    let report = tokio::task::spawn_blocking(move || {
        jira_ops_tests::run_scaleout_workers(
            std::path::Path::new(&worker_path()),
            &site,
            &budget,
            WORKERS,
            per_worker,
        )
    })
    .await
    .expect("the workers ran");
    (report.sustained_rate(), report.failed)
}

pub async fn run(quick: bool) -> Scenario {
    let per_worker = if quick { 200 } else { 600 };
    let redis = RedisServer::start();
    let sim = common::sim(
        1,
        10,
        LimitConfig {
            burst: Some(BurstConfig::uniform(RATE)),
            ..LimitConfig::off()
        },
        0,
    )
    .await;
    let site = sim.base_url().to_owned();
    let mut scenario = Scenario::new(
        7,
        &format!(
            "Scale-out: {WORKERS} processes × {per_worker} GETs against one tenant limited to {RATE:.0}/s"
        ),
        &[
            "budget",
            "combined rate (second half)",
            "÷ limit",
            "429s",
            "429 share",
            "failures",
        ],
    );
    let mut shares = Vec::new();
    for (name, budget) in [
        ("shared (Redis)", redis.url.as_str()),
        ("independent (in-process)", "local"),
    ] {
        sim.reset_stats();
        let (rate, failed) = run_workers(&site, budget, per_worker).await;
        let stats = sim.stats();
        let share = stats.rate_limited as f64 / stats.requests as f64;
        shares.push((rate / RATE, share, failed));
        scenario.row(vec![
            name.into(),
            format!("{rate:.0}/s"),
            format!("{:.3}", rate / RATE),
            stats.rate_limited.to_string(),
            format!("{:.3}", share),
            failed.to_string(),
        ]);
    }
    sim.shutdown().await;
    let (shared_ratio, shared_share, shared_failed) = shares[0];
    scenario.figures = vec![
        Figure::at_least("shared budget: combined rate ÷ limit", shared_ratio, 0.85),
        Figure::at_most("shared budget: 429 share", shared_share, 0.01),
        Figure::exactly("shared budget: failures", shared_failed as f64, 0.0),
        Figure::info("independent budgets: 429 share", shares[1].1),
    ];
    scenario
}

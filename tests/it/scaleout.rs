//! Four OS processes against one jira-sim: with a shared Redis budget their combined pace
//! stays at the tenant's limit; with independent in-process budgets (the contrast) each
//! paces to the whole limit and together they earn 429s.

use jira_sim::{BurstConfig, LimitConfig, SimConfig, SimHandle};

use jira_ops_tests::RedisServer;

const WORKERS: usize = 4;
const PER_WORKER: u64 = 400;
const RATE: f64 = 200.0;

/// Runs the workers at once; returns every completion time (ms) and the failures.
async fn run_workers(site: &str, budget: &str) -> (Vec<u64>, u64) {
    let (site, budget) = (site.to_owned(), budget.to_owned());
    let report = tokio::task::spawn_blocking(move || {
        jira_ops_tests::run_scaleout_workers(
            std::path::Path::new(env!("CARGO_BIN_EXE_scaleout-worker")),
            &site,
            &budget,
            WORKERS,
            PER_WORKER,
        )
    })
    .await
    .unwrap();
    (report.finished_ms, report.failed)
}

/// Requests per second over the second half of the run (after the initial bucket).
fn sustained_rate(times: &[u64]) -> f64 {
    jira_ops_tests::Workers {
        finished_ms: times.to_vec(),
        ..jira_ops_tests::Workers::default()
    }
    .sustained_rate()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_share_one_budget_through_redis() {
    let redis = RedisServer::start();
    let sim = SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 5,
        limits: LimitConfig {
            burst: Some(BurstConfig::uniform(RATE)),
            ..LimitConfig::off()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();

    let (times, failed) = run_workers(sim.base_url(), &redis.url).await;
    let shared = sim.stats();
    let total = WORKERS as u64 * PER_WORKER;
    assert_eq!(failed, 0);
    assert_eq!(times.len() as u64, total);
    let rate = sustained_rate(&times);
    eprintln!(
        "shared Redis budget: {rate:.0}/s sustained against {RATE}/s, {} 429s of {} requests",
        shared.rate_limited, shared.requests
    );
    assert!(rate <= RATE * 1.05, "combined {rate:.0}/s over the limit");
    assert!(
        rate >= RATE * 0.90,
        "combined {rate:.0}/s under 90% of the limit"
    );
    assert!(
        shared.rate_limited as f64 <= total as f64 * 0.02,
        "{} 429s",
        shared.rate_limited
    );
    assert_eq!(shared.early_retries, 0);

    // The contrast: the same four processes, each with its own budget.
    sim.reset_stats();
    let (times, failed) = run_workers(sim.base_url(), "local").await;
    let independent = sim.stats();
    assert_eq!(failed, 0);
    eprintln!(
        "independent budgets: {:.0}/s sustained, {} 429s of {} requests",
        sustained_rate(&times),
        independent.rate_limited,
        independent.requests
    );
    assert!(
        independent.rate_limited > shared.rate_limited * 5 + 20,
        "independent budgets earned {} 429s, shared {}",
        independent.rate_limited,
        shared.rate_limited
    );
}

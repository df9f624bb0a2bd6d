//! End-to-end figures of jira-batch against jira-sim, printed as a table (not criterion:
//! one scenario runs for about a minute by design).
//!
//! 1. Fetch 10,000 issues from a simulator with Atlassian's default burst limits and 20 ms
//!    latency: (a) one GET per issue, paced by jira-ratelimit; (b) jira-ops coalesced into
//!    bulk fetches. Wall time, HTTP requests, points and 429s, from the simulator's counters.
//! 2. Peak memory (VmHWM) of a process streaming 200,000 issues to nowhere vs one streaming
//!    20,000, each in a child process against a simulator in this one.
//!
//! Run: `cargo bench -p jira-batch --bench fetch` (about 90 s). Under `cargo test` it runs a
//! small version of each scenario, as a smoke test.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jira_batch::{BatchConfig, SearchOptions, fetch_issues, search};
use jira_model::ApiRequest;
use jira_ratelimit::{LimitsConfig, RateLimited};
use jira_sim::{BurstConfig, Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_transport::{
    Auth, HttpConfig, HttpTransport, RetryPolicy, Secret, Transport, TransportExt,
};

const CHILD: &str = "JIRA_BATCH_RSS_CHILD";

fn http(base_url: &str) -> HttpTransport {
    let mut config = HttpConfig::new(
        base_url,
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        },
    );
    config.max_in_flight = 64;
    HttpTransport::new(config).unwrap()
}

/// The child: streams `count` issues from the site in `args[2]` and prints its peak RSS.
async fn child(count: usize, base_url: &str) {
    let jira = Arc::new(http(base_url).with_retries(RetryPolicy::default()));
    let options = SearchOptions {
        fields: vec!["summary".into(), "status".into(), "updated".into()],
        page_size: 100,
        prefetch: true,
    };
    let mut stream = Box::pin(search(jira, "project = APO ORDER BY key", options).take(count));
    let mut seen = 0usize;
    while let Some(issue) = stream.next().await {
        let issue = issue.expect("the stream never fails here");
        std::hint::black_box(&issue);
        seen += 1;
    }
    assert_eq!(seen, count);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    println!("{peak_kb}");
}

fn peak_rss_kb(count: usize, base_url: &str) -> u64 {
    let output = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, count.to_string())
        .arg(base_url)
        .output()
        .unwrap();
    assert!(output.status.success(), "child failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("the child prints its peak RSS")
}

struct Row {
    name: &'static str,
    wall: Duration,
    requests: u64,
    points: u64,
    rate_limited: u64,
    failures: u64,
}

async fn per_issue_gets(sim: &SimHandle, keys: &[String]) -> Row {
    sim.reset_stats();
    let jira = Arc::new(
        RateLimited::new(http(sim.base_url()), LimitsConfig::default())
            .with_retries(RetryPolicy::default()),
    );
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let keys: Arc<Vec<String>> = Arc::new(keys.to_vec());
    let started = Instant::now();
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (jira, next, failures, keys) =
                (jira.clone(), next.clone(), failures.clone(), keys.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(key) = keys.get(n) else { return };
                    match jira
                        .send(ApiRequest::get_issue(key, &["summary"], &[]))
                        .await
                    {
                        Ok(response) if response.status == 200 => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let stats = sim.stats();
    Row {
        name: "(a) one GET per issue, paced",
        wall: started.elapsed(),
        requests: stats.requests,
        points: stats.points_spent,
        rate_limited: stats.rate_limited,
        failures: failures.load(Ordering::Relaxed),
    }
}

async fn coalesced(sim: &SimHandle, keys: &[String]) -> Row {
    sim.reset_stats();
    let jira = Arc::new(
        RateLimited::new(http(sim.base_url()), LimitsConfig::default())
            .with_retries(RetryPolicy::default()),
    );
    let started = Instant::now();
    let config = BatchConfig {
        max_concurrent: 16,
        ..BatchConfig::default()
    };
    let (results, _) =
        fetch_issues::<_, jira_cache::SledStore>(&jira, None, &config, keys, &["summary"], &[])
            .await
            .unwrap();
    let stats = sim.stats();
    Row {
        name: "(b) jira-ops, coalesced bulk fetches",
        wall: started.elapsed(),
        requests: stats.requests,
        points: stats.points_spent,
        rate_limited: stats.rate_limited,
        failures: results.iter().filter(|(_, r)| r.is_err()).count() as u64,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(count) = std::env::var(CHILD) {
        let base_url = std::env::args().nth(1).expect("the site URL");
        runtime.block_on(child(count.parse().unwrap(), &base_url));
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let (issues, small, large) = if full {
        (10_000, 20_000, 200_000)
    } else {
        (300, 500, 2_000)
    };
    runtime.block_on(async {
        let sim = SimHandle::start(SimConfig {
            projects: 5,
            issues_per_project: issues / 5,
            limits: LimitConfig {
                burst: Some(BurstConfig::default()),
                ..LimitConfig::off()
            },
            faults: FaultConfig {
                rules: vec![FaultRule::new(
                    Fault::Latency {
                        fixed_ms: 20,
                        jitter_ms: 0,
                    },
                    1.0,
                )],
            },
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let keys: Vec<String> = sim
            .project_keys()
            .iter()
            .flat_map(|p| (1..=issues / 5).map(move |n| format!("{p}-{n}")))
            .collect();
        let a = per_issue_gets(&sim, &keys).await;
        let b = coalesced(&sim, &keys).await;
        println!(
            "\nScenario 1: fetch {issues} issues, Atlassian's default burst limits, 20 ms latency\n"
        );
        println!("| strategy | wall time | HTTP requests | points | 429s | failures |");
        println!("|---|---|---|---|---|---|");
        for row in [&a, &b] {
            println!(
                "| {} | {:.2} s | {} | {} | {} | {} |",
                row.name,
                row.wall.as_secs_f64(),
                row.requests,
                row.points,
                row.rate_limited,
                row.failures
            );
        }
        println!(
            "\n(b) vs (a): {:.1}× faster, {:.2}× the points, {:.3}× the requests",
            a.wall.as_secs_f64() / b.wall.as_secs_f64(),
            b.points as f64 / a.points as f64,
            b.requests as f64 / a.requests as f64
        );
        sim.shutdown().await;

        let big = SimHandle::start(SimConfig {
            projects: 1,
            issues_per_project: large,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let base_url = big.base_url().to_owned();
        let (small_kb, large_kb) = tokio::task::spawn_blocking(move || {
            (peak_rss_kb(small, &base_url), peak_rss_kb(large, &base_url))
        })
        .await
        .unwrap();
        println!("\nScenario 2: peak RSS of a process streaming a search\n");
        println!("| issues streamed | peak RSS |");
        println!("|---|---|");
        println!("| {small} | {small_kb} kB |");
        println!("| {large} | {large_kb} kB |");
        println!("\nratio: {:.3}", large_kb as f64 / small_kb as f64);
    });
}

//! The load cell: 10,000 logical requests at once through the batcher and the in-process
//! budget: no deadlock, bounded memory, every request accounted for.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_batch::{BatchConfig, Batcher, Progress};
use jira_model::ApiRequest;
use jira_ratelimit::{LimitsConfig, RateLimited};
use jira_sim::{BurstConfig, LimitConfig};
use jira_transport::{RetryPolicy, TransportExt};

use crate::common::{self, proc_status_kb, secs};
use crate::report::{Figure, Scenario};

pub async fn run(quick: bool) -> Scenario {
    let count = if quick { 2_000 } else { 10_000 };
    let rate = 2_000.0;
    let sim = common::sim(
        2,
        500,
        LimitConfig {
            burst: Some(BurstConfig::uniform(rate)),
            ..LimitConfig::off()
        },
        5,
    )
    .await;
    let keys = common::keys(&sim, 500);
    let jira = Arc::new(
        RateLimited::new(
            common::http(sim.base_url(), 256),
            LimitsConfig {
                burst: jira_ratelimit::BurstLimits::uniform(rate),
                ..LimitsConfig::default()
            },
        )
        .with_retries(RetryPolicy::default()),
    );
    // Every request in flight at once as far as the batcher is concerned: the budget and
    // the pool decide the pace.
    let mut batcher = Batcher::new(
        jira,
        BatchConfig {
            max_concurrent: count,
            ..BatchConfig::default()
        },
    );
    for n in 0..count {
        batcher.add(ApiRequest::get_issue(
            &keys[n % keys.len()],
            &["summary"],
            &[],
        ));
    }
    let rss_before = proc_status_kb("VmRSS");
    let (progress, mut events) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::spawn(async move {
        let (mut started, mut done) = (0usize, 0usize);
        let mut peak_rss = 0;
        while let Some(event) = events.recv().await {
            match event {
                Progress::Started(_) => started += 1,
                Progress::Done { .. } | Progress::Failed { .. } => {
                    done += 1;
                    if done % 500 == 0 {
                        peak_rss = peak_rss.max(proc_status_kb("VmRSS"));
                    }
                }
                _ => {}
            }
        }
        (started, done, peak_rss)
    });
    let started = Instant::now();
    let results = tokio::time::timeout(
        Duration::from_secs(240),
        batcher.run_with_progress(progress),
    )
    .await
    .expect("no deadlock: the batch ends");
    let wall = started.elapsed();
    let (began, ended, peak_rss) = watcher.await.expect("the watcher");
    let stats = sim.stats();
    sim.shutdown().await;
    let growth_mb = peak_rss.saturating_sub(rss_before) as f64 / 1024.0;
    let mut scenario = Scenario::new(
        0,
        &format!(
            "Load: {count} logical requests at once through the batcher, in-process budget, a {rate:.0}/s limit"
        ),
        &[
            "results",
            "successes",
            "failures",
            "progress started / ended",
            "429s",
            "wall",
            "minimum",
            "RSS growth",
        ],
    );
    let minimum = ((count as f64 - rate) / rate).max(0.0);
    scenario.row(vec![
        results.len().to_string(),
        results.successes().to_string(),
        results.failures().count().to_string(),
        format!("{began} / {ended}"),
        stats.rate_limited.to_string(),
        secs(wall),
        format!("{minimum:.2} s"),
        format!("{growth_mb:.1} MB"),
    ]);
    scenario.figures = vec![
        Figure::exactly(
            "results ÷ requests",
            results.len() as f64 / count as f64,
            1.0,
        ),
        Figure::exactly("failures", results.failures().count() as f64, 0.0),
        Figure::at_most("RSS growth while running (MB)", growth_mb, 256.0).hard(),
    ];
    scenario
}

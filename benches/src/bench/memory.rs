//! Scenario 6: peak RSS of a process streaming a large search against one streaming a tenth
//! of it. Each stream runs in a child process (this binary, `rss-child`) so its peak is its
//! own.

use std::sync::Arc;

use futures_util::StreamExt;
use jira_batch::{SearchOptions, search};
use jira_sim::LimitConfig;
use jira_transport::{RetryPolicy, TransportExt};

use crate::common;
use crate::report::{Figure, Scenario};

/// The child: streams `count` issues of project APO from `base_url`, prints its VmHWM (kB).
pub async fn child(count: usize, base_url: &str) {
    let jira = Arc::new(common::http(base_url, 8).with_retries(RetryPolicy::default()));
    let options = SearchOptions {
        fields: vec!["summary".into(), "status".into(), "updated".into()],
        page_size: 100,
        prefetch: true,
        limit: None,
    };
    let mut stream = Box::pin(search(jira, "project = APO ORDER BY key", options).take(count));
    let mut seen = 0usize;
    while let Some(issue) = stream.next().await {
        std::hint::black_box(issue.expect("the stream does not fail here"));
        seen += 1;
    }
    assert_eq!(seen, count, "every issue streamed");
    println!("{}", common::proc_status_kb("VmHWM"));
}

async fn peak_rss_kb(count: usize, base_url: &str) -> u64 {
    common::child_peak_rss_kb(&["rss-child", &count.to_string(), base_url]).await
}

pub async fn run(quick: bool) -> Scenario {
    let (small, large) = if quick {
        (2_000, 20_000)
    } else {
        (20_000, 200_000)
    };
    let sim = common::sim(1, large, LimitConfig::off(), 0).await;
    let base = sim.base_url().to_owned();
    let small_kb = peak_rss_kb(small, &base).await;
    let large_kb = peak_rss_kb(large, &base).await;
    sim.shutdown().await;
    let mut scenario = Scenario::new(
        6,
        "Memory: peak RSS of a process streaming a search",
        &["issues streamed", "peak RSS"],
    );
    scenario.row(vec![small.to_string(), format!("{small_kb} kB")]);
    scenario.row(vec![large.to_string(), format!("{large_kb} kB")]);
    scenario.figures = vec![Figure::at_most(
        &format!("peak RSS {large} ÷ {small}"),
        large_kb as f64 / small_kb.max(1) as f64,
        1.2,
    )];
    scenario
}

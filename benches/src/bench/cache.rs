//! Scenario 5: a cache hit against a raw sled read plus serde, and pattern invalidation by
//! prefix scan against a full scan.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_cache::{CacheConfig, Category, JiraCache, Pattern, SledStore, Target};
use serde_json::Value;

use crate::report::{Figure, Scenario};

fn issue_4k() -> Value {
    serde_json::json!({
        "id": "10001",
        "key": "PROJ-1",
        "fields": {
            "summary": "Speed up the export job for large tenants",
            "description": "x".repeat(3_700),
            "status": {"name": "In Progress"},
            "labels": ["backend", "performance"]
        }
    })
}

/// Mean time of `f` over `n` runs, best of three rounds.
async fn mean<F, Fut>(n: u32, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        for _ in 0..n {
            f().await;
        }
        best = best.min(started.elapsed() / n);
    }
    best
}

pub async fn run(quick: bool) -> Scenario {
    let (total, matching, reads) = if quick {
        (50_000, 500, 20_000)
    } else {
        (1_000_000, 10_000, 200_000)
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Arc::new(
        SledStore::open(dir.path().join("cache"), Duration::from_secs(5)).expect("sled opens"),
    );
    let cache = JiraCache::open(
        store.clone(),
        CacheConfig {
            max_size_bytes: 16 * 1024 * 1024 * 1024,
            ..CacheConfig::new("bench.example")
        },
    )
    .await
    .expect("the cache opens");
    let issue = issue_4k();
    cache
        .set(&Category::Issue, "PROJ-1", &issue)
        .await
        .expect("a set");
    let raw_dir = tempfile::tempdir().expect("a temp dir");
    let raw = sled::open(raw_dir.path()).expect("sled opens");
    raw.insert("PROJ-1", serde_json::to_vec(&issue).expect("JSON"))
        .expect("an insert");

    let hit = mean(reads, || async {
        let value: Value = cache
            .get(&Category::Issue, "PROJ-1")
            .await
            .expect("a read")
            .expect("a hit");
        std::hint::black_box(value);
    })
    .await;
    let baseline = mean(reads, || async {
        let bytes = raw.get("PROJ-1").expect("a read").expect("a value");
        let value: Value = serde_json::from_slice(&bytes).expect("JSON");
        std::hint::black_box(value);
    })
    .await;

    for i in 0..total - matching {
        cache
            .set(&Category::Issue, &format!("OTHER{}-{i}", i % 97), &1)
            .await
            .expect("a set");
    }
    for i in 0..matching {
        cache
            .set(&Category::Issue, &format!("PROJ-{i}"), &1)
            .await
            .expect("a set");
    }
    let pattern = Pattern::new("PROJ-*").expect("a pattern");
    let target = Target::Pattern(Category::Issue, pattern.clone());
    let started = Instant::now();
    let by_prefix = cache.count_matching(&target).await.expect("a count");
    let prefix_time = started.elapsed();
    let prefix = "bench.example/default/issue/";
    let started = Instant::now();
    let by_scan = store
        .tree_for_bench()
        .iter()
        .keys()
        .filter_map(Result::ok)
        .filter(|key| {
            std::str::from_utf8(key)
                .ok()
                .and_then(|k| k.strip_prefix(prefix))
                .is_some_and(|k| pattern.matches(k))
        })
        .count() as u64;
    let scan_time = started.elapsed();
    assert_eq!(by_prefix, by_scan, "both ways find the same entries");

    let mut scenario = Scenario::new(
        5,
        &format!(
            "Cache: a 4 KB issue read {reads} times; `PROJ-*` with {matching} matches among {total} entries"
        ),
        &["operation", "jira-cache", "baseline", "ratio"],
    );
    scenario.row(vec![
        "hit (get + decode)".into(),
        format!("{:.2} µs", hit.as_secs_f64() * 1e6),
        format!(
            "{:.2} µs (raw sled get + serde)",
            baseline.as_secs_f64() * 1e6
        ),
        format!("{:.2}", hit.as_secs_f64() / baseline.as_secs_f64()),
    ]);
    scenario.row(vec![
        format!("find `PROJ-*` ({by_prefix} matches)"),
        format!("{:.2} ms (prefix scan)", prefix_time.as_secs_f64() * 1e3),
        format!("{:.2} ms (full scan)", scan_time.as_secs_f64() * 1e3),
        format!(
            "{:.0}× faster",
            scan_time.as_secs_f64() / prefix_time.as_secs_f64()
        ),
    ]);
    scenario.figures = vec![
        Figure::at_most(
            "hit latency ÷ raw sled get + serde",
            hit.as_secs_f64() / baseline.as_secs_f64(),
            1.5,
        ),
        Figure::info(
            "full scan ÷ prefix scan",
            scan_time.as_secs_f64() / prefix_time.as_secs_f64(),
        ),
    ];
    scenario
}

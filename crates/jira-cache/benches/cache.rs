//! What the cache costs, against raw sled in the same run.
//!
//! - `get_hit_4k`: `JiraCache::get` of a 4 KB issue (checksum, TTL check, sampled access
//!   bookkeeping, JSON decode) vs `raw_sled_get_4k`: `sled::Tree::get` of the same bytes and
//!   the same JSON decode.
//! - `set_4k`: `JiraCache::set` of a 4 KB issue (with its indexes).
//! - `invalidate_prefix` vs `invalidate_full_scan`: counting `PROJ-*` among many entries by
//!   the pattern's literal prefix, and by scanning every key (what a cache without ordered
//!   keys must do). 1,000,000 entries with 10,000 matches under `cargo bench`; 20,000 with
//!   200 under `cargo test` (the quick smoke run).
//!
//! Run: `cargo bench -p jira-cache --bench cache`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jira_cache::{CacheConfig, Category, JiraCache, Pattern, SledStore, Target};
use serde_json::Value;

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

fn cache(c: &mut Criterion) {
    let full_run = std::env::args().any(|a| a == "--bench");
    let (total, matching) = if full_run {
        (1_000_000, 10_000)
    } else {
        (20_000, 200)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SledStore::open(dir.path().join("cache"), Duration::from_secs(5)).unwrap());
    let cache = runtime
        .block_on(JiraCache::open(
            store.clone(),
            CacheConfig {
                max_size_bytes: 16 * 1024 * 1024 * 1024,
                ..CacheConfig::new("bench.example")
            },
        ))
        .unwrap();
    let issue = issue_4k();
    let payload = serde_json::to_vec(&issue).unwrap();
    runtime
        .block_on(cache.set(&Category::Issue, "PROJ-1", &issue))
        .unwrap();
    let raw_dir = tempfile::tempdir().unwrap();
    let raw = sled::open(raw_dir.path()).unwrap();
    raw.insert("PROJ-1", payload.clone()).unwrap();

    let mut group = c.benchmark_group("cache");
    group.bench_function("get_hit_4k", |b| {
        b.iter(|| {
            let value: Value = runtime
                .block_on(cache.get(&Category::Issue, "PROJ-1"))
                .unwrap()
                .unwrap();
            assert_eq!(value["key"], "PROJ-1");
        })
    });
    // The same `block_on` around the raw read, so both sides pay the same runtime cost.
    group.bench_function("raw_sled_get_4k", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let bytes = raw.get("PROJ-1").unwrap().unwrap();
                let value: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(value["key"], "PROJ-1");
            })
        })
    });
    let mut n = 0u64;
    group.bench_function("set_4k", |b| {
        b.iter(|| {
            n += 1;
            runtime
                .block_on(cache.set(&Category::Issue, &format!("SET-{}", n % 10_000), &issue))
                .unwrap();
        })
    });
    group.finish();

    // The big key space: small values, so the test is about keys.
    runtime.block_on(async {
        let other = total - matching;
        for i in 0..other {
            cache
                .set(&Category::Issue, &format!("OTHER{}-{i}", i % 97), &1)
                .await
                .unwrap();
        }
        for i in 0..matching {
            cache
                .set(&Category::Issue, &format!("PROJ-{i}"), &1)
                .await
                .unwrap();
        }
    });
    let pattern = Pattern::new("PROJ-*").unwrap();
    let target = Target::Pattern(Category::Issue, pattern.clone());
    let prefix = "bench.example/default/issue/";
    let mut group = c.benchmark_group("invalidate");
    group.sample_size(10);
    group.bench_function("invalidate_prefix", |b| {
        b.iter(|| {
            let count = runtime.block_on(cache.count_matching(&target)).unwrap();
            assert!(count >= matching);
        })
    });
    group.bench_function("invalidate_full_scan", |b| {
        b.iter(|| {
            let tree = store.tree_for_bench();
            let count = tree
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
            assert!(count >= matching);
        })
    });
    group.finish();
}

criterion_group!(benches, cache);
criterion_main!(benches);

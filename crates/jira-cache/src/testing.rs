//! The behavioural suite every [`CacheStore`] must pass, run by this crate against sled and
//! by the end-to-end tests against a real redis-server (feature `test-suite`). Real time,
//! short TTLs: Redis keeps its own clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{CacheConfig, CacheStore, Category, JiraCache, Pattern, Source, Target};

fn config(site: &str) -> CacheConfig {
    CacheConfig {
        stale_grace: Duration::from_millis(300),
        stats_every: 1,
        ..CacheConfig::new(site)
    }
}

async fn cache<S: CacheStore + Clone>(store: &S, site: &str) -> JiraCache<S> {
    JiraCache::open(store.clone(), config(site)).await.unwrap()
}

/// Runs every case against `store` (which must start empty).
pub async fn run_all<S: CacheStore + Clone>(store: S) {
    get_set_and_ttl(&store).await;
    invalidation_by_key_pattern_and_category(&store).await;
    sites_never_share(&store).await;
    stats_survive_a_reopen(&store).await;
    stale_while_revalidate_and_stale_if_error(&store).await;
    single_flight_in_process(&store).await;
}

async fn get_set_and_ttl<S: CacheStore + Clone>(store: &S) {
    let cache = cache(store, "ttl.example").await;
    let issue = Category::Issue;
    assert_eq!(cache.get::<Value>(&issue, "PROJ-1").await.unwrap(), None);
    cache
        .set(&issue, "PROJ-1", &json!({"key": "PROJ-1"}))
        .await
        .unwrap();
    assert_eq!(
        cache.get::<Value>(&issue, "PROJ-1").await.unwrap(),
        Some(json!({"key": "PROJ-1"}))
    );
    assert!(cache.contains(&issue, "PROJ-1").await.unwrap());
    // A per-entry TTL overrides the category's.
    cache
        .set_with_ttl(
            &issue,
            "PROJ-2",
            &json!(2),
            Some(Duration::from_millis(100)),
        )
        .await
        .unwrap();
    assert!(cache.contains(&issue, "PROJ-2").await.unwrap());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!cache.contains(&issue, "PROJ-2").await.unwrap());
    assert_eq!(cache.get::<Value>(&issue, "PROJ-2").await.unwrap(), None);
    let stale = cache
        .get_stale::<Value>(&issue, "PROJ-2")
        .await
        .unwrap()
        .unwrap();
    assert!(stale.expired);
    assert_eq!(stale.value, json!(2));
    // A custom category with its own TTL.
    let custom = Category::custom("dashboards", Duration::from_millis(100)).unwrap();
    cache.set(&custom, "d1", &json!("x")).await.unwrap();
    assert!(cache.contains(&custom, "d1").await.unwrap());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!cache.contains(&custom, "d1").await.unwrap());
}

async fn invalidation_by_key_pattern_and_category<S: CacheStore + Clone>(store: &S) {
    let cache = cache(store, "patterns.example").await;
    let issue = Category::Issue;
    for key in [
        "PROJ-1",
        "PROJ-2",
        "PROJ-10",
        "PROJECT-1",
        "proj-3",
        "OTHER-1",
    ] {
        cache.set(&issue, key, &json!(key)).await.unwrap();
    }
    cache
        .set(&Category::Project, "PROJ-1", &json!("a project entry"))
        .await
        .unwrap();
    let pattern = |p: &str| Target::Pattern(issue.clone(), Pattern::new(p).unwrap());
    // The documented case, case-sensitive, in its category only; a dry run removes nothing.
    assert_eq!(cache.count_matching(&pattern("PROJ-*")).await.unwrap(), 3);
    assert_eq!(cache.count_matching(&pattern("PROJ-*")).await.unwrap(), 3);
    assert_eq!(cache.count_matching(&pattern("PROJ-?")).await.unwrap(), 2);
    assert_eq!(cache.count_matching(&pattern("*-1")).await.unwrap(), 3);
    assert_eq!(cache.invalidate(&pattern("PROJ-*")).await.unwrap(), 3);
    assert!(cache.contains(&issue, "PROJECT-1").await.unwrap());
    assert!(cache.contains(&issue, "proj-3").await.unwrap());
    assert!(cache.contains(&Category::Project, "PROJ-1").await.unwrap());
    assert_eq!(
        cache
            .invalidate(&Target::Key(issue.clone(), "OTHER-1".into()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        cache
            .invalidate(&Target::Key(issue.clone(), "OTHER-1".into()))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        cache
            .count_matching(&Target::Category(issue.clone()))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        cache
            .invalidate(&Target::Category(issue.clone()))
            .await
            .unwrap(),
        2
    );
    assert!(cache.contains(&Category::Project, "PROJ-1").await.unwrap());
}

async fn sites_never_share<S: CacheStore + Clone>(store: &S) {
    let one = cache(store, "one.atlassian.net").await;
    let two = cache(store, "https://two.atlassian.net/").await;
    one.set(&Category::Issue, "PROJ-1", &json!("one"))
        .await
        .unwrap();
    assert_eq!(
        two.get::<Value>(&Category::Issue, "PROJ-1").await.unwrap(),
        None
    );
    two.set(&Category::Issue, "PROJ-1", &json!("two"))
        .await
        .unwrap();
    assert_eq!(
        one.get::<Value>(&Category::Issue, "PROJ-1").await.unwrap(),
        Some(json!("one"))
    );
    let all = Target::Category(Category::Issue);
    assert_eq!(two.invalidate(&all).await.unwrap(), 1);
    assert_eq!(
        one.get::<Value>(&Category::Issue, "PROJ-1").await.unwrap(),
        Some(json!("one"))
    );
}

async fn stats_survive_a_reopen<S: CacheStore + Clone>(store: &S) {
    let first = cache(store, "stats.example").await;
    first
        .set(&Category::Field, "fields", &json!([1, 2]))
        .await
        .unwrap();
    for _ in 0..3 {
        first
            .get::<Value>(&Category::Field, "fields")
            .await
            .unwrap();
    }
    first
        .get::<Value>(&Category::Field, "missing")
        .await
        .unwrap();
    first.close().await.unwrap();
    let second = cache(store, "stats.example").await;
    let stats = second.stats().await.unwrap();
    let field = stats.categories["field"];
    assert_eq!((field.hits, field.misses, field.sets), (3, 1, 1));
    assert_eq!(stats.hit_rate(), 0.75);
    assert_eq!(stats.entries["field"], 1);
}

async fn stale_while_revalidate_and_stale_if_error<S: CacheStore + Clone + 'static>(store: &S) {
    let cache = cache(store, "swr.example").await;
    let custom = Category::custom("quick", Duration::from_millis(100)).unwrap();
    let fetches = Arc::new(AtomicU64::new(0));
    let fetch = |value: u64| {
        let fetches = fetches.clone();
        move || async move {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(value)
        }
    };
    let first = cache.get_or_fetch(&custom, "k", fetch(1)).await.unwrap();
    assert_eq!((first.value, first.source), (1, Source::Fetched));
    let hit = cache.get_or_fetch(&custom, "k", fetch(2)).await.unwrap();
    assert_eq!((hit.value, hit.source), (1, Source::Hit));
    // Just expired: served stale while one refresh runs in the background.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let stale = cache.get_or_fetch(&custom, "k", fetch(3)).await.unwrap();
    assert_eq!((stale.value, stale.source), (1, Source::Stale));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(cache.get::<u64>(&custom, "k").await.unwrap(), Some(3));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // Long expired and the fetch fails: the stale value, and the error.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let failing = || async { Err::<u64, _>("site unreachable") };
    let rescued = cache.get_or_fetch(&custom, "k", failing).await.unwrap();
    assert_eq!(rescued.value, 3);
    assert_eq!(
        rescued.source,
        Source::StaleOnError("site unreachable".into())
    );
    // Nothing stale to fall back on: the fetch error, named.
    let error = cache
        .get_or_fetch(&custom, "never", failing)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("site unreachable"), "{error}");
}

async fn single_flight_in_process<S: CacheStore + Clone + 'static>(store: &S) {
    let cache = cache(store, "flight.example").await;
    let fetches = Arc::new(AtomicU64::new(0));
    let callers = (0..100).map(|_| {
        let (cache, fetches) = (cache.clone(), fetches.clone());
        async move {
            cache
                .get_or_fetch(&Category::Issue, "PROJ-9", move || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, String>(json!({"key": "PROJ-9"}))
                })
                .await
                .unwrap()
        }
    });
    let results = futures_util::future::join_all(callers).await;
    assert!(results.iter().all(|r| r.value["key"] == "PROJ-9"));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

//! jira-cache on its embedded sled store: the behavioural suite, TTLs on a paused clock,
//! the size cap, the lock, permissions, and single flight against jira-sim.

use std::sync::Arc;
use std::time::Duration;

use jira_cache::{CacheConfig, Cached, Category, JiraCache, SledStore, Source, Target};
use jira_model::ApiRequest;
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use jira_transport::{Auth, HttpConfig, HttpTransport, Transport};
use serde_json::json;

fn store(dir: &tempfile::TempDir) -> Arc<SledStore> {
    Arc::new(SledStore::open(dir.path().join("cache"), Duration::from_secs(2)).unwrap())
}

#[tokio::test]
async fn the_behavioural_suite() {
    let dir = tempfile::tempdir().unwrap();
    jira_cache::testing::run_all(store(&dir)).await;
}

#[tokio::test]
async fn the_behavioural_suite_through_any_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("cache"), Duration::from_secs(2)).unwrap();
    let store = jira_cache::AnyStore::from(store);
    assert!(store.describe().starts_with("sled "));
    jira_cache::testing::run_all(Arc::new(store)).await;
}

#[tokio::test(start_paused = true)]
async fn category_ttls_on_a_paused_clock() {
    let dir = tempfile::tempdir().unwrap();
    let cache = JiraCache::open(store(&dir), CacheConfig::new("ttl.example"))
        .await
        .unwrap();
    let cases = [
        (Category::Search, Duration::from_secs(60)),
        (Category::Issue, Duration::from_secs(300)),
        (Category::Project, Duration::from_secs(3600)),
        (Category::User, Duration::from_secs(3600)),
        (Category::Field, Duration::from_secs(86_400)),
    ];
    for (category, ttl) in &cases {
        cache.set(category, "k", &json!(1)).await.unwrap();
        tokio::time::advance(*ttl - Duration::from_secs(1)).await;
        assert!(
            cache.contains(category, "k").await.unwrap(),
            "{category:?} expired early"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            !cache.contains(category, "k").await.unwrap(),
            "{category:?} outlived its TTL"
        );
    }
}

#[tokio::test]
async fn the_size_cap_evicts_expired_first_then_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let config = CacheConfig {
        max_size_bytes: 20_000,
        ..CacheConfig::new("cap.example")
    };
    let cache = JiraCache::open(store(&dir), config).await.unwrap();
    let value = "x".repeat(1_000);
    // An entry that expires at once, then entries that stay fresh.
    cache
        .set_with_ttl(&Category::Issue, "OLD-1", &value, Some(Duration::ZERO))
        .await
        .unwrap();
    for n in 0..30 {
        cache
            .set(&Category::Issue, &format!("P-{n}"), &value)
            .await
            .unwrap();
        if n == 2 {
            // P-0 is read now, so it is recently used.
            assert!(
                cache
                    .get::<String>(&Category::Issue, "P-0")
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
    assert!(cache.store().size_bytes_now() <= 20_000);
    assert!(!cache.contains(&Category::Issue, "OLD-1").await.unwrap());
    assert!(
        cache
            .get_stale::<String>(&Category::Issue, "OLD-1")
            .await
            .unwrap()
            .is_none(),
        "the expired entry goes first"
    );
    assert!(cache.contains(&Category::Issue, "P-29").await.unwrap());
    assert!(
        !cache.contains(&Category::Issue, "P-1").await.unwrap(),
        "an old, unread entry goes"
    );
    assert!(cache.stats().await.unwrap().evictions > 0);
    let error = cache
        .set(&Category::Issue, "HUGE-1", &"y".repeat(30_000))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("larger than the cache's cap"),
        "{error}"
    );
}

#[test]
fn a_second_opener_waits_then_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache");
    let _held = SledStore::open(&path, Duration::from_secs(1)).unwrap();
    let started = std::time::Instant::now();
    let error = SledStore::open(&path, Duration::from_millis(300)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
}

#[tokio::test]
async fn a_damaged_directory_is_a_clear_error_and_reset_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache");
    {
        let cache = JiraCache::open(
            SledStore::open(&path, Duration::from_secs(1)).unwrap(),
            CacheConfig::new("site"),
        )
        .await
        .unwrap();
        for n in 0..200 {
            cache
                .set(
                    &Category::Issue,
                    &format!("P-{n}"),
                    &json!({"n": n, "pad": "x".repeat(500)}),
                )
                .await
                .unwrap();
        }
        cache.close().await.unwrap();
    }
    // The store's configuration file cut in half, as a full disk or a crash leaves it:
    // sled refuses (or panics on) such a directory.
    let conf = path.join("conf");
    let len = std::fs::metadata(&conf).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&conf)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let error = match SledStore::open(&path, Duration::from_secs(1)) {
        Ok(_) => panic!("a damaged directory opened"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert!(
        matches!(error, jira_cache::Error::Damaged { .. }),
        "{message}"
    );
    assert!(message.contains("cache clear --reset"), "{message}");
    let aside = SledStore::reset(&path).unwrap().unwrap();
    assert!(aside.exists(), "moved aside, not deleted");
    let fresh = SledStore::open(&path, Duration::from_secs(1)).unwrap();
    assert_eq!(fresh.size_bytes_now(), 0);
    assert_eq!(SledStore::reset(dir.path().join("none")).unwrap(), None);
}

#[cfg(unix)]
#[test]
fn the_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache");
    let _store = SledStore::open(&path, Duration::from_secs(1)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o700);
    for item in std::fs::read_dir(&path).unwrap() {
        let item = item.unwrap().path();
        if item.is_file() {
            assert_eq!(mode(&item), 0o600, "{}", item.display());
        }
    }
}

/// A small simulator without limits, and a transport to it.
async fn sim_and_http() -> (SimHandle, HttpTransport) {
    let sim = SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 10,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let http = HttpTransport::new(HttpConfig::new(sim.base_url(), {
        let (email, token) = sim.basic_auth();
        Auth::basic(email, token)
    }))
    .unwrap();
    (sim, http)
}

#[tokio::test]
async fn a_hundred_callers_cause_one_request_to_jira_sim() {
    let (sim, http) = sim_and_http().await;
    let http = Arc::new(http);
    let dir = tempfile::tempdir().unwrap();
    let cache = JiraCache::open(store(&dir), CacheConfig::new(sim.base_url()))
        .await
        .unwrap();
    let callers = (0..100).map(|_| {
        let (cache, http) = (cache.clone(), http.clone());
        async move {
            cache
                .get_or_fetch(&Category::Issue, "APO-3", move || async move {
                    let response = http
                        .send(ApiRequest::get_issue("APO-3", &[], &[]))
                        .await
                        .map_err(|e| e.to_string())?;
                    response
                        .json::<serde_json::Value>()
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap()
        }
    });
    let results = futures_util::future::join_all(callers).await;
    assert!(results.iter().all(|r| r.value["key"] == "APO-3"));
    // Every caller got the one fetch's value (those that came after it landed, as a hit).
    assert!(
        results
            .iter()
            .all(|r| matches!(r.source, Source::Fetched | Source::Hit))
    );
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn the_read_through_layer_serves_hits_and_invalidates_on_writes() {
    let (sim, http) = sim_and_http().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = JiraCache::open(store(&dir), CacheConfig::new(sim.base_url()))
        .await
        .unwrap();
    let jira = Cached::new(http, cache.clone());
    let get = || ApiRequest::get_issue("APO-1", &["summary"], &[]);
    let first = jira.send(get()).await.unwrap();
    let second = jira.send(get()).await.unwrap();
    assert_eq!(first.body, second.body);
    assert_eq!(second.headers[jira_cache::CACHE_HEADER], "hit");
    assert_eq!(sim.stats().requests, 1, "the hit never reached the wire");
    // A search page is cached too, and a write to the project invalidates it.
    let search = jira_model::SearchRequest {
        jql: "project = APO".into(),
        ..Default::default()
    };
    jira.send(ApiRequest::search(&search).unwrap())
        .await
        .unwrap();
    jira.send(ApiRequest::search(&search).unwrap())
        .await
        .unwrap();
    assert_eq!(sim.stats().requests, 2);
    let mut update = jira_model::IssueUpdate::default();
    update
        .fields
        .insert("summary".into(), json!("Renamed through the cache"));
    assert_eq!(
        jira.send(ApiRequest::update_issue("APO-1", &update).unwrap())
            .await
            .unwrap()
            .status,
        204
    );
    let fresh = jira.send(get()).await.unwrap();
    assert!(String::from_utf8_lossy(&fresh.body).contains("Renamed through the cache"));
    jira.send(ApiRequest::search(&search).unwrap())
        .await
        .unwrap();
    assert_eq!(
        sim.stats().requests,
        5,
        "the issue and the search were fetched again"
    );
    assert_eq!(
        cache
            .count_matching(&Target::Category(Category::Issue))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn stats_and_entries_survive_closing_and_reopening_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache");
    {
        let store = SledStore::open(&path, Duration::from_secs(2)).unwrap();
        let cache = JiraCache::open(store, CacheConfig::new("reopen.example"))
            .await
            .unwrap();
        cache
            .set(&Category::Project, "APO", &json!({"key": "APO"}))
            .await
            .unwrap();
        assert!(
            cache
                .get::<serde_json::Value>(&Category::Project, "APO")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            cache
                .get::<serde_json::Value>(&Category::Project, "NOPE")
                .await
                .unwrap()
                .is_none()
        );
        cache.close().await.unwrap();
    }
    let store = SledStore::open(&path, Duration::from_secs(2)).unwrap();
    let bytes = store.size_bytes_now();
    assert!(bytes > 0, "the byte count is restored after a clean close");
    let cache = JiraCache::open(store, CacheConfig::new("reopen.example"))
        .await
        .unwrap();
    let stats = cache.stats().await.unwrap();
    let project = stats.categories["project"];
    assert_eq!((project.hits, project.misses, project.sets), (1, 1, 1));
    assert_eq!(stats.entries["project"], 1);
    assert_eq!(stats.bytes, bytes);
}

#[test]
fn the_default_directory_follows_xdg() {
    let dir = SledStore::default_dir().expect("HOME or XDG_CACHE_HOME is set in tests");
    assert!(dir.ends_with("jira-ops/cache"), "{}", dir.display());
}

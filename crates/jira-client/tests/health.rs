//! `check_health` against jira-sim over HTTP: a healthy site, wrong credentials, an
//! unreachable site, a site near its limit, and a cold cache.

use std::time::Duration;

use jira_cache::{CacheConfig, Category, JiraCache, SledStore};
use jira_client::health::{Failure, HealthOptions, Status, check_health};
use jira_sim::{BurstConfig, LimitConfig, SimConfig, SimHandle};
use jira_transport::{Auth, HttpConfig, HttpTransport, Secret};

async fn sim(limits: LimitConfig) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 10,
        limits,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn http(base_url: &str, token: &str) -> HttpTransport {
    HttpTransport::new(HttpConfig::new(
        base_url,
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new(token),
        },
    ))
    .unwrap()
}

#[tokio::test]
async fn a_healthy_site_and_cache_pass_every_check() {
    let sim = sim(LimitConfig::atlassian()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("cache"), Duration::from_secs(2)).unwrap();
    let cache = JiraCache::open(store, CacheConfig::new("sim"))
        .await
        .unwrap();
    cache.set(&Category::Field, "all", &"fields").await.unwrap();
    for _ in 0..90 {
        cache.get::<String>(&Category::Field, "all").await.unwrap();
    }
    for _ in 0..10 {
        cache.get::<String>(&Category::Field, "none").await.unwrap();
    }

    let report = check_health(
        &http(sim.base_url(), "sim-token"),
        Some(&cache),
        &HealthOptions::default(),
    )
    .await;
    assert_eq!(report.status, Status::Healthy, "{report:#?}");
    assert_eq!(report.failure, None);
    assert!(
        report.user.as_deref().unwrap().contains("sim@example.com"),
        "{report:?}"
    );
    assert!(report.server.is_some());
    // 1 + 1 + 3 samples, every one answered.
    assert_eq!(report.latencies_ms.len(), 5);
    assert_eq!(sim.stats().requests, 5);
    let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "connectivity",
            "server",
            "latency",
            "rate_limit",
            "error_rate",
            "cache_hit_rate",
            "cache_size"
        ]
    );
    assert_eq!(report.check("cache_hit_rate").unwrap().value, Some(0.9));
    let headroom = report.check("rate_limit").unwrap().value.unwrap();
    assert!(headroom > 0.2, "{headroom}");
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_failure() {
    let sim = sim(LimitConfig::off()).await;
    let report = check_health::<_, SledStore>(
        &http(sim.base_url(), "wrong"),
        None,
        &HealthOptions::default(),
    )
    .await;
    assert_eq!(report.status, Status::Unhealthy);
    assert_eq!(report.failure, Some(Failure::Auth));
    assert!(
        report.checks[0].detail.contains("401"),
        "{:?}",
        report.checks[0]
    );
    // Nothing more is tried once the credentials are refused.
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn an_unreachable_site_is_unhealthy() {
    let sim = sim(LimitConfig::off()).await;
    let url = sim.base_url().to_string();
    sim.shutdown().await;
    let report =
        check_health::<_, SledStore>(&http(&url, "sim-token"), None, &HealthOptions::default())
            .await;
    assert_eq!(report.status, Status::Unhealthy);
    assert_eq!(report.failure, Some(Failure::Unreachable));
}

#[tokio::test]
async fn little_headroom_and_a_cold_cache_are_graded_down() {
    // A bucket of 5 requests a second: five quick requests leave almost nothing.
    let sim = sim(LimitConfig {
        burst: Some(BurstConfig::uniform(5.0)),
        ..LimitConfig::off()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("cache"), Duration::from_secs(2)).unwrap();
    let cache = JiraCache::open(store, CacheConfig::new("sim"))
        .await
        .unwrap();
    for n in 0..100 {
        cache
            .get::<String>(&Category::Issue, &format!("K-{n}"))
            .await
            .unwrap();
    }
    let report = check_health(
        &http(sim.base_url(), "sim-token"),
        Some(&cache),
        &HealthOptions::default(),
    )
    .await;
    let headroom = report.check("rate_limit").unwrap();
    assert_ne!(headroom.status, Status::Healthy, "{headroom:?}");
    let hit_rate = report.check("cache_hit_rate").unwrap();
    assert_eq!(hit_rate.status, Status::Unhealthy, "{hit_rate:?}");
    assert_eq!(hit_rate.value, Some(0.0));
    assert_eq!(report.status, Status::Unhealthy);
    assert_eq!(report.failure, None, "the site itself works");
}

/// The site, on the scripted double: `/myself` and `/serverInfo` answer at once.
fn healthy_double() -> jira_transport::testing::Scripted {
    use jira_transport::testing::{Scripted, Step};
    Scripted::new([Step::json(
        200,
        r#"{"accountId":"a","displayName":"Ann","emailAddress":"ann@example.com"}"#,
    )])
    .then_always(Step::json(
        200,
        r#"{"baseUrl":"https://x","version":"1001.0.0","deploymentType":"Cloud"}"#,
    ))
}

#[tokio::test(start_paused = true)]
async fn a_cold_run_is_graded_only_while_it_is_recent() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("cache"), Duration::from_secs(2)).unwrap();
    let cache = JiraCache::open(store, CacheConfig::new("sim"))
        .await
        .unwrap();
    for n in 0..500 {
        cache
            .get::<String>(&Category::Issue, &format!("K-{n}"))
            .await
            .unwrap();
    }
    let report = check_health(&healthy_double(), Some(&cache), &HealthOptions::default()).await;
    let hit_rate = report.check("cache_hit_rate").unwrap();
    assert_eq!(hit_rate.status, Status::Unhealthy, "{hit_rate:?}");
    // Twenty minutes later the cold run is history: too few recent reads to grade.
    tokio::time::advance(Duration::from_secs(20 * 60)).await;
    let report = check_health(&healthy_double(), Some(&cache), &HealthOptions::default()).await;
    let hit_rate = report.check("cache_hit_rate").unwrap();
    assert_eq!(hit_rate.status, Status::Healthy, "{hit_rate:?}");
    assert!(hit_rate.detail.starts_with("not graded"), "{hit_rate:?}");
    assert_eq!(report.status, Status::Healthy, "{report:#?}");
    // The statistics persist, the window with them.
    cache.close().await.unwrap();
    assert!(!cache.stats().await.unwrap().recent.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_429_on_myself_names_the_budget_and_when_it_resets() {
    use jira_transport::testing::{Scripted, Step};
    let wire = Scripted::new([Step::status(429)
        .header("retry-after", "42")
        .header("ratelimit-reason", "jira-quota-tenant-based")]);
    let report = check_health::<_, SledStore>(&wire, None, &HealthOptions::default()).await;
    let connectivity = report.check("connectivity").unwrap();
    assert_eq!(connectivity.status, Status::Unhealthy);
    assert!(
        connectivity.detail.contains("jira-quota-tenant-based")
            && connectivity.detail.contains("retry in 42 s"),
        "{connectivity:?}"
    );
    let json = serde_json::to_value(&report).unwrap();
    let at = json["checked_at"].as_str().unwrap();
    assert!(at.len() >= 20 && at.ends_with('Z'), "{at}");
}

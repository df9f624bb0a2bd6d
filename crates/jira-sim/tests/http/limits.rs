//! Atlassian's three limits as a plain HTTP client meets them.

use std::time::Duration;

use jira_sim::{BurstConfig, LimitConfig, PerIssueConfig, QuotaConfig, QuotaKind, SimConfig};
use reqwest::Method;
use serde_json::json;

use crate::Sim;

async fn sim_with(limits: LimitConfig) -> Sim {
    Sim::start(SimConfig {
        projects: 2,
        issues_per_project: 20,
        limits,
        ..SimConfig::default()
    })
    .await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_burst_at_twice_the_limit_gets_429s_with_full_headers() {
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(20.0)),
        ..LimitConfig::off()
    })
    .await;
    let requests = (0..40).map(|_| sim.request(Method::GET, "/rest/api/3/issue/APO-1").send());
    let started = std::time::Instant::now();
    let responses = futures_util::future::join_all(requests).await;
    let burst_took = started.elapsed().as_secs_f64();
    let mut ok: u64 = 0;
    let mut limited = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => {
                ok += 1;
                assert_eq!(header(&response, "x-ratelimit-limit"), Some("20"));
                assert!(header(&response, "x-ratelimit-remaining").is_some());
                assert!(header(&response, "x-ratelimit-nearlimit").is_some());
            }
            429 => {
                limited += 1;
                assert_eq!(
                    header(&response, "ratelimit-reason"),
                    Some("jira-burst-based")
                );
                assert_eq!(header(&response, "x-ratelimit-limit"), Some("20"));
                assert_eq!(header(&response, "x-ratelimit-remaining"), Some("0"));
                let retry_after: u64 = header(&response, "retry-after").unwrap().parse().unwrap();
                assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
                let reset = header(&response, "x-ratelimit-reset").unwrap();
                assert!(reset.ends_with('Z') && reset.len() == 20, "reset {reset}");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // The bucket holds 20; while the burst is in flight it refills at 20 a second, which a
    // busy machine stretches, so allow what the measured duration could have refilled.
    let refill = (burst_took * 20.0).ceil() as u64;
    assert!(
        (20..=20 + refill + 1).contains(&ok),
        "{ok} admitted in {burst_took:.3}s"
    );
    assert!(limited >= 10, "only {limited} of 40 refused");
    assert_eq!(ok + limited, 40);
    let stats = sim.handle.stats();
    assert_eq!(stats.rate_limited, limited);
    assert_eq!(stats.rate_limited_by_reason["jira-burst-based"], limited);
    // Other endpoints have their own buckets.
    assert_eq!(sim.get("/rest/api/3/field").await.0, 200);
}

#[tokio::test]
async fn the_quota_denies_everything_until_the_scaled_hour_resets() {
    // An "hour" of 3 seconds, and 20 points in it: ten single-issue GETs.
    let sim = sim_with(LimitConfig {
        quota: Some(QuotaConfig {
            points_per_hour: 20,
            kind: QuotaKind::Tenant,
        }),
        time_scale: 1200.0,
        ..LimitConfig::off()
    })
    .await;
    let mut admitted = 0;
    let denial = loop {
        let response = sim
            .request(Method::GET, "/rest/api/3/issue/APO-1")
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            break response;
        }
        assert!(
            header(&response, "beta-ratelimit-policy")
                .unwrap()
                .contains("q=20;w=3600")
        );
        admitted += 1;
        assert!(admitted <= 20, "the quota never denied");
    };
    assert!(admitted >= 10, "only {admitted} admitted");
    assert_eq!(
        header(&denial, "ratelimit-reason"),
        Some("jira-quota-tenant-based")
    );
    let retry_after: u64 = header(&denial, "retry-after").unwrap().parse().unwrap();
    assert!((1..=3).contains(&retry_after));
    // Every endpoint is denied, not just the one that spent the points.
    let (status, _) = sim.get("/rest/api/3/field").await;
    assert_eq!(status, 429);
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(sim.get("/rest/api/3/issue/APO-1").await.0, 200);
}

#[tokio::test]
async fn per_issue_writes_limit_only_that_issue() {
    let sim = sim_with(LimitConfig {
        per_issue_writes: Some(PerIssueConfig::default()),
        ..LimitConfig::off()
    })
    .await;
    let edit = json!({"fields": {"labels": ["busy"]}});
    for n in 0..20 {
        assert_eq!(
            sim.put("/rest/api/3/issue/APO-1", &edit).await.0,
            204,
            "write {n}"
        );
    }
    let response = sim
        .request(Method::PUT, "/rest/api/3/issue/APO-1")
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(
        header(&response, "ratelimit-reason"),
        Some("jira-per-issue-on-write")
    );
    assert_eq!(header(&response, "x-ratelimit-limit"), Some("20"));
    // The same issue by id shares the window; comments are writes too.
    let (status, _) = sim
        .post("/rest/api/3/issue/10000/comment", &json!({"body": "hello"}))
        .await;
    assert_eq!(status, 429);
    // Reads and other issues go on.
    assert_eq!(sim.get("/rest/api/3/issue/APO-1").await.0, 200);
    assert_eq!(sim.put("/rest/api/3/issue/APO-2", &edit).await.0, 204);
}

#[tokio::test]
async fn hidden_limits_show_headers_only_on_the_429() {
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(2.0)),
        advertise: false,
        ..LimitConfig::off()
    })
    .await;
    let first = sim
        .request(Method::GET, "/rest/api/3/field")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-ratelimit-remaining"), None);
    assert_eq!(header(&first, "x-ratelimit-limit"), None);
    sim.get("/rest/api/3/field").await;
    let denied = sim
        .request(Method::GET, "/rest/api/3/field")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 429);
    assert_eq!(header(&denied, "x-ratelimit-limit"), Some("2"));
}

#[tokio::test]
async fn early_retries_are_counted_per_client_and_scope() {
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(1.0)),
        ..LimitConfig::off()
    })
    .await;
    let path = "/rest/api/3/issue/APO-1";
    assert_eq!(sim.get(path).await.0, 200);
    let denied = sim.request(Method::GET, path).send().await.unwrap();
    assert_eq!(denied.status(), 429);
    let retry_after: u64 = header(&denied, "retry-after").unwrap().parse().unwrap();
    // A retry past the grace period but before Retry-After is early.
    tokio::time::sleep(Duration::from_millis(200)).await;
    sim.get(path).await;
    assert_eq!(sim.handle.stats().early_retries, 1);
    // Another endpoint is another scope.
    sim.get("/rest/api/3/field").await;
    assert_eq!(sim.handle.stats().early_retries, 1);
    // Honouring Retry-After is not early.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(sim.get(path).await.0, 200);
    assert_eq!(sim.handle.stats().early_retries, 1);
}

#[tokio::test]
async fn limits_change_at_run_time_through_the_admin_api() {
    let sim = sim_with(LimitConfig::off()).await;
    let limits = json!({"burst": {"get": 1.0, "post": 1.0, "put": 1.0, "delete": 1.0, "overrides": []}, "advertise": true});
    assert_eq!(
        sim.admin_put("/__sim/limits", limits.to_string()).await.0,
        204
    );
    assert_eq!(sim.get("/rest/api/3/field").await.0, 200);
    assert_eq!(sim.get("/rest/api/3/field").await.0, 429);
    let current: serde_json::Value = sim.admin_get("/__sim/limits").await;
    assert_eq!(current["burst"]["get"], 1.0);
    let (status, message) = sim.admin_put("/__sim/limits", r#"{"burst": "fast"}"#).await;
    assert_eq!(status, 400);
    assert!(message.contains("invalid limit config"), "{message}");
    // Reset refills the buckets and zeroes the counters.
    let reset = sim
        .client
        .post(sim.url("/__sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(sim.handle.stats().requests, 0);
    assert_eq!(sim.get("/rest/api/3/field").await.0, 200);
}

/// Sends sequential GETs until one is refused; returns the refusal and how many passed.
async fn first_refusal(sim: &Sim) -> (reqwest::Response, usize) {
    for passed in 0..1_000 {
        let response = sim
            .request(Method::GET, "/rest/api/3/issue/APO-1")
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            return (response, passed);
        }
    }
    panic!("no refusal in 1,000 requests");
}

#[tokio::test]
async fn a_bucket_can_hold_fewer_tokens_than_it_refills_a_second() {
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(50.0).with_capacity(20.0)),
        advertise: false,
        ..LimitConfig::off()
    })
    .await;
    let (refusal, passed) = first_refusal(&sim).await;
    // 20 tokens, plus what refilled at 50 a second while they were spent.
    assert!(
        (20..30).contains(&passed),
        "{passed} passed before the first 429"
    );
    assert_eq!(header(&refusal, "x-ratelimit-limit"), Some("50"));
}

#[tokio::test]
async fn refusals_can_say_when_as_strict_servers_do() {
    use jira_sim::{RefusalHeaders, ResetFormat, RetryAfterFormat};
    let strict = |retry_after, reset| LimitConfig {
        burst: Some(BurstConfig::uniform(5.0)),
        refusal: RefusalHeaders { retry_after, reset },
        ..LimitConfig::off()
    };
    // Minute precision, rounded up; Retry-After as an HTTP date not before the wait.
    let sim = sim_with(strict(RetryAfterFormat::HttpDate, ResetFormat::Minute)).await;
    let (refusal, _) = first_refusal(&sim).await;
    let reset = header(&refusal, "x-ratelimit-reset").unwrap();
    assert!(reset.len() == 17 && reset.ends_with('Z'), "reset {reset}");
    let retry_at = httpdate::parse_http_date(header(&refusal, "retry-after").unwrap()).unwrap();
    assert!(
        retry_at > std::time::SystemTime::now(),
        "the date is in the future"
    );
    let reset_at: std::time::SystemTime = time::OffsetDateTime::parse(
        &format!("{}:00Z", reset.trim_end_matches('Z')),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .into();
    assert!(
        reset_at >= retry_at - Duration::from_secs(1),
        "{reset} before the wait ends"
    );
    // Neither header at all.
    let sim = sim_with(strict(RetryAfterFormat::Absent, ResetFormat::Absent)).await;
    let (refusal, _) = first_refusal(&sim).await;
    assert!(header(&refusal, "retry-after").is_none());
    assert!(header(&refusal, "x-ratelimit-reset").is_none());
    assert_eq!(
        header(&refusal, "ratelimit-reason"),
        Some("jira-burst-based")
    );
}

#[tokio::test]
async fn the_renew_penalty_punishes_requests_during_a_wait_and_the_counters_tell_who_sent_them() {
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(50.0).with_capacity(3.0)),
        renew_penalty: true,
        ..LimitConfig::off()
    })
    .await;
    let path = "/rest/api/3/issue/APO-1";
    // Five at once: three served, two refused, the second of them already on its way.
    let responses =
        futures_util::future::join_all((0..5).map(|_| sim.request(Method::GET, path).send())).await;
    let refused = responses
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == 429)
        .count();
    assert_eq!(refused, 2);
    let stats = sim.handle.stats();
    assert_eq!(stats.early_retries, 0, "{stats:?}");
    assert_eq!(stats.refused_during_wait, stats.in_flight_during_wait);
    // A retry 300 ms later: the bucket has refilled, but the wait of one second runs, so
    // it is refused as a true early retry, and the wait starts over.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = sim.request(Method::GET, path).send().await.unwrap();
    assert_eq!(early.status(), 429);
    assert_eq!(header(&early, "retry-after"), Some("1"));
    let stats = sim.handle.stats();
    assert_eq!(stats.early_retries, 1);
    assert_eq!(stats.refused_during_wait, stats.in_flight_during_wait + 1);
    // 1.05 s after the first refusal the renewed wait still runs.
    tokio::time::sleep(Duration::from_millis(750)).await;
    assert_eq!(sim.get(path).await.0, 429);
    // Waiting out the renewed second is served.
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_eq!(sim.get(path).await.0, 200);
}

#[tokio::test]
async fn the_renew_penalty_is_a_flag_and_an_admin_switch() {
    let sim = sim_with(LimitConfig::off()).await;
    let limits = json!({"burst": {"get": 1.0, "post": 1.0, "put": 1.0, "delete": 1.0, "overrides": [], "capacity": 1.0}, "renew_penalty": true});
    assert_eq!(
        sim.admin_put("/__sim/limits", limits.to_string()).await.0,
        204
    );
    let current: serde_json::Value = sim.admin_get("/__sim/limits").await;
    assert_eq!(current["renew_penalty"], true);
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: jira_sim::cli::ServeArgs,
    }
    let cli =
        Cli::try_parse_from(["jira-sim", "--renew-penalty", "--burst-capacity", "20"]).unwrap();
    let config = cli.serve.to_config().unwrap();
    assert!(config.limits.renew_penalty);
    assert_eq!(config.limits.burst.unwrap().capacity, Some(20.0));
}

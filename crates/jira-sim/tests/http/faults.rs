//! Each injected fault, as a plain reqwest client observes it.

use std::time::{Duration, Instant};

use jira_sim::{Fault, FaultConfig, FaultRule};
use reqwest::Method;
use serde_json::json;

use crate::Sim;

const ISSUE: &str = "/rest/api/3/issue/{issueIdOrKey}";

async fn sim_with(rule: FaultRule) -> Sim {
    let sim = Sim::small().await;
    sim.handle.set_faults(FaultConfig { rules: vec![rule] });
    sim
}

#[tokio::test]
async fn status_faults_hit_only_their_endpoint() {
    let sim = sim_with(FaultRule::new(Fault::Status { status: 502 }, 1.0).on(ISSUE)).await;
    let (status, body) = sim.get("/rest/api/3/issue/APO-1").await;
    assert_eq!(status, 502);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("injected")
    );
    assert_eq!(sim.get("/rest/api/3/field").await.0, 200);
    let stats = sim.handle.stats();
    assert_eq!(stats.faults["status"], 1);
    assert_eq!(stats.with_status(502), 1);
}

#[tokio::test]
async fn probability_is_honoured() {
    let sim = sim_with(FaultRule::new(Fault::Status { status: 500 }, 0.3)).await;
    let mut failures = 0;
    for _ in 0..400 {
        if sim.get("/rest/api/3/field").await.0 == 500 {
            failures += 1;
        }
    }
    // 30% of 400 is 120; five standard deviations is about 46.
    assert!((74..=166).contains(&failures), "{failures} failures");
}

/// The statuses 60 sequential reads meet on a simulator seeded `seed` with a 50% fault.
async fn fault_sequence(seed: u64) -> Vec<u16> {
    let sim = Sim::start(jira_sim::SimConfig {
        seed,
        projects: 1,
        issues_per_project: 5,
        limits: jira_sim::LimitConfig::off(),
        faults: FaultConfig {
            rules: vec![FaultRule::new(Fault::Status { status: 503 }, 0.5)],
        },
        ..jira_sim::SimConfig::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(sim.get("/rest/api/3/field").await.0);
    }
    statuses
}

#[tokio::test]
async fn the_seed_decides_which_requests_meet_a_fault() {
    let first = fault_sequence(7).await;
    assert!(first.contains(&503) && first.contains(&200), "{first:?}");
    assert_eq!(
        first,
        fault_sequence(7).await,
        "the same seed, the same faults"
    );
    assert_ne!(first, fault_sequence(8).await, "another seed, other faults");
}

#[tokio::test]
async fn unavailable_carries_retry_after() {
    let sim = sim_with(FaultRule::new(
        Fault::Unavailable {
            retry_after_secs: 2,
        },
        1.0,
    ))
    .await;
    let response = sim
        .request(Method::GET, "/rest/api/3/myself")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
}

#[tokio::test]
async fn reset_drops_the_connection_without_an_answer() {
    let sim = sim_with(FaultRule::new(Fault::Reset, 1.0).method("POST")).await;
    let error = sim
        .request(Method::POST, "/rest/api/3/issue/bulkfetch")
        .json(&json!({"issueIdsOrKeys": ["APO-1"]}))
        .send()
        .await
        .expect_err("a reset connection gives no response");
    assert!(!error.is_timeout(), "{error}");
    assert_eq!(sim.handle.stats().faults["reset"], 1);
    // The server is fine afterwards.
    assert_eq!(sim.get("/rest/api/3/myself").await.0, 200);
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let sim = sim_with(FaultRule::new(
        Fault::Latency {
            fixed_ms: 200,
            jitter_ms: 50,
        },
        1.0,
    ))
    .await;
    let started = Instant::now();
    assert_eq!(sim.get("/rest/api/3/myself").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_hang_outlasts_the_client_timeout() {
    let sim = sim_with(FaultRule::new(Fault::Hang { ms: 30_000 }, 1.0)).await;
    let started = Instant::now();
    let error = sim
        .request(Method::GET, "/rest/api/3/myself")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("the hang outlasts the timeout");
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn truncated_bodies_fail_to_read() {
    let sim = sim_with(FaultRule::new(Fault::Truncated, 1.0).on(ISSUE)).await;
    let response = sim
        .request(Method::GET, "/rest/api/3/issue/APO-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let declared = response.content_length().unwrap();
    assert!(declared > 100);
    assert!(
        response.bytes().await.is_err(),
        "the body must not arrive whole"
    );
    assert_eq!(sim.handle.stats().faults["truncated"], 1);
}

#[tokio::test]
async fn malformed_bodies_are_not_json() {
    let sim = sim_with(FaultRule::new(Fault::Malformed, 1.0)).await;
    let response = sim
        .request(Method::GET, "/rest/api/3/issue/APO-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_err());
}

#[tokio::test]
async fn faults_change_at_run_time_through_the_admin_api() {
    let sim = Sim::small().await;
    let rules = json!({"rules": [{"fault": {"kind": "status", "status": 504}, "probability": 1.0, "endpoint": "/rest/api/3/field"}]});
    assert_eq!(
        sim.admin_put("/__sim/faults", rules.to_string()).await.0,
        204
    );
    assert_eq!(sim.get("/rest/api/3/field").await.0, 504);
    assert_eq!(sim.get("/rest/api/3/myself").await.0, 200);
    let current: serde_json::Value = sim.admin_get("/__sim/faults").await;
    assert_eq!(current, rules);
    let bad = json!({"rules": [{"fault": {"kind": "reset"}, "probability": 5.0}]});
    let (status, message) = sim.admin_put("/__sim/faults", bad.to_string()).await;
    assert_eq!(status, 400);
    assert!(message.contains("probability 5"), "{message}");
    let stats: jira_sim::StatsSnapshot = sim.admin_get("/__sim/stats").await;
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.faults["status"], 1);
}

#[tokio::test]
async fn a_lost_response_means_the_work_was_done() {
    let sim =
        sim_with(FaultRule::new(Fault::LostResponse { status: 504 }, 1.0).method("POST")).await;
    let create = json!({"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}, "summary": "Lost"}});
    assert_eq!(sim.post("/rest/api/3/issue", &create).await.0, 504);
    // The client saw a failure, but the issue exists: retrying would duplicate it.
    assert_eq!(sim.handle.stats().issues_created, 1);
    assert_eq!(sim.post("/rest/api/3/issue", &create).await.0, 504);
    assert_eq!(sim.handle.stats().duplicate_creates, 1);
}

//! Webhooks: a signed delivery invalidates the issue it names once, however often it is
//! delivered; a bad signature is refused and changes nothing.

use std::time::{Duration, Instant};

use jira_client::{Auth, Secret};
use jira_ops_tests::sim::rest;
use jira_proxy::{CACHE_HEADER, ProxyConfig, WEBHOOK_PATH};
use jira_sim::LimitConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{call, sim, start_proxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_elsewhere_delivered_twice_and_late_replaces_the_cached_issue_once() {
    let sim = sim(LimitConfig::off()).await;
    let proxy = start_proxy(
        &sim,
        Auth::None,
        ProxyConfig {
            webhook_secret: Some(Secret::new("hook-secret")),
            ..ProxyConfig::default()
        },
        Duration::from_secs(60),
    )
    .await;
    // Every delivery twice, every one late.
    sim.set_realism(jira_sim::Realism {
        webhook_duplicate_rate: 1.0,
        webhook_late_rate: 1.0,
        webhook_late_ms: 300,
        ..jira_sim::Realism::default()
    });
    let (status, _) = rest(
        &sim,
        Method::PUT,
        "/__sim/webhooks",
        Some(json!([{"url": format!("{}{WEBHOOK_PATH}", proxy.url), "secret": "hook-secret", "events": ["jira:issue_updated"]}])),
    )
    .await;
    assert!(status < 300);
    let key = sim.issue_keys(&sim.project_keys()[0])[0].clone();
    let path = format!("/rest/api/3/issue/{key}?fields=summary");
    let read = || async {
        let response = call(&proxy, &sim, Method::GET, &path).send().await.unwrap();
        let mark = response.headers().get(CACHE_HEADER).is_some();
        let body: Value = response.json().await.unwrap();
        (body["fields"]["summary"].as_str().unwrap().to_owned(), mark)
    };
    read().await;
    assert!(read().await.1, "the second read is a hit");

    // A bad signature is refused and removes nothing.
    let forged = reqwest::Client::new()
        .post(format!("{}{WEBHOOK_PATH}", proxy.url))
        .header("x-hub-signature", "sha256=00")
        .header("x-atlassian-webhook-identifier", "forged-1")
        .json(&json!({"webhookEvent": "jira:issue_updated", "issue": {"key": key}}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert!(read().await.1, "a forged delivery invalidated the entry");

    // Another tool edits the issue straight at the site.
    let (status, _) = rest(
        &sim,
        Method::PUT,
        &format!("/rest/api/3/issue/{key}"),
        Some(json!({"fields": {"summary": "Edited elsewhere"}})),
    )
    .await;
    assert_eq!(status, 204);
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.stats().await.webhooks_applied == 0 {
        assert!(Instant::now() < deadline, "no webhook was applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (summary, hit) = read().await;
    assert_eq!(summary, "Edited elsewhere");
    assert!(!hit);
    assert!(read().await.1, "the new answer is cached again");
    // The redelivery changes nothing: the entry stays.
    while proxy.stats().await.webhooks_duplicate == 0 {
        assert!(Instant::now() < deadline, "no redelivery arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(read().await.1, "a redelivery invalidated the entry again");
    let stats = proxy.stats().await;
    assert_eq!(stats.webhooks_applied, 1, "{stats:?}");
    assert_eq!(stats.webhooks_refused, 1);
}

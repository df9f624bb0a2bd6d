//! Webhooks: signed, at least once, sometimes twice or late, retried when the receiver fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use jira_sim::{LimitConfig, Realism, Secret, SimConfig, Webhook};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Sim;

/// One POST the receiver saw.
#[derive(Clone, Debug)]
struct Delivery {
    identifier: String,
    signature: String,
    retry: Option<String>,
    body: Vec<u8>,
}

/// A receiver on 127.0.0.1:0 that keeps every delivery and answers 500 to the first
/// attempt of every `fail_first`-th event.
async fn receiver(fail_first: bool) -> (String, Arc<Mutex<Vec<Delivery>>>) {
    let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let kept = seen.clone();
    let app =
        axum::Router::new().fallback(move |headers: http::HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let delivery = Delivery {
                    identifier: header("x-atlassian-webhook-identifier").unwrap_or_default(),
                    signature: header("x-hub-signature").unwrap_or_default(),
                    retry: header("x-atlassian-webhook-retry"),
                    body: body.to_vec(),
                };
                let first_attempt = delivery.retry.is_none();
                kept.lock().push(delivery);
                if fail_first && first_attempt {
                    http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    http::StatusCode::OK
                }
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn signed(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn tenant(url: &str, realism: Realism) -> Sim {
    Sim::start(SimConfig {
        projects: 1,
        issues_per_project: 10,
        limits: LimitConfig::off(),
        realism,
        webhooks: vec![Webhook {
            url: url.to_owned(),
            secret: Secret::new("hook-secret"),
            events: Vec::new(),
        }],
        ..SimConfig::default()
    })
    .await
}

/// Creates, edits, comments on and deletes one issue.
async fn activity(sim: &Sim) {
    let (status, created) = sim
        .post(
            "/rest/api/3/issue",
            &json!({"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}, "summary": "hooked"}}),
        )
        .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap().to_owned();
    let (status, _) = sim
        .put(
            &format!("/rest/api/3/issue/{key}"),
            &json!({"fields": {"summary": "hooked twice"}}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = sim
        .post(
            &format!("/rest/api/3/issue/{key}/comment"),
            &json!({"body": crate::doc("a comment")}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) =
        crate::send(sim.request(reqwest::Method::DELETE, &format!("/rest/api/3/issue/{key}")))
            .await;
    assert_eq!(status, 204);
}

/// What the receiver has seen once the simulator has no delivery under way (every late
/// copy and every retry has come or been given up).
async fn settled(sim: &Sim, seen: &Mutex<Vec<Delivery>>) -> Vec<Delivery> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.handle.stats().webhooks_pending > 0 {
        assert!(Instant::now() < deadline, "deliveries never settled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.lock().clone()
}

#[tokio::test]
async fn every_event_is_signed_and_redelivered_under_one_identifier() {
    let (url, seen) = receiver(false).await;
    let sim = tenant(
        &url,
        Realism {
            webhook_duplicate_rate: 1.0,
            webhook_late_rate: 1.0,
            webhook_late_ms: 200,
            ..Realism::default()
        },
    )
    .await;
    activity(&sim).await;
    let deliveries = settled(&sim, &seen).await;
    assert_eq!(deliveries.len(), 8, "four events, each delivered twice");
    let mut events = std::collections::BTreeMap::<String, (String, usize)>::new();
    for delivery in &deliveries {
        assert_eq!(delivery.signature, signed("hook-secret", &delivery.body));
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        assert!(body["issue"]["key"].as_str().unwrap().starts_with("APO-"));
        assert!(body["timestamp"].as_i64().unwrap() > 0);
        let entry = events
            .entry(delivery.identifier.clone())
            .or_insert((body["webhookEvent"].as_str().unwrap().to_owned(), 0));
        assert_eq!(entry.0, body["webhookEvent"], "one identifier, one event");
        entry.1 += 1;
    }
    let mut names: Vec<&str> = events.values().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "comment_created",
            "jira:issue_created",
            "jira:issue_deleted",
            "jira:issue_updated"
        ]
    );
    assert!(events.values().all(|(_, copies)| *copies == 2));
    // The update carries what changed.
    let update = deliveries
        .iter()
        .map(|d| serde_json::from_slice::<Value>(&d.body).unwrap())
        .find(|b| b["webhookEvent"] == "jira:issue_updated")
        .unwrap();
    assert_eq!(update["changelog"]["items"][0]["field"], "summary");
    assert_eq!(sim.handle.stats().webhooks_delivered, 8);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_marked_as_such() {
    let (url, seen) = receiver(true).await;
    let sim = tenant(
        &url,
        Realism {
            webhook_duplicate_rate: 0.0,
            webhook_late_rate: 0.0,
            ..Realism::default()
        },
    )
    .await;
    activity(&sim).await;
    let deliveries = settled(&sim, &seen).await;
    // Each event: a refused first attempt, then a retry with the same identifier.
    assert_eq!(deliveries.len(), 8);
    let retried: Vec<&Delivery> = deliveries.iter().filter(|d| d.retry.is_some()).collect();
    assert_eq!(retried.len(), 4);
    for retry in retried {
        assert_eq!(retry.retry.as_deref(), Some("1"));
        assert!(deliveries.iter().any(|d| d.retry.is_none()
            && d.identifier == retry.identifier
            && d.body == retry.body));
    }
    let stats = sim.handle.stats();
    assert_eq!((stats.webhooks_delivered, stats.webhooks_failed), (4, 4));
}

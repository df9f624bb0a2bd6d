//! OTLP export: a minimal OTLP/HTTP receiver on loopback gets the spans of a run.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::Value;

use crate::{Env, sim};

type Received = Arc<Mutex<Vec<(String, Value)>>>;

async fn receive(
    State((path, received)): State<(&'static str, Received)>,
    body: Bytes,
) -> &'static str {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    received.lock().push((path.to_owned(), value));
    "{}"
}

/// Every span in the received trace exports: (name, attributes as key → value).
fn spans(received: &[(String, Value)]) -> Vec<(String, Vec<(String, Value)>)> {
    let mut spans = Vec::new();
    for (_, body) in received.iter().filter(|(path, _)| path == "traces") {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let attributes = span["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            (
                                a["key"].as_str().unwrap_or("").to_owned(),
                                a["value"].clone(),
                            )
                        })
                        .collect();
                    spans.push((span["name"].as_str().unwrap_or("").to_owned(), attributes));
                }
            }
        }
    }
    spans
}

#[tokio::test]
async fn spans_and_metrics_reach_an_otlp_receiver() {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(receive).with_state(("traces", received.clone())),
        )
        .route(
            "/v1/metrics",
            post(receive).with_state(("metrics", received.clone())),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    env.set("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
        .set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .set("OTEL_SERVICE_NAME", "jira-ops-test");
    env.run(&["fetch", "APO-1", "APO-2", "--no-cache"])
        .await
        .code(0);

    let received = received.lock().clone();
    let spans = spans(&received);
    let names: Vec<&str> = spans.iter().map(|(name, _)| name.as_str()).collect();
    let command = spans
        .iter()
        .find(|(name, _)| name == "jira_ops.command")
        .unwrap_or_else(|| panic!("no command span in {names:?}"));
    assert!(
        command
            .1
            .iter()
            .any(|(k, v)| k == "command" && v["stringValue"] == "fetch"),
        "{:?}",
        command.1
    );
    let request = spans
        .iter()
        .find(|(name, _)| name == "jira.request")
        .unwrap_or_else(|| panic!("no request span in {names:?}"));
    let attribute = |key: &str| {
        request
            .1
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {key} in {:?}", request.1))
    };
    assert_eq!(attribute("method")["stringValue"], "POST");
    assert_eq!(
        attribute("path")["stringValue"],
        "/rest/api/3/issue/bulkfetch"
    );
    // The service name the environment set.
    let (_, traces) = received.iter().find(|(p, _)| p == "traces").unwrap();
    let resource = traces["resourceSpans"][0]["resource"]["attributes"].to_string();
    assert!(resource.contains("jira-ops-test"), "{resource}");
    // The transport's request counter went out with the metrics.
    let metrics: String = received
        .iter()
        .filter(|(p, _)| p == "metrics")
        .map(|(_, v)| v.to_string())
        .collect();
    assert!(
        metrics.contains("jira.client.requests"),
        "metrics: {metrics}"
    );
}

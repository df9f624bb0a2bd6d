//! OpenTelemetry instruments. They come from the global meter provider at the time a layer
//! is built, so they cost nothing until an application installs a provider (the CLI wires
//! an OTLP exporter; tests use the SDK's in-memory exporter).

use std::time::Duration;

use jira_model::ApiRequest;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

/// Request counter (`jira.client.requests`).
pub const REQUESTS: &str = "jira.client.requests";
/// Latency histogram in seconds (`jira.client.request.duration`).
pub const DURATION: &str = "jira.client.request.duration";
/// Retry counter (`jira.client.retries`), by reason.
pub const RETRIES: &str = "jira.client.retries";
/// Breaker transitions (`jira.client.breaker.transitions`), by new state.
pub const BREAKER_TRANSITIONS: &str = "jira.client.breaker.transitions";

#[derive(Clone)]
pub(crate) struct Instruments {
    requests: Counter<u64>,
    duration: Histogram<f64>,
    retries: Counter<u64>,
    breaker: Counter<u64>,
}

impl Instruments {
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter("jira-transport");
        Instruments {
            requests: meter
                .u64_counter(REQUESTS)
                .with_description("HTTP attempts sent to Jira")
                .build(),
            duration: meter
                .f64_histogram(DURATION)
                .with_unit("s")
                .with_description("Time from sending an attempt to having its whole body")
                .build(),
            retries: meter
                .u64_counter(RETRIES)
                .with_description("Retries scheduled, by reason")
                .build(),
            breaker: meter
                .u64_counter(BREAKER_TRANSITIONS)
                .with_description("Circuit breaker state changes")
                .build(),
        }
    }

    /// One attempt; `status` is `None` when no answer came.
    pub fn request(&self, request: &ApiRequest, status: Option<u16>, elapsed: Duration) {
        let attributes = [
            KeyValue::new("http.request.method", method_name(&request.method)),
            KeyValue::new("jira.path", request.path_template),
            match status {
                Some(status) => KeyValue::new("http.response.status_code", i64::from(status)),
                None => KeyValue::new("error.type", "transport"),
            },
        ];
        self.requests.add(1, &attributes);
        self.duration.record(elapsed.as_secs_f64(), &attributes);
    }

    pub fn retry(&self, request: &ApiRequest, reason: &'static str) {
        self.retries.add(
            1,
            &[
                KeyValue::new("jira.path", request.path_template),
                KeyValue::new("jira.retry.reason", reason),
            ],
        );
    }

    pub fn breaker_transition(&self, site: &str, state: &'static str) {
        self.breaker.add(
            1,
            &[
                KeyValue::new("jira.site", site.to_owned()),
                KeyValue::new("jira.breaker.state", state),
            ],
        );
    }
}

/// The method as a static string (no allocation per request for the standard ones).
fn method_name(method: &http::Method) -> opentelemetry::Value {
    match *method {
        http::Method::GET => "GET".into(),
        http::Method::POST => "POST".into(),
        http::Method::PUT => "PUT".into(),
        http::Method::DELETE => "DELETE".into(),
        http::Method::PATCH => "PATCH".into(),
        http::Method::HEAD => "HEAD".into(),
        _ => method.as_str().to_owned().into(),
    }
}

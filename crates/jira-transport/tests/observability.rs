//! What jira-transport tells operators: `tracing` spans and events, OpenTelemetry metrics.
//! Its own test binary, because it installs process-wide subscribers and providers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jira_model::ApiRequest;
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_transport::{
    Auth, BreakerConfig, HttpConfig, HttpTransport, RetryPolicy, Transport, TransportExt, metrics,
};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The sum of a `u64` counter over all its data points.
fn counter_total(exporter: &InMemoryMetricExporter, name: &str) -> Option<u64> {
    let exported = exporter.get_finished_metrics().unwrap();
    let mut total = None;
    for resource in &exported {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics().filter(|m| m.name() == name) {
                if let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() {
                    *total.get_or_insert(0) += sum.data_points().map(|p| p.value()).sum::<u64>();
                }
            }
        }
    }
    total
}

fn has_metric(exporter: &InMemoryMetricExporter, name: &str) -> bool {
    exporter
        .get_finished_metrics()
        .unwrap()
        .iter()
        .any(|resource| {
            resource
                .scope_metrics()
                .any(|scope| scope.metrics().any(|m| m.name() == name))
        })
}

#[tokio::test]
async fn spans_events_and_metrics_describe_every_attempt_without_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    let sim = SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 5,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(Fault::Status { status: 502 }, 1.0).on("/rest/api/3/field")],
    });
    let credential = sim.credential();
    let http = HttpTransport::new(HttpConfig::new(sim.base_url(), {
        let (email, token) = sim.basic_auth();
        Auth::basic(email, token)
    }))
    .unwrap();
    let jira = http
        .with_circuit_breaker(
            "sim",
            BreakerConfig {
                consecutive_failures: 3,
                ..BreakerConfig::default()
            },
        )
        .with_retries(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        });
    assert_eq!(jira.send(ApiRequest::myself()).await.unwrap().status, 200);
    // Three 502s: two retries, and the third failure opens the breaker.
    assert!(jira.send(ApiRequest::fields()).await.is_err());
    provider.force_flush().unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.contains(credential.api_token.expose()), "{logs}");
    assert!(
        logs.contains("jira.request{method=GET path=\"/rest/api/3/field\""),
        "{logs}"
    );
    assert!(logs.contains("retrying jira request"), "{logs}");
    assert!(logs.contains("reason=\"server_error\""), "{logs}");
    assert!(
        logs.contains("jira attempt") && logs.contains("status=502"),
        "{logs}"
    );
    assert!(logs.contains("circuit opened"), "{logs}");

    assert_eq!(counter_total(&exporter, metrics::REQUESTS), Some(4));
    assert_eq!(counter_total(&exporter, metrics::RETRIES), Some(2));
    assert_eq!(
        counter_total(&exporter, metrics::BREAKER_TRANSITIONS),
        Some(1)
    );
    assert!(has_metric(&exporter, metrics::DURATION));
}

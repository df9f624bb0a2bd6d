//! Logs on stderr (text or JSON, `-v`/`RUST_LOG`), and with `OTEL_EXPORTER_OTLP_ENDPOINT`
//! set (feature `otel`), traces and metrics to an OpenTelemetry collector over OTLP/HTTP.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::{Global, LogFormat};
use crate::error::CliError;

/// Keeps the exporters alive; [`Telemetry::shutdown`] flushes them.
#[derive(Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    otel: Option<otel::Providers>,
}

impl Telemetry {
    /// Flushes and stops the exporters (before the process exits).
    pub fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(providers) = self.otel {
            providers.shutdown();
        }
    }
}

/// The log filter: `RUST_LOG` when set, else warnings, raised by `-v`, lowered by `-q`.
fn filter(global: &Global) -> Result<EnvFilter, CliError> {
    if let Ok(spec) = std::env::var("RUST_LOG")
        && !spec.is_empty()
    {
        return EnvFilter::try_new(&spec).map_err(|e| {
            CliError::usage(format!(
                "RUST_LOG={spec:?} is not a valid filter: {e} (try RUST_LOG=info or RUST_LOG=jira_transport=debug)"
            ))
        });
    }
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    // Our crates at the chosen level; the libraries below stay quieter. sled logs every
    // failed write of its own (a full disk gives dozens); jira-cache reports a store failure
    // once with its fix, so sled is heard only from -v; so is the TLS verifier, whose
    // refusal the command's own error states with the fix.
    let below = if global.verbose >= 1 { "warn" } else { "off" };
    let spec = format!(
        "warn,jira_ops={level},jira_transport={level},jira_ratelimit={level},jira_cache={level},jira_batch={level},jira_client={level},jira_proxy={level},jira_sim={},sled={below},rustls_platform_verifier={below}",
        if global.verbose >= 2 { "debug" } else { "warn" },
    );
    EnvFilter::try_new(spec).map_err(|e| CliError::usage(e.to_string()))
}

/// Installs logging (and OTLP export when configured).
pub fn init(global: &Global) -> Result<Telemetry, CliError> {
    let filter = filter(global)?;
    let fmt = match global.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // Colours only on a terminal, and never with NO_COLOR (https://no-color.org): a
            // redirected log is read by tools and people alike.
            .with_ansi(crate::output::colours_on_stderr())
            .with_target(true)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(fmt.with_filter(filter));

    #[cfg(feature = "otel")]
    {
        let providers = otel::from_env()?;
        // Spans go to the collector at info whatever the log level on stderr.
        let layer = providers.as_ref().map(|p| {
            p.layer().with_filter(EnvFilter::new(
                "warn,jira_ops=info,jira_transport=info,jira_ratelimit=info,jira_cache=info,jira_batch=info,jira_client=info,jira_proxy=info",
            ))
        });
        registry
            .with(layer)
            .try_init()
            .map_err(|e| CliError::failure(format!("cannot install logging: {e}")))?;
        Ok(Telemetry { otel: providers })
    }
    #[cfg(not(feature = "otel"))]
    {
        registry
            .try_init()
            .map_err(|e| CliError::failure(format!("cannot install logging: {e}")))?;
        Ok(Telemetry::default())
    }
}

use tracing_subscriber::Layer as _;

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::metrics::SdkMeterProvider;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use crate::error::CliError;

    /// The exporters' HTTP client, on the workspace's reqwest (one HTTP stack in the binary).
    /// The exporters call it from their own threads, outside the async runtime, so it is
    /// reqwest's blocking client.
    #[derive(Clone, Debug)]
    pub struct Exporter(reqwest::blocking::Client);

    impl Exporter {
        pub fn new() -> Result<Self, reqwest::Error> {
            reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .map(Exporter)
        }
    }

    #[async_trait::async_trait]
    impl opentelemetry_http::HttpClient for Exporter {
        async fn send_bytes(
            &self,
            request: http::Request<bytes::Bytes>,
        ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
            let (parts, body) = request.into_parts();
            let mut outgoing = self.0.request(parts.method, parts.uri.to_string());
            for (name, value) in &parts.headers {
                outgoing = outgoing.header(name, value);
            }
            let response = outgoing.body(body).send()?.error_for_status()?;
            let mut answer = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            Ok(answer.body(response.bytes()?)?)
        }
    }

    /// The installed providers.
    pub struct Providers {
        tracer: SdkTracerProvider,
        meter: SdkMeterProvider,
    }

    /// Installs OTLP/HTTP exporters when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The
    /// protocol is `http/protobuf` unless `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`; the
    /// service name is `jira-ops` unless `OTEL_SERVICE_NAME` says otherwise.
    pub fn from_env() -> Result<Option<Providers>, CliError> {
        let endpoint = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => endpoint,
            _ => return Ok(None),
        };
        let protocol = match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
            Ok("http/json") => Protocol::HttpJson,
            Ok("http/protobuf") | Err(_) => Protocol::HttpBinary,
            Ok("") => Protocol::HttpBinary,
            Ok(other) => {
                return Err(CliError::usage(format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} is not supported by jira-ops (use http/protobuf or http/json)"
                )));
            }
        };
        let base = endpoint.trim_end_matches('/');
        let bad = |e: &dyn std::fmt::Display| {
            CliError::usage(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint:?}: {e} (expected e.g. http://localhost:4318)"
            ))
        };
        let client = Exporter::new().map_err(|e| bad(&e))?;
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client.clone())
            .with_protocol(protocol)
            .with_endpoint(format!("{base}/v1/traces"))
            .build()
            .map_err(|e| bad(&e))?;
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(protocol)
            .with_endpoint(format!("{base}/v1/metrics"))
            .build()
            .map_err(|e| bad(&e))?;
        let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "jira-ops".to_owned());
        let resource = Resource::builder().with_service_name(service).build();
        let tracer = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build();
        let meter = SdkMeterProvider::builder()
            .with_periodic_exporter(metrics)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_meter_provider(meter.clone());
        Ok(Some(Providers { tracer, meter }))
    }

    impl Providers {
        /// The tracing layer that turns spans into OpenTelemetry spans.
        pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
        where
            S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
        {
            tracing_opentelemetry::layer().with_tracer(self.tracer.tracer("jira-ops"))
        }

        /// Flushes and stops both exporters; errors are reported, not fatal.
        pub fn shutdown(self) {
            if let Err(error) = self.tracer.shutdown() {
                crate::notes::say!("jira-ops: warning: exporting traces: {error}");
            }
            if let Err(error) = self.meter.shutdown() {
                crate::notes::say!("jira-ops: warning: exporting metrics: {error}");
            }
        }
    }
}

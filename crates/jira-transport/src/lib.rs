//! The transport layers of jira-ops: how one [`ApiRequest`] reaches Jira Cloud and comes
//! back as an [`ApiResponse`].
//!
//! # Design
//!
//! - **One trait, stacked layers (tower's shape).** [`Transport`] has one method, `send`.
//!   Each concern is a struct that wraps an inner `T: Transport` and is itself a
//!   `Transport`: [`Retrying`] (backoff and `Retry-After`), [`CircuitBreaker`] (fail fast
//!   when the site is down), and at the bottom [`HttpTransport`] (reqwest). The rate limiter
//!   and the cache of other crates slot in the same way. The full stack is
//!   `Retrying<RateLimited<CircuitBreaker<HttpTransport>>>`; [`TransportExt`] builds it.
//! - **Native async fn in the trait**, so layers are zero-cost generics; [`BoxTransport`]
//!   (through `async-trait`) is there for the one place a `dyn` object is needed.
//! - **Any answer is `Ok` at the bottom.** [`HttpTransport`] returns every HTTP answer as
//!   `Ok`; only transport failures (connect, reset, timeout, pool exhausted) are `Err`.
//!   [`Retrying`] turns the failures it gives up on (429/5xx after retries, or a write it
//!   must not repeat) into `Err` with the whole last response kept; 4xx answers stay `Ok`
//!   for the caller to read ([`Error::from_response`] turns them into errors on demand).
//! - **Never repeat a half-done write.** A non-idempotent request is retried only when the
//!   server refused it with `Retry-After`, or when the connection was never made.
//! - **Pool and timeouts by operation class**, so a hung server or a burst of callers turns
//!   into a clear error rather than a hang ([`Error::Timeout`], [`Error::PoolExhausted`]).
//! - **Observability**: a `tracing` span per logical request (`jira.request`) with an event
//!   per attempt, and OpenTelemetry counters and a latency histogram (see `metrics`).
//! - **Accounting**: [`Counted`] counts requests, statuses, points and latency into a
//!   [`Tally`]; one above the wire and one on top tell attempts from logical requests.
//! - **Secrets** ([`Secret`]) never print; the `Authorization` header is marked sensitive.
//! - **A test double** (feature `testing`): `testing::Scripted` plays queued answers,
//!   failures and delays on tokio's clock, for paused-clock unit tests of one layer.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), jira_transport::Error> {
//! use jira_model::{ApiRequest, Issue};
//! use jira_transport::{
//!     Auth, BreakerConfig, HttpConfig, HttpTransport, RetryPolicy, Secret, Transport,
//!     TransportExt,
//! };
//!
//! let http = HttpTransport::new(HttpConfig::new(
//!     "https://your-domain.atlassian.net",
//!     Auth::Basic { email: "me@example.com".into(), api_token: Secret::new("token") },
//! ))?;
//! let jira = http
//!     .with_circuit_breaker("your-domain", BreakerConfig::default())
//!     .with_retries(RetryPolicy::default());
//! let response = jira.send(ApiRequest::get_issue("PROJ-1", &["summary"], &[])).await?;
//! let issue: Issue = response.json().expect("an issue");
//! println!("{}", issue.summary().unwrap_or_default());
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;

pub use jira_model::{ApiRequest, ApiResponse};

mod breaker;
mod error;
mod http;
pub mod metrics;
mod retry;
mod tally;
#[cfg(feature = "testing")]
pub mod testing;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use error::{Error, TimeoutPhase};
pub use http::{Auth, HttpConfig, HttpTransport, PerClass, Secret, Timeouts, check_base_url};
pub use jira_model::redact_url;
pub use retry::{Classifier, Retry, RetryPolicy, Retrying, UNREACHED_ATTEMPTS};
pub use tally::{Counted, Tally, TallySnapshot};

/// Sends one request to Jira. Every layer implements it and wraps another.
pub trait Transport: Send + Sync {
    /// Sends `request` and returns its answer. What counts as an error depends on the layer:
    /// see the crate documentation.
    fn send(&self, request: ApiRequest) -> impl Future<Output = Result<ApiResponse, Error>> + Send;
}

impl<T: Transport> Transport for Arc<T> {
    fn send(&self, request: ApiRequest) -> impl Future<Output = Result<ApiResponse, Error>> + Send {
        (**self).send(request)
    }
}

/// The object-safe twin of [`Transport`], for code that must hold "some transport" as a
/// `dyn` value. Every `Transport` is one.
#[async_trait::async_trait]
pub trait DynTransport: Send + Sync {
    /// As [`Transport::send`].
    async fn send_dyn(&self, request: ApiRequest) -> Result<ApiResponse, Error>;
}

#[async_trait::async_trait]
impl<T: Transport> DynTransport for T {
    async fn send_dyn(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        self.send(request).await
    }
}

/// A type-erased transport.
#[derive(Clone)]
pub struct BoxTransport(Arc<dyn DynTransport>);

impl BoxTransport {
    /// Erases the type of `transport`.
    pub fn new(transport: impl Transport + 'static) -> Self {
        BoxTransport(Arc::new(transport))
    }
}

impl Transport for BoxTransport {
    fn send(&self, request: ApiRequest) -> impl Future<Output = Result<ApiResponse, Error>> + Send {
        self.0.send_dyn(request)
    }
}

/// Builder methods to stack layers: `http.with_circuit_breaker(..).with_retries(..)`.
pub trait TransportExt: Transport + Sized {
    /// Wraps `self` in a [`Retrying`] layer.
    fn with_retries(self, policy: RetryPolicy) -> Retrying<Self> {
        Retrying::new(self, policy)
    }

    /// Wraps `self` in a [`CircuitBreaker`] for `site`.
    fn with_circuit_breaker(
        self,
        site: impl Into<String>,
        config: BreakerConfig,
    ) -> CircuitBreaker<Self> {
        CircuitBreaker::new(self, site, config)
    }

    /// Wraps `self` in a [`Counted`] layer that counts into `tally`.
    fn counted(self, tally: Tally) -> Counted<Self> {
        Counted::new(self, tally)
    }

    /// Erases the type.
    fn boxed(self) -> BoxTransport
    where
        Self: 'static,
    {
        BoxTransport::new(self)
    }
}

impl<T: Transport> TransportExt for T {}

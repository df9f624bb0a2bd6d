//! [`Counted`]: a layer that accounts for every request passing through it.
//!
//! Put one directly above [`HttpTransport`](crate::HttpTransport) to count what reaches
//! the wire (every attempt, every status), and another at the top of the stack to count
//! logical requests; the difference is the retries. A [`Tally`] is cheap to clone and to
//! read while requests run, so a progress line or a summary table can show it live.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jira_model::{ApiRequest, ApiResponse};

use crate::{Error, Transport};

/// Shared counters of a [`Counted`] layer.
#[derive(Clone, Debug, Default)]
pub struct Tally(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    success: AtomicU64,
    client_errors: AtomicU64,
    unauthorized: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    failed: AtomicU64,
    points: AtomicU64,
    latency_micros: AtomicU64,
    max_latency_micros: AtomicU64,
    answered: AtomicU64,
}

/// What a [`Tally`] has counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TallySnapshot {
    /// Requests sent through the layer.
    pub requests: u64,
    /// Answers with a 2xx or 3xx status.
    pub success: u64,
    /// Answers with a 4xx status other than 429.
    pub client_errors: u64,
    /// 401 and 403 answers (counted in `client_errors` too): refused credentials.
    pub unauthorized: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// Requests that ended without an answer (connect error, reset, timeout, or an error of
    /// a layer below).
    pub failed: u64,
    /// Points the answered requests cost: the server's own count for searches and bulk
    /// fetches (1 + issues returned), the request's estimate otherwise; refused (429) and
    /// failed (5xx) answers cost nothing.
    pub points: u64,
    /// Mean time to a whole answer, over answered requests.
    pub mean_latency: Duration,
    /// The longest time to a whole answer.
    pub max_latency: Duration,
}

impl TallySnapshot {
    /// Answers that were not a success: 4xx, 429 and 5xx, plus requests with no answer.
    pub fn errors(&self) -> u64 {
        self.client_errors + self.rate_limited + self.server_errors + self.failed
    }
}

impl Tally {
    /// A tally at zero.
    pub fn new() -> Self {
        Tally::default()
    }

    /// Reads the counters.
    pub fn snapshot(&self) -> TallySnapshot {
        let c = &self.0;
        let answered = c.answered.load(Ordering::Relaxed);
        let total = c.latency_micros.load(Ordering::Relaxed);
        TallySnapshot {
            requests: c.requests.load(Ordering::Relaxed),
            success: c.success.load(Ordering::Relaxed),
            client_errors: c.client_errors.load(Ordering::Relaxed),
            unauthorized: c.unauthorized.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            points: c.points.load(Ordering::Relaxed),
            mean_latency: Duration::from_micros(total.checked_div(answered).unwrap_or(0)),
            max_latency: Duration::from_micros(c.max_latency_micros.load(Ordering::Relaxed)),
        }
    }

    fn record(&self, outcome: &Result<ApiResponse, Error>) {
        let c = &self.0;
        let response = match outcome {
            Ok(response) => Some(response),
            Err(error) => error.response(),
        };
        let Some(response) = response else {
            c.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let status = response.status.as_u16();
        let counter = match status {
            429 => &c.rate_limited,
            500.. => &c.server_errors,
            400.. => &c.client_errors,
            _ => &c.success,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if matches!(status, 401 | 403) {
            c.unauthorized.fetch_add(1, Ordering::Relaxed);
        }
        c.points.fetch_add(response.points, Ordering::Relaxed);
        let micros = u64::try_from(response.elapsed.as_micros()).unwrap_or(u64::MAX);
        c.answered.fetch_add(1, Ordering::Relaxed);
        c.latency_micros.fetch_add(micros, Ordering::Relaxed);
        c.max_latency_micros.fetch_max(micros, Ordering::Relaxed);
    }
}

/// A layer that counts every request and its outcome in a [`Tally`].
#[derive(Clone, Debug)]
pub struct Counted<T> {
    inner: T,
    tally: Tally,
}

impl<T> Counted<T> {
    /// Counts what passes through to `inner` in `tally`.
    pub fn new(inner: T, tally: Tally) -> Self {
        Counted { inner, tally }
    }

    /// The counters.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }
}

impl<T: Transport> Transport for Counted<T> {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        self.tally.0.requests.fetch_add(1, Ordering::Relaxed);
        // Points come with the answer (`ApiResponse::points`), so the request need not be
        // kept (no copy of its path, query and body per send).
        let outcome = self.inner.send(request).await;
        self.tally.record(&outcome);
        outcome
    }
}

//! [`ProxyStats`]: what `/__proxy/stats` reports, counted as requests pass.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters of one proxy's life.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) waited: AtomicU64,
    pub(crate) wait_ms: AtomicU64,
    pub(crate) passed_429: AtomicU64,
    pub(crate) upstream_429_passed: AtomicU64,
    pub(crate) refused_credentials: AtomicU64,
    pub(crate) webhooks_applied: AtomicU64,
    pub(crate) webhooks_duplicate: AtomicU64,
    pub(crate) webhooks_refused: AtomicU64,
    pub(crate) invalidated: AtomicU64,
    pub(crate) streamed: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A snapshot of the proxy's counters: the body of `GET /__proxy/stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ProxyStats {
    /// Requests callers sent to Jira's API through the proxy.
    pub requests: u64,
    /// Requests that went on the wire to the site (retries included).
    pub upstream: u64,
    /// Answers served from the cache (fresh, or stale while one refresh runs).
    pub cache_hits: u64,
    /// Requests that shared the answer of an identical one in flight (single flight).
    pub coalesced: u64,
    /// Requests held before the wire for 5 ms or more (the budget's pacing, a retry's
    /// wait), and their total wait in milliseconds.
    pub waited: u64,
    /// Milliseconds the `waited` requests were held in all.
    pub wait_ms: u64,
    /// 429s the site sent that no caller saw (the request was paced and sent again).
    pub absorbed_429: u64,
    /// 429s callers received: the wait would have exceeded the allowed wait.
    pub passed_429: u64,
    /// Requests refused for their credentials (a held-token proxy's wrong local key).
    pub refused_credentials: u64,
    /// Webhook deliveries applied (their issues invalidated).
    pub webhooks_applied: u64,
    /// Redeliveries of a webhook already applied.
    pub webhooks_duplicate: u64,
    /// Deliveries refused: a missing or wrong signature, or no secret configured.
    pub webhooks_refused: u64,
    /// Cache entries removed by writes and webhooks.
    pub invalidated: u64,
    /// Files (answers that are not JSON: attachments, thumbnails, avatars) passed on as
    /// their chunks came, never held whole.
    #[serde(default)]
    pub streamed: u64,
}

impl ProxyStats {
    /// The snapshot of `counters`, with the wire's requests and 429s.
    pub(crate) fn of(counters: &Counters, upstream: u64, upstream_429: u64) -> Self {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            requests: get(&counters.requests),
            upstream,
            cache_hits: get(&counters.cache_hits),
            coalesced: get(&counters.coalesced),
            waited: get(&counters.waited),
            wait_ms: get(&counters.wait_ms),
            absorbed_429: upstream_429.saturating_sub(get(&counters.upstream_429_passed)),
            passed_429: get(&counters.passed_429),
            refused_credentials: get(&counters.refused_credentials),
            webhooks_applied: get(&counters.webhooks_applied),
            webhooks_duplicate: get(&counters.webhooks_duplicate),
            webhooks_refused: get(&counters.webhooks_refused),
            invalidated: get(&counters.invalidated),
            streamed: get(&counters.streamed),
        }
    }
}

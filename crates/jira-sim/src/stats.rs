//! Counters that tests and benchmarks read back through `GET /__sim/stats` or
//! [`crate::SimHandle::stats`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// A snapshot of the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Requests received (admin requests excluded), whatever happened to them.
    pub requests: u64,
    /// Requests by `"METHOD template status"`, e.g. `"GET /rest/api/3/issue/{issueIdOrKey} 200"`.
    /// Reset and truncated connections count with status `0`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// 429s sent.
    pub rate_limited: u64,
    /// 429s by `RateLimit-Reason`.
    pub rate_limited_by_reason: BTreeMap<String, u64>,
    /// Points charged against the quota (counted even when the quota is off).
    pub points_spent: u64,
    /// Requests that arrived while a `Retry-After` sent to the same client for the same
    /// scope was still running.
    pub early_retries: u64,
    /// Requests that arrived while such a `Retry-After` was running but so soon after the
    /// refusal (within the grace) that they were already on the wire: not the client's
    /// choice, but a client that keeps many requests in flight earns many.
    #[serde(default)]
    pub in_flight_during_wait: u64,
    /// Requests refused that arrived during a running wait of their client (early or in
    /// flight): what a server with a renew penalty punishes.
    #[serde(default)]
    pub refused_during_wait: u64,
    /// Issues created (single and bulk).
    pub issues_created: u64,
    /// Creates whose summary equals that of an issue created earlier: duplicates a client
    /// made by retrying a create that had succeeded.
    pub duplicate_creates: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Requests refused with 401.
    pub unauthorized: u64,
    /// Issue ids answered by id-only search pages (no fields asked): what listing a
    /// query's ids cost, each a point.
    #[serde(default)]
    pub ids_listed: u64,
    /// Webhook deliveries a receiver accepted (2xx), duplicates included.
    #[serde(default)]
    pub webhooks_delivered: u64,
    /// Webhook POSTs that failed (not 2xx, or no answer) and were retried or given up.
    #[serde(default)]
    pub webhooks_failed: u64,
    /// Webhook deliveries scheduled and not yet delivered or given up (late ones, retries
    /// under way): a test waits for this to reach zero to know every delivery has come.
    #[serde(default)]
    pub webhooks_pending: u64,
}

impl StatsSnapshot {
    /// Requests to one method and template (any status).
    pub fn requests_to(&self, method: &str, template: &str) -> u64 {
        let prefix = format!("{method} {template} ");
        self.by_endpoint
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, count)| count)
            .sum()
    }

    /// Requests answered with `status`, any endpoint.
    pub fn with_status(&self, status: u16) -> u64 {
        let suffix = format!(" {status}");
        self.by_endpoint
            .iter()
            .filter(|(key, _)| key.ends_with(&suffix))
            .map(|(_, count)| count)
            .sum()
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    points: AtomicU64,
    early: AtomicU64,
    in_flight: AtomicU64,
    refused_during_wait: AtomicU64,
    unauthorized: AtomicU64,
    ids_listed: AtomicU64,
    detail: Mutex<Detail>,
}

#[derive(Debug, Default)]
struct Detail {
    by_endpoint: BTreeMap<String, u64>,
    rate_limited_by_reason: BTreeMap<String, u64>,
    faults: BTreeMap<String, u64>,
    created_summaries: std::collections::HashMap<String, u32>,
    issues_created: u64,
    duplicate_creates: u64,
}

impl Stats {
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn response(&self, method: &str, template: &str, status: u16) {
        *self
            .detail
            .lock()
            .by_endpoint
            .entry(format!("{method} {template} {status}"))
            .or_default() += 1;
    }

    pub fn rate_limited(&self, reason: &str) {
        *self
            .detail
            .lock()
            .rate_limited_by_reason
            .entry(reason.to_owned())
            .or_default() += 1;
    }

    pub fn fault(&self, kind: &str) {
        *self
            .detail
            .lock()
            .faults
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    pub fn points(&self, points: u64) {
        self.points.fetch_add(points, Ordering::Relaxed);
    }

    pub fn early_retry(&self) {
        self.early.fetch_add(1, Ordering::Relaxed);
    }

    pub fn in_flight_during_wait(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused_during_wait(&self) {
        self.refused_during_wait.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unauthorized(&self) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ids_listed(&self, ids: u64) {
        self.ids_listed.fetch_add(ids, Ordering::Relaxed);
    }

    pub fn created(&self, summary: &str) {
        let mut detail = self.detail.lock();
        detail.issues_created += 1;
        let seen = detail
            .created_summaries
            .entry(summary.to_owned())
            .or_default();
        *seen += 1;
        if *seen > 1 {
            detail.duplicate_creates += 1;
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let detail = self.detail.lock();
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            by_endpoint: detail.by_endpoint.clone(),
            rate_limited: detail.rate_limited_by_reason.values().sum(),
            rate_limited_by_reason: detail.rate_limited_by_reason.clone(),
            points_spent: self.points.load(Ordering::Relaxed),
            early_retries: self.early.load(Ordering::Relaxed),
            in_flight_during_wait: self.in_flight.load(Ordering::Relaxed),
            refused_during_wait: self.refused_during_wait.load(Ordering::Relaxed),
            issues_created: detail.issues_created,
            duplicate_creates: detail.duplicate_creates,
            faults: detail.faults.clone(),
            unauthorized: self.unauthorized.load(Ordering::Relaxed),
            ids_listed: self.ids_listed.load(Ordering::Relaxed),
            webhooks_delivered: 0,
            webhooks_failed: 0,
            webhooks_pending: 0,
        }
    }

    pub fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.points.store(0, Ordering::Relaxed);
        self.early.store(0, Ordering::Relaxed);
        self.in_flight.store(0, Ordering::Relaxed);
        self.refused_during_wait.store(0, Ordering::Relaxed);
        self.unauthorized.store(0, Ordering::Relaxed);
        self.ids_listed.store(0, Ordering::Relaxed);
        *self.detail.lock() = Detail::default();
    }
}

//! The state one simulator shares with every handler, and the JSON answers they build
//! (each carrying its point cost for the gate).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use crate::config::SimConfig;
use crate::data::{IssueStore, Tenant};
use crate::limits::Limiter;
use crate::render::error_body;
use crate::stats::{Stats, StatsSnapshot};

/// Shared state of one simulator.
pub(crate) struct AppState {
    pub base_url: String,
    pub tenant: Tenant,
    pub catalog: crate::render::Catalog,
    /// The zone bodies render in and JQL date literals are read in (the caller's).
    pub zone: jiff::tz::TimeZone,
    pub store: RwLock<IssueStore>,
    pub limiter: Limiter,
    pub faults: RwLock<crate::config::FaultConfig>,
    /// The realism switches, changed at run time through `/__sim/realism`.
    pub realism: RwLock<crate::config::Realism>,
    /// Asynchronous bulk operations, by task id.
    pub tasks: Mutex<std::collections::HashMap<u64, crate::task::Task>>,
    /// Registered webhooks (`PUT /__sim/webhooks`).
    pub webhooks: RwLock<Vec<crate::config::Webhook>>,
    /// Where webhook deliveries go out, with their counters.
    pub webhook_sink: Arc<crate::outbox::Sink>,
    pub stats: Stats,
    pub config: SimConfig,
    /// Sorted issue ids of recent searches, by JQL, valid while the store version matches.
    pub search_cache: Mutex<SearchCache>,
    /// The result lists page tokens continue, by snapshot number
    /// ([`crate::config::PageTokens::Snapshot`]).
    pub search_snapshots: Mutex<Snapshots>,
    /// The dice of faults and webhook realism, seeded from `SimConfig::seed`: a run that
    /// sends the same requests in the same order meets the same faults.
    pub dice: Mutex<rand::rngs::SmallRng>,
}

impl AppState {
    /// Milliseconds since the Unix epoch, now.
    pub fn now_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }
}

/// Sorted ids by JQL, with the store version they were computed at.
pub(crate) type SearchCache = std::collections::HashMap<String, (u64, Arc<Vec<u64>>)>;

/// Result lists kept for page tokens: the newest [`Snapshots::KEPT`], by number.
#[derive(Default)]
pub struct Snapshots {
    next: u64,
    lists: std::collections::BTreeMap<u64, Arc<Vec<u64>>>,
}

impl Snapshots {
    /// How many result lists are kept (older tokens are refused as expired).
    pub const KEPT: usize = 256;

    /// Keeps `ids` and returns its number.
    pub fn keep(&mut self, ids: Arc<Vec<u64>>) -> u64 {
        self.next += 1;
        self.lists.insert(self.next, ids);
        while self.lists.len() > Self::KEPT {
            self.lists.pop_first();
        }
        self.next
    }

    /// The list kept as `number`, if it still is.
    pub fn get(&self, number: u64) -> Option<Arc<Vec<u64>>> {
        self.lists.get(&number).cloned()
    }
}

/// Points a response cost, set by the handler (1 + objects returned, identity objects 2).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cost(pub u64);

/// A JSON answer that costs `points` against the quota.
pub(crate) fn json_response(
    status: StatusCode,
    body: &impl serde::Serialize,
    points: u64,
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response.extensions_mut().insert(Cost(points));
    response
}

/// 204 with no body.
pub(crate) fn no_content() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(Cost(1));
    response
}

/// Jira's error body with one message, costing one point.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &error_body(&[message], &[]), 1)
}

impl AppState {
    /// The counters, webhook deliveries included.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let mut snapshot = self.stats.snapshot();
        let (delivered, failed, pending) = self.webhook_sink.counts();
        snapshot.webhooks_delivered = delivered;
        snapshot.webhooks_failed = failed;
        snapshot.webhooks_pending = pending;
        snapshot
    }

    /// Before a write to `id`: while search lags, it keeps seeing the issue as it was
    /// when the lag window began.
    pub(crate) fn note_write(&self, id: u64) {
        let lag = self.realism.read().search_lag_ms as i64;
        if lag == 0 {
            return;
        }
        let now = Self::now_ms();
        let mut store = self.store.write();
        let current = store.by_id.get(&id).cloned();
        let entry = store.unindexed.entry(id).or_insert((now, current.clone()));
        if now - entry.0 >= lag {
            *entry = (now, current);
        }
    }
}

/// 200 with `body`, a list costing a point per ten values.
pub(crate) fn json_ok(body: &Value) -> Response {
    let cost = 1 + body.as_array().map_or(0, Vec::len) as u64 / 10;
    json_response(StatusCode::OK, body, cost)
}

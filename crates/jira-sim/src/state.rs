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

/// The objects an answer returns ([`jira_model::points::objects_returned`]), noted when
/// its body is made: what the quota charges it is worked out from them, the method and the
/// endpoint, by the rule the client charges by ([`jira_model::points::charged`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Objects(pub u64);

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let objects = jira_model::points::objects_returned(&bytes);
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response.extensions_mut().insert(Objects(objects));
    response
}

/// 204 with no body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Jira's error body with one message.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &error_body(&[message], &[]))
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

/// 200 with `body`.
pub(crate) fn json_ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

//! The admin API under `/__sim`: counters, and limits and faults changed at run time.
//! It needs no authentication and is never rate limited or faulted.
//!
//! | route | does |
//! |---|---|
//! | `GET /__sim/stats` | the counters ([`crate::StatsSnapshot`]) |
//! | `POST /__sim/reset` | zeroes the counters and refills every limit |
//! | `GET`/`PUT /__sim/faults` | reads or replaces the fault rules ([`crate::FaultConfig`]) |
//! | `GET`/`PUT /__sim/limits` | reads or replaces the limits ([`crate::LimitConfig`]) |
//! | `GET`/`PUT /__sim/realism` | reads or replaces the realism switches ([`crate::Realism`]) |
//! | `GET`/`PUT /__sim/webhooks` | reads or replaces the webhooks ([`crate::Webhook`]s) |

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;

use crate::config::{FaultConfig, LimitConfig};
use crate::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/reset", post(reset))
        .route("/__sim/faults", get(get_faults).put(put_faults))
        .route("/__sim/limits", get(get_limits).put(put_limits))
        .route("/__sim/realism", get(get_realism).put(put_realism))
        .route("/__sim/webhooks", get(get_webhooks).put(put_webhooks))
}

async fn get_webhooks(State(app): State<Arc<AppState>>) -> Response {
    Json(app.webhooks.read().clone()).into_response()
}

async fn put_webhooks(State(app): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Vec<crate::config::Webhook>>(&body) {
        Ok(hooks) => {
            if let Some(bad) = hooks.iter().find(|h| !h.url.starts_with("http://")) {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("webhook URL {:?} must be an http:// URL (jira-sim posts without TLS)", bad.url),
                )
                    .into_response();
            }
            *app.webhooks.write() = hooks;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => (
            StatusCode::BAD_REQUEST,
            format!("not a list of webhooks ({error}); e.g. [{{\"url\": \"http://127.0.0.1:9000/hook\", \"secret\": \"s3cret\"}}]"),
        )
            .into_response(),
    }
}

async fn get_realism(State(app): State<Arc<AppState>>) -> Response {
    Json(app.realism.read().clone()).into_response()
}

async fn put_realism(State(app): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<crate::config::Realism>(&body) {
        Ok(realism) => {
            *app.realism.write() = realism;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => (
            StatusCode::BAD_REQUEST,
            format!("not a realism document ({error}); GET /__sim/realism shows one"),
        )
            .into_response(),
    }
}

async fn stats(State(app): State<Arc<AppState>>) -> Response {
    Json(app.snapshot()).into_response()
}

async fn reset(State(app): State<Arc<AppState>>) -> StatusCode {
    app.stats.reset();
    app.limiter.reset();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(app): State<Arc<AppState>>) -> Response {
    Json(app.faults.read().clone()).into_response()
}

async fn put_faults(State(app): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(faults) => {
            if let Some(rule) = faults
                .rules
                .iter()
                .find(|r| !(0.0..=1.0).contains(&r.probability))
            {
                return (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "fault probability {} is outside 0.0..=1.0 (use e.g. 0.1 for 10%)",
                        rule.probability
                    ),
                )
                    .into_response();
            }
            *app.faults.write() = faults;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => (
            StatusCode::BAD_REQUEST,
            format!("invalid fault config: {error} (see GET /__sim/faults for the shape)"),
        )
            .into_response(),
    }
}

async fn get_limits(State(app): State<Arc<AppState>>) -> Response {
    Json(app.limiter.config()).into_response()
}

async fn put_limits(State(app): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<LimitConfig>(&body) {
        Ok(limits) => {
            app.limiter.set_config(limits);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => (
            StatusCode::BAD_REQUEST,
            format!("invalid limit config: {error} (see GET /__sim/limits for the shape)"),
        )
            .into_response(),
    }
}

//! `POST /webhook`: Jira's admin-registered webhooks, checked and applied once.
//!
//! Jira signs a delivery with the webhook's secret (`X-Hub-Signature: sha256=<HMAC-SHA256
//! of the body in hex>`), names it (`X-Atlassian-Webhook-Identifier`, the same on every
//! redelivery) and delivers at least once, sometimes late
//! (<https://developer.atlassian.com/cloud/jira/platform/webhooks/>). A delivery with a
//! good signature invalidates the issues it names in every caller's cache before it is
//! answered; a redelivery changes nothing; a bad or missing signature is refused (401).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, StatusCode};
use sha2::Sha256;

use crate::Shared;
use crate::answer::Answer;
use crate::stats::Counters;

/// Delivery identifiers remembered (the oldest forgotten first): Jira redelivers within
/// minutes, far fewer than this many deliveries later.
const REMEMBERED: usize = 100_000;

/// The identifiers of deliveries applied, oldest first.
#[derive(Default)]
pub(crate) struct Seen {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Seen {
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

/// Receives one delivery.
pub(crate) async fn receive(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let counters = &shared.counters;
    let Some(secret) = &shared.config.webhook_secret else {
        Counters::add(&counters.webhooks_refused, 1);
        return Answer::failure(
            StatusCode::NOT_FOUND,
            "webhooks are off: start the proxy with a webhook secret (jira-ops proxy --webhook-secret-env VAR) and register the webhook with the same secret",
        )
        .into_response(false, None);
    };
    if !signed(secret.expose(), &headers, &body) {
        Counters::add(&counters.webhooks_refused, 1);
        return Answer::failure(
            StatusCode::UNAUTHORIZED,
            "the delivery's X-Hub-Signature is missing or does not match the body signed with the webhook secret",
        )
        .into_response(false, None);
    }
    let identifier = headers
        .get("x-atlassian-webhook-identifier")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &identifier
        && shared.webhooks.lock().contains(id)
    {
        Counters::add(&counters.webhooks_duplicate, 1);
        return (
            StatusCode::OK,
            axum::Json(serde_json::json!({"duplicate": true})),
        )
            .into_response();
    }
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let issue = event.get("issue");
    let named: Vec<&str> = ["key", "id"]
        .iter()
        .filter_map(|field| issue?.get(*field)?.as_str())
        .collect();
    let removed = shared
        .lanes
        .invalidate(&jira_cache::issues_changed(&named))
        .await;
    Counters::add(&counters.invalidated, removed);
    Counters::add(&counters.webhooks_applied, 1);
    if let Some(id) = identifier {
        shared.webhooks.lock().insert(id);
    }
    tracing::info!(
        target: "jira_proxy::webhook",
        event = event.get("webhookEvent").and_then(|e| e.as_str()),
        issue = named.first().copied(),
        removed,
        "webhook applied"
    );
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"invalidated": removed})),
    )
        .into_response()
}

/// Whether `X-Hub-Signature` is `sha256=` and the HMAC-SHA256 of `body` under `secret`
/// (compared in constant time).
fn signed(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(hex) = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
    else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_must_be_the_bodys_hmac() {
        // RFC 4231 test case 2.
        let good = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-hub-signature", value.parse().unwrap());
            h
        };
        let body = b"what do ya want for nothing?";
        assert!(signed("Jefe", &headers(good), body));
        assert!(!signed(
            "Jefe",
            &headers(good),
            b"what do ya want for something?"
        ));
        assert!(!signed("jefe", &headers(good), body));
        assert!(!signed(
            "Jefe",
            &headers(&good.replace("sha256=", "sha1=")),
            body
        ));
        assert!(!signed("Jefe", &headers("sha256=zz"), body));
        assert!(!signed("Jefe", &HeaderMap::new(), body));
        let mut seen = Seen::default();
        seen.insert("a".into());
        assert!(seen.contains("a") && !seen.contains("b"));
    }
}

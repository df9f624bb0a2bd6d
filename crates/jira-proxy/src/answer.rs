//! [`Answer`]: what goes back to a caller, from Jira's response or from the proxy's own
//! failure, with the headers a client may read and none it must not.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use jira_model::ApiResponse;

/// The header that marks an answer shared with an identical request in flight.
pub const COALESCED_HEADER: &str = "x-jira-ops-coalesced";

/// One answer to a caller. Cloning shares the body.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// Whether Jira's own answer (not the proxy's failure) is in it.
    pub(crate) from_site: bool,
    /// Time held before the wire, when the request went upstream.
    pub(crate) held: Option<Duration>,
}

/// Headers that describe one connection, not the message: never passed on (RFC 9110
/// §7.6.1), nor the length and encoding the server on each side sets for itself.
pub(crate) fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "host"
    )
}

impl Answer {
    /// Jira's answer, as it came (less hop-by-hop headers).
    pub(crate) fn from_response(response: &ApiResponse, held: Option<Duration>) -> Self {
        let headers = response
            .headers
            .iter()
            .filter(|(name, _)| !hop_by_hop(name))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        Answer {
            status: response.status,
            headers,
            body: response.body.clone(),
            from_site: true,
            held,
        }
    }

    /// The proxy's own answer: `status` with Jira's error body shape
    /// (`{"errorMessages": [...], "errors": {}}`), so a client reports it as it reports
    /// Jira's.
    pub(crate) fn failure(status: StatusCode, message: &str) -> Self {
        let body = serde_json::json!({
            "errorMessages": [format!("jira-ops proxy: {message}")],
            "errors": {},
        });
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        Answer {
            status,
            headers,
            body: Bytes::from(body.to_string()),
            from_site: false,
            held: None,
        }
    }

    /// A refusal the proxy makes for the budget: 429 with `Retry-After` (whole seconds,
    /// rounded up) and the reason Jira gives for a burst refusal.
    pub(crate) fn too_many(wait: Duration, message: &str) -> Self {
        let mut answer = Answer::failure(StatusCode::TOO_MANY_REQUESTS, message);
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        answer
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        answer.headers.insert(
            HeaderName::from_static("ratelimit-reason"),
            HeaderValue::from_static("jira-burst-based"),
        );
        answer
    }

    /// The answer to a request the stack failed: Jira's response when there was one,
    /// else the proxy's own status for the failure (429 for a budget wait past the allowed
    /// wait, 503 with `Retry-After` for an open circuit, 504 for a timeout, 502 else).
    pub(crate) fn from_error(error: &jira_transport::Error) -> Self {
        if let Some(response) = error.response() {
            return Answer::from_response(response, None);
        }
        let message = error.to_string();
        match innermost(error) {
            jira_transport::Error::Layer { source, .. } => {
                match source.downcast_ref::<jira_ratelimit::Error>() {
                    Some(jira_ratelimit::Error::WaitTooLong { wait, .. }) => {
                        Answer::too_many(*wait, &message)
                    }
                    _ => Answer::failure(StatusCode::BAD_GATEWAY, &message),
                }
            }
            jira_transport::Error::CircuitOpen { retry_in, .. } => {
                let mut answer = Answer::failure(StatusCode::SERVICE_UNAVAILABLE, &message);
                let secs = retry_in.as_secs().max(1);
                answer
                    .headers
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                answer
            }
            jira_transport::Error::Timeout { .. } => {
                Answer::failure(StatusCode::GATEWAY_TIMEOUT, &message)
            }
            jira_transport::Error::PoolExhausted { .. } => {
                Answer::failure(StatusCode::SERVICE_UNAVAILABLE, &message)
            }
            _ => Answer::failure(StatusCode::BAD_GATEWAY, &message),
        }
    }

    /// The HTTP response, marked `coalesced` when it was another request's answer.
    pub(crate) fn into_response(self, coalesced: bool) -> axum::response::Response {
        let mut response = axum::response::Response::new(axum::body::Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        if coalesced {
            response
                .headers_mut()
                .insert(COALESCED_HEADER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The failure behind retries.
fn innermost(error: &jira_transport::Error) -> &jira_transport::Error {
    match error {
        jira_transport::Error::Exhausted { last, .. } => innermost(last),
        other => other,
    }
}

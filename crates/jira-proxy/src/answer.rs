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
    /// Whether its body was left on the wire for the caller that sent it (a file): an
    /// identical request that shared the flight must send its own.
    pub(crate) streamed: bool,
    /// The site's `Content-Length`: passed on with a streamed body, which goes as it came
    /// (a body read whole may be rewritten, and gets its own length).
    pub(crate) length: Option<HeaderValue>,
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
            streamed: false,
            length: response.headers.get(header::CONTENT_LENGTH).cloned(),
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
            streamed: false,
            length: None,
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

    /// The answer with every link to the site (`self`, `baseUrl`, avatars, `Location`)
    /// pointing at the proxy instead, as its caller reached it: a client that follows an
    /// issue's `self` to edit or delete it (the PyPI `jira` package does) stays on the
    /// proxy, so its writes are paced and invalidate what they change.
    pub(crate) fn rebased(mut self, site: &str, proxy: &str) -> Self {
        if site.is_empty() || site == proxy {
            return self;
        }
        if let Some(body) = replace_all(&self.body, site.as_bytes(), proxy.as_bytes()) {
            self.body = Bytes::from(body);
        }
        if let Some(location) = self
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(site))
            .and_then(|rest| HeaderValue::from_str(&format!("{proxy}{rest}")).ok())
        {
            self.headers.insert(header::LOCATION, location);
        }
        self
    }

    /// The HTTP response, marked `coalesced` when it was another request's answer, with
    /// `stream` as its body when the site's body was left on the wire.
    pub(crate) fn into_response(
        self,
        coalesced: bool,
        stream: Option<jira_model::BodyStream>,
    ) -> axum::response::Response {
        let streamed = stream.is_some();
        let body = match stream {
            Some(stream) => axum::body::Body::from_stream(stream),
            None => axum::body::Body::from(self.body),
        };
        let mut response = axum::response::Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        if let Some(length) = self.length.filter(|_| streamed) {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, length);
        }
        if coalesced {
            response
                .headers_mut()
                .insert(COALESCED_HEADER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// `haystack` with every `from` that ends where a URL's host part ends (before `/`, `?`,
/// `"` or the end; not `https://site.example.evil`) replaced by `to`, in one pass; `None`
/// when there is none (the body is kept as it came).
fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut last = 0;
    for at in memchr::memmem::find_iter(haystack, from) {
        let next = haystack.get(at + from.len()).copied();
        if !matches!(next, None | Some(b'/' | b'?' | b'"' | b'#' | b'\\')) {
            continue;
        }
        let out = out.get_or_insert_with(|| Vec::with_capacity(haystack.len() + 1024));
        out.extend_from_slice(&haystack[last..at]);
        out.extend_from_slice(to);
        last = at + from.len();
    }
    let mut out = out?;
    out.extend_from_slice(&haystack[last..]);
    Some(out)
}

/// The failure behind retries.
fn innermost(error: &jira_transport::Error) -> &jira_transport::Error {
    match error {
        jira_transport::Error::Exhausted { last, .. } => innermost(last),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_the_site_point_at_the_proxy() {
        let mut answer = Answer::failure(StatusCode::CREATED, "x");
        answer.body = Bytes::from_static(
            br#"{"self":"https://acme.atlassian.net/rest/api/2/issue/1","other":"https://acme.atlassian.net.evil/x"}"#,
        );
        answer.headers.insert(
            header::LOCATION,
            HeaderValue::from_static("https://acme.atlassian.net/rest/api/2/issue/1"),
        );
        let rebased = answer.rebased("https://acme.atlassian.net", "http://127.0.0.1:8080");
        assert_eq!(
            &rebased.body[..],
            br#"{"self":"http://127.0.0.1:8080/rest/api/2/issue/1","other":"https://acme.atlassian.net.evil/x"}"#
        );
        assert_eq!(
            rebased.headers[header::LOCATION],
            "http://127.0.0.1:8080/rest/api/2/issue/1"
        );
    }
}

//! The crate's one error type. Nothing is flattened to a string: a status error keeps the
//! whole response (status, headers, Jira's error body), and a retried failure keeps the
//! attempts made and the last failure.

use std::time::Duration;

use jira_model::{ApiResponse, ErrorClass, ErrorCollection, RateLimitInfo};

/// Which timeout fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Establishing the TCP (and TLS) connection.
    Connect,
    /// Waiting for the response head or the next chunk of the body.
    Read,
    /// The whole exchange took longer than its total budget.
    Total,
}

/// What went wrong sending a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status the caller treats as a failure (see
    /// [`Error::from_response`]); the whole response is kept.
    #[error("{} {} answered HTTP {}{}", .method, .path, .response.status.as_u16(), jira_message(.response))]
    Status {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// The response, with its headers and body.
        response: Box<ApiResponse>,
    },
    /// The connection could not be established; the request was not sent.
    #[error(
        "cannot connect to {url}: {source} (is the site URL right and reachable?{})",
        .proxy.as_deref().map(|note| format!(" {note}")).unwrap_or_default()
    )]
    Connect {
        /// The URL.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
        /// The proxy the environment names for the URL (`HTTPS_PROXY` and the like), as a
        /// note for the reader, its credentials left out: the connection may have failed
        /// there.
        proxy: Option<String>,
    },
    /// The TLS handshake failed: the site's certificate was not accepted (unknown issuer,
    /// expired, another name) or the server does not speak TLS there. Nothing was sent, and
    /// trying again gets the same answer, so it is not retried.
    #[error(
        "cannot connect to {url} over TLS: {detail} (the site's certificate was not accepted: check the URL; behind a proxy or with a private CA, add the CA to the system's trust store or set SSL_CERT_FILE)"
    )]
    Tls {
        /// The URL.
        url: String,
        /// What the TLS library said (`invalid peer certificate: UnknownIssuer`).
        detail: String,
    },
    /// The request or its response failed in flight (reset, truncated body, protocol error):
    /// the server may have acted on it.
    #[error("{method} {path} failed in flight: {source}")]
    Io {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The response body was larger than `HttpConfig::max_body_bytes`: it was not read
    /// further (the request itself may have been served).
    #[error(
        "{method} {path}: the response is larger than {limit} bytes, the body cap; ask for fewer fields or smaller pages, or raise the cap if such answers are expected (HttpConfig::max_body_bytes; in jira-ops the max_body_mb setting or JIRA_OPS_MAX_BODY_MB)"
    )]
    BodyTooLarge {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A timeout fired.
    #[error(
        "{method} {path} timed out ({phase:?} timeout of {after:?}; raise it in the transport config if the site is slow)"
    )]
    Timeout {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// Which timeout.
        phase: TimeoutPhase,
        /// Its length.
        after: Duration,
    },
    /// No connection slot freed up within the acquire timeout.
    #[error(
        "connection pool exhausted: {in_flight} requests in flight (the limit) and none finished within {waited:?} (raise `max_in_flight` or `acquire_timeout`, or send less at once)"
    )]
    PoolExhausted {
        /// How long the caller waited.
        waited: Duration,
        /// The in-flight limit.
        in_flight: usize,
    },
    /// The server asked to wait longer than the caller allows.
    #[error(
        "the server asked to wait {} (until {}) before retrying {method} {path}, more than the {} allowed: raise the wait allowed (`max_wait_secs` in the config, the --max-wait flag or JIRA_OPS_MAX_WAIT; `RetryPolicy::max_wait` in code) or run again after then", jira_model::HumanDuration(*asked), jira_model::clock_time_after(*asked), jira_model::HumanDuration(*allowed)
    )]
    WaitTooLong {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// What the server asked for (`Retry-After` / `X-RateLimit-Reset`).
        asked: Duration,
        /// What the policy or the deadline allows.
        allowed: Duration,
        /// The response that asked.
        response: Box<ApiResponse>,
    },
    /// The circuit breaker is open after repeated failures; nothing was sent.
    #[error(
        "circuit open for {site} after {failures} recent failures (the last: {last_failure}); next trial in {retry_in:.1?}"
    )]
    CircuitOpen {
        /// The site.
        site: String,
        /// The failures that opened it.
        failures: u32,
        /// The latest failure the breaker saw, in its error's words (a refused connection,
        /// a timeout, `HTTP 503`): what a caller stopped by the circuit needs to fix.
        last_failure: String,
        /// Time until a trial request is let through.
        retry_in: Duration,
    },
    /// Retries ran out; `last` is the final failure.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made, the first included.
        attempts: u32,
        /// The last failure.
        last: Box<Error>,
    },
    /// The configuration is invalid.
    #[error("invalid transport configuration: {0}")]
    Config(String),
    /// A layer above the transport (rate limiter, cache) failed on its own, before or
    /// after sending; `source` is that layer's error, whole. Build it with
    /// [`Error::layer_before_sending`] or [`Error::layer_after_sending`], which say whether
    /// the request can have reached the server.
    #[error("{layer}: {source}")]
    Layer {
        /// The layer's name (`rate limiter`, `cache`), for messages.
        layer: &'static str,
        /// Whether the layer failed before anything was sent, so the server cannot have
        /// acted on the request.
        before_sending: bool,
        /// The layer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn jira_message(response: &ApiResponse) -> String {
    if response.status.is_redirection() {
        // Where it points, without its query (a download's token lives there).
        let to = response
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| jira_model::redact_url(l.split(['?', '#']).next().unwrap_or(l)));
        return match to {
            Some(to) => format!(
                ": a redirect to {to} (jira-ops follows no redirect on its own, so every request is paced and counted; if the site moved, set its URL to the new address)"
            ),
            None => ": a redirect without a Location (jira-ops follows none on its own)".into(),
        };
    }
    match response.error_collection() {
        Some(errors) if !errors.is_empty() => format!(": {}", errors.summary()),
        _ => String::new(),
    }
}

impl Error {
    /// A layer's own failure before it sent anything (a budget that would not admit the
    /// request, a cache that could not be read): the request was not performed.
    pub fn layer_before_sending(
        layer: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Layer {
            layer,
            before_sending: true,
            source: Box::new(source),
        }
    }

    /// A layer's own failure after the request may have been sent.
    pub fn layer_after_sending(
        layer: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Layer {
            layer,
            before_sending: false,
            source: Box::new(source),
        }
    }

    /// Turns a non-2xx response into [`Error::Status`]; passes a 2xx through.
    pub fn from_response(
        method: &http::Method,
        path: &str,
        response: ApiResponse,
    ) -> Result<ApiResponse, Error> {
        if response.is_success() {
            Ok(response)
        } else {
            Err(Error::Status {
                method: method.clone(),
                path: path.to_owned(),
                response: Box::new(response),
            })
        }
    }

    /// The response behind the error, when there was one.
    pub fn response(&self) -> Option<&ApiResponse> {
        match self {
            Error::Status { response, .. } | Error::WaitTooLong { response, .. } => Some(response),
            Error::Exhausted { last, .. } => last.response(),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<http::StatusCode> {
        self.response().map(|r| r.status)
    }

    /// Jira's error body, when the server sent one.
    pub fn error_collection(&self) -> Option<ErrorCollection> {
        self.response().and_then(ApiResponse::error_collection)
    }

    /// The rate-limit headers of the response, when there was one.
    pub fn rate_limit_info(&self) -> Option<RateLimitInfo> {
        self.response().map(ApiResponse::rate_limit_info)
    }

    /// Whether the server certainly did not act on the request, so a write may be sent
    /// again without risk of doing it twice: it never left (circuit open, pool exhausted,
    /// no connection, a configuration error, a layer failing before sending), or the server
    /// refused it (`ApiResponse::refusal`: a 429, or a 503 with `Retry-After`).
    /// For [`Error::Exhausted`] the last attempt decides: `Retrying` repeats a
    /// non-idempotent request only after attempts the server did not act on.
    pub fn not_performed(&self) -> bool {
        match self {
            Error::CircuitOpen { .. }
            | Error::PoolExhausted { .. }
            | Error::Connect { .. }
            | Error::Tls { .. }
            | Error::Config(_)
            | Error::Timeout {
                phase: TimeoutPhase::Connect,
                ..
            } => true,
            Error::Status { response, .. } | Error::WaitTooLong { response, .. } => {
                response.is_refusal()
            }
            Error::Layer { before_sending, .. } => *before_sending,
            Error::Exhausted { last, .. } => last.not_performed(),
            // The server answered (too much): a write may have been done.
            Error::Io { .. } | Error::Timeout { .. } | Error::BodyTooLarge { .. } => false,
        }
    }

    /// Attempts made (1 unless retries happened).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Exhausted { attempts, .. } => *attempts,
            _ => 1,
        }
    }

    /// How the failure is classified, for breakers and callers: a response by its status,
    /// a transport failure as [`ErrorClass::Transient`], local refusals as `None`.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Error::Status { response, .. } | Error::WaitTooLong { response, .. } => {
                Some(response.classify())
            }
            Error::Connect { .. } | Error::Io { .. } | Error::Timeout { .. } => {
                Some(ErrorClass::Transient)
            }
            Error::Exhausted { last, .. } => last.class(),
            Error::PoolExhausted { .. }
            | Error::CircuitOpen { .. }
            | Error::Tls { .. }
            | Error::Config(_)
            | Error::Layer { .. }
            | Error::BodyTooLarge { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_says_where_it_points_without_its_token() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::LOCATION,
            http::HeaderValue::from_static(
                "https://new.atlassian.net/rest/api/3/myself?token=SECRET",
            ),
        );
        let response = ApiResponse::local(
            http::StatusCode::MOVED_PERMANENTLY,
            headers,
            bytes::Bytes::new(),
        );
        let error =
            Error::from_response(&http::Method::GET, "/rest/api/3/myself", response).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(
                "answered HTTP 301: a redirect to https://new.atlassian.net/rest/api/3/myself"
            ),
            "{text}"
        );
        assert!(text.contains("set its URL"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
}

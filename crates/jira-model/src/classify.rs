//! [`ErrorClass`]: what a status (and, where it matters, the body) means for a client.
//!
//! One table decides it, so retries, circuit breaking and user messages all agree.

use http::StatusCode;

use crate::ErrorCollection;

/// How a response should be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 2xx.
    Success,
    /// 429: slow down and retry after the server's wait.
    RateLimited,
    /// 500, 502, 503, 504: a transient server or gateway fault; retry idempotent requests.
    Transient,
    /// 401 or 403: credentials or permissions; retrying cannot help.
    Auth,
    /// 404: the object does not exist or is invisible to this user.
    NotFound,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 410: the API was removed (e.g. the old `/search`); migrate.
    Removed,
    /// 400 about JQL: the query is invalid or unbounded.
    InvalidJql,
    /// Any other 4xx: the request is wrong; retrying cannot help.
    Client,
    /// Any other 5xx (e.g. 501): the server cannot do this; retrying will not help.
    Server,
    /// 1xx or 3xx, which a JSON API client should not see.
    Unexpected,
}

impl ErrorClass {
    /// Classifies a status and body; the body is read only for 400s (to spot JQL errors).
    ///
    /// ```
    /// use http::StatusCode;
    /// use jira_model::ErrorClass;
    /// assert_eq!(ErrorClass::of(StatusCode::TOO_MANY_REQUESTS, b""), ErrorClass::RateLimited);
    /// assert!(ErrorClass::of(StatusCode::BAD_GATEWAY, b"").is_retryable());
    /// ```
    pub fn of(status: StatusCode, body: &[u8]) -> Self {
        match status.as_u16() {
            200..=299 => ErrorClass::Success,
            429 => ErrorClass::RateLimited,
            500 | 502 | 503 | 504 => ErrorClass::Transient,
            401 | 403 => ErrorClass::Auth,
            404 => ErrorClass::NotFound,
            409 => ErrorClass::Conflict,
            410 => ErrorClass::Removed,
            400 if mentions_jql(body) => ErrorClass::InvalidJql,
            400..=499 => ErrorClass::Client,
            500..=599 => ErrorClass::Server,
            _ => ErrorClass::Unexpected,
        }
    }

    /// Whether a retry can succeed (rate limits and transient faults). Whether a given
    /// request may be retried also depends on its idempotency: that is the transport's call.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::RateLimited | ErrorClass::Transient)
    }

    /// Whether the response counts as the server failing, for a circuit breaker: transient
    /// and other server errors do; client errors and rate limits do not.
    pub fn is_server_failure(self) -> bool {
        matches!(self, ErrorClass::Transient | ErrorClass::Server)
    }
}

fn mentions_jql(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorCollection>(body)
        .map(|errors| {
            errors
                .error_messages
                .iter()
                .chain(errors.errors.values())
                .any(|message| message.contains("JQL") || message.contains("jql"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, body: &str, expected: ErrorClass) {
        let class = ErrorClass::of(StatusCode::from_u16(status).unwrap(), body.as_bytes());
        assert_eq!(class, expected, "status {status} body {body:?}");
    }

    #[test]
    fn the_table() {
        check(200, "", ErrorClass::Success);
        check(201, "", ErrorClass::Success);
        check(204, "", ErrorClass::Success);
        check(429, "", ErrorClass::RateLimited);
        check(500, "", ErrorClass::Transient);
        check(502, "", ErrorClass::Transient);
        check(503, "", ErrorClass::Transient);
        check(504, "", ErrorClass::Transient);
        check(501, "", ErrorClass::Server);
        check(505, "", ErrorClass::Server);
        check(401, "", ErrorClass::Auth);
        check(403, "", ErrorClass::Auth);
        check(
            404,
            r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#,
            ErrorClass::NotFound,
        );
        check(409, "", ErrorClass::Conflict);
        check(
            410,
            r#"{"errorMessages":["The requested API has been removed."],"errors":{}}"#,
            ErrorClass::Removed,
        );
        check(
            400,
            r#"{"errorMessages":["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."],"errors":{}}"#,
            ErrorClass::InvalidJql,
        );
        check(
            400,
            r#"{"errorMessages":[],"errors":{"jql":"Error in the JQL Query"}}"#,
            ErrorClass::InvalidJql,
        );
        check(
            400,
            r#"{"errorMessages":[],"errors":{"summary":"You must specify a summary of the issue."}}"#,
            ErrorClass::Client,
        );
        check(400, "not json", ErrorClass::Client);
        check(413, "", ErrorClass::Client);
        check(302, "", ErrorClass::Unexpected);
    }

    #[test]
    fn retryable_and_breaker_failures() {
        let retryable: Vec<u16> = [200, 400, 401, 404, 409, 410, 429, 500, 501, 502, 503, 504]
            .into_iter()
            .filter(|s| ErrorClass::of(StatusCode::from_u16(*s).unwrap(), b"").is_retryable())
            .collect();
        assert_eq!(retryable, vec![429, 500, 502, 503, 504]);
        assert!(!ErrorClass::RateLimited.is_server_failure());
        assert!(!ErrorClass::Client.is_server_failure());
        assert!(ErrorClass::Transient.is_server_failure());
        assert!(ErrorClass::Server.is_server_failure());
    }
}

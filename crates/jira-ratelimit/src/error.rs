//! The crate's one error type. [`crate::RateLimited`] hands it to callers inside
//! `jira_transport::Error::Layer { layer: "rate limiter", before_sending: true, .. }`: it
//! fails only before sending, so the request was never performed.

use std::time::Duration;

/// What can go wrong pacing a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The budget would admit the request only after longer than allowed.
    #[error(
        "rate budget for {what} is spent: the next slot is in {} (at {}), more than the {} allowed: raise the wait allowed (`max_wait_secs` in the config, the --max-wait flag or JIRA_OPS_MAX_WAIT; `LimitsConfig::max_wait` in code) or run again after then", jira_model::HumanDuration(*wait), jira_model::clock_time_after(*wait), jira_model::HumanDuration(*allowed)
    )]
    WaitTooLong {
        /// The request (`GET /rest/api/3/issue/{issueIdOrKey}`).
        what: String,
        /// The wait.
        wait: Duration,
        /// The limit.
        allowed: Duration,
    },
    /// The shared Redis budget cannot be reached and no local fallback was chosen.
    #[error(
        "shared rate budget at {url} is unreachable: {source} (start Redis, fix the URL, or choose a local fallback)"
    )]
    Redis {
        /// The Redis URL, without credentials.
        url: String,
        /// The Redis error.
        #[source]
        source: redis::RedisError,
    },
    /// The configuration is invalid.
    #[error("invalid rate-limit configuration: {0}")]
    Config(String),
}

impl From<jira_redis::ConnectError> for Error {
    fn from(error: jira_redis::ConnectError) -> Self {
        Error::Redis {
            url: error.url,
            source: error.source,
        }
    }
}

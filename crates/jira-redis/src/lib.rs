//! The one Redis connection setup of jira-ops, shared by `jira_cache::RedisStore` and
//! `jira_ratelimit::RedisBudget`.
//!
//! # Design
//!
//! Both stores sit on the request path, so a dead or slow Redis must turn into an error (or
//! the budget's chosen fallback) within a couple of seconds, never into a request that hangs
//! while the connection manager reconnects. One set of bounds ([`CONNECT_TIMEOUT`],
//! [`RESPONSE_TIMEOUT`], two reconnection attempts) serves both, and the URL in every
//! message has its password replaced by `***`.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), jira_redis::ConnectError> {
//! let (connection, url) = jira_redis::connect("redis://:secret@127.0.0.1:6379/0").await?;
//! assert_eq!(url, "redis://:***@127.0.0.1:6379/0");
//! # drop(connection);
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

pub use redis::aio::ConnectionManager;
use redis::aio::ConnectionManagerConfig;

/// How long a new connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one command may wait for its answer.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Redis could not be reached; `url` is redacted.
#[derive(Debug)]
pub struct ConnectError {
    /// The URL, password replaced by `***`.
    pub url: String,
    /// The Redis error.
    pub source: redis::RedisError,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot reach Redis at {}: {}", self.url, self.source)
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Connects to `url` with jira-ops's bounds; returns the connection and the redacted URL.
pub async fn connect(url: &str) -> Result<(ConnectionManager, String), ConnectError> {
    let redacted = jira_model::redact_url(url);
    let error = |source| ConnectError {
        url: redacted.clone(),
        source,
    };
    let client = redis::Client::open(url).map_err(error)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    let connection = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(error)?;
    Ok((connection, redacted))
}

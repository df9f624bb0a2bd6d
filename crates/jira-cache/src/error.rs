//! The crate's one error type.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong with the cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A glob pattern does not parse.
    #[error("cache pattern {pattern:?} is invalid: {reason} (use e.g. --pattern 'PROJ-*')")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// A category name is not known and was not defined.
    #[error(
        "unknown cache category {0:?} (use issue, project, field, user or search, or define it with a TTL)"
    )]
    UnknownCategory(String),
    /// An entry is larger than the whole cache may be.
    #[error(
        "entry {key:?} is {size} bytes, larger than the cache's cap of {cap} bytes (raise max_size_mb)"
    )]
    TooLarge {
        /// The key.
        key: String,
        /// Its size.
        size: usize,
        /// The cap.
        cap: u64,
    },
    /// Another process holds the sled cache directory.
    #[error(
        "cache directory {dir} is in use by {holder} (waited {}): wait for it to finish, stop it, run with --no-cache, or use another --cache-dir (a wait longer than `cache_lock_wait_secs` allows)", jira_model::HumanDuration(*waited)
    )]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// Who holds it, as far as we know (`process 1234`).
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The sled store failed.
    #[error("cache store at {dir} failed: {source}")]
    Sled {
        /// The directory.
        dir: PathBuf,
        /// The sled error.
        #[source]
        source: sled::Error,
    },
    /// The sled directory is damaged (truncated or corrupt files): sled refused or panicked
    /// while opening it.
    #[error(
        "cache directory {dir} is damaged ({what}); `jira-ops cache clear --reset` moves it aside and starts a fresh cache (or run with JIRA_OPS_CACHE_STORE=none)"
    )]
    Damaged {
        /// The directory.
        dir: PathBuf,
        /// What sled said.
        what: String,
    },
    /// The Redis store failed.
    #[error("cache store at {url} failed: {source} (is Redis running and the URL right?)")]
    Redis {
        /// The Redis URL, password redacted.
        url: String,
        /// The Redis error.
        #[source]
        source: redis::RedisError,
    },
    /// A filesystem operation failed.
    #[error("cache directory {dir}: {source}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be (de)serialised.
    #[error("cache value for {key:?} is not valid JSON of the expected type: {source}")]
    Serde {
        /// The key.
        key: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The fetch behind `get_or_fetch` failed and nothing stale could be served.
    #[error("fetching {key:?} failed: {message}")]
    Fetch {
        /// The key.
        key: String,
        /// The fetch's error, as text (it is shared by every waiting caller).
        message: String,
    },
}

impl From<jira_redis::ConnectError> for Error {
    fn from(error: jira_redis::ConnectError) -> Self {
        Error::Redis {
            url: error.url,
            source: error.source,
        }
    }
}

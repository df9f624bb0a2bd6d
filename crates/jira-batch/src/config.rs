//! Batch configuration. Environment variables (the reference tool's
//! `MAX_CONCURRENT_JIRA_CALLS` and `JIRA_BATCH_SIZE`) are read by `jira_client::Settings`,
//! the one table of settings, not here.

use std::time::Duration;

/// How batches run.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Requests in flight at most (default 10).
    pub max_concurrent: usize,
    /// Keys per bulk fetch, at most `jira_model::BULK_FETCH_MAX_ISSUES` (default 100). At
    /// the default, a lean read (a few plain fields) takes
    /// [`jira_model::bulk_fetch_max_issues`] (1,000) instead.
    pub fetch_chunk: usize,
    /// Issues per bulk create, at most `jira_model::BULK_CREATE_MAX_ISSUES` (default 50).
    pub create_chunk: usize,
    /// A time limit for each request of a batch, on top of the transport's own timeouts
    /// (none by default).
    pub request_timeout: Option<Duration>,
    /// The oldest cached issue a fetch serves: `None`, any the cache holds fresh (within
    /// its TTL); zero, none (every issue read from the site, the cache refreshed).
    pub cache_max_age: Option<Duration>,
    /// How long a write takes to reach search, at most: Jira's index is eventually
    /// consistent, so a write whose answer was lost and that search does not find yet is
    /// looked for again until its intent is this old, and only then sent again
    /// (default 30 s).
    pub search_settle: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_concurrent: 10,
            fetch_chunk: jira_model::BULK_FETCH_MAX_ISSUES,
            create_chunk: jira_model::BULK_CREATE_MAX_ISSUES,
            request_timeout: None,
            cache_max_age: None,
            search_settle: Duration::from_secs(30),
        }
    }
}

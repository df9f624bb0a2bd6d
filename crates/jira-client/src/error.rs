//! The crate's one error type: building a client, or a job it runs.

/// What can go wrong building a [`crate::JiraClient`] or running one of its jobs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work; the message names the value and the fix.
    #[error("{0}")]
    Config(String),
    /// A setting was refused.
    #[error(transparent)]
    Setting(#[from] crate::SettingError),
    /// A request failed.
    #[error(transparent)]
    Transport(#[from] jira_transport::Error),
    /// The cache failed.
    #[error("cache: {0}")]
    Cache(#[from] jira_cache::Error),
    /// The shared rate-limit budget could not be set up.
    #[error("rate-limit store: {0}")]
    RateLimit(#[from] jira_ratelimit::Error),
    /// A sync could not go on (a fetch failed, the sink refused a commit); what was
    /// committed before is kept and the same sync resumes from it.
    #[error("{0}")]
    Sync(String),
    /// A batch job failed as a whole (invalid JQL, a removed API, ...).
    #[error(transparent)]
    Batch(#[from] jira_batch::Error),
    /// An answer was not what the API promises.
    #[error(transparent)]
    Model(#[from] jira_model::Error),
}

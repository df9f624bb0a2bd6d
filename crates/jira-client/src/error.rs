//! The crate's one error type: building a client, or a job it runs.

/// What can go wrong building a [`crate::JiraClient`] or running one of its jobs.
///
/// The job crates (`jira-sync`, `jira-apply`) wrap it, so `?` carries a client error
/// through them; [`Error::refused_credentials`] and [`Error::is_input`] tell a caller what
/// kind of failure it is without matching the layer crates' types.
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
    /// A batch job failed as a whole (invalid JQL, a removed API, ...).
    #[error(transparent)]
    Batch(#[from] jira_batch::Error),
    /// One issue of a fetch could not be had.
    #[error(transparent)]
    Fetch(#[from] jira_batch::FetchError),
    /// One issue of a bulk create was not created.
    #[error(transparent)]
    Create(#[from] jira_batch::CreateError),
    /// An answer was not what the API promises.
    #[error(transparent)]
    Model(#[from] jira_model::Error),
}

impl Error {
    /// The status (401 or 403) when the site refused the credentials.
    pub fn refused_credentials(&self) -> Option<u16> {
        let transport = match self {
            Error::Transport(error) | Error::Batch(jira_batch::Error::Transport(error)) => error,
            _ => return None,
        };
        transport
            .status()
            .map(|status| status.as_u16())
            .filter(|status| matches!(status, 401 | 403))
    }

    /// Whether the caller's input is at fault (a configuration or setting, a refused JQL,
    /// a cache pattern or category, a batch size): fixing the input fixes it, retrying
    /// does not.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::Setting(_)
                | Error::Batch(jira_batch::Error::InvalidJql { .. } | jira_batch::Error::Config(_))
                | Error::Cache(
                    jira_cache::Error::Pattern { .. } | jira_cache::Error::UnknownCategory(_)
                )
        )
    }

    /// Whether a search refused the query (a syntax error, an unknown field or value, an
    /// unbounded query).
    pub fn is_invalid_jql(&self) -> bool {
        matches!(self, Error::Batch(jira_batch::Error::InvalidJql { .. }))
    }

    /// Whether the embedded cache is held by another process.
    pub fn is_cache_locked(&self) -> bool {
        matches!(self, Error::Cache(jira_cache::Error::Locked { .. }))
    }
}

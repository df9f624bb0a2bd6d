//! The crate's one error type.

/// What can go wrong in a batch operation as a whole (per-item failures are results).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid batch configuration: {0}")]
    Config(String),
    /// The JQL was refused (any 400 a search answers: a syntax error, an unknown field or
    /// value, an unbounded query).
    #[error("JQL {jql:?} was refused: {message}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    InvalidJql {
        /// The query.
        jql: String,
        /// Jira's message.
        message: String,
        /// What to do about it, when the message says what kind of problem it is.
        hint: Option<String>,
    },
    /// The site answered 410 Gone: an API jira-ops uses was removed there.
    #[error("{path} answered 410 Gone: {message}")]
    Removed {
        /// The path.
        path: String,
        /// Jira's message.
        message: String,
    },
    /// A request failed.
    #[error(transparent)]
    Transport(#[from] jira_transport::Error),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] jira_cache::Error),
    /// An answer was not what the API promises.
    #[error(transparent)]
    Model(#[from] jira_model::Error),
}

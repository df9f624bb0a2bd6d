//! The crate's one error type.

/// What can stop a sync: a request the run needed failed, or the sink refused. What was
/// committed before is kept, and the same sync resumes from it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request failed, a search was refused (invalid JQL) or an answer could not be
    /// read: the client's error, with its kind.
    #[error(transparent)]
    Client(#[from] jira_client::Error),
    /// The run could not go on (an issue could not be fetched, the sink could not be
    /// opened or written, a state could not be read); the message names what and the
    /// way out.
    #[error("{0}")]
    Sync(String),
}

impl Error {
    /// Whether the query itself was refused (invalid JQL, an unbounded query): the user's
    /// input to fix, not a failure to retry.
    pub fn is_invalid_jql(&self) -> bool {
        matches!(self, Error::Client(error) if error.is_invalid_jql())
    }

    /// A refusal of a query the run composed from the user's (a window, a census page,
    /// `((JQL) AND updated <= …) ORDER BY id ASC`) said as the user wrote it: Jira's
    /// message names the user's mistake, which the composed query only carries.
    pub(crate) fn naming_query(self, user_jql: &str) -> Self {
        match self {
            Error::Client(jira_client::Error::Batch(jira_batch::Error::InvalidJql {
                message,
                hint,
                ..
            })) => Error::Client(jira_client::Error::Batch(jira_batch::Error::InvalidJql {
                jql: user_jql.to_owned(),
                message,
                hint,
            })),
            other => other,
        }
    }
}

impl From<jira_transport::Error> for Error {
    fn from(error: jira_transport::Error) -> Self {
        Error::Client(error.into())
    }
}

impl From<jira_batch::Error> for Error {
    fn from(error: jira_batch::Error) -> Self {
        Error::Client(error.into())
    }
}

impl From<jira_model::Error> for Error {
    fn from(error: jira_model::Error) -> Self {
        Error::Client(error.into())
    }
}

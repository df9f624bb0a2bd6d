//! The crate's one error type.

use crate::journal::JournalError;

/// What stops a write job as a whole (a line's own failure is its [`crate::LineResult`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The journal could not be opened, read or written: nothing more is sent, and what
    /// was recorded holds.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The client could not be built, or a request the job needed failed.
    #[error(transparent)]
    Client(#[from] jira_client::Error),
    /// A read the job needs before it writes anything failed (nothing was written).
    #[error("{0}")]
    Read(String),
}

//! The crate's one error type.

/// What can go wrong turning values into bodies and back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request body could not be serialised.
    #[error("could not encode the body of {what}: {source}")]
    Encode {
        /// The path template of the request.
        what: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A response body was not the expected JSON.
    #[error(
        "HTTP {status} body is not a valid {type_name}: {source} (is the site URL a Jira Cloud site?)"
    )]
    Decode {
        /// The response status.
        status: u16,
        /// The Rust type that was expected.
        type_name: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
}

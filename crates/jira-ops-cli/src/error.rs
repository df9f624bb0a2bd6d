//! Errors as the user sees them: one line, and an exit code.

use std::fmt;
use std::process::ExitCode;

/// The documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Everything worked (health: healthy).
    Ok = 0,
    /// Some items failed, or the run failed (health: degraded).
    Failure = 1,
    /// Usage, configuration or input error (health: unhealthy).
    Usage = 2,
    /// The site refused the credentials.
    Auth = 3,
    /// Stopped by SIGINT (Ctrl-C) after writing what was finished: 128 + 2.
    Interrupted = 130,
    /// Stopped by SIGTERM after writing what was finished: 128 + 15.
    Terminated = 143,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}

/// A failure of a whole command.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: Code,
    /// One line (or a few) saying what went wrong and how to fix it.
    pub message: String,
    /// Nothing to print: the reader of stdout went away (`| head -1`), which ends an
    /// output command quietly, as coreutils, `gh` and `kubectl` do.
    pub closed_output: bool,
}

impl CliError {
    /// Bad input or usage: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: Code::Usage,
            message: message.into(),
            closed_output: false,
        }
    }

    /// The run failed: exit 1.
    pub fn failure(message: impl Into<String>) -> Self {
        CliError {
            code: Code::Failure,
            message: message.into(),
            closed_output: false,
        }
    }

    /// The credentials were refused: exit 3.
    pub fn auth(message: impl Into<String>) -> Self {
        CliError {
            code: Code::Auth,
            message: message.into(),
            closed_output: false,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What an auth refusal says, whatever the command.
pub const AUTH_HINT: &str = "the site refused the credentials (HTTP {status}): check the email and the API token (JIRA_API_TOKEN or JIRA_API_TOKEN_<PROFILE>); `jira-ops config check` tries them";

fn auth_message(status: u16) -> String {
    AUTH_HINT.replace("{status}", &status.to_string())
}

impl From<jira_transport::Error> for CliError {
    fn from(error: jira_transport::Error) -> Self {
        match error.status().map(|s| s.as_u16()) {
            Some(status @ (401 | 403)) => CliError::auth(auth_message(status)),
            _ => CliError::failure(error.to_string()),
        }
    }
}

impl From<jira_batch::Error> for CliError {
    fn from(error: jira_batch::Error) -> Self {
        match error {
            jira_batch::Error::Transport(error) => error.into(),
            jira_batch::Error::InvalidJql { .. } | jira_batch::Error::Config(_) => {
                CliError::usage(error.to_string())
            }
            other => CliError::failure(other.to_string()),
        }
    }
}

impl From<jira_client::Error> for CliError {
    fn from(error: jira_client::Error) -> Self {
        match error {
            jira_client::Error::Transport(error) => error.into(),
            jira_client::Error::Batch(error) => error.into(),
            jira_client::Error::Cache(error) => error.into(),
            jira_client::Error::Config(_) | jira_client::Error::Setting(_) => {
                CliError::usage(error.to_string())
            }
            other => CliError::failure(other.to_string()),
        }
    }
}

impl From<jira_cache::Error> for CliError {
    fn from(error: jira_cache::Error) -> Self {
        match error {
            jira_cache::Error::Pattern { .. } | jira_cache::Error::UnknownCategory(_) => {
                CliError::usage(error.to_string())
            }
            other => CliError::failure(format!("cache: {other}")),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::closed_output();
        }
        CliError::failure(error.to_string())
    }
}

impl CliError {
    /// Stdout was closed by its reader: exit 0 with nothing printed. A command that writes
    /// to Jira turns this into a failure of its own (its journal holds the record).
    pub fn closed_output() -> Self {
        CliError {
            code: Code::Ok,
            message: String::new(),
            closed_output: true,
        }
    }
}

/// The result of a command: the exit code it ends with.
pub type CliResult = Result<Code, CliError>;

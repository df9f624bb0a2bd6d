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

impl From<jira_client::TransportError> for CliError {
    fn from(error: jira_client::TransportError) -> Self {
        jira_client::Error::from(error).into()
    }
}

/// One rule for every library error: credentials refused (3), the user's input (2),
/// anything else a failure of the run (1).
impl From<jira_client::Error> for CliError {
    fn from(error: jira_client::Error) -> Self {
        if let Some(status) = error.refused_credentials() {
            return CliError::auth(auth_message(status));
        }
        if error.is_input() {
            return CliError::usage(error.to_string());
        }
        match error {
            jira_client::Error::Cache(error) => error.into(),
            other => CliError::failure(other.to_string()),
        }
    }
}

impl From<jira_client::cache::Error> for CliError {
    fn from(error: jira_client::cache::Error) -> Self {
        match error {
            jira_client::cache::Error::Pattern { .. }
            | jira_client::cache::Error::UnknownCategory(_) => CliError::usage(error.to_string()),
            other => CliError::failure(format!("cache: {other}")),
        }
    }
}

impl From<jira_sync::Error> for CliError {
    fn from(error: jira_sync::Error) -> Self {
        match error {
            jira_sync::Error::Client(error) => error.into(),
            other => CliError::failure(other.to_string()),
        }
    }
}

impl From<jira_apply::Error> for CliError {
    fn from(error: jira_apply::Error) -> Self {
        match error {
            jira_apply::Error::Client(error) => error.into(),
            other => CliError::failure(other.to_string()),
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

impl Code {
    /// The exit code of a run that handled `failed` items (of any kind: refused, not sent,
    /// unknown, not found) and was not interrupted: 0 when none failed, 1 otherwise. The
    /// one rule every command that processes items ends with.
    pub fn of_run(failed: usize) -> Code {
        match failed {
            0 => Code::Ok,
            _ => Code::Failure,
        }
    }
}

/// The result of a command: the exit code it ends with.
pub type CliResult = Result<Code, CliError>;

//! `jira-ops`: drive heavy traffic at Jira Cloud — fast, polite to the server, and never
//! losing a result.
//!
//! # Design
//!
//! The binary is thin: every behaviour lives in a library crate where a Rust program can
//! reach it too, the assembled client and its jobs in `jira-client`
//! (`JiraClient::from_settings`), the simulator in `jira-sim`. What is here is the command
//! line (clap), the layering of settings sources (profiles in a TOML file, the environment,
//! flags, and where each value came from) over the one table of settings
//! (`jira_client::SETTINGS`), output formats, progress bars, and logging with optional
//! OTLP export.
//!
//! # Example
//!
//! ```text
//! jira-ops demo                                   # the main job on an embedded simulator
//! jira-ops --profile work health --json           # 0 healthy, 1 degraded, 2 unhealthy, 3 auth
//! jira-ops search 'project = PROJ AND updated >= -7d' --format csv > recent.csv
//! ```

use std::process::ExitCode;

mod cli;
mod commands;
mod config;
mod destination;
mod error;
mod notes;
mod output;
mod records;
mod signals;
mod telemetry;

use error::Code;

/// mimalloc rather than glibc's allocator: glibc keeps an arena per thread that touched
/// the heap, so a long sync's resident memory grew with its length.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// After a refusal: a token with no email was sent as a Bearer token, which an Atlassian
/// API token is not; say so, since that is the usual cause.
fn explain_bearer(global: &cli::Global) {
    let quiet = cli::Global {
        quiet: true,
        ..global.clone()
    };
    let Ok(loaded) = commands::settings(&quiet) else {
        return;
    };
    if loaded.settings.email.is_none() && loaded.settings.api_token.is_some() {
        crate::notes::say!(
            "jira-ops: note: no email is set, so the token was sent as a Bearer token (OAuth 2.0 access tokens work that way); an Atlassian API token needs Basic auth with the account's email: set email (--email, JIRA_EMAIL, or `email` in the profile)"
        );
    }
}

fn main() -> ExitCode {
    let parsed = cli::command()
        .try_get_matches()
        .and_then(|matches| <cli::Cli as clap::FromArgMatches>::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = error.print();
            return ExitCode::from(error.exit_code() as u8);
        }
    };
    notes::use_json(cli.global.log_format == cli::LogFormat::Json);
    let telemetry = match telemetry::init(&cli.global) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            crate::notes::say!("jira-ops: error: {error}");
            return error.code.into();
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            crate::notes::say!("jira-ops: error: cannot start the async runtime: {error}");
            return Code::Failure.into();
        }
    };
    let global = cli.global.clone();
    // A server prints its address and runs until stopped: there is no output to keep.
    if global.output.is_some()
        && matches!(cli.command, cli::Command::Proxy(_) | cli::Command::Sim(_))
    {
        let error = error::CliError::usage(
            "-o/--output keeps a command's records or report; `proxy` and `sim serve` print only the address they serve (redirect it with > instead)",
        );
        crate::notes::say!("jira-ops: error: {error}");
        return error.code.into();
    }
    if let Some(path) = &global.output
        && let Err(error) = destination::open(path)
    {
        crate::notes::say!("jira-ops: error: {error}");
        return error.code.into();
    }
    let mut result = runtime.block_on(commands::run(cli));
    if let Err(error) = destination::finish(&result)
        && result.is_ok()
    {
        result = Err(error);
    }
    // Let in-flight tasks end before the exporters flush what they recorded.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    telemetry.shutdown();
    match result {
        Ok(code) => code.into(),
        Err(error) if error.closed_output => error.code.into(),
        Err(error) => {
            crate::notes::say!("jira-ops: error: {error}");
            if error.code == Code::Auth {
                explain_bearer(&global);
            }
            error.code.into()
        }
    }
}

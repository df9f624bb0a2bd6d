//! One module per command; each is a thin layer over the library crates.

use std::io::IsTerminal;

use tracing::Instrument;

use crate::cli::{Cli, Command, Global, SimCommand};
use crate::config::{CacheUse, Loaded};
use crate::error::{CliError, CliResult, Code};

mod apply;
mod cache;
mod config;
mod create;
mod demo;
mod diagnose;
mod export;
mod health;
mod journal;
mod proxy;
mod revert;
mod sync;
mod sync_status;

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> CliResult {
    let span = tracing::info_span!("jira_ops.command", command = command_name(&cli.command));
    dispatch(cli).instrument(span).await
}

async fn dispatch(cli: Cli) -> CliResult {
    let global = cli.global;
    if !matches!(
        cli.command,
        Command::Sim(_) | Command::Completions { .. } | Command::Man { .. }
    ) {
        crate::signals::install();
    }
    match cli.command {
        Command::Demo(args) => demo::run(&global, args).await,
        Command::Health(args) => health::run(&global, args).await,
        Command::Diagnose(args) => diagnose::run(&global, args).await,
        Command::Cache(command) => cache::run(&global, command).await,
        Command::Fetch(args) => export::fetch(&global, args).await,
        Command::Search(args) => export::search(&global, args).await,
        Command::Create(args) => create::run(&global, args).await,
        Command::Apply(args) => apply::run(&global, args).await,
        Command::Journal(command) => journal::run(&global, command),
        Command::Sync(args) => sync::run(&global, args).await,
        Command::Proxy(args) => proxy::run(&global, args).await,
        Command::Sim(SimCommand::Serve(args)) => {
            args.to_config()
                .map_err(|e| CliError::usage(e.to_string()))?;
            args.serve_until(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| CliError::failure(format!("{e:#}")))?;
            Ok(Code::Ok)
        }
        Command::Config(command) => config::run(&global, command).await,
        Command::Completions { shell } => {
            // Written whole once made: a reader that goes away (`| head`) ends it quietly
            // (clap_complete panics on a write error of its own).
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut completion_command(&global).await,
                "jira-ops",
                &mut script,
            );
            use std::io::Write as _;
            let mut out = crate::destination::stdout();
            out.write_all(&script)?;
            out.flush()?;
            Ok(Code::Ok)
        }
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// `jira-ops man`: the page of the whole command on stdout, or every command's page in
/// `dir` (the way `cargo xtask man` makes them).
fn man(dir: Option<&std::path::Path>) -> CliResult {
    let command = crate::cli::command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .title("JIRA-OPS")
            .render(&mut page)?;
        use std::io::Write as _;
        let mut out = crate::destination::stdout();
        out.write_all(&page)?;
        out.flush()?;
        return Ok(Code::Ok);
    };
    let failed = |e: std::io::Error| {
        CliError::failure(format!("writing man pages to {}: {e}", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mut written = 0;
    // (page name, words that run it, the command)
    let mut stack = vec![(String::from("jira-ops"), String::from("jira-ops"), command)];
    while let Some((name, words, mut command)) = stack.pop() {
        command = command.name(name.clone()).bin_name(words.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone())
            .title(name.to_uppercase())
            .render(&mut page)
            .map_err(failed)?;
        std::fs::write(dir.join(format!("{name}.1")), page).map_err(failed)?;
        written += 1;
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() == "help" {
                continue;
            }
            stack.push((
                format!("{name}-{}", sub.get_name()),
                format!("{words} {}", sub.get_name()),
                sub.clone(),
            ));
        }
    }
    crate::notes::say!("wrote {written} man pages in {}", dir.display());
    Ok(Code::Ok)
}

/// The command line as completion scripts see it: values offered where they are known
/// (the config file's profiles, the cache categories, the system fields and the site's
/// own when `cache warm --fields` cached them), never file names for a value that is not
/// a file.
async fn completion_command(global: &Global) -> clap::Command {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let path = global
        .config
        .clone()
        .unwrap_or_else(|| crate::config::default_path(&env));
    let profiles: Vec<String> = crate::config::read_file(&path)
        .ok()
        .flatten()
        .map(|(_, file)| file.profiles.into_keys().collect())
        .unwrap_or_default();
    let mut fields: Vec<String> = vec!["*all".into(), "*navigable".into()];
    fields.extend(
        jira_client::fields::SYSTEM_FIELDS
            .iter()
            .map(|f| (*f).to_owned()),
    );
    for field in cached_fields(global).await {
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    let categories: Vec<String> = jira_client::cache::Category::BUILT_IN
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    offer_values(
        crate::cli::command(),
        &[
            ("profile", profiles),
            ("fields", fields),
            ("category", categories),
        ],
    )
}

/// The ids and names of the site's fields, from the cache (`cache warm --fields`); none
/// when there is no site, no cache or no catalogue in it. Nothing is sent.
async fn cached_fields(global: &Global) -> Vec<String> {
    let Ok(mut loaded) = settings(global) else {
        return Vec::new();
    };
    loaded.quiet = true;
    let Ok(client) = loaded.client(CacheUse::IfFree).await else {
        return Vec::new();
    };
    let catalogue: Vec<jira_model::Field> = match client.cache() {
        Some(cache) => cache
            .get(&jira_client::cache::Category::Field, "fields")
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let _ = client.close().await;
    // Names with spaces would be split into words by the shells' word lists.
    catalogue
        .into_iter()
        .flat_map(|f| [f.id, f.name])
        .filter(|value| !value.contains(char::is_whitespace))
        .collect()
}

fn offer_values(command: clap::Command, values: &[(&str, Vec<String>)]) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let mut command = command.mut_args(|arg| {
        let id = arg.get_id().as_str().to_owned();
        match values.iter().find(|(name, _)| *name == id) {
            Some((_, list)) if arg.get_action().takes_values() => {
                let hint = arg.clone().value_hint(clap::ValueHint::Other);
                if list.is_empty() {
                    hint
                } else {
                    hint.value_parser(clap::builder::PossibleValuesParser::new(list.clone()))
                }
            }
            _ => arg,
        }
    });
    for name in names {
        command = command.mut_subcommand(&name, |sub| offer_values(sub, values));
    }
    command
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Demo(_) => "demo",
        Command::Health(_) => "health",
        Command::Diagnose(_) => "diagnose",
        Command::Cache(_) => "cache",
        Command::Fetch(_) => "fetch",
        Command::Search(_) => "search",
        Command::Create(_) => "create",
        Command::Apply(_) => "apply",
        Command::Journal(_) => "journal",
        Command::Sync(_) => "sync",
        Command::Proxy(_) => "proxy",
        Command::Sim(_) => "sim",
        Command::Config(_) => "config",
        Command::Completions { .. } => "completions",
        Command::Man { .. } => "man",
    }
}

/// The settings from flags, the process environment and the config file.
pub fn settings(global: &Global) -> Result<Loaded, CliError> {
    Loaded::load(global, |name| std::env::var(name).ok())
}

/// An auth error when the site refused the credentials and answered nothing else, even
/// if the refusals came back as per-item failures (a bulk fetch, a bulk create).
pub fn refused_credentials(client: &jira_client::JiraClient) -> Result<(), CliError> {
    if client.credentials_refused() {
        return Err(CliError::auth(
            crate::error::AUTH_HINT.replace("{status}", "401/403"),
        ));
    }
    Ok(())
}

/// Asks a yes/no question on the terminal; `false` unless the answer starts with y.
pub fn confirm(question: &str) -> Result<bool, CliError> {
    use std::io::Write;
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().to_ascii_lowercase().starts_with('y'))
}

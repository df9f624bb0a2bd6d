//! `jira-ops fetch` and `jira-ops search`: issues out, streamed, in four formats.

use std::io::{BufRead, BufReader, Read};

use futures_util::StreamExt;
use jira_batch::{FetchError, SearchOptions};

use crate::cli::{FetchArgs, Global, SearchArgs};
use crate::error::{CliError, CliResult, Code};
use crate::output::{self, IssueWriter};

/// Keys per call of `fetch_issues`: enough for every worker to have a bulk fetch in
/// flight, few enough that output streams and memory stays flat.
const KEYS_PER_ROUND: usize = 1_000;

/// Keys from a reader: one per line, blank lines and `#` comments skipped.
pub fn read_keys(reader: impl Read, source: &str) -> Result<Vec<String>, CliError> {
    let mut keys = Vec::new();
    for (n, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| CliError::usage(format!("{source}, line {}: {e}", n + 1)))?;
        let key = line.split('#').next().unwrap_or("").trim();
        if key.is_empty() {
            continue;
        }
        if key.chars().any(char::is_whitespace) {
            return Err(CliError::usage(format!(
                "{source}, line {}: {key:?} is not an issue key (one key per line, e.g. PROJ-123)",
                n + 1
            )));
        }
        keys.push(key.to_owned());
    }
    Ok(keys)
}

fn collect_keys(args: &FetchArgs) -> Result<Vec<String>, CliError> {
    let mut keys = Vec::new();
    for key in &args.keys {
        if key == "-" {
            keys.extend(read_keys(std::io::stdin().lock(), "stdin")?);
        } else {
            keys.push(key.clone());
        }
    }
    if let Some(path) = &args.from_file {
        let file = std::fs::File::open(path)
            .map_err(|e| CliError::usage(format!("--from-file {}: {e}", path.display())))?;
        keys.extend(read_keys(file, &path.display().to_string())?);
    }
    if keys.is_empty() {
        return Err(CliError::usage(
            "no issue keys: pass KEY..., --from-file FILE, or - to read stdin",
        ));
    }
    Ok(keys)
}

pub async fn fetch(global: &Global, args: FetchArgs) -> CliResult {
    let keys = collect_keys(&args)?;
    let settings = super::settings(global)?;
    let client = settings.client().await?;
    let format = output::resolve_format(args.output.format);
    let fields: Vec<&str> = args.output.fields.iter().map(String::as_str).collect();
    let mut writer = IssueWriter::new(format, &args.output.fields, std::io::stdout().lock())?;
    let visible = output::progress_allowed(global.quiet, false);
    let bar = output::bar(keys.len() as u64, "fetching issues", visible);
    let (mut fetched, mut hits, mut requests) = (0, 0, 0);
    let mut failures: Vec<FetchError> = Vec::new();
    for round in keys.chunks(KEYS_PER_ROUND) {
        let (results, report) = client.fetch_issues(round, &fields, &[]).await?;
        hits += report.cache_hits;
        requests += report.requests;
        for (_, result) in results {
            match result {
                Ok(issue) => {
                    writer.write(&issue)?;
                    fetched += 1;
                }
                Err(error) => failures.push(error),
            }
        }
        bar.inc(round.len() as u64);
    }
    bar.finish_and_clear();
    writer.finish()?;
    client.close().await?;
    report_failures(&failures);
    if !global.quiet {
        eprintln!(
            "fetched {fetched} of {} issues ({hits} from the cache, {requests} requests); {} failed",
            fetched + failures.len(),
            failures.len()
        );
    }
    super::refused_credentials(&client)?;
    Ok(if failures.is_empty() {
        Code::Ok
    } else {
        Code::Failure
    })
}

/// Every per-item failure, one line each, on stderr.
fn report_failures(failures: &[FetchError]) {
    for failure in failures {
        eprintln!("jira-ops: {failure}");
    }
}

pub async fn search(global: &Global, args: SearchArgs) -> CliResult {
    let mut settings = super::settings(global)?;
    // A search reads fresh pages and never the cache: do not hold the cache's lock.
    settings.settings.cache_store = "none".into();
    let client = settings.client().await?;
    let format = output::resolve_format(args.output.format);
    let mut writer = IssueWriter::new(format, &args.output.fields, std::io::stdout().lock())?;
    let options = SearchOptions {
        fields: args.output.fields.clone(),
        page_size: 100,
        prefetch: true,
    };
    let visible = output::progress_allowed(global.quiet, false);
    let spinner = output::spinner("searching", visible);
    let mut stream = std::pin::pin!(client.search(&args.jql, options));
    let mut written = 0;
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(issue) => {
                writer.write(&issue)?;
                written += 1;
                spinner.inc(1);
                if args.limit.is_some_and(|limit| written >= limit) {
                    break;
                }
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    spinner.finish_and_clear();
    writer.finish()?;
    match failure {
        None => {
            if !global.quiet {
                eprintln!("{written} issues");
            }
            Ok(Code::Ok)
        }
        Some(error) => {
            if written > 0 {
                eprintln!("jira-ops: stopped after {written} issues");
            }
            Err(error.into())
        }
    }
}

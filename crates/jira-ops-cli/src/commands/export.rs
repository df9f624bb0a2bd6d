//! `jira-ops fetch` and `jira-ops search`: issues out, streamed, in four formats.

use std::io::{BufRead, BufReader, Read};

use futures_util::StreamExt;
use jira_client::Order;
use jira_client::{FetchError, SearchOptions};

use crate::cli::{FetchArgs, Global, SearchArgs};
use crate::config::CacheUse;
use crate::error::{CliError, CliResult, Code};
use crate::output;
use crate::signals;

/// The longest input line read: far past any issue key, short enough that a file of one
/// enormous line is refused instead of read into memory and echoed.
const MAX_LINE: usize = 4_096;

/// Keys from a reader: one per line, blank lines and `#` comments skipped, a byte-order
/// mark and CRLF endings tolerated; every key checked (`jira_model::check_issue_ref`)
/// before anything is sent, a bad one named by its line.
pub fn read_keys(reader: impl Read, source: &str) -> Result<Vec<String>, CliError> {
    let mut keys = Vec::new();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::usage(format!("{source}, line {n}: {e}")))?;
        if read == 0 {
            break;
        }
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            return Err(CliError::usage(format!(
                "{source}, line {n}: longer than {MAX_LINE} bytes; expected one issue key per line (e.g. PROJ-123)"
            )));
        }
        let text = std::str::from_utf8(&line).map_err(|_| {
            CliError::usage(format!(
                "{source}, line {n}: not UTF-8 text; expected one issue key per line"
            ))
        })?;
        let text = if n == 1 {
            text.trim_start_matches('\u{feff}')
        } else {
            text
        };
        let key = text.split('#').next().unwrap_or("").trim();
        if key.is_empty() {
            continue;
        }
        check_key(key).map_err(|e| CliError::usage(format!("{source}, line {n}: {e}")))?;
        keys.push(key.to_owned());
    }
    Ok(keys)
}

/// One key checked, with the hint for the usual mistakes.
fn check_key(key: &str) -> Result<(), String> {
    jira_model::check_issue_ref(key).map_err(|error| {
        if key.contains(',') || key.contains(char::is_whitespace) {
            format!("{error}; one key per line")
        } else {
            error.to_string()
        }
    })
}

fn collect_keys(args: &FetchArgs) -> Result<Vec<String>, CliError> {
    let mut keys = Vec::new();
    for key in &args.keys {
        if key == "-" {
            keys.extend(read_keys(std::io::stdin().lock(), "stdin")?);
        } else {
            check_key(key).map_err(CliError::usage)?;
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

pub async fn fetch(global: &Global, mut args: FetchArgs) -> CliResult {
    let started = std::time::Instant::now();
    args.output.check()?;
    let keys = collect_keys(&args)?;
    let max_age = match (&args.max_age, args.fresh) {
        (_, true) => Some(std::time::Duration::ZERO),
        (Some(text), _) => Some(
            super::sync::age_ms(text.trim())
                .and_then(|ms| u64::try_from(ms).ok())
                .map(std::time::Duration::from_millis)
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "--max-age {text:?} is not an age: use e.g. 30s, 5m, 1h or 0s (--fresh)"
                    ))
                })?,
        ),
        (None, false) => None,
    };
    let settings = super::settings(global)?;
    let batch = jira_client::BatchConfig {
        cache_max_age: max_age,
        ..settings.settings.batch()
    };
    let client = settings
        .client_with(CacheUse::IfFree, |builder| builder.batch(batch.clone()))
        .await?;
    resolve_fields(&client, &mut args.output).await?;
    let format = args.output.resolve_format();
    let fields: Vec<&str> = args.output.fields.iter().map(String::as_str).collect();
    let mut writer = args.output.writer(format, crate::destination::stdout())?;
    let visible = output::progress_allowed(global.quiet, false);
    let bar = output::bar(keys.len() as u64, "fetching issues", visible);
    let mut fetched = 0;
    let mut failures: Vec<FetchError> = Vec::new();
    let order = if args.unordered {
        Order::Completion
    } else {
        Order::Input
    };
    let mut stream = client.fetch_issues_stream(&keys, &fields, &[], order).await;
    let mut cache_warned = false;
    let mut warn_cache = |report: &jira_client::FetchReport| {
        if let Some(failure) = &report.cache_failure
            && !cache_warned
        {
            cache_warned = true;
            crate::notes::say!(
                "jira-ops: warning: the cache failed ({}); going on without it for the rest of this run (every key is still fetched). If it keeps failing, run with JIRA_OPS_CACHE_STORE=none, or remove the cache directory",
                output::terminal_safe(failure)
            );
        }
    };
    // Every result is written as it becomes final. A signal stops admitting bulk fetches;
    // those on the wire get the grace period.
    let mut grace: Option<tokio::time::Instant> = None;
    if signals::stopped().is_some() {
        stream.stop_admitting();
        grace = Some(tokio::time::Instant::now());
    }
    loop {
        let item = match grace {
            None => tokio::select! {
                item = stream.next() => item,
                _ = signals::wait() => {
                    stream.stop_admitting();
                    grace = Some(tokio::time::Instant::now() + signals::GRACE);
                    continue;
                }
            },
            Some(until) => match tokio::time::timeout_at(until, stream.next()).await {
                Ok(item) => item,
                Err(_) => break,
            },
        };
        let Some((key, result)) = item else { break };
        match result {
            Ok(issue) => {
                match stream.cache_age(&key) {
                    Some(age) => writer.write_cached(&issue, age)?,
                    None => writer.write(&issue)?,
                }
                fetched += 1;
            }
            Err(error) => failures.push(error),
        }
        bar.inc(1);
        warn_cache(&stream.report());
    }
    let report = stream.report();
    warn_cache(&report);
    client.note_fetch_report(&report);
    let not_done = stream.not_done();
    drop(stream);
    let hits = report.cache_hits;
    bar.finish_and_clear();
    writer.finish()?;
    // Every result is out: a cache that cannot save its statistics now is a warning.
    if let Err(error) = client.close().await {
        crate::notes::say!("jira-ops: warning: {error}");
    }
    report_failures(&failures);
    if let Some(code) = signals::stopped() {
        for key in &not_done {
            crate::notes::say!("jira-ops: not done: {key}");
        }
        crate::notes::say!(
            "jira-ops: interrupted: {fetched} issues written, {} failed, {} not done (listed above; run again with them)",
            failures.len(),
            not_done.len()
        );
        return Ok(code);
    }
    if !global.quiet {
        crate::notes::say!(
            "fetched {fetched} of {} ({hits} from the cache); {} failed",
            output::count((fetched + failures.len()) as u64, "issue"),
            failures.len()
        );
    }
    output::Summary::of(
        "fetch",
        &client,
        fetched as u64,
        "issues",
        hits as u64,
        started,
    )
    .print(global);
    super::refused_credentials(&client)?;
    Ok(Code::of_run(failures.len()))
}

/// `fields` as ids: system field ids as they are; anything else (a custom field, a name
/// such as `Story Points`, a typo) checked against the site's field catalogue, a typo an
/// error with suggestions (exit 2).
/// `--fields` as ids the site knows (names resolved through its field list), the title of
/// each field asked for by a name other than its id (for CSV and table headers), and with
/// `--names` every field's name by id; the field list is read only when one of them
/// needs it.
async fn resolve_fields(
    client: &jira_client::JiraClient,
    output: &mut crate::cli::OutputArgs,
) -> Result<(), CliError> {
    let fields = &mut output.fields;
    if jira_client::fields::only_system_fields(fields) && !output.names {
        return Ok(());
    }
    let catalogue = jira_client::fields::FieldCatalogue::fetch(&**client.transport())
        .await
        .map_err(|e| match e {
            jira_client::Error::Transport(e) => CliError::from(e),
            e => CliError::failure(format!("checking --fields: {e}")),
        })?;
    let mut resolved = Vec::with_capacity(fields.len());
    for field in fields.iter() {
        let id = catalogue
            .resolve(field)
            .map_err(|e| CliError::usage(format!("--fields: {e}")))?;
        if !id.eq_ignore_ascii_case(field) {
            output.labels.insert(id.clone(), field.clone());
        }
        if !resolved.contains(&id) {
            resolved.push(id);
        }
    }
    *fields = resolved;
    if output.names {
        output.field_names = Some(
            catalogue
                .fields
                .into_iter()
                .map(|field| (field.id, field.name))
                .collect(),
        );
    }
    Ok(())
}

/// Every per-item failure on stderr: unknown keys one line each; keys that failed for
/// one reason (a bulk fetch's keys, a spent quota) on one line naming them all, with how
/// to fetch them again.
fn report_failures(failures: &[FetchError]) {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for failure in failures {
        match failure {
            FetchError::Failed { key, message } => {
                match by_reason.iter_mut().find(|(m, _)| *m == message.as_str()) {
                    Some((_, keys)) => keys.push(key),
                    None => by_reason.push((message, vec![key])),
                }
            }
            other => crate::notes::say!("jira-ops: {}", output::terminal_safe(&other.to_string())),
        }
    }
    for (message, keys) in by_reason {
        let message = output::terminal_safe(message);
        match keys.as_slice() {
            [key] => crate::notes::say!("jira-ops: fetching issue {key} failed: {message}"),
            _ => crate::notes::say!(
                "jira-ops: {} issues were not fetched ({}): {message}; fetch them again with those keys (e.g. in a file for --from-file)",
                keys.len(),
                keys.join(", ")
            ),
        }
    }
}

/// The query `search` runs: the argument, stdin for `-`, or `--jql-file`; comment lines
/// dropped, lines joined, never empty.
fn read_jql(args: &SearchArgs) -> Result<String, CliError> {
    let (text, source) = match (&args.jql, &args.jql_file) {
        (Some(jql), _) if jql == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| CliError::usage(format!("reading the query from stdin: {e}")))?;
            (text, "stdin".to_owned())
        }
        (Some(jql), _) => return Ok(jql.clone()),
        (None, Some(path)) => (
            std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("--jql-file {}: {e}", path.display())))?,
            path.display().to_string(),
        ),
        (None, None) => {
            return Err(CliError::usage(
                "no query: pass JQL, - (stdin) or --jql-file FILE",
            ));
        }
    };
    let jql = text
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    if jql.is_empty() {
        return Err(CliError::usage(format!(
            "{source} holds no query (only blank lines and # comments)"
        )));
    }
    Ok(jql)
}

pub async fn search(global: &Global, mut args: SearchArgs) -> CliResult {
    let started = std::time::Instant::now();
    args.output.check()?;
    let jql = read_jql(&args)?;
    let settings = super::settings(global)?;
    // A search reads fresh pages, never the cache; what it returns refreshes the cache.
    let client = settings.client(CacheUse::IfFree).await?;
    resolve_fields(&client, &mut args.output).await?;
    let format = args.output.resolve_format();
    let mut writer = args.output.writer(format, crate::destination::stdout())?;
    // No more than `--limit` issues asked for in all: `--limit 3` asks Jira for 3
    // issues, `--limit 150` for 100 then 50.
    let options = SearchOptions {
        fields: args.output.fields.clone(),
        page_size: jira_model::SEARCH_PAGE_MAX,
        prefetch: true,
        limit: args.limit,
    };
    let visible = output::progress_allowed(global.quiet, false);
    let spinner = output::spinner("searching", visible);
    let field_refs: Vec<&str> = args.output.fields.iter().map(String::as_str).collect();
    let mut stream = std::pin::pin!(client.search(&jql, options));
    let mut written = 0;
    let mut failure = None;
    let mut interrupted = None;
    while args.limit.is_none_or(|limit| written < limit) {
        let item = tokio::select! {
            biased;
            code = signals::wait() => {
                interrupted = Some(code);
                break;
            }
            item = stream.next() => item,
        };
        let Some(item) = item else { break };
        match item {
            Ok(issue) => {
                writer.write(&issue)?;
                client.refresh_cached(&issue, &field_refs).await;
                written += 1;
                spinner.inc(1);
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    spinner.finish_and_clear();
    if let Err(error) = client.close().await {
        crate::notes::say!("jira-ops: warning: {error}");
    }
    // A query refused before its first issue leaves stdout empty (no CSV header).
    if failure.is_none() || written > 0 {
        writer.finish()?;
    }
    if let Some(code) = interrupted {
        crate::notes::say!(
            "jira-ops: interrupted: {written} issues written; the rest of the query was not read"
        );
        return Ok(code);
    }
    match failure {
        None => {
            output::Summary::of("search", &client, written as u64, "issues", 0, started)
                .print(global);
            Ok(Code::Ok)
        }
        Some(error) => {
            if written > 0 {
                crate::notes::say!("jira-ops: stopped after {written} issues");
            }
            Err(error.into())
        }
    }
}

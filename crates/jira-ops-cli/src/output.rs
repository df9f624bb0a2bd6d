//! Output for humans and machines: issue writers in four formats, tables, progress bars.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jira_model::Issue;
use serde_json::Value;

use crate::cli::Format;
use crate::error::CliError;

/// `println!` that returns the write's error instead of panicking: a closed stdout
/// (`jira-ops config show | head -1`) becomes a [`CliError`] that ends the command quietly
/// (see [`CliError::from`] for `std::io::Error`). Use it inside a function returning
/// `Result<_, CliError>`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!($crate::destination::stdout(), $($arg)*)?
    }};
}
pub(crate) use outln;

/// Whether progress bars may be drawn: stderr is a terminal and nothing asked for quiet or
/// machine output.
pub fn progress_allowed(quiet: bool, machine: bool) -> bool {
    !quiet && !machine && !crate::notes::json() && std::io::stderr().is_terminal()
}

/// A bar of `len` steps on stderr, or a hidden one.
pub fn bar(len: u64, message: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg:<28} [{bar:30}] {pos}/{len} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message.to_owned());
    bar
}

/// A spinner on stderr for work of unknown length, or a hidden one.
pub fn spinner(message: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Whether stderr may carry colours: a terminal, and `NO_COLOR` unset or empty
/// (<https://no-color.org>).
pub fn colours_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A table with the house style, fitted to the terminal's width (a pipe gets the full
/// width). Rows made by [`table_row`] stay one line, a cell too wide for its column cut
/// with an ellipsis as `gh` does; other rows wrap.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    table.set_truncation_indicator("…");
    table.set_header(header.to_vec());
    table
}

/// A row of a record table (an issue, a result, a run): one line on a terminal, each cell
/// cut to its column's width with `…`.
pub fn table_row(cells: impl IntoIterator<Item = String>) -> comfy_table::Row {
    let mut row = comfy_table::Row::from(cells.into_iter().collect::<Vec<_>>());
    row.max_height(1);
    row
}

/// The format to use: the one asked for, else the one an `-o` file's extension names,
/// else a table on a terminal and JSON Lines in a pipe or a file.
pub fn resolve_format(asked: Option<Format>) -> Format {
    asked
        .or_else(crate::destination::format_hint)
        .unwrap_or_else(|| {
            if stdout_is_terminal() {
                Format::Table
            } else {
                Format::Jsonl
            }
        })
}

/// Whether the command's output reaches a terminal (not a pipe, not an `-o` file).
pub fn stdout_is_terminal() -> bool {
    !crate::destination::to_file() && std::io::stdout().is_terminal()
}

/// A field's value as text: names of objects, lists joined, plain values, and rich text
/// (ADF: descriptions, comments, text custom fields) as its plain text.
pub fn field_text(value: &Value) -> String {
    if jira_model::adf::is_adf(value) {
        return jira_model::adf::to_text(value);
    }
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => items.iter().map(field_text).collect::<Vec<_>>().join("; "),
        Value::Object(map) => ["displayName", "name", "value", "key", "id"]
            .iter()
            .find_map(|k| map.get(*k).map(field_text))
            .unwrap_or_else(|| value.to_string()),
    }
}

/// Text for a terminal: control characters (ESC and the rest of C0, DEL, C1) escaped as
/// `\u{1b}`, so that issue data can neither move the cursor nor rewrite the screen.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A CSV cell a spreadsheet will not run: one starting with `=`, `+`, `-`, `@`, tab or
/// carriage return gets a leading `'` (OWASP's rule against CSV injection).
pub fn spreadsheet_safe(cell: String) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell,
    }
}

/// Writes issues in a format, streaming where the format allows it.
pub struct IssueWriter<W: Write> {
    format: Format,
    fields: Vec<String>,
    out: W,
    table: Option<Table>,
    written: usize,
    csv_raw: bool,
    started: bool,
    oldest_cached: Option<Duration>,
    labels: std::collections::BTreeMap<String, String>,
    names: Option<std::collections::BTreeMap<String, String>>,
}

impl<W: Write> IssueWriter<W> {
    /// A writer of `fields` in `format` to `out`; CSV cells are made spreadsheet-safe
    /// unless `csv_raw`.
    pub fn new(format: Format, fields: &[String], out: W, csv_raw: bool) -> Result<Self, CliError> {
        let writer = IssueWriter {
            format,
            fields: fields.to_vec(),
            out,
            table: None,
            written: 0,
            csv_raw,
            started: false,
            oldest_cached: None,
            labels: Default::default(),
            names: None,
        };
        // Nothing is written before the first issue (or the end): an error before it
        // leaves stdout empty.
        Ok(writer)
    }

    /// CSV and table columns titled `labels[id]` where given (a field asked for by its
    /// name keeps that name as its title).
    pub fn labelled(mut self, labels: std::collections::BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }

    /// JSON issues carry `names` (their fields' id → name) from `names`, when given.
    pub fn named(mut self, names: Option<std::collections::BTreeMap<String, String>>) -> Self {
        self.names = names;
        self
    }

    /// An issue as JSON, with `names` when asked for.
    fn json_value(&self, issue: &Issue) -> Result<serde_json::Value, CliError> {
        let mut value = serde_json::to_value(issue).map_err(json_error)?;
        if let Some(names) = &self.names {
            let named: serde_json::Map<String, Value> = issue
                .fields
                .keys()
                .filter_map(|id| {
                    names
                        .get(id)
                        .map(|name| (id.clone(), Value::from(name.as_str())))
                })
                .collect();
            value["names"] = Value::Object(named);
        }
        Ok(value)
    }

    /// The header (CSV, table) or the opening bracket (JSON), before the first issue:
    /// `*all` and `*navigable` become the fields `first` has.
    fn start(&mut self, first: Option<&Issue>) -> Result<(), CliError> {
        self.fields = expand_fields(&self.fields, first);
        let mut header = vec!["key".to_owned()];
        header.extend(
            self.fields
                .iter()
                .map(|field| self.labels.get(field).unwrap_or(field).clone()),
        );
        match self.format {
            Format::Csv => self.write_csv(&header)?,
            Format::Table => {
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                self.table = Some(table(&header));
            }
            Format::Json => self.out.write_all(b"[")?,
            Format::Jsonl => {}
        }
        self.started = true;
        Ok(())
    }

    /// One CSV record, quoted as needed, written through at once.
    fn write_csv(&mut self, record: &[String]) -> Result<(), CliError> {
        let mut csv = csv::Writer::from_writer(Vec::new());
        if self.csv_raw {
            csv.write_record(record).map_err(csv_error)?;
        } else {
            csv.write_record(record.iter().cloned().map(spreadsheet_safe))
                .map_err(csv_error)?;
        }
        let bytes = csv
            .into_inner()
            .map_err(|e| CliError::failure(format!("writing CSV: {e}")))?;
        self.out.write_all(&bytes)?;
        Ok(())
    }

    /// Writes one issue.
    pub fn write(&mut self, issue: &Issue) -> Result<(), CliError> {
        if !self.started {
            self.start(Some(issue))?;
        }
        match self.format {
            Format::Jsonl | Format::Json => {
                let value = self.json_value(issue)?;
                return self.write_json(&value);
            }
            Format::Csv => {
                let row = self.row(issue);
                self.write_csv(&row)?;
            }
            Format::Table => {
                let row = table_row(
                    self.row(issue)
                        .into_iter()
                        .map(|cell| terminal_safe(&cell).into_owned()),
                );
                if let Some(table) = &mut self.table {
                    table.add_row(row);
                }
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Writes one issue served from the cache, `age` old, marked as such: JSON gets
    /// `"jira_ops": {"source": "cache", "age_secs": N}`, a table's key a `*` (explained
    /// under it); CSV rows stay Jira's fields.
    pub fn write_cached(&mut self, issue: &Issue, age: Duration) -> Result<(), CliError> {
        match self.format {
            Format::Jsonl | Format::Json => {
                let mut value = self.json_value(issue)?;
                value["jira_ops"] = serde_json::json!({
                    "source": "cache",
                    "age_secs": age.as_secs(),
                });
                if !self.started {
                    self.start(Some(issue))?;
                }
                self.write_json(&value)
            }
            Format::Table => {
                let mut marked = issue.clone();
                marked.key = format!("{} *", issue.key);
                self.oldest_cached = Some(self.oldest_cached.map_or(age, |o: Duration| o.max(age)));
                self.write(&marked)
            }
            Format::Csv => self.write(issue),
        }
    }

    /// One JSON value: a line (JSON Lines) or the array's next element (JSON).
    fn write_json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CliError> {
        if self.format == Format::Json {
            if self.written > 0 {
                self.out.write_all(b",")?;
            }
            self.out.write_all(b"\n")?;
            serde_json::to_writer(&mut self.out, value).map_err(json_error)?;
        } else {
            serde_json::to_writer(&mut self.out, value).map_err(json_error)?;
            self.out.write_all(b"\n")?;
        }
        self.written += 1;
        Ok(())
    }

    fn row(&self, issue: &Issue) -> Vec<String> {
        let mut row = vec![issue.key.clone()];
        for field in &self.fields {
            row.push(issue.fields.get(field).map(field_text).unwrap_or_default());
        }
        row
    }

    /// Ends the output (closes the JSON array, prints the table).
    pub fn finish(mut self) -> Result<usize, CliError> {
        if !self.started {
            self.start(None)?;
        }
        match self.format {
            Format::Json => self.out.write_all(b"\n]\n")?,
            Format::Table => {
                if let Some(table) = self.table.take() {
                    writeln!(self.out, "{table}")?;
                }
                if let Some(oldest) = self.oldest_cached {
                    writeln!(
                        self.out,
                        "* from the cache (up to {} old; --fresh reads the site)",
                        jira_model::HumanDuration(oldest)
                    )?;
                }
            }
            Format::Csv | Format::Jsonl => {}
        }
        self.out.flush()?;
        Ok(self.written)
    }
}

/// `fields` with `*all` and `*navigable` replaced by the fields `first` came back with
/// (sorted, each once); without an issue, as they are.
fn expand_fields(fields: &[String], first: Option<&Issue>) -> Vec<String> {
    let Some(issue) = first else {
        return fields.to_vec();
    };
    let mut out: Vec<String> = Vec::new();
    for field in fields {
        if field.starts_with('*') {
            let named: Vec<&String> = fields.iter().filter(|f| !f.starts_with('*')).collect();
            let mut rest: Vec<String> = issue
                .fields
                .keys()
                .filter(|k| !named.contains(k))
                .cloned()
                .collect();
            rest.sort();
            for key in rest {
                if !out.contains(&key) {
                    out.push(key);
                }
            }
        } else if !out.contains(field) {
            out.push(field.clone());
        }
    }
    out
}

fn csv_error(error: csv::Error) -> CliError {
    if let csv::ErrorKind::Io(io) = error.kind()
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return CliError::closed_output();
    }
    CliError::failure(format!("writing CSV: {error}"))
}

fn json_error(error: serde_json::Error) -> CliError {
    if error.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
        return CliError::closed_output();
    }
    CliError::failure(format!("writing JSON: {error}"))
}

/// `n` of `noun` (a regular noun, singular), as people say it: `1 issue`, `2 issues`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What every command that talks to the site ends with: the items it handled and what
/// that cost, counted where the requests leave (every attempt, retries and refusals
/// included, so it agrees with the server's own count).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    /// The command (`fetch`, `search`, ...).
    pub command: &'static str,
    /// Items handled (issues written, lines applied, ...).
    pub items: u64,
    /// What the items are (`issues`, `lines`).
    pub noun: &'static str,
    /// HTTP requests sent, every attempt counted.
    pub requests: u64,
    /// Requests as the command asked for them (a retried request counts once).
    pub logical: u64,
    /// Attempts after the first of a request.
    pub retries: u64,
    /// Answers 429.
    pub rate_limited: u64,
    /// Points the requests cost (Jira's hourly quota).
    pub points: u64,
    /// Items served from the cache.
    pub cache_hits: u64,
    /// Wall time, in seconds.
    pub seconds: f64,
}

impl Summary {
    /// The summary of `client`'s run so far: `items` `noun`, `cache_hits` of them from the
    /// cache, since `started`.
    pub fn of(
        command: &'static str,
        client: &jira_client::JiraClient,
        items: u64,
        noun: &'static str,
        cache_hits: u64,
        started: std::time::Instant,
    ) -> Self {
        let wire = client.wire_tally().snapshot();
        let logical = client.logical_tally().snapshot();
        Summary {
            command,
            items,
            noun,
            requests: wire.requests,
            logical: logical.requests,
            retries: wire.requests.saturating_sub(logical.requests),
            rate_limited: wire.rate_limited,
            points: wire.points,
            cache_hits,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        // The nouns are regular plurals (`issues`, `lines`, `checks`, `items`).
        let one = self.noun.strip_suffix('s').unwrap_or(self.noun);
        format!(
            "{}: {} · {} ({} logical, {}, {}) · {} · {} from the cache · {}",
            self.command,
            plural(self.items, one, self.noun),
            plural(self.requests, "request", "requests"),
            self.logical,
            plural(self.retries, "retry", "retries"),
            plural(self.rate_limited, "429", "429s"),
            plural(self.points, "point", "points"),
            self.cache_hits,
            jira_model::HumanDuration(Duration::from_secs_f64(self.seconds.max(0.0))),
        )
    }

    /// As JSON, for `--json` documents and `--log-format json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// On stderr (unless `--quiet`): the line, or with `--log-format json` one JSON object.
    pub fn print(&self, global: &crate::cli::Global) {
        if global.quiet {
            return;
        }
        match global.log_format {
            // Shaped as the log lines around it (level, target, fields), the summary whole.
            crate::cli::LogFormat::Json => eprintln!(
                "{}",
                serde_json::json!({
                    "timestamp": jiff::Timestamp::now().to_string(),
                    "level": "INFO",
                    "target": "jira_ops::summary",
                    "fields": { "message": self.line() },
                    "summary": self.json(),
                })
            ),
            crate::cli::LogFormat::Text => crate::notes::say!("{}", self.line()),
        }
    }
}

/// `1.23 s` or `456 ms`.
pub fn seconds(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.2} s", duration.as_secs_f64())
    } else {
        format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_summary_says_one_issue_not_one_issues() {
        let summary = |items: u64| Summary {
            command: "fetch",
            items,
            noun: "issues",
            requests: 1,
            logical: 1,
            retries: 0,
            rate_limited: 0,
            points: 2,
            cache_hits: 0,
            seconds: 0.1,
        };
        assert!(
            summary(1).line().starts_with("fetch: 1 issue · 1 request "),
            "{}",
            summary(1).line()
        );
        assert!(
            summary(2).line().starts_with("fetch: 2 issues · "),
            "{}",
            summary(2).line()
        );
    }

    #[test]
    fn fields_read_as_text() {
        assert_eq!(field_text(&json!({"name": "Done", "id": "3"})), "Done");
        assert_eq!(
            field_text(&json!({"displayName": "Ada", "name": "ada"})),
            "Ada"
        );
        assert_eq!(field_text(&json!(["a", {"value": "b"}])), "a; b");
        assert_eq!(field_text(&Value::Null), "");
        assert_eq!(field_text(&json!(3)), "3");
    }

    #[test]
    fn formulas_are_neutralised_unless_raw_is_asked() {
        let issue: Issue = serde_json::from_value(json!({
            "id": "1", "key": "P-1", "fields": {"summary": "=HYPERLINK(\"http://x\")", "status": "@SUM(A1)"}
        }))
        .unwrap();
        let fields = vec!["summary".to_owned(), "status".to_owned()];
        let csv = |raw| {
            let mut out = Vec::new();
            let mut writer = IssueWriter::new(Format::Csv, &fields, &mut out, raw).unwrap();
            writer.write(&issue).unwrap();
            writer.finish().unwrap();
            String::from_utf8(out).unwrap()
        };
        let safe = csv(false);
        assert!(
            safe.contains("\"'=HYPERLINK(\"\"http://x\"\")\",'@SUM(A1)"),
            "{safe}"
        );
        let raw = csv(true);
        assert!(raw.contains(",\"=HYPERLINK("), "{raw}");
        for cell in ["+1", "-1", "\tx", "\rx"] {
            assert!(spreadsheet_safe(cell.into()).starts_with('\''), "{cell:?}");
        }
        assert_eq!(spreadsheet_safe("Done".into()), "Done");
    }

    #[test]
    fn control_characters_never_reach_the_terminal_raw() {
        assert_eq!(terminal_safe("plain"), "plain");
        let shown = terminal_safe("red \u{1b}[31mtext\u{7}\u{9b}");
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.contains("\\u{1b}[31m"), "{shown}");
    }

    #[test]
    fn csv_quotes_and_streams() {
        let mut issue: Issue = serde_json::from_value(json!({
            "id": "1", "key": "P-1", "fields": {"summary": "a, \"quoted\" one", "status": {"name": "Done"}}
        }))
        .unwrap();
        let mut out = Vec::new();
        let fields = vec!["summary".to_owned(), "status".to_owned()];
        let mut writer = IssueWriter::new(Format::Csv, &fields, &mut out, false).unwrap();
        writer.write(&issue).unwrap();
        issue.key = "P-2".into();
        writer.write(&issue).unwrap();
        assert_eq!(writer.finish().unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "key,summary,status\nP-1,\"a, \"\"quoted\"\" one\",Done\nP-2,\"a, \"\"quoted\"\" one\",Done\n"
        );
    }

    #[test]
    fn json_is_one_valid_array() {
        let issue: Issue =
            serde_json::from_value(json!({"id": "1", "key": "P-1", "fields": {}})).unwrap();
        let mut out = Vec::new();
        let mut writer = IssueWriter::new(Format::Json, &[], &mut out, false).unwrap();
        writer.write(&issue).unwrap();
        writer.write(&issue).unwrap();
        writer.finish().unwrap();
        let parsed: Vec<Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed.len(), 2);
        let mut empty = Vec::new();
        IssueWriter::new(Format::Json, &[], &mut empty, false)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Vec<Value>>(&empty).unwrap().len(),
            0
        );
    }
}

//! The output convention every command shares: `--format` (with `--json` its synonym for
//! `--format json`) beside the global `-o/--output FILE`.

use clap::{Args, ValueEnum};

/// Output formats for records (issues, results, runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line, written as the records arrive.
    Jsonl,
    /// One JSON array (or, for `apply`, one document).
    Json,
    /// A header line and one row per record.
    Csv,
    /// A table for humans, one line per record.
    Table,
}

/// `--format` for a command that writes records.
#[derive(Clone, Debug, Default, Args)]
pub struct RecordFormat {
    /// Output format (default: table on a terminal, else the `-o` file's extension, else
    /// jsonl).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

impl RecordFormat {
    /// The format asked for (`--json` is `--format json`), else the default.
    pub fn resolve(&self) -> Format {
        match self.json {
            true => Format::Json,
            false => crate::output::resolve_format(self.format),
        }
    }

    /// Whether one JSON document was asked for (`--json`, `--format json`, or an `-o`
    /// file ending in `.json`).
    pub fn is_json(&self) -> bool {
        self.resolve() == Format::Json
    }
}

/// The forms of a command that prints one report (a summary, a status, a plan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportStyle {
    /// Text and tables for people (the default).
    Table,
    /// One JSON document.
    Json,
    /// The same JSON document, on one line.
    Jsonl,
}

/// `--format` for a command that prints one report.
#[derive(Clone, Debug, Default, Args)]
pub struct ReportFormat {
    /// Output format: table (text for people, the default) or json (one document; jsonl is
    /// the same on one line). A `-o` file ending in .json or .jsonl gets JSON.
    #[arg(long, value_enum)]
    pub format: Option<ReportStyle>,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

impl ReportFormat {
    /// Whether the report is printed as JSON.
    pub fn json(&self) -> bool {
        match (self.json, self.format) {
            (true, _) | (_, Some(ReportStyle::Json | ReportStyle::Jsonl)) => true,
            (false, Some(ReportStyle::Table)) => false,
            (false, None) => matches!(
                crate::destination::format_hint(),
                Some(Format::Json | Format::Jsonl)
            ),
        }
    }
}

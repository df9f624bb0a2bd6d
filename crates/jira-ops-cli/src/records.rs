//! Records that are not issues (create and apply results, journal runs and lines) in the
//! four formats every record-writing command shares: JSON Lines, one JSON array, CSV and
//! a table.

use std::io::Write;

use serde_json::Value;

use crate::cli::Format;
use crate::error::CliError;
use crate::output;

/// A record's cell: strings as they are, nothing for null or a missing key, other values
/// as JSON (numbers, `true`) or as [`output::field_text`] does for objects and lists.
fn cell(record: &Value, column: &str) -> String {
    match record.get(column) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(value @ (Value::Bool(_) | Value::Number(_))) => value.to_string(),
        Some(value) => output::field_text(value),
    }
}

/// Writes `records` in `format` to the command's output, `columns` (in this order) for
/// CSV and tables; JSON keeps every key of each record.
pub fn write(format: Format, columns: &[&str], records: &[Value]) -> Result<(), CliError> {
    let mut out = crate::destination::stdout();
    match format {
        Format::Jsonl => {
            for record in records {
                writeln!(out, "{record}")?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, records).map_err(|e| {
                if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
                    CliError::closed_output()
                } else {
                    CliError::failure(format!("writing JSON: {e}"))
                }
            })?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            let failed = |e: csv::Error| match e.kind() {
                csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                    CliError::closed_output()
                }
                _ => CliError::failure(format!("writing CSV: {e}")),
            };
            csv.write_record(columns).map_err(failed)?;
            for record in records {
                csv.write_record(
                    columns
                        .iter()
                        .map(|c| output::spreadsheet_safe(cell(record, c))),
                )
                .map_err(failed)?;
            }
            csv.flush()?;
        }
        Format::Table => {
            let mut table = output::table(columns);
            for record in records {
                table.add_row(output::table_row(
                    columns
                        .iter()
                        .map(|c| output::terminal_safe(&cell(record, c)).into_owned()),
                ));
            }
            writeln!(out, "{table}")?;
        }
    }
    out.flush()?;
    Ok(())
}

//! What a commit of a JSON Lines sink appends: each row as one line, an object of its
//! table's columns (the same records as the database sinks' tables), serialised straight
//! into each file's buffer ([`Appender`]) and synced before the manifest names it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;

use super::{FILES, failed};
use crate::Error;
use crate::relational::schema::{Kind, Table};
use crate::relational::{Row, SqlValue};

/// A row of `table` as a JSON object: each column by name, in the table's order; a JSON
/// column embedded as the JSON it holds, a boolean as `true`/`false`, times as the UTC
/// ISO 8601 text the databases hold.
pub(super) struct Record<'a> {
    pub(super) table: &'static Table,
    pub(super) row: &'a Row,
}

/// One value of a column of kind `kind`.
pub(super) struct Cell<'a>(pub(super) Kind, pub(super) &'a SqlValue);

impl Serialize for Cell<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.0, self.1) {
            (_, SqlValue::Null) => serializer.serialize_unit(),
            (_, SqlValue::Int(n)) => serializer.serialize_i64(*n),
            (_, SqlValue::Real(x)) => serializer.serialize_f64(*x),
            (_, SqlValue::Bool(b)) => serializer.serialize_bool(*b),
            (Kind::Json, SqlValue::Text(text)) => match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => raw.serialize(serializer),
                Err(_) => serializer.serialize_str(text),
            },
            (_, SqlValue::Text(text)) => serializer.serialize_str(text),
        }
    }
}

impl Serialize for Record<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.table.columns.len()))?;
        for (column, value) in self.table.columns.iter().zip(self.row) {
            map.serialize_entry(column.name, &Cell(column.kind, value))?;
        }
        map.end()
    }
}

/// A tombstone: the key columns of a row and `deleted_at`. The last line of a key wins,
/// so it marks the row before it deleted; compaction folds it into that row.
pub(super) struct Tombstone<'a> {
    pub(super) key: &'a [(&'static str, SqlValue)],
    pub(super) deleted_at: SqlValue,
}

impl Serialize for Tombstone<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.key.len() + 1))?;
        for (name, value) in self.key {
            map.serialize_entry(name, &Cell(Kind::Text, value))?;
        }
        map.serialize_entry("deleted_at", &Cell(Kind::Time, &self.deleted_at))?;
        map.end()
    }
}

/// Appends lines to the files, each through a small buffer as it is serialised: a
/// commit's tens of megabytes are never held as text beside the batch they come from.
pub(super) struct Appender {
    dir: PathBuf,
    files: [Option<(std::io::BufWriter<File>, u64)>; FILES.len()],
    line: Vec<u8>,
    /// Empty: append to each file; else write each anew beside it, named with this.
    suffix: &'static str,
}

impl Appender {
    /// Appends to the files in `dir`.
    pub(super) fn new(dir: &Path) -> Self {
        Appender {
            dir: dir.to_owned(),
            files: Default::default(),
            line: Vec::new(),
            suffix: "",
        }
    }

    /// Writes new files beside those in `dir` (`issues.jsonl.compact`), to be swapped in.
    pub(super) fn beside(dir: &Path) -> Self {
        Appender {
            suffix: super::compact::SUFFIX,
            ..Appender::new(dir)
        }
    }

    fn path(&self, file: usize) -> PathBuf {
        self.dir.join(format!("{}{}", FILES[file], self.suffix))
    }

    /// Appends each of `rows` as a line of `table`'s file.
    pub(super) fn rows(&mut self, table: &'static Table, rows: &[Row]) -> Result<(), Error> {
        let file = super::file_of(table);
        for row in rows {
            self.push(file, &Record { table, row })?;
        }
        Ok(())
    }

    /// Appends the rows of each of `tables` to its table's file (each table a file of its
    /// own), the files written side by side on threads of their own when there are many
    /// rows ([`TABLES_SIDE_BY_SIDE_FROM`]): a commit's lines are serialised one after the
    /// other otherwise, while the commits of a sync wait for each other. Each file's lines
    /// are in the order given either way.
    pub(super) fn tables(&mut self, tables: &[(&'static Table, &[Row])]) -> Result<(), Error> {
        let rows: usize = tables.iter().map(|(_, rows)| rows.len()).sum();
        let files: Vec<usize> = tables.iter().map(|(t, _)| super::file_of(t)).collect();
        let distinct = files.iter().collect::<std::collections::HashSet<_>>().len();
        if rows < TABLES_SIDE_BY_SIDE_FROM || distinct < files.len() {
            for (table, rows) in tables {
                self.rows(table, rows)?;
            }
            return Ok(());
        }
        let mut open = Vec::new();
        for ((table, rows), file) in tables.iter().zip(files) {
            if !rows.is_empty() {
                self.open(file)?;
                let writer = self.files[file].take().expect("opened just now");
                open.push((file, *table, *rows, writer));
            }
        }
        let paths: Vec<PathBuf> = open.iter().map(|(file, ..)| self.path(*file)).collect();
        let written = std::thread::scope(|scope| {
            let threads: Vec<_> = open
                .into_iter()
                .zip(&paths)
                .map(|((file, table, rows, mut writer), path)| {
                    scope.spawn(move || {
                        let mut line = Vec::new();
                        let result = rows.iter().try_for_each(|row| {
                            write_line(&mut writer, &mut line, path, &Record { table, row })
                        });
                        (file, writer, result)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Vec<_>>()
        });
        let mut first_error = Ok(());
        for (file, writer, result) in written {
            // Every writer goes back, so that what a failed commit wrote is still
            // counted when the caller recovers.
            self.files[file] = Some(writer);
            if first_error.is_ok() {
                first_error = result;
            }
        }
        first_error
    }

    /// Opens file `file` (an index into [`FILES`]) unless it is open.
    fn open(&mut self, file: usize) -> Result<(), Error> {
        if self.files[file].is_some() {
            return Ok(());
        }
        let path = self.path(file);
        let beside = !self.suffix.is_empty();
        let opened = OpenOptions::new()
            .append(!beside)
            .write(true)
            .create(beside)
            .truncate(beside)
            .open(&path)
            .map_err(|e| failed(&path, e))?;
        self.files[file] = Some((std::io::BufWriter::with_capacity(256 * 1024, opened), 0));
        Ok(())
    }

    /// Appends `record` as one line of file `file` (an index into [`FILES`]).
    pub(super) fn push(&mut self, file: usize, record: &impl Serialize) -> Result<(), Error> {
        self.open(file)?;
        let path = self.path(file);
        let writer = self.files[file].as_mut().expect("opened just now");
        write_line(writer, &mut self.line, &path, record)
    }

    /// Flushes and syncs every file written to; the bytes appended to each.
    pub(super) fn finish(self) -> Result<[u64; FILES.len()], Error> {
        let mut written = [0; FILES.len()];
        let paths: Vec<PathBuf> = (0..FILES.len()).map(|n| self.path(n)).collect();
        for (n, open) in self.files.into_iter().enumerate() {
            if let Some((writer, bytes)) = open {
                let path = &paths[n];
                let file = writer
                    .into_inner()
                    .map_err(|e| failed(path, e.into_error()))?;
                file.sync_all().map_err(|e| failed(path, e))?;
                written[n] = bytes;
            }
        }
        Ok(written)
    }
}

/// The rows a commit holds from which [`Appender::tables`] writes its files side by
/// side: below it, a thread a file costs more than it saves.
const TABLES_SIDE_BY_SIDE_FROM: usize = 2_048;

/// Serialises `record` through `line` and appends it, with its newline, to `writer`,
/// counting the bytes; `path` names the file in an error.
fn write_line(
    (writer, written): &mut (std::io::BufWriter<File>, u64),
    line: &mut Vec<u8>,
    path: &Path,
    record: &impl Serialize,
) -> Result<(), Error> {
    line.clear();
    serde_json::to_writer(&mut *line, record).map_err(|e| failed(path, e))?;
    line.push(b'\n');
    writer.write_all(line).map_err(|e| failed(path, e))?;
    *written += line.len() as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relational::schema;

    /// Rows of `table` with `n` lines of distinct text (escapes included).
    fn rows(table: &Table, n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(c, column)| match column.kind {
                        Kind::Json => SqlValue::Text(format!("{{\"n\":{i},\"c\":{c}}}")),
                        _ => SqlValue::Text(format!("row {i} \"column\" {c}\n")),
                    })
                    .collect()
            })
            .collect()
    }

    /// What each file of `dir` holds.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn tables_written_side_by_side_hold_the_lines_one_at_a_time_writes() {
        let issues = rows(&schema::ISSUES, 1_500);
        let comments = rows(&schema::COMMENTS, 1_200);
        let users = rows(&schema::USERS, 3);
        let tables: [(&'static Table, &[Row]); 4] = [
            (&schema::ISSUES, &issues),
            (&schema::COMMENTS, &comments),
            (&schema::USERS, &users),
            (&schema::STATUSES, &[]),
        ];
        let total: usize = tables.iter().map(|(_, rows)| rows.len()).sum();
        assert!(
            total >= TABLES_SIDE_BY_SIDE_FROM,
            "the commit takes the threads"
        );
        let (side_by_side, one_at_a_time) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for dir in [&side_by_side, &one_at_a_time] {
            std::fs::write(dir.path().join("issues.jsonl"), b"{\"before\":1}\n").unwrap();
            for name in FILES {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.path().join(name))
                    .unwrap();
            }
        }
        let mut out = Appender::new(side_by_side.path());
        out.tables(&tables).unwrap();
        out.push(
            super::super::file_of(&schema::USERS),
            &serde_json::json!({"last": true}),
        )
        .unwrap();
        let written = out.finish().unwrap();
        let mut out = Appender::new(one_at_a_time.path());
        for (table, rows) in tables {
            out.rows(table, rows).unwrap();
        }
        out.push(
            super::super::file_of(&schema::USERS),
            &serde_json::json!({"last": true}),
        )
        .unwrap();
        assert_eq!(written, out.finish().unwrap(), "the bytes counted per file");
        let (a, b) = (files(side_by_side.path()), files(one_at_a_time.path()));
        assert_eq!(a, b);
        let issues_file = &a.iter().find(|(name, _)| name == "issues.jsonl").unwrap().1;
        assert_eq!(issues_file.iter().filter(|b| **b == b'\n').count(), 1_501);
        assert!(
            issues_file.starts_with(b"{\"before\":1}\n"),
            "appended, not rewritten"
        );
    }
}

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
        file_path(&self.dir, self.suffix, file)
    }

    /// Appends each of `rows` as a line of `table`'s file.
    pub(super) fn rows(&mut self, table: &'static Table, rows: &[Row]) -> Result<(), Error> {
        let file = super::file_of(table);
        for row in rows {
            self.push(file, &Record { table, row })?;
        }
        Ok(())
    }

    /// Appends `record` as one line of file `file` (an index into [`FILES`]).
    pub(super) fn push(&mut self, file: usize, record: &impl Serialize) -> Result<(), Error> {
        // The path is named only by an error: a commit pushes hundreds of thousands of
        // lines.
        self.line.clear();
        serde_json::to_writer(&mut self.line, record).map_err(|e| failed(&self.path(file), e))?;
        self.line.push(b'\n');
        let beside = !self.suffix.is_empty();
        let (dir, suffix) = (&self.dir, &self.suffix);
        let (writer, written) = match &mut self.files[file] {
            Some(open) => open,
            slot => {
                let path = file_path(dir, suffix, file);
                let opened = OpenOptions::new()
                    .append(!beside)
                    .write(true)
                    .create(beside)
                    .truncate(beside)
                    .open(&path)
                    .map_err(|e| failed(&path, e))?;
                slot.insert((std::io::BufWriter::with_capacity(256 * 1024, opened), 0))
            }
        };
        writer
            .write_all(&self.line)
            .map_err(|e| failed(&file_path(dir, suffix, file), e))?;
        *written += self.line.len() as u64;
        Ok(())
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

/// The path of file `file` (an index into [`FILES`]) in `dir`, with `suffix`.
fn file_path(dir: &Path, suffix: &str, file: usize) -> PathBuf {
    dir.join(format!("{}{suffix}", FILES[file]))
}

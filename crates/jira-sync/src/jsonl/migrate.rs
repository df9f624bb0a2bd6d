//! Migration of a JSON Lines sink of format 1 (each issue's JSON, its history and its
//! comments as one line each, the field catalogue in the manifest) to the files of the
//! relational tables, in place and atomically: the new files are written beside the old
//! ones and swapped in with the manifest, as compaction swaps ([`compact`](super::compact)).
//! A migration cut off leaves format 1, which the next open migrates again.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::append::{Appender, Tombstone};
use super::{FILES, FORMAT, Manifest, file_descriptions, file_of};
use crate::relational::schema::{self, Table};
use crate::relational::{Row, Rows, SqlValue, field_rows, time_ms};
use crate::{Child, Error, SyncBatch, SyncedIssue};

/// A line of a format-1 `issues.jsonl`.
#[derive(Deserialize)]
struct OldIssue {
    id: u64,
    #[serde(default)]
    key: String,
    #[serde(default)]
    updated_ms: i64,
    deleted_ms: Option<i64>,
    issue: Option<Box<RawValue>>,
}

/// A line of a format-1 `changelog.jsonl` or `comments.jsonl`.
#[derive(Deserialize)]
struct OldChildren {
    issue_id: u64,
    #[serde(default)]
    entries: Vec<Box<RawValue>>,
    #[serde(default)]
    comments: Vec<Box<RawValue>>,
}

/// A line of a format-1 `worklogs.jsonl`.
#[derive(Deserialize)]
struct OldWorklog {
    id: u64,
    issue_id: Option<u64>,
    deleted_ms: Option<i64>,
    worklog: Option<Box<RawValue>>,
}

/// The id of an entity's JSON (`"10001"` or `10001`).
#[derive(Deserialize)]
struct WithId {
    id: Value,
}

fn id_of(json: &RawValue) -> u64 {
    serde_json::from_str::<WithId>(json.get())
        .ok()
        .and_then(|w| match w.id {
            Value::String(text) => text.parse().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        })
        .unwrap_or(0)
}

fn bad(name: &str, e: impl std::fmt::Display) -> Error {
    Error::Sync(format!(
        "sync: a line of {name} (JSON Lines format 1) does not read ({e}), so the directory cannot be migrated to format {FORMAT}; move it away and sync into a new one"
    ))
}

/// Each line of the format-1 file `name`, parsed.
fn each<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    name: &str,
    mut f: impl FnMut(u32, T) -> Result<(), Error>,
) -> Result<(), Error> {
    use std::io::BufRead as _;
    let path = dir.join(name);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(super::failed(&path, e)),
    };
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| super::failed(&path, e))?;
        f(
            n as u32,
            serde_json::from_str(&line).map_err(|e| bad(name, e))?,
        )?;
    }
    Ok(())
}

/// Sets `deleted_at` of `row` (of `table`) to `at`.
fn deleted(table: &Table, row: &mut Row, at: SqlValue) {
    if let Some(n) = table.columns.iter().position(|c| c.name == "deleted_at") {
        row[n] = at;
    }
}

/// Migrates the format-1 export in `dir` whose manifest is `manifest` (updated).
pub(super) fn migrate(dir: &Path, manifest: &mut Manifest) -> Result<(), Error> {
    // The catalogue format 1 kept in the manifest.
    let path = dir.join("manifest.json");
    let raw: Value = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    let fields: Vec<Value> = raw
        .get("fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (field_rows, names) = field_rows(&fields);

    // The last whole line of each issue (or its last line when it has none), its key
    // and when it was deleted.
    let mut last: HashMap<u64, (u32, bool)> = HashMap::new();
    let mut keys: HashMap<u64, String> = HashMap::new();
    let mut gone: HashMap<u64, i64> = HashMap::new();
    each(dir, "issues.jsonl", |n, line: OldIssue| {
        let whole = line.issue.is_some();
        match last.get_mut(&line.id) {
            Some(seen) if seen.1 && !whole => {}
            Some(seen) => *seen = (n, whole),
            None => {
                last.insert(line.id, (n, whole));
            }
        }
        keys.insert(line.id, line.key);
        match line.deleted_ms {
            Some(at) => gone.insert(line.id, at),
            None => gone.remove(&line.id),
        };
        Ok(())
    })?;
    let mut out = Appender::beside(dir);
    let mut users: BTreeMap<String, Row> = BTreeMap::new();
    let mut statuses: BTreeMap<String, Row> = BTreeMap::new();
    let mut people = |rows: &mut Rows| {
        for row in std::mem::take(&mut rows.users) {
            if let Some(SqlValue::Text(id)) = row.first() {
                users.insert(id.clone(), row);
            }
        }
        for row in std::mem::take(&mut rows.statuses) {
            if let Some(SqlValue::Text(id)) = row.first() {
                statuses.insert(id.clone(), row);
            }
        }
    };
    each(dir, "issues.jsonl", |n, line: OldIssue| {
        if last.get(&line.id).map(|(at, _)| *at) != Some(n) {
            return Ok(());
        }
        let deleted_at = gone.get(&line.id).copied().map_or(SqlValue::Null, time_ms);
        let Some(json) = line.issue else {
            // A tombstone whose issue format 1 did not keep.
            return out.push(
                file_of(&schema::ISSUES),
                &Tombstone {
                    key: &[
                        ("id", SqlValue::Int(line.id as i64)),
                        ("key", SqlValue::Text(line.key)),
                    ],
                    deleted_at,
                },
            );
        };
        let batch = SyncBatch {
            issues: vec![SyncedIssue {
                id: line.id,
                key: line.key,
                updated_ms: line.updated_ms,
                json,
            }],
            ..SyncBatch::default()
        };
        let mut rows = Rows::build(&batch, &names, &keys)?;
        for row in &mut rows.issues {
            deleted(&schema::ISSUES, row, deleted_at.clone());
        }
        out.rows(&schema::ISSUES, &rows.issues)?;
        out.rows(&schema::FIELD_VALUES, &rows.field_values)?;
        people(&mut rows);
        Ok(())
    })?;

    // Histories and comments: each issue's last line.
    for (name, history) in [("changelog.jsonl", true), ("comments.jsonl", false)] {
        let mut latest: HashMap<u64, u32> = HashMap::new();
        each(dir, name, |n, line: OldChildren| {
            latest.insert(line.issue_id, n);
            Ok(())
        })?;
        each(dir, name, |n, line: OldChildren| {
            if latest.get(&line.issue_id) != Some(&n) {
                return Ok(());
            }
            let children = if history { line.entries } else { line.comments };
            let children = children
                .into_iter()
                .map(|json| Child {
                    id: id_of(&json),
                    issue_id: line.issue_id,
                    at: String::new(),
                    json,
                })
                .collect();
            let mut batch = SyncBatch::default();
            match history {
                true => batch.histories.insert(line.issue_id, children),
                false => batch.comments.insert(line.issue_id, children),
            };
            let mut rows = Rows::build(&batch, &names, &keys)?;
            if let Some(at) = gone.get(&line.issue_id) {
                for row in &mut rows.comments {
                    deleted(&schema::COMMENTS, row, time_ms(*at));
                }
            }
            out.rows(&schema::CHANGELOG, &rows.changelog)?;
            out.rows(&schema::CHANGELOG_ITEMS, &rows.changelog_items)?;
            out.rows(&schema::COMMENTS, &rows.comments)?;
            people(&mut rows);
            Ok(())
        })?;
    }

    // Worklogs: each one's last whole line, deleted when a later line says so.
    let mut worklogs: HashMap<u64, (Option<u32>, Option<i64>, u64)> = HashMap::new();
    each(dir, "worklogs.jsonl", |n, line: OldWorklog| {
        let entry = worklogs.entry(line.id).or_insert((None, None, 0));
        if line.worklog.is_some() {
            entry.0 = Some(n);
        }
        entry.1 = line.deleted_ms;
        entry.2 = line.issue_id.unwrap_or(entry.2);
        Ok(())
    })?;
    each(dir, "worklogs.jsonl", |n, line: OldWorklog| {
        let Some((whole, deleted_ms, issue_id)) = worklogs.get(&line.id).copied() else {
            return Ok(());
        };
        match (whole, line.worklog) {
            (Some(at), Some(json)) if at == n => {
                let batch = SyncBatch {
                    worklogs: vec![Child {
                        id: line.id,
                        issue_id,
                        at: String::new(),
                        json,
                    }],
                    ..SyncBatch::default()
                };
                let mut rows = Rows::build(&batch, &names, &keys)?;
                if let Some(at) = deleted_ms {
                    for row in &mut rows.worklogs {
                        deleted(&schema::WORKLOGS, row, time_ms(at));
                    }
                }
                out.rows(&schema::WORKLOGS, &rows.worklogs)?;
                people(&mut rows);
                Ok(())
            }
            // Only tombstones: one, with the time of the last.
            (None, _) if deleted_ms.is_some() && worklogs.remove(&line.id).is_some() => out.push(
                file_of(&schema::WORKLOGS),
                &Tombstone {
                    key: &[("id", SqlValue::Int(line.id as i64))],
                    deleted_at: deleted_ms.map_or(SqlValue::Null, time_ms),
                },
            ),
            _ => Ok(()),
        }
    })?;
    out.rows(&schema::USERS, &users.into_values().collect::<Vec<_>>())?;
    out.rows(
        &schema::STATUSES,
        &statuses.into_values().collect::<Vec<_>>(),
    )?;
    out.rows(&schema::FIELDS, &field_rows)?;
    let written = out.finish()?;

    let mut migrated = manifest.clone();
    migrated.format = FORMAT;
    migrated.files = file_descriptions();
    for (n, name) in FILES.iter().enumerate().take(FILES.len() - 2) {
        // Every table's file is written anew, an empty one too.
        let beside = dir.join(format!("{name}{}", super::compact::SUFFIX));
        if !beside.exists() {
            std::fs::File::create(&beside).map_err(|e| super::failed(&beside, e))?;
        }
        migrated.bytes.insert((*name).to_owned(), written[n]);
    }
    super::compact::swap_in(dir, manifest, migrated)
}

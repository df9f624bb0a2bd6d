//! Moving a SQLite sink of schema version 1 (each entity as JSON only: `issues`,
//! `changelog`, `comments`, `worklogs`, `fields`) to the relational schema, in place and
//! in one transaction: the old tables are renamed aside, the new ones created, every
//! entity's JSON (kept as Jira sent it) written again through the same code a commit
//! uses, tombstones carried over, the old tables dropped. An interruption leaves the file
//! as it was; nothing is fetched from Jira again.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::{Connection, Transaction, params};
use serde_json::value::RawValue;

use super::{create, failed, write_batch};
use crate::relational::{field_rows, time_ms};
use crate::{Child, Error, SyncBatch, SyncedIssue};

/// Issues moved per step (bounded memory however large the file).
const CHUNK: i64 = 500;

/// Migrates the version 1 database open in `connection`.
pub(super) fn from_v1(connection: &mut Connection, path: &Path) -> Result<(), Error> {
    tracing::info!(path = %path.display(), "migrating a version 1 sync database to the relational schema");
    let transaction = connection.transaction().map_err(|e| failed(path, e))?;
    migrate(&transaction).map_err(|e| failed(path, e))?;
    transaction.commit().map_err(|e| failed(path, e))
}

fn raw(text: String) -> rusqlite::Result<Box<RawValue>> {
    RawValue::from_string(text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// The children of `table` for issues `first..=last`, by issue id.
fn children(
    transaction: &Transaction<'_>,
    table: &str,
    first: i64,
    last: i64,
) -> rusqlite::Result<BTreeMap<u64, Vec<Child>>> {
    let at = if table == "v1_changelog" {
        "created"
    } else {
        "updated"
    };
    let mut statement = transaction.prepare(&format!(
        "SELECT issue_id, id, {at}, json FROM {table} WHERE issue_id BETWEEN ?1 AND ?2 ORDER BY issue_id, id"
    ))?;
    let mut lists: BTreeMap<u64, Vec<Child>> = BTreeMap::new();
    let rows = statement.query_map(params![first, last], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (issue_id, id, at, json) = row?;
        lists.entry(issue_id as u64).or_default().push(Child {
            id: id as u64,
            issue_id: issue_id as u64,
            at,
            json: raw(json)?,
        });
    }
    Ok(lists)
}

fn migrate(transaction: &Transaction<'_>) -> rusqlite::Result<()> {
    transaction.execute_batch(
        "DROP INDEX IF EXISTS comments_by_issue;
         DROP INDEX IF EXISTS worklogs_by_issue;
         ALTER TABLE issues RENAME TO v1_issues;
         ALTER TABLE changelog RENAME TO v1_changelog;
         ALTER TABLE comments RENAME TO v1_comments;
         ALTER TABLE worklogs RENAME TO v1_worklogs;
         ALTER TABLE fields RENAME TO v1_fields;",
    )?;
    let members_existed: bool = transaction.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sync_members'",
        [],
        |row| Ok(row.get::<_, i64>(0)? > 0),
    )?;
    create(transaction)?;
    if !members_existed {
        // A file from before membership: every query holds every live issue.
        transaction.execute(
            "INSERT OR IGNORE INTO sync_members (jql, issue_id)
             SELECT s.jql, i.id FROM sync_state s, v1_issues i WHERE i.deleted_ms IS NULL",
            [],
        )?;
    }
    let fields: Vec<serde_json::Value> = {
        let mut statement = transaction.prepare("SELECT json FROM v1_fields")?;
        let texts: Vec<String> = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        texts
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .collect()
    };
    let (field_rows, names): (_, HashMap<String, String>) = field_rows(&fields);
    super::upsert(transaction, &crate::relational::schema::FIELDS, &field_rows)?;
    let mut after = i64::MIN;
    loop {
        let issues: Vec<(i64, String, i64, Option<i64>, String)> = {
            let mut statement = transaction.prepare_cached(
                "SELECT id, key, updated_ms, deleted_ms, json FROM v1_issues WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            statement
                .query_map(params![after, CHUNK], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })?
                .collect::<Result<_, _>>()?
        };
        let (Some(first), Some(last)) = (issues.first(), issues.last()) else {
            break;
        };
        let (first, last) = (first.0, last.0);
        let mut batch = SyncBatch {
            histories: children(transaction, "v1_changelog", first, last)?,
            comments: children(transaction, "v1_comments", first, last)?,
            worklogs: children(transaction, "v1_worklogs", first, last)?
                .into_values()
                .flatten()
                .collect(),
            ..SyncBatch::default()
        };
        let mut deleted = Vec::new();
        for (id, key, updated_ms, deleted_ms, json) in issues {
            batch.issues.push(SyncedIssue {
                id: id as u64,
                key,
                updated_ms,
                json: raw(json)?,
            });
            deleted.extend(deleted_ms.map(|at| (id, at)));
        }
        write_batch(transaction, &batch, &names, None)?;
        for (id, at) in deleted {
            let at = time_ms(at);
            transaction.execute(
                "UPDATE issues SET deleted_at = ?2 WHERE id = ?1",
                params![id, at],
            )?;
            transaction.execute(
                "UPDATE comments SET deleted_at = ?2 WHERE issue_id = ?1",
                params![id, at],
            )?;
        }
        after = last;
    }
    // Worklog tombstones, and when each was deleted.
    let tombstones: Vec<(i64, i64)> = {
        let mut statement = transaction
            .prepare("SELECT id, deleted_ms FROM v1_worklogs WHERE deleted_ms IS NOT NULL")?;
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (id, at) in tombstones {
        transaction.execute(
            "UPDATE worklogs SET deleted_at = ?2 WHERE id = ?1",
            params![id, time_ms(at)],
        )?;
    }
    transaction.execute_batch(
        "DROP TABLE v1_issues; DROP TABLE v1_changelog; DROP TABLE v1_comments;
         DROP TABLE v1_worklogs; DROP TABLE v1_fields;",
    )
}

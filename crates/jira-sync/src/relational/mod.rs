//! The relational schema the database sinks write (SQLite and PostgreSQL alike), and the
//! rows a commit makes of what Jira sent.
//!
//! Each entity keeps its JSON as Jira sent it, and beside it the columns people query:
//! an issue's key, project, type, status, people, times, labels and text; one row per
//! custom field value, per changed field of a history entry, per comment and worklog
//! (with the issue's key, the author, the text of the ADF body); the users, fields and
//! statuses they name; and two views, `current_issues` and `status_periods`. Times are
//! UTC ISO 8601 (`timestamptz` in PostgreSQL), so `datetime()` and date arithmetic work
//! in plain SQL. [`schema`] holds the tables once; the sinks render them.

pub mod schema;
mod values;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::{Error, SyncBatch};
pub(crate) use values::time_ms;
use values::{field_values, integer, member, rich_text, text, time};

/// One value bound into a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text (times, dates and JSON too: the database reads them by the column's type).
    Text(String),
    /// True or false.
    Bool(bool),
}

/// One row: its values in its table's column order.
pub type Row = Vec<SqlValue>;

/// What one commit writes, table by table.
#[derive(Debug, Default)]
pub struct Rows {
    /// Issues written, upserted by id.
    pub issues: Vec<Row>,
    /// Their custom field values: they replace those the written issues had.
    pub field_values: Vec<Row>,
    /// Issues whose history the commit replaces.
    pub history_issue_ids: Vec<i64>,
    /// Their history entries.
    pub changelog: Vec<Row>,
    /// Their entries' items.
    pub changelog_items: Vec<Row>,
    /// Issues whose comments the commit replaces (a comment no longer among them is
    /// marked deleted).
    pub comment_issue_ids: Vec<i64>,
    /// Their comments.
    pub comments: Vec<Row>,
    /// Worklogs, upserted by id.
    pub worklogs: Vec<Row>,
    /// Worklogs deleted on the site: id and when.
    pub deleted_worklogs: Vec<(i64, SqlValue)>,
    /// People named, upserted by account id.
    pub users: Vec<Row>,
    /// Statuses seen, upserted by id.
    pub statuses: Vec<Row>,
}

impl Rows {
    /// The issues `batch` writes children of without writing the issue itself: their
    /// keys come from the sink.
    pub fn keys_needed(batch: &SyncBatch) -> Vec<u64> {
        let written: std::collections::HashSet<u64> = batch.issues.iter().map(|i| i.id).collect();
        let mut needed: Vec<u64> = batch
            .histories
            .keys()
            .chain(batch.comments.keys())
            .copied()
            .chain(batch.worklogs.iter().map(|w| w.issue_id))
            .filter(|id| !written.contains(id))
            .collect();
        needed.sort_unstable();
        needed.dedup();
        needed
    }

    /// The rows of `batch`: `names` maps field ids to names (the site's catalogue),
    /// `keys` the keys of issues [`Rows::keys_needed`] named.
    pub fn build(
        batch: &SyncBatch,
        names: &HashMap<String, String>,
        keys: &HashMap<u64, String>,
    ) -> Result<Rows, Error> {
        let mut rows = Rows::default();
        let mut users = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        let mut key_of: HashMap<u64, String> = keys.clone();
        for issue in &batch.issues {
            key_of.insert(issue.id, issue.key.clone());
            let json: Value = parse(issue.json.get())?;
            let fields = json.get("fields");
            let field = |name: &str| fields.and_then(|f| f.get(name));
            for person in ["assignee", "reporter", "creator"] {
                user(field(person), &mut users);
            }
            let status = field("status");
            if let Some(status) = status {
                let category = status.get("statusCategory");
                if let SqlValue::Text(id) = member(Some(status), "id") {
                    statuses.insert(
                        id.clone(),
                        vec![
                            SqlValue::Text(id),
                            member(Some(status), "name"),
                            member(category, "name"),
                            member(category, "key"),
                        ],
                    );
                }
            }
            let labels = field("labels")
                .and_then(Value::as_array)
                .map(|labels| {
                    labels
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|l| !l.is_empty())
                .map_or(SqlValue::Null, SqlValue::Text);
            rows.issues.push(vec![
                SqlValue::Int(issue.id as i64),
                SqlValue::Text(issue.key.clone()),
                member(field("project"), "key"),
                member(field("issuetype"), "name"),
                member(status, "name"),
                member(status.and_then(|s| s.get("statusCategory")), "name"),
                member(field("priority"), "name"),
                member(field("assignee"), "accountId"),
                member(field("reporter"), "accountId"),
                member(field("creator"), "accountId"),
                time(field("created")),
                time_ms(issue.updated_ms),
                member(field("resolution"), "name"),
                time(field("resolutiondate")),
                text(field("duedate")),
                member(field("parent"), "key"),
                labels,
                text(field("summary")),
                rich_text(field("description")),
                SqlValue::Null,
                SqlValue::Text(issue.json.get().to_owned()),
            ]);
            let custom = fields
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(id, _)| id.starts_with("customfield_"));
            for (field_id, value) in custom {
                let name = names.get(field_id).unwrap_or(field_id);
                for (position, one) in field_values(value).into_iter().enumerate() {
                    if let Ok(person) = serde_json::from_str::<Value>(&one.json) {
                        user(Some(&person), &mut users);
                    }
                    rows.field_values.push(vec![
                        SqlValue::Int(issue.id as i64),
                        SqlValue::Text(issue.key.clone()),
                        SqlValue::Text(field_id.clone()),
                        SqlValue::Text(name.clone()),
                        SqlValue::Int(position as i64),
                        one.text,
                        one.number,
                        SqlValue::Text(one.json),
                    ]);
                }
            }
        }
        let key = |issue_id: u64| {
            SqlValue::Text(
                key_of
                    .get(&issue_id)
                    .cloned()
                    .unwrap_or_else(|| issue_id.to_string()),
            )
        };
        for (issue_id, entries) in &batch.histories {
            rows.history_issue_ids.push(*issue_id as i64);
            for entry in entries {
                let json: Value = parse(entry.json.get())?;
                let author = json.get("author");
                user(author, &mut users);
                let created = time(json.get("created"));
                let author_id = member(author, "accountId");
                let items = json.get("items").and_then(Value::as_array);
                for (position, item) in items.into_iter().flatten().enumerate() {
                    let item_field = member(Some(item), "field");
                    if item_field == SqlValue::Null {
                        continue;
                    }
                    rows.changelog_items.push(vec![
                        SqlValue::Int(entry.id as i64),
                        SqlValue::Int(position as i64),
                        SqlValue::Int(*issue_id as i64),
                        key(*issue_id),
                        author_id.clone(),
                        created.clone(),
                        item_field,
                        member(Some(item), "fieldId"),
                        member(Some(item), "from"),
                        member(Some(item), "fromString"),
                        member(Some(item), "to"),
                        member(Some(item), "toString"),
                    ]);
                }
                rows.changelog.push(vec![
                    SqlValue::Int(entry.id as i64),
                    SqlValue::Int(*issue_id as i64),
                    key(*issue_id),
                    author_id,
                    created,
                    SqlValue::Text(entry.json.get().to_owned()),
                ]);
            }
        }
        for (issue_id, comments) in &batch.comments {
            rows.comment_issue_ids.push(*issue_id as i64);
            for comment in comments {
                let json: Value = parse(comment.json.get())?;
                user(json.get("author"), &mut users);
                user(json.get("updateAuthor"), &mut users);
                rows.comments.push(vec![
                    SqlValue::Int(comment.id as i64),
                    SqlValue::Int(*issue_id as i64),
                    key(*issue_id),
                    member(json.get("author"), "accountId"),
                    time(json.get("created")),
                    time(json.get("updated")),
                    rich_text(json.get("body")),
                    SqlValue::Null,
                    SqlValue::Text(comment.json.get().to_owned()),
                ]);
            }
        }
        for worklog in &batch.worklogs {
            let json: Value = parse(worklog.json.get())?;
            user(json.get("author"), &mut users);
            user(json.get("updateAuthor"), &mut users);
            rows.worklogs.push(vec![
                SqlValue::Int(worklog.id as i64),
                SqlValue::Int(worklog.issue_id as i64),
                key(worklog.issue_id),
                member(json.get("author"), "accountId"),
                time(json.get("started")),
                time(json.get("created")),
                time(json.get("updated")),
                integer(json.get("timeSpentSeconds")),
                rich_text(json.get("comment")),
                SqlValue::Null,
                SqlValue::Text(worklog.json.get().to_owned()),
            ]);
        }
        rows.deleted_worklogs = batch
            .deleted_worklogs
            .iter()
            .map(|(id, at)| (*id as i64, time_ms(*at)))
            .collect();
        rows.users = users.into_values().collect();
        rows.statuses = statuses.into_values().collect();
        Ok(rows)
    }
}

/// The `fields` rows of the site's field catalogue, and the names by id.
pub fn field_rows(fields: &[Value]) -> (Vec<Row>, HashMap<String, String>) {
    let mut names = HashMap::new();
    let rows = fields
        .iter()
        .filter_map(|field| {
            let SqlValue::Text(id) = member(Some(field), "id") else {
                return None;
            };
            let name = field
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_owned();
            names.insert(id.clone(), name.clone());
            Some(vec![
                SqlValue::Text(id),
                SqlValue::Text(name),
                SqlValue::Bool(field.get("custom").and_then(Value::as_bool) == Some(true)),
                member(field.get("schema"), "type"),
                SqlValue::Text(field.to_string()),
            ])
        })
        .collect();
    (rows, names)
}

/// A person's row when `value` names one (`accountId`).
fn user(value: Option<&Value>, users: &mut BTreeMap<String, Row>) {
    let Some(person) = value else { return };
    let SqlValue::Text(account) = member(Some(person), "accountId") else {
        return;
    };
    let active = person
        .get("active")
        .and_then(Value::as_bool)
        .map_or(SqlValue::Null, SqlValue::Bool);
    users.insert(
        account.clone(),
        vec![
            SqlValue::Text(account),
            member(Some(person), "displayName"),
            active,
            member(Some(person), "timeZone"),
        ],
    );
}

fn parse(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::Sync(format!("sync: an entity Jira sent does not read: {e}")))
}

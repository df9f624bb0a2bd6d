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
mod skim;
mod values;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::{Error, SyncBatch};
use skim::Skim;
pub(crate) use values::time_ms;
use values::{field_values, member};

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
            let json = skim(issue.json.get())?;
            let fields = json.object("fields").unwrap_or_default();
            let [assignee, reporter, creator] =
                ["assignee", "reporter", "creator"].map(|person| fields.object(person));
            for person in [&assignee, &reporter, &creator] {
                user(person.as_ref(), &mut users);
            }
            let status = fields.object("status").unwrap_or_default();
            let category = status.object("statusCategory").unwrap_or_default();
            if let SqlValue::Text(id) = status.text("id") {
                statuses.insert(
                    id.clone(),
                    vec![
                        SqlValue::Text(id),
                        status.text("name"),
                        category.text("name"),
                        category.text("key"),
                    ],
                );
            }
            let labels = fields
                .value("labels")
                .as_array()
                .map(|labels| {
                    labels
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|l| !l.is_empty())
                .map_or(SqlValue::Null, SqlValue::Text);
            let account = |person: &Option<Skim<'_>>| {
                person
                    .as_ref()
                    .map_or(SqlValue::Null, |p| p.text("accountId"))
            };
            rows.issues.push(vec![
                SqlValue::Int(issue.id as i64),
                SqlValue::Text(issue.key.clone()),
                fields.member("project", "key"),
                fields.member("issuetype", "name"),
                status.text("name"),
                category.text("name"),
                fields.member("priority", "name"),
                account(&assignee),
                account(&reporter),
                account(&creator),
                fields.time("created"),
                time_ms(issue.updated_ms),
                fields.member("resolution", "name"),
                fields.time("resolutiondate"),
                fields.text("duedate"),
                fields.member("parent", "key"),
                labels,
                fields.text("summary"),
                fields.rich_text("description"),
                SqlValue::Null,
                SqlValue::Text(issue.json.get().to_owned()),
            ]);
            // In the order of their ids, the last of an id twice, as a map keeps them.
            let custom: BTreeMap<&str, &RawValue> = fields
                .members()
                .filter(|(id, _)| id.starts_with("customfield_"))
                .collect();
            for (field_id, value) in custom {
                let name = names.get(field_id).map_or(field_id, String::as_str);
                let value: Value = serde_json::from_str(value.get()).unwrap_or(Value::Null);
                for (position, one) in field_values(&value).into_iter().enumerate() {
                    if one.json.starts_with('{')
                        && let Ok(person) = Skim::parse(&one.json)
                    {
                        user(Some(&person), &mut users);
                    }
                    rows.field_values.push(vec![
                        SqlValue::Int(issue.id as i64),
                        SqlValue::Text(issue.key.clone()),
                        SqlValue::Text(field_id.to_owned()),
                        SqlValue::Text(name.to_owned()),
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
                let json = skim(entry.json.get())?;
                let author = json.object("author");
                user(author.as_ref(), &mut users);
                let created = json.time("created");
                let author_id = author
                    .as_ref()
                    .map_or(SqlValue::Null, |a| a.text("accountId"));
                let items: Vec<&RawValue> = json
                    .raw("items")
                    .and_then(|items| serde_json::from_str(items.get()).ok())
                    .unwrap_or_default();
                let items = items.iter().filter_map(|item| Skim::parse(item.get()).ok());
                for (position, item) in items.enumerate() {
                    let item_field = item.text("field");
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
                        item.text("fieldId"),
                        item.text("from"),
                        item.text("fromString"),
                        item.text("to"),
                        item.text("toString"),
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
                let json = skim(comment.json.get())?;
                let author = json.object("author");
                user(author.as_ref(), &mut users);
                user(json.object("updateAuthor").as_ref(), &mut users);
                rows.comments.push(vec![
                    SqlValue::Int(comment.id as i64),
                    SqlValue::Int(*issue_id as i64),
                    key(*issue_id),
                    author.map_or(SqlValue::Null, |a| a.text("accountId")),
                    json.time("created"),
                    json.time("updated"),
                    json.rich_text("body"),
                    SqlValue::Null,
                    SqlValue::Text(comment.json.get().to_owned()),
                ]);
            }
        }
        for worklog in &batch.worklogs {
            let json = skim(worklog.json.get())?;
            let author = json.object("author");
            user(author.as_ref(), &mut users);
            user(json.object("updateAuthor").as_ref(), &mut users);
            rows.worklogs.push(vec![
                SqlValue::Int(worklog.id as i64),
                SqlValue::Int(worklog.issue_id as i64),
                key(worklog.issue_id),
                author.map_or(SqlValue::Null, |a| a.text("accountId")),
                json.time("started"),
                json.time("created"),
                json.time("updated"),
                json.integer("timeSpentSeconds"),
                json.rich_text("comment"),
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

/// A person's row when `person` names one (`accountId`).
fn user(person: Option<&Skim<'_>>, users: &mut BTreeMap<String, Row>) {
    let Some(person) = person else { return };
    let SqlValue::Text(account) = person.text("accountId") else {
        return;
    };
    users.insert(
        account.clone(),
        vec![
            SqlValue::Text(account),
            person.text("displayName"),
            person.bool("active").map_or(SqlValue::Null, SqlValue::Bool),
            person.text("timeZone"),
        ],
    );
}

/// The object an entity's text holds, skimmed.
fn skim(text: &str) -> Result<Skim<'_>, Error> {
    Skim::parse(text).map_err(crate::record::unreadable)
}

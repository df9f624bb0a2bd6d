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

use crate::record::{Child, SyncedIssue};
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
    ///
    /// A commit's issues, histories, comments and worklogs are built side by side on
    /// threads of their own when the batch is large ([`PARALLEL_FROM_BYTES`]): a sync's
    /// commits are made one after the other, and on a far site the units that wait
    /// behind the slowest one arrive at once, so the commit loop's own time is what
    /// the run's last seconds are made of. The rows are the same either way.
    pub fn build(
        batch: &SyncBatch,
        names: &HashMap<String, String>,
        keys: &HashMap<u64, String>,
    ) -> Result<Rows, Error> {
        Rows::build_parts(batch, names, keys, batch.bytes() >= PARALLEL_FROM_BYTES)
    }

    /// [`Rows::build`], its parts side by side when `parallel`.
    fn build_parts(
        batch: &SyncBatch,
        names: &HashMap<String, String>,
        keys: &HashMap<u64, String>,
        parallel: bool,
    ) -> Result<Rows, Error> {
        let mut key_of: HashMap<u64, String> = keys.clone();
        for issue in &batch.issues {
            key_of.insert(issue.id, issue.key.clone());
        }
        let key_of = &key_of;
        let parts = if parallel {
            std::thread::scope(|scope| {
                let histories = scope.spawn(|| histories(&batch.histories, key_of));
                let comments = scope.spawn(|| comments(&batch.comments, key_of));
                let worklogs = scope.spawn(|| worklogs(&batch.worklogs, key_of));
                let issues = issues(&batch.issues, names);
                let joined = |part: std::thread::ScopedJoinHandle<'_, Result<Part, Error>>| {
                    part.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                };
                [
                    issues,
                    joined(histories),
                    joined(comments),
                    joined(worklogs),
                ]
            })
        } else {
            [
                issues(&batch.issues, names),
                histories(&batch.histories, key_of),
                comments(&batch.comments, key_of),
                worklogs(&batch.worklogs, key_of),
            ]
        };
        let mut rows = Rows::default();
        let mut users = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        for part in parts {
            let part = part?;
            // In the order a single pass names them: a person named again keeps the
            // last row, as one pass would.
            users.extend(part.users);
            statuses.extend(part.statuses);
            rows.absorb(part.rows);
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

    /// Takes the rows of `part` (each part fills tables of its own).
    fn absorb(&mut self, part: Rows) {
        self.issues.extend(part.issues);
        self.field_values.extend(part.field_values);
        self.history_issue_ids.extend(part.history_issue_ids);
        self.changelog.extend(part.changelog);
        self.changelog_items.extend(part.changelog_items);
        self.comment_issue_ids.extend(part.comment_issue_ids);
        self.comments.extend(part.comments);
        self.worklogs.extend(part.worklogs);
    }
}

/// The JSON a batch holds from which [`Rows::build`] builds its parts side by side: below
/// it, four threads cost more than they save.
pub const PARALLEL_FROM_BYTES: usize = 512 * 1024;

/// The rows one part of a batch makes, and the people and statuses it names.
#[derive(Default)]
struct Part {
    rows: Rows,
    users: BTreeMap<String, Row>,
    statuses: BTreeMap<String, Row>,
}

/// The key of issue `issue_id`, or its id when nothing names it.
fn key_in(key_of: &HashMap<u64, String>, issue_id: u64) -> SqlValue {
    SqlValue::Text(
        key_of
            .get(&issue_id)
            .cloned()
            .unwrap_or_else(|| issue_id.to_string()),
    )
}

/// The `issues` and `issue_field_values` rows of `issues`.
fn issues(issues: &[SyncedIssue], names: &HashMap<String, String>) -> Result<Part, Error> {
    let mut part = Part::default();
    let (rows, users, statuses) = (&mut part.rows, &mut part.users, &mut part.statuses);
    for issue in issues {
        let json: Value = parse(issue.json.get())?;
        let fields = json.get("fields");
        let field = |name: &str| fields.and_then(|f| f.get(name));
        for person in ["assignee", "reporter", "creator"] {
            user(field(person), users);
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
                    user(Some(&person), users);
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
    Ok(part)
}

/// The `changelog` and `changelog_items` rows of `histories` (by issue id).
fn histories(
    histories: &BTreeMap<u64, Vec<Child>>,
    key_of: &HashMap<u64, String>,
) -> Result<Part, Error> {
    let mut part = Part::default();
    let (rows, users) = (&mut part.rows, &mut part.users);
    for (issue_id, entries) in histories {
        rows.history_issue_ids.push(*issue_id as i64);
        for entry in entries {
            let json: Value = parse(entry.json.get())?;
            let author = json.get("author");
            user(author, users);
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
                    key_in(key_of, *issue_id),
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
                key_in(key_of, *issue_id),
                author_id,
                created,
                SqlValue::Text(entry.json.get().to_owned()),
            ]);
        }
    }
    Ok(part)
}

/// The `comments` rows of `comments` (by issue id).
fn comments(
    comments: &BTreeMap<u64, Vec<Child>>,
    key_of: &HashMap<u64, String>,
) -> Result<Part, Error> {
    let mut part = Part::default();
    let (rows, users) = (&mut part.rows, &mut part.users);
    for (issue_id, comments) in comments {
        rows.comment_issue_ids.push(*issue_id as i64);
        for comment in comments {
            let json: Value = parse(comment.json.get())?;
            user(json.get("author"), users);
            user(json.get("updateAuthor"), users);
            rows.comments.push(vec![
                SqlValue::Int(comment.id as i64),
                SqlValue::Int(*issue_id as i64),
                key_in(key_of, *issue_id),
                member(json.get("author"), "accountId"),
                time(json.get("created")),
                time(json.get("updated")),
                rich_text(json.get("body")),
                SqlValue::Null,
                SqlValue::Text(comment.json.get().to_owned()),
            ]);
        }
    }
    Ok(part)
}

/// The `worklogs` rows of `worklogs`.
fn worklogs(worklogs: &[Child], key_of: &HashMap<u64, String>) -> Result<Part, Error> {
    let mut part = Part::default();
    let (rows, users) = (&mut part.rows, &mut part.users);
    for worklog in worklogs {
        let json: Value = parse(worklog.json.get())?;
        user(json.get("author"), users);
        user(json.get("updateAuthor"), users);
        rows.worklogs.push(vec![
            SqlValue::Int(worklog.id as i64),
            SqlValue::Int(worklog.issue_id as i64),
            key_in(key_of, worklog.issue_id),
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
    Ok(part)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::record::{At, raw};

    /// A person as Jira names one.
    fn person(account: &str, name: &str) -> Value {
        json!({"accountId": account, "displayName": name, "active": true, "timeZone": "UTC"})
    }

    /// A batch past [`PARALLEL_FROM_BYTES`] whose parts name the same people under
    /// different names, so the order the parts are merged in shows in `users`.
    fn batch() -> SyncBatch {
        let mut batch = SyncBatch::default();
        let text = "x".repeat(2_000);
        for n in 1..=200_u64 {
            let issue = json!({"id": n.to_string(), "key": format!("P-{n}"), "fields": {
                "summary": format!("issue {n} {text}"),
                "status": {"id": "3", "name": "Done", "statusCategory": {"key": "done", "name": "Done"}},
                "assignee": person("a", "from an issue"),
                "customfield_10010": [person("b", "from a field")],
                "updated": "2024-01-18T07:33:17.016+0000",
            }});
            batch.issues.push(SyncedIssue {
                id: n,
                key: format!("P-{n}"),
                updated_ms: 1_705_562_997_016,
                json: raw(&issue).unwrap(),
            });
            let entry = json!({"id": (1_000 + n).to_string(), "author": person("b", "from a history"),
                "created": "2024-01-18T07:33:17.016+0000",
                "items": [{"field": "status", "fieldId": "status", "fromString": "Open", "toString": "Done"}]});
            let comment = json!({"id": (2_000 + n).to_string(), "author": person("c", "from a comment"),
                "updateAuthor": person("a", "from a comment"), "body": text,
                "created": "2024-01-18T07:33:17.016+0000", "updated": "2024-01-18T07:33:17.016+0000"});
            let worklog = json!({"id": (3_000 + n).to_string(), "issueId": n.to_string(),
                "author": person("c", "from a worklog"), "timeSpentSeconds": 60,
                "started": "2024-01-18T07:33:17.016+0000", "updated": "2024-01-18T07:33:17.016+0000"});
            batch.histories.insert(
                n,
                vec![Child::parse(raw(&entry).unwrap(), Some(n), At::Created).unwrap()],
            );
            batch.comments.insert(
                n,
                vec![Child::parse(raw(&comment).unwrap(), Some(n), At::Updated).unwrap()],
            );
            batch
                .worklogs
                .push(Child::parse(raw(&worklog).unwrap(), None, At::Updated).unwrap());
        }
        batch.deleted_worklogs.push((9_999, 1_705_562_997_016));
        batch
    }

    /// What a test compares of two builds.
    fn tables(rows: &Rows) -> Vec<(&'static str, String)> {
        let shown = |name, rows: &dyn std::fmt::Debug| (name, format!("{rows:?}"));
        vec![
            shown("issues", &rows.issues),
            shown("field_values", &rows.field_values),
            shown("history_issue_ids", &rows.history_issue_ids),
            shown("changelog", &rows.changelog),
            shown("changelog_items", &rows.changelog_items),
            shown("comment_issue_ids", &rows.comment_issue_ids),
            shown("comments", &rows.comments),
            shown("worklogs", &rows.worklogs),
            shown("deleted_worklogs", &rows.deleted_worklogs),
            shown("users", &rows.users),
            shown("statuses", &rows.statuses),
        ]
    }

    #[test]
    fn parts_built_side_by_side_make_the_rows_one_pass_makes() {
        let batch = batch();
        assert!(
            batch.bytes() >= PARALLEL_FROM_BYTES,
            "the batch takes the parallel path"
        );
        let names = HashMap::from([("customfield_10010".to_owned(), "Reviewers".to_owned())]);
        let keys = HashMap::new();
        let one_pass = Rows::build_parts(&batch, &names, &keys, false).unwrap();
        let side_by_side = Rows::build(&batch, &names, &keys).unwrap();
        assert_eq!(tables(&side_by_side), tables(&one_pass));
        assert_eq!(side_by_side.issues.len(), 200);
        assert_eq!(side_by_side.changelog_items.len(), 200);
        assert_eq!(side_by_side.comments.len(), 200);
        assert_eq!(side_by_side.worklogs.len(), 200);
        assert_eq!(side_by_side.deleted_worklogs.len(), 1);
        // Each person keeps the row the last part to name them gave.
        let named: Vec<(String, String)> = side_by_side
            .users
            .iter()
            .map(|row| (format!("{:?}", row[0]), format!("{:?}", row[1])))
            .collect();
        assert_eq!(
            named,
            [
                ("Text(\"a\")".into(), "Text(\"from a comment\")".into()),
                ("Text(\"b\")".into(), "Text(\"from a history\")".into()),
                ("Text(\"c\")".into(), "Text(\"from a worklog\")".into()),
            ]
        );
    }
}

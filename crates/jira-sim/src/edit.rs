//! How the tenant changes: the store edits more than one endpoint makes (fields set, history
//! recorded, a transition's move, an issue removed with its links and worklogs, entity
//! properties checked), shared by the handlers so that no handler module imports another.

use serde_json::{Map, Value};

use crate::data::{
    self, ChangeData, ChangeItem, IssueData, IssueStore, PRIORITIES, RESOLUTIONS, STATUSES,
    WorklogData,
};
use crate::state::AppState;

/// A resolution named by `{"id": ..}` or `{"name": ..}`.
pub(crate) fn resolution_ref(value: &Value) -> Option<usize> {
    let by_id = value.get("id").and_then(Value::as_str);
    let by_name = value.get("name").and_then(Value::as_str);
    RESOLUTIONS.iter().position(|(id, name, _)| {
        by_id == Some(*id) || by_name.is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn status_pair(status: usize) -> (Option<String>, Option<String>) {
    (
        Some(STATUSES[status].0.to_owned()),
        Some(STATUSES[status].1.to_owned()),
    )
}

fn resolution_pair(resolution: Option<usize>) -> (Option<String>, Option<String>) {
    match resolution {
        Some(index) => (
            Some(RESOLUTIONS[index].0.to_owned()),
            Some(RESOLUTIONS[index].1.to_owned()),
        ),
        None => (None, None),
    }
}

/// Moves `issue` to `to` (and sets or clears its resolution), appending the history
/// entry; `now` is the write's time.
pub(crate) fn move_issue(
    issue: &mut IssueData,
    to: usize,
    resolution: Option<usize>,
    author: usize,
    id: u64,
    now: i64,
) {
    let mut items = Vec::new();
    if issue.status != to {
        items.push(ChangeItem::system(
            "status",
            "status",
            status_pair(issue.status),
            status_pair(to),
        ));
        if STATUSES[issue.status].2 != STATUSES[to].2 {
            issue.status_changed_ms = now;
        }
    }
    if issue.resolution != resolution {
        items.push(ChangeItem::system(
            "resolution",
            "resolution",
            resolution_pair(issue.resolution),
            resolution_pair(resolution),
        ));
    }
    issue.status = to;
    issue.resolution = resolution;
    issue.updated_ms = now;
    if !items.is_empty() {
        issue.changes.push(ChangeData {
            id,
            author,
            created_ms: now,
            items,
        });
    }
}

/// Writes the history entry of an edit: what changed between `before` and `after` among
/// the fields Jira's history records.
pub(crate) fn record_edit(
    app: &AppState,
    before: &IssueData,
    after: &mut IssueData,
    author: usize,
    id: u64,
    now: i64,
) {
    let mut items = Vec::new();
    let summary = |issue: &IssueData| {
        issue
            .summary
            .clone()
            .unwrap_or_else(|| data::generated_summary(issue.seed))
    };
    if summary(before) != summary(after) {
        items.push(ChangeItem::system(
            "summary",
            "summary",
            (None, Some(summary(before))),
            (None, Some(summary(after))),
        ));
    }
    if before.priority != after.priority {
        let pair = |p: usize| {
            (
                Some(data::PRIORITIES[p].0.to_owned()),
                Some(data::PRIORITIES[p].1.to_owned()),
            )
        };
        items.push(ChangeItem::system(
            "priority",
            "priority",
            pair(before.priority),
            pair(after.priority),
        ));
    }
    if before.assignee != after.assignee {
        items.push(ChangeItem::system(
            "assignee",
            "assignee",
            data::user_pair(&app.tenant.users, before.assignee),
            data::user_pair(&app.tenant.users, after.assignee),
        ));
    }
    if before.labels != after.labels {
        items.push(ChangeItem::system(
            "labels",
            "labels",
            (None, Some(before.labels.join(" "))),
            (None, Some(after.labels.join(" "))),
        ));
    }
    if before.description != after.description {
        items.push(ChangeItem::system(
            "description",
            "description",
            (None, None),
            (None, None),
        ));
    }
    if !items.is_empty() {
        after.changes.push(ChangeData {
            id,
            author,
            created_ms: now,
            items,
        });
    }
}

/// Takes an issue out of the store: its key, its links (from the other ends too), its
/// worklogs (listed as deleted), its owned ids.
pub(crate) fn remove_issue(app: &AppState, store: &mut data::IssueStore, id: u64) {
    let Some(issue) = store.by_id.remove(&id) else {
        return;
    };
    store.by_key.remove(&issue.key);
    for end in &issue.links {
        unlink(store, end.link);
    }
    for worklog in data::worklogs(&issue, app.tenant.users.len()) {
        forget_worklog(store, &worklog);
    }
    for comment in &issue.added_comments {
        store.owners.remove(&comment.id);
    }
}

/// Jira's checks of an entity property: a key of 1 to 255 characters, a JSON value of at
/// most 32 KB.
pub(crate) fn check_property(key: &str, value_bytes: usize) -> Result<(), &'static str> {
    if key.is_empty() || key.len() > 255 {
        return Err("The property key must be between 1 and 255 characters long.");
    }
    if value_bytes > 32_768 {
        return Err("The property value is longer than 32768 bytes.");
    }
    Ok(())
}

/// The value of a `PUT .../properties/{key}` body, checked.
pub(crate) fn property_value(key: &str, body: &[u8]) -> Result<Value, &'static str> {
    let value = serde_json::from_slice::<Value>(body)
        .map_err(|_| "The property value must be valid JSON.")?;
    check_property(key, body.len())?;
    Ok(value)
}

/// Applies `fields` of a create or an edit to `issue`, collecting Jira's field errors.
pub(crate) fn apply_fields(
    app: &AppState,
    issue: &mut IssueData,
    fields: &Map<String, Value>,
    creating: bool,
    v2: bool,
    errors: &mut Vec<(String, String)>,
) {
    for (field, value) in fields {
        let mut error = |message: &str| errors.push((field.clone(), message.to_owned()));
        match field.as_str() {
            "summary" => match value.as_str().map(str::trim) {
                Some(text) if !text.is_empty() && text.len() <= 255 => {
                    issue.summary = Some(text.to_owned())
                }
                Some(text) if text.len() > 255 => {
                    error("Summary must be less than 255 characters.")
                }
                _ => error("You must specify a summary of the issue."),
            },
            // Rich text is a document in v3 and a string in v2; each version refuses the
            // other's spelling, with the messages Jira sends.
            "description" => match (value, v2) {
                (Value::Null, _) => issue.description = Some(Value::Null),
                (Value::Object(doc), false)
                    if doc.get("type").and_then(Value::as_str) == Some("doc") =>
                {
                    issue.description = Some(value.clone())
                }
                (Value::String(text), true) => {
                    issue.description = Some(data::adf(std::slice::from_ref(text)))
                }
                (_, false) => error(
                    "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
                ),
                (_, true) => error("Operation value must be a string"),
            },
            "labels" => match value.as_array() {
                Some(labels)
                    if labels
                        .iter()
                        .all(|l| l.as_str().is_some_and(|s| !s.contains(' '))) =>
                {
                    issue.labels = labels
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                }
                _ => error("Labels must be a list of strings without spaces."),
            },
            "priority" => match lookup(value, PRIORITIES) {
                Some(index) => issue.priority = index,
                None => error("Specify a valid priority (by name or id)."),
            },
            "assignee" => match value {
                Value::Null => issue.assignee = None,
                _ => match value
                    .get("accountId")
                    .and_then(Value::as_str)
                    .and_then(|id| app.tenant.users.iter().position(|u| u.account_id == id))
                {
                    Some(user) => issue.assignee = Some(user),
                    None => error("Specify a valid value for assignee (an accountId)."),
                },
            },
            "customfield_10016" => match value {
                Value::Null => issue.story_points = None,
                Value::Number(n) if n.as_f64().is_some_and(|p| p >= 0.0) => {
                    issue.story_points = n.as_f64().map(|p| p.round() as u32)
                }
                _ => error("Story Points must be a number."),
            },
            "project" | "issuetype" if creating => {}
            custom if custom.starts_with("customfield_") => {
                issue.extra.insert(custom.to_owned(), value.clone());
            }
            _ => error(&format!(
                "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
            )),
        }
    }
}

/// Applies `update` operations (only `labels` add/remove/set are modelled).
pub(crate) fn apply_updates(
    issue: &mut IssueData,
    update: &Map<String, Value>,
    errors: &mut Vec<(String, String)>,
) {
    for (field, operations) in update {
        if field != "labels" {
            errors.push((
                field.clone(),
                format!("Field '{field}' cannot be updated with operations in jira-sim; set it in \"fields\"."),
            ));
            continue;
        }
        for operation in operations.as_array().into_iter().flatten() {
            if let Some(label) = operation.get("add").and_then(Value::as_str) {
                if !issue.labels.iter().any(|l| l == label) {
                    issue.labels.push(label.to_owned());
                }
            } else if let Some(label) = operation.get("remove").and_then(Value::as_str) {
                issue.labels.retain(|l| l != label);
            } else if let Some(labels) = operation.get("set").and_then(Value::as_array) {
                issue.labels = labels
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
            } else {
                errors.push((
                    field.clone(),
                    "Unknown operation; use add, remove or set.".into(),
                ));
            }
        }
    }
}

/// Finds `{"name": ...}` or `{"id": ...}` in a table of (id, name).
pub(crate) fn lookup(value: &Value, table: &[(&str, &str)]) -> Option<usize> {
    if let Some(id) = value.get("id").and_then(Value::as_str) {
        return table.iter().position(|(table_id, _)| *table_id == id);
    }
    let name = value.get("name").and_then(Value::as_str)?;
    table.iter().position(|(_, n)| n.eq_ignore_ascii_case(name))
}

/// Removes a link from the store and from both its issues.
pub(crate) fn unlink(store: &mut IssueStore, id: u64) -> bool {
    let Some(link) = store.links.remove(&id) else {
        return false;
    };
    for end in [link.inward, link.outward] {
        if let Some(issue) = store.by_id.get_mut(&end) {
            issue.links.retain(|l| l.link != id);
        }
    }
    true
}

/// A worklog is gone: out of the update index, into the deleted one.
pub(crate) fn forget_worklog(store: &mut IssueStore, worklog: &WorklogData) {
    store
        .worklogs_by_update
        .remove(&(worklog.updated_ms, worklog.id));
    store.owners.remove(&worklog.id);
    store
        .deleted_worklogs
        .insert((AppState::now_ms(), worklog.id), ());
}

/// A comment body: an ADF document, or (in v2) plain text made into one. v3 refuses text
/// as Jira Cloud does (`400 {"errors": {"comment": "Comment body is not valid!"}}`: the
/// v3 comment endpoints take only the Atlassian Document Format); the error is Jira's
/// message for an empty or a malformed one.
pub(crate) fn comment_body(value: &Value, v2: bool) -> Result<Value, &'static str> {
    const EMPTY: &str = "Comment body can not be empty!";
    match value {
        Value::Object(doc) if doc.get("type").and_then(Value::as_str) == Some("doc") => {
            Ok(Value::Object(doc.clone()))
        }
        Value::Null => Err(EMPTY),
        Value::String(text) if text.trim().is_empty() => Err(EMPTY),
        Value::String(text) if v2 => Ok(data::adf(std::slice::from_ref(text))),
        _ => Err("Comment body is not valid!"),
    }
}

/// A worklog's comment: a document, or text made into one (either version), `None` for
/// an empty or malformed one.
pub(crate) fn worklog_comment(value: &Value) -> Option<Value> {
    comment_body(value, true).ok()
}

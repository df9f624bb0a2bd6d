//! History entries as Jira renders them (`Changelog`), and `expand=changelog`.

use serde_json::{Value, json};

use super::Renderer;
use crate::data::{self, ChangeData, IssueData};

/// The entries `expand=changelog` returns at most, as Jira Cloud caps it.
pub(crate) const EXPANDED_CHANGELOG: usize = 40;

/// A history entry as `Changelog`, borrowing what it can (the author is the catalog's
/// pre-rendered JSON): the bulk reads serialise thousands of these.
#[derive(serde::Serialize)]
pub(crate) struct ChangeOut<'a> {
    id: String,
    author: &'a serde_json::value::RawValue,
    created: String,
    items: Vec<ItemOut<'a>>,
}

/// One item of a [`ChangeOut`]: the contract has `from`/`to` and their strings as
/// strings, so a missing id is left out and a missing display string is empty (clients
/// read `fromString`/`toString` always).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemOut<'a> {
    field: &'a str,
    #[serde(rename = "fieldtype")]
    field_type: &'static str,
    field_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    from_string: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    to_string: &'a str,
}

/// A history entry ready to serialise.
pub(crate) fn change_out<'a>(render: &Renderer<'a>, change: &'a ChangeData) -> ChangeOut<'a> {
    ChangeOut {
        id: change.id.to_string(),
        author: render.user(change.author),
        created: render.time(change.created_ms),
        items: change
            .items
            .iter()
            .map(|item| ItemOut {
                field: &item.field,
                field_type: if item.custom { "custom" } else { "jira" },
                field_id: &item.field_id,
                from: item.from.as_deref(),
                from_string: item.from_string.as_deref().unwrap_or(""),
                to: item.to.as_deref(),
                to_string: item.to_string.as_deref().unwrap_or(""),
            })
            .collect(),
    }
}

/// A history entry as a `Changelog` value (for answers that are built as values).
pub(crate) fn change_json(render: &Renderer<'_>, change: &ChangeData) -> Value {
    serde_json::to_value(change_out(render, change)).unwrap_or_default()
}

/// `expand=changelog`: the last [`EXPANDED_CHANGELOG`] entries as `PageOfChangelogs`.
pub(crate) fn expanded_changelog(render: &Renderer<'_>, issue: &IssueData) -> Value {
    let all = data::history(issue, &render.tenant.users);
    let total = all.len();
    let start = total.saturating_sub(EXPANDED_CHANGELOG);
    let histories: Vec<Value> = all[start..]
        .iter()
        .map(|c| change_json(render, c))
        .collect();
    json!({
        "startAt": start,
        "maxResults": histories.len(),
        "total": total,
        "histories": histories,
    })
}

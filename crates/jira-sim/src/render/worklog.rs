//! Worklogs as Jira renders them (`Worklog`), and the issue's `worklog` field: the first
//! [`EMBEDDED_WORKLOGS`] of them, as Jira cuts it (the rest are read from
//! `/issue/{key}/worklog`).

use serde_json::{Value, json};

use super::Renderer;
use crate::data::{self, IssueData, WorklogData};

/// Worklogs the issue's `worklog` field carries at most, as Jira Cloud cuts it.
pub(crate) const EMBEDDED_WORKLOGS: usize = 20;

/// Seconds as Jira writes a duration (`1w 2d 3h 30m`; a day of 8 hours, a week of 5).
pub(crate) fn format_duration(seconds: u64) -> String {
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    let (days, hours) = (hours / 8, hours % 8);
    let (weeks, days) = (days / 5, days % 5);
    let parts: Vec<String> = [(weeks, "w"), (days, "d"), (hours, "h"), (minutes, "m")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0m".into()
    } else {
        parts.join(" ")
    }
}

/// A `Worklog`, borrowing the catalog's pre-rendered authors.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorklogOut<'a> {
    #[serde(rename = "self")]
    self_url: String,
    author: &'a serde_json::value::RawValue,
    update_author: &'a serde_json::value::RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<Value>,
    created: String,
    updated: String,
    started: String,
    time_spent: String,
    time_spent_seconds: u64,
    id: String,
    issue_id: String,
}

pub(crate) fn worklog_json<'a>(
    render: &Renderer<'a>,
    issue: &IssueData,
    worklog: &WorklogData,
) -> WorklogOut<'a> {
    let comment = worklog.comment.as_ref().map(|doc| {
        if render.v2 {
            Value::from(data::adf_text(doc).join("\n\n"))
        } else {
            doc.clone()
        }
    });
    WorklogOut {
        self_url: format!(
            "{}/rest/api/3/issue/{}/worklog/{}",
            render.base, issue.id, worklog.id
        ),
        author: render.user(worklog.author),
        update_author: render.user(worklog.author),
        comment,
        created: render.time(worklog.created_ms),
        updated: render.time(worklog.updated_ms),
        started: render.time(worklog.started_ms),
        time_spent: format_duration(worklog.seconds),
        time_spent_seconds: worklog.seconds,
        id: worklog.id.to_string(),
        issue_id: issue.id.to_string(),
    }
}

impl Renderer<'_> {
    /// The issue's `worklog` field (`PageOfWorklogs`): its first [`EMBEDDED_WORKLOGS`]
    /// worklogs and their total.
    pub fn worklog_field(&self, issue: &IssueData) -> Value {
        let all = data::worklogs(issue, self.tenant.users.len());
        let first: Vec<Value> = all
            .iter()
            .take(EMBEDDED_WORKLOGS)
            .map(|w| serde_json::to_value(worklog_json(self, issue, w)).unwrap_or_default())
            .collect();
        json!({
            "startAt": 0,
            "maxResults": EMBEDDED_WORKLOGS,
            "total": all.len(),
            "worklogs": first,
        })
    }

    /// Seconds logged on `issue` in all.
    pub fn time_spent(&self, issue: &IssueData) -> u64 {
        data::worklogs(issue, self.tenant.users.len())
            .iter()
            .map(|w| w.seconds)
            .sum()
    }
}

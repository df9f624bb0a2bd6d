//! What each line would change, read from the site (`apply --dry-run`).

use futures_util::StreamExt as _;
use jira_model::ApiRequest;
use serde::Serialize;
use serde_json::Value;

use crate::Writes;
use crate::change::{Change, Operation};
use crate::line::comment_adf;
use crate::transition::{Prepared, Transitions};

/// What a line would change, read from the site (`--dry-run`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DryLine {
    /// The line number.
    pub line: usize,
    /// The operation.
    pub op: String,
    /// The issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// The change, from what the issue holds now to what the line asks.
    pub change: String,
    /// Whether the line would do anything (false: already so, or it would be refused).
    pub would_write: bool,
}

impl Writes<'_> {
    /// What each line would change, read from the site; nothing is written.
    pub(crate) async fn apply_dry_run(&self, changes: &[Change]) -> Vec<DryLine> {
        let transitions = Transitions::default();
        futures_util::stream::iter(changes)
            .map(|change| {
                let transitions = &transitions;
                async move { self.dry_line(change, transitions).await }
            })
            .buffered(self.client.batch_config().max_concurrent.max(1))
            .collect()
            .await
    }

    pub(crate) async fn dry_line(&self, change: &Change, transitions: &Transitions) -> DryLine {
        let op = &change.op;
        let dry = |change_text: String, would_write: bool| DryLine {
            line: change.line,
            op: op.name().into(),
            issue: op.issue().map(str::to_owned),
            change: change_text,
            would_write,
        };
        let current = |issue: &str, fields: Vec<String>| {
            let issue = issue.to_owned();
            async move {
                let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                self.read_json(ApiRequest::get_issue(&issue, &refs, &[]))
                    .await
                    .map(|v| v["fields"].clone())
            }
        };
        let show = |v: &Value| match v {
            Value::Null => "(none)".to_owned(),
            Value::String(s) => format!("{s:?}"),
            Value::Object(o) => o
                .get("name")
                .or_else(|| o.get("displayName"))
                .or_else(|| o.get("value"))
                .or_else(|| o.get("key"))
                .map_or_else(
                    || v.to_string(),
                    |n| n.as_str().map_or(n.to_string(), str::to_owned),
                ),
            other => other.to_string(),
        };
        match op {
            Operation::Update {
                issue,
                fields,
                update,
            } => {
                let names: Vec<String> = fields.keys().chain(update.keys()).cloned().collect();
                match current(issue, names).await {
                    Err(message) => dry(format!("would be refused: {message}"), false),
                    Ok(now) => {
                        let mut parts = Vec::new();
                        let mut changes = false;
                        for (field, value) in fields {
                            let before = &now[field];
                            let same = before == value
                                || (value.is_object()
                                    && value
                                        .as_object()
                                        .is_some_and(|o| o.iter().all(|(k, v)| &before[k] == v)));
                            changes |= !same;
                            parts.push(format!(
                                "{field}: {} → {}{}",
                                show(before),
                                show(value),
                                if same { " (already so)" } else { "" }
                            ));
                        }
                        for (field, verbs) in update {
                            changes = true;
                            parts.push(format!("{field}: {} then {verbs}", show(&now[field])));
                        }
                        dry(parts.join("; "), changes)
                    }
                }
            }
            Operation::Label { issue, add, remove } => {
                match current(issue, vec!["labels".into()]).await {
                    Err(message) => dry(format!("would be refused: {message}"), false),
                    Ok(now) => {
                        let labels: Vec<String> = now["labels"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|l| l.as_str().map(str::to_owned))
                            .collect();
                        let mut after = labels.clone();
                        for label in add {
                            if !after.contains(label) {
                                after.push(label.clone());
                            }
                        }
                        after.retain(|l| !remove.contains(l));
                        dry(format!("labels: {labels:?} → {after:?}"), after != labels)
                    }
                }
            }
            Operation::Assign { issue, account_id } => {
                match current(issue, vec!["assignee".into()]).await {
                    Err(message) => dry(format!("would be refused: {message}"), false),
                    Ok(now) => {
                        let before = now["assignee"]["accountId"].as_str().map(str::to_owned);
                        dry(
                            format!(
                                "assignee: {} → {}",
                                before.as_deref().unwrap_or("(none)"),
                                account_id.as_deref().unwrap_or("(none)")
                            ),
                            before != *account_id,
                        )
                    }
                }
            }
            Operation::Transition { issue, to, fields } => {
                match self
                    .prepare_transition(issue, to, fields, transitions, None)
                    .await
                {
                    Prepared::Send(..) => {
                        let from = self
                            .standing(issue)
                            .await
                            .map(|s| s.status.0)
                            .unwrap_or_default();
                        dry(format!("status: {from} → {to}"), true)
                    }
                    Prepared::AlreadySo(message) => dry(message, false),
                    Prepared::Refused(message) | Prepared::Failed(message) => {
                        dry(format!("would be refused: {message}"), false)
                    }
                }
            }
            Operation::Comment { issue, body } => {
                let text = jira_model::adf::to_text(&comment_adf(body));
                dry(
                    format!(
                        "adds a comment to {issue} ({} characters)",
                        text.chars().count()
                    ),
                    true,
                )
            }
            Operation::Link {
                link_type,
                inward,
                outward,
            } => dry(format!("links {inward} and {outward} ({link_type})"), true),
            Operation::Delete { issue, subtasks } => {
                match current(issue, vec!["summary".into()]).await {
                    Err(message) => dry(format!("nothing to delete: {message}"), false),
                    Ok(now) => dry(
                        format!(
                            "deletes {issue} ({}){}",
                            show(&now["summary"]),
                            if *subtasks { " with its subtasks" } else { "" }
                        ),
                        true,
                    ),
                }
            }
            Operation::Create { fields } => dry(
                format!(
                    "creates an issue in {} ({})",
                    show(&fields["project"]),
                    show(fields.get("summary").unwrap_or(&Value::Null))
                ),
                true,
            ),
        }
    }
}

//! Jira's asynchronous bulk operations (`/rest/api/3/bulk/issues/*`): which operation, the
//! task a submission starts, and the task's progress and per-issue results.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// One of the asynchronous bulk operations jira-ops submits, each up to
/// [`crate::BULK_OPERATION_MAX_ISSUES`] issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BulkOperation {
    /// `POST /bulk/issues/fields` (`IssueBulkEditPayload`): set or clear fields.
    EditFields,
    /// `POST /bulk/issues/transition` (`IssueBulkTransitionPayload`): move issues.
    Transition,
    /// `POST /bulk/issues/delete` (`IssueBulkDeletePayload`): delete issues.
    Delete,
}

impl BulkOperation {
    /// The operation's path (also its template: it has no parameters).
    pub fn path(self) -> &'static str {
        match self {
            BulkOperation::EditFields => "/rest/api/3/bulk/issues/fields",
            BulkOperation::Transition => "/rest/api/3/bulk/issues/transition",
            BulkOperation::Delete => "/rest/api/3/bulk/issues/delete",
        }
    }
}

/// What a bulk submission answers (`SubmittedBulkOperation`): the task to poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedBulkOperation {
    /// The task's id, for `GET /bulk/queue/{taskId}`.
    pub task_id: String,
}

/// Where a bulk task stands (`BulkOperationProgress.status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkTaskStatus {
    /// Waiting to run.
    Enqueued,
    /// Running.
    Running,
    /// Finished; the per-issue results are final.
    Complete,
    /// Ended with an error.
    Failed,
    /// A cancellation was asked for and is under way.
    CancelRequested,
    /// Cancelled.
    Cancelled,
    /// Lost by the server.
    Dead,
    /// A status newer than this contract.
    #[serde(other)]
    Unknown,
}

impl BulkTaskStatus {
    /// Whether the task has not ended yet (a poll later may say more).
    pub fn is_pending(&self) -> bool {
        matches!(self, BulkTaskStatus::Enqueued | BulkTaskStatus::Running)
    }
}

/// A bulk task's progress (`BulkOperationProgress`), with each issue's result once it is
/// complete. Issue ids are kept as text whether Jira sends numbers or strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperationProgress {
    /// The task's id.
    #[serde(default)]
    pub task_id: Option<String>,
    /// Where the task stands.
    pub status: BulkTaskStatus,
    /// Percent done.
    #[serde(default)]
    pub progress_percent: Option<u32>,
    /// Issues the operation changed (ids).
    #[serde(default, deserialize_with = "ids")]
    pub processed_accessible_issues: Vec<String>,
    /// Issues the operation could not change (id → Jira's reasons).
    #[serde(default)]
    pub failed_accessible_issues: BTreeMap<String, Vec<String>>,
    /// Issues named that do not exist or are not visible.
    #[serde(default)]
    pub invalid_or_inaccessible_issue_count: Option<u64>,
}

/// Issue ids as text, from numbers (the contract's `int64`) or strings.
fn ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Text(String),
    }
    let ids = Vec::<Id>::deserialize(deserializer)?;
    Ok(ids
        .into_iter()
        .map(|id| match id {
            Id::Number(n) => n.to_string(),
            Id::Text(s) => s,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_numeric_and_text_ids_and_unknown_statuses() {
        let progress: BulkOperationProgress = serde_json::from_str(
            r#"{"taskId":"7","status":"COMPLETE","processedAccessibleIssues":[10001,"10002"],
                "failedAccessibleIssues":{"10003":["Field 'x' is required."]}}"#,
        )
        .unwrap();
        assert_eq!(progress.status, BulkTaskStatus::Complete);
        assert_eq!(progress.processed_accessible_issues, ["10001", "10002"]);
        assert_eq!(
            progress.failed_accessible_issues["10003"],
            ["Field 'x' is required."]
        );
        let later: BulkOperationProgress = serde_json::from_str(r#"{"status":"PAUSED"}"#).unwrap();
        assert_eq!(later.status, BulkTaskStatus::Unknown);
        assert!(!later.status.is_pending());
        assert!(BulkTaskStatus::Running.is_pending());
    }

    #[test]
    fn each_operation_has_its_own_path() {
        let paths = [
            BulkOperation::EditFields.path(),
            BulkOperation::Transition.path(),
            BulkOperation::Delete.path(),
        ];
        assert_eq!(paths[0], "/rest/api/3/bulk/issues/fields");
        assert_eq!(paths[1], "/rest/api/3/bulk/issues/transition");
        assert_eq!(paths[2], "/rest/api/3/bulk/issues/delete");
    }
}

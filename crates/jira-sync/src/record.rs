//! What a sync holds between a response and its commit: each entity as the JSON text Jira
//! sent, with the few values the sinks index beside it.
//!
//! A parsed `serde_json::Value` tree takes several times its text's memory (every string,
//! number and map node is its own allocation), and a sync holds hundreds of units between
//! the wire and the sink. Holding text keeps what waits for a commit to about its size on
//! the wire, and leaves the allocator fewer small blocks to fragment over a long run.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Error;

/// An issue as the read returned it (its `comment` field taken out when comments are
/// synced: they are [`Child`] records of their own).
#[derive(Clone, Debug)]
pub struct SyncedIssue {
    /// The numeric issue id.
    pub id: u64,
    /// The issue key.
    pub key: String,
    /// `updated`, milliseconds since the Unix epoch.
    pub updated_ms: i64,
    /// The issue's JSON (`id`, `key`, `self`, `fields`, ...).
    pub json: Box<RawValue>,
}

/// A history entry, a comment or a worklog, as Jira sent it.
#[derive(Clone, Debug)]
pub struct Child {
    /// The entity's numeric id.
    pub id: u64,
    /// The issue it belongs to.
    pub issue_id: u64,
    /// When it happened, as Jira wrote it: `created` for a history entry, `updated` for
    /// a comment or a worklog.
    pub at: String,
    /// The entity's JSON.
    pub json: Box<RawValue>,
}

/// An id Jira sends as a decimal string (`"10001"`) or, in some bodies, as a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum AnyId {
    Text(String),
    Number(u64),
}

impl AnyId {
    fn get(&self) -> Option<u64> {
        match self {
            AnyId::Text(text) => text.parse().ok(),
            AnyId::Number(n) => Some(*n),
        }
    }
}

/// The indexed values of a child, read from its text without building a tree (serde skips
/// every other member).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    id: Option<AnyId>,
    issue_id: Option<AnyId>,
    created: Option<String>,
    updated: Option<String>,
}

/// Which timestamp of a child [`Child::at`] keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum At {
    Created,
    Updated,
}

impl Child {
    /// A child from its JSON text; `issue_id` when the body does not name its issue
    /// (history entries and comments), else the body's `issueId` (worklogs).
    pub(crate) fn parse(
        json: Box<RawValue>,
        issue_id: Option<u64>,
        at: At,
    ) -> Result<Child, Error> {
        let head: Head = serde_json::from_str(json.get()).map_err(unreadable)?;
        Ok(Child::from_head(head, json, issue_id, at))
    }

    /// A child of its `head` and its text.
    fn from_head(head: Head, json: Box<RawValue>, issue_id: Option<u64>, at: At) -> Child {
        let id = head.id.as_ref().and_then(AnyId::get).unwrap_or_default();
        let issue_id = issue_id
            .or_else(|| head.issue_id.as_ref().and_then(AnyId::get))
            .unwrap_or_default();
        let at = match at {
            At::Created => head.created,
            At::Updated => head.updated,
        }
        .unwrap_or_default();
        Child {
            id,
            issue_id,
            at,
            json,
        }
    }

    /// A child from a parsed value (a comment inside an issue's `comment` field).
    pub(crate) fn from_value(
        value: &serde_json::Value,
        issue_id: u64,
        at: At,
    ) -> Result<Child, Error> {
        // Its indexed values from the tree at hand: only its text is made.
        let head = Head::deserialize(value).map_err(unreadable)?;
        Ok(Child::from_head(head, raw(value)?, Some(issue_id), at))
    }
}

/// An entity that does not read as one.
pub(crate) fn unreadable(e: serde_json::Error) -> Error {
    Error::Sync(format!("sync: an entity Jira sent does not read: {e}"))
}

/// The JSON text of `value`.
pub(crate) fn raw(value: &impl serde::Serialize) -> Result<Box<RawValue>, Error> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| Error::Sync(format!("sync: an entity does not serialise: {e}")))
}

/// Milliseconds since the epoch of a Jira timestamp (`2024-01-18T07:33:17.016+0000`).
pub(crate) fn jira_time_ms(text: &str) -> Option<i64> {
    text.parse::<jira_model::JiraTimestamp>()
        .ok()
        .map(|t| t.unix_millis())
}

/// Now, in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The `updated` of an issue a read returned, in epoch milliseconds.
pub(crate) fn updated_ms(issue: &jira_model::Issue) -> Result<i64, Error> {
    issue
        .fields
        .get("updated")
        .and_then(serde_json::Value::as_str)
        .and_then(jira_time_ms)
        .ok_or_else(|| {
            Error::Sync(format!(
                "sync: issue {} came without a readable `updated`; the read must return it",
                issue.id
            ))
        })
}

/// An issue id as the number it is.
pub(crate) fn numeric_id(id: &str) -> Result<u64, Error> {
    id.parse()
        .map_err(|_| Error::Sync(format!("sync: issue id {id:?} is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_keeps_its_text_and_reads_its_ids_and_time() {
        let text = r#"{"id":"31","issueId":"10007","updated":"2026-01-02T03:04:05.000+0000","comment":{"type":"doc","content":[]}}"#;
        let json = RawValue::from_string(text.to_owned()).unwrap();
        let worklog = Child::parse(json, None, At::Updated).unwrap();
        assert_eq!(
            (worklog.id, worklog.issue_id, worklog.at.as_str()),
            (31, 10007, "2026-01-02T03:04:05.000+0000")
        );
        assert_eq!(worklog.json.get(), text);
        let entry =
            serde_json::json!({"id": "5", "created": "2025-01-01T00:00:00.000+0000", "items": []});
        let entry = Child::from_value(&entry, 10001, At::Created).unwrap();
        assert_eq!((entry.id, entry.issue_id), (5, 10001));
        assert_eq!(entry.at, "2025-01-01T00:00:00.000+0000");
        assert!(
            Child::parse(
                RawValue::from_string("[1]".into()).unwrap(),
                None,
                At::Created
            )
            .is_err()
        );
    }
}

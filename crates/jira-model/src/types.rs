//! Serde types for the Jira Cloud REST v3 bodies jira-ops reads and writes.
//!
//! Names and optionality follow the schemas in `contract/jira-cloud-platform.openapi.v3.json`
//! (the schema name is given on each type). Fields the contract marks optional are `Option`
//! or default to empty; unknown fields are ignored, so a newer Jira does not break us.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::JiraTimestamp;

/// An issue (`IssueBean`). `fields` is kept whole because sites add custom fields freely;
/// typed accessors cover the common system fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// The issue id, a decimal number as a string (`"10001"`).
    pub id: String,
    /// The issue key (`"PROJ-123"`); empty when a search asked for ids only (the enhanced
    /// search's default).
    #[serde(default)]
    pub key: String,
    /// The issue's REST URL.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
    /// The expansions the server offers, comma separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<String>,
    /// Every returned field by id (`summary`, `customfield_10016`, ...).
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Field values rendered as HTML, with `expand=renderedFields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered_fields: Option<Map<String, Value>>,
    /// Display names of the returned fields, with `expand=names`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Map<String, Value>>,
    /// Entity properties, by key, when the request asked for them (a bulk fetch's
    /// `properties`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

impl Issue {
    /// The numeric id, when the server sent a decimal id.
    pub fn numeric_id(&self) -> Option<u64> {
        self.id.parse().ok()
    }

    /// The project key part of the issue key (`PROJ` for `PROJ-123`).
    pub fn project_key(&self) -> &str {
        self.key
            .rsplit_once('-')
            .map_or(&self.key, |(project, _)| project)
    }

    /// `fields.summary`.
    pub fn summary(&self) -> Option<&str> {
        self.fields.get("summary")?.as_str()
    }

    /// `fields.status.name`.
    pub fn status_name(&self) -> Option<&str> {
        self.fields.get("status")?.get("name")?.as_str()
    }

    /// `fields.issuetype.name`.
    pub fn issue_type_name(&self) -> Option<&str> {
        self.fields.get("issuetype")?.get("name")?.as_str()
    }

    /// `fields.priority.name`.
    pub fn priority_name(&self) -> Option<&str> {
        self.fields.get("priority")?.get("name")?.as_str()
    }

    /// `fields.assignee`, when the issue is assigned (`null` when not).
    pub fn assignee(&self) -> Option<User> {
        self.typed_field("assignee")
    }

    /// `fields.reporter`.
    pub fn reporter(&self) -> Option<User> {
        self.typed_field("reporter")
    }

    /// `fields.labels`, empty when absent.
    pub fn labels(&self) -> Vec<&str> {
        self.fields
            .get("labels")
            .and_then(Value::as_array)
            .map(|labels| labels.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `fields.created`.
    pub fn created(&self) -> Option<JiraTimestamp> {
        self.typed_field("created")
    }

    /// `fields.updated`.
    pub fn updated(&self) -> Option<JiraTimestamp> {
        self.typed_field("updated")
    }

    /// Any field decoded into `T`; `None` when absent, `null`, or of another shape.
    pub fn typed_field<T: serde::de::DeserializeOwned>(&self, field_id: &str) -> Option<T> {
        let value = self.fields.get(field_id)?;
        if value.is_null() {
            return None;
        }
        T::deserialize(value).ok()
    }
}

/// A Jira user (`User`). Email and display name depend on the user's privacy settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The Atlassian account id, unique across products.
    pub account_id: String,
    /// `atlassian`, `app`, `customer` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The email address, when visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    /// Whether the account is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The user's time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The REST URL of the user.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
}

/// A project (`Project`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The project id.
    pub id: String,
    /// The project key (`PROJ`).
    pub key: String,
    /// The project name.
    pub name: String,
    /// `software`, `service_desk` or `business`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_type_key: Option<String>,
    /// Whether the project is team-managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simplified: Option<bool>,
    /// `classic` or `next-gen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// The description, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The project lead, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<User>,
    /// Whether the project is private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private: Option<bool>,
    /// The REST URL of the project.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
}

/// A page of `GET /project/search` (`PageBeanProject`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPage {
    /// Index of the first project of this page.
    pub start_at: u64,
    /// Page size the server used (at most 100).
    pub max_results: u32,
    /// Projects matching the query, across all pages.
    pub total: u64,
    /// Whether this is the last page.
    pub is_last: bool,
    /// The projects of this page.
    #[serde(default)]
    pub values: Vec<Project>,
    /// URL of the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
}

/// A field definition from `GET /field` (`FieldDetails`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    /// The field id (`summary`, `customfield_10016`).
    pub id: String,
    /// The field key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The display name.
    pub name: String,
    /// Whether it is a custom field.
    #[serde(default)]
    pub custom: bool,
    /// Whether the field can be used in JQL.
    #[serde(default)]
    pub searchable: bool,
    /// Whether the field can be used as a column on the issue navigator.
    #[serde(default)]
    pub navigable: bool,
    /// Whether the field can be used to order results.
    #[serde(default)]
    pub orderable: bool,
    /// The names JQL knows the field by.
    #[serde(default)]
    pub clause_names: Vec<String>,
    /// The data type, as `JsonTypeBean`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// A comment (`Comment`). The body is Atlassian Document Format, kept as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    /// The comment id.
    pub id: String,
    /// The author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<User>,
    /// The body in Atlassian Document Format.
    #[serde(default)]
    pub body: Value,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<JiraTimestamp>,
    /// When it was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<JiraTimestamp>,
    /// The REST URL of the comment.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
    /// The comment's entity properties (read with `expand=properties`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<EntityProperty>,
}

/// A page of comments (`PageOfComments`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentPage {
    /// Index of the first comment of this page.
    pub start_at: u64,
    /// Page size.
    pub max_results: u32,
    /// Comments on the issue in all.
    pub total: u64,
    /// The comments of this page.
    #[serde(default)]
    pub comments: Vec<Comment>,
}

/// Body of the enhanced search `POST /search/jql` (`SearchAndReconcileRequestBean`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// The JQL; it must be bounded (e.g. `project = PROJ`).
    pub jql: String,
    /// The cursor from the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Page size (Jira's default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    /// Fields to return; Jira returns only `id` when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Expansions, comma separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<String>,
}

/// A page of the enhanced search (`SearchAndReconcileResults`). There is no `total`:
/// follow `next_page_token` until `is_last`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// The issues of this page.
    #[serde(default)]
    pub issues: Vec<Issue>,
    /// The cursor for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Whether this is the last page.
    #[serde(default)]
    pub is_last: bool,
}

/// Body of `POST /search/approximate-count` (`JQLCountRequestBean`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountRequest {
    /// The bounded JQL to count.
    pub jql: String,
}

/// Answer of `POST /search/approximate-count` (`JQLCountResultsBean`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountResult {
    /// The approximate number of matching issues.
    pub count: u64,
}

/// Body of `POST /issue/bulkfetch` (`BulkFetchIssueRequestBean`): 1 to 100 ids or keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkFetchRequest {
    /// Issue ids or keys, 1 to 100.
    pub issue_ids_or_keys: Vec<String>,
    /// Fields to return (all navigable fields when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Expansions such as `names` or `renderedFields`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expand: Vec<String>,
    /// Entity properties to return with each issue (its `properties`, by key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
}

/// Answer of `POST /issue/bulkfetch` (`BulkIssueResults`): issues in ascending id order,
/// and the requested ids or keys that could not be returned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkFetchResponse {
    /// The issues found.
    #[serde(default)]
    pub issues: Vec<Issue>,
    /// The ids or keys not returned, with the reason.
    #[serde(default)]
    pub issue_errors: Vec<IssueError>,
}

/// One requested issue that bulkfetch did not return (`IssueError`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueError {
    /// The id or key as requested.
    #[serde(default)]
    pub id: String,
    /// Why it was not returned.
    #[serde(default)]
    pub error_message: String,
}

/// The fields of an issue to create or update (`IssueUpdateDetails`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IssueUpdate {
    /// Field values by id, e.g. `{"summary": "...", "project": {"key": "PROJ"}}`.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Field operations such as `{"labels": [{"add": "x"}]}`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub update: Map<String, Value>,
    /// Entity properties set with the issue (`EntityProperty`): jira-ops puts its
    /// idempotency key here, so a create whose answer was lost can be found again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<EntityProperty>,
}

/// An entity property (`EntityProperty`): a key and any JSON value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityProperty {
    /// The property's key (1 to 255 characters).
    pub key: String,
    /// Its value (at most 32 KB of JSON).
    pub value: Value,
}

/// Body of `POST /issue/bulk` (`IssuesUpdateBean`): up to 50 issues.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkCreateRequest {
    /// The issues to create, at most 50.
    pub issue_updates: Vec<IssueUpdate>,
}

/// A created issue (`CreatedIssue`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedIssue {
    /// The new issue's id.
    pub id: String,
    /// The new issue's key.
    pub key: String,
    /// The new issue's REST URL.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
}

/// Answer of `POST /issue/bulk` (`CreatedIssues`): 201 when any element succeeded, 400 when
/// all failed; `errors` names the failed elements by their index in the request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkCreateResponse {
    /// The issues created, in request order.
    #[serde(default)]
    pub issues: Vec<CreatedIssue>,
    /// The elements that failed.
    #[serde(default)]
    pub errors: Vec<BulkOperationError>,
}

/// One failed element of a bulk create (`BulkOperationErrorResult`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperationError {
    /// The HTTP status the element would have had.
    #[serde(default)]
    pub status: u16,
    /// The zero-based index of the element in the request.
    pub failed_element_number: usize,
    /// What was wrong with it.
    #[serde(default)]
    pub element_errors: ErrorCollection,
}

/// `GET /serverInfo` (`ServerInformation`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// The site's base URL.
    pub base_url: String,
    /// The Jira version.
    #[serde(default)]
    pub version: String,
    /// The build number.
    #[serde(default)]
    pub build_number: u64,
    /// `Cloud` for Jira Cloud.
    #[serde(default)]
    pub deployment_type: Option<String>,
    /// The server's clock, useful to detect skew.
    #[serde(default)]
    pub server_time: Option<JiraTimestamp>,
    /// The site's title.
    #[serde(default)]
    pub server_title: Option<String>,
}

/// Jira's error body (`ErrorCollection`): general messages plus messages per field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCollection {
    /// Messages not tied to a field.
    #[serde(default)]
    pub error_messages: Vec<String>,
    /// Messages by field id.
    #[serde(default)]
    pub errors: std::collections::BTreeMap<String, String>,
    /// The HTTP status, when the server includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl ErrorCollection {
    /// Every message, general ones first, then `field: message`, joined by `; `.
    pub fn summary(&self) -> String {
        self.error_messages
            .iter()
            .cloned()
            .chain(
                self.errors
                    .iter()
                    .map(|(field, message)| format!("{field}: {message}")),
            )
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Whether there is no message at all.
    pub fn is_empty(&self) -> bool {
        self.error_messages.is_empty() && self.errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_accessors_read_common_fields() {
        let issue: Issue = serde_json::from_value(serde_json::json!({
            "id": "10001", "key": "PROJ-7", "self": "https://x/rest/api/3/issue/10001",
            "fields": {
                "summary": "Fix it",
                "status": {"name": "In Progress"},
                "issuetype": {"name": "Bug"},
                "priority": {"name": "High"},
                "assignee": null,
                "reporter": {"accountId": "abc", "displayName": "Ann"},
                "labels": ["a", "b"],
                "created": "2024-01-18T07:33:17.016+0000",
                "customfield_10016": 5.0
            }
        }))
        .unwrap();
        assert_eq!(issue.numeric_id(), Some(10001));
        assert_eq!(issue.project_key(), "PROJ");
        assert_eq!(issue.summary(), Some("Fix it"));
        assert_eq!(issue.status_name(), Some("In Progress"));
        assert_eq!(issue.issue_type_name(), Some("Bug"));
        assert_eq!(issue.priority_name(), Some("High"));
        assert_eq!(issue.assignee(), None);
        assert_eq!(issue.reporter().unwrap().account_id, "abc");
        assert_eq!(issue.labels(), vec!["a", "b"]);
        assert_eq!(issue.created().unwrap().unix_millis(), 1_705_563_197_016);
        assert_eq!(issue.typed_field::<f64>("customfield_10016"), Some(5.0));
        assert_eq!(issue.updated(), None);
    }

    #[test]
    fn error_collection_summary_lists_everything() {
        let errors: ErrorCollection = serde_json::from_str(
            r#"{"errorMessages":["Bad JQL"],"errors":{"summary":"required"}}"#,
        )
        .unwrap();
        assert_eq!(errors.summary(), "Bad JQL; summary: required");
        assert!(!errors.is_empty());
        assert!(ErrorCollection::default().is_empty());
    }

    #[test]
    fn search_page_without_token_is_last() {
        let page: SearchPage = serde_json::from_str(r#"{"issues":[],"isLast":true}"#).unwrap();
        assert!(page.is_last);
        assert_eq!(page.next_page_token, None);
    }
}

/// Body of `POST /changelog/bulkfetch` (`BulkChangelogRequestBean`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangelogBulkRequest {
    /// Issue ids or keys, 1 to 1,000.
    pub issue_ids_or_keys: Vec<String>,
    /// Only these fields' changes (at most 10); every field when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_ids: Vec<String>,
    /// Entries per page (Jira: default 1,000, at most 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    /// The cursor from the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A page of `POST /changelog/bulkfetch` (`BulkChangelogResponseBean`): entries oldest
/// first, grouped by issue; follow `next_page_token` until it is absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangelogBulkPage<H = Value> {
    /// The page's entries, by issue.
    #[serde(default = "Vec::new")]
    pub issue_change_logs: Vec<IssueChangelog<H>>,
    /// The cursor for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// One issue's entries on a [`ChangelogBulkPage`] (`IssueChangeLog`); `H` is how an entry
/// is held (a parsed `Value`, or `Box<RawValue>` to keep its text).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueChangelog<H = Value> {
    /// The issue id.
    pub issue_id: String,
    /// Its history entries (`Changelog`: id, author, created, items), as Jira sent them.
    #[serde(default = "Vec::new")]
    pub change_histories: Vec<H>,
}

//! [`ApiRequest`] and [`ApiResponse`]: what every jira-ops layer passes down and back up.
//!
//! A request carries, besides method, path, query and body, the facts the layers below need
//! to treat it right without parsing the path again: its path template (for rate-limit
//! buckets and metrics), whether it is idempotent (for retries), its operation class (for
//! timeouts) and its estimated point cost (for the hourly quota).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::points::{CORE_POINTS, IDENTITY_POINTS};
use crate::{
    BulkCreateRequest, BulkFetchRequest, CountRequest, Endpoint, Error, ErrorClass,
    ErrorCollection, ISSUE_WORKLOGS_PAGE_MAX, IssueUpdate, RateLimitInfo, SearchRequest,
};

/// Whether sending a request twice has the effect of sending it once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Safe to repeat (GET, PUT, DELETE, and POSTs that only read, like bulkfetch).
    Idempotent,
    /// Repeating may duplicate work (create issue, add comment): retried only when the
    /// server refused it with `Retry-After`.
    NonIdempotent,
}

/// The kind of operation, which decides its timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperationClass {
    /// One object: an issue, a project, the current user (reference: 10 s connect, 20 s read).
    Single,
    /// Lists of metadata: fields, projects, users.
    Metadata,
    /// A page of search results (reference: 60 s read).
    Search,
    /// Bulk fetch or bulk create (reference: 120 s read).
    Bulk,
    /// A single write: create, update, delete, comment.
    Write,
}

/// Bulk fetches of at most this many issues are timed as single reads
/// ([`ApiRequest::bulk_fetch`]).
pub const FEW_KEYS: usize = 10;

/// A request to Jira, relative to the site's base URL.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path with values filled in (`/rest/api/3/issue/PROJ-1`).
    pub path: String,
    /// The path with placeholders (`/rest/api/3/issue/{issueIdOrKey}`), for buckets and metrics.
    pub path_template: &'static str,
    /// Which operation this is, decided from method and template once.
    pub endpoint: Endpoint,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The JSON body, already serialised.
    pub body: Option<Bytes>,
    /// Whether the request may be repeated.
    pub idempotency: Idempotency,
    /// The operation class.
    pub class: OperationClass,
    /// Estimated points this request costs against the hourly quota.
    pub estimated_points: u32,
    /// The issue a write targets, for per-issue write limits.
    pub issue_key: Option<String>,
    /// Headers sent as they are, beside the transport's own: what a proxied client sent
    /// (`Accept`, `Content-Type`, `X-Atlassian-Token`, its `Authorization`, which takes the
    /// place of the transport's credentials). Empty for the requests jira-ops makes itself.
    /// Mark secret values with `HeaderValue::set_sensitive`: `Debug` then hides them.
    pub headers: HeaderMap,
    /// Where a file's body goes, left on the wire, when it is one
    /// ([`ApiRequest::streaming`]); `None` reads every body whole.
    pub stream_to: Option<crate::StreamSlot>,
}

impl ApiRequest {
    /// A request with the defaults for its method: GET, PUT and DELETE idempotent, POST not;
    /// class `Single` for GET and `Write` otherwise; one point.
    pub fn new(method: Method, path_template: &'static str, path: impl Into<String>) -> Self {
        let (idempotency, class) = match method {
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS => (
                Idempotency::Idempotent,
                if method == Method::GET {
                    OperationClass::Single
                } else {
                    OperationClass::Write
                },
            ),
            _ => (Idempotency::NonIdempotent, OperationClass::Write),
        };
        ApiRequest {
            endpoint: Endpoint::of(&method, path_template),
            method,
            path: path.into(),
            path_template,
            query: Vec::new(),
            body: None,
            idempotency,
            class,
            estimated_points: 1,
            issue_key: None,
            headers: HeaderMap::new(),
            stream_to: None,
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json_body<T: Serialize>(mut self, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|source| Error::Encode {
            what: self.path_template,
            source,
        })?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    /// Overrides the idempotency.
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// Overrides the operation class.
    pub fn with_class(mut self, class: OperationClass) -> Self {
        self.class = class;
        self
    }

    /// Overrides the estimated point cost.
    pub fn with_estimated_points(mut self, points: u32) -> Self {
        self.estimated_points = points;
        self
    }

    fn for_issue(mut self, issue_key: &str) -> Self {
        self.issue_key = Some(issue_key.to_owned());
        self
    }

    /// Whether the request writes (anything but GET, HEAD, OPTIONS, and read-only POSTs).
    pub fn is_write(&self) -> bool {
        self.class == OperationClass::Write
    }

    /// `GET /rest/api/3/myself`.
    pub fn myself() -> Self {
        Self::new(Method::GET, "/rest/api/3/myself", "/rest/api/3/myself")
            .with_estimated_points(1 + IDENTITY_POINTS)
    }

    /// `GET /rest/api/3/serverInfo`.
    pub fn server_info() -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/serverInfo",
            "/rest/api/3/serverInfo",
        )
        .with_estimated_points(2)
    }

    /// `GET /rest/api/3/issue/{key}/properties/{propertyKey}`: one entity property.
    pub fn get_issue_property(issue_key: &str, property: &str) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
            format!(
                "/rest/api/3/issue/{}/properties/{}",
                encode_segment(issue_key),
                encode_segment(property)
            ),
        )
        .with_estimated_points(2)
    }

    /// `GET /rest/api/3/issue/{key}` with optional `fields` and `expand`.
    pub fn get_issue(issue_key: &str, fields: &[&str], expand: &[&str]) -> Self {
        let mut request = Self::new(
            Method::GET,
            "/rest/api/3/issue/{issueIdOrKey}",
            format!("/rest/api/3/issue/{}", encode_segment(issue_key)),
        )
        .with_estimated_points(1 + CORE_POINTS);
        if !fields.is_empty() {
            request = request.query("fields", fields.join(","));
        }
        if !expand.is_empty() {
            request = request.query("expand", expand.join(","));
        }
        request
    }

    /// `PUT /rest/api/3/issue/{key}`.
    pub fn update_issue(issue_key: &str, update: &IssueUpdate) -> Result<Self, Error> {
        Self::new(
            Method::PUT,
            "/rest/api/3/issue/{issueIdOrKey}",
            format!("/rest/api/3/issue/{}", encode_segment(issue_key)),
        )
        .for_issue(issue_key)
        .json_body(update)
    }

    /// `DELETE /rest/api/3/issue/{key}`.
    pub fn delete_issue(issue_key: &str) -> Self {
        Self::new(
            Method::DELETE,
            "/rest/api/3/issue/{issueIdOrKey}",
            format!("/rest/api/3/issue/{}", encode_segment(issue_key)),
        )
        .for_issue(issue_key)
    }

    /// `POST /rest/api/3/issue`: not idempotent.
    pub fn create_issue(issue: &IssueUpdate) -> Result<Self, Error> {
        Self::new(Method::POST, "/rest/api/3/issue", "/rest/api/3/issue").json_body(issue)
    }

    /// `POST /rest/api/3/issue/bulk`: up to 50 creates, not idempotent.
    pub fn bulk_create(body: &BulkCreateRequest) -> Result<Self, Error> {
        Self::new(
            Method::POST,
            "/rest/api/3/issue/bulk",
            "/rest/api/3/issue/bulk",
        )
        .with_class(OperationClass::Bulk)
        .json_body(body)
    }

    /// `POST /rest/api/3/issue/bulkfetch`: reads, so idempotent; costs about one point per
    /// issue plus one. A fetch of at most [`FEW_KEYS`] issues is timed as a read of one
    /// (its timeouts and deadline), so that a server that does not answer is given up on
    /// as soon as for a single GET, not after a bulk read's minutes.
    pub fn bulk_fetch(body: &BulkFetchRequest) -> Result<Self, Error> {
        let points = 1 + CORE_POINTS * body.issue_ids_or_keys.len() as u32;
        let class = if body.issue_ids_or_keys.len() <= FEW_KEYS {
            OperationClass::Single
        } else {
            OperationClass::Bulk
        };
        Self::new(
            Method::POST,
            "/rest/api/3/issue/bulkfetch",
            "/rest/api/3/issue/bulkfetch",
        )
        .with_idempotency(Idempotency::Idempotent)
        .with_class(class)
        .with_estimated_points(points)
        .json_body(body)
    }

    /// `GET /rest/api/3/worklog/updated?since=` (or `/worklog/deleted` when `deleted`):
    /// the ids of worklogs changed after `since_ms`, 1,000 a page, the last minute left
    /// out.
    pub fn worklogs_changed(since_ms: i64, deleted: bool) -> Self {
        let path = if deleted {
            "/rest/api/3/worklog/deleted"
        } else {
            "/rest/api/3/worklog/updated"
        };
        Self::new(Method::GET, path, path)
            .with_class(OperationClass::Metadata)
            .with_estimated_points(2)
            .query("since", since_ms.to_string())
    }

    /// `POST /rest/api/3/worklog/list`: up to 1,000 worklogs by id; a read.
    pub fn worklog_list(ids: &[u64]) -> Result<Self, Error> {
        Self::new(
            Method::POST,
            "/rest/api/3/worklog/list",
            "/rest/api/3/worklog/list",
        )
        .with_idempotency(Idempotency::Idempotent)
        .with_class(OperationClass::Bulk)
        .with_estimated_points(1 + ids.len() as u32)
        .json_body(&serde_json::json!({ "ids": ids }))
    }

    /// `POST /rest/api/3/search/jql`: reads, so idempotent.
    pub fn search(body: &SearchRequest) -> Result<Self, Error> {
        let points = 1 + CORE_POINTS * body.max_results.unwrap_or(50);
        Self::new(
            Method::POST,
            "/rest/api/3/search/jql",
            "/rest/api/3/search/jql",
        )
        .with_idempotency(Idempotency::Idempotent)
        .with_class(OperationClass::Search)
        .with_estimated_points(points)
        .json_body(body)
    }

    /// `POST /rest/api/3/search/approximate-count`: reads, so idempotent.
    pub fn approximate_count(jql: &str) -> Result<Self, Error> {
        Self::new(
            Method::POST,
            "/rest/api/3/search/approximate-count",
            "/rest/api/3/search/approximate-count",
        )
        .with_idempotency(Idempotency::Idempotent)
        .with_class(OperationClass::Search)
        .json_body(&CountRequest {
            jql: jql.to_owned(),
        })
    }

    /// `GET /rest/api/3/project/search` from `start_at`, `max_results` at most 100.
    pub fn project_search(start_at: u64, max_results: u32) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/project/search",
            "/rest/api/3/project/search",
        )
        .with_class(OperationClass::Metadata)
        .with_estimated_points(1 + CORE_POINTS * max_results.min(100))
        .query("startAt", start_at.to_string())
        .query("maxResults", max_results.min(100).to_string())
    }

    /// `GET /rest/api/3/project/{key}`.
    pub fn get_project(project_key: &str) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/project/{projectIdOrKey}",
            format!("/rest/api/3/project/{}", encode_segment(project_key)),
        )
        .with_estimated_points(1 + CORE_POINTS)
    }

    /// `GET /rest/api/3/field`.
    pub fn fields() -> Self {
        Self::new(Method::GET, "/rest/api/3/field", "/rest/api/3/field")
            .with_class(OperationClass::Metadata)
            .with_estimated_points(50)
    }

    /// `GET /rest/api/3/priority/search` from `start_at`, 100 priorities a page.
    pub fn priorities(start_at: u64) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/priority/search",
            "/rest/api/3/priority/search",
        )
        .with_class(OperationClass::Metadata)
        .with_estimated_points(1)
        .query("startAt", start_at.to_string())
        .query("maxResults", "100")
    }

    /// `GET /rest/api/3/users/search` from `start_at`, `max_results` at most 1000.
    pub fn users_search(start_at: u64, max_results: u32) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/users/search",
            "/rest/api/3/users/search",
        )
        .with_class(OperationClass::Metadata)
        .with_estimated_points(1 + IDENTITY_POINTS * max_results.min(1000))
        .query("startAt", start_at.to_string())
        .query("maxResults", max_results.min(1000).to_string())
    }

    /// `GET /rest/api/3/issue/{key}/comment`.
    pub fn comments(issue_key: &str, start_at: u64, max_results: u32) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/issue/{issueIdOrKey}/comment",
            format!("/rest/api/3/issue/{}/comment", encode_segment(issue_key)),
        )
        .with_class(OperationClass::Metadata)
        .with_estimated_points(1 + max_results)
        .query("startAt", start_at.to_string())
        .query("maxResults", max_results.to_string())
    }

    /// `GET /rest/api/3/issue/{key}/worklog`: a page of one issue's worklogs (Jira
    /// allows up to 5,000 a page).
    pub fn issue_worklogs(issue_key: &str, start_at: u64, max_results: u32) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/issue/{issueIdOrKey}/worklog",
            format!("/rest/api/3/issue/{}/worklog", encode_segment(issue_key)),
        )
        .with_class(OperationClass::Metadata)
        .with_estimated_points(1 + max_results.min(ISSUE_WORKLOGS_PAGE_MAX) / 20)
        .query("startAt", start_at.to_string())
        .query("maxResults", max_results.to_string())
    }

    /// `POST /rest/api/3/issue/{key}/comment` with an Atlassian Document Format body.
    pub fn add_comment(issue_key: &str, body_adf: &serde_json::Value) -> Result<Self, Error> {
        Self::new(
            Method::POST,
            "/rest/api/3/issue/{issueIdOrKey}/comment",
            format!("/rest/api/3/issue/{}/comment", encode_segment(issue_key)),
        )
        .for_issue(issue_key)
        .json_body(&serde_json::json!({ "body": body_adf }))
    }

    /// `POST /rest/api/3/issue/{key}/comment` with a whole `CommentCreate` body (`body`,
    /// `properties`, `visibility`): not idempotent.
    pub fn add_comment_body(issue_key: &str, body: &serde_json::Value) -> Result<Self, Error> {
        Self::new(
            Method::POST,
            "/rest/api/3/issue/{issueIdOrKey}/comment",
            format!("/rest/api/3/issue/{}/comment", encode_segment(issue_key)),
        )
        .for_issue(issue_key)
        .json_body(body)
    }

    /// `GET /rest/api/3/issue/{key}/comment?expand=properties`: a page of comments with
    /// their entity properties.
    pub fn comments_with_properties(issue_key: &str, start_at: u64, max_results: u32) -> Self {
        Self::comments(issue_key, start_at, max_results).query("expand", "properties")
    }

    /// `GET /rest/api/3/issue/{key}/transitions`: the transitions available from the
    /// issue's status.
    pub fn transitions(issue_key: &str) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/issue/{issueIdOrKey}/transitions",
            format!(
                "/rest/api/3/issue/{}/transitions",
                encode_segment(issue_key)
            ),
        )
    }

    /// `POST /rest/api/3/issue/{key}/transitions` (`IssueUpdateDetails`: `transition`,
    /// `fields`, `update`). Not idempotent on the wire, though moving to a status the
    /// issue is in is refused rather than repeated.
    pub fn transition(issue_key: &str, body: &serde_json::Value) -> Result<Self, Error> {
        Self::new(
            Method::POST,
            "/rest/api/3/issue/{issueIdOrKey}/transitions",
            format!(
                "/rest/api/3/issue/{}/transitions",
                encode_segment(issue_key)
            ),
        )
        .for_issue(issue_key)
        .json_body(body)
    }

    /// `PUT /rest/api/3/issue/{key}/assignee`: `account_id` `None` unassigns.
    pub fn assign(issue_key: &str, account_id: Option<&str>) -> Result<Self, Error> {
        Self::new(
            Method::PUT,
            "/rest/api/3/issue/{issueIdOrKey}/assignee",
            format!("/rest/api/3/issue/{}/assignee", encode_segment(issue_key)),
        )
        .for_issue(issue_key)
        .json_body(&serde_json::json!({ "accountId": account_id }))
    }

    /// `DELETE /rest/api/3/issue/{key}?deleteSubtasks=..`.
    pub fn delete_issue_with_subtasks(issue_key: &str, subtasks: bool) -> Self {
        Self::delete_issue(issue_key).query("deleteSubtasks", subtasks.to_string())
    }

    /// `DELETE /rest/api/3/issue/{key}/comment/{id}`: deletes one comment; written
    /// against the issue's per-issue window.
    pub fn delete_comment(issue_key: &str, comment_id: &str) -> Self {
        Self::new(
            Method::DELETE,
            "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
            format!(
                "/rest/api/3/issue/{}/comment/{}",
                encode_segment(issue_key),
                encode_segment(comment_id)
            ),
        )
        .for_issue(issue_key)
    }

    /// `DELETE /rest/api/3/issueLink/{linkId}`: removes one link; written against
    /// `issue`'s (one end's) per-issue window.
    pub fn delete_link(link_id: &str, issue_key: &str) -> Self {
        Self::new(
            Method::DELETE,
            "/rest/api/3/issueLink/{linkId}",
            format!("/rest/api/3/issueLink/{}", encode_segment(link_id)),
        )
        .for_issue(issue_key)
    }

    /// `POST /rest/api/3/issueLink` (`LinkIssueRequestJsonBean`): links `inward` and
    /// `outward` (keys) by the link type named `link_type`; written against `inward`'s
    /// per-issue window. Not idempotent.
    pub fn link_issues(link_type: &str, inward: &str, outward: &str) -> Result<Self, Error> {
        Self::new(
            Method::POST,
            "/rest/api/3/issueLink",
            "/rest/api/3/issueLink",
        )
        .for_issue(inward)
        .json_body(&serde_json::json!({
            "type": { "name": link_type },
            "inwardIssue": { "key": inward },
            "outwardIssue": { "key": outward },
        }))
    }

    /// `POST /rest/api/3/bulk/issues/{fields,transition,delete}`: an asynchronous bulk
    /// operation of up to [`crate::BULK_OPERATION_MAX_ISSUES`] issues; answers a
    /// [`crate::SubmittedBulkOperation`]. Not idempotent on the wire.
    pub fn bulk_operation(
        operation: crate::BulkOperation,
        body: &serde_json::Value,
    ) -> Result<Self, Error> {
        Self::new(Method::POST, operation.path(), operation.path())
            .with_class(OperationClass::Bulk)
            .json_body(body)
    }

    /// `GET /rest/api/3/bulk/queue/{taskId}`: a bulk operation's progress and, once
    /// complete, its per-issue results.
    pub fn bulk_progress(task_id: &str) -> Self {
        Self::new(
            Method::GET,
            "/rest/api/3/bulk/queue/{taskId}",
            format!("/rest/api/3/bulk/queue/{}", encode_segment(task_id)),
        )
    }
}

/// Percent-encodes a path segment (keys are ASCII, but a user's input may not be).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A response from Jira, whatever its status.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers (rate-limit information lives here).
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// Time from sending the request to having the whole body.
    pub elapsed: Duration,
    /// The points this answer cost against the hourly quota, computed once when it came off
    /// the wire ([`ApiResponse::from_wire`]): the objects a list really returned, the
    /// request's estimate for other served requests, 0 for refusals, server errors and
    /// answers that never reached the wire (cache hits).
    pub points: u64,
}

/// The server refused a request without acting on it, and (usually) said when to come back:
/// a 429, or a 503 carrying `Retry-After`. The one rule every layer uses: `Retrying` may
/// repeat a non-idempotent request after it, the circuit breaker counts it as neither success
/// nor failure, the rate limiter pauses for it, and `Error::not_performed` trusts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The status (429 or 503).
    pub status: StatusCode,
    /// What the rate-limit headers said.
    pub info: RateLimitInfo,
}

impl Refusal {
    /// The wait the server asked for at `now`, if it asked for one.
    pub fn requested_wait(&self, now: std::time::SystemTime) -> Option<Duration> {
        self.info.requested_wait(now)
    }

    /// Whether it was a rate limit (429) rather than a pause for maintenance (503).
    pub fn is_rate_limit(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
    }
}

impl ApiResponse {
    /// An answer to `request` as it came off the wire; computes [`ApiResponse::points`].
    pub fn from_wire(
        request: &ApiRequest,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        elapsed: Duration,
    ) -> Self {
        let mut response = ApiResponse {
            status,
            headers,
            body,
            elapsed,
            points: 0,
        };
        response.points = response.charged_points(request);
        response
    }

    /// An answer that did not come from the wire (a cache hit, a test): costs nothing.
    pub fn local(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        ApiResponse {
            status,
            headers,
            body,
            elapsed: Duration::ZERO,
            points: 0,
        }
    }

    /// What the body holds, in a few words for a message: `an empty body`, or `1234 bytes
    /// of text/html` (its content type as the server named it).
    pub fn body_description(&self) -> String {
        if self.body.is_empty() {
            return "an empty body".into();
        }
        let content_type = self
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type");
        format!("{} bytes of {content_type}", self.body.len())
    }

    /// The refusal this answer is, if it is one: see [`Refusal`].
    pub fn refusal(&self) -> Option<Refusal> {
        self.is_refusal().then(|| Refusal {
            status: self.status,
            info: self.rate_limit_info(),
        })
    }

    /// Whether the server refused the request without acting on it (see [`Refusal`]).
    pub fn is_refusal(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
            || (self.status == StatusCode::SERVICE_UNAVAILABLE
                && self.headers.contains_key(http::header::RETRY_AFTER))
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// Decodes the body as `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            status: self.status.as_u16(),
            type_name: std::any::type_name::<T>(),
            source,
        })
    }

    /// The rate-limit headers.
    pub fn rate_limit_info(&self) -> RateLimitInfo {
        RateLimitInfo::from_headers(&self.headers)
    }

    /// Jira's error body, when the body is one.
    pub fn error_collection(&self) -> Option<ErrorCollection> {
        serde_json::from_slice(&self.body).ok()
    }

    /// How this response should be treated: see [`ErrorClass`].
    pub fn classify(&self) -> ErrorClass {
        ErrorClass::of(self.status, &self.body)
    }

    /// The points this answer cost against the hourly quota, by the one rule in
    /// [`crate::points`]: what [`ApiResponse::from_wire`] sets [`ApiResponse::points`] to.
    pub fn charged_points(&self, request: &ApiRequest) -> u64 {
        crate::points::charged(
            &request.method,
            request.path_template,
            self.status,
            crate::points::objects_returned(&self.body),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_charged_by_the_one_points_rule() {
        let answer = |body: &str| {
            ApiResponse::local(
                StatusCode::OK,
                HeaderMap::new(),
                Bytes::from(body.to_owned()),
            )
        };
        let search = ApiRequest::search(&SearchRequest {
            jql: "project = A".into(),
            ..SearchRequest::default()
        })
        .unwrap();
        assert_eq!(
            answer(r#"{"issues":[{},{},{}]}"#).charged_points(&search),
            4
        );
        let users = ApiRequest::users_search(0, 1000);
        assert_eq!(answer(r#"[{},{}]"#).charged_points(&users), 5);
        assert_eq!(
            answer(r#"[{},{},{}]"#).charged_points(&ApiRequest::fields()),
            4
        );
        let projects = ApiRequest::project_search(0, 50);
        assert_eq!(
            answer(r#"{"values":[{}],"isLast":true}"#).charged_points(&projects),
            2
        );
        // One entity: the base and the object.
        assert_eq!(
            answer(r#"{"accountId":"x"}"#).charged_points(&ApiRequest::myself()),
            3
        );
        let get = ApiRequest::get_issue("A-1", &[], &[]);
        assert_eq!(answer(r#"{"id":"1","key":"A-1"}"#).charged_points(&get), 2);
        let mut refused = answer(r#"{"issues":[]}"#);
        refused.status = StatusCode::TOO_MANY_REQUESTS;
        assert_eq!(refused.charged_points(&search), 0);
    }

    #[test]
    fn constructors_set_template_class_idempotency_and_cost() {
        let get = ApiRequest::get_issue("PROJ-1", &["summary", "status"], &[]);
        assert_eq!(get.path, "/rest/api/3/issue/PROJ-1");
        assert_eq!(get.path_template, "/rest/api/3/issue/{issueIdOrKey}");
        assert_eq!(get.query, vec![("fields".into(), "summary,status".into())]);
        assert_eq!(get.idempotency, Idempotency::Idempotent);
        assert_eq!(get.estimated_points, 2);

        let create = ApiRequest::create_issue(&IssueUpdate::default()).unwrap();
        assert_eq!(create.idempotency, Idempotency::NonIdempotent);
        assert!(create.is_write());

        let fetch = ApiRequest::bulk_fetch(&BulkFetchRequest {
            issue_ids_or_keys: (1..=100).map(|n| format!("P-{n}")).collect(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(fetch.idempotency, Idempotency::Idempotent);
        assert_eq!(fetch.class, OperationClass::Bulk);
        assert_eq!(fetch.estimated_points, 101);
        let few = ApiRequest::bulk_fetch(&BulkFetchRequest {
            issue_ids_or_keys: vec!["P-1".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(few.class, OperationClass::Single);

        let update = ApiRequest::update_issue("PROJ-2", &IssueUpdate::default()).unwrap();
        assert_eq!(update.issue_key.as_deref(), Some("PROJ-2"));
        assert_eq!(ApiRequest::users_search(0, 8).estimated_points, 17);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(
            ApiRequest::get_issue("A B/../x", &[], &[]).path,
            "/rest/api/3/issue/A%20B%2F..%2Fx"
        );
    }
}

//! [`Endpoint`]: which Jira operation a request is, decided once from its method and path
//! template, so the cache's slots and invalidations and the rate limiter's buckets match on
//! one identity instead of on strings of their own.

use http::Method;

/// The Jira operations jira-ops knows by name; anything else is [`Endpoint::Other`].
/// `/rest/api/2/...` and `/rest/api/3/...` spellings of one operation are one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /myself`.
    Myself,
    /// `GET /serverInfo`.
    ServerInfo,
    /// `GET /issue/{issueIdOrKey}`.
    GetIssue,
    /// `PUT /issue/{issueIdOrKey}`.
    UpdateIssue,
    /// `DELETE /issue/{issueIdOrKey}`.
    DeleteIssue,
    /// `POST /issue`.
    CreateIssue,
    /// `POST /issue/bulk`.
    BulkCreate,
    /// `POST /issue/bulkfetch`.
    BulkFetch,
    /// `POST /search/jql`.
    SearchPost,
    /// `GET /search/jql`.
    SearchGet,
    /// `POST /search/approximate-count`.
    ApproximateCount,
    /// `GET /project/search`.
    ProjectSearch,
    /// `GET /project/{projectIdOrKey}`.
    GetProject,
    /// `GET /field`.
    Fields,
    /// `GET /users/search`.
    UsersSearch,
    /// `GET /issue/{issueIdOrKey}/comment`.
    Comments,
    /// `POST /issue/{issueIdOrKey}/comment`.
    AddComment,
    /// Any other operation.
    Other,
}

impl Endpoint {
    /// The endpoint of a method and path template (v2 or v3).
    pub fn of(method: &Method, path_template: &str) -> Self {
        let template = path_template
            .strip_prefix("/rest/api/3")
            .or_else(|| path_template.strip_prefix("/rest/api/2"))
            .unwrap_or("");
        match (method.as_str(), template) {
            ("GET", "/myself") => Endpoint::Myself,
            ("GET", "/serverInfo") => Endpoint::ServerInfo,
            ("GET", "/issue/{issueIdOrKey}") => Endpoint::GetIssue,
            ("PUT", "/issue/{issueIdOrKey}") => Endpoint::UpdateIssue,
            ("DELETE", "/issue/{issueIdOrKey}") => Endpoint::DeleteIssue,
            ("POST", "/issue") => Endpoint::CreateIssue,
            ("POST", "/issue/bulk") => Endpoint::BulkCreate,
            ("POST", "/issue/bulkfetch") => Endpoint::BulkFetch,
            ("POST", "/search/jql") => Endpoint::SearchPost,
            ("GET", "/search/jql") => Endpoint::SearchGet,
            ("POST", "/search/approximate-count") => Endpoint::ApproximateCount,
            ("GET", "/project/search") => Endpoint::ProjectSearch,
            ("GET", "/project/{projectIdOrKey}") => Endpoint::GetProject,
            ("GET", "/field") => Endpoint::Fields,
            ("GET", "/users/search") => Endpoint::UsersSearch,
            ("GET", "/issue/{issueIdOrKey}/comment") => Endpoint::Comments,
            ("POST", "/issue/{issueIdOrKey}/comment") => Endpoint::AddComment,
            _ => Endpoint::Other,
        }
    }

    /// Whether a successful answer changes an issue (what the cache must invalidate).
    pub fn writes_issue(self) -> bool {
        matches!(
            self,
            Endpoint::UpdateIssue | Endpoint::DeleteIssue | Endpoint::AddComment
        )
    }

    /// Whether a successful answer creates issues.
    pub fn creates_issues(self) -> bool {
        matches!(self, Endpoint::CreateIssue | Endpoint::BulkCreate)
    }
}

/// Jira's documented maximum of issues per `POST /issue/bulkfetch` (the default page).
pub const BULK_FETCH_MAX_ISSUES: usize = 100;
/// Jira's maximum of issues per `POST /issue/bulk`.
pub const BULK_CREATE_MAX_ISSUES: usize = 50;
/// The most results one enhanced-search page returns when only ids are asked for.
pub const SEARCH_ID_PAGE_MAX: u32 = 5_000;
/// The most results one enhanced-search page returns with fields.
pub const SEARCH_PAGE_MAX: u32 = 100;
/// Jira's maximum of issues per `POST /changelog/bulkfetch`.
pub const CHANGELOG_BULK_MAX_ISSUES: usize = 1_000;
/// History entries a page of `POST /changelog/bulkfetch` may hold (`maxResults` ≤ 10,000).
pub const CHANGELOG_BULK_MAX_RESULTS: u32 = 10_000;
/// Issues one asynchronous bulk operation (`/bulk/issues/fields`, `/transition`,
/// `/delete`) takes.
pub const BULK_OPERATION_MAX_ISSUES: usize = 1_000;
/// Asynchronous bulk operations Jira runs at once per tenant (across all users); more are
/// refused until one ends.
pub const BULK_OPERATIONS_IN_PROGRESS_MAX: usize = 5;
/// Worklog ids one `POST /worklog/list` takes.
pub const WORKLOG_LIST_MAX_IDS: usize = 1_000;
/// Worklogs one page of `GET /issue/{issueIdOrKey}/worklog` holds at most.
pub const ISSUE_WORKLOGS_PAGE_MAX: u32 = 5_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_and_v3_are_one_endpoint() {
        assert_eq!(
            Endpoint::of(&Method::GET, "/rest/api/2/issue/{issueIdOrKey}"),
            Endpoint::GetIssue
        );
        assert_eq!(
            Endpoint::of(&Method::GET, "/rest/api/3/issue/{issueIdOrKey}"),
            Endpoint::GetIssue
        );
        assert_eq!(
            Endpoint::of(&Method::PUT, "/rest/api/3/issue/{issueIdOrKey}"),
            Endpoint::UpdateIssue
        );
        assert_eq!(Endpoint::of(&Method::GET, "/other"), Endpoint::Other);
    }
}

//! [`Endpoint`]: which Jira operation a request is, decided once from its method and path
//! template, so the cache's slots and invalidations and the rate limiter's buckets match on
//! one identity instead of on strings of their own.

use http::Method;

/// The Jira operations jira-ops knows by name; anything else is [`Endpoint::Other`].
/// `/rest/api/2/...` and `/rest/api/3/...` spellings of one operation are one endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
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

    /// Its name as written in the code (`BulkFetch`), which is also its `Debug`: the rate
    /// limiter's bucket keys are built from it on every request, and a budget shared
    /// through Redis needs every process to spell them alike.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Myself => "Myself",
            Endpoint::ServerInfo => "ServerInfo",
            Endpoint::GetIssue => "GetIssue",
            Endpoint::UpdateIssue => "UpdateIssue",
            Endpoint::DeleteIssue => "DeleteIssue",
            Endpoint::CreateIssue => "CreateIssue",
            Endpoint::BulkCreate => "BulkCreate",
            Endpoint::BulkFetch => "BulkFetch",
            Endpoint::SearchPost => "SearchPost",
            Endpoint::SearchGet => "SearchGet",
            Endpoint::ApproximateCount => "ApproximateCount",
            Endpoint::ProjectSearch => "ProjectSearch",
            Endpoint::GetProject => "GetProject",
            Endpoint::Fields => "Fields",
            Endpoint::UsersSearch => "UsersSearch",
            Endpoint::Comments => "Comments",
            Endpoint::AddComment => "AddComment",
            Endpoint::Other => "Other",
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

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
/// History entries a page of `GET /issue/{issueIdOrKey}/changelog` holds at most (its
/// `maxResults` defaults to 100 in Atlassian's OpenAPI file; larger asks get 100).
pub const ISSUE_CHANGELOG_PAGE_MAX: u32 = 100;
/// Issues one asynchronous bulk operation (`/bulk/issues/fields`, `/transition`,
/// `/delete`) takes.
pub const BULK_OPERATION_MAX_ISSUES: usize = 1_000;
/// Asynchronous bulk operations Jira runs at once per tenant (across all users); more are
/// refused until one ends.
pub const BULK_OPERATIONS_IN_PROGRESS_MAX: usize = 5;
/// Issues one `POST /issue/bulkfetch` takes when the request is lean
/// ([`bulk_fetch_max_issues`]).
pub const BULK_FETCH_LEAN_MAX_ISSUES: usize = 1_000;
/// Fields a lean bulk fetch may name.
pub const BULK_FETCH_LEAN_MAX_FIELDS: usize = 100;
/// System fields that return several values (an array, or a page such as `comment`): a
/// bulk fetch that names one takes at most 100 issues.
pub const MULTI_VALUED_FIELDS: &[&str] = &[
    "comment",
    "worklog",
    "attachment",
    "issuelinks",
    "subtasks",
    "labels",
    "components",
    "fixVersions",
    "versions",
];
/// Expansions a lean bulk fetch may not ask for.
const HEAVY_EXPANSIONS: &[&str] = &[
    "changelog",
    "editmeta",
    "operations",
    "renderedFields",
    "transitions",
    "versionedRepresentations",
];

/// The most issues one `POST /issue/bulkfetch` of `fields` and `expand` may name.
/// Atlassian's reference ("Bulk fetch issues"): 1,000 when the request can be served
/// efficiently, that is when `fields` names at least one field to include (no `*all`, no
/// `*navigable`, not exclusions only), at most 100 of them, none that returns several
/// values (comment, worklog, attachment, ...), and `expand` holds none of changelog,
/// editmeta, operations, renderedFields, transitions or versionedRepresentations; 100
/// otherwise (a larger request is refused with a 400). A custom field's kind is not known
/// here: one that returns several values makes Jira refuse the larger request, and
/// `jira-batch` asks again in hundreds.
pub fn bulk_fetch_max_issues(fields: &[&str], expand: &[&str]) -> usize {
    let included: Vec<&str> = fields
        .iter()
        .flat_map(|f| f.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty() && !f.starts_with('-'))
        .collect();
    let lean = !included.is_empty()
        && included.len() <= BULK_FETCH_LEAN_MAX_FIELDS
        && !included
            .iter()
            .any(|f| f.starts_with('*') || MULTI_VALUED_FIELDS.contains(f))
        && !expand
            .iter()
            .flat_map(|e| e.split(','))
            .any(|e| HEAVY_EXPANSIONS.contains(&e.trim()));
    if lean {
        BULK_FETCH_LEAN_MAX_ISSUES
    } else {
        BULK_FETCH_MAX_ISSUES
    }
}

/// Worklog ids one `POST /worklog/list` takes.
pub const WORKLOG_LIST_MAX_IDS: usize = 1_000;
/// Worklogs one page of `GET /issue/{issueIdOrKey}/worklog` holds at most.
pub const ISSUE_WORKLOGS_PAGE_MAX: u32 = 5_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lean_bulk_fetch_takes_a_thousand_issues() {
        assert_eq!(
            bulk_fetch_max_issues(&["summary", "status", "updated"], &[]),
            1_000
        );
        assert_eq!(
            bulk_fetch_max_issues(&["summary,customfield_10016"], &["names"]),
            1_000
        );
        for (fields, expand) in [
            (vec![], vec![]),
            (vec!["*navigable"], vec![]),
            (vec!["-description"], vec![]),
            (vec!["summary", "comment"], vec![]),
            (vec!["summary"], vec!["changelog"]),
            (vec!["summary"], vec!["names,transitions"]),
        ] {
            assert_eq!(
                bulk_fetch_max_issues(&fields, &expand),
                100,
                "{fields:?} {expand:?}"
            );
        }
        let many: Vec<String> = (0..101).map(|n| format!("customfield_{n}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(bulk_fetch_max_issues(&many, &[]), 100);
    }

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

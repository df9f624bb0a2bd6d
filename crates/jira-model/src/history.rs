//! The requests that read issues' histories: many issues' at once from
//! `POST /changelog/bulkfetch`, one issue's from `GET /issue/{issueIdOrKey}/changelog`
//! (for a site that has no bulk endpoint).

use http::Method;

use crate::request::{ApiRequest, Idempotency, OperationClass, encode_segment};
use crate::{ChangelogBulkRequest, Error, ISSUE_CHANGELOG_PAGE_MAX};

impl ApiRequest {
    /// `POST /rest/api/3/changelog/bulkfetch`: the histories of up to 1,000 issues, paged;
    /// a read, so idempotent.
    pub fn changelog_bulk(body: &ChangelogBulkRequest) -> Result<Self, Error> {
        let points = 1 + body.issue_ids_or_keys.len() as u32;
        Self::new(
            Method::POST,
            "/rest/api/3/changelog/bulkfetch",
            "/rest/api/3/changelog/bulkfetch",
        )
        .with_idempotency(Idempotency::Idempotent)
        .with_class(OperationClass::Bulk)
        .with_estimated_points(points)
        .json_body(body)
    }

    /// `GET /rest/api/3/issue/{issueIdOrKey}/changelog`: a page of one issue's history
    /// entries, oldest first (`PageBeanChangelog`, at most
    /// [`ISSUE_CHANGELOG_PAGE_MAX`] a page).
    ///
    /// ```
    /// use jira_model::ApiRequest;
    ///
    /// let page = ApiRequest::issue_changelog("10001", 100, 100);
    /// assert_eq!(page.path, "/rest/api/3/issue/10001/changelog");
    /// assert_eq!(page.path_template, "/rest/api/3/issue/{issueIdOrKey}/changelog");
    /// ```
    pub fn issue_changelog(issue_key: &str, start_at: u64, max_results: u32) -> Self {
        let max_results = max_results.clamp(1, ISSUE_CHANGELOG_PAGE_MAX);
        Self::new(
            Method::GET,
            "/rest/api/3/issue/{issueIdOrKey}/changelog",
            format!("/rest/api/3/issue/{}/changelog", encode_segment(issue_key)),
        )
        .with_class(OperationClass::Single)
        .with_estimated_points(1 + max_results / 20)
        .query("startAt", start_at.to_string())
        .query("maxResults", max_results.to_string())
    }
}

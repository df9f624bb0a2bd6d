//! Jira Cloud REST v3 vocabulary for jira-ops: the types of the bodies, the request and
//! response envelopes every layer passes around, rate-limit header parsing, and error
//! classification.
//!
//! # Design
//!
//! - **No IO.** This crate only describes; the transport, rate limiter, cache and batcher
//!   act. So everything here is plain data and pure functions, tested without a server.
//! - **The contract decides.** Types follow the schemas of Atlassian's OpenAPI file in
//!   `contract/` (each type names its schema). An issue keeps its `fields` whole as a JSON
//!   map, because every site has its own custom fields; typed accessors read the common
//!   ones.
//! - **Requests know what they are.** [`ApiRequest`] carries its path template,
//!   [`Idempotency`], [`OperationClass`] and estimated points, set once by its constructor
//!   (`ApiRequest::get_issue`, `ApiRequest::bulk_fetch`, ...), so the layers below never
//!   parse paths to decide how to time out, retry or pace it.
//! - **Headers never break a client.** [`RateLimitInfo::from_headers`] reads every header
//!   of Atlassian's rate-limit guide; garbage becomes "absent" with a warning and absurd
//!   waits are clamped to [`MAX_RATE_LIMIT_WAIT`].
//! - **One table classifies errors**: [`ErrorClass::of`]; **one rule says the server
//!   refused** a request without acting on it ([`ApiResponse::refusal`]: a 429, or a 503
//!   with `Retry-After`), used by retries, the circuit breaker, the rate limiter and
//!   "not performed" alike.
//! - **Facts computed once**: an answer's points ([`ApiResponse::points`]) when it comes
//!   off the wire; a request's [`Endpoint`] when it is built; one [`SiteKey`] per site for
//!   every namespace; Jira's bulk limits as named constants ([`BULK_FETCH_MAX_ISSUES`], ...).
//! - **Jira's timestamps** (`2024-01-18T07:33:17.016+0000`, which strict RFC 3339 parsers
//!   reject) parse and print with [`JiraTimestamp`].
//!
//! - **ADF as text** for cells a person reads: [`adf::to_text`].
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, StatusCode};
//! use jira_model::{ApiRequest, ApiResponse, ErrorClass, Idempotency, Issue};
//!
//! let request = ApiRequest::get_issue("PROJ-1", &["summary"], &[]);
//! assert_eq!(request.path_template, "/rest/api/3/issue/{issueIdOrKey}");
//! assert_eq!(request.idempotency, Idempotency::Idempotent);
//!
//! let response = ApiResponse::from_wire(
//!     &request,
//!     StatusCode::OK,
//!     HeaderMap::new(),
//!     r#"{"id":"10001","key":"PROJ-1","fields":{"summary":"Hello"}}"#.into(),
//!     std::time::Duration::from_millis(12),
//! );
//! assert_eq!(response.points, 2); // one for the call, one for the issue
//! assert_eq!(response.classify(), ErrorClass::Success);
//! let issue: Issue = response.json().unwrap();
//! assert_eq!(issue.summary(), Some("Hello"));
//! ```

pub mod adf;
mod bulk;
mod classify;
mod endpoint;
mod error;
mod history;
mod human;
mod issue_ref;
pub mod points;
mod ratelimit;
mod request;
mod route;
mod route_table;
mod site;
mod stream;
mod timestamp;
mod types;
mod workflow;

pub use bulk::{BulkOperation, BulkOperationProgress, BulkTaskStatus, SubmittedBulkOperation};
pub use classify::ErrorClass;
pub use endpoint::{
    BULK_CREATE_MAX_ISSUES, BULK_FETCH_LEAN_MAX_FIELDS, BULK_FETCH_LEAN_MAX_ISSUES,
    BULK_FETCH_MAX_ISSUES, BULK_OPERATION_MAX_ISSUES, BULK_OPERATIONS_IN_PROGRESS_MAX,
    CHANGELOG_BULK_MAX_ISSUES, CHANGELOG_BULK_MAX_RESULTS, Endpoint, ISSUE_CHANGELOG_PAGE_MAX,
    ISSUE_WORKLOGS_PAGE_MAX, MULTI_VALUED_FIELDS, SEARCH_ID_PAGE_MAX, SEARCH_PAGE_MAX,
    WORKLOG_LIST_MAX_IDS, bulk_fetch_max_issues,
};
pub use error::Error;
pub use human::{HumanDuration, clock_time_after};
pub use issue_ref::{ISSUE_REF_MAX_LEN, IssueRefError, check_issue_ref};
pub use points::{CORE_POINTS, IDENTITY_POINTS};
pub use ratelimit::{
    LimitWindow, MAX_RATE_LIMIT_WAIT, RateLimitInfo, RateLimitPolicy, RateLimitReason,
    RateLimitScope, RateLimitState, ResetPrecision, RetryAfter,
};
pub use request::{ApiRequest, ApiResponse, FEW_KEYS, Idempotency, OperationClass, Refusal};
pub use route::{UNDOCUMENTED_TEMPLATE, template_of};
pub use site::{SiteKey, SiteKeyError, redact_url};
pub use stream::{BodyStream, StreamSlot, is_json};
pub use timestamp::{JiraTimestamp, TimestampError};
pub use types::{
    BulkCreateRequest, BulkCreateResponse, BulkFetchRequest, BulkFetchResponse, BulkOperationError,
    ChangelogBulkPage, ChangelogBulkRequest, Comment, CommentPage, CountRequest, CountResult,
    CreatedIssue, EntityProperty, ErrorCollection, Field, Issue, IssueChangelog, IssueError,
    IssueUpdate, Project, ProjectPage, SearchPage, SearchRequest, ServerInfo, User,
};
pub use workflow::{IssueTransition, Priority, PriorityPage, StatusDetails, TransitionsPage};

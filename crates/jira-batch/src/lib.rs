//! Batching for Jira Cloud: do the same work with a fraction of the requests and points,
//! and account for every item.
//!
//! # Design
//!
//! - **One result per request.** [`Batcher`] runs any requests with bounded concurrency and
//!   returns exactly one result per request (a 2xx answer, or a typed
//!   `jira_transport::Error`), by id and in submission order; one failure never stops the
//!   others; progress events feed a bar or a log; a batch runs once, and
//!   [`BatchResults::retry_failures`] builds a new batch of only the failures.
//! - **Coalesce reads.** [`fetch_issues`] serves cache hits first and asks for the misses
//!   with `POST /issue/bulkfetch`, 100 keys a call: 10,000 issues in 100 requests and about
//!   10,100 points instead of 10,000 requests and 20,000 points. Unknown keys come back as
//!   "not found" results, not silence.
//! - **Stream searches.** [`search`] follows `nextPageToken` and holds one page (two with
//!   prefetch) however many issues match.
//! - **Work through a query in id order on any Jira.** JQL cannot page by id (`id` is the
//!   issue key's alias: `id > N` stays in issue N's project). [`query_ids`] lists a
//!   query's ids by page token (5,000 a page) and sorts them; [`search_pages_of_ids`]
//!   reads the issues of chosen ids with their fields (`id in (...)`).
//! - **Create in bulk without duplicates.** [`create_issues`] sends 50 per call
//!   (`jira_model::BULK_CREATE_MAX_ISSUES`) and maps
//!   each element's result back to its input; a chunk is repeated only when the server
//!   refused it whole with `Retry-After` (the transport's rule).
//!
//! Cache warming and health checks, which are jobs rather than batching, live in
//! `jira-client` beside the other jobs.
//!
//! Everything runs on any `jira_transport::Transport`, so the rate limiter, retries and the
//! circuit breaker below apply to every request.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo<T: jira_transport::Transport + 'static>(jira: std::sync::Arc<T>) -> Result<(), jira_batch::Error> {
//! use jira_batch::{BatchConfig, fetch_issues};
//!
//! let keys: Vec<String> = (1..=250).map(|n| format!("PROJ-{n}")).collect();
//! let (results, report) = fetch_issues::<_, jira_cache::SledStore>(
//!     &jira, None, &BatchConfig::default(), &keys, &["summary", "status"], &[],
//! )
//! .await?;
//! assert_eq!(results.len(), 250);
//! assert_eq!(report.requests, 3); // 100 + 100 + 50
//! # Ok(())
//! # }
//! ```

mod batcher;
mod config;
mod create;
mod error;
mod fetch;
mod ids;
mod search;

pub use batcher::{BatchResults, Batcher, Progress, RequestId, RequestResult};
pub use config::BatchConfig;
pub use create::{CreateError, create_issues};
pub use error::Error;
pub use fetch::{
    FetchError, FetchReport, IssueResults, IssueStream, Order, fetch_issues, fetch_issues_stream,
    fetch_issues_with_comments,
};
pub use ids::{PAGES_AHEAD, QueryIds, query_ids, search_pages_of_ids};
pub use search::{SearchOptions, invalid_jql, jql_hint, search, search_pages};

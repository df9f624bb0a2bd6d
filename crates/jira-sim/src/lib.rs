//! jira-sim: a Jira Cloud simulator to test and benchmark Jira clients against, because
//! Atlassian asks that nobody load-test its cloud.
//!
//! # Design
//!
//! - **Independent of the client.** jira-sim depends on no other jira-ops crate (not even
//!   `jira-model`): it builds its JSON itself, so a mistake shared by client and simulator
//!   cannot hide. Its bodies are checked against Atlassian's OpenAPI contract instead
//!   (`tests/conformance.rs`).
//! - **A seeded tenant.** Projects, users, fields and issues (with ADF descriptions,
//!   custom fields and comments) come from [`SimConfig::seed`]; an issue stores compact
//!   facts and its text, history, comments and worklogs are derived from a per-issue seed
//!   at render time, so 200,000 issues start in about a second in 240 MB. Writes change
//!   the data: later reads and searches see them.
//! - **Atlassian's three limits** ([`LimitConfig`]): burst token buckets per endpoint
//!   template × method, the hourly points quota (with a [`LimitConfig::time_scale`] so an
//!   "hour" can pass in a second), and per-issue write windows. Responses carry the headers
//!   of Atlassian's guide; a 429 carries `Retry-After`, `X-RateLimit-Reset` and
//!   `RateLimit-Reason`.
//! - **Faults** ([`FaultConfig`]): 5xx, 503 with `Retry-After`, TCP resets, latency,
//!   hangs, truncated and malformed bodies, each with a probability and optionally one
//!   endpoint; changeable at run time.
//! - **Counters** ([`StatsSnapshot`]): requests by endpoint and status, 429s by reason,
//!   points, *early retries* (requests that arrived while the same client's `Retry-After`
//!   for that scope was still running) and created issues (with duplicates).
//! - **Realism** ([`Realism`]): latency that grows with the answer, a search index that
//!   lags behind writes (with `reconcileIssues`), the worklog feeds' settled minute, the
//!   pace of asynchronous bulk operations.
//! - **Webhooks** ([`Webhook`]): issue and comment events POSTed signed
//!   (`X-Hub-Signature`), at least once, sometimes twice or late, under one identifier.
//! - **Admin API** under `/__sim` (see the `admin` module docs): stats, reset, faults,
//!   limits, realism.
//!
//! Endpoints (`docs/jira-sim.md` lists them all): the issue reads and writes, bulk create
//! and fetch, the enhanced search; tenant metadata (projects, issue types, priorities,
//! statuses, resolutions, components, versions, fields, link types, users, labels, create
//! and edit metadata); one workflow with transitions; every issue's history (per issue, by
//! id, in bulk across issues); comments and worklogs (per issue, by id, in bulk, and the
//! tenant-wide worklog feeds); assignment, links, watchers, entity properties; the
//! asynchronous bulk operations. Everything is also served under `/rest/api/2` and
//! `/rest/api/latest`. Auth: Basic (email + API token) or Bearer, from the config. Two
//! real clients (PyPI `jira`, npm `jira.js`) run against it in the test suite.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use jira_sim::{LimitConfig, SimConfig, SimHandle};
//!
//! let sim = SimHandle::start(SimConfig {
//!     projects: 2,
//!     issues_per_project: 10,
//!     limits: LimitConfig::off(),
//!     ..SimConfig::default()
//! })
//! .await?;
//! assert_eq!(sim.issue_count(), 20);
//! assert!(sim.base_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(sim.stats().requests, 0);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod activity;
mod admin;
mod api;
mod attachments;
mod bulk;
pub mod cli;
mod comments;
mod config;
mod createmeta;
mod data;
mod edit;
mod extract;
mod history;
mod issues;
mod jql;
mod limits;
mod meta;
mod outbox;
mod permissions;
mod render;
mod search;
mod server;
mod state;
mod stats;
mod task;
mod tls;
mod users;
mod webhooks;
mod worklogs;

pub use config::{
    BurstConfig, BurstOverride, Credential, Fault, FaultConfig, FaultRule, LimitConfig, MAX_ISSUES,
    MAX_USERS, PageTokens, PerIssueConfig, QuotaConfig, QuotaKind, Realism, RefusalHeaders,
    RenderZone, ResetFormat, RetryAfterFormat, Secret, SimConfig, Webhook, WorkLatency,
};
pub use server::{Backup, SimHandle};
pub use stats::StatsSnapshot;

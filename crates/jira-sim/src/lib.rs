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
//!   facts and its text is derived from a per-issue seed at render time, so 100,000 issues
//!   generate in a fraction of a second. Writes change the data: later reads and searches
//!   see them.
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
//! - **Admin API** under `/__sim` (see the `admin` module docs): stats, reset, faults, limits.
//!
//! Endpoints: `myself`, `serverInfo`, `project/search`, `project/{key}`, `field`,
//! `users/search`, `issue/{key}` (GET, PUT, DELETE), `issue` (POST), `issue/bulk`,
//! `issue/bulkfetch`, `issue/{key}/comment` (GET, POST), `search/jql` (GET, POST),
//! `search/approximate-count`, and the removed `search` answering 410. Reads are also served
//! under `/rest/api/2`. Auth: Basic (email + API token) or Bearer, from the config.
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
mod bulk;
pub mod cli;
mod config;
mod data;
mod history;
mod jql;
mod limits;
mod meta;
mod render;
mod server;
mod stats;

pub use config::{
    BurstConfig, BurstOverride, Credential, Fault, FaultConfig, FaultRule, LimitConfig,
    PerIssueConfig, QuotaConfig, QuotaKind, Realism, RefusalHeaders, ResetFormat, RetryAfterFormat,
    Secret, SimConfig, WorkLatency,
};
pub use server::SimHandle;
pub use stats::StatsSnapshot;

//! Rate limiting for Jira Cloud clients: run as close to the server's budget as it allows,
//! earn almost no 429s, and stay polite when many processes work for one tenant.
//!
//! # Design
//!
//! - **A layer, like the others.** [`RateLimited<T>`] wraps any `jira_transport::Transport`.
//!   In the full stack it sits under `Retrying`, so every attempt, retries included, passes
//!   the budget before it reaches the wire. It never retries by itself.
//! - **Jira's three limits, modelled** ([`LimitsConfig`]): a burst bucket per endpoint
//!   template × method (Atlassian's defaults, replaced by what `X-RateLimit-Limit` says), the
//!   hourly points quota using each request's estimated cost (corrected from the answer for
//!   searches and bulk fetches), and per-issue write windows.
//! - **Listen before the 429.** `X-RateLimit-Remaining` and `NearLimit` drain the local
//!   bucket to what the server says is left; a 429 pauses its scope for every task that
//!   shares the budget: the endpoint for `jira-burst-based`, the issue for
//!   `jira-per-issue-on-write`, everything for a quota or an unknown reason.
//! - **Discover what nobody told us.** With [`AimdConfig`], an adaptive concurrency limit
//!   (additive increase, multiplicative decrease) starts low and grows while answers come
//!   back at steady latency, and is cut on 429s, timeouts and latency growth; and because a
//!   concurrency limit alone cannot hold a *rate* limit, each endpoint also gets a
//!   discovered rate: 90% of what was admitted in the second before a 429, growing 5% per
//!   quiet second.
//! - **Budgets live in a [`Budget`] store**: [`InProcessBudget`] (one lock, short critical
//!   sections, no waiting inside) or, for many processes and machines, [`RedisBudget`]
//!   (one Lua script per decision on Redis's clock; a chosen [`Fallback`] when Redis is
//!   down, never "unlimited"); [`AnyBudget`] picks one at run time. The waiting always
//!   happens outside the store. Redis keys are namespaced by `jira_model::SiteKey`, so every
//!   process configured for one site shares one budget.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), jira_transport::Error> {
//! use jira_model::ApiRequest;
//! use jira_ratelimit::LimitsConfig;
//! use jira_transport::{Auth, HttpConfig, HttpTransport, RetryPolicy, Secret, Transport, TransportExt};
//!
//! let http = HttpTransport::new(HttpConfig::new(
//!     "https://your-domain.atlassian.net",
//!     Auth::Basic { email: "me@example.com".into(), api_token: Secret::new("token") },
//! ))?;
//! use jira_ratelimit::RateLimitExt as _;
//! // Retrying above the limiter, so every attempt (retries included) gets its budget.
//! let jira = http.with_rate_limit(LimitsConfig::default()).with_retries(RetryPolicy::default());
//! let response = jira.send(ApiRequest::get_issue("PROJ-1", &[], &[])).await?;
//! # Ok(())
//! # }
//! ```

mod aimd;
mod any_budget;
mod budget;
mod config;
mod error;
mod layer;
mod learn;
mod redis_budget;
mod window;

/// The maps a request looks up on its way (buckets, windows, pauses by key): hashed with
/// foldhash, seeded per process, which costs a fraction of SipHash on short keys. Their
/// keys are endpoint names and issue keys of the process's own requests.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub use aimd::{AdaptiveLimit, Outcome, Slot};
pub use any_budget::AnyBudget;
pub use budget::{
    Budget, BurstDemand, Demand, Feedback, Grant, InProcessBudget, IssueWriteDemand, PointsDemand,
};
pub use config::{AimdConfig, BurstLimits, LimitsConfig, PerIssueLimit, QuotaLimit};
pub use error::Error;
pub use layer::{RateLimitExt, RateLimited};
pub use redis_budget::{Fallback, RedisBudget};

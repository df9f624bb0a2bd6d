//! One Jira Cloud client from one settings value, and the jobs users run on it.
//!
//! # Design
//!
//! - **The whole stack in one call.** [`JiraClient::builder`] assembles
//!   `Cached → Retrying → RateLimited → CircuitBreaker → HttpTransport` from the layer
//!   crates, with a `Tally` on the wire and one above the retries, so a service gets the
//!   same behaviour as the `jira-ops` CLI without redoing its assembly. Each part (auth,
//!   [`jira_transport::Timeouts`], retry policy, breaker, rate limits, [`BudgetChoice`],
//!   [`CacheChoice`], batch sizes) has the library's default until set.
//! - **One namespace per site.** The cache and the Redis budget are both keyed by the
//!   site's [`jira_model::SiteKey`], so two processes configured alike share budget and
//!   cache whatever spelling of the URL each was given.
//! - **Settings as data.** [`Settings`] declares every setting once (TOML key, flag,
//!   variables, type, range, default from the library type that owns it, a doc line);
//!   [`JiraClient::from_settings`] turns it into a builder. The CLI's config file, `config
//!   show`, the flags' help and the environment all read the same table ([`SETTINGS`]).
//! - **The jobs are methods**: [`JiraClient::fetch_issues`] (cache, then bulk fetches of
//!   100), [`JiraClient::search`] (streamed), [`JiraClient::create_issues`] (bulk, one
//!   result per input), [`JiraClient::warm`] ([`warm`]: metadata first, then recent
//!   issues under the same keys a fetch reads), [`JiraClient::health`] ([`health`]: graded
//!   by the operations guide's thresholds, the hit rate over recent reads only),
//!   [`fields::FieldCatalogue`] (field names to ids). For any other request,
//!   [`JiraClient::transport`] is the assembled stack.
//! - **The long jobs live in crates of their own** on top of this one: `jira-sync`
//!   (exports into SQLite or JSON Lines) and `jira-apply` (the write journal, exactly-once
//!   creates, `apply`). A service that only fetches and searches compiles no database
//!   driver.
//! - **Nothing here decides what a layer decides**: retry rules, pacing, cache keys and
//!   the "refused, not performed" rule stay in their crates; this crate only composes.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), jira_client::Error> {
//! use futures_util::StreamExt;
//! use jira_client::{CacheChoice, JiraClient};
//!
//! let client = JiraClient::builder("https://your-domain.atlassian.net")
//!     .basic_auth("me@example.com", std::env::var("JIRA_API_TOKEN").unwrap_or_default())
//!     .cache(CacheChoice::Sled {
//!         dir: "/tmp/jira-cache".into(),
//!         lock_wait: std::time::Duration::from_secs(5),
//!     })
//!     .build()
//!     .await?;
//! let keys: Vec<String> = (1..=250).map(|n| format!("PROJ-{n}")).collect();
//! let (issues, report) = client.fetch_issues(&keys, &["summary", "status"], &[]).await?;
//! println!("{} issues in {} requests", issues.len(), report.requests);
//! let mut recent = std::pin::pin!(client.search("project = PROJ AND updated >= -1d", Default::default()));
//! while let Some(issue) = recent.next().await {
//!     println!("{}", issue?.key);
//! }
//! client.close().await?;
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
pub mod fields;
pub mod health;
mod settings;
pub mod warm;

pub use client::{BudgetChoice, CacheChoice, ClientBuilder, JiraClient};
pub use error::Error;
// What a tuning user or a job crate needs of the layers, named through the facade so a
// service (and the CLI) depends on this crate alone.
pub use jira_batch::{
    BatchConfig, CreateError, FetchError, FetchReport, IssueResults, IssueStream, Order,
    SearchOptions,
};
pub use jira_ratelimit::{BurstLimits, Fallback, LimitsConfig, PerIssueLimit};
pub use jira_transport::{
    Auth, BreakerConfig, Error as TransportError, HttpConfig, RetryPolicy, Secret, Tally,
    TallySnapshot, Timeouts, Transport, check_base_url,
};

/// The cache's vocabulary, for tools that inspect, warm or clear it: categories, glob
/// patterns and targets, the store, its statistics and its errors.
pub mod cache {
    pub use jira_cache::{
        AnyStore, CacheConfig, Category, Error, JiraCache, Pattern, SledStore, Stats, Target,
        issue_cache_key, issue_targets,
    };
}
pub use settings::{SETTINGS, Setting, SettingError, SettingValue, Settings};

/// The fields a fetch returns and a warm caches unless told otherwise, comma separated (the
/// CLI's `--fields` default): the same list on both sides, so a warmed cache serves the
/// next fetch.
pub const DEFAULT_ISSUE_FIELDS: &str = "summary,status,assignee,updated";

/// [`DEFAULT_ISSUE_FIELDS`] as a list.
pub fn default_issue_fields() -> Vec<String> {
    DEFAULT_ISSUE_FIELDS.split(',').map(str::to_owned).collect()
}

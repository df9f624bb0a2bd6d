//! A persistent cache for Jira data, and a read-through layer that puts it in front of a
//! transport.
//!
//! # Design
//!
//! - **Stores behind a trait.** [`JiraCache`] runs on any [`CacheStore`]: [`SledStore`],
//!   the embedded default (one directory, one process), or [`RedisStore`], shared by many
//!   processes and machines so one worker's fetch serves the others.
//! - **Keys that make patterns work.** An entry's key is `site/profile/category/key`, so two
//!   sites or profiles never share entries, and `PROJ-*` in category `issue` names exactly
//!   that project's issues. Pattern invalidation scans only the pattern's literal prefix of
//!   the ordered key space, never the whole store.
//! - **Categories with TTLs** ([`Category`]: issue 5 min, project 1 h, field 1 day, user
//!   1 h, search 1 min, custom ones), a per-entry override, and `get_stale` that ignores
//!   expiry.
//! - **A size cap without full scans**: the sled store keeps expiry and access-order
//!   indexes, so eviction removes expired entries first, then the least recently used, from
//!   the front of an index. Access times are sampled (one write per key per minute), so a
//!   read stays a read.
//! - **Statistics that survive the process**, written every `stats_every` operations and on
//!   [`JiraCache::close`].
//! - **Stampede protection**: [`JiraCache::get_or_fetch`] fetches a missing key once however
//!   many callers ask (single flight), serves a just-expired entry while one background
//!   refresh runs (stale-while-revalidate), and serves a stale entry when the fetch fails
//!   (stale-if-error), saying so in [`Source`].
//! - **Torn writes are never served**: every entry carries its length and a CRC32.
//! - **[`Cached<T>`]**, a `jira_transport::Transport` layer (`transport.with_cache(cache)`):
//!   cache hits never reach the wire; misses go through the same single flight, so a
//!   hundred callers missing one issue send one request; an entry just past its TTL is
//!   served while one background refresh runs, and a stale entry is served when the fetch
//!   fails (each marked in the `x-jira-ops-cache` header); writes invalidate the issue and
//!   the search pages of its project. [`issue_cache_key`] is the one key of an issue entry
//!   (fields sorted and deduplicated), shared by the layer, the batcher and the warmers.
//! - **Hit rates of the present**: [`Stats::recent`] keeps the reads of the last
//!   [`RECENT_MINUTES`] minutes, persisted, so one cold run does not mark a cache unhealthy
//!   for the rest of its life.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), jira_cache::Error> {
//! use jira_cache::{CacheConfig, Category, JiraCache, Pattern, SledStore, Target};
//!
//! let dir = std::env::temp_dir().join(format!("jira-cache-doc-{}", std::process::id()));
//! let store = SledStore::open(&dir, std::time::Duration::from_secs(5))?;
//! let cache = JiraCache::open(store, CacheConfig::new("your-domain.atlassian.net")).await?;
//! cache.set(&Category::Issue, "PROJ-1", &serde_json::json!({"key": "PROJ-1"})).await?;
//! let issue: Option<serde_json::Value> = cache.get(&Category::Issue, "PROJ-1").await?;
//! assert_eq!(issue.unwrap()["key"], "PROJ-1");
//! let pattern = Target::Pattern(Category::Issue, Pattern::new("PROJ-*")?);
//! assert_eq!(cache.count_matching(&pattern).await?, 1);
//! assert_eq!(cache.invalidate(&pattern).await?, 1);
//! cache.close().await?;
//! # drop(cache);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

mod any_store;
mod cache;
mod category;
mod entry;
mod error;
mod layer;
mod pattern;
mod redis_store;
mod sled_store;
mod store;
#[cfg(feature = "test-suite")]
pub mod testing;

pub use any_store::AnyStore;
pub use cache::{
    CacheConfig, CategoryStats, Fetched, JiraCache, MinuteReads, RECENT_MINUTES, RawRead, Source,
    StaleRead, Stats, Target,
};
pub use category::Category;
pub use error::Error;
pub use layer::{
    CACHE_HEADER, CacheExt, Cached, invalidations, issue_cache_key, issue_targets, issues_changed,
};
pub use pattern::Pattern;
pub use redis_store::RedisStore;
pub use sled_store::SledStore;
pub use store::CacheStore;

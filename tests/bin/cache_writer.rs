//! A process that writes cache entries until it is killed, for the crash test.
//!
//! ```text
//! cache-writer CACHE_DIR
//! ```
//!
//! Entry `K-<n>` always holds `{"n": n, "text": <n repeated>}`, so a reader can tell an
//! intact entry from a damaged one.

use std::time::Duration;

use jira_cache::{CacheConfig, Category, JiraCache, SledStore};

/// The value entry `n` must hold.
pub fn expected(n: u64) -> serde_json::Value {
    serde_json::json!({"n": n, "text": n.to_string().repeat(200)})
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: cache-writer CACHE_DIR");
    let store = SledStore::open(&dir, Duration::from_secs(10)).expect("the cache opens");
    let cache = JiraCache::open(
        store,
        CacheConfig {
            stats_every: 10,
            ..CacheConfig::new("crash.example")
        },
    )
    .await
    .expect("the cache opens");
    println!("ready");
    let mut n = 0u64;
    loop {
        cache
            .set(
                &Category::Issue,
                &format!("K-{}", n % 500),
                &expected(n % 500),
            )
            .await
            .expect("write");
        n += 1;
    }
}

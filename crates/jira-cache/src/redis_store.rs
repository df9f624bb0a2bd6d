//! [`RedisStore`]: one cache shared by many processes and machines.
//!
//! Keys live under `jira-ops:cache:`; entries carry a Redis TTL of their own expiry plus
//! `stale_for` (so `get_stale` and stale-if-error can still serve them for a while), and
//! Redis's own `maxmemory` policy bounds the size. Prefix invalidation walks `SCAN MATCH`
//! over the prefix, never `KEYS`.

use std::time::Duration;

use jira_redis::ConnectionManager;
use redis::AsyncCommands;

use crate::Error;
use crate::store::CacheStore;

const PREFIX: &str = "jira-ops:cache:";
const META: &str = "jira-ops:cache-meta:";

/// The Redis store.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    url: String,
    stale_for: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url`; expired entries stay readable as stale for `stale_for`.
    pub async fn connect(url: &str, stale_for: Duration) -> Result<Self, Error> {
        let (connection, redacted) = jira_redis::connect(url).await?;
        Ok(RedisStore {
            connection,
            url: redacted,
            stale_for,
        })
    }

    fn error(&self, source: redis::RedisError) -> Error {
        Error::Redis {
            url: self.url.clone(),
            source,
        }
    }
}

/// Escapes the glob characters of `SCAN MATCH`.
fn escape_match(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl CacheStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut connection = self.connection.clone();
        connection
            .get(format!("{PREFIX}{key}"))
            .await
            .map_err(|e| self.error(e))
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_ms: u64,
        now_ms: u64,
    ) -> Result<(), Error> {
        let ttl_ms = expires_ms.saturating_sub(now_ms) + self.stale_for.as_millis() as u64;
        let mut connection = self.connection.clone();
        let _: () = redis::cmd("SET")
            .arg(format!("{PREFIX}{key}"))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms.max(1))
            .query_async(&mut connection)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn remove(&self, keys: &[String]) -> Result<u64, Error> {
        let mut removed = 0;
        let mut connection = self.connection.clone();
        for chunk in keys.chunks(500) {
            let full: Vec<String> = chunk.iter().map(|k| format!("{PREFIX}{k}")).collect();
            let count: u64 = redis::cmd("UNLINK")
                .arg(&full)
                .query_async(&mut connection)
                .await
                .map_err(|e| self.error(e))?;
            removed += count;
        }
        Ok(removed)
    }

    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let pattern = format!("{}{}*", escape_match(PREFIX), escape_match(prefix));
        let mut connection = self.connection.clone();
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1_000)
                .query_async(&mut connection)
                .await
                .map_err(|e| self.error(e))?;
            keys.extend(
                batch
                    .into_iter()
                    .filter_map(|k| k.strip_prefix(PREFIX).map(str::to_owned)),
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn touch(&self, _key: &str, _now_ms: u64) -> Result<(), Error> {
        // Redis tracks access itself for its maxmemory policy.
        Ok(())
    }

    async fn evict(&self, _target_bytes: u64, _now_ms: u64) -> Result<u64, Error> {
        // Redis evicts by its own maxmemory policy, and entries expire by their TTL.
        Ok(0)
    }

    fn evicts_itself(&self) -> bool {
        true
    }

    async fn size_bytes(&self) -> Result<u64, Error> {
        let mut connection = self.connection.clone();
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut connection)
            .await
            .map_err(|e| self.error(e))?;
        Ok(info
            .lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    }

    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut connection = self.connection.clone();
        connection
            .get(format!("{META}{name}"))
            .await
            .map_err(|e| self.error(e))
    }

    async fn put_meta(&self, name: &str, value: Vec<u8>) -> Result<(), Error> {
        let mut connection = self.connection.clone();
        let _: () = connection
            .set(format!("{META}{name}"), value)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), Error> {
        Ok(())
    }
}

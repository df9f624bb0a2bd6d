//! The [`CacheStore`] trait: where entries live.

use std::future::Future;

use crate::Error;

/// A key-value store with an ordered key space (or at least prefix scans), where the cache
/// keeps its entries. Values are opaque to the store except for the expiry the cache passes
/// along, which a store may use for native TTLs or eviction indexes.
pub trait CacheStore: Send + Sync + 'static {
    /// The stored bytes of `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send;

    /// Stores `value` under `key`; `expires_ms` is the entry's expiry (Unix ms).
    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_ms: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Removes `keys`; returns how many existed.
    fn remove(&self, keys: &[String]) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Every key starting with `prefix`, in order where the store has one. Only the keys
    /// under the prefix are read, never the whole store.
    fn scan_prefix(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// Records that `key` was read at `now_ms`, for least-recently-used eviction. Stores
    /// sample this (at most one write per key per minute), so reads stay reads.
    fn touch(&self, key: &str, now_ms: u64) -> impl Future<Output = Result<(), Error>> + Send;

    /// Removes entries until the store holds at most `target_bytes`: expired ones first,
    /// then the least recently used. Returns how many were removed.
    fn evict(
        &self,
        target_bytes: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Bytes of stored values.
    fn size_bytes(&self) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Whether the store keeps its own size cap (Redis's `maxmemory`), so the cache need
    /// not measure it after every write.
    fn evicts_itself(&self) -> bool {
        false
    }

    /// Reads a small metadata value (statistics).
    fn get_meta(&self, name: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send;

    /// Writes a small metadata value.
    fn put_meta(
        &self,
        name: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Makes everything written so far durable.
    fn flush(&self) -> impl Future<Output = Result<(), Error>> + Send;
}

impl<S: CacheStore> CacheStore for std::sync::Arc<S> {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send {
        (**self).get(key)
    }
    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_ms: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).put(key, value, expires_ms, now_ms)
    }
    fn remove(&self, keys: &[String]) -> impl Future<Output = Result<u64, Error>> + Send {
        (**self).remove(keys)
    }
    fn scan_prefix(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, Error>> + Send {
        (**self).scan_prefix(prefix)
    }
    fn touch(&self, key: &str, now_ms: u64) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).touch(key, now_ms)
    }
    fn evict(
        &self,
        target_bytes: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        (**self).evict(target_bytes, now_ms)
    }
    fn size_bytes(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        (**self).size_bytes()
    }
    fn evicts_itself(&self) -> bool {
        (**self).evicts_itself()
    }
    fn get_meta(&self, name: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send {
        (**self).get_meta(name)
    }
    fn put_meta(
        &self,
        name: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).put_meta(name, value)
    }
    fn flush(&self) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).flush()
    }
}

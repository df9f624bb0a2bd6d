//! [`AnyStore`]: a store chosen at run time (from a config file or a flag).

use crate::{CacheStore, Error, RedisStore, SledStore};

/// Either store, for programs that pick one from their configuration. Every call goes to
/// the store inside; the enum adds nothing else. Cloning shares the store (caches of
/// several namespaces on one store: a proxy's callers).
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// The embedded store (closed when the last clone is dropped).
    Sled(std::sync::Arc<SledStore>),
    /// The shared store.
    Redis(RedisStore),
}

impl AnyStore {
    /// A short name for status lines: `sled <dir>` or `redis`.
    pub fn describe(&self) -> String {
        match self {
            AnyStore::Sled(store) => format!("sled {}", store.dir().display()),
            AnyStore::Redis(_) => "redis".to_owned(),
        }
    }
}

impl From<SledStore> for AnyStore {
    fn from(store: SledStore) -> Self {
        AnyStore::Sled(std::sync::Arc::new(store))
    }
}

impl From<RedisStore> for AnyStore {
    fn from(store: RedisStore) -> Self {
        AnyStore::Redis(store)
    }
}

/// Forwards a call to whichever store is inside.
macro_rules! forward {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sled($store) => $call.await,
            AnyStore::Redis($store) => $call.await,
        }
    };
}

impl CacheStore for AnyStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        forward!(self, store => store.get(key))
    }
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_ms: u64,
        now_ms: u64,
    ) -> Result<(), Error> {
        forward!(self, store => store.put(key, value, expires_ms, now_ms))
    }
    async fn remove(&self, keys: &[String]) -> Result<u64, Error> {
        forward!(self, store => store.remove(keys))
    }
    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<String>, Error> {
        forward!(self, store => store.scan_prefix(prefix))
    }
    async fn touch(&self, key: &str, now_ms: u64) -> Result<(), Error> {
        forward!(self, store => store.touch(key, now_ms))
    }
    async fn evict(&self, target_bytes: u64, now_ms: u64) -> Result<u64, Error> {
        forward!(self, store => store.evict(target_bytes, now_ms))
    }
    async fn size_bytes(&self) -> Result<u64, Error> {
        forward!(self, store => store.size_bytes())
    }
    fn evicts_itself(&self) -> bool {
        match self {
            AnyStore::Sled(store) => store.evicts_itself(),
            AnyStore::Redis(store) => store.evicts_itself(),
        }
    }
    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        forward!(self, store => store.get_meta(name))
    }
    async fn put_meta(&self, name: &str, value: Vec<u8>) -> Result<(), Error> {
        forward!(self, store => store.put_meta(name, value))
    }
    async fn flush(&self) -> Result<(), Error> {
        forward!(self, store => store.flush())
    }
}

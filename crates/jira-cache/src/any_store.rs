//! [`AnyStore`]: a store chosen at run time (from a config file or a flag).

use std::future::Future;

use crate::{CacheStore, Error, RedisStore, SledStore};

/// Either store, for programs that pick one from their configuration. Every call goes to
/// the store inside; the enum adds nothing else.
#[derive(Debug)]
pub enum AnyStore {
    /// The embedded store.
    Sled(SledStore),
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
        AnyStore::Sled(store)
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
        async move {
            match $self {
                AnyStore::Sled($store) => $call.await,
                AnyStore::Redis($store) => $call.await,
            }
        }
    };
}

impl CacheStore for AnyStore {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send {
        forward!(self, store => store.get(key))
    }
    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_ms: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        forward!(self, store => store.put(key, value, expires_ms, now_ms))
    }
    fn remove(&self, keys: &[String]) -> impl Future<Output = Result<u64, Error>> + Send {
        forward!(self, store => store.remove(keys))
    }
    fn scan_prefix(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, Error>> + Send {
        forward!(self, store => store.scan_prefix(prefix))
    }
    fn touch(&self, key: &str, now_ms: u64) -> impl Future<Output = Result<(), Error>> + Send {
        forward!(self, store => store.touch(key, now_ms))
    }
    fn evict(
        &self,
        target_bytes: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        forward!(self, store => store.evict(target_bytes, now_ms))
    }
    fn size_bytes(&self) -> impl Future<Output = Result<u64, Error>> + Send {
        forward!(self, store => store.size_bytes())
    }
    fn get_meta(&self, name: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send {
        forward!(self, store => store.get_meta(name))
    }
    fn put_meta(
        &self,
        name: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        forward!(self, store => store.put_meta(name, value))
    }
    fn flush(&self) -> impl Future<Output = Result<(), Error>> + Send {
        forward!(self, store => store.flush())
    }
}

//! [`SledStore`]: the embedded default, a directory under the user's cache dir.
//!
//! Trees: `entries` (key → encoded entry), `expiry` (expires_ms ‖ key), `lru`
//! (accessed_ms ‖ key) and `access` (key → accessed_ms), so eviction walks the oldest
//! expiries and accesses from the front instead of scanning the store; `meta` holds
//! statistics and the byte count, which is trusted after a clean close and recounted
//! after a crash.
//!
//! sled allows one process per directory. A second process waits up to `lock_wait`, then
//! fails with [`Error::Locked`] naming the directory and the holder's process id. The
//! directory is created 0700 and its files set to 0600: issue data is private.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Error;
use crate::entry;
use crate::store::CacheStore;

/// Sampling interval for access-time updates.
const TOUCH_EVERY_MS: u64 = 60_000;
const BYTES_KEY: &[u8] = b"bytes";
const CLEAN_KEY: &[u8] = b"clean";
const HOLDER_FILE: &str = "holder.pid";

/// The sled store.
#[derive(Debug)]
pub struct SledStore {
    dir: PathBuf,
    db: sled::Db,
    entries: sled::Tree,
    expiry: sled::Tree,
    lru: sled::Tree,
    access: sled::Tree,
    meta: sled::Tree,
    bytes: AtomicU64,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, waiting up to `lock_wait` for another process
    /// to let go of it.
    pub fn open(dir: impl AsRef<Path>, lock_wait: Duration) -> Result<Self, Error> {
        let dir = dir.as_ref().to_path_buf();
        // sled panics on some damaged files (a truncated database): caught at this
        // boundary, with the hook silenced meanwhile, and said as `Error::Damaged`.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Self::open_inner(&dir, lock_wait)
        }));
        std::panic::set_hook(previous);
        match opened {
            Ok(Err(Error::Sled {
                dir,
                source: source @ (sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)),
            })) => Err(Error::Damaged {
                dir,
                what: source.to_string(),
            }),
            Ok(result) => result,
            Err(panic) => Err(Error::Damaged {
                dir,
                what: panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "sled failed while opening it".into()),
            }),
        }
    }

    /// Moves the directory `dir` aside (to `DIR.damaged-SECONDS`), so that the next open
    /// starts a fresh cache; returns where it went. Nothing is deleted.
    pub fn reset(dir: impl AsRef<Path>) -> Result<Option<PathBuf>, Error> {
        let dir = dir.as_ref();
        if !dir.exists() {
            return Ok(None);
        }
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut aside = dir.as_os_str().to_owned();
        aside.push(format!(".damaged-{seconds}"));
        let aside = PathBuf::from(aside);
        std::fs::rename(dir, &aside).map_err(|source| Error::Io {
            dir: dir.to_owned(),
            source,
        })?;
        Ok(Some(aside))
    }

    fn open_inner(dir: &Path, lock_wait: Duration) -> Result<Self, Error> {
        let dir = dir.to_path_buf();
        let io = |source| Error::Io {
            dir: dir.clone(),
            source,
        };
        create_private_dir(&dir).map_err(io)?;
        let started = std::time::Instant::now();
        let mut warned = false;
        let db = loop {
            match sled::Config::new().path(&dir).open() {
                Ok(db) => break db,
                Err(sled::Error::Io(error)) if is_lock_error(&error) => {
                    let holder = || {
                        std::fs::read_to_string(dir.join(HOLDER_FILE))
                            .ok()
                            .and_then(|pid| pid.trim().parse::<u32>().ok())
                            .map_or("another process".to_owned(), |pid| format!("process {pid}"))
                    };
                    if !warned && !lock_wait.is_zero() {
                        warned = true;
                        tracing::warn!(
                            "cache directory {} is in use by {}: waiting up to {} for it (--no-cache runs without the cache)",
                            dir.display(),
                            holder(),
                            jira_model::HumanDuration(lock_wait)
                        );
                    }
                    if started.elapsed() >= lock_wait {
                        let holder = holder();
                        return Err(Error::Locked {
                            dir,
                            holder,
                            waited: started.elapsed(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => return Err(Error::Sled { dir, source }),
            }
        };
        std::fs::write(dir.join(HOLDER_FILE), std::process::id().to_string()).map_err(io)?;
        let sled_error = |source| Error::Sled {
            dir: dir.clone(),
            source,
        };
        let open_tree = |name: &str| db.open_tree(name).map_err(sled_error);
        let store = SledStore {
            entries: open_tree("entries")?,
            expiry: open_tree("expiry")?,
            lru: open_tree("lru")?,
            access: open_tree("access")?,
            meta: open_tree("meta")?,
            bytes: AtomicU64::new(0),
            db,
            dir: dir.clone(),
        };
        store.load_byte_count()?;
        make_private(&dir).map_err(io)?;
        Ok(store)
    }

    /// How long [`SledStore::open`] callers usually wait for another process's lock.
    pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(5);

    /// The default directory: `$XDG_CACHE_HOME/jira-ops/cache`, else
    /// `$HOME/.cache/jira-ops/cache`; `None` when neither variable is set.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        Some(base.join("jira-ops").join("cache"))
    }

    /// Bytes of stored values now.
    pub fn size_bytes_now(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The entries tree, for benchmarks that compare with a raw full scan.
    #[doc(hidden)]
    pub fn tree_for_bench(&self) -> &sled::Tree {
        &self.entries
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sled_error(&self, source: sled::Error) -> Error {
        Error::Sled {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Trusts the stored byte count after a clean close; recounts after a crash.
    fn load_byte_count(&self) -> Result<(), Error> {
        let clean = self
            .meta
            .remove(CLEAN_KEY)
            .map_err(|e| self.sled_error(e))?
            .is_some();
        let stored = self
            .meta
            .get(BYTES_KEY)
            .map_err(|e| self.sled_error(e))?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes));
        let bytes = match (clean, stored) {
            (true, Some(bytes)) => bytes,
            _ => {
                let mut total = 0u64;
                for item in self.entries.iter() {
                    let (_, value) = item.map_err(|e| self.sled_error(e))?;
                    total += value.len() as u64;
                }
                total
            }
        };
        self.bytes.store(bytes, Ordering::Relaxed);
        Ok(())
    }

    fn remove_one(&self, key: &[u8]) -> Result<bool, Error> {
        let Some(old) = self.entries.remove(key).map_err(|e| self.sled_error(e))? else {
            return Ok(false);
        };
        self.bytes.fetch_sub(old.len() as u64, Ordering::Relaxed);
        if let Some(expires) = entry::expires_ms(&old) {
            self.expiry
                .remove(index_key(expires, key))
                .map_err(|e| self.sled_error(e))?;
        }
        if let Some(accessed) = self.access.remove(key).map_err(|e| self.sled_error(e))? {
            let accessed = u64::from_be_bytes(accessed.as_ref().try_into().unwrap_or([0; 8]));
            self.lru
                .remove(index_key(accessed, key))
                .map_err(|e| self.sled_error(e))?;
        }
        Ok(true)
    }

    fn record_access(&self, key: &[u8], now_ms: u64) -> Result<(), Error> {
        if let Some(previous) = self
            .access
            .insert(key, &now_ms.to_be_bytes())
            .map_err(|e| self.sled_error(e))?
        {
            let previous = u64::from_be_bytes(previous.as_ref().try_into().unwrap_or([0; 8]));
            self.lru
                .remove(index_key(previous, key))
                .map_err(|e| self.sled_error(e))?;
        }
        self.lru
            .insert(index_key(now_ms, key), &[])
            .map_err(|e| self.sled_error(e))?;
        Ok(())
    }

    /// Removes index entries from the front of `tree` (older first) while `keep_going`.
    fn evict_from(
        &self,
        tree: &sled::Tree,
        target_bytes: u64,
        stop_at_ms: Option<u64>,
    ) -> Result<u64, Error> {
        let mut removed = 0;
        while self.bytes.load(Ordering::Relaxed) > target_bytes {
            let Some((index, _)) = tree.first().map_err(|e| self.sled_error(e))? else {
                break;
            };
            let at = u64::from_be_bytes(index[..8].try_into().unwrap_or([0; 8]));
            if stop_at_ms.is_some_and(|stop| at > stop) {
                break;
            }
            let key = &index[8..];
            tree.remove(&index).map_err(|e| self.sled_error(e))?;
            if self.remove_one(key)? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        let _ = self
            .meta
            .insert(BYTES_KEY, &self.bytes.load(Ordering::Relaxed).to_be_bytes());
        let _ = self.meta.insert(CLEAN_KEY, &[1]);
        let _ = self.db.flush();
        let _ = std::fs::remove_file(self.dir.join(HOLDER_FILE));
    }
}

fn index_key(at_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut index = Vec::with_capacity(8 + key.len());
    index.extend_from_slice(&at_ms.to_be_bytes());
    index.extend_from_slice(key);
    index
}

fn is_lock_error(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::WouldBlock
        || error.to_string().contains("lock")
        || error.raw_os_error() == Some(11)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// 0700 for the directory and its subdirectories, 0600 for files.
#[cfg(unix)]
fn make_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for item in std::fs::read_dir(dir)? {
        let path = item?.path();
        if path.is_dir() {
            make_private(&path)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

impl CacheStore for SledStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .entries
            .get(key)
            .map_err(|e| self.sled_error(e))?
            .map(|v| v.to_vec()))
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_ms: u64,
        now_ms: u64,
    ) -> Result<(), Error> {
        let key_bytes = key.as_bytes();
        let size = value.len() as u64;
        if let Some(old) = self
            .entries
            .insert(key_bytes, value)
            .map_err(|e| self.sled_error(e))?
        {
            self.bytes.fetch_sub(old.len() as u64, Ordering::Relaxed);
            if let Some(old_expires) = entry::expires_ms(&old) {
                self.expiry
                    .remove(index_key(old_expires, key_bytes))
                    .map_err(|e| self.sled_error(e))?;
            }
        }
        self.bytes.fetch_add(size, Ordering::Relaxed);
        self.expiry
            .insert(index_key(expires_ms, key_bytes), &[])
            .map_err(|e| self.sled_error(e))?;
        self.record_access(key_bytes, now_ms)
    }

    async fn remove(&self, keys: &[String]) -> Result<u64, Error> {
        let mut removed = 0;
        for key in keys {
            if self.remove_one(key.as_bytes())? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        for item in self.entries.scan_prefix(prefix) {
            let (key, _) = item.map_err(|e| self.sled_error(e))?;
            if let Ok(key) = String::from_utf8(key.to_vec()) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    async fn touch(&self, key: &str, now_ms: u64) -> Result<(), Error> {
        let last = self
            .access
            .get(key)
            .map_err(|e| self.sled_error(e))?
            .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])));
        // Sampled: at most one write per key per minute.
        if last.is_some_and(|last| now_ms.saturating_sub(last) < TOUCH_EVERY_MS) {
            return Ok(());
        }
        self.record_access(key.as_bytes(), now_ms)
    }

    async fn evict(&self, target_bytes: u64, now_ms: u64) -> Result<u64, Error> {
        let expired = self.evict_from(&self.expiry, target_bytes, Some(now_ms))?;
        let least_recent = self.evict_from(&self.lru, target_bytes, None)?;
        Ok(expired + least_recent)
    }

    async fn size_bytes(&self) -> Result<u64, Error> {
        Ok(self.bytes.load(Ordering::Relaxed))
    }

    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .meta
            .get(name)
            .map_err(|e| self.sled_error(e))?
            .map(|v| v.to_vec()))
    }

    async fn put_meta(&self, name: &str, value: Vec<u8>) -> Result<(), Error> {
        self.meta
            .insert(name, value)
            .map_err(|e| self.sled_error(e))?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), Error> {
        self.meta
            .insert(BYTES_KEY, &self.bytes.load(Ordering::Relaxed).to_be_bytes())
            .map_err(|e| self.sled_error(e))?;
        self.db
            .flush_async()
            .await
            .map_err(|e| self.sled_error(e))?;
        Ok(())
    }
}

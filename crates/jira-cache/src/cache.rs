//! [`JiraCache`]: categories, TTLs, invalidation, a size cap, persisted statistics and
//! single-flight fetches, on any [`CacheStore`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jira_model::SiteKey;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::entry;
use crate::pattern::Pattern;
use crate::store::CacheStore;
use crate::{Category, Error};

/// How a cache is set up.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    /// The Jira site: entries of two sites never mix, and every process configured for one
    /// site (however its URL is spelled) shares them.
    pub site: SiteKey,
    /// The profile within the site, for the same reason.
    pub profile: String,
    /// The cap on stored bytes (`max_size_mb` × 1 MiB).
    pub max_size_bytes: u64,
    /// How long after expiry `get_or_fetch` still serves an entry while it refreshes it in
    /// the background (stale-while-revalidate).
    pub stale_grace: Duration,
    /// Statistics are written to the store every this many operations (and on `close`).
    pub stats_every: u64,
    /// TTLs by category name (`issue`, `search`, ...) replacing [`Category::ttl`].
    pub ttls: BTreeMap<String, Duration>,
}

impl CacheConfig {
    /// Defaults for `site`: profile `default`, 500 MiB, 30 s grace, stats every 100 ops.
    pub fn new(site: impl Into<SiteKey>) -> Self {
        CacheConfig {
            site: site.into(),
            profile: "default".into(),
            max_size_bytes: 500 * 1024 * 1024,
            stale_grace: Duration::from_secs(30),
            stats_every: 100,
            ttls: BTreeMap::new(),
        }
    }
}

/// Counters of one category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryStats {
    /// Fresh reads that found an entry.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
    /// Writes.
    pub sets: u64,
}

/// Statistics, persisted across processes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Per category.
    pub categories: BTreeMap<String, CategoryStats>,
    /// Entries removed to respect the size cap.
    pub evictions: u64,
    /// Entries found torn or corrupted (dropped, never served).
    pub corrupt: u64,
    /// Snapshots of the running totals, one per wall-clock minute of the last
    /// [`RECENT_MINUTES`] (taken when statistics are saved, not per read, so a hit stays
    /// cheap): the reads of the recent window are the totals now minus the oldest snapshot
    /// in it, so a health check grades the present rather than the cache's whole life.
    #[serde(default)]
    pub recent: Vec<MinuteReads>,
    /// Entries under this site and profile, by category (counted when asked).
    #[serde(skip)]
    pub entries: BTreeMap<String, u64>,
    /// Bytes the store holds.
    #[serde(skip)]
    pub bytes: u64,
}

/// How many minutes of reads [`Stats::recent`] keeps.
pub const RECENT_MINUTES: u64 = 15;

/// The running totals of hits and misses when a wall-clock minute's first snapshot was taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteReads {
    /// Minutes since the Unix epoch.
    pub minute: u64,
    /// Hits so far, over all categories.
    pub hits: u64,
    /// Misses so far.
    pub misses: u64,
}

impl Stats {
    /// Hits and misses of the last [`RECENT_MINUTES`] minutes before `now_ms` (wall clock):
    /// the totals now minus the oldest snapshot in the window (or, when every snapshot is
    /// older, minus the latest one: only reads since then can be recent).
    pub fn recent_reads(&self, now_ms: u64) -> (u64, u64) {
        let now = now_ms / 60_000;
        let base = self
            .recent
            .iter()
            .find(|m| m.minute + RECENT_MINUTES > now)
            .or(self.recent.last())
            .copied()
            .unwrap_or_default();
        (
            self.hits().saturating_sub(base.hits),
            self.misses().saturating_sub(base.misses),
        )
    }

    /// Takes this minute's snapshot of the totals if it has none, and forgets minutes that
    /// left the window (one stays as the base of the next).
    fn snapshot_recent(&mut self, now_ms: u64) {
        let minute = now_ms / 60_000;
        if self.recent.last().is_some_and(|last| last.minute == minute) {
            return;
        }
        let (hits, misses) = (self.hits(), self.misses());
        self.recent.push(MinuteReads {
            minute,
            hits,
            misses,
        });
        while self.recent.len() > 1 && self.recent[1].minute + RECENT_MINUTES <= minute {
            self.recent.remove(0);
        }
    }

    /// Hits over all reads, 0 when there were none.
    pub fn hit_rate(&self) -> f64 {
        let (hits, misses) = self
            .categories
            .values()
            .fold((0, 0), |(h, m), c| (h + c.hits, m + c.misses));
        if hits + misses == 0 {
            0.0
        } else {
            hits as f64 / (hits + misses) as f64
        }
    }

    /// Hits over all categories.
    pub fn hits(&self) -> u64 {
        self.categories.values().map(|c| c.hits).sum()
    }

    /// Misses over all categories.
    pub fn misses(&self) -> u64 {
        self.categories.values().map(|c| c.misses).sum()
    }
}

/// What to invalidate.
#[derive(Clone, Debug)]
pub enum Target {
    /// One key of a category.
    Key(Category, String),
    /// Keys of a category matching a glob pattern.
    Pattern(Category, Pattern),
    /// A whole category.
    Category(Category),
}

/// Where a `get_or_fetch` value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A fresh cache entry.
    Hit,
    /// The fetch (this caller's, or one it shared).
    Fetched,
    /// An expired entry within the grace period; a background refresh was started.
    Stale,
    /// An expired entry, because the fetch failed with this error.
    StaleOnError(String),
}

/// A value with its source.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetched<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

/// What [`JiraCache::read_raw`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawRead {
    /// A fresh entry.
    Fresh(Vec<u8>),
    /// An expired entry; `within_grace` when it expired less than `stale_grace` ago.
    Stale {
        /// The stored bytes.
        payload: Vec<u8>,
        /// Whether it may still be served while a refresh runs.
        within_grace: bool,
    },
    /// Nothing.
    Missing,
}

/// A stale read: the value and whether it had expired.
#[derive(Clone, Debug, PartialEq)]
pub struct StaleRead<T> {
    /// The value.
    pub value: T,
    /// Whether its TTL had passed.
    pub expired: bool,
    /// How old it is.
    pub age: Duration,
}

type Flight = Arc<OnceCell<Result<Vec<u8>, String>>>;

/// The cache. Cloning is cheap and shares everything.
pub struct JiraCache<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for JiraCache<S> {
    fn clone(&self) -> Self {
        JiraCache {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<S> {
    store: S,
    config: CacheConfig,
    namespace: String,
    started: Instant,
    started_wall_ms: u64,
    stats: Mutex<Stats>,
    ops: AtomicU64,
    flights: Mutex<HashMap<String, Flight>>,
    refreshing: Mutex<HashSet<String>>,
}

enum Lookup {
    Fresh(entry::Entry),
    Expired(entry::Entry),
    Missing,
}

impl<S: CacheStore> JiraCache<S> {
    /// Opens a cache on `store`, loading the persisted statistics.
    pub async fn open(store: S, config: CacheConfig) -> Result<Self, Error> {
        let namespace = format!("{}/{}/", config.site, config.profile);
        let stats_key = format!("stats/{namespace}");
        let mut stats: Stats = match store.get_meta(&stats_key).await? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => Stats::default(),
        };
        let started_wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        // The base of this process's recent reads.
        stats.snapshot_recent(started_wall_ms);
        Ok(JiraCache {
            inner: Arc::new(Inner {
                store,
                config,
                namespace,
                started: Instant::now(),
                started_wall_ms,
                stats: Mutex::new(stats),
                ops: AtomicU64::new(0),
                flights: Mutex::default(),
                refreshing: Mutex::default(),
            }),
        })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Wall-clock milliseconds, advanced by tokio's clock (so TTLs can be tested paused).
    fn now_ms(&self) -> u64 {
        self.inner.started_wall_ms + self.inner.started.elapsed().as_millis() as u64
    }

    fn category_prefix(&self, category: &Category) -> String {
        format!("{}{}/", self.inner.namespace, category.name())
    }

    fn full_key(&self, category: &Category, key: &str) -> String {
        format!("{}{key}", self.category_prefix(category))
    }

    async fn count(
        &self,
        category: &Category,
        update: impl FnOnce(&mut CategoryStats),
    ) -> Result<(), Error> {
        {
            let mut stats = self.inner.stats.lock();
            update(
                stats
                    .categories
                    .entry(category.name().to_owned())
                    .or_default(),
            );
        }
        let ops = self.inner.ops.fetch_add(1, Ordering::Relaxed) + 1;
        if ops.is_multiple_of(self.inner.config.stats_every.max(1)) {
            self.save_stats().await?;
        }
        Ok(())
    }

    async fn save_stats(&self) -> Result<(), Error> {
        let bytes = {
            let mut stats = self.inner.stats.lock();
            stats.snapshot_recent(self.now_ms());
            serde_json::to_vec(&*stats).unwrap_or_default()
        };
        self.inner
            .store
            .put_meta(&format!("stats/{}", self.inner.namespace), bytes)
            .await
    }

    async fn lookup(&self, full: &str) -> Result<Lookup, Error> {
        let Some(bytes) = self.inner.store.get(full).await? else {
            return Ok(Lookup::Missing);
        };
        let Some(decoded) = entry::decode(bytes) else {
            tracing::warn!(key = full, "dropping a torn or corrupted cache entry");
            self.inner.stats.lock().corrupt += 1;
            self.inner.store.remove(&[full.to_owned()]).await?;
            return Ok(Lookup::Missing);
        };
        Ok(if decoded.expires_ms > self.now_ms() {
            Lookup::Fresh(decoded)
        } else {
            Lookup::Expired(decoded)
        })
    }

    /// A fresh entry, counted as a hit or a miss.
    async fn fresh(&self, category: &Category, key: &str) -> Result<Option<entry::Entry>, Error> {
        let full = self.full_key(category, key);
        match self.lookup(&full).await? {
            Lookup::Fresh(entry) => {
                // Access times feed LRU eviction; one hit in eight updates them (and the
                // store writes at most once a minute per key), so reads stay cheap.
                if self.inner.ops.load(Ordering::Relaxed).is_multiple_of(8) {
                    self.inner.store.touch(&full, self.now_ms()).await?;
                }
                self.count(category, |c| c.hits += 1).await?;
                Ok(Some(entry))
            }
            _ => {
                self.count(category, |c| c.misses += 1).await?;
                Ok(None)
            }
        }
    }

    /// What the cache holds for `key`, fresh or not, counted as a hit (fresh) or a miss
    /// (stale or missing): what a read-through layer needs to choose between serving,
    /// serving stale while it refreshes, and fetching.
    pub async fn read_raw(&self, category: &Category, key: &str) -> Result<RawRead, Error> {
        let full = self.full_key(category, key);
        let now = self.now_ms();
        match self.lookup(&full).await? {
            Lookup::Fresh(entry) => {
                if self.inner.ops.load(Ordering::Relaxed).is_multiple_of(8) {
                    self.inner.store.touch(&full, now).await?;
                }
                self.count(category, |c| c.hits += 1).await?;
                Ok(RawRead::Fresh(entry.into_payload()))
            }
            Lookup::Expired(entry) => {
                self.count(category, |c| c.misses += 1).await?;
                let within_grace =
                    now < entry.expires_ms + self.inner.config.stale_grace.as_millis() as u64;
                Ok(RawRead::Stale {
                    payload: entry.into_payload(),
                    within_grace,
                })
            }
            Lookup::Missing => {
                self.count(category, |c| c.misses += 1).await?;
                Ok(RawRead::Missing)
            }
        }
    }

    /// The full store key of `key` in `category`: what single-flight maps key on.
    pub fn store_key(&self, category: &Category, key: &str) -> String {
        self.full_key(category, key)
    }

    /// The raw bytes of a fresh entry.
    pub async fn get_raw(&self, category: &Category, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .fresh(category, key)
            .await?
            .map(entry::Entry::into_payload))
    }

    /// The TTL entries of `category` get: the configured one, else the category's.
    pub fn ttl(&self, category: &Category) -> Duration {
        self.inner
            .config
            .ttls
            .get(category.name())
            .copied()
            .unwrap_or_else(|| category.ttl())
    }

    /// A fresh entry no older than `max_age` (whatever its TTL left), decoded, with its
    /// age; counted as a hit or a miss. `max_age` zero never finds one.
    pub async fn get_within<T: DeserializeOwned>(
        &self,
        category: &Category,
        key: &str,
        max_age: Duration,
    ) -> Result<Option<(T, Duration)>, Error> {
        let full = self.full_key(category, key);
        let now = self.now_ms();
        let found = match self.lookup(&full).await? {
            Lookup::Fresh(entry) => {
                let age = Duration::from_millis(now.saturating_sub(entry.created_ms));
                (age <= max_age && !max_age.is_zero()).then_some((entry, age))
            }
            _ => None,
        };
        match found {
            Some((entry, age)) => {
                self.count(category, |c| c.hits += 1).await?;
                Ok(Some((decode_json(key, entry.payload())?, age)))
            }
            None => {
                self.count(category, |c| c.misses += 1).await?;
                Ok(None)
            }
        }
    }

    /// A fresh entry, decoded.
    pub async fn get<T: DeserializeOwned>(
        &self,
        category: &Category,
        key: &str,
    ) -> Result<Option<T>, Error> {
        match self.fresh(category, key).await? {
            Some(entry) => decode_json(key, entry.payload()).map(Some),
            None => Ok(None),
        }
    }

    /// An entry whatever its age (expired entries stay until evicted or invalidated).
    pub async fn get_stale<T: DeserializeOwned>(
        &self,
        category: &Category,
        key: &str,
    ) -> Result<Option<StaleRead<T>>, Error> {
        let full = self.full_key(category, key);
        let now = self.now_ms();
        let (entry, expired) = match self.lookup(&full).await? {
            Lookup::Fresh(entry) => (entry, false),
            Lookup::Expired(entry) => (entry, true),
            Lookup::Missing => return Ok(None),
        };
        Ok(Some(StaleRead {
            value: decode_json(key, entry.payload())?,
            expired,
            age: Duration::from_millis(now.saturating_sub(entry.created_ms)),
        }))
    }

    /// Whether a fresh entry exists (not counted as a hit or a miss).
    pub async fn contains(&self, category: &Category, key: &str) -> Result<bool, Error> {
        Ok(matches!(
            self.lookup(&self.full_key(category, key)).await?,
            Lookup::Fresh(_)
        ))
    }

    /// Stores raw bytes with the category's TTL or `ttl`.
    pub async fn set_raw(
        &self,
        category: &Category,
        key: &str,
        payload: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        let full = self.full_key(category, key);
        let now = self.now_ms();
        let expires = now + ttl.unwrap_or_else(|| self.ttl(category)).as_millis() as u64;
        let bytes = entry::encode(now, expires, payload);
        let cap = self.inner.config.max_size_bytes;
        if bytes.len() as u64 > cap {
            return Err(Error::TooLarge {
                key: full,
                size: bytes.len(),
                cap,
            });
        }
        self.inner.store.put(&full, bytes, expires, now).await?;
        self.count(category, |c| c.sets += 1).await?;
        if !self.inner.store.evicts_itself() && self.inner.store.size_bytes().await? > cap {
            // Evict to 90% of the cap, so the next writes do not evict one by one.
            let evicted = self.inner.store.evict(cap / 10 * 9, now).await?;
            self.inner.stats.lock().evictions += evicted;
        }
        Ok(())
    }

    /// Stores a value as JSON with the category's TTL.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        category: &Category,
        key: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.set_with_ttl(category, key, value, None).await
    }

    /// Stores a value as JSON with `ttl` instead of the category's.
    pub async fn set_with_ttl<T: Serialize + ?Sized>(
        &self,
        category: &Category,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        let payload = serde_json::to_vec(value).map_err(|source| Error::Serde {
            key: key.to_owned(),
            source,
        })?;
        self.set_raw(category, key, &payload, ttl).await
    }

    /// The full keys `target` names.
    async fn keys_of(&self, target: &Target) -> Result<Vec<String>, Error> {
        match target {
            Target::Key(category, key) => {
                let full = self.full_key(category, key);
                Ok(match self.inner.store.get(&full).await? {
                    Some(_) => vec![full],
                    None => Vec::new(),
                })
            }
            Target::Pattern(category, pattern) => {
                let prefix = self.category_prefix(category);
                let keys = self
                    .inner
                    .store
                    .scan_prefix(&format!("{prefix}{}", pattern.literal_prefix()))
                    .await?;
                Ok(keys
                    .into_iter()
                    .filter(|full| {
                        full.strip_prefix(&prefix)
                            .is_some_and(|key| pattern.matches(key))
                    })
                    .collect())
            }
            Target::Category(category) => {
                self.inner
                    .store
                    .scan_prefix(&self.category_prefix(category))
                    .await
            }
        }
    }

    /// Removes what `target` names; returns how many entries were removed.
    pub async fn invalidate(&self, target: &Target) -> Result<u64, Error> {
        let keys = self.keys_of(target).await?;
        self.inner.store.remove(&keys).await
    }

    /// Counts what `invalidate` would remove, removing nothing (a dry run).
    pub async fn count_matching(&self, target: &Target) -> Result<u64, Error> {
        Ok(self.keys_of(target).await?.len() as u64)
    }

    /// The statistics, with entry counts per built-in category and the store's size.
    pub async fn stats(&self) -> Result<Stats, Error> {
        let mut stats = {
            let mut stats = self.inner.stats.lock();
            // A snapshot now bounds the recent window even when nothing was saved lately.
            stats.snapshot_recent(self.now_ms());
            stats.clone()
        };
        for category in Category::BUILT_IN {
            let count = self
                .inner
                .store
                .scan_prefix(&self.category_prefix(&category))
                .await?
                .len();
            stats
                .entries
                .insert(category.name().to_owned(), count as u64);
        }
        stats.bytes = self.inner.store.size_bytes().await?;
        Ok(stats)
    }

    /// Wall-clock milliseconds as the cache sees them (what [`Stats::recent_reads`] takes).
    pub fn clock_ms(&self) -> u64 {
        self.now_ms()
    }

    /// Writes statistics and makes everything durable.
    pub async fn close(&self) -> Result<(), Error> {
        self.save_stats().await?;
        self.inner.store.flush().await
    }

    /// The value of `key`: fresh from the cache; or stale within the grace period while one
    /// background refresh runs; or fetched, once however many callers ask at the same time
    /// (single flight); or stale when the fetch fails (stale-if-error).
    pub async fn get_or_fetch<T, F, Fut, E>(
        &self,
        category: &Category,
        key: &str,
        fetch: F,
    ) -> Result<Fetched<T>, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Display,
        S: 'static,
    {
        let full = self.full_key(category, key);
        let stale = match self.lookup(&full).await? {
            Lookup::Fresh(entry) => {
                self.count(category, |c| c.hits += 1).await?;
                return Ok(Fetched {
                    value: decode_json(key, entry.payload())?,
                    source: Source::Hit,
                });
            }
            Lookup::Expired(entry) => Some(entry),
            Lookup::Missing => None,
        };
        self.count(category, |c| c.misses += 1).await?;
        if let Some(entry) = &stale
            && self.now_ms() < entry.expires_ms + self.inner.config.stale_grace.as_millis() as u64
        {
            self.refresh_in_background(category.clone(), key.to_owned(), fetch);
            return Ok(Fetched {
                value: decode_json(key, entry.payload())?,
                source: Source::Stale,
            });
        }
        match self.fetch_once(category, key, fetch).await {
            Ok(bytes) => Ok(Fetched {
                value: decode_json(key, &bytes)?,
                source: Source::Fetched,
            }),
            Err(message) => match stale {
                Some(entry) => Ok(Fetched {
                    value: decode_json(key, entry.payload())?,
                    source: Source::StaleOnError(message),
                }),
                None => Err(Error::Fetch {
                    key: key.to_owned(),
                    message,
                }),
            },
        }
    }

    /// Runs `fetch` for `key` unless a fetch of it is already in flight, in which case it
    /// waits for that one; stores the result once.
    async fn fetch_once<T, F, Fut, E>(
        &self,
        category: &Category,
        key: &str,
        fetch: F,
    ) -> Result<Vec<u8>, String>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display,
    {
        let full = self.full_key(category, key);
        let flight = self
            .inner
            .flights
            .lock()
            .entry(full.clone())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let result = flight
            .get_or_init(|| async {
                let result = match fetch().await {
                    Ok(value) => serde_json::to_vec(&value).map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                if let Ok(bytes) = &result
                    && let Err(error) = self.set_raw(category, key, bytes, None).await
                {
                    tracing::warn!(key, %error, "could not store a fetched value");
                }
                result
            })
            .await
            .clone();
        let mut flights = self.inner.flights.lock();
        if flights.get(&full).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(&full);
        }
        result
    }

    fn refresh_in_background<T, F, Fut, E>(&self, category: Category, key: String, fetch: F)
    where
        T: Serialize + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Display,
        S: 'static,
    {
        let full = self.full_key(&category, &key);
        if !self.inner.refreshing.lock().insert(full.clone()) {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            if let Err(error) = cache.fetch_once(&category, &key, fetch).await {
                tracing::warn!(key, %error, "background refresh failed; the stale value stays");
            }
            cache.inner.refreshing.lock().remove(&full);
        });
    }
}

fn decode_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|source| Error::Serde {
        key: key.to_owned(),
        source,
    })
}

//! [`JiraClient`] and its [`ClientBuilder`]: the whole request path assembled from one
//! settings value, and the jobs as methods.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, TryStreamExt as _};
use jira_batch::{
    BatchConfig, CreateError, FetchReport, IssueResults, IssueStream, Order, SearchOptions,
};
use jira_cache::{AnyStore, CacheConfig, CacheExt as _, JiraCache, RedisStore, SledStore};
use jira_model::{CreatedIssue, Issue, IssueUpdate, SearchPage, SiteKey};
use jira_ratelimit::{
    AnyBudget, Fallback, InProcessBudget, LimitsConfig, RateLimitExt as _, RedisBudget,
};
use jira_transport::{
    Auth, BoxTransport, BreakerConfig, HttpConfig, HttpTransport, RetryPolicy, Tally, Timeouts,
    TransportExt as _,
};

use crate::health::{HealthOptions, HealthReport, check_health};
use crate::warm::{WarmPlan, WarmReport, warm};
use crate::{Error, Settings};

/// Where the rate-limit budget lives.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum BudgetChoice {
    /// This process alone.
    #[default]
    Local,
    /// A Redis budget shared by every process and machine working for the site, keyed by
    /// its [`SiteKey`]; `fallback` decides what happens while Redis is unreachable.
    Redis {
        /// `redis://host:6379/0`.
        url: String,
        /// Fail, or pace to a local share of the limits.
        fallback: Fallback,
    },
}

/// Where the cache lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheChoice {
    /// No cache: every read reaches the site.
    None,
    /// The embedded sled store in `dir` (one process at a time; others wait `lock_wait`).
    Sled {
        /// The directory.
        dir: PathBuf,
        /// How long to wait for another process holding it.
        lock_wait: Duration,
    },
    /// A Redis store shared by workers.
    Redis {
        /// `redis://host:6379/0`.
        url: String,
    },
}

/// Builds a [`JiraClient`]; every part has the library's default until set.
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    base_url: String,
    auth: Auth,
    profile: String,
    timeouts: Timeouts,
    max_in_flight: usize,
    max_body_bytes: usize,
    retry: RetryPolicy,
    breaker: BreakerConfig,
    limits: LimitsConfig,
    budget: BudgetChoice,
    cache: CacheChoice,
    cache_max_bytes: u64,
    cache_ttls: std::collections::BTreeMap<String, Duration>,
    batch: BatchConfig,
}

impl ClientBuilder {
    fn new(base_url: &str) -> Self {
        let http = HttpConfig::new(base_url, Auth::None);
        ClientBuilder {
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            auth: Auth::None,
            profile: "default".into(),
            timeouts: http.timeouts,
            max_in_flight: http.max_in_flight,
            max_body_bytes: http.max_body_bytes,
            retry: RetryPolicy::default().with_default_deadlines(),
            breaker: BreakerConfig::default(),
            limits: LimitsConfig::default(),
            budget: BudgetChoice::default(),
            cache: CacheChoice::None,
            cache_max_bytes: CacheConfig::new("default").max_size_bytes,
            cache_ttls: std::collections::BTreeMap::new(),
            batch: BatchConfig::default(),
        }
    }

    /// Credentials.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// HTTP Basic with an account's email and API token.
    pub fn basic_auth(self, email: impl Into<String>, api_token: impl Into<String>) -> Self {
        self.auth(Auth::basic(email, api_token))
    }

    /// The profile, which namespaces the cache within the site.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = profile.into();
        self
    }

    /// Timeouts (see [`Timeouts::scaled`] to derive them from one read timeout).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Requests in flight on the pool at once.
    pub fn max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// The largest response body read, in bytes.
    pub fn max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The circuit breaker.
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }

    /// The rate limits to pace to.
    pub fn limits(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Where the rate-limit budget lives.
    pub fn budget(mut self, budget: BudgetChoice) -> Self {
        self.budget = budget;
        self
    }

    /// Where the cache lives.
    pub fn cache(mut self, cache: CacheChoice) -> Self {
        self.cache = cache;
        self
    }

    /// TTLs by cache category name (`issue`, `search`, ...) replacing the defaults.
    pub fn cache_ttls(mut self, ttls: std::collections::BTreeMap<String, Duration>) -> Self {
        self.cache_ttls = ttls;
        self
    }

    /// The cache's size cap.
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// Concurrency and chunk sizes of the jobs.
    pub fn batch(mut self, batch: BatchConfig) -> Self {
        self.batch = batch;
        self
    }

    /// Assembles `Cached → Retrying → RateLimited → CircuitBreaker → HttpTransport`, opens
    /// the cache and connects the budget.
    pub async fn build(self) -> Result<JiraClient, Error> {
        let site = SiteKey::from_url(&self.base_url).map_err(|e| Error::Config(e.to_string()))?;
        let namespace = cache_namespace(&self.profile, &self.auth);
        let mut http = HttpConfig::new(&self.base_url, self.auth);
        http.timeouts = self.timeouts;
        http.max_in_flight = self.max_in_flight;
        http.max_body_bytes = self.max_body_bytes;
        let http = HttpTransport::new(http)?;
        let http_config = http.config().clone();
        let wire = Tally::new();
        let logical = Tally::new();
        let counted = http.counted(wire.clone());
        // Without retries every request on the wire is a logical one too.
        let raw = counted.clone().counted(logical.clone()).boxed();
        let budget: AnyBudget = match &self.budget {
            BudgetChoice::Local => InProcessBudget::new().into(),
            BudgetChoice::Redis { url, fallback } => {
                RedisBudget::connect(url, &site, *fallback).await?.into()
            }
        };
        let budget_name = budget.describe();
        let direct = counted
            .with_circuit_breaker(site.as_str(), self.breaker)
            .with_rate_limit_budget(self.limits, budget)
            .with_retries(self.retry)
            .counted(logical.clone())
            .boxed();
        let cache = open_cache(
            &self.cache,
            &site,
            &namespace,
            self.cache_max_bytes,
            &self.cache_ttls,
        )
        .await?;
        let jira = match &cache {
            Some(cache) => direct.clone().with_cache(cache.clone()).boxed(),
            None => direct.clone(),
        };
        Ok(JiraClient {
            site,
            base_url: self.base_url,
            profile: self.profile,
            jira: Arc::new(jira),
            direct: Arc::new(direct),
            raw,
            wire,
            logical,
            cache,
            cache_dropped: std::sync::atomic::AtomicBool::new(false),
            batch: self.batch,
            budget: budget_name,
            http: http_config,
        })
    }
}

impl Settings {
    /// The budget `rate_limit_store` and `rate_limit_workers` describe.
    pub fn budget_choice(&self) -> BudgetChoice {
        if self.rate_limit_store == "local" {
            BudgetChoice::Local
        } else {
            BudgetChoice::Redis {
                url: self.rate_limit_store.clone(),
                fallback: Fallback::LocalShare {
                    workers: self.rate_limit_workers,
                },
            }
        }
    }

    /// The cache `cache_store`, `cache_dir` and `cache_lock_wait_secs` describe.
    pub fn cache_choice(&self) -> CacheChoice {
        match self.cache_store.as_str() {
            "none" => CacheChoice::None,
            "sled" => CacheChoice::Sled {
                dir: self.cache_dir.clone(),
                lock_wait: Duration::from_secs(self.cache_lock_wait_secs),
            },
            url => CacheChoice::Redis {
                url: url.to_owned(),
            },
        }
    }

    /// Opens the cache these settings describe for `profile`, without credentials or a
    /// connection to the site (for cache maintenance); `None` when the cache is off.
    pub async fn open_cache(&self, profile: &str) -> Result<Option<JiraCache<AnyStore>>, Error> {
        let site = self.site_url.as_deref().ok_or_else(|| {
            Error::Config(
                "no Jira site: the cache is namespaced by site, set site_url (JIRA_SITE_URL)"
                    .into(),
            )
        })?;
        let site = SiteKey::from_url(site).map_err(|e| Error::Config(e.to_string()))?;
        let namespace = match &self.api_token {
            Some(token) => cache_namespace(
                profile,
                &match &self.email {
                    Some(email) => Auth::Basic {
                        email: email.clone(),
                        api_token: token.clone(),
                    },
                    None => Auth::Bearer {
                        token: token.clone(),
                    },
                },
            ),
            None => profile.to_owned(),
        };
        self.cache_choice()
            .open(
                &site,
                &namespace,
                self.cache_max_mb.saturating_mul(1024 * 1024),
            )
            .await
    }
}

impl CacheChoice {
    /// Opens the cache this names, namespaced by `site` and `profile`; `None` for
    /// [`CacheChoice::None`].
    pub async fn open(
        &self,
        site: &SiteKey,
        profile: &str,
        max_bytes: u64,
    ) -> Result<Option<JiraCache<AnyStore>>, Error> {
        open_cache(self, site, profile, max_bytes, &Default::default()).await
    }
}

/// The site the settings name, or the error that says how to name one.
fn site_of(settings: &Settings) -> Result<&str, Error> {
    settings.site_url.as_deref().ok_or_else(|| {
        Error::Config(
            "no Jira site: set site_url (JIRA_SITE_URL), e.g. https://your-domain.atlassian.net"
                .into(),
        )
    })
}

/// Opens the cache a choice names, namespaced by site and profile (none for `None`).
/// The cache namespace within a site: the profile and the credentials, so that two
/// accounts never read each other's entries (what one may see, the other may not). The tag
/// is a short SHA-256 of the whole credential, email *and* token: a wrong token for
/// someone's email finds none of that account's entries (the server refuses it instead),
/// the same credentials find theirs again, and nothing secret is in a key. A rotated token
/// starts a cold namespace.
pub(crate) fn cache_namespace(profile: &str, auth: &Auth) -> String {
    use sha2::{Digest, Sha256};
    let account = match auth {
        Auth::None => return profile.to_owned(),
        Auth::Basic { email, api_token } => {
            let mut digest = Sha256::new();
            digest.update(email.trim().to_lowercase().as_bytes());
            digest.update([0]);
            digest.update(api_token.expose().as_bytes());
            digest.finalize()
        }
        Auth::Bearer { token } => Sha256::digest(token.expose().as_bytes()),
    };
    let tag: String = account[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{profile}@{tag}")
}

async fn open_cache(
    choice: &CacheChoice,
    site: &SiteKey,
    profile: &str,
    max_bytes: u64,
    ttls: &std::collections::BTreeMap<String, Duration>,
) -> Result<Option<JiraCache<AnyStore>>, Error> {
    let store: AnyStore = match choice {
        CacheChoice::None => return Ok(None),
        CacheChoice::Sled { dir, lock_wait } => {
            let (dir, wait) = (dir.clone(), *lock_wait);
            tokio::task::spawn_blocking(move || SledStore::open(dir, wait))
                .await
                .map_err(|e| Error::Config(format!("cache: opening the store failed: {e}")))??
                .into()
        }
        CacheChoice::Redis { url } => RedisStore::connect(url, Duration::from_secs(3600))
            .await?
            .into(),
    };
    let mut config = CacheConfig::new(site);
    config.profile = profile.to_owned();
    config.max_size_bytes = max_bytes;
    config.ttls = ttls.clone();
    Ok(Some(JiraCache::open(store, config).await?))
}

/// A Jira Cloud client: the assembled request path and the jobs that run on it.
///
/// Cloning is not needed: the transports inside are shared (`Arc`), and every method takes
/// `&self`.
pub struct JiraClient {
    site: SiteKey,
    base_url: String,
    profile: String,
    jira: Arc<BoxTransport>,
    direct: Arc<BoxTransport>,
    raw: BoxTransport,
    wire: Tally,
    logical: Tally,
    cache: Option<JiraCache<AnyStore>>,
    /// Set once the cache store failed during a job: later jobs of this client go on
    /// without it (a store that failed once is not trusted for the rest of the run).
    cache_dropped: std::sync::atomic::AtomicBool,
    batch: BatchConfig,
    budget: String,
    http: HttpConfig,
}

impl JiraClient {
    /// A builder for the site at `base_url` (`https://your-domain.atlassian.net`).
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// A builder configured from `settings` for `profile`: site, credentials (Basic with an
    /// email, Bearer without), timeouts scaled from `timeout_secs`, retries, budget, cache
    /// and batch sizes.
    pub fn from_settings(settings: &Settings, profile: &str) -> Result<ClientBuilder, Error> {
        site_of(settings)?;
        let token = settings.api_token.as_ref().ok_or_else(|| {
            Error::Config(
                "no API token: set api_token (JIRA_API_TOKEN); create one at https://id.atlassian.com/manage-profile/security/api-tokens".into(),
            )
        })?;
        let auth = match &settings.email {
            Some(email) => Auth::Basic {
                email: email.clone(),
                api_token: token.clone(),
            },
            None => Auth::Bearer {
                token: token.clone(),
            },
        };
        Self::from_settings_with_auth(settings, profile, auth)
    }

    /// A builder configured from `settings` for `profile` as [`JiraClient::from_settings`],
    /// with `auth` in place of the settings' credentials: [`Auth::None`] for a client whose
    /// requests carry their own `Authorization` (a proxy forwarding its callers'; see
    /// `ApiRequest::headers`).
    pub fn from_settings_with_auth(
        settings: &Settings,
        profile: &str,
        auth: Auth,
    ) -> Result<ClientBuilder, Error> {
        let site = site_of(settings)?;
        let (budget, cache) = (settings.budget_choice(), settings.cache_choice());
        Ok(JiraClient::builder(site)
            .auth(auth)
            .profile(profile)
            .timeouts(settings.timeouts())
            .max_in_flight(settings.max_in_flight)
            .max_body_bytes(
                usize::try_from(settings.max_body_mb.saturating_mul(1024 * 1024))
                    .unwrap_or(usize::MAX),
            )
            .retry(settings.retry_policy())
            .limits(LimitsConfig {
                max_wait: Duration::from_secs(settings.max_wait_secs),
                ..LimitsConfig::default()
            })
            .budget(budget)
            .cache(cache)
            .cache_max_bytes(settings.cache_max_mb.saturating_mul(1024 * 1024))
            .cache_ttls(settings.cache_ttls())
            .batch(settings.batch()))
    }

    /// This client's cache store opened under the namespace of `auth`: the entries a
    /// client of the same profile with those credentials reads and writes (so a proxy
    /// keeps each caller's reads apart, and shares them with that caller's own jira-ops
    /// runs). `None` when the client has no cache.
    pub async fn cache_for(&self, auth: &Auth) -> Result<Option<JiraCache<AnyStore>>, Error> {
        let Some(cache) = &self.cache else {
            return Ok(None);
        };
        let mut config = cache.config().clone();
        config.profile = cache_namespace(&self.profile, auth);
        if config.profile == cache.config().profile {
            return Ok(Some(cache.clone()));
        }
        Ok(Some(JiraCache::open(cache.store().clone(), config).await?))
    }

    /// The site's key: the namespace of its cache entries and its shared budget.
    pub fn site_key(&self) -> &SiteKey {
        &self.site
    }

    /// The site URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The full stack (cache on top when there is one), for any request the jobs do not
    /// cover: `client.transport().send(ApiRequest::get_project("PROJ")).await`.
    pub fn transport(&self) -> &Arc<BoxTransport> {
        &self.jira
    }

    /// The stack without the cache (retries, pacing, breaker): for reads that must be fresh.
    pub fn uncached(&self) -> &Arc<BoxTransport> {
        &self.direct
    }

    /// The wire alone (counted; no retries, no pacing): what health checks use, so a
    /// failing site shows as failing rather than slow.
    pub fn wire(&self) -> &BoxTransport {
        &self.raw
    }

    /// What reached the wire: every attempt.
    pub fn wire_tally(&self) -> &Tally {
        &self.wire
    }

    /// Logical requests, above retries and below the cache.
    pub fn logical_tally(&self) -> &Tally {
        &self.logical
    }

    /// The cache, when there is one.
    pub fn cache(&self) -> Option<&JiraCache<AnyStore>> {
        self.cache.as_ref()
    }

    /// Batch sizes and concurrency.
    pub fn batch_config(&self) -> &BatchConfig {
        &self.batch
    }

    /// The HTTP settings of the bottom layer (pool, timeouts; the token never prints).
    pub fn http_config(&self) -> &HttpConfig {
        &self.http
    }

    /// `local` or `redis <url>` (password redacted).
    pub fn budget_description(&self) -> &str {
        &self.budget
    }

    /// Drops every cached copy of `keys` (each set of fields); a failing cache is
    /// logged and left out of this client's later calls.
    pub async fn forget_cached(&self, keys: &[String]) {
        let Some(cache) = self.live_cache() else {
            return;
        };
        for key in keys {
            for target in jira_cache::issue_targets(key) {
                if let Err(error) = cache.invalidate(&target).await {
                    tracing::warn!(%error, "could not refresh the cache; going on without it");
                    self.cache_dropped
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
            }
        }
    }

    /// Puts `issue`, as a search just returned it with `fields`, in the cache in place of
    /// the copies it holds of it (other field lists are dropped: they are older). An issue
    /// the cache holds nothing of is not added: a large export does not flood the cache.
    pub async fn refresh_cached(&self, issue: &Issue, fields: &[&str]) {
        let Some(cache) = self.live_cache() else {
            return;
        };
        let mut held = 0;
        for target in jira_cache::issue_targets(&issue.key) {
            held += cache.count_matching(&target).await.unwrap_or(0);
        }
        if held == 0 {
            return;
        }
        self.forget_cached(std::slice::from_ref(&issue.key)).await;
        let key = jira_cache::issue_cache_key(&issue.key, fields, &[]);
        if let Err(error) = cache.set(&jira_cache::Category::Issue, &key, issue).await {
            tracing::warn!(%error, "could not refresh the cache; going on without it");
            self.cache_dropped
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether this client reads and writes a cache (it has one, and it has not failed
    /// during this client's life).
    pub fn has_live_cache(&self) -> bool {
        self.live_cache().is_some()
    }

    fn live_cache(&self) -> Option<&JiraCache<AnyStore>> {
        self.cache.as_ref().filter(|_| {
            !self
                .cache_dropped
                .load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// Fetches `keys` (cache first, then bulk fetches of 100): one result per distinct key.
    /// A cache store that fails (disk full, Redis gone) costs no result: the report says
    /// what it said, and this client goes on without the cache from then on.
    pub async fn fetch_issues(
        &self,
        keys: &[String],
        fields: &[&str],
        expand: &[&str],
    ) -> Result<(IssueResults, FetchReport), Error> {
        use std::sync::atomic::Ordering;
        let cache = self
            .cache
            .as_ref()
            .filter(|_| !self.cache_dropped.load(Ordering::Relaxed));
        let (results, report) =
            jira_batch::fetch_issues(&self.direct, cache, &self.batch, keys, fields, expand)
                .await?;
        if report.cache_failure.is_some() {
            self.cache_dropped.store(true, Ordering::Relaxed);
        }
        Ok((results, report))
    }

    /// Streams the results of fetching `keys` as they become final, in `order` (cache
    /// first, then bulk fetches of 100). Write them as they come: an interrupted run keeps
    /// what it finished ([`IssueStream::stop_admitting`], [`IssueStream::not_done`]). A
    /// failing cache store is in the stream's report and left out of this client's later
    /// calls.
    pub async fn fetch_issues_stream(
        &self,
        keys: &[String],
        fields: &[&str],
        expand: &[&str],
        order: Order,
    ) -> IssueStream {
        use std::sync::atomic::Ordering;
        let cache = self
            .cache
            .clone()
            .filter(|_| !self.cache_dropped.load(Ordering::Relaxed));
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        let stream = jira_batch::fetch_issues_stream(
            self.direct.clone(),
            cache,
            &self.batch,
            keys,
            owned(fields),
            owned(expand),
            order,
        )
        .await;
        if stream.report().cache_failure.is_some() {
            self.cache_dropped.store(true, Ordering::Relaxed);
        }
        stream
    }

    /// Marks the cache failed for this client's later calls when `report` says it failed
    /// (a stream's store failure seen after its last result).
    pub fn note_fetch_report(&self, report: &FetchReport) {
        if report.cache_failure.is_some() {
            self.cache_dropped
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Every issue `jql` matches, streamed page by page (fresh, not from the cache).
    pub fn search(
        &self,
        jql: &str,
        options: SearchOptions,
    ) -> impl Stream<Item = Result<Issue, Error>> + Send + 'static {
        jira_batch::search(self.direct.clone(), jql.to_owned(), options).map_err(Error::from)
    }

    /// The pages of a search of `jql` as they come (fresh, not from the cache): for
    /// readers that want page boundaries, such as id-only censuses (`fields` empty,
    /// 5,000 ids a page).
    pub fn search_pages(
        &self,
        jql: &str,
        options: SearchOptions,
    ) -> impl Stream<Item = Result<SearchPage, Error>> + Send + 'static {
        jira_batch::search_pages(self.direct.clone(), jql.to_owned(), options).map_err(Error::from)
    }

    /// Fetches `keys` on the wire alone (no cache, no retries, no pacing), in bulk
    /// fetches of up to 100: what `diagnose` times beside one GET per key.
    pub async fn fetch_issues_on_wire(
        &self,
        keys: &[String],
        fields: &[&str],
    ) -> Result<(IssueResults, FetchReport), Error> {
        let wire = Arc::new(self.raw.clone());
        Ok(
            jira_batch::fetch_issues::<_, AnyStore>(&wire, None, &self.batch, keys, fields, &[])
                .await?,
        )
    }

    /// Creates `inputs` in bulk: one result per input, in input order.
    pub async fn create_issues(
        &self,
        inputs: Vec<IssueUpdate>,
    ) -> Vec<Result<CreatedIssue, CreateError>> {
        jira_batch::create_issues(&self.jira, &self.batch, inputs).await
    }

    /// [`JiraClient::create_issues`] with other batch sizes (`batch.create_chunk`, its
    /// concurrency): one result per input, in input order.
    pub async fn create_issues_in_chunks(
        &self,
        batch: &BatchConfig,
        inputs: Vec<IssueUpdate>,
    ) -> Vec<Result<CreatedIssue, CreateError>> {
        jira_batch::create_issues(&self.jira, batch, inputs).await
    }

    /// Warms the cache by `plan`; an error when the client has no cache.
    pub async fn warm(&self, plan: &WarmPlan) -> Result<WarmReport, Error> {
        let cache = self.cache.as_ref().ok_or_else(|| {
            Error::Config(
                "this client has no cache to warm (set cache_store to sled or a redis:// URL)"
                    .into(),
            )
        })?;
        warm(&self.direct, cache, plan).await
    }

    /// [`JiraClient::warm`], calling `progress` with the stage running and the items
    /// cached so far.
    pub async fn warm_with_progress(
        &self,
        plan: &WarmPlan,
        progress: &(dyn Fn(&str, usize) + Sync),
    ) -> Result<WarmReport, Error> {
        let cache = self.cache.as_ref().ok_or_else(|| {
            Error::Config(
                "this client has no cache to warm (set cache_store to sled or a redis:// URL)"
                    .into(),
            )
        })?;
        crate::warm::warm_with_progress(&self.direct, cache, plan, progress).await
    }

    /// Checks the site (on the wire, without retries) and the cache.
    pub async fn health(&self, options: &HealthOptions) -> HealthReport {
        check_health(&self.raw, self.cache.as_ref(), options).await
    }

    /// Whether the site refused the credentials and answered nothing else, even when the
    /// refusals came back as per-item failures (a bulk fetch, a bulk create).
    pub fn credentials_refused(&self) -> bool {
        let wire = self.wire.snapshot();
        wire.unauthorized > 0 && wire.success == 0
    }

    /// Writes cache statistics and flushes; call before the process exits.
    pub async fn close(&self) -> Result<(), Error> {
        if let Some(cache) = &self.cache {
            cache.close().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    #[test]
    fn the_builder_starts_from_the_settings_defaults() {
        let builder = JiraClient::builder("https://example.atlassian.net");
        let settings = Settings::default();
        assert_eq!(builder.retry, settings.retry_policy());
        assert_eq!(builder.timeouts, settings.timeouts());
        assert_eq!(builder.batch, settings.batch());
        assert_eq!(builder.max_in_flight, settings.max_in_flight);
        assert_eq!(
            builder.max_body_bytes as u64,
            settings.max_body_mb * 1024 * 1024
        );
        assert_eq!(builder.cache_max_bytes, settings.cache_max_mb * 1024 * 1024);
        // The one difference, on purpose: a library client writes no cache to disk
        // unless asked (`cache(..)` or `from_settings`, whose default is sled).
        assert!(matches!(builder.cache, CacheChoice::None));
    }
}

//! Builds the layers of the request path from [`Settings`]:
//! `Cached → Retrying → RateLimited → CircuitBreaker → HttpTransport`, with a [`Tally`] on
//! the wire and one on top.

use std::sync::Arc;
use std::time::Duration;

use jira_batch::BatchConfig;
use jira_cache::{AnyStore, CacheConfig, Cached, JiraCache, RedisStore, SledStore};
use jira_ratelimit::{Fallback, LimitsConfig, RateLimited, RedisBudget};
use jira_transport::{
    Auth, BoxTransport, BreakerConfig, HttpConfig, HttpTransport, PerClass, RetryPolicy, Tally,
    Timeouts, TransportExt,
};

use crate::config::Settings;
use crate::error::CliError;

/// The assembled client.
pub struct Stack {
    /// The full stack, cache on top when enabled.
    pub jira: Arc<BoxTransport>,
    /// The wire alone (counted, no retries, no pacing): for health checks, which must see
    /// failures as they are.
    pub raw: BoxTransport,
    /// What reached the wire.
    pub wire: Tally,
    /// Logical requests (above retries).
    pub logical: Tally,
    /// The cache, unless `--no-cache`.
    pub cache: Option<JiraCache<AnyStore>>,
    /// Batch settings.
    pub batch: BatchConfig,
    /// The site, as the cache namespaces it.
    pub site: String,
}

/// The auth the settings describe: Basic with an email, Bearer without.
pub fn auth(settings: &Settings) -> Result<Auth, CliError> {
    let token = settings.api_token.as_ref().ok_or_else(|| {
        CliError::usage(format!(
            "no API token for profile {:?}: set {} or JIRA_API_TOKEN (create a token at https://id.atlassian.com/manage-profile/security/api-tokens)",
            settings.profile.value,
            crate::config::token_variable(&settings.profile.value)
        ))
    })?;
    Ok(match &settings.email {
        Some(email) => Auth::Basic {
            email: email.value.clone(),
            api_token: token.value.clone(),
        },
        None => Auth::Bearer {
            token: token.value.clone(),
        },
    })
}

/// The HTTP settings: timeouts scale from the single-request read timeout.
pub fn http_config(settings: &Settings, site: &str, auth: Auth) -> HttpConfig {
    let mut config = HttpConfig::new(site, auth);
    config.max_in_flight = settings.max_in_flight.value;
    let read = Duration::from_secs(settings.timeout_secs.value);
    let defaults = Timeouts::default();
    // Keep the reference ratios between classes, anchored on the single-request read timeout.
    let scale = |d: Duration| d.mul_f64(read.as_secs_f64() / defaults.read.single.as_secs_f64());
    config.timeouts = Timeouts {
        connect: Duration::from_secs(settings.connect_timeout_secs.value),
        read: PerClass {
            single: read,
            metadata: scale(defaults.read.metadata),
            search: scale(defaults.read.search),
            bulk: scale(defaults.read.bulk),
            write: scale(defaults.read.write),
        },
        total: PerClass {
            single: scale(defaults.total.single),
            metadata: scale(defaults.total.metadata),
            search: scale(defaults.total.search),
            bulk: scale(defaults.total.bulk),
            write: scale(defaults.total.write),
        },
    };
    config
}

/// The retry policy the settings describe.
pub fn retry_policy(settings: &Settings) -> RetryPolicy {
    RetryPolicy {
        max_retries: settings.retries.value,
        base_delay: Duration::from_millis(settings.retry_base_ms.value),
        max_wait: Duration::from_secs(settings.max_wait_secs.value),
        ..RetryPolicy::default()
    }
}

/// The host (and port) of a site URL: the cache's and the budget's namespace.
pub fn site_key(site: &str) -> String {
    let rest = site.split_once("://").map_or(site, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// Opens the cache the settings describe.
pub async fn open_cache(settings: &Settings, site: &str) -> Result<JiraCache<AnyStore>, CliError> {
    let store: AnyStore = if settings.cache_store.value == "sled" {
        let dir = settings.cache_dir.value.clone();
        let wait = Duration::from_secs(settings.cache_lock_wait_secs.value);
        tokio::task::spawn_blocking(move || SledStore::open(dir, wait))
            .await
            .map_err(|e| CliError::failure(format!("cache: {e}")))??
            .into()
    } else {
        RedisStore::connect(&settings.cache_store.value, Duration::from_secs(3600))
            .await?
            .into()
    };
    let mut config = CacheConfig::new(site);
    config.profile = settings.profile.value.clone();
    config.max_size_bytes = settings.cache_max_mb.value * 1024 * 1024;
    Ok(JiraCache::open(store, config).await?)
}

/// Builds the whole stack; the cache only when `with_cache` and not `--no-cache`.
pub async fn build(settings: &Settings, with_cache: bool) -> Result<Stack, CliError> {
    let site_url = settings.require_site()?;
    let auth = auth(settings)?;
    let site = site_key(&site_url);
    let http = HttpTransport::new(http_config(settings, &site_url, auth)).map_err(|e| {
        CliError::usage(format!(
            "{e} (from site_url {:?}, {})",
            site_url,
            settings
                .site_url
                .as_ref()
                .map(|s| settings.origin(&s.source))
                .unwrap_or_default()
        ))
    })?;
    let wire = Tally::new();
    let logical = Tally::new();
    let counted = http.counted(wire.clone());
    let raw = counted.clone().boxed();
    let breaker = counted.with_circuit_breaker(site.clone(), BreakerConfig::default());
    let limits = LimitsConfig {
        max_wait: Duration::from_secs(settings.max_wait_secs.value),
        ..LimitsConfig::default()
    };
    let store = &settings.rate_limit_store.value;
    let limited = if store == "local" {
        RateLimited::new(breaker, limits).boxed()
    } else {
        let fallback = Fallback::LocalShare {
            workers: settings.rate_limit_workers.value,
        };
        let budget = RedisBudget::connect(store, &site, fallback)
            .await
            .map_err(|e| CliError::failure(format!("rate-limit store: {e}")))?;
        RateLimited::with_budget(breaker, limits, budget).boxed()
    };
    let top = limited
        .with_retries(retry_policy(settings))
        .counted(logical.clone());
    let cache = if with_cache && settings.cache_enabled {
        Some(open_cache(settings, &site).await?)
    } else {
        None
    };
    let jira = match &cache {
        Some(cache) => Cached::new(top, cache.clone()).boxed(),
        None => top.boxed(),
    };
    let batch = BatchConfig {
        max_concurrent: settings.max_concurrent.value,
        fetch_chunk: settings.batch_size.value,
        ..BatchConfig::default()
    };
    Ok(Stack {
        jira: Arc::new(jira),
        raw,
        wire,
        logical,
        cache,
        batch,
        site,
    })
}

impl Stack {
    /// An auth error when the site refused the credentials and answered nothing else, even
    /// if the refusals came back as per-item failures (a bulk fetch, a bulk create).
    pub fn refused_credentials(&self) -> Result<(), CliError> {
        let wire = self.wire.snapshot();
        if wire.unauthorized > 0 && wire.success == 0 {
            return Err(CliError::auth(
                crate::error::AUTH_HINT.replace("{status}", "401/403"),
            ));
        }
        Ok(())
    }

    /// Writes cache statistics and flushes; call before exiting.
    pub async fn close(&self) -> Result<(), CliError> {
        if let Some(cache) = &self.cache {
            cache.close().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::site_key;

    #[test]
    fn the_site_key_is_the_host() {
        assert_eq!(
            site_key("https://Your-Domain.atlassian.net/"),
            "your-domain.atlassian.net"
        );
        assert_eq!(site_key("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }
}

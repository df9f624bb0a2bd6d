//! [`ProxyConfig`]: whose credentials go upstream, what is cached, the webhook secret.

use jira_client::Secret;

/// Whose credentials a forwarded request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// Each request's own `Authorization` goes upstream; the cache keeps each
    /// credential's reads apart (the namespace a jira-ops run with the same credentials
    /// uses), the budget is the site's.
    Forward,
    /// The proxy's client holds the site's credentials; local callers present `local_key`
    /// (`Authorization: Bearer <key>`, or Basic with the key as password), and a caller
    /// presenting anything else is refused (401) rather than sent upstream as someone else.
    Held {
        /// The key local callers present.
        local_key: Secret,
    },
}

/// How the proxy treats what passes through it. Pacing, retries, the cache store and its
/// TTLs are the client's (`JiraClient`'s settings); this says what the proxy adds.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Whose credentials go upstream.
    pub credentials: Credentials,
    /// Whether enhanced-search pages are served from the cache (off: a search always
    /// reaches Jira, since its results change with every write anywhere).
    pub cache_searches: bool,
    /// Whether a caller's `Cache-Control: no-cache` (or `Pragma: no-cache`, `max-age=0`)
    /// is ignored and its reads served from the cache anyway. Off by default: the caller
    /// asked for the site. The PyPI `jira` package sends `no-cache` on every request
    /// whatever its user wants; this lets its reads share the cache.
    pub ignore_no_cache: bool,
    /// The secret of the admin-registered webhooks `POST /webhook` accepts (their
    /// `X-Hub-Signature`); `None` refuses every delivery.
    pub webhook_secret: Option<Secret>,
    /// The largest request body read from a caller, in bytes (413 past it).
    pub max_request_bytes: usize,
}

impl Default for ProxyConfig {
    /// Forwarded credentials, searches uncached, no webhooks, 64 MiB request bodies.
    fn default() -> Self {
        ProxyConfig {
            credentials: Credentials::Forward,
            cache_searches: false,
            ignore_no_cache: false,
            webhook_secret: None,
            max_request_bytes: 64 * 1024 * 1024,
        }
    }
}

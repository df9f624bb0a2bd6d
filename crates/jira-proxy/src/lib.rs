//! An HTTP proxy that speaks Jira Cloud's REST API, so every tool a team already runs (a
//! Python script on the `jira` package, a Node service on `jira.js`, an export connector)
//! shares one budget, one cache and jira-ops' manners by changing only its base URL.
//!
//! # Design
//!
//! - **The client's stack, whole.** A forwarded request becomes an
//!   [`ApiRequest::forwarded`](jira_model::ApiRequest::forwarded) (its documented path
//!   template found in the contract, so it meets the same burst bucket as jira-ops' own
//!   requests) and goes through the [`JiraClient`]'s stack: pacing learned from the
//!   server's headers, the site's budget (in-process, or shared by Redis with every other
//!   proxy and jira-ops process), the circuit breaker, retries. A request waits for the
//!   budget instead of meeting a 429; a caller sees a 429 only when the wait would pass the
//!   client's allowed wait (`max_wait_secs`), with `Retry-After` saying how long.
//! - **Writes pass through as sent.** Anything but a read is non-idempotent here and is
//!   sent again only when the server said it did nothing (a 429, a 503 with
//!   `Retry-After`); a successful write invalidates what it changed in every caller's
//!   cache ([`jira_cache::invalidations`]) and counts against the per-issue write windows.
//! - **Reads are shared.** Identical reads in flight from one credential collapse into one
//!   upstream request (answers marked `x-jira-ops-coalesced: 1`); issue, project, field and
//!   user reads are served from the cache within their TTLs (marked `x-jira-ops-cache:
//!   hit`); `Cache-Control: no-cache` goes to the site; searches are cached only when
//!   [`ProxyConfig::cache_searches`] says so.
//! - **Credentials**: each request's own `Authorization` goes upstream
//!   ([`Credentials::Forward`]) and each credential has its own cache namespace; or the
//!   client holds the token and local callers present a local key ([`Credentials::Held`]),
//!   and a caller presenting its own credentials is refused, never sent as someone else.
//!   Authorization values are marked sensitive: no log or debug output shows them.
//! - **Webhooks**: `POST /webhook` takes Jira's signed deliveries and invalidates the
//!   issues they name, once per delivery identifier.
//! - **Counted**: `GET /__proxy/stats` ([`ProxyStats`]); an access log line per request
//!   (target `jira_proxy::access`: method, path, status, time, cache, coalesced).
//! - **Files stream.** A read's answer that is not JSON (an attachment, a thumbnail) goes
//!   back as its chunks come ([`jira_model::StreamSlot`]), never shared by single flight
//!   and never held whole; redirects (Jira's 303 to a download) go back to the caller,
//!   their `Location` pointed at the proxy. JSON answers are read whole before they are
//!   passed on (the points rule counts what a body returns; the cache stores it), within
//!   the transport's `max_body_bytes`.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use jira_client::{Auth, JiraClient};
//! use jira_proxy::{Proxy, ProxyConfig};
//!
//! // Callers bring their own credentials; the client paces and caches for all of them.
//! let client = JiraClient::builder("https://your-domain.atlassian.net")
//!     .auth(Auth::None)
//!     .build()
//!     .await?;
//! let proxy = Proxy::new(client, ProxyConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! jira_proxy::serve(proxy, listener, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```

mod aliases;
mod answer;
mod config;
mod flight;
mod forward;
mod lanes;
mod stats;
mod webhook;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use jira_client::JiraClient;
use parking_lot::Mutex;

pub use answer::COALESCED_HEADER;
pub use config::{Credentials, ProxyConfig};
pub use jira_cache::CACHE_HEADER;
pub use stats::ProxyStats;

/// The path of the statistics endpoint.
pub const STATS_PATH: &str = "/__proxy/stats";
/// The path Jira's webhooks are registered at.
pub const WEBHOOK_PATH: &str = "/webhook";

/// What every handler shares.
struct Shared {
    client: Arc<JiraClient>,
    config: ProxyConfig,
    lanes: lanes::Lanes,
    flights: flight::Flights,
    aliases: aliases::Aliases,
    counters: stats::Counters,
    webhooks: Mutex<webhook::Seen>,
}

/// A proxy over one [`JiraClient`]. Cloning shares it.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy forwarding through `client`'s stack. With [`Credentials::Forward`], build
    /// the client with `Auth::None`: each request carries its caller's credentials.
    pub fn new(client: JiraClient, config: ProxyConfig) -> Self {
        let client = Arc::new(client);
        Proxy {
            shared: Arc::new(Shared {
                lanes: lanes::Lanes::new(client.clone()),
                client,
                config,
                flights: flight::Flights::default(),
                aliases: aliases::Aliases::default(),
                counters: stats::Counters::default(),
                webhooks: Mutex::default(),
            }),
        }
    }

    /// The routes: [`STATS_PATH`], [`WEBHOOK_PATH`], and every other path forwarded.
    pub fn router(&self) -> Router {
        Router::new()
            .route(STATS_PATH, get(stats_handler))
            .route(WEBHOOK_PATH, post(webhook::receive))
            .fallback(forward::forward)
            .with_state(self.shared.clone())
    }

    /// The counters so far.
    pub fn stats(&self) -> ProxyStats {
        let wire = self.shared.client.wire_tally().snapshot();
        ProxyStats::of(&self.shared.counters, wire.requests, wire.rate_limited)
    }

    /// The client the proxy forwards through.
    pub fn client(&self) -> &JiraClient {
        &self.shared.client
    }
}

async fn stats_handler(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> axum::Json<ProxyStats> {
    axum::Json(Proxy { shared }.stats())
}

/// Serves `proxy` on `listener` until `shutdown` completes, then stops accepting and lets
/// the requests in flight finish.
pub async fn serve(
    proxy: Proxy,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, proxy.router())
        .with_graceful_shutdown(shutdown)
        .await
}

//! `jira-proxy` over real HTTP: callers (reqwest, and the PyPI `jira` and npm `jira.js`
//! clients unmodified) → the proxy on 127.0.0.1:0 → jira-sim on 127.0.0.1:0. One test
//! binary, one module per area.

mod clients;
mod credentials;
mod files;
mod pacing;
mod reads;
mod redis;
mod webhooks;

use std::time::Duration;

use jira_client::{
    Auth, BudgetChoice, CacheChoice, ClientBuilder, JiraClient, LimitsConfig, RetryPolicy,
};
use jira_proxy::{Proxy, ProxyConfig, ProxyStats};
use jira_sim::{LimitConfig, SimConfig, SimHandle};

/// A tenant of 3 projects × 40 issues with `limits`.
pub async fn sim(limits: LimitConfig) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 3,
        issues_per_project: 40,
        limits,
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// A proxy serving on a free loopback port, stopped (gracefully) when dropped.
pub struct Running {
    /// The proxy.
    pub proxy: Proxy,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _cache: tempfile::TempDir,
}

impl Running {
    /// The counters, as `GET /__proxy/stats` reports them.
    pub async fn stats(&self) -> ProxyStats {
        reqwest::get(format!("{}{}", self.url, jira_proxy::STATS_PATH))
            .await
            .expect("the proxy answers")
            .json()
            .await
            .expect("stats are JSON")
    }

    /// Stops accepting and waits until the requests in flight have their answers.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served
                .await
                .expect("the server task ran")
                .expect("the server stopped cleanly");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A proxy for `sim` with a sled cache in a temporary directory, `auth` as the client's
/// own credentials (`Auth::None` to forward each caller's), waits allowed up to
/// `max_wait`.
pub async fn start_proxy(
    sim: &SimHandle,
    auth: Auth,
    config: ProxyConfig,
    max_wait: Duration,
) -> Running {
    let limits = LimitsConfig {
        max_wait,
        ..LimitsConfig::default()
    };
    start_proxy_with(sim, auth, config, limits, BudgetChoice::Local).await
}

/// [`start_proxy`] with `limits` (their `max_wait` also the retries') and `budget` (Redis
/// to share it with other proxies).
pub async fn start_proxy_with(
    sim: &SimHandle,
    auth: Auth,
    config: ProxyConfig,
    limits: LimitsConfig,
    budget: BudgetChoice,
) -> Running {
    let max_wait = limits.max_wait;
    let client = JiraClient::builder(sim.base_url())
        .auth(auth)
        .budget(budget)
        .limits(limits)
        .retry(RetryPolicy {
            max_wait,
            ..RetryPolicy::default()
        });
    start_proxy_built(client, config).await
}

/// A proxy forwarding through the client `builder` makes, with a sled cache in a
/// temporary directory.
pub async fn start_proxy_built(builder: ClientBuilder, config: ProxyConfig) -> Running {
    let cache = tempfile::tempdir().expect("a temporary directory");
    let client = builder
        .cache(CacheChoice::Sled {
            dir: cache.path().to_path_buf(),
            lock_wait: Duration::from_secs(5),
        })
        .build()
        .await
        .expect("the proxy's client builds");
    let proxy = Proxy::new(client, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let served = tokio::spawn(jira_proxy::serve(proxy.clone(), listener, async move {
        let _ = stopped.await;
    }));
    Running {
        proxy,
        url,
        stop: Some(stop),
        served: Some(served),
        _cache: cache,
    }
}

/// A forwarding proxy for `sim` (callers bring their credentials), waits up to 60 s.
pub async fn forwarding(sim: &SimHandle) -> Running {
    start_proxy(
        sim,
        Auth::None,
        ProxyConfig::default(),
        Duration::from_secs(60),
    )
    .await
}

/// A request builder for `path` on the proxy with `sim`'s credentials.
pub fn call(
    running: &Running,
    sim: &SimHandle,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let (email, token) = sim.basic_auth();
    // One client for every call (a client per call spends its time building itself).
    HTTP.get_or_init(reqwest::Client::new)
        .request(method, format!("{}{path}", running.url))
        .basic_auth(email, Some(token))
}

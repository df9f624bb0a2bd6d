//! Scenario 14: `jira-ops proxy` in front of tools that pace themselves alone (or not at
//! all). Eight client processes read issues one GET at a time, half of the keys shared
//! between them, through one proxy and then straight at a strict jira-sim, in one run;
//! two proxies on one Redis against the limit; the proxy's overhead on loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jira_client::{Auth, BudgetChoice, BurstLimits, CacheChoice, JiraClient, LimitsConfig};
use jira_ops_tests::RedisServer;
use jira_proxy::{Proxy, ProxyConfig};
use jira_sim::{BurstConfig, LimitConfig, RefusalHeaders, ResetFormat, RetryAfterFormat};
use serde::{Deserialize, Serialize};

use crate::common;
use crate::report::{Figure, Scenario};

/// Client processes.
const CLIENTS: usize = 8;
/// The strict bucket: its size and its refill a second.
const CAPACITY: f64 = 20.0;
const RATE: f64 = 50.0;

/// What one client process did (its stdout, one JSON line).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ClientRun {
    ok: u64,
    refused: u64,
    other: u64,
    seconds: f64,
}

/// `jira-ops-bench proxy-client BASE_URL KEY,KEY,...`: reads each issue one GET at a
/// time, as a self-paced tool does: a 429 waits its `Retry-After` (1 s without one) and
/// asks again. Prints a [`ClientRun`].
pub async fn client(base_url: &str, keys: &str) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut run = ClientRun::default();
    for key in keys.split(',').filter(|k| !k.is_empty()) {
        loop {
            let response = http
                .get(format!("{base_url}/rest/api/3/issue/{key}?fields=summary"))
                .basic_auth("sim@example.com", Some("sim-token"))
                .send()
                .await;
            match response {
                Ok(response) if response.status() == 429 => {
                    run.refused += 1;
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Ok(response) if response.status() == 200 => {
                    let _ = response.bytes().await;
                    run.ok += 1;
                    break;
                }
                _ => {
                    run.other += 1;
                    break;
                }
            }
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    println!("{}", serde_json::to_string(&run).unwrap_or_default());
}

/// Runs the client processes against `base_url`, each with its keys; the wall time and
/// their runs summed.
async fn clients(base_url: &str, keys: &[Vec<String>]) -> (f64, ClientRun) {
    let exe = std::env::current_exe().expect("this binary");
    let started = Instant::now();
    let children: Vec<_> = keys
        .iter()
        .map(|keys| {
            tokio::process::Command::new(&exe)
                .args(["proxy-client", base_url, &keys.join(",")])
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("a client process starts")
        })
        .collect();
    let mut total = ClientRun::default();
    for child in children {
        let output = child.wait_with_output().await.expect("the client ran");
        let run: ClientRun = serde_json::from_slice(&output.stdout).unwrap_or_default();
        total.ok += run.ok;
        total.refused += run.refused;
        total.other += run.other;
    }
    (started.elapsed().as_secs_f64(), total)
}

/// A proxy for `site` on a free port, forwarding callers' credentials, with a sled cache
/// in `cache` and `budget`; its URL.
async fn start(
    site: &str,
    cache: &std::path::Path,
    budget: BudgetChoice,
    burst: Option<f64>,
) -> (Proxy, String) {
    let mut limits = LimitsConfig {
        max_wait: Duration::from_secs(120),
        ..LimitsConfig::default()
    };
    if let Some(rate) = burst {
        limits.burst = BurstLimits {
            get: rate,
            overrides: Vec::new(),
            ..BurstLimits::default()
        };
        limits.learn_limits = false;
    }
    let client = JiraClient::builder(site)
        .auth(Auth::None)
        .budget(budget)
        .limits(limits)
        .cache(CacheChoice::Sled {
            dir: cache.to_path_buf(),
            lock_wait: Duration::from_secs(5),
        })
        .build()
        .await
        .expect("the proxy's client builds");
    let proxy = Proxy::new(client, ProxyConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(jira_proxy::serve(
        proxy.clone(),
        listener,
        std::future::pending(),
    ));
    (proxy, url)
}

/// Reads `count` issues (no cache, distinct keys) from `concurrency` tasks at `base_url`:
/// requests a second.
async fn throughput(base_url: &str, keys: &[String], count: u64, concurrency: usize) -> f64 {
    let started = Instant::now();
    let finished = reads(base_url, keys, count, concurrency, started).await;
    finished.len() as f64 / started.elapsed().as_secs_f64()
}

/// Reads `count` issues (no cache, distinct keys) from `concurrency` tasks at `base_url`:
/// when each answer came, in seconds since `started`.
async fn reads(
    base_url: &str,
    keys: &[String],
    count: u64,
    concurrency: usize,
    started: Instant,
) -> Vec<f64> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("a client");
    let next = Arc::new(AtomicU64::new(0));
    let keys = Arc::new(keys.to_vec());
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, next, keys, base) = (
                http.clone(),
                next.clone(),
                keys.clone(),
                base_url.to_owned(),
            );
            tokio::spawn(async move {
                let mut finished = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break finished;
                    }
                    let key = &keys[n as usize % keys.len()];
                    let response = http
                        .get(format!("{base}/rest/api/3/issue/{key}"))
                        .basic_auth("sim@example.com", Some("sim-token"))
                        .header("cache-control", "no-cache")
                        .send()
                        .await
                        .expect("an answer");
                    assert_eq!(response.status(), 200);
                    let _ = response.bytes().await;
                    finished.push(started.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    let mut finished = Vec::new();
    for task in tasks {
        finished.extend(task.await.expect("a task"));
    }
    finished
}

pub async fn run(quick: bool) -> Scenario {
    let per_client = if quick { 50 } else { 200 };
    let shared = per_client / 2;
    // Each client: the shared keys, then its own; distinct keys = shared + 8 × own.
    let distinct = shared + CLIENTS * (per_client - shared);
    let projects = distinct.div_ceil(100);
    let strict = LimitConfig {
        burst: Some(BurstConfig::uniform(RATE).with_capacity(CAPACITY)),
        advertise: false,
        refusal: RefusalHeaders {
            retry_after: RetryAfterFormat::Seconds,
            reset: ResetFormat::Minute,
        },
        ..LimitConfig::off()
    };
    let sim = common::sim(projects, 100, strict, 0).await;
    let all = common::keys(&sim, 100);
    let keys: Vec<Vec<String>> = (0..CLIENTS)
        .map(|c| {
            let own =
                &all[shared + c * (per_client - shared)..shared + (c + 1) * (per_client - shared)];
            all[..shared].iter().chain(own).cloned().collect()
        })
        .collect();
    let least = (distinct as f64 - CAPACITY).max(0.0) / RATE;
    let mut scenario = Scenario::new(
        14,
        &format!(
            "The proxy: {CLIENTS} client processes × {per_client} issue GETs, one at a time (half the keys shared, {distinct} distinct), against a strict jira-sim (a bucket of {CAPACITY:.0} refilled at {RATE:.0}/s, nothing announced, minute-precision reset)"
        ),
        &[
            "clients",
            "wall",
            "429s the clients saw",
            "requests the site answered",
            "429s the site sent",
            "early retries",
        ],
    );
    let cache = tempfile::tempdir().expect("a temporary directory");
    let (proxy, url) = start(sim.base_url(), cache.path(), BudgetChoice::Local, None).await;
    let (proxied_wall, proxied) = clients(&url, &keys).await;
    let site = sim.stats();
    let stats = proxy.stats();
    scenario.row(vec![
        "through one proxy".into(),
        format!("{proxied_wall:.2} s"),
        proxied.refused.to_string(),
        (site.requests - site.rate_limited).to_string(),
        site.rate_limited.to_string(),
        site.early_retries.to_string(),
    ]);
    let proxied_site = site;
    sim.reset_stats();
    let (straight_wall, straight) = clients(sim.base_url(), &keys).await;
    let site = sim.stats();
    scenario.row(vec![
        "straight at jira-sim (each honours Retry-After)".into(),
        format!("{straight_wall:.2} s"),
        straight.refused.to_string(),
        (site.requests - site.rate_limited).to_string(),
        site.rate_limited.to_string(),
        site.early_retries.to_string(),
    ]);
    sim.shutdown().await;
    scenario.figures = vec![
        Figure::exactly(
            "429s that reached the clients through the proxy",
            proxied.refused as f64,
            0.0,
        )
        .hard(),
        Figure::exactly(
            "reads that did not come back 200 through the proxy",
            (CLIENTS * per_client) as f64 - proxied.ok as f64,
            0.0,
        )
        .hard(),
        Figure::exactly(
            "early retries the proxy sent",
            proxied_site.early_retries as f64,
            0.0,
        )
        .hard(),
        Figure::at_most(
            "requests the site answered through the proxy ÷ distinct keys",
            (proxied_site.requests - proxied_site.rate_limited) as f64 / distinct as f64,
            1.0,
        )
        .hard(),
        Figure::at_most(
            "wall through the proxy ÷ the least the bucket allows",
            proxied_wall / least,
            1.15,
        ),
        Figure::info(
            "429s the clients saw straight at jira-sim",
            straight.refused as f64,
        ),
        Figure::info(
            "wall straight ÷ wall through the proxy",
            straight_wall / proxied_wall,
        ),
    ];
    scenario.notes.push(format!(
        "The least the bucket allows: ({distinct} distinct keys − the bucket's {CAPACITY:.0}) ÷ {RATE:.0}/s = {least:.2} s. Through the proxy: {} answers from the cache, {} coalesced, {} 429s absorbed (what taught the proxy the unannounced bucket).",
        stats.cache_hits, stats.coalesced, stats.absorbed_429
    ));
    redis_pair(quick, &mut scenario).await;
    overhead(quick, &mut scenario).await;
    scenario
}

/// Two proxies on one Redis, each told the limit, callers of both reading distinct issues:
/// their combined pace against the limit.
async fn redis_pair(quick: bool, scenario: &mut Scenario) {
    const LIMIT: f64 = 40.0;
    let per_proxy: usize = if quick { 150 } else { 400 };
    let redis = RedisServer::start();
    let sim = common::sim(
        (2 * per_proxy).div_ceil(100),
        100,
        LimitConfig {
            burst: Some(BurstConfig::uniform(LIMIT).with_capacity(LIMIT)),
            advertise: false,
            ..LimitConfig::off()
        },
        0,
    )
    .await;
    let all = common::keys(&sim, 100);
    let caches = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let budget = || BudgetChoice::Redis {
        url: redis.url.clone(),
        fallback: jira_client::Fallback::Fail,
    };
    let (_a, a) = start(sim.base_url(), caches[0].path(), budget(), Some(LIMIT)).await;
    let (_b, b) = start(sim.base_url(), caches[1].path(), budget(), Some(LIMIT)).await;
    let started = Instant::now();
    let halves = [
        (a, all[..per_proxy].to_vec()),
        (b, all[per_proxy..2 * per_proxy].to_vec()),
    ];
    let tasks: Vec<_> = halves
        .into_iter()
        .map(|(url, keys)| {
            tokio::spawn(async move { reads(&url, &keys, keys.len() as u64, 4, started).await })
        })
        .collect();
    let mut finished = Vec::new();
    for task in tasks {
        finished.extend(task.await.expect("a caller"));
    }
    let wall = started.elapsed().as_secs_f64();
    let site = sim.stats();
    // The pace the two hold once the bucket's first second is spent: the second half of
    // the answers over the time they took (as scenario 7 measures its workers).
    finished.sort_by(f64::total_cmp);
    let half = finished.len() / 2;
    let span = (finished[finished.len() - 1] - finished[half]).max(1e-3);
    let pace = (finished.len() - half) as f64 / span / LIMIT;
    scenario.figures.push(
        Figure::exactly(
            "429s the site sent to two proxies on one Redis",
            site.rate_limited as f64,
            0.0,
        )
        .hard(),
    );
    scenario.figures.push(Figure::at_least(
        "two proxies on one Redis: combined pace (second half) ÷ the limit, at least",
        pace,
        0.9,
    ));
    scenario.figures.push(Figure::at_most(
        "two proxies on one Redis: combined pace (second half) ÷ the limit, at most",
        pace,
        1.05,
    ));
    scenario.notes.push(format!(
        "Two proxies on one Redis, each told the limit ({LIMIT:.0}/s, not announced): {} distinct reads in {wall:.2} s, {} refused by the site.",
        site.requests, site.rate_limited
    ));
    sim.shutdown().await;
}

/// GETs through the proxy against GETs straight at jira-sim, no limits, on loopback.
/// The least a forwarder does: an axum server whose every request is sent on to `site`
/// by one shared reqwest client (method, path, query, `Authorization`), its answer read
/// and passed back. No pacing, cache, single flight or accounting: the floor a proxy on
/// this machine's loopback can reach, beside which jira-ops' proxy is measured.
async fn bare_forwarder(site: &str) -> String {
    use axum::extract::{Request, State};
    use axum::response::{IntoResponse, Response};
    async fn forward(
        State((http, site)): State<(reqwest::Client, String)>,
        request: Request,
    ) -> Response {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let mut upstream = http.request(request.method().clone(), format!("{site}{path}"));
        if let Some(auth) = request.headers().get(axum::http::header::AUTHORIZATION) {
            upstream = upstream.header(axum::http::header::AUTHORIZATION, auth.clone());
        }
        match upstream.send().await {
            Ok(answer) => {
                let status = answer.status();
                let content_type = answer
                    .headers()
                    .get(axum::http::header::CONTENT_TYPE)
                    .cloned();
                let body = answer.bytes().await.unwrap_or_default();
                let mut response = (status, body).into_response();
                if let Some(value) = content_type {
                    response
                        .headers_mut()
                        .insert(axum::http::header::CONTENT_TYPE, value);
                }
                response
            }
            Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
        }
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()
        .expect("a client");
    let router = axum::Router::new()
        .fallback(forward)
        .with_state((http, site.to_owned()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn overhead(quick: bool, scenario: &mut Scenario) {
    let count = if quick { 3_000 } else { 12_000 };
    let sim = common::sim(2, 100, LimitConfig::off(), 0).await;
    let keys = common::keys(&sim, 100);
    let cache = tempfile::tempdir().unwrap();
    // No limits on either side: the proxy's budget told so (it would pace at Atlassian's
    // defaults otherwise).
    let (_proxy, url) = start(sim.base_url(), cache.path(), BudgetChoice::Local, Some(1e9)).await;
    let bare = bare_forwarder(sim.base_url()).await;
    let paths = [sim.base_url(), url.as_str(), bare.as_str()];
    // Warm every path, then rotate which goes first.
    for path in paths {
        throughput(path, &keys, count / 10, 32).await;
    }
    let (mut ratios, mut of_bare, mut bare_ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..3 {
        let mut rates = [0.0; 3];
        for n in 0..3 {
            let at = (round + n) % 3;
            rates[at] = throughput(paths[at], &keys, count, 32).await;
        }
        let [straight, proxied, forwarded] = rates;
        eprintln!(
            "bench 14: overhead round {round}: straight {straight:.0}/s, through the proxy {proxied:.0}/s, through a bare forwarder {forwarded:.0}/s"
        );
        ratios.push(proxied / straight);
        of_bare.push(proxied / forwarded);
        bare_ratios.push(forwarded / straight);
    }
    let median = |ratios: &mut Vec<f64>| {
        ratios.sort_by(f64::total_cmp);
        ratios[1]
    };
    let list = |ratios: &[f64]| {
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let notes = format!(
        "Overhead: {count} issue GETs (Cache-Control: no-cache, 32 at a time) straight at jira-sim, through the proxy and through a bare forwarder (axum and one reqwest client, nothing else: the floor of any proxy here), in three rotating rounds. Proxy ÷ straight: {}; proxy ÷ bare forwarder: {}; bare forwarder ÷ straight: {}. Callers, proxy and simulator share this machine's two cores, so every microsecond a forwarder spends is one the simulator cannot.",
        list(&ratios),
        list(&of_bare),
        list(&bare_ratios)
    );
    scenario.figures.push(Figure::at_least(
        "GETs a second through the proxy ÷ straight at jira-sim, no limits, loopback (median of 3)",
        median(&mut ratios),
        0.85,
    ));
    scenario.figures.push(Figure::info(
        "GETs a second through the proxy ÷ through a bare forwarder (median of 3)",
        median(&mut of_bare),
    ));
    scenario.figures.push(Figure::info(
        "GETs a second through a bare forwarder ÷ straight at jira-sim (median of 3)",
        median(&mut bare_ratios),
    ));
    scenario.notes.push(notes);
    sim.shutdown().await;
}

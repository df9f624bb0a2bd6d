//! What the transport stack costs: requests per second through
//! `Retrying<CircuitBreaker<HttpTransport>>` against bare reqwest, same concurrency, same
//! jira-sim (no limits, no faults), in one run.
//!
//! Two endpoints: `GET /myself` (a small body, so the client's own cost shows) and
//! `GET /issue/{key}` (a 7 KB issue, what clients mostly fetch).
//!
//! Run: `cargo bench -p jira-transport --bench overhead`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jira_model::ApiRequest;
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use jira_transport::{
    Auth, BreakerConfig, HttpConfig, HttpTransport, RetryPolicy, Secret, Transport, TransportExt,
};

const CONCURRENCY: usize = 32;
const BATCH: u64 = 2_000;

/// Runs `count` calls of `call` on `CONCURRENCY` tasks; returns the elapsed time.
async fn drive<F, Fut>(call: F, count: u64) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let call = call.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    call().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    started.elapsed()
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime
        .block_on(SimHandle::start(SimConfig {
            projects: 2,
            issues_per_project: 100,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        }))
        .unwrap();
    let base = sim.base_url().to_owned();
    let mut config = HttpConfig::new(
        &base,
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        },
    );
    config.max_in_flight = CONCURRENCY;
    let stack = Arc::new(runtime.block_on(async {
        HttpTransport::new(config)
            .unwrap()
            .with_circuit_breaker("sim", BreakerConfig::default())
            .with_retries(RetryPolicy::default())
    }));
    let bare = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();

    let mut group = c.benchmark_group("transport_overhead");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(BATCH));
    type Endpoint = (&'static str, fn() -> ApiRequest);
    let endpoints: [Endpoint; 2] = [
        ("myself", ApiRequest::myself),
        ("issue", || ApiRequest::get_issue("APO-7", &[], &[])),
    ];
    for (name, request) in endpoints {
        let url = format!("{base}{}", request().path);
        let bare = bare.clone();
        group.bench_function(format!("bare_reqwest/{name}"), |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let bare = bare.clone();
                let url = url.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let bare = bare.clone();
                        let url = url.clone();
                        let call = move || {
                            let request = bare
                                .get(url.clone())
                                .basic_auth("sim@example.com", Some("sim-token"));
                            async move {
                                let response = request.send().await.unwrap();
                                assert!(response.status().is_success());
                                response.bytes().await.unwrap();
                            }
                        };
                        total += drive(call, BATCH).await;
                    }
                    total
                }
            })
        });
        let stack = stack.clone();
        group.bench_function(format!("full_stack/{name}"), |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let stack = stack.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let stack = stack.clone();
                        let call = move || {
                            let stack = stack.clone();
                            async move {
                                let response = stack.send(request()).await.unwrap();
                                assert!(response.is_success());
                            }
                        };
                        total += drive(call, BATCH).await;
                    }
                    total
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);

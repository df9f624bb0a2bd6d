//! How fast jira-sim answers, so that it is never the bottleneck of a client benchmark.
//!
//! One run measures, with the same reqwest client at the same concurrency:
//! - `static_baseline`: a minimal axum server answering a fixed body of the same size as an
//!   issue: the most a server on this machine can do for this client;
//! - `get_issue`: jira-sim's `GET /rest/api/3/issue/{key}` with every limit off;
//! - `search_page_100`: jira-sim's enhanced search, 100 issues a page with `*navigable`;
//! - `bulkfetch_100`: jira-sim's bulkfetch of 100 issues (elements are issues);
//! - `changelog_bulkfetch_100`: `POST /changelog/bulkfetch` of 100 issues' histories
//!   (elements are history entries);
//! - `comment_list_1000`, `worklog_list_1000`: `POST /comment/list` and `/worklog/list`
//!   of up to 1,000 ids (elements are the comments and worklogs returned);
//! - `generate_100k`: starting a simulator with 100,000 issues (data generation).
//!
//! Run: `cargo bench -p jira-sim --bench throughput`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jira_sim::{LimitConfig, SimConfig, SimHandle};

const CONCURRENCY: usize = 32;
const BATCH: u64 = 2_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sends `count` GETs to `url` (or POSTs of `body`) with `CONCURRENCY` workers; returns
/// the elapsed time.
async fn hammer(
    client: &reqwest::Client,
    url: &str,
    body: Option<&'static str>,
    count: u64,
) -> Duration {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    let request = match body {
                        Some(body) => client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body),
                        None => client.get(&url),
                    };
                    let response = request
                        .basic_auth("sim@example.com", Some("sim-token"))
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success());
                    response.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    started.elapsed()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap()
}

fn throughput(c: &mut Criterion) {
    let runtime = runtime();
    let sim = runtime
        .block_on(SimHandle::start(SimConfig {
            projects: 5,
            issues_per_project: 1_000,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        }))
        .unwrap();
    let client = client();
    let issue_url = format!("{}/rest/api/3/issue/APO-17", sim.base_url());
    let issue_body = runtime.block_on(async {
        client
            .get(&issue_url)
            .basic_auth("sim@example.com", Some("sim-token"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    let baseline_url = runtime.block_on(static_server(issue_body.clone()));

    let search_url = format!(
        "{}/rest/api/3/search/jql?jql=project%20%3D%20APO&maxResults=100&fields=*navigable",
        sim.base_url()
    );
    let bulkfetch_url = format!("{}/rest/api/3/issue/bulkfetch", sim.base_url());
    let bulkfetch_body: &'static str = Box::leak(
        serde_json::json!({
            "issueIdsOrKeys": (1..=100).map(|n| format!("BEA-{n}")).collect::<Vec<_>>(),
        })
        .to_string()
        .into_boxed_str(),
    );
    let leak = |value: serde_json::Value| -> &'static str {
        Box::leak(value.to_string().into_boxed_str())
    };
    let changelog_url = format!("{}/rest/api/3/changelog/bulkfetch", sim.base_url());
    let changelog_body = leak(serde_json::json!({
        "issueIdsOrKeys": (1..=100).map(|n| format!("COM-{n}")).collect::<Vec<_>>(),
        "maxResults": 10_000,
    }));
    // Generated comment ids are the issue id times ten plus 0..3; worklog ids alike.
    let comment_url = format!("{}/rest/api/3/comment/list?maxResults=1000", sim.base_url());
    let comment_body = leak(serde_json::json!({
        "ids": (0..1_000u64).map(|n| (10_000 + n / 3) * 10 + n % 3).collect::<Vec<_>>(),
    }));
    let worklog_url = format!("{}/rest/api/3/worklog/list", sim.base_url());
    let worklog_body = leak(serde_json::json!({
        "ids": (0..1_000u64).map(|n| (10_000 + n / 2) * 10 + n % 2).collect::<Vec<_>>(),
    }));
    // Elements per call, counted once.
    let count = |url: String, body: &'static str, pick: fn(&serde_json::Value) -> u64| {
        let client = client.clone();
        runtime.block_on(async move {
            let answer: serde_json::Value = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .basic_auth("sim@example.com", Some("sim-token"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            pick(&answer)
        })
    };
    let histories = count(changelog_url.clone(), changelog_body, |a| {
        a["issueChangeLogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["changeHistories"].as_array().unwrap().len() as u64)
            .sum()
    });
    let comments = count(comment_url.clone(), comment_body, |a| {
        a["values"].as_array().unwrap().len() as u64
    });
    let worklogs = count(worklog_url.clone(), worklog_body, |a| {
        a.as_array().unwrap().len() as u64
    });
    println!("per call: {histories} history entries, {comments} comments, {worklogs} worklogs");
    // (name, url, POST body, requests per batch, elements per request)
    let scenarios: [(&str, &str, Option<&'static str>, u64, u64); 7] = [
        ("static_baseline", &baseline_url, None, BATCH, 1),
        ("get_issue", &issue_url, None, BATCH, 1),
        ("search_page_100", &search_url, None, BATCH / 10, 100),
        (
            "bulkfetch_100",
            &bulkfetch_url,
            Some(bulkfetch_body),
            BATCH / 10,
            100,
        ),
        (
            "changelog_bulkfetch_100",
            &changelog_url,
            Some(changelog_body),
            BATCH / 20,
            histories,
        ),
        (
            "comment_list_1000",
            &comment_url,
            Some(comment_body),
            BATCH / 20,
            comments,
        ),
        (
            "worklog_list_1000",
            &worklog_url,
            Some(worklog_body),
            BATCH / 20,
            worklogs,
        ),
    ];
    let mut group = c.benchmark_group("sim_throughput");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (name, url, body, requests, elements) in scenarios {
        group.throughput(Throughput::Elements(requests * elements));
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let client = client.clone();
                let url = url.to_owned();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        total += hammer(&client, &url, body, requests).await;
                    }
                    total
                }
            })
        });
    }
    group.finish();
    println!("issue body: {} bytes", issue_body.len());

    let mut group = c.benchmark_group("sim_generate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("generate_100k", |b| {
        b.to_async(&runtime).iter(|| async {
            let sim = SimHandle::start(SimConfig {
                projects: 20,
                issues_per_project: 5_000,
                limits: LimitConfig::off(),
                ..SimConfig::default()
            })
            .await
            .unwrap();
            assert_eq!(sim.issue_count(), 100_000);
            sim.shutdown().await;
        })
    });
    group.finish();
}

/// A minimal axum server that answers every GET with `body`.
async fn static_server(body: bytes::Bytes) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/static")
}

criterion_group!(benches, throughput);
criterion_main!(benches);

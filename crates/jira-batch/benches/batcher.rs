//! What the batcher's accounting costs: 1,000 GETs through `Batcher` (one result per
//! request, in order, with progress events) against the same GETs through a bare
//! `buffer_unordered` over the same transport, both 32 at a time, against jira-sim without
//! limits. The end-to-end fetch scenarios (coalescing under Atlassian's limits, streaming
//! memory) are in `cargo xtask bench`.
//!
//! Run: `cargo bench -p jira-batch --bench batcher`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;
use jira_batch::{BatchConfig, Batcher, Progress};
use jira_model::ApiRequest;
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use jira_transport::{Auth, HttpConfig, HttpTransport, Secret, Transport};

const REQUESTS: usize = 1_000;
const CONCURRENCY: usize = 32;

fn requests() -> Vec<ApiRequest> {
    (0..REQUESTS)
        .map(|n| ApiRequest::get_issue(&format!("APO-{}", n % 100 + 1), &["summary"], &[]))
        .collect()
}

fn batcher(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime
        .block_on(SimHandle::start(SimConfig {
            projects: 1,
            issues_per_project: 100,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        }))
        .unwrap();
    let mut config = HttpConfig::new(
        sim.base_url(),
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        },
    );
    config.max_in_flight = CONCURRENCY;
    let http = Arc::new(HttpTransport::new(config).unwrap());

    let mut group = c.benchmark_group("batch_1000_gets");
    group.sample_size(10);
    group.bench_function("bare_buffer_unordered", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let ok = futures_util::stream::iter(requests())
                    .map(|request| {
                        let http = http.clone();
                        async move { http.send(request).await }
                    })
                    .buffer_unordered(CONCURRENCY)
                    .filter(|r| std::future::ready(r.as_ref().is_ok_and(|r| r.status == 200)))
                    .count()
                    .await;
                assert_eq!(ok, REQUESTS);
            })
        })
    });
    group.bench_function("batcher_with_progress", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut batch = Batcher::new(
                    http.clone(),
                    BatchConfig {
                        max_concurrent: CONCURRENCY,
                        ..BatchConfig::default()
                    },
                );
                for request in requests() {
                    batch.add(request);
                }
                let (events, mut receiver) = tokio::sync::mpsc::unbounded_channel();
                let drain = tokio::spawn(async move {
                    let mut done = 0;
                    while let Some(event) = receiver.recv().await {
                        if matches!(event, Progress::Done { .. }) {
                            done += 1;
                        }
                    }
                    done
                });
                let results = batch.run_with_progress(events).await;
                assert_eq!(results.successes(), REQUESTS);
                assert_eq!(drain.await.unwrap(), REQUESTS);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, batcher);
criterion_main!(benches);

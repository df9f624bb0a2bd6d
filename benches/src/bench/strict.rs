//! Scenario 8: a strict Jira that announces little. A burst bucket of 20 refilled at 50 a
//! second, nothing announced on successes, 20 ms latency, and each server behaviour the
//! pacing issue names (Retry-After in seconds or as an HTTP date or absent; Reset at
//! minute precision, in seconds or absent; a renew penalty), each run by the client a
//! user gets (`jira_client::JiraClient` with its defaults) beside the reference guide's
//! strategy.

use std::sync::Arc;
use std::time::Duration;

use jira_client::JiraClient;
use jira_model::{ApiRequest, BulkFetchRequest};
use jira_sim::{
    BurstConfig, LimitConfig, RefusalHeaders, ResetFormat, RetryAfterFormat, SimHandle,
};

use crate::common::{self, longest_gap, secs};
use crate::report::{Figure, Scenario};

const RATE: f64 = 50.0;
const CAPACITY: f64 = 20.0;
const LATENCY_MS: u64 = 20;
/// Concurrent tasks of the per-issue load (the bulk fetches use the client's default 10).
const TASKS: usize = 32;

/// One server behaviour.
struct Mode {
    name: &'static str,
    retry_after: RetryAfterFormat,
    reset: ResetFormat,
    renew: bool,
}

const MODES: [Mode; 4] = [
    Mode {
        name: "Retry-After: 1, Reset at minute precision",
        retry_after: RetryAfterFormat::Seconds,
        reset: ResetFormat::Minute,
        renew: false,
    },
    Mode {
        name: "the same with the renew penalty",
        retry_after: RetryAfterFormat::Seconds,
        reset: ResetFormat::Minute,
        renew: true,
    },
    Mode {
        name: "Retry-After as an HTTP date, no Reset",
        retry_after: RetryAfterFormat::HttpDate,
        reset: ResetFormat::Absent,
        renew: false,
    },
    Mode {
        name: "no Retry-After, Reset in seconds",
        retry_after: RetryAfterFormat::Absent,
        reset: ResetFormat::Seconds,
        renew: false,
    },
];

fn limits(mode: &Mode) -> LimitConfig {
    LimitConfig {
        burst: Some(BurstConfig::uniform(RATE).with_capacity(CAPACITY)),
        advertise: false,
        refusal: RefusalHeaders {
            retry_after: mode.retry_after,
            reset: mode.reset,
        },
        renew_penalty: mode.renew,
        ..LimitConfig::off()
    }
}

/// What one strategy did against one mode and workload.
struct Measured {
    wall: f64,
    done: u64,
    failures: u64,
    finished: bool,
    requests: u64,
    refused: u64,
    refused_during_wait: u64,
    early: u64,
    longest_pause: f64,
}

impl Measured {
    fn share(&self) -> f64 {
        self.refused as f64 / self.requests.max(1) as f64
    }
}

fn with_stats(
    sim: &SimHandle,
    measured: impl FnOnce(jira_sim::StatsSnapshot) -> Measured,
) -> Measured {
    measured(sim.stats())
}

async fn client(sim: &SimHandle) -> JiraClient {
    let (email, token) = sim.basic_auth();
    JiraClient::builder(sim.base_url())
        .basic_auth(email, token)
        .build()
        .await
        .expect("a client for jira-sim")
}

/// The requests of a workload: per-issue GETs of `keys`, or bulk fetches of 100.
fn requests(keys: &[String], bulk: bool) -> Vec<ApiRequest> {
    if bulk {
        keys.chunks(jira_model::BULK_FETCH_MAX_ISSUES)
            .map(|chunk| {
                ApiRequest::bulk_fetch(&BulkFetchRequest {
                    issue_ids_or_keys: chunk.to_vec(),
                    fields: vec!["summary".into()],
                    ..BulkFetchRequest::default()
                })
                .expect("a bulk fetch of at most 100 keys")
            })
            .collect()
    } else {
        keys.iter()
            .map(|key| ApiRequest::get_issue(key, &["summary"], &[]))
            .collect()
    }
}

async fn ours(sim: &SimHandle, keys: &[String], bulk: bool) -> Measured {
    sim.reset_stats();
    let client = client(sim).await;
    let requests = Arc::new(requests(keys, bulk));
    let count = requests.len();
    let tasks = if bulk {
        client.batch_config().max_concurrent
    } else {
        TASKS
    };
    let load = jira_transport::testing::load(client.uncached().clone(), count, tasks, move |n| {
        requests[n].clone()
    })
    .await;
    with_stats(sim, |stats| Measured {
        wall: load.wall.as_secs_f64(),
        done: count as u64 - load.failures,
        failures: load.failures,
        finished: true,
        requests: stats.requests,
        refused: stats.rate_limited,
        refused_during_wait: stats.refused_during_wait,
        early: stats.early_retries,
        longest_pause: longest_gap(&load.finished),
    })
}

async fn reference(sim: &SimHandle, keys: &[String], bulk: bool, deadline: Duration) -> Measured {
    sim.reset_stats();
    let requests = requests(keys, bulk)
        .into_iter()
        .map(|request| {
            let query: Vec<String> = request
                .query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let path = if query.is_empty() {
                request.path.clone()
            } else {
                format!("{}?{}", request.path, query.join("&"))
            };
            let body = request
                .body
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok());
            (request.method.clone(), path, body)
        })
        .collect();
    let run = common::reference_guide(sim, requests, deadline).await;
    with_stats(sim, |stats| Measured {
        wall: run.wall.as_secs_f64(),
        done: run.ok,
        failures: run.failed,
        finished: run.finished,
        requests: stats.requests,
        refused: stats.rate_limited,
        refused_during_wait: stats.refused_during_wait,
        early: stats.early_retries,
        longest_pause: longest_gap(&run.ended),
    })
}

/// The least time a client that knew the bucket would need: per-issue GETs drain the full
/// bucket at once, then go at the refill; bulk fetches are counted at the refill alone
/// (50 requests are barely two buckets' worth, and no client can know the bucket before
/// its first refusal, whose `Retry-After: 1` then costs a second whatever it does).
fn minimum(requests: usize, bulk: bool) -> f64 {
    let latency = LATENCY_MS as f64 / 1000.0;
    if bulk {
        requests as f64 / RATE + latency
    } else {
        (requests as f64 - CAPACITY).max(0.0) / RATE + latency
    }
}

pub async fn run(quick: bool) -> Scenario {
    let per_issue = if quick { 200 } else { 500 };
    let sim = common::sim(5, 1_000, LimitConfig::off(), LATENCY_MS).await;
    let keys = common::keys(&sim, 1_000);
    let deadline = Duration::from_secs(if quick { 30 } else { 90 });
    let mut scenario = Scenario::new(
        8,
        &format!(
            "A strict Jira: bucket {CAPACITY:.0} refilled at {RATE:.0}/s, nothing announced on successes, {LATENCY_MS} ms latency"
        ),
        &[
            "server",
            "workload",
            "strategy",
            "wall",
            "minimum",
            "wall ÷ minimum",
            "requests",
            "429 share",
            "refused during a wait",
            "early retries",
            "longest pause",
            "not done",
        ],
    );
    let modes: &[Mode] = if quick { &MODES[..2] } else { &MODES };
    let mut workloads = vec![(format!("{per_issue} per-issue GETs"), per_issue, false)];
    if !quick {
        workloads.push(("5,000 per-issue GETs".into(), 5_000, false));
    }
    workloads.push(("bulk fetches of 5,000 keys".into(), 5_000, true));
    for (m, mode) in modes.iter().enumerate() {
        sim.set_limits(limits(mode));
        for (name, count, bulk) in &workloads {
            // The long per-issue run only against the main mode.
            if *count == 5_000 && !bulk && m > 0 {
                continue;
            }
            let keys = &keys[..*count];
            let requests = if *bulk { count.div_ceil(100) } else { *count };
            let minimum = minimum(requests, *bulk);
            let rows = [
                ("jira-ops", ours(&sim, keys, *bulk).await),
                (
                    "reference guide",
                    reference(&sim, keys, *bulk, deadline).await,
                ),
            ];
            for (strategy, measured) in &rows {
                let ratio = measured.wall / minimum;
                scenario.row(vec![
                    mode.name.into(),
                    name.clone(),
                    (*strategy).into(),
                    if measured.finished {
                        format!("{:.2} s", measured.wall)
                    } else {
                        format!("unfinished at {}", secs(deadline))
                    },
                    format!("{minimum:.2} s"),
                    format!("{ratio:.3}"),
                    measured.requests.to_string(),
                    format!("{:.3}", measured.share()),
                    measured.refused_during_wait.to_string(),
                    measured.early.to_string(),
                    format!("{:.2} s", measured.longest_pause),
                    (requests as u64 - measured.done).to_string(),
                ]);
            }
            let ours = &rows[0].1;
            let ratio = ours.wall / minimum;
            let label = |what: &str| format!("{}, {name}: {what}", mode.name);
            let target = match (m, bulk) {
                (0, false) if *count == per_issue && !quick => Some(1.15),
                (1, false) if *count == per_issue && !quick => Some(1.25),
                (0, true) => Some(1.5),
                _ => None,
            };
            match target {
                Some(limit) => {
                    scenario
                        .figures
                        .push(Figure::at_most(&label("wall ÷ minimum"), ratio, limit))
                }
                None => scenario
                    .figures
                    .push(Figure::info(&label("wall ÷ minimum"), ratio)),
            }
            if m == 0 && !bulk {
                scenario
                    .figures
                    .push(Figure::at_most(&label("429 share"), ours.share(), 0.02));
                scenario.figures.push(Figure::at_most(
                    &label("longest pause (s)"),
                    ours.longest_pause,
                    2.0,
                ));
            }
            scenario.figures.push(Figure::exactly(
                &label("failures"),
                ours.failures as f64,
                0.0,
            ));
            scenario.figures.push(Figure::exactly(
                &label("early retries"),
                ours.early as f64,
                0.0,
            ));
        }
    }
    sim.shutdown().await;
    scenario.notes.push(format!(
        "The minimum: per-issue GETs take the full bucket of {CAPACITY:.0} at once, then {RATE:.0} a second; bulk fetches are counted at {RATE:.0} a second alone (see `minimum` in benches/src/bench/strict.rs), plus one {LATENCY_MS} ms latency. \"Refused during a wait\" counts refusals of requests that arrived while a Retry-After sent to the client still ran (in flight or early); \"early retries\" those sent after the client had the refusal. The reference guide: 10 workers, urllib3's Retry(total=3, backoff_factor=2) honouring a Retry-After in seconds, no pacing, stopped at the deadline. In quick mode the per-issue run is {per_issue} GETs and only the first two server modes run; the targets are judged in full mode."
    ));
    scenario
}

//! Scenario 10: `sync` of N issues with comments, changelogs and worklogs under Atlassian's
//! burst limits and jira-sim's work-proportional latency, beside the per-issue strategy of
//! the common connectors (search pages, then a changelog, comments and worklog request per
//! issue); then a re-run after 1% of the issues changed, checked against a fresh export.
//!
//! Scenario 11: peak RSS of a process syncing 200,000 issues against one syncing 20,000
//! (each in a child process, `sync-rss-child`, so its peak is its own).

use std::path::Path;
use std::time::{Duration, Instant};

use jira_batch::BatchConfig;
use jira_client::{CacheChoice, JiraClient};
use jira_sim::{BurstConfig, LimitConfig, Realism, SimConfig, SimHandle, WorkLatency};
use jira_sync::{JsonlSink, SqliteSink, SyncOptions, SyncReport};

use crate::common::{self, secs};
use crate::report::{Figure, Scenario};

/// Atlassian's default burst for POSTs (search, bulk fetch, changelog bulk fetch) and GETs.
const RATE: f64 = 100.0;
/// Units of 100 issues in flight.
const CONCURRENCY: usize = 32;

/// jira-sim's latency that grows with the answer: a tenth of Jira Cloud's per-KiB cost
/// (`WorkLatency::jira_cloud`), so that 100,000 issues run in a bench's time; the ratios
/// are what the targets judge.
fn latency() -> WorkLatency {
    WorkLatency {
        base_ms: 20,
        per_kib_ms: 0.25,
    }
}

pub(crate) async fn tenant(issues: usize, limits: bool) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 10,
        issues_per_project: issues / 10,
        limits: if limits {
            LimitConfig {
                burst: Some(BurstConfig::default()),
                ..LimitConfig::off()
            }
        } else {
            LimitConfig::off()
        },
        realism: Realism {
            worklog_settle_ms: 0,
            work_latency: if limits {
                latency()
            } else {
                WorkLatency::default()
            },
            ..Realism::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

async fn client(sim: &SimHandle) -> JiraClient {
    super::client_builder(sim)
        .max_in_flight(CONCURRENCY * 2)
        .batch(BatchConfig {
            max_concurrent: CONCURRENCY,
            ..BatchConfig::default()
        })
        .build()
        .await
        .expect("a client for jira-sim")
}

fn options(sim: &SimHandle) -> SyncOptions {
    let projects = sim.project_keys().join(", ");
    SyncOptions {
        settle: Duration::ZERO,
        ..SyncOptions::new(format!("project in ({projects})"))
    }
}

struct Run {
    wall: Duration,
    report: SyncReport,
    requests: u64,
    points: u64,
    rate_limited: u64,
}

async fn sync(sim: &SimHandle, path: &Path) -> Run {
    let client = client(sim).await;
    let mut sink = JsonlSink::open(path).expect("the sink opens");
    sim.reset_stats();
    let started = Instant::now();
    let report = jira_sync::sync(&client, &mut sink, &options(sim))
        .await
        .expect("the sync runs");
    let stats = sim.stats();
    Run {
        wall: started.elapsed(),
        report,
        requests: stats.requests,
        points: stats.points_spent,
        rate_limited: stats.rate_limited,
    }
}

/// The common connectors' strategy on `sample` issues: search pages with the fields, then
/// one changelog, one comment and one worklog request per issue (first pages only, which
/// undercounts it), 10 workers, 3 blind retries.
async fn per_issue(sim: &SimHandle, sample: usize) -> (Duration, u64, u64, u64) {
    sim.reset_stats();
    let started = Instant::now();
    let http = reqwest::Client::new();
    let (email, token) = sim.basic_auth();
    let mut ids = Vec::new();
    let mut token_next: Option<String> = None;
    while ids.len() < sample {
        let mut body = serde_json::json!({
            "jql": format!("project = {}", sim.project_keys()[0]),
            "maxResults": 100,
            "fields": ["*navigable", "comment"],
        });
        if let Some(next) = &token_next {
            body["nextPageToken"] = serde_json::json!(next);
        }
        let page: serde_json::Value = http
            .post(format!("{}/rest/api/3/search/jql", sim.base_url()))
            .basic_auth(&email, Some(&token))
            .json(&body)
            .send()
            .await
            .expect("the search answers")
            .json()
            .await
            .expect("a page");
        let issues = page["issues"].as_array().cloned().unwrap_or_default();
        ids.extend(
            issues
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned)),
        );
        token_next = page["nextPageToken"].as_str().map(str::to_owned);
        if token_next.is_none() || issues.is_empty() {
            break;
        }
    }
    ids.truncate(sample);
    let requests = ids
        .iter()
        .flat_map(|id| {
            ["changelog", "comment", "worklog"].map(|what| {
                (
                    reqwest::Method::GET,
                    format!("/rest/api/3/issue/{id}/{what}"),
                    None,
                )
            })
        })
        .collect();
    let run = common::reference_guide(sim, requests, Duration::from_secs(1800)).await;
    let stats = sim.stats();
    assert!(
        run.finished,
        "the per-issue baseline did not end within its deadline"
    );
    (
        started.elapsed(),
        stats.requests,
        stats.points_spent,
        stats.rate_limited,
    )
}

/// Changes `count` issues (a summary each), with the limits lifted so the edits are quick.
async fn change(sim: &SimHandle, count: usize) {
    sim.set_limits(LimitConfig::off());
    let keys: Vec<String> = sim
        .project_keys()
        .iter()
        .flat_map(|p| sim.issue_keys(p))
        .collect();
    let step = (keys.len() / count.max(1)).max(1);
    let chosen: Vec<String> = keys.into_iter().step_by(step).take(count).collect();
    let http = reqwest::Client::new();
    let (email, token) = sim.basic_auth();
    let base = sim.base_url().to_owned();
    futures_util::StreamExt::for_each_concurrent(futures_util::stream::iter(chosen), 16, |key| {
        let (http, email, token, base) = (http.clone(), email.clone(), token.clone(), base.clone());
        async move {
            let status = http
                .put(format!("{base}/rest/api/3/issue/{key}"))
                .basic_auth(email, Some(token))
                .json(&serde_json::json!({"fields": {"summary": format!("changed {key}")}}))
                .send()
                .await
                .expect("the edit answers")
                .status();
            assert_eq!(status, 204, "{key}");
        }
    })
    .await;
    sim.set_limits(LimitConfig {
        burst: Some(BurstConfig::default()),
        ..LimitConfig::off()
    });
}

pub async fn run(quick: bool) -> Scenario {
    let (issues, sample) = if quick {
        (5_000, 300)
    } else {
        (100_000, 2_000)
    };
    let sim = tenant(issues, true).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let (base_wall, base_requests, base_points, base_429) = per_issue(&sim, sample).await;
    let full = sync(&sim, &dir.path().join("full")).await;
    let entries = full.report.history_entries as f64;
    let worklogs = full.report.worklogs as f64;
    let n = issues as f64;
    // The least the endpoints allow, by Atlassian's points model (`jira_model::points`:
    // 1 a request, 1 an object returned): every issue, history entry and worklog returned
    // once, in the fewest requests (100 issues with their fields a call, 10,000 history
    // entries a call, 1,000 worklogs a call).
    let least_points = n
        + (n / 100.0).ceil()
        + entries
        + (entries / 10_000.0).ceil()
        + worklogs
        + (worklogs / 1_000.0).ceil();
    // The least time the limits and the latency allow: the bulk fetches and their
    // histories at the burst rate (their buckets fill side by side), plus one round trip
    // of a full page.
    let page_latency = latency().delay(100 * 7 * 1024).as_secs_f64();
    let limits_wall = Duration::from_secs_f64((n / 100.0) / RATE + page_latency);
    // What this machine needs to serve, read and store it all, with no limits and no
    // latency (jira-sim and the client share its cores): no client goes faster here.
    sim.set_limits(LimitConfig::off());
    sim.set_realism(Realism {
        worklog_settle_ms: 0,
        ..Realism::default()
    });
    let floor = sync(&sim, &dir.path().join("floor")).await;
    let _ = std::fs::remove_dir_all(dir.path().join("floor"));
    sim.set_realism(Realism {
        worklog_settle_ms: 0,
        work_latency: latency(),
        ..Realism::default()
    });
    sim.set_limits(LimitConfig {
        burst: Some(BurstConfig::default()),
        ..LimitConfig::off()
    });
    let least_wall = limits_wall.max(floor.wall);

    change(&sim, issues / 100).await;
    let path = dir.path().join("full");
    let rerun = sync(&sim, &path).await;
    let fresh = sync(&sim, &dir.path().join("fresh")).await;
    let same = common::jsonl_contents(&path) == common::jsonl_contents(&dir.path().join("fresh"));
    sim.shutdown().await;

    let per_issue_requests = base_requests as f64 / sample as f64 * n;
    let mut scenario = Scenario::new(
        10,
        &format!(
            "Sync {issues} issues with comments, changelogs and worklogs: Atlassian's burst limits, work-proportional latency"
        ),
        &[
            "run",
            "wall time",
            "HTTP requests",
            "points",
            "429s",
            "issues written",
        ],
    );
    scenario.row(vec![
        format!("(a) per-issue connector on {sample} issues"),
        secs(base_wall),
        base_requests.to_string(),
        base_points.to_string(),
        base_429.to_string(),
        sample.to_string(),
    ]);
    scenario.row(vec![
        format!("(a) scaled to {issues} issues"),
        secs(Duration::from_secs_f64(
            base_wall.as_secs_f64() / sample as f64 * n,
        )),
        format!("{per_issue_requests:.0}"),
        format!("{:.0}", base_points as f64 / sample as f64 * n),
        "".into(),
        issues.to_string(),
    ]);
    for (name, run) in [
        (
            format!(
                "(b) jira-ops sync, full ({})",
                full.report.strategy.map(|s| s.name()).unwrap_or("?")
            ),
            &full,
        ),
        (
            "(e) the same, no limits and no latency: this machine's floor".to_owned(),
            &floor,
        ),
        ("(c) re-run after 1% changed".to_owned(), &rerun),
        ("(d) a fresh full export, to compare".to_owned(), &fresh),
    ] {
        scenario.row(vec![
            name,
            secs(run.wall),
            run.requests.to_string(),
            run.points.to_string(),
            run.rate_limited.to_string(),
            run.report.issues_written.to_string(),
        ]);
    }
    scenario.figures = vec![
        Figure::at_least(
            "(a) ÷ (b): requests",
            per_issue_requests / full.requests as f64,
            50.0,
        ),
        Figure::at_most(
            "(b) points ÷ the least the endpoints allow",
            full.points as f64 / least_points,
            1.1,
        ),
        Figure::info(
            "(b) wall ÷ the least the limits alone allow",
            full.wall.as_secs_f64() / limits_wall.as_secs_f64(),
        ),
        Figure::at_most(
            "(b) wall ÷ the least the limits, latency and this machine allow",
            full.wall.as_secs_f64() / least_wall.as_secs_f64(),
            1.3,
        ),
        Figure::at_most(
            "(c) ÷ (b): requests",
            rerun.requests as f64 / full.requests as f64,
            0.02,
        ),
        Figure::exactly("(b) issues written", full.report.issues_written as f64, n),
        Figure::exactly(
            "(c) issues written",
            rerun.report.issues_written as f64,
            (issues / 100) as f64,
        ),
        Figure::exactly(
            "(c) sink equals (d) fresh export",
            f64::from(u8::from(same)),
            1.0,
        ),
    ];
    scenario.notes.push(format!(
        "Latency: jira-sim's work-proportional latency at {} ms + {} ms per KiB (a tenth of `WorkLatency::jira_cloud`'s per-KiB cost, so the scenario runs in minutes); {CONCURRENCY} units of 100 issues in flight. The per-issue connector runs on {sample} issues of one project and is scaled linearly (its requests are per issue; only first pages are counted, which flatters it). The least points: each issue, history entry and worklog returned once plus one point a request at the fewest requests; the least wall time: {:.0} bulk fetches at {RATE:.0} a second plus one page's latency ({page_latency:.2} s), or (e) when this machine cannot go that fast: (e) is the same sync with the limits and the latency off, jira-sim and the client sharing the machine's cores. Sink equality compares, per live issue, `updated` and the counts of history entries, comments and worklogs.",
        latency().base_ms,
        latency().per_kib_ms,
        n / 100.0,
    ));
    scenario.notes.push(format!(
        "(b)'s plan: {}. (d)'s plan: {}.",
        full.report.reason, fresh.report.reason
    ));
    scenario
}

/// The child: syncs every issue of the tenant at `base_url` into a new SQLite file (or,
/// with `sink` = `jsonl`, JSON Lines files) in `dir` (or the PostgreSQL database `sink`
/// names, `postgres://...`), by `strategy` (`plan`: the one the plan chooses, with its
/// concurrency and its memory budget; a way named: with the budget held at
/// [`jira_sync::MEMORY_BUDGET_FLOOR`], since the plan sizes it from the latency it
/// measures), prints its VmHWM (kB).
pub async fn child(base_url: &str, projects: &str, dir: &str, sink: &str, strategy: &str) {
    let client = JiraClient::builder(base_url)
        .basic_auth("sim@example.com", "sim-token")
        .cache(CacheChoice::None)
        .build()
        .await
        .expect("a client");
    let mut sink: Box<dyn jira_sync::Sink> = if sink == "jsonl" {
        Box::new(JsonlSink::open(Path::new(dir).join("memory")).expect("the sink opens"))
    } else if sink.starts_with("postgres://") {
        Box::new(jira_sync::PostgresSink::open(sink).expect("the sink opens"))
    } else {
        Box::new(SqliteSink::open(Path::new(dir).join("memory.db")).expect("the sink opens"))
    };
    let report = jira_sync::sync(
        &client,
        &mut *sink,
        &SyncOptions {
            settle: Duration::ZERO,
            strategy: match strategy {
                "plan" => None,
                name => Some(name.parse().expect("a strategy")),
            },
            memory_budget: match strategy {
                "plan" => jira_sync::MEMORY_BUDGET,
                _ => jira_sync::MEMORY_BUDGET_FLOOR,
            },
            ..SyncOptions::new(format!("project in ({projects})"))
        },
    )
    .await
    .expect("the sync runs");
    std::hint::black_box(&report);
    println!("{}", common::proc_status_kb("VmHWM"));
}

async fn peak_rss_kb(sim: &SimHandle, sink: &str, strategy: &str) -> u64 {
    let dir = tempfile::tempdir().expect("a temp dir");
    common::child_peak_rss_kb(&[
        "sync-rss-child",
        sim.base_url(),
        &sim.project_keys().join(", "),
        dir.path().to_str().expect("a UTF-8 path"),
        sink,
        strategy,
    ])
    .await
}

pub async fn memory(quick: bool) -> Scenario {
    let (small, large) = if quick {
        (2_000, 20_000)
    } else {
        (20_000, 200_000)
    };
    let mut kb = Vec::new();
    for issues in [small, large] {
        let sim = tenant(issues, false).await;
        kb.push((
            peak_rss_kb(&sim, "sqlite", "ids").await,
            peak_rss_kb(&sim, "jsonl", "ids").await,
            peak_rss_kb(&sim, "sqlite", "plan").await,
        ));
        sim.shutdown().await;
    }
    let mut scenario = Scenario::new(
        11,
        "Memory: peak RSS of a process syncing (histories, comments, worklogs)",
        &[
            "issues synced",
            "peak RSS, into SQLite (ids)",
            "peak RSS, into JSON Lines (ids)",
            "peak RSS, into SQLite (the plan's choice)",
        ],
    );
    for (issues, (sqlite, jsonl, planned)) in [small, large].iter().zip(&kb) {
        scenario.row(vec![
            issues.to_string(),
            format!("{sqlite} kB"),
            format!("{jsonl} kB"),
            format!("{planned} kB"),
        ]);
    }
    scenario.figures = vec![
        Figure::at_most(
            &format!("SQLite: peak RSS {large} ÷ {small}"),
            kb[1].0 as f64 / kb[0].0.max(1) as f64,
            1.2,
        ),
        Figure::at_most(
            &format!("JSON Lines: peak RSS {large} ÷ {small}"),
            kb[1].1 as f64 / kb[0].1.max(1) as f64,
            1.2,
        ),
    ];
    scenario.notes.push(format!(
        "Each run is a child process (its VmHWM); the binaries use mimalloc (glibc's allocator kept an arena per thread of a long run, and resident memory grew with the run's length). The figures hold the way of reading fixed (`ids`) and the memory budget at {} MiB of results between the wire and the sink: memory is the units in flight and that budget. The plan's choice (last column) sizes both (up to {} MiB) by the latency it measures, the least round trip of its answers: jira-sim's first count of a large tenant is slow (its JQL scans every issue), and a plan that took that one answer for the site's latency put 1.4–2.9 times the units in flight at 200,000 issues (14–29 against 10).",
        jira_sync::MEMORY_BUDGET_FLOOR >> 20,
        jira_sync::MEMORY_BUDGET >> 20,
    ));
    scenario
}

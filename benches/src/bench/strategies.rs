//! Scenario 13: the sync's three ways to read a window at Jira Cloud's latency
//! (`WorkLatency::jira_cloud`: 150 ms plus 2.5 ms per KiB) under Atlassian's burst limits:
//! what the plan estimated for each beside what each took, the way the default took
//! beside the fastest and the least the limits and the latency allow; and beside them a
//! Singer-style export connector on the same tenant (search pages of 50 with
//! `expand=changelog`, comments from the issue, worklogs from the feed), with how much of
//! the histories, comments and worklogs it got.

use std::time::{Duration, Instant};

use jira_client::JiraClient;
use jira_sim::{BurstConfig, LimitConfig, Realism, SimConfig, SimHandle, WorkLatency};
use jira_sync::{EmptySink, JsonlSink, Strategy, SyncOptions, SyncReport};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::secs;
use crate::report::{Figure, Scenario};

/// Atlassian's default burst for POSTs (search, bulk fetch, changelog bulk fetch).
const RATE: f64 = 100.0;

async fn tenant(issues: usize, latency: WorkLatency) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 10,
        issues_per_project: issues / 10,
        limits: LimitConfig {
            burst: Some(BurstConfig::default()),
            ..LimitConfig::off()
        },
        realism: Realism {
            worklog_settle_ms: 0,
            work_latency: latency,
            ..Realism::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// A client as `jira-ops` builds one by default (no cache).
async fn client(sim: &SimHandle) -> JiraClient {
    super::client_builder(sim)
        .build()
        .await
        .expect("a client for jira-sim")
}

fn options(sim: &SimHandle, strategy: Option<Strategy>) -> SyncOptions {
    let projects = sim.project_keys().join(", ");
    SyncOptions {
        settle: Duration::ZERO,
        strategy,
        ..SyncOptions::new(format!("project in ({projects})"))
    }
}

struct Run {
    wall: Duration,
    report: SyncReport,
    requests: u64,
    points: u64,
}

async fn sync(sim: &SimHandle, strategy: Option<Strategy>) -> Run {
    let client = client(sim).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut sink = JsonlSink::open(dir.path().join("export")).expect("the sink opens");
    sim.reset_stats();
    let started = Instant::now();
    let report = jira_sync::sync(&client, &mut sink, &options(sim, strategy))
        .await
        .expect("the sync runs");
    let stats = sim.stats();
    Run {
        wall: started.elapsed(),
        report,
        requests: stats.requests,
        points: stats.points_spent,
    }
}

/// What the connector got and what the site holds.
#[derive(Default)]
struct Connector {
    wall: Duration,
    requests: u64,
    histories: (u64, u64),
    comments: (u64, u64),
    worklogs: (u64, u64),
}

/// `method` on `path` with `body`, as the connector's HTTP client sends it; the JSON answer.
async fn call(
    http: &reqwest::Client,
    sim: &SimHandle,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Value {
    let (email, token) = sim.basic_auth();
    let mut request = http
        .request(method, format!("{}{path}", sim.base_url()))
        .basic_auth(email, Some(token));
    if let Some(body) = body {
        request = request.json(body);
    }
    request
        .send()
        .await
        .expect("jira-sim answers")
        .json()
        .await
        .expect("JSON")
}

/// The Singer-style connector: one stream after the other, each paged in order: issues
/// (search pages of 50, `expand=changelog`, comments from the issue's field), then the
/// worklog feed (`/worklog/updated`, then `/worklog/list` 1,000 at a time). What it
/// got against what the site holds (histories' and comments' totals from the same
/// answers, worklogs from the feed itself: it is complete by construction).
async fn connector(sim: &SimHandle) -> Connector {
    let http = reqwest::Client::new();
    let jql = format!("project in ({})", sim.project_keys().join(", "));
    sim.reset_stats();
    let started = Instant::now();
    let mut out = Connector::default();
    let mut next: Option<String> = None;
    loop {
        let mut body = json!({
            "jql": jql,
            "maxResults": 50,
            "fields": ["*navigable", "comment"],
            "expand": "changelog",
        });
        if let Some(token) = &next {
            body["nextPageToken"] = json!(token);
        }
        let page = call(
            &http,
            sim,
            Method::POST,
            "/rest/api/3/search/jql",
            Some(&body),
        )
        .await;
        for issue in page["issues"].as_array().into_iter().flatten() {
            let changelog = &issue["changelog"];
            let got = changelog["histories"].as_array().map_or(0, Vec::len) as u64;
            out.histories.0 += got;
            out.histories.1 += changelog["total"].as_u64().unwrap_or(got);
            let comment = &issue["fields"]["comment"];
            let got = comment["comments"].as_array().map_or(0, Vec::len) as u64;
            out.comments.0 += got;
            out.comments.1 += comment["total"].as_u64().unwrap_or(got);
        }
        next = page["nextPageToken"].as_str().map(str::to_owned);
        if next.is_none() || page["isLast"].as_bool().unwrap_or(true) {
            break;
        }
    }
    let mut since = 0i64;
    loop {
        let page = call(
            &http,
            sim,
            Method::GET,
            &format!("/rest/api/3/worklog/updated?since={since}"),
            None,
        )
        .await;
        let ids: Vec<u64> = page["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["worklogId"].as_u64())
            .collect();
        for chunk in ids.chunks(1_000) {
            let listed = call(
                &http,
                sim,
                Method::POST,
                "/rest/api/3/worklog/list",
                Some(&json!({"ids": chunk})),
            )
            .await;
            let got = listed.as_array().map_or(0, Vec::len) as u64;
            out.worklogs.0 += got;
            out.worklogs.1 += chunk.len() as u64;
        }
        let until = page["until"].as_i64().unwrap_or(since);
        if page["lastPage"].as_bool().unwrap_or(true) || until <= since {
            break;
        }
        since = until;
    }
    out.wall = started.elapsed();
    out.requests = sim.stats().requests;
    out
}

fn share((got, all): (u64, u64)) -> f64 {
    if all == 0 {
        1.0
    } else {
        got as f64 / all as f64
    }
}

/// The tenants the plan's estimates are checked on: issues, and whether answers take
/// Jira Cloud's latency. `JIRA_OPS_BENCH_SYNC_ISSUES` (a comma-separated list of sizes)
/// replaces the sizes and `JIRA_OPS_BENCH_SYNC_LATENCY` (`local` or `cloud`) keeps one
/// latency, to look at one closely.
fn configurations(quick: bool) -> Vec<(usize, bool)> {
    let sizes: Vec<usize> = std::env::var("JIRA_OPS_BENCH_SYNC_ISSUES")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .filter(|sizes: &Vec<usize>| !sizes.is_empty())
        .unwrap_or_else(|| {
            if quick {
                vec![500]
            } else {
                vec![2_000, 10_000]
            }
        });
    let latency = std::env::var("JIRA_OPS_BENCH_SYNC_LATENCY").unwrap_or_default();
    sizes
        .into_iter()
        .flat_map(|n| [(n, false), (n, true)])
        .filter(|(_, cloud)| match latency.as_str() {
            "local" => !cloud,
            "cloud" => *cloud,
            _ => true,
        })
        .collect()
}

/// The plan's estimate against each way's wall on one tenant: rows and figures, the
/// plan, and the fastest way's wall.
async fn estimates(
    scenario: &mut Scenario,
    sim: &SimHandle,
    issues: usize,
    cloud: bool,
) -> (Vec<Figure>, jira_sync::SyncPlan, f64) {
    let planner = client(sim).await;
    let plan = jira_sync::plan(&planner, &mut EmptySink, &options(sim, None))
        .await
        .expect("the plan measures the tenant");
    let at = format!(
        "{issues} issues, {}",
        if cloud {
            "Jira Cloud's latency"
        } else {
            "local"
        }
    );
    let mut figures = Vec::new();
    let mut best = f64::INFINITY;
    for strategy in Strategy::ALL {
        let run = sync(sim, Some(strategy)).await;
        best = best.min(run.wall.as_secs_f64());
        let estimate = plan.estimate(strategy).map_or(0.0, |e| e.seconds);
        let ratio = estimate / run.wall.as_secs_f64();
        scenario.row(vec![
            format!("{at}: {}", strategy.name()),
            format!("{estimate:.2} s"),
            secs(run.wall),
            format!("{ratio:.2}"),
            run.requests.to_string(),
            run.points.to_string(),
            run.report.issues_written.to_string(),
        ]);
        figures.push(Figure::at_least(
            &format!("{at}, {}: estimate ÷ wall, at least", strategy.name()),
            ratio,
            0.67,
        ));
        figures.push(Figure::at_most(
            &format!("{at}, {}: estimate ÷ wall, at most", strategy.name()),
            ratio,
            1.5,
        ));
        figures.push(Figure::exactly(
            &format!("{at}, {}: issues written", strategy.name()),
            run.report.issues_written as f64,
            issues as f64,
        ));
    }
    scenario.notes.push(format!(
        "{at}: the plan measured the tenant with {} requests ({:.0} ms a small answer, {:.2} ms per KiB, {:.0} bytes an issue, {:.1} history entries an issue, {:.2} comment pages an issue past the embedded one) and chose {} ({}).",
        plan.requests_spent,
        plan.sample.base_ms,
        plan.sample.ms_per_byte * 1024.0,
        plan.sample.issue_bytes,
        plan.sample.history_per_issue,
        plan.sample.comment_pages_per_issue,
        plan.chosen.name(),
        plan.reason,
    ));
    (figures, plan, best)
}

pub async fn run(quick: bool) -> Scenario {
    let configurations = configurations(quick);
    let issues = configurations.last().map_or(500, |(n, _)| *n);
    let mut scenario = Scenario::new(
        13,
        &format!(
            "Sync each way, the plan's estimates, and {issues} issues at Jira Cloud's latency (150 ms + 2.5 ms per KiB) beside a connector, Atlassian's burst limits"
        ),
        &[
            "run",
            "plan's estimate",
            "wall time",
            "estimate ÷ wall",
            "HTTP requests",
            "points",
            "issues written",
        ],
    );
    let mut figures = Vec::new();
    let mut last = None;
    for (n, cloud) in configurations {
        let latency = match cloud {
            true => WorkLatency::jira_cloud(),
            false => WorkLatency::default(),
        };
        let sim = tenant(n, latency).await;
        let (more, plan, best) = estimates(&mut scenario, &sim, n, cloud).await;
        figures.extend(more);
        if n == issues && cloud {
            // The largest tenant at Jira Cloud's latency: the default and the connector.
            let default = sync(&sim, None).await;
            let connector = connector(&sim).await;
            last = Some((plan, best, default, connector));
        }
        sim.shutdown().await;
    }
    let Some((plan, best, default, connector)) = last else {
        scenario.figures = figures;
        return scenario;
    };
    let least = least(&plan, issues);
    let chosen = default.report.strategy.map_or("?", Strategy::name);
    scenario.row(vec![
        format!("the default ({chosen})"),
        String::new(),
        secs(default.wall),
        String::new(),
        default.requests.to_string(),
        default.points.to_string(),
        default.report.issues_written.to_string(),
    ]);
    scenario.row(vec![
        "Singer-style connector (pages of 50, expand=changelog)".into(),
        String::new(),
        secs(connector.wall),
        String::new(),
        connector.requests.to_string(),
        String::new(),
        String::new(),
    ]);
    figures.extend([
        Figure::at_most(
            "the default's wall ÷ the fastest way's",
            default.wall.as_secs_f64() / best,
            1.15,
        ),
        Figure::at_most(
            "the default's wall ÷ the least the limits and latency allow",
            default.wall.as_secs_f64() / least,
            1.3,
        ),
        Figure::at_least(
            "the connector's wall ÷ the default's",
            connector.wall.as_secs_f64() / default.wall.as_secs_f64(),
            8.0,
        ),
        Figure::info(
            "the connector: share of histories",
            share(connector.histories),
        ),
        Figure::info(
            "the connector: share of comments",
            share(connector.comments),
        ),
        Figure::info(
            "the connector: share of worklogs",
            share(connector.worklogs),
        ),
        Figure::exactly(
            "the default: issues written",
            default.report.issues_written as f64,
            issues as f64,
        ),
    ]);
    scenario.figures = figures;
    scenario.notes.push(format!(
        "The plan measured the tenant with {} requests ({:.0} ms a small answer, {:.2} ms per KiB, {:.0} bytes an issue, {:.1} history entries an issue) and chose {} ({}). The least the limits and latency allow ({least:.2} s): a small round trip to learn the ids, then for the best unit size (100, 50 or 25 issues, each beside its changelog page) the busier endpoint's requests past its bucket at {RATE:.0} a second, plus that unit's round trip (concurrency unbounded, processors free). jira-ops reads every history entry, comment and worklog (its sinks are checked against the site in `crates/jira-sync/tests`); the connector's shares are what its answers held of what they said there was.",
        plan.requests_spent,
        plan.sample.base_ms,
        plan.sample.ms_per_byte * 1024.0,
        plan.sample.issue_bytes,
        plan.sample.history_per_issue,
        plan.chosen.name(),
        plan.reason,
    ));
    scenario
}

/// The least wall the burst limits and the latency allow a read of `issues` issues with
/// their histories, at Jira Cloud's latency for the bytes the plan measured: one small
/// round trip to learn what to read (the ids, or a slice's bounds), then, for the best
/// unit size a read can choose (100, 50 or 25 issues a bulk fetch, with its changelog
/// page beside it), the busier endpoint's requests past its bucket (a second's worth
/// goes at once) at the burst rate, plus one unit's round trip. Concurrency is taken as
/// unbounded and this machine's processors as free: no read can be faster.
fn least(plan: &jira_sync::SyncPlan, issues: usize) -> f64 {
    let latency = |bytes: f64| WorkLatency::jira_cloud().delay(bytes as u64).as_secs_f64();
    let sample = &plan.sample;
    let n = issues as f64;
    let read = |unit: f64| {
        let fetches = (n / unit).ceil();
        let changelog_pages = (n / unit).ceil() * (unit * sample.history_per_issue / 1000.0).ceil();
        let paced = (fetches.max(changelog_pages) - RATE).max(0.0) / RATE;
        let chain = latency(unit * sample.issue_bytes).max(latency(
            (unit * sample.history_per_issue).min(1000.0) * sample.entry_bytes,
        ));
        paced + chain
    };
    latency(0.0)
        + [100.0, 50.0, 25.0]
            .map(read)
            .into_iter()
            .fold(f64::INFINITY, f64::min)
}

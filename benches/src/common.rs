//! What the scenarios share: clients for jira-sim, load generators, memory readings.

use std::sync::Arc;
use std::time::Duration;

use jira_model::ApiRequest;
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_transport::{Auth, HttpConfig, HttpTransport, Secret, Transport};

/// An HTTP transport for a simulator with its default credentials.
pub fn http(base_url: &str, max_in_flight: usize) -> HttpTransport {
    let mut config = HttpConfig::new(
        base_url,
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        },
    );
    config.max_in_flight = max_in_flight;
    HttpTransport::new(config).expect("a valid simulator URL")
}

/// A simulator with `projects × issues`, these limits and a fixed latency.
pub async fn sim(
    projects: usize,
    issues: usize,
    limits: LimitConfig,
    latency_ms: u64,
) -> SimHandle {
    let rules = if latency_ms > 0 {
        vec![FaultRule::new(
            Fault::Latency {
                fixed_ms: latency_ms,
                jitter_ms: 0,
            },
            1.0,
        )]
    } else {
        Vec::new()
    };
    SimHandle::start(SimConfig {
        projects,
        issues_per_project: issues,
        limits,
        faults: FaultConfig { rules },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// Every issue key of a simulator.
pub fn keys(sim: &SimHandle, per_project: usize) -> Vec<String> {
    sim.project_keys()
        .iter()
        .flat_map(|p| (1..=per_project).map(move |n| format!("{p}-{n}")))
        .collect()
}

pub use jira_transport::testing::Load;

/// Sends a GET for each key (cycling through `keys` until `count`) with `workers` tasks,
/// through the load generator the pacing tests use too.
pub async fn get_issues<T: Transport + 'static>(
    jira: Arc<T>,
    keys: Arc<Vec<String>>,
    count: usize,
    workers: usize,
) -> Load {
    jira_transport::testing::load(jira, count, workers, move |n| {
        ApiRequest::get_issue(&keys[n % keys.len()], &["summary"], &[])
    })
    .await
}

/// A line of `/proc/self/status` in kB (`VmHWM`, `VmRSS`); 0 where there is no procfs.
pub fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Seconds with two decimals.
pub fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

/// One request of the reference guide's strategy: method, path (with query) and JSON body.
pub type ReferenceRequest = (reqwest::Method, String, Option<serde_json::Value>);

/// What the reference guide's strategy did.
pub struct ReferenceRun {
    /// Wall time (the deadline, when it did not finish).
    pub wall: Duration,
    /// Requests that ended in a 200.
    pub ok: u64,
    /// Requests that gave up.
    pub failed: u64,
    /// Whether every request ended (succeeded or gave up) before the deadline.
    pub finished: bool,
    /// When each request ended, seconds from the start, sorted.
    pub ended: Vec<f64>,
}

/// The reference guide's strategy, as its Python does it: a pool of 10 workers, urllib3's
/// `Retry(total=3, backoff_factor=2, status_forcelist=[429, 500, 502, 503, 504])`
/// honouring `Retry-After` when it is a number of seconds (else 1 s, 2 s, 4 s), and no
/// pacing; stopped at `deadline` if it has not ended by then.
pub async fn reference_guide(
    sim: &SimHandle,
    requests: Vec<ReferenceRequest>,
    deadline: Duration,
) -> ReferenceRun {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let client = reqwest::Client::new();
    let base = sim.base_url().to_owned();
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let ended = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..10)
        .map(|_| {
            let (client, base, requests, next, ok, failed, ended) = (
                client.clone(),
                base.clone(),
                requests.clone(),
                next.clone(),
                ok.clone(),
                failed.clone(),
                ended.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some((method, path, body)) = requests.get(n) else {
                        return;
                    };
                    let mut served = false;
                    for attempt in 0..=3u32 {
                        let mut request = client
                            .request(method.clone(), format!("{base}{path}"))
                            .basic_auth("sim@example.com", Some("sim-token"));
                        if let Some(body) = body {
                            request = request.json(body);
                        }
                        let Ok(response) = request.send().await else {
                            break;
                        };
                        let status = response.status().as_u16();
                        if status == 200 {
                            let _ = response.bytes().await;
                            served = true;
                            break;
                        }
                        if attempt == 3 || ![429, 500, 502, 503, 504].contains(&status) {
                            break;
                        }
                        let wait = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_secs)
                            .unwrap_or(Duration::from_secs(1 << attempt));
                        tokio::time::sleep(wait).await;
                    }
                    if served { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
                    ended.lock().push(started.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    let aborts: Vec<_> = workers.iter().map(|w| w.abort_handle()).collect();
    let all = futures_util::future::join_all(workers);
    let finished = tokio::time::timeout(deadline, all).await.is_ok();
    // Stopped at the deadline: nothing of this run may reach the next one.
    for abort in aborts {
        abort.abort();
    }
    let wall = started.elapsed();
    let mut ended = ended.lock().clone();
    ended.sort_by(f64::total_cmp);
    ReferenceRun {
        wall,
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        finished,
        ended,
    }
}

/// The longest gap between consecutive completions (or from the start to the first).
pub fn longest_gap(ended: &[f64]) -> f64 {
    let mut previous = 0.0;
    let mut longest: f64 = 0.0;
    for &t in ended {
        longest = longest.max(t - previous);
        previous = t;
    }
    longest
}

/// What a JSON Lines export holds live, per issue (the last line of a key wins, a line
/// of a key and `deleted_at` marks its row deleted): `updated`, history entries,
/// comments, worklogs. Streams the files, reading only the keys of each line.
pub fn jsonl_contents(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<u64, (i64, usize, usize, usize)> {
    use serde::de::IgnoredAny;
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::BufRead as _;

    #[derive(serde::Deserialize)]
    struct Line {
        id: u64,
        issue_id: Option<u64>,
        updated: Option<String>,
        deleted_at: Option<String>,
        json: Option<IgnoredAny>,
    }
    fn each(dir: &std::path::Path, name: &str, mut f: impl FnMut(Line)) {
        let Ok(file) = std::fs::File::open(dir.join(name)) else {
            return;
        };
        for line in std::io::BufReader::new(file).lines() {
            let line = line.expect("the export's file reads");
            f(serde_json::from_str(&line).expect("a JSON line of the export"));
        }
    }
    let millis = |text: &str| {
        text.parse::<jira_model::JiraTimestamp>()
            .map_or(0, |t| t.unix_millis())
    };
    // Per id: (issue, updated, live), the last line winning.
    let latest = |name: &str| {
        let mut rows: BTreeMap<u64, (u64, i64, bool)> = BTreeMap::new();
        each(dir, name, |l: Line| {
            let row = rows.entry(l.id).or_insert((0, 0, true));
            row.0 = l.issue_id.unwrap_or(row.0);
            row.1 = l.updated.as_deref().map_or(row.1, millis);
            row.2 = l.deleted_at.is_none() && (l.json.is_some() || row.2);
        });
        rows
    };
    let issues = latest("issues.jsonl");
    let mut histories: BTreeSet<(u64, u64)> = BTreeSet::new();
    each(dir, "changelog.jsonl", |l: Line| {
        histories.insert((l.issue_id.unwrap_or(0), l.id));
    });
    let live_per_issue = |rows: BTreeMap<u64, (u64, i64, bool)>| {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for (issue, _, live) in rows.into_values() {
            if live {
                *counts.entry(issue).or_default() += 1;
            }
        }
        counts
    };
    let comments = live_per_issue(latest("comments.jsonl"));
    let worklogs = live_per_issue(latest("worklogs.jsonl"));
    issues
        .into_iter()
        .filter(|(_, (_, _, live))| *live)
        .map(|(id, (_, updated, _))| {
            let get = |m: &BTreeMap<u64, usize>| m.get(&id).copied().unwrap_or(0);
            let history = histories.range((id, 0)..=(id, u64::MAX)).count();
            (id, (updated, history, get(&comments), get(&worklogs)))
        })
        .collect()
}

/// Runs this binary with `args` (a child mode that prints its peak RSS last) and returns
/// that peak in kB: each measured run in a process of its own, so its peak is its own.
pub async fn child_peak_rss_kb(args: &[&str]) -> u64 {
    let output = tokio::process::Command::new(std::env::current_exe().expect("this binary"))
        .args(args)
        .output()
        .await
        .expect("the child runs");
    assert!(output.status.success(), "the child failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("the child prints its peak RSS")
}

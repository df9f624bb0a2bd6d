//! The fault cells: for each kind of trouble, a bulk fetch and a bulk create (or per-issue
//! updates) through the full stack against jira-sim, checked against the sim's counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jira_batch::{BatchConfig, Batcher, create_issues, fetch_issues};
use jira_model::{ApiRequest, ApiResponse, IssueUpdate};
use jira_ratelimit::{LimitsConfig, RateLimited};
use jira_sim::{
    Fault, FaultConfig, FaultRule, LimitConfig, PerIssueConfig, QuotaConfig, QuotaKind, SimHandle,
};
use jira_transport::{
    BreakerConfig, HttpTransport, PerClass, RetryPolicy, Timeouts, Transport, TransportExt,
};
use serde_json::json;

use crate::common::{self, proc_status_kb, secs};
use crate::report::{Figure, Scenario};

/// The read timeout every cell runs with; hangs are longer.
const READ_TIMEOUT: Duration = Duration::from_millis(1_000);
const TOTAL_TIMEOUT: Duration = Duration::from_millis(3_000);

/// Records the longest time any attempt took, answered or not.
struct Timed<T> {
    inner: T,
    longest_ms: Arc<AtomicU64>,
}

impl<T: Transport> Transport for Timed<T> {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, jira_transport::Error> {
        let started = Instant::now();
        let outcome = self.inner.send(request).await;
        self.longest_ms
            .fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        outcome
    }
}

struct Cell {
    name: &'static str,
    faults: Vec<FaultRule>,
    limits: LimitConfig,
    /// Per-issue updates instead of bulk creates.
    updates: bool,
}

impl Cell {
    /// Whether the server must have answered with trouble: every fault cell, and the quota
    /// cell (the client cannot know the quota before the first 429). The per-issue limits
    /// are known to the client, which paces under them, so there none may come.
    fn expects_trouble(&self) -> bool {
        !self.updates
    }
}

fn five_xx(share: f64) -> Vec<FaultRule> {
    [500, 502, 503, 504]
        .into_iter()
        .map(|status| FaultRule::new(Fault::Status { status }, share / 4.0))
        .collect()
}

fn cells() -> Vec<Cell> {
    let plain = LimitConfig::off();
    vec![
        Cell {
            name: "5xx at 10%",
            faults: five_xx(0.10),
            limits: plain.clone(),
            updates: false,
        },
        Cell {
            name: "5xx at 30%",
            faults: five_xx(0.30),
            limits: plain.clone(),
            updates: false,
        },
        Cell {
            name: "connection resets (5%)",
            faults: vec![FaultRule::new(Fault::Reset, 0.05)],
            limits: plain.clone(),
            updates: false,
        },
        Cell {
            name: "hangs past the read timeout (3%)",
            faults: vec![FaultRule::new(Fault::Hang { ms: 4_000 }, 0.03)],
            limits: plain.clone(),
            updates: false,
        },
        Cell {
            name: "truncated bodies (5%)",
            faults: vec![FaultRule::new(Fault::Truncated, 0.05)],
            limits: plain.clone(),
            updates: false,
        },
        Cell {
            name: "malformed bodies (5%)",
            faults: vec![FaultRule::new(Fault::Malformed, 0.05)],
            limits: plain.clone(),
            updates: false,
        },
        Cell {
            name: "503 with Retry-After (10%)",
            faults: vec![FaultRule::new(
                Fault::Unavailable {
                    retry_after_secs: 1,
                },
                0.10,
            )],
            limits: plain.clone(),
            updates: false,
        },
        Cell {
            name: "quota exhausted, hourly reset every 10 s",
            faults: Vec::new(),
            // Sized in `run_cell` to half of what the cell spends.
            limits: LimitConfig {
                quota: Some(QuotaConfig {
                    points_per_hour: 0,
                    kind: QuotaKind::Tenant,
                }),
                time_scale: 360.0,
                ..LimitConfig::off()
            },
            updates: false,
        },
        Cell {
            name: "per-issue write limits",
            faults: Vec::new(),
            limits: LimitConfig {
                per_issue_writes: Some(PerIssueConfig::default()),
                ..LimitConfig::off()
            },
            updates: true,
        },
    ]
}

fn http(sim: &SimHandle) -> HttpTransport {
    let mut config = jira_transport::HttpConfig::new(
        sim.base_url(),
        jira_transport::Auth::Basic {
            email: "sim@example.com".into(),
            api_token: jira_transport::Secret::new("sim-token"),
        },
    );
    config.max_in_flight = 32;
    config.timeouts = Timeouts {
        connect: Duration::from_millis(500),
        read: PerClass::uniform(READ_TIMEOUT),
        total: PerClass::uniform(TOTAL_TIMEOUT),
    };
    HttpTransport::new(config).expect("a valid URL")
}

fn issue(summary: &str) -> IssueUpdate {
    let mut issue = IssueUpdate::default();
    issue.fields.insert("project".into(), json!({"key": "APO"}));
    issue
        .fields
        .insert("issuetype".into(), json!({"name": "Task"}));
    issue.fields.insert("summary".into(), json!(summary));
    issue
}

struct Outcome {
    keys: usize,
    fetched: usize,
    fetch_failed: usize,
    writes: usize,
    written: usize,
    refused: usize,
    not_sent: usize,
    unknown: usize,
    duplicates: u64,
    early_retries: u64,
    requests: u64,
    troubles: u64,
    longest: Duration,
    rss_kb: u64,
    wall: Duration,
}

/// Keys per bulk fetch and issues per bulk create: small, so that a cell sends hundreds of
/// requests and every fault fires many times (in quick mode too: 500 keys by 2 and 50
/// creates one by one are 300 requests, so even a 3% fault fires with odds of 10,000 to 1).
fn chunks(quick: bool) -> (usize, usize) {
    if quick { (2, 1) } else { (10, 5) }
}

async fn run_cell(
    cell: &Cell,
    keys_per_project: usize,
    writes: usize,
    round: usize,
    (fetch_chunk, create_chunk): (usize, usize),
) -> Outcome {
    let mut limits = cell.limits.clone();
    if let Some(quota) = &mut limits.quota {
        // Half of what the fetch alone costs (a point a request, a point an issue): the
        // quota runs out at least once.
        let keys = keys_per_project * 5;
        quota.points_per_hour = ((keys + keys / fetch_chunk) / 2) as u64;
    }
    let sim = common::sim(5, keys_per_project, limits, 0).await;
    sim.set_faults(FaultConfig {
        rules: cell.faults.clone(),
    });
    let keys = common::keys(&sim, keys_per_project);
    let longest = Arc::new(AtomicU64::new(0));
    let timed = Timed {
        inner: http(&sim),
        longest_ms: longest.clone(),
    };
    let jira = Arc::new(
        RateLimited::new(
            timed.with_circuit_breaker("soak", BreakerConfig::default()),
            LimitsConfig::default(),
        )
        .with_retries(RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        }),
    );
    let config = BatchConfig {
        max_concurrent: 16,
        fetch_chunk,
        create_chunk,
        ..BatchConfig::default()
    };
    let started = Instant::now();
    let (results, _) =
        fetch_issues::<_, jira_cache::SledStore>(&jira, None, &config, &keys, &["summary"], &[])
            .await
            .expect("the fetch runs");
    let fetched = results.iter().filter(|(_, r)| r.is_ok()).count();
    let (written, refused, not_sent, unknown) = if cell.updates {
        // Writes to two issues: 25 (quick) or 100 each, past the per-issue windows.
        let mut batcher = Batcher::new(jira.clone(), config.clone());
        for n in 0..writes {
            let mut update = IssueUpdate::default();
            update
                .fields
                .insert("summary".into(), json!(format!("soak {round} update {n}")));
            let key = format!("BEA-{}", n % 2 + 1);
            batcher.add(ApiRequest::update_issue(&key, &update).expect("a request"));
        }
        let results = batcher.run().await;
        let ok = results.successes();
        let not_sent = results
            .failures()
            .filter(|(_, e)| e.not_performed())
            .count();
        (ok, 0, not_sent, results.len() - ok - not_sent)
    } else {
        let inputs = (0..writes)
            .map(|n| issue(&format!("soak {} {round} {n}", cell.name)))
            .collect();
        let results = create_issues(&jira, &config, inputs).await;
        let created = results.iter().filter(|r| r.is_ok()).count();
        let count = |wanted: fn(&jira_batch::CreateError) -> bool| {
            results
                .iter()
                .filter(|r| r.as_ref().err().is_some_and(wanted))
                .count()
        };
        let refused = count(|e| matches!(e, jira_batch::CreateError::Refused { .. }));
        let not_sent = count(|e| matches!(e, jira_batch::CreateError::NotSent { .. }));
        (
            created,
            refused,
            not_sent,
            results.len() - created - refused - not_sent,
        )
    };
    let stats = sim.stats();
    sim.shutdown().await;
    Outcome {
        keys: keys.len(),
        fetched,
        fetch_failed: results.len() - fetched,
        writes,
        written,
        refused,
        not_sent,
        unknown,
        duplicates: stats.duplicate_creates,
        early_retries: stats.early_retries,
        requests: stats.requests,
        troubles: stats.faults.values().sum::<u64>() + stats.rate_limited,
        longest: Duration::from_millis(longest.load(Ordering::Relaxed)),
        rss_kb: proc_status_kb("VmRSS"),
        wall: started.elapsed(),
    }
}

pub async fn run(quick: bool) -> Scenario {
    let (per_project, writes) = if quick { (100, 50) } else { (1_000, 200) };
    let mut scenario = Scenario::new(
        0,
        &format!(
            "Faults: fetch {} keys and create {writes} issues (or update 2 issues {} times each) through the full stack",
            per_project * 5,
            writes / 2
        ),
        &[
            "fault",
            "requests",
            "faults + 429s sent",
            "keys: fetched / failed / accounted",
            "writes: done / refused / not sent / unknown",
            "duplicates",
            "early retries",
            "longest attempt",
            "RSS after",
            "wall",
        ],
    );
    let (mut accounted, mut duplicates, mut early, mut longest) = (true, 0, 0, Duration::ZERO);
    let mut rss = Vec::new();
    let mut every_cell_troubled = true;
    for (round, cell) in cells().iter().enumerate() {
        let outcome = tokio::time::timeout(
            Duration::from_secs(300),
            run_cell(cell, per_project, writes, round, chunks(quick)),
        )
        .await
        .unwrap_or_else(|_| panic!("the cell {:?} ran past five minutes", cell.name));
        let all_keys = outcome.fetched + outcome.fetch_failed == outcome.keys;
        let all_writes = outcome.written + outcome.refused + outcome.not_sent + outcome.unknown
            == outcome.writes;
        accounted &= all_keys && all_writes;
        duplicates += outcome.duplicates;
        early += outcome.early_retries;
        longest = longest.max(outcome.longest);
        rss.push(outcome.rss_kb);
        every_cell_troubled &= outcome.troubles > 0 || !cell.expects_trouble();
        scenario.row(vec![
            cell.name.to_owned(),
            outcome.requests.to_string(),
            outcome.troubles.to_string(),
            format!(
                "{} / {} / {}",
                outcome.fetched,
                outcome.fetch_failed,
                if all_keys { "all" } else { "NOT ALL" }
            ),
            format!(
                "{} / {} / {} / {}{}",
                outcome.written,
                outcome.refused,
                outcome.not_sent,
                outcome.unknown,
                if all_writes { "" } else { " (NOT ALL)" }
            ),
            outcome.duplicates.to_string(),
            outcome.early_retries.to_string(),
            format!("{} ms", outcome.longest.as_millis()),
            format!("{} MB", outcome.rss_kb / 1024),
            secs(outcome.wall),
        ]);
    }
    let growth_mb = (rss.iter().max().copied().unwrap_or(0) as f64 - rss[0] as f64) / 1024.0;
    scenario.figures = vec![
        Figure::exactly(
            "every key and every write accounted for (1 = yes)",
            f64::from(u8::from(accounted)),
            1.0,
        ),
        Figure::exactly(
            "every cell met its trouble (1 = yes)",
            f64::from(u8::from(every_cell_troubled)),
            1.0,
        ),
        Figure::exactly("duplicate creates", duplicates as f64, 0.0),
        Figure::exactly("early retries (sim counter)", early as f64, 0.0),
        Figure::at_most(
            "longest attempt ÷ total timeout",
            longest.as_secs_f64() / TOTAL_TIMEOUT.as_secs_f64(),
            1.1,
        )
        .hard(),
        Figure::at_most("RSS growth after the first cell (MB)", growth_mb, 64.0).hard(),
    ];
    scenario.notes.push(format!(
        "Bulk fetches of {} keys and bulk creates of {} issues, so each cell sends hundreds of requests. Timeouts: read {} ms, total {} ms; retries: 6, from 100 ms. \"Unknown\" writes are creates whose answer was lost: never resent, so never duplicated. \"Not sent\" writes never reached Jira or were refused whole (circuit open, rate limited): safe to send again. A failed key would be one whose bulk fetch still failed after the transport's retries and three tries at an undecodable body. The circuit breaker is in the stack: it opens on 5 failures in a row (sent after the latest success) or half of the last 100 outcomes. At 30% 5xx five in a row come often (0.3⁵ a request), so it opens for 30 s and the rest fails fast: keys as failed, creates as not sent (nothing reached Jira, safe to send again). The other cells must not open it.",
        chunks(quick).0,
        chunks(quick).1,
        READ_TIMEOUT.as_millis(),
        TOTAL_TIMEOUT.as_millis()
    ));
    scenario
}

//! Scenario 12: `JiraClient::apply` of field updates, transitions and comments under
//! Atlassian's write limits (burst per method, per-issue windows), beside the naive loop
//! (one request per change, 10 workers, 3 blind retries) in the same run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use jira_apply::Journal;
use jira_apply::{Change, Operation};
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use serde_json::{Map, Value, json};

use crate::report::{Figure, Scenario};

/// How many of each: (updates, transitions, comments, hot issues, updates to each hot one).
fn sizes(quick: bool) -> (usize, usize, usize, usize, usize) {
    if quick {
        (1_000, 200, 200, 4, 40)
    } else {
        (10_000, 2_000, 2_000, 10, 100)
    }
}

async fn tenant(issues: usize) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 5,
        issues_per_project: issues / 5,
        limits: LimitConfig::atlassian(),
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// The changes: updates spread over the tenant with a few hot issues taking many, then a
/// transition and two comments on issues of their own.
fn changes(sim: &SimHandle, quick: bool, tag: &str) -> Vec<Change> {
    let (updates, transitions, comments, hot, per_hot) = sizes(quick);
    let keys: Vec<String> = sim
        .project_keys()
        .iter()
        .flat_map(|p| (1..=sim.issue_count() / 5).map(move |n| format!("{p}-{n}")))
        .collect();
    let mut ops = Vec::new();
    let field = |text: String| Map::from_iter([("summary".to_owned(), json!(text))]);
    for n in 0..hot * per_hot {
        ops.push(Operation::Update {
            issue: keys[n % hot].clone(),
            fields: field(format!("{tag} hot {n}")),
            update: Map::new(),
        });
    }
    for n in hot * per_hot..updates {
        ops.push(Operation::Update {
            issue: keys[hot + (n % (keys.len() - hot))].clone(),
            fields: field(format!("{tag} {n}")),
            update: Map::new(),
        });
    }
    // Transitions and comments on issues past the updated ones' first share.
    for n in 0..transitions {
        ops.push(Operation::Transition {
            issue: keys[hot + n].clone(),
            to: if tag.ends_with('b') { "To Do" } else { "Done" }.into(),
            fields: Map::new(),
            walk: false,
        });
    }
    for n in 0..comments {
        ops.push(Operation::Comment {
            issue: keys[hot + transitions + n / 2].clone(),
            body: json!(format!("{tag} comment {n}")),
        });
    }
    ops.into_iter()
        .enumerate()
        .map(|(n, op)| Change { line: n + 1, op })
        .collect()
}

/// The naive loop: one request per change, 10 workers, each failure retried at once up to
/// 3 times; transitions by the id of the transition to the status (`41` Done, `61` Reopen
/// to To Do), read from nothing.
async fn naive(sim: &SimHandle, changes: &[Change]) -> (Duration, usize) {
    let http = reqwest::Client::new();
    let (email, token) = sim.basic_auth();
    let base = sim.base_url().to_owned();
    let started = Instant::now();
    let failed = futures_util::stream::iter(changes)
        .map(|change| {
            let (http, email, token, base) = (&http, &email, &token, &base);
            async move {
                let (method, path, body) = match &change.op {
                    Operation::Update { issue, fields, .. } => (
                        reqwest::Method::PUT,
                        format!("issue/{issue}"),
                        json!({ "fields": fields }),
                    ),
                    Operation::Transition { issue, to, .. } => (
                        reqwest::Method::POST,
                        format!("issue/{issue}/transitions"),
                        json!({"transition": {"id": if to == "Done" { "41" } else { "61" }}}),
                    ),
                    Operation::Comment { issue, body } => (
                        reqwest::Method::POST,
                        format!("issue/{issue}/comment"),
                        json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": body.as_str().unwrap_or_default()}]}]}}),
                    ),
                    _ => return 0,
                };
                for _ in 0..4 {
                    let answer = http
                        .request(method.clone(), format!("{base}/rest/api/3/{path}"))
                        .basic_auth(email, Some(token))
                        .json(&body)
                        .send()
                        .await;
                    if answer.is_ok_and(|a| a.status().is_success()) {
                        return 0;
                    }
                }
                1
            }
        })
        .buffer_unordered(10)
        .fold(0, |sum, failed| async move { sum + failed })
        .await;
    (started.elapsed(), failed)
}

/// Of 200 updated issues, how many do not hold the summary the last update of each set
/// (read with the limits off, then back on).
async fn summaries_hold(sim: &SimHandle, changes: &[Change]) -> usize {
    sim.set_limits(LimitConfig::off());
    let mut last: std::collections::HashMap<&str, &Value> = std::collections::HashMap::new();
    for change in changes {
        if let Operation::Update { issue, fields, .. } = &change.op {
            last.insert(issue, &fields["summary"]);
        }
    }
    let http = reqwest::Client::new();
    let (email, token) = sim.basic_auth();
    let mut wrong = 0;
    for (issue, summary) in last.iter().take(200) {
        let value: Value = http
            .get(format!(
                "{}/rest/api/3/issue/{issue}?fields=summary",
                sim.base_url()
            ))
            .basic_auth(&email, Some(&token))
            .send()
            .await
            .expect("jira-sim answers")
            .json()
            .await
            .expect("an issue");
        if &&value["fields"]["summary"] != summary {
            wrong += 1;
        }
    }
    sim.set_limits(LimitConfig::atlassian());
    wrong
}

fn per_issue_429s(sim: &SimHandle) -> u64 {
    sim.stats()
        .rate_limited_by_reason
        .get("jira-per-issue-on-write")
        .copied()
        .unwrap_or(0)
}

pub async fn run(quick: bool) -> Scenario {
    let (updates, transitions, comments, hot, per_hot) = sizes(quick);
    let sim = tenant(if quick { 2_000 } else { 10_000 }).await;
    let client = super::client_builder(&sim)
        .build()
        .await
        .expect("a client for jira-sim");
    let dir = tempfile::tempdir().expect("a temp dir");
    let journal = Arc::new(Mutex::new(
        Journal::open(&dir.path().join("journal.jsonl")).expect("the journal opens"),
    ));

    // jira-ops apply.
    let ours = changes(&sim, quick, "apply-a");
    let least = jira_apply::plan_at_default_limits(&ours);
    let before = sim.stats();
    let started = Instant::now();
    let report = jira_apply::apply(&client, &ours, journal.clone(), &|| false, &|_| {})
        .await
        .expect("the journal is writable");
    let wall = started.elapsed();
    let after = sim.stats();
    let our_429 = per_issue_429s(&sim);
    let our_requests = after.requests - before.requests;
    let held = report
        .results
        .iter()
        .filter(|r| r.outcome.succeeded())
        .count();
    let our_wrong = summaries_hold(&sim, &ours).await;

    // The naive loop on the same kind of file (transitions back to To Do, new texts).
    let theirs = changes(&sim, quick, "naive-b");
    let before = sim.stats();
    let (naive_wall, naive_failed) = naive(&sim, &theirs).await;
    let after = sim.stats();
    let naive_429 = per_issue_429s(&sim) - our_429;
    let naive_requests = after.requests - before.requests;
    let naive_wrong = summaries_hold(&sim, &theirs).await;
    sim.shutdown().await;

    let mut scenario = Scenario::new(
        12,
        &format!(
            "Apply: {updates} field updates, {transitions} transitions and {comments} comments under Atlassian's write limits"
        ),
        &[
            "run",
            "wall time",
            "HTTP requests",
            "per-issue 429s",
            "lines not holding",
            "summaries wrong (of 200 read back)",
        ],
    );
    scenario.row(vec![
        "(a) jira-ops apply".into(),
        format!("{:.2} s", wall.as_secs_f64()),
        our_requests.to_string(),
        our_429.to_string(),
        (ours.len() - held).to_string(),
        our_wrong.to_string(),
    ]);
    scenario.row(vec![
        "(b) naive loop: a request per change, 10 workers, 3 blind retries".into(),
        format!("{:.2} s", naive_wall.as_secs_f64()),
        naive_requests.to_string(),
        naive_429.to_string(),
        naive_failed.to_string(),
        naive_wrong.to_string(),
    ]);
    scenario.row(vec![
        "(c) the least the limits allow".into(),
        format!("{:.2} s", least.seconds),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    scenario.figures = vec![
        Figure::at_most(
            "(a) wall ÷ (c) the least the limits allow",
            wall.as_secs_f64() / least.seconds.max(0.001),
            1.15,
        ),
        Figure::exactly("(a) per-issue 429s", our_429 as f64, 0.0),
        Figure::exactly("(a) lines not holding", (ours.len() - held) as f64, 0.0),
        Figure::exactly("(a) summaries wrong", our_wrong as f64, 0.0),
        Figure::info("(b) per-issue 429s", naive_429 as f64),
        Figure::info("(b) lines not holding", naive_failed as f64),
        Figure::info("(b) summaries wrong", naive_wrong as f64),
    ];
    scenario.notes.push(format!(
        "jira-sim with Atlassian's limits (PUT and DELETE 50 a second, POST 100, GET 100; per issue 20 writes per 2 s and 100 per 30 s). {hot} hot issues take {per_hot} updates each; the other updates are spread over the tenant; each transition and each pair of comments has an issue of its own. (c): {} ({}). Transitions whose issue is already in the status are `already_so` and send no write (the least time counts them as writes). The naive loop knows the transition ids beforehand (it reads nothing) and retries any failure at once.",
        least.bound_by,
        least.writes_text()
    ));
    scenario
}

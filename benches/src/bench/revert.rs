//! Scenario 15: a migration (field updates, labels, assignments, transitions) applied
//! under Atlassian's limits, then reverted (`apply --revert`): every value it changed back
//! as it was (read from jira-sim), the revert's time beside the least its writes take at
//! the limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jira_apply::{Change, Journal, Operation, runs};
use jira_client::JiraClient;
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use serde_json::{Map, Value, json};

use crate::report::{Figure, Scenario};

/// The fields the migration changes, as compared before and after.
const FIELDS: [&str; 4] = ["summary", "labels", "assignee", "status"];

/// Each issue's value of [`FIELDS`], read through `client` (no cache).
async fn read_back(client: &JiraClient, keys: &[String]) -> HashMap<String, Map<String, Value>> {
    let (results, _) = client
        .fetch_issues(keys, &FIELDS, &[])
        .await
        .expect("a bulk fetch of the tenant");
    results
        .into_iter()
        .filter_map(|(key, issue)| issue.ok().map(|issue| (key, issue.fields)))
        .collect()
}

/// A status the workflow reaches from `status` and leaves back to it directly.
fn away_from(status: &str) -> &'static str {
    match status {
        "To Do" => "In Progress",
        "In Progress" => "In Review",
        "In Review" => "In Progress",
        _ => "To Do",
    }
}

/// The values of `a` and `b` that differ on [`FIELDS`] (labels in any order).
fn differs(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    let labels = |m: &Map<String, Value>| {
        let mut l: Vec<String> = m["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        l.sort();
        l
    };
    a["summary"] != b["summary"]
        || labels(a) != labels(b)
        || a["assignee"]["accountId"] != b["assignee"]["accountId"]
        || a["status"]["name"] != b["status"]["name"]
}

pub async fn run(quick: bool) -> Scenario {
    let issues = if quick { 250 } else { 2_500 };
    let sim = SimHandle::start(SimConfig {
        projects: 5,
        issues_per_project: issues / 5,
        limits: LimitConfig::atlassian(),
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts");
    let client = super::client_builder(&sim)
        .build()
        .await
        .expect("a client for jira-sim");
    let keys: Vec<String> = sim
        .project_keys()
        .iter()
        .flat_map(|p| (1..=issues / 5).map(move |n| format!("{p}-{n}")))
        .collect();
    let before = read_back(&client, &keys).await;
    let someone = "5b10a2844c20165700ede000";
    let migration: Vec<Change> = keys
        .iter()
        .flat_map(|key| {
            let status = before[key]["status"]["name"].as_str().unwrap_or_default();
            [
                Operation::Update {
                    issue: key.clone(),
                    fields: Map::from_iter([("summary".into(), json!(format!("Migrated {key}")))]),
                    update: Map::new(),
                },
                Operation::Label {
                    issue: key.clone(),
                    add: vec!["migrated".into()],
                    remove: Vec::new(),
                },
                Operation::Assign {
                    issue: key.clone(),
                    account_id: Some(someone.into()),
                },
                Operation::Transition {
                    issue: key.clone(),
                    to: away_from(status).into(),
                    fields: Map::new(),
                    walk: false,
                },
            ]
        })
        .enumerate()
        .map(|(n, op)| Change { line: n + 1, op })
        .collect();

    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("journal.jsonl");
    let mut journal = Journal::open(&path).expect("the journal opens");
    let ops: Vec<&Operation> = migration.iter().map(|c| &c.op).collect();
    let run = runs::start(&mut journal, "apply", &runs::digest(&ops), false).expect("a run");
    let journal = Arc::new(Mutex::new(journal));
    let migration_least = jira_apply::plan_at_default_limits(&migration);
    let started = Instant::now();
    let migrated = jira_apply::apply_run(
        &client,
        &migration,
        journal.clone(),
        &run,
        &|| false,
        &|_| {},
    )
    .await
    .expect("the journal is writable");
    let migration_wall = started.elapsed().as_secs_f64();
    runs::finish(&mut journal.lock().expect("the journal"), &run).expect("the run ends");
    let migrated_lines = migrated
        .results
        .iter()
        .filter(|r| r.outcome.succeeded())
        .count();

    // The revert: its lines from the journal, each field read, then applied as a run.
    let started = Instant::now();
    let records = Journal::read_records(&path).expect("the journal reads");
    let lines = runs::lines(&records, &run.name);
    let plan = jira_apply::revert_plan(&client, &lines, false, false)
        .await
        .expect("the revert's reads");
    let revert_ops: Vec<&Operation> = plan.changes.iter().map(|c| &c.op).collect();
    let revert_run = runs::start(
        &mut journal.lock().expect("the journal"),
        "revert",
        &runs::digest(&revert_ops),
        false,
    )
    .expect("a revert run");
    let reverted = jira_apply::apply_run(
        &client,
        &plan.changes,
        journal.clone(),
        &revert_run,
        &|| false,
        &|_| {},
    )
    .await
    .expect("the journal is writable");
    let revert_wall = started.elapsed().as_secs_f64();
    let least = jira_apply::plan_at_default_limits(&plan.changes);
    let reverted_lines = reverted
        .results
        .iter()
        .filter(|r| r.outcome.succeeded())
        .count();
    let after = read_back(&client, &keys).await;
    let not_back = keys
        .iter()
        .filter(|k| match (before.get(*k), after.get(*k)) {
            (Some(b), Some(a)) => differs(a, b),
            _ => true,
        })
        .count();
    let site = sim.stats();
    sim.shutdown().await;

    let mut scenario = Scenario::new(
        15,
        &format!(
            "Revert: a migration of {} lines ({issues} issues: summary, label, assignee, status each), then its revert",
            migration.len()
        ),
        &[
            "run",
            "lines",
            "lines holding",
            "wall time",
            "the least the limits allow",
        ],
    );
    scenario.row(vec![
        "(a) the migration (apply)".into(),
        migration.len().to_string(),
        migrated_lines.to_string(),
        format!("{migration_wall:.2} s"),
        format!("{:.2} s", migration_least.seconds),
    ]);
    scenario.row(vec![
        "(b) its revert (apply --revert)".into(),
        plan.changes.len().to_string(),
        reverted_lines.to_string(),
        format!("{revert_wall:.2} s"),
        format!("{:.2} s", least.seconds),
    ]);
    scenario.figures = vec![
        Figure::exactly(
            "issues with a value not back as it was after the revert",
            not_back as f64,
            0.0,
        ),
        Figure::exactly(
            "revert lines not holding",
            (plan.changes.len() - reverted_lines) as f64,
            0.0,
        ),
        Figure::at_most(
            "(b) revert wall ÷ the least its writes take at the limits",
            revert_wall / least.seconds.max(0.001),
            1.15,
        ),
        Figure::info(
            "(a) migration wall ÷ the least its writes take at the limits",
            migration_wall / migration_least.seconds.max(0.001),
        ),
        Figure::info("429s the site sent", site.rate_limited as f64),
    ];
    scenario.notes.push(format!(
        "jira-sim with Atlassian's limits (PUT 50 a second, POST 100, GET 100; per issue 20 writes per 2 s). Each issue gets a new summary, the label `migrated`, one assignee and a transition to a status its workflow leaves directly; the revert reads the journal's before-values, reads every changed field as it stands (another hand's edits would be left), and applies {} lines in reverse order ({}: {}). Its time includes those reads. Compared before and after: summary, labels (any order), assignee, status of every issue.",
        plan.changes.len(),
        least.bound_by,
        least.writes_text()
    ));
    scenario
}

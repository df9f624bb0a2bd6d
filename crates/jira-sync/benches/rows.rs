//! What a commit's rows cost: `Rows::build` over 100 issues of jira-sim's tenant with
//! their histories, comments and worklogs (what one unit of a sync commits), against
//! parsing each of the same entities into a `serde_json::Value` tree, the first step of
//! the build before it read its columns from a skim of the text. The sync end to end is
//! in `cargo xtask bench` (scenarios 10 and 13).
//!
//! Run: `cargo bench -p jira-sync --bench rows`.

use std::collections::{BTreeMap, HashMap};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use jira_sync::relational::Rows;
use jira_sync::{Child, SyncBatch, SyncedIssue};
use serde_json::Value;
use serde_json::value::{RawValue, to_raw_value};

const ISSUES: usize = 100;

/// POSTs `body` to `path` of the tenant, as the sim's default account.
async fn post(sim: &SimHandle, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .basic_auth("sim@example.com", Some("sim-token"))
        .json(&body)
        .send()
        .await
        .expect("jira-sim answers")
        .json()
        .await
        .expect("a JSON answer")
}

fn raw(value: &Value) -> Box<RawValue> {
    to_raw_value(value).expect("JSON")
}

/// A child of `issue_id` as a sync holds it.
fn child(value: &Value, issue_id: u64, at: &str) -> Child {
    Child {
        id: value["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_default(),
        issue_id,
        at: value[at].as_str().unwrap_or_default().to_owned(),
        json: raw(value),
    }
}

/// One unit's batch: 100 issues with every field, their embedded comments and worklogs
/// taken out as records, and their histories.
async fn batch(sim: &SimHandle) -> SyncBatch {
    let keys: Vec<String> = (1..=ISSUES).map(|n| format!("APO-{n}")).collect();
    let issues = post(
        sim,
        "/rest/api/3/issue/bulkfetch",
        serde_json::json!({"issueIdsOrKeys": keys, "fields": ["*all"]}),
    )
    .await;
    let histories = post(
        sim,
        "/rest/api/3/changelog/bulkfetch",
        serde_json::json!({"issueIdsOrKeys": keys, "maxResults": 1000}),
    )
    .await;
    let mut batch = SyncBatch::default();
    for mut issue in issues["issues"].as_array().cloned().unwrap_or_default() {
        let id: u64 = issue["id"].as_str().and_then(|id| id.parse().ok()).unwrap();
        let fields = issue["fields"].as_object_mut().unwrap();
        let comments = fields.remove("comment").unwrap_or(Value::Null);
        let worklogs = fields.remove("worklog").unwrap_or(Value::Null);
        let list = |field: &Value, name: &str| field[name].as_array().cloned().unwrap_or_default();
        batch.comments.insert(
            id,
            list(&comments, "comments")
                .iter()
                .map(|c| child(c, id, "updated"))
                .collect(),
        );
        batch.worklogs.extend(
            list(&worklogs, "worklogs")
                .iter()
                .map(|w| child(w, id, "updated")),
        );
        batch.issues.push(SyncedIssue {
            id,
            key: issue["key"].as_str().unwrap().to_owned(),
            updated_ms: 0,
            json: raw(&issue),
        });
    }
    for log in histories["issueChangeLogs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let id: u64 = log["issueId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap();
        let entries = log["changeHistories"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        batch.histories.insert(
            id,
            entries.iter().map(|e| child(e, id, "created")).collect(),
        );
    }
    batch
}

/// The JSON of `lists`' children.
fn texts(lists: &BTreeMap<u64, Vec<Child>>) -> impl Iterator<Item = &RawValue> {
    lists.values().flatten().map(|c| &*c.json)
}

/// Every entity of `batch` parsed into a `Value` tree and dropped.
fn trees(batch: &SyncBatch) -> usize {
    batch
        .issues
        .iter()
        .map(|i| &*i.json)
        .chain(texts(&batch.histories))
        .chain(texts(&batch.comments))
        .chain(batch.worklogs.iter().map(|w| &*w.json))
        .map(|json| {
            serde_json::from_str::<Value>(json.get()).map_or(0, |v| usize::from(v.is_object()))
        })
        .sum()
}

fn rows(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let batch = runtime.block_on(async {
        let sim = SimHandle::start(SimConfig {
            projects: 1,
            issues_per_project: ISSUES,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        })
        .await
        .expect("jira-sim starts");
        let batch = batch(&sim).await;
        sim.shutdown().await;
        batch
    });
    assert_eq!(batch.issues.len(), ISSUES);
    assert!(batch.comments.values().any(|c| !c.is_empty()));
    assert!(batch.histories.values().any(|h| !h.is_empty()));
    let (names, keys) = (HashMap::new(), HashMap::new());
    let built = Rows::build(&batch, &names, &keys).unwrap();
    assert_eq!(built.issues.len(), ISSUES);

    let mut group = c.benchmark_group("rows");
    group.throughput(Throughput::Bytes(batch.bytes() as u64));
    group.bench_function("Rows::build (columns from a skim of the text)", |b| {
        b.iter(|| Rows::build(&batch, &names, &keys).unwrap())
    });
    group.bench_function("baseline: each entity parsed into a Value tree", |b| {
        b.iter(|| trees(&batch))
    });
    group.finish();
}

criterion_group!(benches, rows);
criterion_main!(benches);

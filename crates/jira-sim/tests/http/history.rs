//! Workflows, history, worklogs, deletions and the realism switches, over HTTP.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use jira_sim::{LimitConfig, Realism, SimConfig, WorkLatency};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Sim, send};

async fn sim(issues_per_project: usize, realism: Realism) -> Sim {
    Sim::start(SimConfig {
        projects: 2,
        issues_per_project,
        limits: LimitConfig::off(),
        realism,
        ..SimConfig::default()
    })
    .await
}

/// An issue of `project` in `status` (by name).
async fn issue_in(sim: &Sim, project: &str, status: &str) -> String {
    let (_, page) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": format!("project = {project} AND status = \"{status}\""), "fields": ["status"], "maxResults": 1}),
        )
        .await;
    page["issues"][0]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no {status} issue in {project}: {page}"))
        .to_owned()
}

fn changelog_ids(page: &Value) -> Vec<String> {
    page["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The last entry of a changelog page.
fn last_entry(page: &Value) -> Value {
    page["values"].as_array().unwrap().last().unwrap().clone()
}

/// The fields a history entry changed, in its order.
fn changed_fields(entry: &Value) -> Vec<&str> {
    entry["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_transition_moves_the_issue_and_writes_its_history() {
    let sim = sim(60, Realism::default()).await;
    let key = issue_in(&sim, "APO", "To Do").await;
    let (_, before) = sim
        .get(&format!(
            "/rest/api/3/issue/{key}?fields=updated,statuscategorychangedate"
        ))
        .await;
    let (_, history_before) = sim.get(&format!("/rest/api/3/issue/{key}/changelog")).await;
    let total_before = history_before["total"].as_u64().unwrap();

    // From To Do: Start Progress, Done and Close are offered; Reopen is not.
    let (_, offered) = sim
        .get(&format!("/rest/api/3/issue/{key}/transitions"))
        .await;
    let names: Vec<&str> = offered["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Start Progress", "Done", "Close"]);
    tokio::time::sleep(Duration::from_millis(5)).await;

    // Close needs a resolution; Reopen is not available from To Do.
    let path = format!("/rest/api/3/issue/{key}/transitions");
    let (status, body) = sim.post(&path, &json!({"transition": {"id": "51"}})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["resolution"].is_string(), "{body}");
    let (status, _) = sim.post(&path, &json!({"transition": {"id": "61"}})).await;
    assert_eq!(status, 400);

    let (status, body) = sim
        .post(
            &path,
            &json!({"transition": {"id": "51"}, "fields": {"resolution": {"name": "Won't Do"}}}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, after) = sim
        .get(&format!(
            "/rest/api/3/issue/{key}?fields=status,resolution,updated,statuscategorychangedate"
        ))
        .await;
    assert_eq!(after["fields"]["status"]["name"], "Done");
    assert_eq!(after["fields"]["resolution"]["name"], "Won't Do");
    assert!(after["fields"]["updated"].as_str() > before["fields"]["updated"].as_str());
    assert!(
        after["fields"]["statuscategorychangedate"].as_str()
            > before["fields"]["statuscategorychangedate"].as_str()
    );
    let (_, history) = sim.get(&format!("/rest/api/3/issue/{key}/changelog")).await;
    assert_eq!(history["total"].as_u64().unwrap(), total_before + 1);
    let last = last_entry(&history);
    let fields = changed_fields(&last);
    assert_eq!(fields, ["status", "resolution"]);
    assert_eq!(last["items"][0]["fromString"], "To Do");
    assert_eq!(last["items"][0]["toString"], "Done");

    // Reopen clears the resolution.
    let (status, _) = sim.post(&path, &json!({"transition": {"id": "61"}})).await;
    assert_eq!(status, 204);
    let (_, reopened) = sim
        .get(&format!("/rest/api/3/issue/{key}?fields=status,resolution"))
        .await;
    assert_eq!(reopened["fields"]["status"]["name"], "To Do");
    assert!(reopened["fields"]["resolution"].is_null());
    // Edits and assignments are history too.
    let (status, _) = sim
        .put(
            &format!("/rest/api/3/issue/{key}"),
            &json!({"fields": {"summary": "Renamed"}}),
        )
        .await;
    assert_eq!(status, 204);
    let (_, history) = sim.get(&format!("/rest/api/3/issue/{key}/changelog")).await;
    let last = last_entry(&history);
    assert_eq!(last["items"][0]["field"], "summary");
    assert_eq!(last["items"][0]["toString"], "Renamed");
}

#[tokio::test]
async fn histories_have_a_long_tail_and_page_like_jira() {
    let sim = sim(200, Realism::default()).await;
    // Find an issue with a history past 100 entries among the first 400.
    let mut long = None;
    let mut totals = Vec::new();
    for project in ["APO", "BEA"] {
        for n in 1..=200 {
            let (_, page) = sim
                .get(&format!(
                    "/rest/api/3/issue/{project}-{n}/changelog?maxResults=1"
                ))
                .await;
            let total = page["total"].as_u64().unwrap();
            totals.push(total);
            if total > 100 && long.is_none() {
                long = Some((format!("{project}-{n}"), total));
            }
        }
    }
    let (key, total) = long.expect("an issue with more than 100 history entries");
    let median = {
        let mut sorted = totals.clone();
        sorted.sort_unstable();
        sorted[sorted.len() / 2]
    };
    assert!(median < 10, "most histories are short (median {median})");

    // Pages of 100 cover the whole history once, oldest first.
    let mut ids = Vec::new();
    let mut created = Vec::new();
    let mut start = 0;
    loop {
        let (_, page) = sim
            .get(&format!(
                "/rest/api/3/issue/{key}/changelog?startAt={start}&maxResults=100"
            ))
            .await;
        assert_eq!(page["maxResults"], 100, "the page size is capped at 100");
        ids.extend(changelog_ids(&page));
        created.extend(
            page["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["created"].as_str().unwrap().to_owned()),
        );
        if page["isLast"] == true {
            break;
        }
        start += 100;
    }
    assert_eq!(ids.len() as u64, total);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    // expand=changelog holds the last 40, and says how many there are.
    let (_, issue) = sim
        .get(&format!(
            "/rest/api/3/issue/{key}?fields=summary&expand=changelog"
        ))
        .await;
    let expanded = &issue["changelog"];
    assert_eq!(expanded["total"].as_u64().unwrap(), total);
    assert_eq!(expanded["maxResults"], 40);
    let last_40: Vec<String> = expanded["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(last_40, ids[ids.len() - 40..]);
}

#[tokio::test]
async fn the_changelog_bulk_fetch_pages_every_entry_once_in_jiras_order() {
    let sim = sim(60, Realism::default()).await;
    let keys: Vec<String> = (1..=60).map(|n| format!("APO-{n}")).collect();
    // Every entry of every issue, one request per issue: what the bulk fetch must equal.
    let mut expected = HashSet::new();
    for key in &keys {
        let mut start = 0;
        loop {
            let (_, page) = sim
                .get(&format!(
                    "/rest/api/3/issue/{key}/changelog?startAt={start}&maxResults=100"
                ))
                .await;
            expected.extend(changelog_ids(&page));
            if page["isLast"] == true {
                break;
            }
            start += 100;
        }
    }
    let mut seen = Vec::new();
    let mut page_spans: Vec<((String, u64), (String, u64))> = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"issueIdsOrKeys": keys, "maxResults": 37});
        if let Some(token) = &token {
            body["nextPageToken"] = token.clone().into();
        }
        let (status, page) = sim.post("/rest/api/3/changelog/bulkfetch", &body).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let mut on_page = Vec::new();
        for log in page["issueChangeLogs"].as_array().unwrap() {
            let issue: u64 = log["issueId"].as_str().unwrap().parse().unwrap();
            for history in log["changeHistories"].as_array().unwrap() {
                seen.push(history["id"].as_str().unwrap().to_owned());
                on_page.push((history["created"].as_str().unwrap().to_owned(), issue));
            }
        }
        assert!(!on_page.is_empty() && on_page.len() <= 37);
        on_page.sort();
        page_spans.push((on_page[0].clone(), on_page.last().unwrap().clone()));
        match page["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), expected.len(), "no entry twice, none missing");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
    assert!(pages > 1);
    // Oldest first, then by issue id: every page comes after the one before it.
    for pair in page_spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "{:?} then {:?}", pair[0], pair[1]);
    }

    // The field filter keeps only those items; a token of another request is refused.
    let (_, statuses) = sim
        .post(
            "/rest/api/3/changelog/bulkfetch",
            &json!({"issueIdsOrKeys": keys, "fieldIds": ["status"], "maxResults": 10_000}),
        )
        .await;
    for log in statuses["issueChangeLogs"].as_array().unwrap() {
        for history in log["changeHistories"].as_array().unwrap() {
            for item in history["items"].as_array().unwrap() {
                assert_eq!(item["fieldId"], "status");
            }
        }
    }
    let (status, _) = sim
        .post(
            "/rest/api/3/changelog/bulkfetch",
            &json!({"issueIdsOrKeys": ["APO-1"], "nextPageToken": token.unwrap_or_default()}),
        )
        .await;
    assert_eq!(status, 400);
    let too_many: Vec<String> = (1..=1_001).map(|n| format!("APO-{n}")).collect();
    let (status, _) = sim
        .post(
            "/rest/api/3/changelog/bulkfetch",
            &json!({"issueIdsOrKeys": too_many}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn worklogs_updated_and_deleted_page_a_minute_behind() {
    let sim = sim(
        1_000,
        Realism {
            worklog_settle_ms: 0,
            ..Realism::default()
        },
    )
    .await;
    // Every generated worklog, through /worklog/updated pages of 1,000.
    let mut since = 0i64;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let (_, page) = sim
            .get(&format!("/rest/api/3/worklog/updated?since={since}"))
            .await;
        pages += 1;
        for value in page["values"].as_array().unwrap() {
            ids.push(value["worklogId"].as_u64().unwrap());
            assert!(value["updatedTime"].as_i64().unwrap() > since);
        }
        if page["lastPage"] == true {
            assert!(page.get("nextPage").is_none());
            break;
        }
        assert!(page["nextPage"].as_str().unwrap().contains("since="));
        since = page["until"].as_i64().unwrap();
    }
    assert!(
        pages >= 2,
        "2,000 issues hold more than 1,000 worklogs ({})",
        ids.len()
    );
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    // They are real: the list endpoint returns them.
    let (_, listed) = sim
        .post("/rest/api/3/worklog/list", &json!({"ids": &ids[..50]}))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 50);

    // A new worklog and a deleted one show up; with Jira's minute, not yet.
    let (status, added) = sim
        .post(
            "/rest/api/3/issue/APO-3/worklog",
            &json!({"timeSpent": "2h"}),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["timeSpentSeconds"], 7_200);
    let deleted = ids[0];
    let (_, one) = sim
        .post("/rest/api/3/worklog/list", &json!({"ids": [deleted]}))
        .await;
    let owner = one[0]["issueId"].as_str().unwrap().to_owned();
    let (status, _) = send(sim.request(
        Method::DELETE,
        &format!("/rest/api/3/issue/{owner}/worklog/{deleted}"),
    ))
    .await;
    assert_eq!(status, 204);
    let (_, updated) = sim
        .get(&format!("/rest/api/3/worklog/updated?since={since}"))
        .await;
    let new_id: u64 = added["id"].as_str().unwrap().parse().unwrap();
    assert!(
        updated["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["worklogId"] == new_id)
    );
    let (_, gone) = sim.get("/rest/api/3/worklog/deleted?since=0").await;
    assert_eq!(gone["values"][0]["worklogId"], deleted);

    sim.handle.set_realism(Realism::default());
    let (_, held_back) = sim.get("/rest/api/3/worklog/deleted?since=0").await;
    assert!(held_back["values"].as_array().unwrap().is_empty());
    let (_, held_back) = sim
        .get(&format!("/rest/api/3/worklog/updated?since={since}"))
        .await;
    assert!(
        !held_back["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["worklogId"] == new_id)
    );
}

#[tokio::test]
async fn a_deleted_issue_leaves_search_and_bulk_fetch_names_it() {
    let sim = sim(20, Realism::default()).await;
    let (status, _) = send(sim.request(Method::DELETE, "/rest/api/3/issue/APO-5")).await;
    assert_eq!(status, 204);
    let (_, page) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = APO", "maxResults": 100}),
        )
        .await;
    let ids: Vec<&str> = page["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 19);
    let (_, fetched) = sim
        .post(
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": ["APO-4", "APO-5"], "fields": ["summary"]}),
        )
        .await;
    assert_eq!(fetched["issues"].as_array().unwrap().len(), 1);
    assert_eq!(fetched["issueErrors"][0]["id"], "APO-5");
}

#[tokio::test]
async fn search_lags_behind_writes_unless_reconciled() {
    let sim = sim(
        20,
        Realism {
            search_lag_ms: 400,
            ..Realism::default()
        },
    )
    .await;
    let count = |jql: &'static str, reconcile: Vec<u64>| {
        let sim = &sim;
        async move {
            let (_, page) = sim
                .post(
                    "/rest/api/3/search/jql",
                    &json!({"jql": jql, "fields": ["labels"], "maxResults": 100, "reconcileIssues": reconcile}),
                )
                .await;
            page["issues"].as_array().unwrap().len()
        }
    };
    let (_, issue) = sim.get("/rest/api/3/issue/APO-2?fields=labels").await;
    let id: u64 = issue["id"].as_str().unwrap().parse().unwrap();
    let (status, _) = sim
        .put(
            "/rest/api/3/issue/APO-2",
            &json!({"fields": {"labels": ["lagging"]}}),
        )
        .await;
    assert_eq!(status, 204);
    let (_, created) = sim
        .post(
            "/rest/api/3/issue",
            &json!({"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}, "summary": "new", "labels": ["lagging"]}}),
        )
        .await;
    let created: u64 = created["id"].as_str().unwrap().parse().unwrap();
    let written = Instant::now();
    // Reads by key see the write at once; search does not, unless reconciled.
    let (_, read) = sim.get("/rest/api/3/issue/APO-2?fields=labels").await;
    assert_eq!(read["fields"]["labels"], json!(["lagging"]));
    let early = count("labels = lagging", vec![]).await;
    let reconciled = count("labels = lagging", vec![id, created]).await;
    let project = count("project = APO", vec![]).await;
    if written.elapsed() < Duration::from_millis(400) {
        assert_eq!(early, 0, "search saw a write before its lag");
        assert_eq!(project, 20, "search saw a create before its lag");
    }
    assert_eq!(reconciled, 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(count("labels = lagging", vec![]).await, 2);
    assert_eq!(count("project = APO", vec![]).await, 21);
}

#[tokio::test]
async fn bulk_fetch_takes_1000_issues_only_for_lean_field_lists() {
    let sim = sim(600, Realism::default()).await;
    let keys: Vec<String> = (1..=600)
        .map(|n| format!("APO-{n}"))
        .chain((1..=400).map(|n| format!("BEA-{n}")))
        .collect();
    let (status, page) = sim
        .post(
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": keys, "fields": ["summary", "status", "updated"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["issues"].as_array().unwrap().len(), 1_000);
    for fields in [json!(["summary", "comment"]), json!([])] {
        let (status, body) = sim
            .post(
                "/rest/api/3/issue/bulkfetch",
                &json!({"issueIdsOrKeys": keys, "fields": fields}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
    }
}

#[tokio::test]
async fn latency_grows_with_the_work_asked_for() {
    let sim = sim(
        200,
        Realism {
            work_latency: WorkLatency {
                base_ms: 20,
                per_kib_ms: 0.5,
            },
            ..Realism::default()
        },
    )
    .await;
    let timed = |fields: Value| {
        let sim = &sim;
        async move {
            let started = Instant::now();
            let (status, _) = sim
                .post(
                    "/rest/api/3/search/jql",
                    &json!({"jql": "project = APO", "fields": fields, "maxResults": 100}),
                )
                .await;
            assert_eq!(status, 200);
            started.elapsed()
        }
    };
    let ids = timed(json!(["id"])).await;
    let full = timed(json!(["*all"])).await;
    // ~1.5 KiB against ~690 KiB: at 0.5 ms per KiB the full page is at least 300 ms more.
    assert!(ids >= Duration::from_millis(20), "{ids:?}");
    assert!(
        full >= ids + Duration::from_millis(300),
        "{ids:?} vs {full:?}"
    );
}

/// Polls a bulk task until it completes; its last progress report.
async fn finished(sim: &Sim, task: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, progress) = sim.get(&format!("/rest/api/3/bulk/queue/{task}")).await;
        assert_eq!(status, 200, "{progress}");
        if progress["status"] == "COMPLETE" {
            assert_eq!(progress["progressPercent"], 100);
            return progress;
        }
        assert!(
            ["ENQUEUED", "RUNNING"].contains(&progress["status"].as_str().unwrap()),
            "{progress}"
        );
        assert!(Instant::now() < deadline, "task {task} never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn bulk_operations_run_in_the_background_and_report_each_issue() {
    let sim = sim(
        300,
        Realism {
            bulk_issues_per_sec: 2_000.0,
            ..Realism::default()
        },
    )
    .await;
    // Edit: add a label to 300 issues (and name one that does not exist).
    let mut keys: Vec<String> = (1..=300).map(|n| format!("APO-{n}")).collect();
    keys.push("NOPE-1".into());
    let (status, submitted) = sim
        .post(
            "/rest/api/3/bulk/issues/fields",
            &json!({
                "selectedIssueIdsOrKeys": keys,
                "selectedActions": ["labels", "priority"],
                "editedFieldsInput": {
                    "labelsFields": [{"fieldId": "labels", "bulkEditMultiSelectFieldOption": "ADD", "labels": [{"name": "migrated"}]}],
                    "priority": {"priorityId": "1"},
                },
            }),
        )
        .await;
    assert_eq!(status, 201, "{submitted}");
    let task = submitted["taskId"].as_str().unwrap().to_owned();
    let progress = finished(&sim, &task).await;
    assert_eq!(progress["totalIssueCount"], 301);
    assert_eq!(
        progress["processedAccessibleIssues"]
            .as_array()
            .unwrap()
            .len(),
        300
    );
    assert_eq!(progress["invalidOrInaccessibleIssueCount"], 1);
    let (_, page) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = APO AND labels = migrated AND priority = Highest", "maxResults": 5000}),
        )
        .await;
    assert_eq!(page["issues"].as_array().unwrap().len(), 300);
    let (_, history) = sim
        .get("/rest/api/3/issue/APO-7/changelog?maxResults=100")
        .await;
    let last = last_entry(&history);
    let fields = changed_fields(&last);
    assert!(
        fields.contains(&"labels") && fields.contains(&"priority"),
        "{last}"
    );

    // Transition: "Done" from every status but Done itself; the done ones fail, each named.
    let keys: Vec<String> = (1..=100).map(|n| format!("BEA-{n}")).collect();
    let (_, before) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = BEA AND key <= BEA-100 AND status = Done", "maxResults": 100}),
        )
        .await;
    let already_done = before["issues"].as_array().unwrap().len();
    let (status, submitted) = sim
        .post(
            "/rest/api/3/bulk/issues/transition",
            &json!({"bulkTransitionInputs": [{"selectedIssueIdsOrKeys": keys, "transitionId": "41"}]}),
        )
        .await;
    assert_eq!(status, 201, "{submitted}");
    let progress = finished(&sim, submitted["taskId"].as_str().unwrap()).await;
    let failed = progress["failedAccessibleIssues"].as_object().unwrap();
    assert_eq!(failed.len(), already_done);
    assert_eq!(
        progress["processedAccessibleIssues"]
            .as_array()
            .unwrap()
            .len(),
        100 - already_done
    );
    let (_, after) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = BEA AND key <= BEA-100 AND status = Done", "maxResults": 100}),
        )
        .await;
    assert_eq!(after["issues"].as_array().unwrap().len(), 100);

    // Delete 10; more than 1,000 issues, or an edit that selects nothing, is a 400.
    let doomed: Vec<String> = (1..=10).map(|n| format!("APO-{n}")).collect();
    let (_, submitted) = sim
        .post(
            "/rest/api/3/bulk/issues/delete",
            &json!({"selectedIssueIdsOrKeys": doomed}),
        )
        .await;
    finished(&sim, submitted["taskId"].as_str().unwrap()).await;
    let (status, _) = sim.get("/rest/api/3/issue/APO-1").await;
    assert_eq!(status, 404);
    let many: Vec<String> = (1..=1_001).map(|n| format!("APO-{n}")).collect();
    let (status, _) = sim
        .post(
            "/rest/api/3/bulk/issues/delete",
            &json!({"selectedIssueIdsOrKeys": many}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = sim
        .post(
            "/rest/api/3/bulk/issues/fields",
            &json!({"selectedIssueIdsOrKeys": ["APO-20"], "selectedActions": ["priority"], "editedFieldsInput": {}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("priority")
    );
}

#[tokio::test]
async fn comments_carry_entity_properties() {
    let sim = sim(20, Realism::default()).await;
    let (status, created) = sim
        .post(
            "/rest/api/3/issue/APO-3/comment",
            &json!({"body": crate::doc("marked"), "properties": [{"key": "jira-ops.idempotency", "value": {"key": "abc123"}}]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, page) = sim
        .get("/rest/api/3/issue/APO-3/comment?expand=properties")
        .await;
    let mine = page["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        mine["properties"],
        json!([{"key": "jira-ops.idempotency", "value": {"key": "abc123"}}])
    );
    let (status, property) = sim
        .get(&format!(
            "/rest/api/3/comment/{id}/properties/jira-ops.idempotency"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(property["value"]["key"], "abc123");

    // A generated comment takes a property too, and keeps its id and body.
    let mut generated = Value::Null;
    for n in 1..=20 {
        let (_, issue) = sim
            .get(&format!("/rest/api/3/issue/APO-{n}?fields=comment"))
            .await;
        if let Some(first) = issue["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] != id.as_str())
        {
            generated = first.clone();
            break;
        }
    }
    let key = generated["self"]
        .as_str()
        .unwrap()
        .split("/issue/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let generated_id = generated["id"].as_str().unwrap();
    let path = format!("/rest/api/3/comment/{generated_id}/properties/seen");
    let (status, _) = sim.put(&path, &json!(true)).await;
    assert_eq!(status, 201);
    let (status, _) = sim.put(&path, &json!(false)).await;
    assert_eq!(status, 200);
    let (_, keys) = sim
        .get(&format!("/rest/api/3/comment/{generated_id}/properties"))
        .await;
    assert_eq!(keys["keys"][0]["key"], "seen");
    let (_, again) = sim
        .get(&format!("/rest/api/3/issue/{key}/comment/{generated_id}"))
        .await;
    assert_eq!(again["body"], generated["body"]);
    let (status, _) = send(sim.request(Method::DELETE, &path)).await;
    assert_eq!(status, 204);
    let (status, _) = sim.get(&path).await;
    assert_eq!(status, 404);
    let (status, _) = sim.get("/rest/api/3/comment/1/properties").await;
    assert_eq!(status, 404);
}

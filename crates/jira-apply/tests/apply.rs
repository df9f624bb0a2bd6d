//! `jira_apply::apply` against jira-sim over HTTP: every operation kind, exactly once
//! across re-runs, lost answers and a journal left mid-write.

use std::sync::{Arc, Mutex};

use jira_apply::journal::{JournalRecord, WriteState};
use jira_apply::{Change, Journal, Outcome, parse_changes};
use jira_ops_tests::sim::{rest_get, uncached_client};
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use serde_json::{Value, json};

async fn tenant(faults: Vec<FaultRule>) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 2,
        issues_per_project: 40,
        limits: LimitConfig::off(),
        faults: FaultConfig { rules: faults },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// A tenant large enough for bulk groups: 2 projects of 120 issues, no limits.
async fn bulk_tenant() -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 2,
        issues_per_project: 120,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

async fn get(sim: &SimHandle, path: &str) -> Value {
    rest_get(sim, &format!("/rest/api/3/{path}")).await.1
}

/// Every comment on `issue`, page by page (some issues have hundreds).
async fn comments(sim: &SimHandle, issue: &str) -> Vec<String> {
    let mut all = Vec::new();
    loop {
        let page = get(
            sim,
            &format!("issue/{issue}/comment?startAt={}&maxResults=100", all.len()),
        )
        .await;
        let comments = page["comments"].as_array().unwrap();
        all.extend(
            comments
                .iter()
                .map(|c| jira_model::adf::to_text(&c["body"]).trim().to_owned()),
        );
        if comments.is_empty() || all.len() as u64 >= page["total"].as_u64().unwrap() {
            return all;
        }
    }
}

async fn links(sim: &SimHandle, issue: &str) -> usize {
    get(sim, &format!("issue/{issue}?fields=issuelinks")).await["fields"]["issuelinks"]
        .as_array()
        .map_or(0, Vec::len)
}

async fn created(sim: &SimHandle, summary: &str) -> usize {
    let page = get(
        sim,
        &format!("search/jql?jql=summary%20~%20%22{summary}%22&fields=summary"),
    )
    .await;
    page["issues"].as_array().map_or(0, Vec::len)
}

fn changes() -> Vec<Change> {
    let lines = [
        json!({"op": "update", "issue": "APO-1", "fields": {"summary": "Renamed by apply", "priority": {"name": "High"}}}),
        json!({"op": "label", "issue": "APO-1", "add": ["migrated", "triaged"]}),
        json!({"op": "label", "issue": "APO-1", "remove": ["triaged"]}),
        json!({"op": "assign", "issue": "APO-2", "account_id": null}),
        json!({"op": "transition", "issue": "APO-3", "to": "Done"}),
        json!({"op": "transition", "issue": "APO-4", "to": "Close", "fields": {"resolution": {"name": "Won't Do"}}}),
        json!({"op": "comment", "issue": "APO-5", "body": "Checked by the migration"}),
        json!({"op": "comment", "issue": "APO-5", "body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Second note"}]}]}}),
        json!({"op": "link", "type": "Blocks", "inward": "APO-6", "outward": "BEA-6"}),
        json!({"op": "create", "fields": {"project": {"key": "BEA"}, "issuetype": {"name": "Task"}, "summary": "Made by apply"}}),
        json!({"op": "delete", "issue": "BEA-7"}),
        json!({"op": "transition", "issue": "APO-3", "to": "Request Review"}),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    parse_changes(&text.join("\n")).expect("the file is valid")
}

fn journal(dir: &tempfile::TempDir) -> Arc<Mutex<Journal>> {
    Arc::new(Mutex::new(
        Journal::open(&dir.path().join("journal.jsonl")).unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_applied_once_and_a_rerun_sends_nothing() {
    let sim = tenant(Vec::new()).await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let changes = changes();
    let comments_before = comments(&sim, "APO-5").await.len();
    let links_before = links(&sim, "APO-6").await;
    let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    let outcomes: Vec<(usize, Outcome)> =
        report.results.iter().map(|r| (r.line, r.outcome)).collect();
    // APO-3 goes to Done, then "Request Review" is not available from Done.
    let mut expected: Vec<(usize, Outcome)> = (1..=11).map(|n| (n, Outcome::Done)).collect();
    expected.push((12, Outcome::Refused));
    // APO-3 or APO-4 may already be in their status: already so.
    for (got, want) in outcomes.iter().zip(&expected) {
        assert_eq!(got.0, want.0);
        if got.1 != want.1 {
            assert!(
                [5, 6].contains(&got.0) && got.1 == Outcome::AlreadySo,
                "line {}: {:?} ({:?})",
                got.0,
                got.1,
                report.results[got.0 - 1].message
            );
        }
    }
    let refused = report.results[11].message.as_deref().unwrap();
    assert!(
        refused.contains("no transition \"Request Review\" from Done")
            && refused.contains("Reopen"),
        "{refused}"
    );
    assert_eq!(
        report.results[9]
            .issue
            .as_deref()
            .map(|k| k.starts_with("BEA-")),
        Some(true)
    );

    let apo1 = get(&sim, "issue/APO-1?fields=summary,priority,labels").await;
    assert_eq!(apo1["fields"]["summary"], "Renamed by apply");
    assert_eq!(apo1["fields"]["priority"]["name"], "High");
    let labels = apo1["fields"]["labels"].as_array().unwrap();
    assert!(labels.contains(&json!("migrated")) && !labels.contains(&json!("triaged")));
    assert_eq!(
        get(&sim, "issue/APO-2?fields=assignee").await["fields"]["assignee"],
        Value::Null
    );
    assert_eq!(
        get(&sim, "issue/APO-3?fields=status").await["fields"]["status"]["name"],
        "Done"
    );
    let apo4 = get(&sim, "issue/APO-4?fields=status,resolution").await;
    assert_eq!(apo4["fields"]["status"]["name"], "Done");
    assert_eq!(apo4["fields"]["resolution"]["name"], "Won't Do");
    let notes = comments(&sim, "APO-5").await;
    assert_eq!(notes.len(), comments_before + 2);
    assert!(notes.contains(&"Checked by the migration".to_owned()));
    assert!(notes.contains(&"Second note".to_owned()));
    assert_eq!(links(&sim, "APO-6").await, links_before + 1);
    assert_eq!(created(&sim, "Made by apply").await, 1);
    let (gone, _) = rest_get(&sim, "/rest/api/3/issue/BEA-7").await;
    assert_eq!(gone, 404);

    // The same file again: the journal knows every line; nothing is written.
    let writes_before = sim.stats().by_endpoint.clone();
    let again = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    for result in &again.results[..11] {
        assert!(
            result.outcome.succeeded() && (result.earlier || result.outcome == Outcome::AlreadySo),
            "{result:?}"
        );
    }
    let writes_after = sim.stats().by_endpoint.clone();
    let writes = |stats: &std::collections::BTreeMap<String, u64>| -> u64 {
        stats
            .iter()
            .filter(|(k, _)| !k.starts_with("GET") && !k.contains("/bulkfetch"))
            .map(|(_, n)| n)
            .sum()
    };
    // Only the refused line is tried again (a status read and its transitions).
    assert_eq!(writes(&writes_after), writes(&writes_before));
    assert_eq!(comments(&sim, "APO-5").await.len(), comments_before + 2);
    assert_eq!(created(&sim, "Made by apply").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_write_resolves_each_line_before_sending_it_again() {
    let sim = tenant(Vec::new()).await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let changes = changes();
    let comments_before = comments(&sim, "APO-5").await.len();
    let links_before = links(&sim, "APO-6").await;
    jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    // As if the process died after sending every line, before any answer was recorded:
    // the journal's last word on each line is its intent (a transition's names the status
    // it was sent to reach, as the apply writes it).
    {
        let journal = journal(&dir);
        let mut journal = journal.lock().unwrap();
        let ops: Vec<&jira_apply::Operation> = changes.iter().map(|c| &c.op).collect();
        let ids = jira_apply::journal::content_keys("apply", &ops);
        let intents: Vec<JournalRecord> = ids
            .iter()
            .zip(&changes)
            .map(|(id, change)| {
                let mut intent = JournalRecord::new(id, WriteState::Intent, Some(change.line));
                if matches!(change.op, jira_apply::Operation::Transition { .. }) {
                    intent.target = Some("Done".into());
                }
                intent
            })
            .collect();
        journal.append(&intents).unwrap();
    }
    let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    let by_line = |n: usize| &report.results[n - 1];
    // Non-idempotent lines are found, not sent: the comments, the link, the create.
    for n in [7, 8, 9, 10] {
        assert_eq!(by_line(n).outcome, Outcome::AlreadySo, "{:?}", by_line(n));
    }
    // A transition to the status the issue is in, one named by its transition ("Close")
    // whose target the intent recorded, a delete of an issue that is gone.
    assert_eq!(by_line(5).outcome, Outcome::AlreadySo);
    assert_eq!(by_line(6).outcome, Outcome::AlreadySo, "{:?}", by_line(6));
    assert_eq!(by_line(11).outcome, Outcome::Done);
    assert_eq!(
        by_line(10).issue.as_deref().map(|k| k.starts_with("BEA-")),
        Some(true)
    );
    assert_eq!(comments(&sim, "APO-5").await.len(), comments_before + 2);
    assert_eq!(links(&sim, "APO-6").await, links_before + 1);
    assert_eq!(created(&sim, "Made by apply").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_never_make_a_second_comment_link_or_issue() {
    // Every third write is done by the server and its answer lost (a 502 after acting).
    let lost = |endpoint: &str| {
        FaultRule::new(Fault::LostResponse { status: 502 }, 0.35)
            .on(endpoint)
            .method("POST")
    };
    let sim = tenant(vec![
        lost("/rest/api/3/issue/{issueIdOrKey}/comment"),
        lost("/rest/api/3/issueLink"),
        lost("/rest/api/3/issue"),
    ])
    .await;
    // As on Jira Cloud: the idempotency property is not searchable, and search sees a
    // create 2 s after it; a lost create is looked for until that has passed.
    sim.set_realism(jira_sim::Realism {
        search_lag_ms: 2_000,
        ..jira_sim::Realism::default()
    });
    let client = jira_ops_tests::sim::client_builder(&sim)
        .batch(jira_client::BatchConfig {
            search_settle: std::time::Duration::from_secs(3),
            ..jira_client::BatchConfig::default()
        })
        .build()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for n in 1..=30 {
        lines.push(
            json!({"op": "comment", "issue": format!("APO-{n}"), "body": format!("note {n}")}),
        );
        lines.push(json!({"op": "link", "type": "Relates", "inward": format!("APO-{n}"), "outward": format!("BEA-{n}")}));
        lines.push(json!({"op": "create", "fields": {"project": {"key": "BEA"}, "issuetype": {"name": "Task"}, "summary": format!("lost{n}z")}}));
    }
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let changes = parse_changes(&text.join("\n")).unwrap();
    let mut before = Vec::new();
    for n in 1..=30 {
        before.push((
            comments(&sim, &format!("APO-{n}")).await.len(),
            links(&sim, &format!("APO-{n}")).await,
        ));
    }
    // Runs until every line holds (a line may end unknown when even its lookup failed,
    // or when a lost create's intent is younger than the search settle time, 3 s here: a
    // run that soon neither finds it nor sends it again). A lost create is found through
    // what Jira indexes, never left unknown once its intent has settled.
    // Six runs suffice on a quiet machine; one CI run still had lines not holding after
    // twenty (cause not reproduced here), so runs go on for up to a minute and a failure
    // names the lines: what is asserted is that no line is applied twice however many
    // runs it takes, not how fast they converge.
    let started = std::time::Instant::now();
    let mut runs = 0;
    let last = loop {
        let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
            .await
            .unwrap();
        runs += 1;
        if report.all_succeeded() || started.elapsed() > std::time::Duration::from_secs(60) {
            break report;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    let pending: Vec<String> = last
        .results
        .iter()
        .filter(|r| !r.outcome.succeeded())
        .take(5)
        .map(|r| format!("line {} ({}): {:?}", r.line, r.op, r.outcome))
        .collect();
    assert!(
        last.all_succeeded(),
        "lines still not holding after {runs} runs in {:?}: {:?}; first: {pending:#?}",
        started.elapsed(),
        last.outcomes
    );
    // Read back with the index caught up.
    sim.set_realism(jira_sim::Realism::default());
    let stats = sim.stats();
    assert!(
        stats.faults.values().sum::<u64>() >= 10,
        "faults fired: {:?}",
        stats.faults
    );
    for n in 1..=30 {
        let issue = format!("APO-{n}");
        let now = comments(&sim, &issue).await;
        assert_eq!(now.len(), before[n - 1].0 + 1, "{issue}: {now:?}");
        assert_eq!(links(&sim, &issue).await, before[n - 1].1 + 1, "{issue}");
        assert_eq!(created(&sim, &format!("lost{n}z")).await, 1, "create {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_issues_given_the_same_change_go_through_the_bulk_operations() {
    let sim = bulk_tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for n in 1..=50 {
        lines.push(json!({"op": "label", "issue": format!("APO-{n}"), "add": ["bulk-tagged"]}));
    }
    for n in 61..=120 {
        lines.push(json!({"op": "transition", "issue": format!("APO-{n}"), "to": "Done"}));
    }
    for n in 1..=55 {
        lines.push(json!({"op": "delete", "issue": format!("BEA-{n}")}));
    }
    for n in 56..=115 {
        lines.push(json!({"op": "label", "issue": format!("BEA-{n}"), "remove": ["ux"]}));
    }
    // An issue with a second line stays out of the bulk group (file order per issue).
    lines.push(json!({"op": "comment", "issue": "APO-1", "body": "after the label"}));
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let changes = parse_changes(&text.join("\n")).unwrap();
    assert_eq!(jira_apply::bulk_groups(&changes).len(), 3);
    let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.outcomes);
    let stats = sim.stats();
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/bulk/issues/fields"),
        1
    );
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/bulk/issues/transition"),
        1,
        "{:?}",
        stats.by_endpoint
    );
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/bulk/issues/delete"),
        1
    );
    // Labels: APO-1 has two lines, so the other 49 are too few for a bulk group.
    assert_eq!(
        stats.requests_to("PUT", "/rest/api/3/issue/{issueIdOrKey}"),
        50
    );
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
        0
    );
    let labels = get(&sim, "issue/BEA-80?fields=labels").await["fields"]["labels"].clone();
    assert!(
        !labels.as_array().unwrap().contains(&json!("ux")),
        "{labels}"
    );
    for n in [61, 90, 120] {
        assert_eq!(
            get(&sim, &format!("issue/APO-{n}?fields=status")).await["fields"]["status"]["name"],
            "Done"
        );
    }
    for n in [1, 30, 55] {
        let (gone, _) = rest_get(&sim, &format!("/rest/api/3/issue/BEA-{n}")).await;
        assert_eq!(gone, 404, "BEA-{n}");
    }
    // Again: every line known done; no task submitted.
    let again = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    assert!(
        again.results.iter().all(|r| r.earlier),
        "{:?}",
        again.outcomes
    );
    let stats = sim.stats();
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/bulk/issues/delete"),
        1
    );
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/bulk/issues/transition"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_issues_given_the_same_field_values_are_edited_in_bulk() {
    let sim = bulk_tenant().await;
    let client = uncached_client(&sim).await;
    let account = get(&sim, "users/search?maxResults=1").await[0]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    // The same priority (by name) and story points on 60 issues: one field edit.
    for n in 1..=60 {
        lines.push(json!({"op": "update", "issue": format!("APO-{n}"),
            "fields": {"priority": {"name": "lowest"}, "customfield_10016": 8}}));
    }
    // The same assignee on 55 others: a second.
    for n in 61..=115 {
        lines.push(json!({"op": "assign", "issue": format!("APO-{n}"), "account_id": account}));
    }
    // Summaries that differ cannot share a task: a PUT each.
    for n in 1..=50 {
        lines.push(json!({"op": "update", "issue": format!("BEA-{n}"),
            "fields": {"summary": format!("Renamed {n}")}}));
    }
    // A priority the site does not have: refused on every line, nothing sent.
    for n in 51..=100 {
        lines.push(json!({"op": "update", "issue": format!("BEA-{n}"),
            "fields": {"priority": {"name": "Urgent"}}}));
    }
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let changes = parse_changes(&text.join("\n")).unwrap();
    let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    let outcome = |line: usize| report.results[line - 1].outcome;
    assert!((1..=165).all(|line| outcome(line) == Outcome::Done));
    for line in 166..=215 {
        assert_eq!(outcome(line), Outcome::Refused);
        let message = report.results[line - 1].message.as_deref().unwrap();
        assert!(
            message.contains("\"Urgent\"") && message.contains("Lowest"),
            "{message}"
        );
    }
    let stats = sim.stats();
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/bulk/issues/fields"),
        2,
        "{:?}",
        stats.by_endpoint
    );
    assert_eq!(
        stats.requests_to("PUT", "/rest/api/3/issue/{issueIdOrKey}"),
        50
    );
    assert_eq!(
        stats.requests_to("PUT", "/rest/api/3/issue/{issueIdOrKey}/assignee"),
        0
    );
    for n in [1, 33, 60] {
        let fields = get(
            &sim,
            &format!("issue/APO-{n}?fields=priority,customfield_10016"),
        )
        .await["fields"]
            .clone();
        assert_eq!(fields["priority"]["name"], "Lowest", "APO-{n}");
        assert_eq!(fields["customfield_10016"], 8.0, "APO-{n}");
    }
    for n in [61, 115] {
        let fields = get(&sim, &format!("issue/APO-{n}?fields=assignee")).await["fields"].clone();
        assert_eq!(fields["assignee"]["accountId"], account.as_str(), "APO-{n}");
    }
    // Again: every line known (done or refused); nothing submitted.
    let again = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    assert!(
        again.results[..165].iter().all(|r| r.earlier),
        "{:?}",
        again.outcomes
    );
    assert_eq!(
        sim.stats()
            .requests_to("POST", "/rest/api/3/bulk/issues/fields"),
        2
    );
}

/// A 2xx that is not what Jira answers (a proxy's page, garbage where Jira sends the
/// created comment) is no proof the write reached Jira: the line stays unknown, nothing
/// is journaled done, and the next run resolves it and applies it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_status_that_is_not_jiras_answer_is_not_taken_as_done() {
    // Every write answered 200 with a body that is not Jira's, before the site acts.
    let not_jira = |method: &str, endpoint: &str| {
        FaultRule::new(Fault::Malformed, 1.0)
            .method(method)
            .on(endpoint)
    };
    let sim = tenant(vec![
        not_jira("POST", "/rest/api/3/issue/{issueIdOrKey}/comment"),
        not_jira("PUT", "/rest/api/3/issue/{issueIdOrKey}"),
    ])
    .await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        json!({"op": "comment", "issue": "APO-7", "body": "seen by Jira once"}),
        json!({"op": "update", "issue": "APO-8", "fields": {"summary": "Changed once"}}),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let changes = parse_changes(&text.join("\n")).unwrap();
    let before = comments(&sim, "APO-7").await.len();
    let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    for result in &report.results {
        assert_eq!(result.outcome, Outcome::Unknown, "{result:?}");
        assert!(
            result
                .message
                .as_deref()
                .unwrap_or("")
                .contains("not what Jira answers"),
            "{result:?}"
        );
    }
    let journaled = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    let records: Vec<JournalRecord> = journaled
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records.iter().all(|r| r.state != WriteState::Done),
        "{journaled}"
    );
    // The site answers as Jira again: each line is applied once.
    sim.set_faults(FaultConfig::default());
    let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.results);
    assert_eq!(comments(&sim, "APO-7").await.len(), before + 1);
    assert_eq!(
        get(&sim, "issue/APO-8?fields=summary").await["fields"]["summary"],
        "Changed once"
    );
}

/// The migration loop: run, read the refusals, fix them, run again. A line is known by
/// what it does, so the fixed line goes out once and nothing else is sent again, even
/// with a line inserted at the top.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_line_and_an_inserted_one_are_the_only_writes_of_a_rerun() {
    let sim = tenant(Vec::new()).await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let comment = |n: usize| json!({"op": "comment", "issue": format!("APO-{n}"), "body": format!("loop {n}")});
    let first: Vec<Value> = (11..=15)
        .map(comment)
        .chain([json!({"op": "transition", "issue": "APO-16", "to": "Nowhere"})])
        .collect();
    let parse = |lines: &[Value]| {
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        parse_changes(&text.join("\n")).unwrap()
    };
    let writes = |sim: &SimHandle| -> u64 {
        sim.stats()
            .by_endpoint
            .iter()
            .filter(|(k, _)| {
                (k.starts_with("POST") || k.starts_with("PUT")) && !k.contains("/bulkfetch")
            })
            .map(|(_, n)| n)
            .sum()
    };
    let report = jira_apply::apply(&client, &parse(&first), journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        report.results[5].outcome,
        Outcome::Refused,
        "{:?}",
        report.results[5]
    );
    let before = writes(&sim);
    // Fixed, and a new line on top.
    let mut second = vec![comment(20)];
    second.extend(first[..5].iter().cloned());
    second.push(json!({"op": "transition", "issue": "APO-16", "to": "Done"}));
    let report = jira_apply::apply(&client, &parse(&second), journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.results);
    for result in &report.results[1..6] {
        assert!(result.earlier, "sent again: {result:?}");
    }
    assert_eq!(
        writes(&sim) - before,
        2,
        "only the new comment and the fixed transition"
    );
    for n in 11..=15 {
        let texts = comments(&sim, &format!("APO-{n}")).await;
        assert_eq!(
            texts.iter().filter(|t| **t == format!("loop {n}")).count(),
            1
        );
    }
}

/// Lines that went through Jira's bulk operations keep what they changed too: a run of
/// bulk label edits and bulk transitions, reverted, leaves every issue as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_run_is_reverted_issue_by_issue() {
    let sim = bulk_tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let issues: Vec<String> = (1..=60).map(|n| format!("APO-{n}")).collect();
    let read = async |sim: &SimHandle| -> Vec<(Value, String)> {
        let mut seen = Vec::new();
        for issue in &issues {
            let fields =
                get(sim, &format!("issue/{issue}?fields=labels,status")).await["fields"].clone();
            let mut labels: Vec<String> = fields["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect();
            labels.sort();
            seen.push((
                json!(labels),
                fields["status"]["name"].as_str().unwrap().to_owned(),
            ));
        }
        seen
    };
    let before = read(&sim).await;
    let mut lines: Vec<Value> = issues
        .iter()
        .map(|i| json!({"op": "label", "issue": i, "add": ["bulk-migrated"]}))
        .collect();
    lines.extend(
        (61..=120).map(|n| json!({"op": "transition", "issue": format!("APO-{n}"), "to": "Done"})),
    );
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let changes = parse_changes(&text.join("\n")).unwrap();
    let mut journal = Journal::open(&path).unwrap();
    let ops: Vec<&jira_apply::Operation> = changes.iter().map(|c| &c.op).collect();
    let run = jira_apply::runs::start(
        &mut journal,
        "apply",
        &jira_apply::runs::digest(&ops),
        false,
    )
    .unwrap();
    let journal = Arc::new(Mutex::new(journal));
    let mut statuses_before = Vec::new();
    for n in 61..=120 {
        statuses_before.push(get(&sim, &format!("issue/APO-{n}?fields=status")).await);
    }
    let report =
        jira_apply::apply_run(&client, &changes, journal.clone(), &run, &|| false, &|_| {})
            .await
            .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.outcomes);
    assert_eq!(
        sim.stats()
            .requests_to("POST", "/rest/api/3/bulk/issues/fields"),
        1,
        "the labels went in bulk"
    );
    assert_ne!(read(&sim).await, before);

    let records = Journal::read_records(&path).unwrap();
    let done = jira_apply::runs::lines(&records, &run.name);
    assert!(
        done.iter().all(|r| r.undo.is_some()),
        "a bulk line without its undo: {done:?}"
    );
    let plan = jira_apply::revert_plan(&client, &done, false, false)
        .await
        .unwrap();
    assert!(plan.left.is_empty(), "{:?}", plan.left);
    let revert_ops: Vec<&jira_apply::Operation> = plan.changes.iter().map(|c| &c.op).collect();
    let revert = jira_apply::runs::start(
        &mut journal.lock().unwrap(),
        "revert",
        &jira_apply::runs::digest(&revert_ops),
        false,
    )
    .unwrap();
    let report = jira_apply::apply_run(
        &client,
        &plan.changes,
        journal.clone(),
        &revert,
        &|| false,
        &|_| {},
    )
    .await
    .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.results);
    assert_eq!(read(&sim).await, before, "labels back as they were");
    for (n, status) in (61..=120).zip(statuses_before) {
        let now = get(&sim, &format!("issue/APO-{n}?fields=status")).await;
        assert_eq!(
            now["fields"]["status"]["name"], status["fields"]["status"]["name"],
            "APO-{n}'s status"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_for_a_rich_text_field_is_written_as_a_document() {
    // REST v3 refuses text for `description` ("Operation value must be an Atlassian
    // Document"): the line's text goes as a document, and the dry run says what the run
    // then does.
    let sim = tenant(Vec::new()).await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        json!({"op": "update", "issue": "APO-7", "fields": {"description": "First paragraph\n\nSecond one"}}),
        json!({"op": "create", "fields": {"project": {"key": "BEA"}, "issuetype": {"name": "Task"}, "summary": "Described by apply", "description": "Made with text"}}),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let changes = parse_changes(&text.join("\n")).unwrap();
    let dry = jira_apply::apply_dry_run(&client, &changes).await;
    assert!(
        dry.iter().all(|d| d.would_write && !d.would_fail),
        "{dry:?}"
    );
    let report = jira_apply::apply(&client, &changes, journal(&dir), &|| false, &|_| {})
        .await
        .unwrap();
    let outcomes: Vec<Outcome> = report.results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Done, Outcome::Done], "{report:?}");
    let issue = get(&sim, "issue/APO-7?fields=description").await;
    let description = &issue["fields"]["description"];
    assert_eq!(description["type"], "doc");
    assert_eq!(description["content"].as_array().unwrap().len(), 2);
    assert_eq!(
        jira_model::adf::to_text(description).trim(),
        "First paragraph\nSecond one"
    );
    assert_eq!(created(&sim, "Described").await, 1);
}

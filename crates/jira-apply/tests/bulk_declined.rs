//! A bulk operation the site declines as a whole (no such endpoint on an older or partial
//! Jira, no "Make bulk changes" permission for the account): nothing was done, so every
//! line of the group is written on its own, once, and a re-run sends nothing.

use std::sync::{Arc, Mutex};

use jira_apply::{Journal, Outcome, parse_changes};
use jira_ops_tests::sim::{rest_get, uncached_client};
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_of_a_declined_bulk_operation_are_written_one_by_one_once() {
    for (status, endpoint) in [
        (404, "/rest/api/3/bulk/issues/fields"),
        (403, "/rest/api/3/bulk/issues/transition"),
    ] {
        let sim = SimHandle::start(SimConfig {
            projects: 1,
            issues_per_project: 120,
            limits: LimitConfig::off(),
            faults: FaultConfig {
                rules: vec![FaultRule::new(Fault::Status { status }, 1.0).on(endpoint)],
            },
            ..SimConfig::default()
        })
        .await
        .expect("jira-sim starts");
        let client = uncached_client(&sim).await;
        let dir = tempfile::tempdir().unwrap();
        let journal = || {
            Arc::new(Mutex::new(
                Journal::open(&dir.path().join("journal.jsonl")).unwrap(),
            ))
        };
        let mut lines = Vec::new();
        for n in 1..=60 {
            lines.push(json!({"op": "label", "issue": format!("APO-{n}"), "add": ["one-by-one"]}));
        }
        for n in 61..=115 {
            lines.push(json!({"op": "transition", "issue": format!("APO-{n}"), "to": "Done"}));
        }
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        let changes = parse_changes(&text.join("\n")).unwrap();
        assert_eq!(jira_apply::bulk_groups(&changes).len(), 2);
        let report = jira_apply::apply(&client, &changes, journal(), &|| false, &|_| {})
            .await
            .unwrap();
        assert!(
            report.all_succeeded(),
            "HTTP {status} on {endpoint}: {:?}",
            report.outcomes
        );
        let stats = sim.stats();
        // The declined group was submitted once, then its lines went on their own.
        assert_eq!(stats.requests_to("POST", endpoint), 1, "{endpoint}");
        let (op, method, path) = match status {
            404 => ("label", "PUT", "/rest/api/3/issue/{issueIdOrKey}"),
            _ => (
                "transition",
                "POST",
                "/rest/api/3/issue/{issueIdOrKey}/transitions",
            ),
        };
        // One write for each of its lines that the site did not already hold.
        let singles = report
            .results
            .iter()
            .filter(|r| r.op == op && r.outcome == Outcome::Done)
            .count() as u64;
        assert!(singles >= 40, "{op}: {singles}");
        assert_eq!(stats.requests_to(method, path), singles, "{endpoint}");
        for n in [1, 30, 60] {
            let labels = rest_get(&sim, &format!("/rest/api/3/issue/APO-{n}?fields=labels"))
                .await
                .1["fields"]["labels"]
                .clone();
            assert!(
                labels.as_array().unwrap().contains(&json!("one-by-one")),
                "{labels}"
            );
        }
        for n in [61, 90, 115] {
            let status = rest_get(&sim, &format!("/rest/api/3/issue/APO-{n}?fields=status"))
                .await
                .1["fields"]["status"]["name"]
                .clone();
            assert_eq!(status, "Done", "APO-{n}");
        }
        // Again: every line is known done, nothing is sent.
        let again = jira_apply::apply(&client, &changes, journal(), &|| false, &|_| {})
            .await
            .unwrap();
        assert!(
            again.results.iter().all(|r| r.earlier),
            "{:?}",
            again.outcomes
        );
        let after = sim.stats();
        assert_eq!(after.requests_to(method, path), singles, "{endpoint}");
        assert_eq!(after.requests_to("POST", endpoint), 1, "{endpoint}");
        sim.shutdown().await;
    }
}

//! `Counted` against jira-sim: wire attempts, logical requests and points agree with the
//! simulator's own counters.

use jira_model::{ApiRequest, BulkFetchRequest};
use jira_sim::Fault;
use jira_transport::{RetryPolicy, Tally, Transport, TransportExt};

use crate::{ISSUE, fault_on, faults, http, quick_policy, sim};

#[tokio::test]
async fn a_tally_below_retries_counts_attempts_and_one_above_counts_requests() {
    let sim = sim().await;
    // Every GET of an issue answers 503 once in a while; retries hide it from the caller.
    faults(
        &sim,
        vec![fault_on(Fault::Status { status: 503 }, 0.3, ISSUE)],
    );
    let wire = Tally::new();
    let logical = Tally::new();
    let jira = http(&sim)
        .counted(wire.clone())
        // Nine attempts: the chance that one of the 40 GETs meets nine 503s is 1 in 50,000.
        .with_retries(RetryPolicy {
            max_retries: 8,
            ..quick_policy()
        })
        .counted(logical.clone());
    for n in 1..=40 {
        let key = format!("APO-{n}");
        let response = jira
            .send(ApiRequest::get_issue(&key, &["summary"], &[]))
            .await
            .expect("retries hide the 503s");
        assert_eq!(response.status, 200);
    }
    let body = BulkFetchRequest {
        issue_ids_or_keys: (1..=30).map(|n| format!("BEA-{n}")).collect(),
        fields: vec!["summary".into()],
        ..BulkFetchRequest::default()
    };
    jira.send(ApiRequest::bulk_fetch(&body).unwrap())
        .await
        .unwrap();

    let stats = sim.stats();
    let (wire, logical) = (wire.snapshot(), logical.snapshot());
    assert_eq!(logical.requests, 41);
    assert_eq!(logical.success, 41);
    assert_eq!(
        wire.requests, stats.requests,
        "every attempt reaches the sim"
    );
    assert_eq!(wire.server_errors, stats.with_status(503));
    assert!(wire.server_errors > 0, "the faults fired: {wire:?}");
    assert_eq!(wire.requests, 41 + wire.server_errors);
    // Points: 2 per GET (the estimate) and 1 + 30 for the bulk fetch (from its body),
    // none for the 503s; the simulator charges the same.
    assert_eq!(wire.points, 40 * 2 + 31);
    assert_eq!(wire.points, stats.points_spent);
    assert!(wire.max_latency >= wire.mean_latency);
    assert_eq!(logical.errors(), 0);
}

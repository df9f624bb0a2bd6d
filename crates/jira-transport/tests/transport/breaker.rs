//! `CircuitBreaker` against jira-sim: a dead site, recovery, and what does not count.

use std::time::{Duration, Instant};

use jira_model::ApiRequest;
use jira_sim::{BurstConfig, Fault, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_transport::{BreakerConfig, BreakerState, Error, Transport, TransportExt};

use crate::{fault_on, faults, http, sim, sim_with};

fn config(consecutive: u32, open_for_ms: u64) -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: consecutive,
        window: 100,
        failure_rate: 1.0,
        open_for: Duration::from_millis(open_for_ms),
        trial_requests: 1,
    }
}

#[tokio::test]
async fn opens_on_a_dead_site_fails_fast_and_recovers_through_half_open() {
    let sim = sim().await;
    let addr = sim.addr();
    let jira = http(&sim).with_circuit_breaker("sim", config(3, 500));
    sim.shutdown().await;

    for _ in 0..3 {
        let error = jira.send(ApiRequest::myself()).await.unwrap_err();
        assert!(matches!(error, Error::Connect { .. }), "{error}");
    }
    assert!(matches!(jira.state(), BreakerState::Open { .. }));
    let started = Instant::now();
    let error = jira.send(ApiRequest::myself()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "not fast: {:?}",
        started.elapsed()
    );
    match &error {
        Error::CircuitOpen {
            retry_in,
            failures,
            last_failure,
            ..
        } => {
            assert!(*retry_in <= Duration::from_millis(500));
            assert_eq!(*failures, 3);
            // The refusal says what the site did, not only that the circuit is open.
            assert!(last_failure.starts_with("cannot connect"), "{last_failure}");
        }
        other => panic!("expected CircuitOpen, got {other}"),
    }
    let said = error.to_string();
    assert!(said.contains("next trial in"), "{said}");
    assert!(said.contains("(the last: cannot connect"), "{said}");

    // Still dead at the trial: the circuit opens again.
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(jira.state(), BreakerState::HalfOpen);
    assert!(matches!(
        jira.send(ApiRequest::myself()).await,
        Err(Error::Connect { .. })
    ));
    assert!(matches!(jira.state(), BreakerState::Open { .. }));

    // The site comes back: the next trial closes the circuit.
    let revived = SimHandle::bind(
        SimConfig {
            projects: 1,
            issues_per_project: 1,
            limits: LimitConfig::off(),
            ..SimConfig::default()
        },
        addr,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(jira.send(ApiRequest::myself()).await.unwrap().status, 200);
    assert_eq!(jira.state(), BreakerState::Closed);
    assert_eq!(revived.stats().requests, 1);
}

#[tokio::test]
async fn opens_on_a_failure_rate_without_consecutive_failures() {
    let sim = sim().await;
    faults(
        &sim,
        vec![fault_on(
            Fault::Status { status: 500 },
            1.0,
            "/rest/api/3/field",
        )],
    );
    let jira = http(&sim).with_circuit_breaker(
        "sim",
        BreakerConfig {
            consecutive_failures: 100,
            window: 10,
            failure_rate: 0.5,
            open_for: Duration::from_secs(5),
            trial_requests: 1,
        },
    );
    // Failure, success, failure, success, ...: never two failures in a row.
    for _ in 0..5 {
        assert_eq!(jira.send(ApiRequest::fields()).await.unwrap().status, 500);
        assert_eq!(jira.send(ApiRequest::myself()).await.unwrap().status, 200);
    }
    assert!(matches!(jira.state(), BreakerState::Open { .. }));
    assert!(matches!(
        jira.send(ApiRequest::myself()).await,
        Err(Error::CircuitOpen { .. })
    ));
    assert_eq!(sim.stats().requests, 10);
}

#[tokio::test]
async fn client_errors_and_rate_limits_do_not_open_it() {
    let sim = sim_with(LimitConfig {
        burst: Some(BurstConfig::uniform(2.0)),
        ..LimitConfig::off()
    })
    .await;
    let jira = http(&sim).with_circuit_breaker("sim", config(2, 5_000));
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(
            jira.send(ApiRequest::get_issue("NOPE-1", &[], &[]))
                .await
                .unwrap()
                .status
                .as_u16(),
        );
    }
    assert!(
        statuses.contains(&404) && statuses.contains(&429),
        "{statuses:?}"
    );
    assert_eq!(jira.state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_rate_limited_trial_gives_its_slot_back() {
    let sim = sim().await;
    faults(
        &sim,
        vec![FaultRule::new(Fault::Status { status: 503 }, 1.0)],
    );
    let jira = http(&sim).with_circuit_breaker("sim", config(1, 200));
    assert_eq!(jira.send(ApiRequest::myself()).await.unwrap().status, 503);
    assert!(matches!(jira.state(), BreakerState::Open { .. }));
    tokio::time::sleep(Duration::from_millis(250)).await;
    // The trial meets a 429: neither success nor failure, so another trial may go.
    sim.set_faults(Default::default());
    sim.set_limits(LimitConfig {
        burst: Some(BurstConfig::uniform(1.0)),
        ..LimitConfig::off()
    });
    assert_eq!(jira.send(ApiRequest::myself()).await.unwrap().status, 200);
    assert_eq!(jira.state(), BreakerState::Closed);
    let _ = jira.send(ApiRequest::myself()).await.unwrap();
    assert_eq!(jira.send(ApiRequest::myself()).await.unwrap().status, 429);
    assert_eq!(jira.state(), BreakerState::Closed);
}

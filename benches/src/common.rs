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

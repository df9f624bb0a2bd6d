//! jira-transport against jira-sim over real HTTP (real time, short scaled durations).
//! One test binary, one module per layer.

mod breaker;
mod http;
mod retry;
mod tally;

use std::time::Duration;

use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_transport::{Auth, HttpConfig, HttpTransport, PerClass, RetryPolicy, Timeouts};

/// A small simulator without limits or faults.
pub async fn sim() -> SimHandle {
    sim_with(LimitConfig::off()).await
}

/// A small simulator with these limits.
pub async fn sim_with(limits: LimitConfig) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 2,
        issues_per_project: 50,
        limits,
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// Sets these fault rules on the simulator.
pub fn faults(sim: &SimHandle, rules: Vec<FaultRule>) {
    sim.set_faults(FaultConfig { rules });
}

/// A fault rule on one endpoint.
pub fn fault_on(fault: Fault, probability: f64, endpoint: &str) -> FaultRule {
    FaultRule::new(fault, probability).on(endpoint)
}

/// The simulator's credentials.
pub fn auth(sim: &SimHandle) -> Auth {
    {
        let (email, token) = sim.basic_auth();
        Auth::basic(email, token)
    }
}

/// An HTTP config for the simulator with short timeouts, as tests need.
pub fn config(sim: &SimHandle) -> HttpConfig {
    let mut config = HttpConfig::new(sim.base_url(), auth(sim));
    config.timeouts = Timeouts {
        // Loopback connects at once; a short connect timeout keeps the head budget
        // (connect + read) close to the read timeout the tests set.
        connect: Duration::from_millis(100),
        read: PerClass::uniform(Duration::from_secs(5)),
        total: PerClass::uniform(Duration::from_secs(10)),
    };
    config
}

/// An HTTP transport for the simulator.
pub fn http(sim: &SimHandle) -> HttpTransport {
    HttpTransport::new(config(sim)).expect("valid config")
}

/// A retry policy with short waits.
pub fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

/// The single-issue template.
pub const ISSUE: &str = "/rest/api/3/issue/{issueIdOrKey}";
/// The create template.
pub const CREATE: &str = "/rest/api/3/issue";

//! What the scenarios share: clients for jira-sim, load generators, memory readings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// What a load run saw.
pub struct Load {
    /// When each request finished, seconds from the start, sorted.
    pub finished: Vec<f64>,
    /// Requests that did not end in a 200.
    pub failures: u64,
    /// Wall time.
    pub wall: Duration,
}

impl Load {
    /// Requests a second over the second half of the run (after the initial bucket and
    /// any learning).
    pub fn sustained_rate(&self) -> f64 {
        let half = self.finished.len() / 2;
        let span = self.finished.last().copied().unwrap_or(0.0) - self.finished[half];
        (self.finished.len() - half) as f64 / span.max(1e-9)
    }
}

/// Sends a GET for each key (cycling through `keys` until `count`) with `workers` tasks.
pub async fn get_issues<T: Transport + 'static>(
    jira: Arc<T>,
    keys: Arc<Vec<String>>,
    count: usize,
    workers: usize,
) -> Load {
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(count)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (jira, keys, next, failures, finished) = (
                jira.clone(),
                keys.clone(),
                next.clone(),
                failures.clone(),
                finished.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if n >= count {
                        return;
                    }
                    let key = &keys[n % keys.len()];
                    match jira
                        .send(ApiRequest::get_issue(key, &["summary"], &[]))
                        .await
                    {
                        Ok(response) if response.status == 200 => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    finished.lock().push(started.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a load task");
    }
    let mut finished = std::mem::take(&mut *finished.lock());
    finished.sort_by(f64::total_cmp);
    Load {
        finished,
        failures: failures.load(Ordering::Relaxed),
        wall: started.elapsed(),
    }
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

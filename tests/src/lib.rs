//! Helpers shared by the end-to-end tests (this crate's `it` binary, the CLI's, the job
//! crates') and the benchmarks: a real redis-server on a free loopback port, the scale-out
//! workers, the jira-sim fixtures of [`sim`] (a client for a simulator, its REST API
//! called directly) and the third-party client suites of [`clients`]. One copy of each, so a fixture is never written twice.
//!
//! ```no_run
//! let redis = jira_ops_tests::RedisServer::start();
//! println!("{}", redis.url); // redis://127.0.0.1:<port>/0
//! ```

pub mod clients;
pub mod postgres;
pub mod sim;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server started for one test and stopped when dropped.
pub struct RedisServer {
    child: Child,
    /// `redis://127.0.0.1:<port>/0`.
    pub url: String,
}

impl RedisServer {
    /// Starts `redis-server` (no persistence) on a free port and waits until it answers.
    pub fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server is not installed: run `cargo xtask ci` (installs it as root) or `apt-get install -y redis-server`",
            );
        let server = RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}/0"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the scale-out workers reported together.
#[derive(Clone, Debug, Default)]
pub struct Workers {
    /// Every completion time, milliseconds since the Unix epoch, sorted.
    pub finished_ms: Vec<u64>,
    /// Requests that did not end in a 200.
    pub failed: u64,
    /// Requests that ended in a 200, per worker, in the order they were started.
    pub ok_per_worker: Vec<u64>,
}

impl Workers {
    /// Requests a second over the second half of the run (after the initial bucket).
    pub fn sustained_rate(&self) -> f64 {
        let times = &self.finished_ms;
        if times.len() < 2 {
            return 0.0;
        }
        let half = times.len() / 2;
        let span_ms = (times[times.len() - 1] - times[half]).max(1) as f64;
        (times.len() - half) as f64 / (span_ms / 1000.0)
    }
}

/// Runs `workers` processes of the `scaleout-worker` binary at `binary` at once, each
/// sending `per_worker` GETs to `site` with `budget` (`local` or a redis:// URL), and
/// gathers their reports. Blocks: call it from `spawn_blocking` in async code.
pub fn run_scaleout_workers(
    binary: &std::path::Path,
    site: &str,
    budget: &str,
    workers: usize,
    per_worker: u64,
) -> Workers {
    let children: Vec<_> = (0..workers)
        .map(|_| {
            Command::new(binary)
                .args([site, budget, &per_worker.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "{} does not run ({e}): build it with `cargo build -p jira-ops-tests`",
                        binary.display()
                    )
                })
        })
        .collect();
    let mut report = Workers::default();
    for child in children {
        let output = child.wait_with_output().expect("a worker ends");
        assert!(output.status.success(), "a worker failed: {output:?}");
        let line: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("the worker's JSON line");
        report.failed += line["failed"].as_u64().unwrap_or(0);
        report.ok_per_worker.push(line["ok"].as_u64().unwrap_or(0));
        report.finished_ms.extend(
            line["finished_ms"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_u64()),
        );
    }
    report.finished_ms.sort_unstable();
    report
}

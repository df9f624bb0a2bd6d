//! The cost of one budget decision.
//!
//! - `in_process/uncontended`: one task, a bucket that always has room.
//! - `in_process/contended_64`: 64 tasks acquiring from the same bucket at once (per
//!   acquire).
//! - `redis/acquire`: one acquire against a local redis-server (started by the bench), and
//!   the round trips each acquire costs, read from `INFO commandstats`.
//!
//! Run: `cargo bench -p jira-ratelimit --bench acquire` (needs `redis-server` on PATH).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jira_ratelimit::{Budget, BurstDemand, Demand, Fallback, Grant, InProcessBudget, RedisBudget};

fn demand() -> Demand {
    Demand {
        burst: Some(BurstDemand {
            key: "burst:GET /rest/api/3/issue/{issueIdOrKey}".into(),
            rate: 1e12,
            capacity: 1e12,
        }),
        scopes: vec![
            "site".into(),
            "burst:GET /rest/api/3/issue/{issueIdOrKey}".into(),
        ],
        ..Demand::default()
    }
}

struct Redis(Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Redis {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on PATH (apt-get install -y redis-server)");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    Redis(child, port)
}

/// Commands sent by clients (each a round trip here: no pipelining), from
/// `INFO commandstats`, excluding the commands scripts run inside Redis and `INFO` itself.
fn client_commands(port: u16) -> u64 {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    let mut connection = client.get_connection().unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut connection)
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()?;
            matches!(name, "evalsha" | "eval" | "script|load" | "script").then_some(calls)
        })
        .sum()
}

fn acquire(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let demand = demand();

    let mut group = c.benchmark_group("in_process");
    group.throughput(Throughput::Elements(1));
    let budget = InProcessBudget::new();
    group.bench_function("uncontended", |b| {
        b.iter(|| {
            let grant = budget.acquire_at(&demand, tokio::time::Instant::now());
            assert_eq!(grant, Grant::Granted);
        })
    });
    let shared = Arc::new(InProcessBudget::new());
    group.bench_function("contended_64", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let shared = shared.clone();
            let demand = demand.clone();
            async move {
                let per_task = iterations.div_ceil(64).max(1);
                let started = Instant::now();
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let (shared, demand) = (shared.clone(), demand.clone());
                        tokio::spawn(async move {
                            for _ in 0..per_task {
                                assert_eq!(shared.acquire(&demand).await.unwrap(), Grant::Granted);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                // Time per acquire, as criterion expects for `iterations` acquires.
                started
                    .elapsed()
                    .mul_f64(iterations as f64 / (per_task * 64) as f64)
            }
        })
    });
    group.finish();

    let redis = start_redis();
    let url = format!("redis://127.0.0.1:{}/0", redis.1);
    let budget = runtime
        .block_on(RedisBudget::connect(&url, "bench", Fallback::Fail))
        .unwrap();
    let budget = Arc::new(budget);
    let mut group = c.benchmark_group("redis");
    group.throughput(Throughput::Elements(1));
    group.bench_function("acquire", |b| {
        b.to_async(&runtime).iter(|| {
            let (budget, demand) = (budget.clone(), demand.clone());
            async move {
                assert_eq!(budget.acquire(&demand).await.unwrap(), Grant::Granted);
            }
        })
    });
    group.finish();

    let before = client_commands(redis.1);
    const N: u64 = 1_000;
    runtime.block_on(async {
        for _ in 0..N {
            budget.acquire(&demand).await.unwrap();
        }
    });
    let per_acquire = (client_commands(redis.1) - before) as f64 / N as f64;
    println!("redis/round_trips_per_acquire: {per_acquire:.2}");
}

criterion_group!(benches, acquire);
criterion_main!(benches);

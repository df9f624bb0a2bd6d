//! The client built from the facade alone (`jira_client`, no CLI code) against jira-sim,
//! beside the `jira-ops` binary configured alike: one Redis budget (no 429s at the limit
//! with both running) and one cache namespace (what one fetched, the other reads).

use std::path::PathBuf;
use std::process::Stdio;

use jira_client::{BudgetChoice, CacheChoice, JiraClient};
use jira_ops_tests::RedisServer;
use jira_ratelimit::Fallback;
use jira_sim::{BurstConfig, LimitConfig, SimConfig, SimHandle};
use jira_transport::Transport as _;

/// The `jira-ops` binary of this build (`cargo test --workspace` builds it beside this
/// test binary).
fn jira_ops() -> PathBuf {
    let exe = std::env::current_exe().expect("this test binary");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let binary = dir.join("jira-ops");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p jira-ops-cli` (cargo test --workspace does)",
        binary.display()
    );
    binary
}

/// Runs `jira-ops` with the sim's credentials and `store` for both budget and cache.
async fn cli(
    sim: &SimHandle,
    store: &str,
    home: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    let (email, token) = sim.basic_auth();
    tokio::process::Command::new(jira_ops())
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("JIRA_SITE_URL", sim.base_url())
        .env("JIRA_EMAIL", email)
        .env("JIRA_API_TOKEN", token)
        .env("JIRA_OPS_RATE_LIMIT_STORE", store)
        .env("JIRA_OPS_CACHE_STORE", store)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .expect("jira-ops runs")
}

/// The facade's client, configured as the CLI is: the same store for budget and cache,
/// the site URL spelled differently (a trailing slash) to show that the site key, not
/// the text, is the namespace.
async fn facade(sim: &SimHandle, store: &str) -> JiraClient {
    let (email, token) = sim.basic_auth();
    JiraClient::builder(&format!("{}/", sim.base_url()))
        .basic_auth(email, token)
        .budget(BudgetChoice::Redis {
            url: store.to_owned(),
            fallback: Fallback::Fail,
        })
        .cache(CacheChoice::Redis {
            url: store.to_owned(),
        })
        .build()
        .await
        .expect("the facade builds")
}

fn keys(project: &str, count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("{project}-{n}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facade_and_the_cli_share_one_budget_and_one_cache() {
    // Atlassian's POST limit, which both sides start from: no learning phase, so every
    // 429 would be the two sides' combined pace.
    const RATE: f64 = 100.0;
    const ISSUES: usize = 6_000;
    let redis = RedisServer::start();
    let sim = SimHandle::start(SimConfig {
        projects: 2,
        issues_per_project: ISSUES,
        limits: LimitConfig {
            burst: Some(BurstConfig::uniform(RATE)),
            ..LimitConfig::off()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let client = facade(&sim, &redis.url).await;
    assert_eq!(
        client.site_key().as_str(),
        sim.base_url().trim_start_matches("http://")
    );

    // Both at once, each fetching 6,000 issues of its own project with their comments
    // (a multi-valued field: bulk fetches of 100, not the lean 1,000):
    // 120 requests against a bucket of 100 a second. With budgets of their own, each could
    // send its 60 at once (its own bucket holds 97): 120 at once against a bucket of 100.
    let cli_keys = keys("BEA", ISSUES).join("\n");
    let key_file = home.path().join("keys.txt");
    std::fs::write(&key_file, cli_keys).unwrap();
    let key_path = key_file.display().to_string();
    let fetch_args = [
        "fetch",
        "--from-file",
        &key_path,
        "--fields",
        "summary,comment",
        "--format",
        "jsonl",
    ];
    let cli_run = cli(&sim, &redis.url, home.path(), &fetch_args);
    let facade_keys = keys("APO", ISSUES);
    let fields = ["summary", "comment"];
    let facade_run = client.fetch_issues(&facade_keys, &fields, &[]);
    let (cli_out, facade_out) = tokio::join!(cli_run, facade_run);
    assert!(
        cli_out.status.success(),
        "{}",
        String::from_utf8_lossy(&cli_out.stderr)
    );
    let (results, report) = facade_out.unwrap();
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(report.requests, ISSUES / 100);
    let stats = sim.stats();
    assert_eq!(
        stats.requests_to("POST", "/rest/api/3/issue/bulkfetch"),
        2 * ISSUES as u64 / 100,
        "{} 429s",
        stats.rate_limited
    );
    assert_eq!(
        stats.rate_limited, 0,
        "one shared budget: no 429s at the limit"
    );

    // One cache namespace: what the CLI fetched, the facade reads without a request.
    let before = sim.stats().requests;
    let (results, report) = client
        .fetch_issues(&keys("BEA", 1_000), &fields, &[])
        .await
        .unwrap();
    assert_eq!(report.cache_hits, 1_000);
    assert_eq!(sim.stats().requests, before);
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    client.close().await.unwrap();
}

#[tokio::test]
async fn reads_through_the_cache_go_on_when_redis_dies() {
    let sim = SimHandle::start(SimConfig {
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts");
    let mut redis = RedisServer::start();
    let (email, token) = sim.basic_auth();
    let client = JiraClient::builder(sim.base_url())
        .basic_auth(email, token)
        .cache(CacheChoice::Redis {
            url: redis.url.clone(),
        })
        .build()
        .await
        .expect("the facade builds");
    let get = |key: &str| jira_model::ApiRequest::get_issue(key, &["summary"], &[]);
    let send = |key: String| {
        let transport = client.transport().clone();
        async move { transport.send(get(&key)).await }
    };
    // Cached: the second read is a hit.
    send("APO-1".into()).await.expect("a read");
    let before = sim.stats().requests;
    let hit = send("APO-1".into()).await.expect("a hit");
    assert_eq!(hit.headers.get("x-jira-ops-cache").unwrap(), "hit");
    assert_eq!(sim.stats().requests, before);

    // Redis dies: every read still answers, from Jira.
    redis.stop();
    for n in 1..=20 {
        let response = send(format!("APO-{n}"))
            .await
            .unwrap_or_else(|e| panic!("APO-{n} after Redis died: {e}"));
        assert_eq!(response.status, 200, "APO-{n}");
        assert!(response.headers.get("x-jira-ops-cache").is_none());
    }
    assert_eq!(sim.stats().requests, before + 20);
}

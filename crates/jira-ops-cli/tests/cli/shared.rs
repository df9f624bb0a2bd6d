//! Workers sharing Redis: the cache and the rate-limit budget, from the command line.

use jira_ops_tests::RedisServer;
use jira_sim::LimitConfig;

use crate::{Env, sim_with};

#[tokio::test]
async fn two_processes_share_a_redis_cache_and_budget() {
    let redis = RedisServer::start();
    let sim = sim_with(2, 200, LimitConfig::atlassian()).await;
    let mut env = Env::for_sim(&sim);
    env.set("JIRA_OPS_CACHE_STORE", &redis.url)
        .set("JIRA_OPS_RATE_LIMIT_STORE", &redis.url);
    let keys: Vec<String> = (1..=200).map(|n| format!("APO-{n}")).collect();
    let mut args = vec!["fetch", "--format", "jsonl"];
    args.extend(keys.iter().map(String::as_str));

    // Both at once: no lock between them, both get every issue.
    let (first, second) = tokio::join!(env.run(&args), env.run(&args));
    first.code(0);
    second.code(0);
    assert_eq!(first.json_lines().len(), 200);
    assert_eq!(second.json_lines().len(), 200);

    // A third finds everything in the shared cache.
    let before = sim.stats().requests;
    let third = env.run(&args).await;
    third.code(0);
    assert!(
        third.stderr.contains("200 from the cache)")
            && third.stderr.contains("fetch: 200 issues · 0 requests ("),
        "{}",
        third.stderr
    );
    assert_eq!(sim.stats().requests, before);
    assert_eq!(sim.stats().rate_limited, 0);

    let status = env.run(&["cache", "status", "--json"]).await;
    status.code(0);
    assert_eq!(status.json()["store"], "redis");
    assert_eq!(status.json()["categories"]["issue"]["entries"], 200);

    // A Redis that is not there: a clear error naming the URL without its password.
    env.set("JIRA_OPS_CACHE_STORE", "redis://:hunter2@127.0.0.1:1/0");
    let down = env.run(&["cache", "status"]).await;
    down.code(1);
    let line = down.error_line();
    assert!(
        line.contains("127.0.0.1:1") && !line.contains("hunter2"),
        "{line}"
    );
}

//! jira-cache's behavioural suite against a real redis-server, and the crash test of the
//! sled store.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use jira_cache::{AnyStore, CacheConfig, Category, JiraCache, RedisStore, SledStore, Target};
use rand::Rng;

use jira_ops_tests::RedisServer;

#[tokio::test]
async fn the_behavioural_suite_on_redis() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url, Duration::from_secs(3600))
        .await
        .unwrap();
    jira_cache::testing::run_all(store).await;
}

#[tokio::test]
async fn the_behavioural_suite_on_redis_chosen_at_run_time() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url, Duration::from_secs(3600))
        .await
        .unwrap();
    jira_cache::testing::run_all(std::sync::Arc::new(AnyStore::from(store))).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error() {
    let error = RedisStore::connect("redis://:secret@127.0.0.1:1/0", Duration::from_secs(1))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("127.0.0.1:1") && !message.contains("secret"),
        "{message}"
    );
}

#[tokio::test]
async fn killed_writers_never_leave_a_damaged_entry_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache");
    let mut rng = rand::rng();
    for round in 0..20 {
        let mut writer = Command::new(env!("CARGO_BIN_EXE_cache-writer"))
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(writer.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready", "round {round}");
        std::thread::sleep(Duration::from_millis(rng.random_range(20..200)));
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();

        let store = SledStore::open(&path, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let cache = JiraCache::open(store, CacheConfig::new("crash.example"))
            .await
            .unwrap();
        let keys = cache
            .count_matching(&Target::Category(Category::Issue))
            .await
            .unwrap();
        let mut intact = 0;
        for n in 0..500u64 {
            let value: Option<serde_json::Value> = cache
                .get_stale(&Category::Issue, &format!("K-{n}"))
                .await
                .unwrap()
                .map(|read| read.value);
            if let Some(value) = value {
                assert_eq!(
                    value,
                    serde_json::json!({"n": n, "text": n.to_string().repeat(200)}),
                    "round {round}, K-{n}"
                );
                intact += 1;
            }
        }
        assert!(intact <= keys, "round {round}");
        cache.close().await.unwrap();
    }
}

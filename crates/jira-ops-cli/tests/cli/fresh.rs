//! Freshness: what comes from the cache says so and how old it is; `--max-age`,
//! `--fresh` and the TTLs bound it; search and sync refresh what the cache holds.

use crate::{EMAIL, Env, TOKEN, sim};

/// Renames an issue on the site behind the client's back.
async fn rename(sim: &jira_sim::SimHandle, key: &str, summary: &str) {
    let status = reqwest::Client::new()
        .put(format!("{}/rest/api/3/issue/{key}", sim.base_url()))
        .basic_auth(EMAIL, Some(TOKEN))
        .json(&serde_json::json!({"fields": {"summary": summary}}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
}

async fn fetched(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["fetch", "--format", "jsonl"];
    all.extend_from_slice(args);
    let run = env.run(&all).await;
    run.code(0);
    run.json_lines().remove(0)
}

#[tokio::test]
async fn cached_rows_are_marked_and_max_age_fresh_search_and_sync_bound_them() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let first = fetched(&env, &["APO-1"]).await;
    assert!(
        first.get("jira_ops").is_none(),
        "read from the site: {first}"
    );

    rename(&sim, "APO-1", "Renamed on the site").await;
    let cached = fetched(&env, &["APO-1"]).await;
    assert_eq!(cached["jira_ops"]["source"], "cache", "{cached}");
    assert!(cached["jira_ops"]["age_secs"].as_u64().unwrap() < 60);
    assert_ne!(cached["fields"]["summary"], "Renamed on the site");

    // --max-age 0s and --fresh read the site.
    for flag in [&["--max-age", "0s"][..], &["--fresh"][..]] {
        let mut args = vec!["APO-1"];
        args.extend_from_slice(flag);
        let fresh = fetched(&env, &args).await;
        assert!(fresh.get("jira_ops").is_none(), "{flag:?}: {fresh}");
        assert_eq!(fresh["fields"]["summary"], "Renamed on the site");
    }
    let bad = env.run(&["fetch", "APO-1", "--max-age", "soon"]).await;
    bad.code(2);
    assert!(
        bad.error_line().contains("--max-age \"soon\""),
        "{}",
        bad.stderr
    );

    // A table marks cached rows and says what the mark means.
    let table = env.run(&["fetch", "APO-1", "--format", "table"]).await;
    table.code(0);
    assert!(table.stdout.contains("APO-1 *"), "{}", table.stdout);
    assert!(
        table.stdout.contains("* from the cache (up to"),
        "{}",
        table.stdout
    );

    // A search returns the new summary and refreshes the cache with it.
    rename(&sim, "APO-1", "Renamed again").await;
    let run = env
        .run(&["search", "key = APO-1", "--format", "jsonl"])
        .await;
    run.code(0);
    assert_eq!(run.json_lines()[0]["fields"]["summary"], "Renamed again");
    let after = fetched(&env, &["APO-1"]).await;
    assert_eq!(after["jira_ops"]["source"], "cache", "{after}");
    assert_eq!(after["fields"]["summary"], "Renamed again");
    // What the cache held nothing of, a search does not add (an export does not flood it).
    env.run(&["search", "key = APO-9", "--format", "jsonl"])
        .await
        .code(0);
    let never = fetched(&env, &["APO-9"]).await;
    assert!(never.get("jira_ops").is_none(), "{never}");

    // A sync drops the cached copies of what it synced.
    fetched(&env, &["APO-2"]).await;
    rename(&sim, "APO-2", "Renamed before the sync").await;
    let dest = format!("{}/", env.dir.path().join("export").display());
    env.run(&[
        "sync",
        "--jql",
        "key = APO-2",
        "--to",
        &dest,
        "--settle-secs",
        "0",
        "--with",
        "none",
    ])
    .await
    .code(0);
    let after = fetched(&env, &["APO-2"]).await;
    assert!(after.get("jira_ops").is_none(), "{after}");
    assert_eq!(after["fields"]["summary"], "Renamed before the sync");
}

#[tokio::test]
async fn ttls_per_category_are_set_in_the_config() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let config = env.config_path();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[profiles.default]\nttl_issue_secs = 0\n").unwrap();
    let show = env.run(&["config", "show", "--json"]).await.json();
    assert_eq!(show["settings"]["ttl_issue_secs"]["value"], 0);
    fetched(&env, &["APO-3"]).await;
    let again = fetched(&env, &["APO-3"]).await;
    assert!(
        again.get("jira_ops").is_none(),
        "a TTL of 0 serves nothing: {again}"
    );
    std::fs::write(&config, "[profiles.default]\nttl_issue_secs = 3600\n").unwrap();
    fetched(&env, &["APO-3"]).await;
    let again = fetched(&env, &["APO-3"]).await;
    assert_eq!(again["jira_ops"]["source"], "cache");
}

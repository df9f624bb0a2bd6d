//! `jira-ops fetch`, `search` and `create`: formats, streaming, per-item failures.

use crate::{Env, sim};

#[tokio::test]
async fn fetch_writes_every_format_and_names_what_is_missing() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);

    let run = env
        .run(&["fetch", "APO-1", "APO-2", "BEA-3", "--format", "jsonl"])
        .await;
    run.code(0);
    let issues = run.json_lines();
    let keys: Vec<&str> = issues.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["APO-1", "APO-2", "BEA-3"]);
    assert!(issues[0]["fields"]["summary"].is_string());
    // Three keys, one bulk fetch.
    assert_eq!(
        sim.stats()
            .requests_to("POST", "/rest/api/3/issue/bulkfetch"),
        1
    );

    // The same keys again come from the cache.
    let again = env
        .run(&["fetch", "APO-1", "APO-2", "BEA-3", "--format", "json"])
        .await;
    again.code(0);
    assert_eq!(again.json().as_array().unwrap().len(), 3);
    assert!(
        again.stderr.contains("3 from the cache)")
            && again.stderr.contains("fetch: 3 issues · 0 requests ("),
        "{}",
        again.stderr
    );
    assert_eq!(sim.stats().requests, 1);

    let csv = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "csv",
            "--fields",
            "summary,status",
        ])
        .await;
    csv.code(0);
    let mut lines = csv.stdout.lines();
    assert_eq!(lines.next(), Some("key,summary,status"));
    assert!(lines.next().unwrap().starts_with("APO-1,"));

    let table = env.run(&["fetch", "APO-1", "--format", "table"]).await;
    table.code(0);
    assert!(table.stdout.contains("│ APO-1"), "{}", table.stdout);

    // A missing key: the others are still written, the missing one named, exit 1.
    let partial = env
        .run(&[
            "fetch",
            "APO-1",
            "NOPE-9",
            "--format",
            "jsonl",
            "--no-cache",
        ])
        .await;
    partial.code(1);
    assert_eq!(partial.json_lines().len(), 1);
    assert!(
        partial.stderr.contains("NOPE-9 does not exist"),
        "{}",
        partial.stderr
    );
}

#[tokio::test]
async fn fetch_reads_keys_from_a_file_and_from_stdin() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let file = env.dir.path().join("keys.txt");
    std::fs::write(&file, "# keys\nAPO-1\n\nAPO-2  # the second\nBEA-1\n").unwrap();
    let run = env
        .run(&[
            "fetch",
            "--from-file",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
        ])
        .await;
    run.code(0);
    assert_eq!(run.json_lines().len(), 3);

    let piped = env
        .run_with_stdin(&["fetch", "-", "--no-cache"], Some("BEA-2\nBEA-3\n"))
        .await;
    piped.code(0);
    // Not a terminal: JSON Lines by default.
    let keys: Vec<String> = piped
        .json_lines()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["BEA-2", "BEA-3"]);

    let missing = env.run(&["fetch", "--from-file", "no-such-file.txt"]).await;
    missing.code(2);
    assert!(missing.error_line().contains("no-such-file.txt"));
    let bad = env
        .run_with_stdin(&["fetch", "-"], Some("APO-1\nnot a key\n"))
        .await;
    bad.code(2);
    assert!(bad.error_line().contains("line 2"), "{}", bad.stderr);
    env.run(&["fetch"]).await.code(2);
}

#[tokio::test]
async fn fetch_streams_in_input_order_or_unordered_around_cache_hits() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    env.set("JIRA_BATCH_SIZE", "5");
    for (unordered, project) in [(false, "APO"), (true, "BEA")] {
        // Cache every fourth key, then fetch 60: hits and misses interleave.
        let keys: Vec<String> = (1..=60).map(|n| format!("{project}-{n}")).collect();
        let mut warm = vec!["fetch", "--format", "jsonl"];
        warm.extend(keys.iter().step_by(4).map(String::as_str));
        env.run(&warm).await.code(0);
        let mut args = vec!["fetch", "--format", "jsonl"];
        if unordered {
            args.push("--unordered");
        }
        args.extend(keys.iter().map(String::as_str));
        let run = env.run(&args).await;
        run.code(0);
        assert!(run.stderr.contains("15 from the cache"), "{}", run.stderr);
        let mut out: Vec<String> = run
            .json_lines()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_owned())
            .collect();
        if unordered {
            // Cache hits come out first.
            assert_eq!(out[..2], [keys[0].clone(), keys[4].clone()]);
            out.sort_by_key(|k| k[4..].parse::<u32>().unwrap());
        }
        assert_eq!(out, keys, "unordered: {unordered}");
    }
}

#[tokio::test]
async fn search_streams_every_issue_and_reports_bad_jql() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let run = env
        .run(&[
            "search",
            "project = BEA",
            "--format",
            "jsonl",
            "--fields",
            "summary",
        ])
        .await;
    run.code(0);
    let issues = run.json_lines();
    assert_eq!(issues.len(), 60);
    let keys: std::collections::HashSet<_> = issues
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 60, "no duplicates");

    let searches = || sim.stats().requests_to("POST", "/rest/api/3/search/jql");
    let before = searches();
    let limited = env.run(&["search", "project = BEA", "--limit", "7"]).await;
    limited.code(0);
    assert_eq!(limited.json_lines().len(), 7);
    // One page of 7 asked for, none read ahead.
    assert_eq!(searches() - before, 1);

    let bad = env.run(&["search", "project = = BEA"]).await;
    bad.code(2);
    let line = bad.error_line();
    assert!(line.contains("project = = BEA"), "{line}");
    assert!(line.contains("Expecting"), "{line}");
}

#[tokio::test]
async fn create_reports_one_result_per_line() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let issue = |summary: &str| {
        format!(
            r#"{{"fields": {{"project": {{"key": "APO"}}, "issuetype": {{"name": "Task"}}, "summary": "{summary}"}}}}"#
        )
    };
    let refused = r#"{"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}}}"#;
    let file = env.dir.path().join("new.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n\n{}\n{refused}\n{}\n",
            issue("one"),
            issue("two"),
            issue("three")
        ),
    )
    .unwrap();
    let run = env
        .run(&["create", "--from-file", file.to_str().unwrap()])
        .await;
    run.code(1);
    let results = run.json_lines();
    assert_eq!(results.len(), 4);
    let lines: Vec<u64> = results
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 3, 4, 5]);
    assert!(results[0]["key"].as_str().unwrap().starts_with("APO-"));
    assert_eq!(results[2]["outcome"], "refused");
    assert!(run.stderr.contains("created 3 of 4"), "{}", run.stderr);
    let stats = sim.stats();
    assert_eq!(stats.issues_created, 3);
    assert_eq!(stats.duplicate_creates, 0);

    // A malformed line stops everything before any request.
    std::fs::write(&file, format!("{}\n{{not json\n", issue("four"))).unwrap();
    let bad = env
        .run(&["create", "--from-file", file.to_str().unwrap()])
        .await;
    bad.code(2);
    assert!(bad.error_line().contains("line 2"), "{}", bad.stderr);
    assert!(bad.error_line().contains("nothing was created"));
    // So does a line that is not text at all, named as such.
    let mut bytes = format!("{}\n", issue("five")).into_bytes();
    bytes.extend_from_slice(b"\xff\xfe{}\n");
    std::fs::write(&file, bytes).unwrap();
    let bad = env
        .run(&["create", "--from-file", file.to_str().unwrap()])
        .await;
    bad.code(2);
    let said = bad.error_line();
    assert!(said.contains("line 2: not UTF-8 text"), "{}", bad.stderr);
    assert!(said.contains("nothing was created"), "{}", bad.stderr);
    assert_eq!(sim.stats().issues_created, 3);
}

#[tokio::test]
async fn an_unreachable_site_fails_with_one_line() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    sim.shutdown().await;
    let run = env
        .run(&["search", "project = APO", "--retries", "0"])
        .await;
    run.code(1);
    assert!(
        run.error_line().contains("cannot connect"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_wrong_token_exits_3_for_data_commands() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    env.set("JIRA_API_TOKEN", "wrong");
    let search = env.run(&["search", "project = APO"]).await;
    search.code(3);
    assert!(search.error_line().contains("refused the credentials"));
    env.run(&["fetch", "APO-1", "--no-cache"]).await.code(3);
}

#[tokio::test]
async fn csv_and_tables_show_rich_text_as_text_and_json_keeps_the_adf() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let json = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "jsonl",
            "--fields",
            "description",
        ])
        .await;
    json.code(0);
    let description = &json.json_lines()[0]["fields"]["description"];
    assert_eq!(
        description["type"], "doc",
        "JSON keeps the ADF: {description}"
    );
    let paragraph = description["content"][0]["content"][0]["text"]
        .as_str()
        .expect("the generated description has a first paragraph")
        .to_owned();

    for format in ["csv", "table"] {
        let run = env
            .run(&[
                "fetch",
                "APO-1",
                "--format",
                format,
                "--fields",
                "description",
            ])
            .await;
        run.code(0);
        assert!(
            run.stdout.contains(&paragraph[..20.min(paragraph.len())]),
            "{format} shows the text: {}",
            run.stdout
        );
        assert!(
            !run.stdout.contains("\"type\"") && !run.stdout.contains("paragraph"),
            "{format} shows no ADF: {}",
            run.stdout
        );
    }
}

/// A server that takes the connection and never answers: a fetch of one key says so after
/// the read timeout, once, and gives up within the deadline of a single read (not the
/// minutes a bulk read of thousands may take).
#[tokio::test]
async fn a_silent_server_is_announced_and_given_up_on_within_the_read_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut env = Env::new();
    env.set("JIRA_SITE_URL", format!("http://{address}"))
        .set("JIRA_EMAIL", crate::EMAIL)
        .set("JIRA_API_TOKEN", crate::TOKEN)
        .set("JIRA_OPS_READ_DEADLINE", 6);
    let started = std::time::Instant::now();
    let run = env
        .run(&[
            "fetch",
            "APO-1",
            "--timeout",
            "2",
            "--no-cache",
            "--format",
            "jsonl",
        ])
        .await;
    run.code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        run.stderr
            .matches("no answer from POST /rest/api/3/issue/bulkfetch within")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("retrying for up to"), "{}", run.stderr);
    held.abort();
}

/// A proxy the environment names that cannot be reached: the error names the variable and
/// where it points, never the proxy's credentials.
#[tokio::test]
async fn a_connection_through_an_unreachable_proxy_names_it_without_its_credentials() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    env.set("HTTP_PROXY", "http://bob:s3cret@127.0.0.1:1");
    let run = env
        .run(&["fetch", "APO-1", "--no-cache", "--retries", "0"])
        .await;
    run.code(1);
    assert!(
        run.stderr
            .contains("HTTP_PROXY is set (http://127.0.0.1:1): the request went through"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    assert!(!run.stderr.contains("bob"), "{}", run.stderr);
    assert_eq!(sim.stats().requests, 0, "nothing reached the site");
}

/// A certificate the client does not trust (a private CA, a proxy, a wrong host) is not a
/// blip: the first attempt fails with the TLS library's reason and the fix, no retries;
/// the fix it names (`SSL_CERT_FILE`) makes the same read pass.
#[tokio::test]
async fn a_refused_certificate_fails_at_once_with_the_reason() {
    let sim = jira_sim::SimHandle::start(jira_sim::SimConfig {
        tls: true,
        credentials: vec![jira_sim::Credential {
            email: crate::EMAIL.into(),
            api_token: jira_sim::Secret::new(crate::TOKEN),
        }],
        ..jira_sim::SimConfig::default()
    })
    .await
    .unwrap();
    assert!(sim.base_url().starts_with("https://"));
    let mut env = Env::for_sim(&sim);
    let run = env.run(&["fetch", "APO-1", "--no-cache"]).await;
    run.code(1);
    assert!(
        run.stderr.contains("over TLS: invalid peer certificate"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("SSL_CERT_FILE"), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 request (1 logical, 0 retries"),
        "{}",
        run.stderr
    );
    // The verifier's own log line is not printed beside it.
    assert!(
        !run.stderr.contains("rustls_platform_verifier"),
        "{}",
        run.stderr
    );
    // The fix it names works: the CA trusted through SSL_CERT_FILE, the same read passes.
    let pem = env.dir.path().join("sim-ca.pem");
    std::fs::write(&pem, sim.certificate_pem().unwrap()).unwrap();
    env.set("SSL_CERT_FILE", pem.display());
    let trusted = env.run(&["fetch", "APO-1", "--no-cache"]).await;
    trusted.code(0);
    assert!(trusted.stdout.contains("\"APO-1\""), "{}", trusted.stdout);
}

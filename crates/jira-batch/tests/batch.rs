//! jira-batch against jira-sim over HTTP: accounting, coalescing, streaming, bulk creates.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jira_batch::{
    BatchConfig, Batcher, CreateError, Error, FetchError, Order, Progress, SearchOptions,
    create_issues, fetch_issues, fetch_issues_stream, fetch_issues_with_comments, search,
};
use jira_cache::{CacheConfig, JiraCache, SledStore};
use jira_model::{ApiRequest, IssueUpdate, SearchRequest};
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_transport::{
    Auth, HttpConfig, HttpTransport, RetryPolicy, Retrying, Secret, TransportExt,
};
use serde_json::json;

type Stack = Retrying<HttpTransport>;

async fn sim(projects: usize, issues_per_project: usize) -> SimHandle {
    SimHandle::start(SimConfig {
        projects,
        issues_per_project,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn stack(sim: &SimHandle) -> Arc<Stack> {
    let mut config = HttpConfig::new(
        sim.base_url(),
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        },
    );
    config.max_in_flight = 64;
    Arc::new(
        HttpTransport::new(config)
            .unwrap()
            .with_retries(RetryPolicy {
                max_retries: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                ..RetryPolicy::default()
            }),
    )
}

fn config() -> BatchConfig {
    BatchConfig {
        max_concurrent: 32,
        ..BatchConfig::default()
    }
}

fn cache(
    dir: &tempfile::TempDir,
    site: &str,
) -> impl std::future::Future<Output = JiraCache<SledStore>> {
    let store = SledStore::open(dir.path().join("cache"), Duration::from_secs(2)).unwrap();
    let site = site.to_owned();
    async move {
        JiraCache::open(store, CacheConfig::new(site))
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_faulty_mixed_batch_is_accounted_for() {
    let sim = sim(2, 100).await;
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(Fault::Status { status: 500 }, 0.1)],
    });
    let mut batch = Batcher::new(stack(&sim), config());
    let search = SearchRequest {
        jql: "project = APO".into(),
        max_results: Some(10),
        ..SearchRequest::default()
    };
    let mut edit = IssueUpdate::default();
    edit.fields.insert("labels".into(), json!(["batched"]));
    for n in 0..5_000 {
        let request = match n % 6 {
            0 => ApiRequest::get_issue(&format!("APO-{}", n % 100 + 1), &["summary"], &[]),
            1 => ApiRequest::fields(),
            2 => ApiRequest::search(&search).unwrap(),
            3 => ApiRequest::get_issue(&format!("NOPE-{n}"), &[], &[]),
            4 => ApiRequest::update_issue(&format!("BEA-{}", n % 100 + 1), &edit).unwrap(),
            _ => ApiRequest::myself(),
        };
        assert_eq!(batch.add(request), n);
    }
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let results = batch.run_with_progress(events).await;
    assert_eq!(results.len(), 5_000);
    assert!(results.in_order().map(|(id, _)| id).eq(0..5_000));
    let failures: Vec<_> = results.failures().collect();
    // Every unknown issue is a typed 404 error; some others failed after their retries.
    assert!(failures.len() >= 5_000 / 6);
    for (id, error) in &failures {
        // (Or, once in 10,000, four injected 500s in a row before the 404 could come.)
        if id % 6 == 3 {
            let status = error.status().map(|s| s.as_u16());
            assert!(matches!(status, Some(404 | 500)), "{error}");
        }
    }
    let not_found = failures
        .iter()
        .filter(|(_, e)| e.status().map(|s| s.as_u16()) == Some(404))
        .count();
    assert!(not_found >= 5_000 / 6 - 5, "{not_found} typed 404s");
    assert_eq!(results.successes() + failures.len(), 5_000);
    let mut queued = 0;
    let mut finished = 0;
    while let Ok(event) = received.try_recv() {
        match event {
            Progress::Queued(_) => queued += 1,
            Progress::Done { .. } | Progress::Failed { .. } => finished += 1,
            _ => {}
        }
    }
    assert_eq!((queued, finished), (5_000, 5_000));
    // Retrying the failures is a new batch of only those, mapped to the original ids.
    let retry = results.retry_failures();
    assert_eq!(retry.len(), failures.len());
    let retried = retry.run().await;
    assert_eq!(retried.len(), failures.len());
    let originals: HashSet<usize> = retried
        .in_order()
        .map(|(id, _)| retried.original_id(id))
        .collect();
    assert_eq!(originals, failures.iter().map(|(id, _)| *id).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_keys_of_one_field_take_ten_requests_then_none() {
    let sim = sim(5, 2_000).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(&dir, sim.base_url()).await;
    let mut keys: Vec<String> = sim
        .project_keys()
        .iter()
        .flat_map(|p| (1..=2_000).map(move |n| format!("{p}-{n}")))
        .take(9_990)
        .collect();
    keys.extend((0..10).map(|n| format!("GONE-{n}")));
    keys.extend(keys[..50].to_vec()); // duplicates are fetched once
    let stack = stack(&sim);
    let (results, report) = fetch_issues(&stack, Some(&cache), &config(), &keys, &["summary"], &[])
        .await
        .unwrap();
    assert_eq!(results.len(), 10_000);
    // One plain field: a lean bulk fetch, 1,000 issues a call.
    assert_eq!(report.requests, 10);
    assert!(sim.stats().requests <= 10);
    let not_found: Vec<&String> = results
        .iter()
        .filter(|(_, r)| matches!(r, Err(FetchError::NotFound(_))))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(not_found.len(), 10);
    assert!(not_found.iter().all(|k| k.starts_with("GONE-")));
    assert!(
        results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .all(|(k, r)| &r.as_ref().unwrap().key == k)
    );

    let before = sim.stats().requests;
    let (again, report) = fetch_issues(
        &stack,
        Some(&cache),
        &config(),
        &keys[..9_990],
        &["summary"],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(again.len(), 9_990);
    assert_eq!((report.cache_hits, report.requests), (9_990, 0));
    assert_eq!(
        sim.stats().requests,
        before,
        "the second run never reached the wire"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_read_takes_a_hundred_a_call_and_a_refused_lean_one_is_asked_in_hundreds() {
    let sim = sim(1, 1_000).await;
    let keys: Vec<String> = (1..=1_000).map(|n| format!("APO-{n}")).collect();
    let stack = stack(&sim);
    let config = config();
    // Every navigable field (multi-valued ones among them): 100 a call.
    let (results, report) = fetch_issues::<_, SledStore>(&stack, None, &config, &keys, &[], &[])
        .await
        .unwrap();
    assert_eq!(results.iter().filter(|(_, r)| r.is_ok()).count(), 1_000);
    assert_eq!(report.requests, 10);
    // A field the client cannot tell is multi-valued (named, not by id): the site
    // refuses 1,000, and the same keys are asked in hundreds; none is lost.
    let before = sim.stats().requests;
    let (results, _) =
        fetch_issues::<_, SledStore>(&stack, None, &config, &keys, &["summary", "Labels"], &[])
            .await
            .unwrap();
    assert_eq!(results.iter().filter(|(_, r)| r.is_ok()).count(), 1_000);
    assert_eq!(sim.stats().requests - before, 1 + 10);
}

/// A site that answers the first 100 issues of a lean bulk fetch of 1,000 and says nothing
/// of the rest (its reference reads "up to 100"): the rest are asked in hundreds, and only
/// the keys that do not exist are not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_answers_only_the_first_hundred_loses_none_of_the_rest() {
    let sim = sim(1, 1_000).await;
    sim.set_realism(jira_sim::Realism {
        bulk_reads_answer_at_most: Some(100),
        ..sim.realism()
    });
    let mut keys: Vec<String> = (1..=997).map(|n| format!("APO-{n}")).collect();
    keys.extend((5_001..=5_003).map(|n| format!("APO-{n}")));
    let (results, report) =
        fetch_issues::<_, SledStore>(&stack(&sim), None, &config(), &keys, &["summary"], &[])
            .await
            .unwrap();
    assert_eq!(results.iter().filter(|(_, r)| r.is_ok()).count(), 997);
    let missing: Vec<&String> = results
        .iter()
        .filter(|(_, r)| matches!(r, Err(FetchError::NotFound(_))))
        .map(|(key, _)| key)
        .collect();
    assert_eq!(missing, ["APO-5001", "APO-5002", "APO-5003"]);
    assert_eq!(report.requests, 10, "the first ask, then nine of a hundred");
}

#[tokio::test]
async fn bulkfetch_missing_on_the_site_falls_back_to_single_gets() {
    let sim = sim(1, 20).await;
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(Fault::Status { status: 404 }, 1.0).on("/rest/api/3/issue/bulkfetch"),
        ],
    });
    let keys: Vec<String> = vec!["APO-1".into(), "APO-2".into(), "APO-99".into()];
    let (results, report) =
        fetch_issues::<_, SledStore>(&stack(&sim), None, &config(), &keys, &[], &[])
            .await
            .unwrap();
    assert_eq!(report.requests, 4);
    assert!(results[0].1.is_ok() && results[1].1.is_ok());
    assert_eq!(results[2].1, Err(FetchError::NotFound("APO-99".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_issues_stream_without_gaps_or_duplicates() {
    let sim = sim(1, 50_000).await;
    let options = SearchOptions {
        fields: vec!["summary".into()],
        page_size: 100,
        prefetch: true,
        limit: None,
    };
    let mut stream = Box::pin(search(stack(&sim), "project = APO ORDER BY key", options));
    let mut seen = HashSet::new();
    let mut last_number = 0;
    while let Some(issue) = stream.next().await {
        let issue = issue.unwrap();
        let number: u64 = issue.key.rsplit('-').next().unwrap().parse().unwrap();
        assert_eq!(
            number,
            last_number + 1,
            "a gap or a reorder before {}",
            issue.key
        );
        last_number = number;
        assert!(seen.insert(issue.key));
    }
    assert_eq!(seen.len(), 50_000);
    assert_eq!(sim.stats().requests, 500);
}

#[tokio::test]
async fn a_search_page_that_does_not_decode_is_asked_for_again() {
    let sim = sim(1, 250).await;
    let search_path = "/rest/api/3/search/jql";
    let options = SearchOptions {
        fields: vec!["summary".into()],
        page_size: 50,
        prefetch: false,
        limit: None,
    };
    // Always cut short: asked for three times, then a clear error, never a silent end.
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(Fault::Malformed, 1.0).on(search_path)],
    });
    let issues: Vec<_> = search(stack(&sim), "project = APO ORDER BY key", options.clone())
        .collect()
        .await;
    assert_eq!(issues.len(), 1);
    let error = issues[0].as_ref().unwrap_err();
    assert!(error.to_string().contains("not a valid"), "{error}");
    assert_eq!(sim.stats().requests_to("POST", search_path), 3);
    // Cut short now and then: each such page is asked for again, and the stream has every
    // issue once, in order (or, if one page failed three times in a row, ends with that
    // error, never with a gap).
    sim.reset_stats();
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(Fault::Malformed, 0.3).on(search_path)],
    });
    let issues: Vec<_> = search(stack(&sim), "project = APO ORDER BY key", options)
        .collect()
        .await;
    let stats = sim.stats();
    let malformed = stats.faults.get("malformed").copied().unwrap_or(0);
    let served: Vec<String> = issues
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|i| i.key.clone()))
        .collect();
    let expected: Vec<String> = (1..=served.len()).map(|n| format!("APO-{n}")).collect();
    assert_eq!(served, expected, "no gap, no duplicate");
    if issues.iter().all(Result::is_ok) {
        assert_eq!(served.len(), 250);
        assert_eq!(stats.requests_to("POST", search_path), 5 + malformed);
    } else {
        assert!(issues.last().unwrap().is_err());
    }
}

#[tokio::test]
async fn unbounded_jql_is_a_clear_error() {
    let sim = sim(1, 5).await;
    let mut stream = Box::pin(search(
        stack(&sim),
        "ORDER BY created",
        SearchOptions::default(),
    ));
    let error = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(error, Error::InvalidJql { .. }), "{error}");
    assert!(error.to_string().contains("Unbounded JQL"), "{error}");
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn five_hundred_creates_with_some_invalid_are_each_accounted_for() {
    let sim = sim(2, 5).await;
    let inputs: Vec<IssueUpdate> = (0..500)
        .map(|n| {
            let mut issue = IssueUpdate::default();
            issue.fields.insert("project".into(), json!({"key": "BEA"}));
            issue
                .fields
                .insert("issuetype".into(), json!({"name": "Task"}));
            if n % 10 != 7 {
                issue
                    .fields
                    .insert("summary".into(), json!(format!("Bulk {n}")));
            }
            issue
        })
        .collect();
    let results = create_issues(&stack(&sim), &config(), inputs).await;
    assert_eq!(results.len(), 500);
    for (n, result) in results.iter().enumerate() {
        match result {
            Ok(created) => assert!(n % 10 != 7 && created.key.starts_with("BEA-")),
            Err(CreateError::Refused { index, errors }) => {
                assert_eq!((*index, n % 10), (n, 7));
                assert!(errors.errors.contains_key("summary"), "{errors:?}");
            }
            Err(other) => panic!("element {n}: {other}"),
        }
    }
    let stats = sim.stats();
    assert_eq!(stats.issues_created, 450);
    assert_eq!(stats.duplicate_creates, 0);
    assert_eq!(stats.requests_to("POST", "/rest/api/3/issue/bulk"), 10);
}

#[tokio::test]
async fn comments_follow_the_issues_that_were_found() {
    let sim = sim(1, 10).await;
    let keys: Vec<String> = vec!["APO-1".into(), "APO-2".into(), "GONE-1".into()];
    let results = fetch_issues_with_comments::<_, SledStore>(&stack(&sim), None, &config(), &keys)
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    for (key, result) in &results[..2] {
        let (issue, comments) = result.as_ref().unwrap();
        assert_eq!(&issue.key, key);
        let (status, page) = comment_page(&sim, key).await;
        assert_eq!(status, 200);
        assert_eq!(comments.len() as u64, page["total"].as_u64().unwrap());
    }
    assert_eq!(
        results[2].1.as_ref().unwrap_err(),
        &FetchError::NotFound("GONE-1".into())
    );
}

/// The comment page of `key`, read through a plain transport.
async fn comment_page(sim: &SimHandle, key: &str) -> (u16, serde_json::Value) {
    use jira_transport::Transport;
    let response = stack(sim)
        .send(ApiRequest::comments(key, 0, 100))
        .await
        .unwrap();
    (response.status.as_u16(), response.json().unwrap())
}

#[tokio::test]
async fn an_undecodable_bulk_fetch_answer_is_asked_for_three_times_then_fails_its_keys() {
    let sim = sim(1, 250).await;
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(Fault::Malformed, 1.0).on("/rest/api/3/issue/bulkfetch")],
    });
    let keys: Vec<String> = (1..=250).map(|n| format!("APO-{n}")).collect();
    // With the comments: 100 issues a call.
    let fields = ["summary", "comment"];
    let (results, report) =
        fetch_issues::<_, SledStore>(&stack(&sim), None, &config(), &keys, &fields, &[])
            .await
            .unwrap();
    // Three chunks, each asked for three times.
    assert_eq!(report.requests, 9);
    assert_eq!(
        sim.stats()
            .requests_to("POST", "/rest/api/3/issue/bulkfetch"),
        9
    );
    assert_eq!(results.len(), 250);
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, Err(FetchError::Failed { .. })))
    );
}

#[tokio::test]
async fn creates_that_never_left_are_not_sent_rather_than_unknown() {
    let sim = sim(1, 5).await;
    let jira = stack(&sim);
    sim.shutdown().await;
    let inputs = (0..3)
        .map(|n| {
            let mut issue = IssueUpdate::default();
            issue
                .fields
                .insert("summary".into(), json!(format!("s{n}")));
            issue
        })
        .collect();
    let results = create_issues(&jira, &config(), inputs).await;
    assert_eq!(results.len(), 3);
    for (n, result) in results.iter().enumerate() {
        assert!(
            matches!(result, Err(CreateError::NotSent { index, .. }) if *index == n),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_create_refused_whole_says_nothing_was_created() {
    let sim = sim(1, 5).await;
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(Fault::Status { status: 413 }, 1.0).on("/rest/api/3/issue/bulk"),
        ],
    });
    let inputs = (0..3)
        .map(|n| {
            let mut issue = IssueUpdate::default();
            issue.fields.insert("project".into(), json!({"key": "APO"}));
            issue
                .fields
                .insert("issuetype".into(), json!({"name": "Task"}));
            issue
                .fields
                .insert("summary".into(), json!(format!("big {n}")));
            issue
        })
        .collect();
    let results = create_issues(&stack(&sim), &config(), inputs).await;
    for result in &results {
        let Err(error @ CreateError::NotSent { .. }) = result else {
            panic!("{result:?}");
        };
        let message = error.to_string();
        assert!(message.contains("nothing was created"), "{message}");
        assert!(message.contains("too large"), "{message}");
    }
    assert_eq!(sim.stats().issues_created, 0);
}

#[tokio::test]
async fn a_streamed_fetch_yields_input_order_around_cache_hits_and_stops_admitting() {
    let sim = sim(1, 2_000).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(&dir, sim.base_url()).await;
    let stack = stack(&sim);
    let small = BatchConfig {
        max_concurrent: 4,
        fetch_chunk: 10,
        ..BatchConfig::default()
    };
    // Every third key cached first: hits interleave with misses.
    let cached: Vec<String> = (1..=300).step_by(3).map(|n| format!("APO-{n}")).collect();
    fetch_issues(&stack, Some(&cache), &small, &cached, &["summary"], &[])
        .await
        .unwrap();
    let keys: Vec<String> = (1..=300).map(|n| format!("APO-{n}")).collect();
    let before = sim.stats().requests;
    let mut stream = fetch_issues_stream(
        stack.clone(),
        Some(cache.clone()),
        &small,
        &keys,
        vec!["summary".into()],
        vec![],
        Order::Input,
    )
    .await;
    let mut seen = Vec::new();
    while let Some((key, result)) = stream.next().await {
        assert_eq!(result.unwrap().key, key);
        seen.push(key);
    }
    assert_eq!(seen, keys, "input order, every key once");
    let report = stream.report();
    assert_eq!(report.cache_hits, 100);
    // The 200 misses in chunks of 10 across the hits, not one request per gap.
    assert_eq!(report.requests, 20);
    assert_eq!(sim.stats().requests - before, 20);
    assert!(stream.not_done().is_empty());

    // In completion order, stopped after the first result: the fetches on the wire end,
    // no other is sent, and every key is either out or not done.
    let keys: Vec<String> = (1_001..=2_000).map(|n| format!("APO-{n}")).collect();
    let before = sim.stats().requests;
    let mut stream = fetch_issues_stream::<_, SledStore>(
        stack.clone(),
        None,
        &small,
        &keys,
        vec!["summary".into()],
        vec![],
        Order::Completion,
    )
    .await;
    let mut out = vec![stream.next().await.unwrap().0];
    stream.stop_admitting();
    while let Some((key, _)) = stream.next().await {
        out.push(key);
    }
    let sent = (sim.stats().requests - before) as usize;
    assert!(
        sent <= 2 * small.max_concurrent,
        "{sent} fetches after the stop"
    );
    assert_eq!(out.len(), sent * 10);
    let not_done = stream.not_done();
    assert_eq!(out.len() + not_done.len(), keys.len());
    let out: HashSet<String> = out.into_iter().collect();
    assert!(not_done.iter().all(|k| !out.contains(k)));
}

//! Nothing lost, whatever happens on the site while and between syncs: issues that enter
//! the sink after the worklog feed passed their worklogs, page tokens that are offsets,
//! two queries in one sink, deletions on a re-run, a site without the bulk changelog
//! endpoint, a worklog list that answers only its first ids. Each test fails on a sync
//! that trusts the feed, the tokens, a census of the whole sink, or a list's answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jira_ops_tests::sim::{rest, rest_get, uncached_client};
use jira_sim::{Fault, FaultConfig, FaultRule, PageTokens, SimHandle};
use jira_sync::{JsonlSink, SqliteSink, Strategy, SyncBatch, SyncOptions, SyncState};
use reqwest::Method;
use serde_json::json;

use super::{Hooked, count, tenant};

/// Every worklog id the site holds for `key`.
pub(super) async fn site_worklogs(sim: &SimHandle, key: &str) -> Vec<i64> {
    let (status, page) = rest_get(sim, &format!("/rest/api/3/issue/{key}/worklog")).await;
    assert_eq!(status, 200, "{key}");
    let mut ids: Vec<i64> = page["worklogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The live worklog ids the sink holds for the issue `key` names.
pub(super) async fn held_worklogs(sim: &SimHandle, sink: &SqliteSink, key: &str) -> Vec<i64> {
    let id = issue_id(sim, key).await;
    let mut statement = sink
        .connection()
        .prepare("SELECT id FROM worklogs WHERE issue_id = ?1 AND deleted_at IS NULL ORDER BY id")
        .unwrap();
    statement
        .query_map([id], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub(super) async fn issue_id(sim: &SimHandle, key: &str) -> i64 {
    let (_, issue) = rest_get(sim, &format!("/rest/api/3/issue/{key}?fields=updated")).await;
    issue["id"].as_str().unwrap().parse().unwrap()
}

/// Keys of project APO's issues with at least `n` worklogs, the first `take` of them.
pub(super) async fn with_worklogs(sim: &SimHandle, n: usize, take: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for number in 1..=150 {
        let key = format!("APO-{number}");
        if site_worklogs(sim, &key).await.len() >= n {
            keys.push(key);
            if keys.len() == take {
                break;
            }
        }
    }
    assert_eq!(keys.len(), take, "the tenant has issues with {n}+ worklogs");
    keys
}

async fn label(sim: &SimHandle, key: &str, label: &str) {
    let (status, _) = rest(
        sim,
        Method::PUT,
        &format!("/rest/api/3/issue/{key}"),
        Some(json!({"fields": {"labels": [label]}})),
    )
    .await;
    assert_eq!(status, 204, "{key}");
}

pub(super) fn every_run(jql: &str) -> SyncOptions {
    SyncOptions {
        settle: Duration::ZERO,
        census_every: Some(Duration::ZERO),
        ..SyncOptions::new(jql)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_moved_into_the_query_brings_every_worklog() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("scope.db")).unwrap();
    // Long tails too: one with more worklogs than an issue embeds (20).
    let mut keys = with_worklogs(&sim, 1, 4).await;
    keys.extend(with_worklogs(&sim, 21, 1).await);
    let options = every_run("project = APO AND labels = synced");
    label(&sim, &keys[0], "synced").await;
    let first = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(first.issues_written, 1);
    // The feed's cursor has passed every worklog the tenant has; then four issues enter
    // the query.
    for key in &keys[1..] {
        label(&sim, key, "synced").await;
    }
    let second = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(second.issues_written, 4, "{second:?}");
    for key in &keys {
        let site = site_worklogs(&sim, key).await;
        assert!(!site.is_empty());
        assert_eq!(
            held_worklogs(&sim, &sink, key).await,
            site,
            "{key}'s worklogs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_edited_in_the_first_runs_settle_window_loses_no_worklog() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("settle.db")).unwrap();
    let keys = with_worklogs(&sim, 1, 3).await;
    // Edited just before the first run: past its window's end (now less the settle time),
    // so the first run leaves them to the next, while its feed reads their worklogs.
    for key in &keys {
        label(&sim, key, "late").await;
    }
    let first = SyncOptions {
        settle: Duration::from_secs(120),
        ..every_run("project = APO")
    };
    jira_sync::sync(&client, &mut sink, &first).await.unwrap();
    for key in &keys {
        assert!(
            held_worklogs(&sim, &sink, key).await.is_empty(),
            "{key} waits"
        );
    }
    let next = jira_sync::sync(&client, &mut sink, &every_run("project = APO"))
        .await
        .unwrap();
    assert!(next.issues_written >= keys.len(), "{next:?}");
    for key in &keys {
        let site = site_worklogs(&sim, key).await;
        assert_eq!(
            held_worklogs(&sim, &sink, key).await,
            site,
            "{key}'s worklogs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_the_census_finds_brings_every_worklog() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("found.db")).unwrap();
    let options = every_run("project = APO");
    jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    // An issue no window returned (as one moved into the query without a change of
    // `updated`, which Jira does on a permission change): the sink does not hold it or
    // its worklogs, and the feed's cursor is past them.
    let key = &with_worklogs(&sim, 2, 1).await[0];
    let id = issue_id(&sim, key).await;
    sink.connection()
        .execute("DELETE FROM issues WHERE id = ?1", [id])
        .unwrap();
    sink.connection()
        .execute("DELETE FROM worklogs WHERE issue_id = ?1", [id])
        .unwrap();
    let report = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(report.issues_restored, 1, "{report:?}");
    assert_eq!(
        held_worklogs(&sim, &sink, key).await,
        site_worklogs(&sim, key).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_takes_worklogs_from_the_issues_and_the_feed_from_its_window() {
    let sim = Arc::new(tenant().await);
    sim.set_realism(jira_sim::Realism {
        worklog_settle_ms: 0,
        ..jira_sim::Realism::default()
    });
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    // What the site holds before the run: the issues whose worklogs outgrow the page an
    // issue embeds (20) are read from their own endpoint, once each.
    let mut long_lists = 0;
    let mut site_before = BTreeMap::new();
    for n in 1..=150 {
        let key = format!("APO-{n}");
        let worklogs = site_worklogs(&sim, &key).await;
        long_lists += u64::from(worklogs.len() > 20);
        site_before.insert(key, worklogs);
    }
    assert!(long_lists > 0, "the tenant has long worklog lists");
    let (added_to, deleted_from) = ("APO-1", &with_worklogs(&sim, 2, 1).await[0]);
    let doomed = site_worklogs(&sim, deleted_from).await[0];
    let deleted_issue = issue_id(&sim, deleted_from).await;
    // Mid-run, after the issues were read: a worklog added to one and one deleted from
    // another. The issues' lists no longer say so; the feed from the window's end does.
    let editor = sim.clone();
    let edited = Arc::new(AtomicBool::new(false));
    let mut sink = Hooked {
        inner: SqliteSink::open(dir.path().join("first.db")).unwrap(),
        before: {
            let edited = edited.clone();
            let deleted_from = deleted_from.clone();
            move |batch: &SyncBatch, _: &SyncState| {
                if !batch.issues.is_empty() && !edited.swap(true, Ordering::SeqCst) {
                    tokio::runtime::Handle::current().block_on(async {
                        let (added, _) = rest(
                            &editor,
                            Method::POST,
                            &format!("/rest/api/3/issue/{added_to}/worklog"),
                            Some(json!({"timeSpentSeconds": 3600})),
                        )
                        .await;
                        assert_eq!(added, 201);
                        let (deleted, _) = rest(
                            &editor,
                            Method::DELETE,
                            &format!("/rest/api/3/issue/{deleted_from}/worklog/{doomed}"),
                            None,
                        )
                        .await;
                        assert_eq!(deleted, 204);
                    });
                }
                Ok(())
            }
        },
    };
    let stats = sim.stats();
    let options = every_run("project = APO");
    let first = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert!(edited.load(Ordering::SeqCst), "the edits ran");
    let sent = |before: &jira_sim::StatsSnapshot, method: &str, template: &str| {
        sim.stats().requests_to(method, template) - before.requests_to(method, template)
    };
    // The feed is not paged through from the beginning of time: one page each, from the
    // window's end, and no list of what it named.
    assert_eq!(sent(&stats, "GET", "/rest/api/3/worklog/updated"), 1);
    assert_eq!(sent(&stats, "GET", "/rest/api/3/worklog/deleted"), 1);
    assert_eq!(sent(&stats, "POST", "/rest/api/3/worklog/list"), 0);
    assert_eq!(
        sent(&stats, "GET", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
        long_lists,
        "{first:?}"
    );
    // Every worklog the issues had when they were read, long lists included.
    let written: usize = site_before.values().map(Vec::len).sum();
    assert_eq!(first.worklogs, written, "{first:?}");
    for (key, worklogs) in &site_before {
        assert_eq!(
            &held_worklogs(&sim, &sink.inner, key).await,
            worklogs,
            "{key}"
        );
    }
    // The next run's feed starts at the first window's end: the mid-run edits arrive.
    let next = jira_sync::sync(&client, &mut sink.inner, &options)
        .await
        .unwrap();
    assert!(next.worklogs >= 1, "{next:?}");
    assert_eq!(next.worklogs_deleted, 1, "{next:?}");
    for key in site_before.keys() {
        assert_eq!(
            held_worklogs(&sim, &sink.inner, key).await,
            site_worklogs(&sim, key).await,
            "{key}"
        );
    }
    let tombstoned: i64 = sink
        .inner
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM worklogs WHERE issue_id = ?1 AND id = ?2 AND deleted_at IS NOT NULL",
            [deleted_issue, doomed],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tombstoned, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_page_tokens_and_issues_leaving_the_window_skip_nothing() {
    let sim = Arc::new(tenant().await);
    sim.set_realism(jira_sim::Realism {
        worklog_settle_ms: 0,
        page_tokens: PageTokens::Offset,
        ..jira_sim::Realism::default()
    });
    // Search pages take a second, so the edits below land after the first page and
    // before the ones that follow it are worked out.
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(
                Fault::Latency {
                    fixed_ms: 1_000,
                    jitter_ms: 0,
                },
                1.0,
            )
            .on("/rest/api/3/search/jql"),
        ],
    });
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let editor = sim.clone();
    let edited = Arc::new(AtomicBool::new(false));
    let mut sink = Hooked {
        inner: SqliteSink::open(dir.path().join("offsets.db")).unwrap(),
        // Inside the first commit that holds issues, five issues of the first page are
        // updated: they leave the window (updated past its end), which shifts every later
        // offset by five.
        before: {
            let edited = edited.clone();
            move |batch: &SyncBatch, _: &SyncState| {
                if !batch.issues.is_empty() && !edited.swap(true, Ordering::SeqCst) {
                    tokio::runtime::Handle::current().block_on(async {
                        for n in 1..=5 {
                            label(&editor, &format!("APO-{n}"), "moved").await;
                        }
                    });
                }
                Ok(())
            }
        },
    };
    let options = SyncOptions {
        strategy: Some(Strategy::Pages),
        census_every: None,
        commit_issues: 1,
        ..every_run("project in (APO, BEA)")
    };
    let report = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert!(edited.load(Ordering::SeqCst), "the edits ran");
    // The five edited issues were read before their edit; every other one once.
    assert_eq!(report.issues_written, 300, "{report:?}");
    assert_eq!(count(&sink.inner, "SELECT COUNT(*) FROM issues"), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_queries_in_one_sink_keep_each_others_issues() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("two.db")).unwrap();
    let (apo, bea) = (every_run("project = APO"), every_run("project = BEA"));
    for _ in 0..2 {
        for options in [&apo, &bea] {
            let report = jira_sync::sync(&client, &mut sink, options).await.unwrap();
            assert_eq!(report.issues_deleted, 0, "{report:?}");
        }
    }
    let live = "SELECT COUNT(*) FROM issues WHERE deleted_at IS NULL";
    assert_eq!(count(&sink, live), 300);

    // A deleted issue is marked by its own query's census, its worklogs with it.
    let key = &with_worklogs(&sim, 2, 1).await[0];
    let worklogs = site_worklogs(&sim, key).await;
    let id = issue_id(&sim, key).await;
    let (gone, _) = rest(
        &sim,
        Method::DELETE,
        &format!("/rest/api/3/issue/{key}"),
        None,
    )
    .await;
    assert_eq!(gone, 204);
    let bea_run = jira_sync::sync(&client, &mut sink, &bea).await.unwrap();
    assert_eq!(
        bea_run.issues_deleted, 0,
        "BEA's census judges BEA's issues"
    );
    let apo_run = jira_sync::sync(&client, &mut sink, &apo).await.unwrap();
    assert_eq!(apo_run.issues_deleted, 1, "{apo_run:?}");
    assert_eq!(count(&sink, live), 299);
    let tombstoned: i64 = sink
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM worklogs WHERE issue_id = ?1 AND deleted_at IS NOT NULL",
            [id],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tombstoned as usize, worklogs.len());

    // An issue both queries hold stays live while either still has it.
    let both = "project in (APO, BEA)";
    jira_sync::sync(&client, &mut sink, &every_run(both))
        .await
        .unwrap();
    let (gone, _) = rest(&sim, Method::DELETE, "/rest/api/3/issue/BEA-5", None).await;
    assert_eq!(gone, 204);
    let mut held: BTreeMap<&str, i64> = BTreeMap::new();
    for options in [&apo, &bea] {
        let report = jira_sync::sync(&client, &mut sink, options).await.unwrap();
        held.insert(options.jql.as_str(), report.issues_deleted as i64);
    }
    assert_eq!(
        held["project = BEA"], 0,
        "the wider query still holds BEA-5"
    );
    let wide = jira_sync::sync(&client, &mut sink, &every_run(both))
        .await
        .unwrap();
    assert_eq!(wide.issues_deleted, 1, "{wide:?}");
    assert_eq!(count(&sink, live), 298);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_rerun_marks_what_was_deleted_since() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("default.db")).unwrap();
    let defaults = SyncOptions {
        settle: Duration::ZERO,
        ..SyncOptions::new("project = APO")
    };
    jira_sync::sync(&client, &mut sink, &defaults)
        .await
        .unwrap();
    let (gone, _) = rest(&sim, Method::DELETE, "/rest/api/3/issue/APO-9", None).await;
    assert_eq!(gone, 204);
    // 150 ids are one census page: the default runs it on every run.
    let rerun = jira_sync::sync(&client, &mut sink, &defaults)
        .await
        .unwrap();
    assert_eq!(rerun.issues_deleted, 1, "{rerun:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_queries_in_one_json_lines_directory_keep_each_others_issues() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("two");
    let (apo, bea) = (every_run("project = APO"), every_run("project = BEA"));
    for _ in 0..2 {
        for options in [&apo, &bea] {
            // Opened afresh each run: what holds which issue is read back from the files.
            let mut sink = JsonlSink::open(&files).unwrap();
            let report = jira_sync::sync(&client, &mut sink, options).await.unwrap();
            assert_eq!(report.issues_deleted, 0, "{report:?}");
        }
    }
    let key = &with_worklogs(&sim, 2, 1).await[0];
    let worklogs = site_worklogs(&sim, key).await.len() as u64;
    let (gone, _) = rest(
        &sim,
        Method::DELETE,
        &format!("/rest/api/3/issue/{key}"),
        None,
    )
    .await;
    assert_eq!(gone, 204);
    let mut sink = JsonlSink::open(&files).unwrap();
    let before = sink.manifest().counts["worklogs_deleted"];
    let bea_run = jira_sync::sync(&client, &mut sink, &bea).await.unwrap();
    assert_eq!(bea_run.issues_deleted, 0);
    let apo_run = jira_sync::sync(&client, &mut sink, &apo).await.unwrap();
    assert_eq!(apo_run.issues_deleted, 1, "{apo_run:?}");
    // One sink open at a time: the lock goes with the sink.
    drop(sink);
    let counts = &JsonlSink::open(&files).unwrap().manifest().counts.clone();
    assert_eq!(counts["issues"], 299);
    assert_eq!(counts["issues_deleted"], 1);
    assert!(
        counts["worklogs_deleted"] >= before + worklogs,
        "the deleted issue's {worklogs} worklogs are tombstones: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_restored_from_a_backup_is_read_again() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("restored.db")).unwrap();
    let options = every_run("project = APO");
    jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    let backup = sim.backup();
    // Edited after the backup: the sink takes the edits.
    let edited: Vec<String> = (1..=5).map(|n| format!("APO-{n}")).collect();
    for key in &edited {
        label(&sim, key, "after-backup").await;
    }
    let second = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(second.issues_written, 5, "{second:?}");
    assert_eq!(second.went_back, 0, "{second:?}");
    // The site is restored: the five are as they were, their `updated` below the mark.
    sim.restore(&backup);
    let third = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(third.went_back, 5, "{third:?}");
    let labelled = count(
        &sink,
        "SELECT COUNT(*) FROM issues WHERE json LIKE '%after-backup%' AND deleted_at IS NULL",
    );
    assert_eq!(labelled, 0, "the sink holds the site as restored");
    // Equal to a fresh export of the restored site.
    let mut fresh = SqliteSink::open(dir.path().join("fresh.db")).unwrap();
    jira_sync::sync(&client, &mut fresh, &options)
        .await
        .unwrap();
    assert_eq!(super::contents(&sink), super::contents(&fresh));
    // Nothing changed since: no false alarm, nothing read again.
    let fourth = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(fourth.went_back, 0, "{fourth:?}");
    assert_eq!(fourth.issues_written, 0, "{fourth:?}");
}

/// Every history entry the sink holds, by issue.
fn held_histories(sink: &SqliteSink) -> BTreeMap<i64, Vec<i64>> {
    let mut statement = sink
        .connection()
        .prepare("SELECT issue_id, id FROM changelog ORDER BY issue_id, id")
        .unwrap();
    let mut held: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for row in statement
        .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (issue, entry) = row.unwrap();
        held.entry(issue).or_default().push(entry);
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_without_the_bulk_changelog_endpoint_gives_every_history_issue_by_issue() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        ..SyncOptions::new("project in (APO, BEA)")
    };
    let mut truth = SqliteSink::open(dir.path().join("truth.db")).unwrap();
    let bulk = jira_sync::sync(&client, &mut truth, &options)
        .await
        .unwrap();
    let expected = held_histories(&truth);
    assert!(
        expected
            .values()
            .any(|entries| entries.len() as u32 > jira_model::ISSUE_CHANGELOG_PAGE_MAX),
        "a history longer than a page, so the pages are followed"
    );
    // An older or partial Jira: the bulk endpoint is not there.
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(Fault::Status { status: 404 }, 1.0)
                .on("/rest/api/3/changelog/bulkfetch"),
        ],
    });
    let per_issue = || {
        sim.stats()
            .requests_to("GET", "/rest/api/3/issue/{issueIdOrKey}/changelog")
    };
    for strategy in [Strategy::Ids, Strategy::Pages] {
        let mut sink = SqliteSink::open(dir.path().join(format!("{strategy:?}.db"))).unwrap();
        let before = per_issue();
        let report = jira_sync::sync(
            &client,
            &mut sink,
            &SyncOptions {
                strategy: Some(strategy),
                ..options.clone()
            },
        )
        .await
        .unwrap();
        assert_eq!(report.issues_written, 300, "{strategy:?}");
        assert_eq!(
            held_histories(&sink),
            expected,
            "{strategy:?}: every entry, none twice"
        );
        let read = per_issue() - before;
        assert!(
            read >= 300,
            "{strategy:?}: read issue by issue ({read} GETs of an issue's changelog)"
        );
        assert!(
            report.requests > bulk.requests + 250,
            "{strategy:?}: the report counts them ({} requests against {})",
            report.requests,
            bulk.requests
        );
    }
}

/// A site whose `POST /worklog/list` answers only the first ids it is asked for and says
/// nothing of the rest (jira-sim's `bulk_reads_answer_at_most`): a re-run that takes new
/// worklogs from the feed asks for the rest again and holds every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worklog_list_that_answers_only_its_first_ids_loses_none() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("capped.db")).unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        ..SyncOptions::new("project = APO")
    };
    jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    let keys: Vec<String> = (1..=12).map(|n| format!("APO-{n}")).collect();
    for key in &keys {
        let (status, _) = rest(
            &sim,
            Method::POST,
            &format!("/rest/api/3/issue/{key}/worklog"),
            Some(json!({"timeSpentSeconds": 900})),
        )
        .await;
        assert_eq!(status, 201, "{key}");
    }
    sim.set_realism(jira_sim::Realism {
        bulk_reads_answer_at_most: Some(5),
        ..sim.realism()
    });
    jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    for key in &keys {
        assert_eq!(
            held_worklogs(&sim, &sink, key).await,
            site_worklogs(&sim, key).await,
            "{key}"
        );
    }
}

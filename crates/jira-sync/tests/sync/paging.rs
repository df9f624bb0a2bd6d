//! A query across projects, read whole every way. JQL's `id` is the issue key field's
//! alias: `id > N` keeps to issue N's project, as on Jira (jira-sim follows it), so a
//! read that paged by `id > <last id>` stopped at the end of the first project. Every way
//! now lists the window's ids by page token and keeps its cursor itself.

use std::time::Duration;

use jira_ops_tests::sim::{rest, uncached_client};
use jira_sim::{LimitConfig, SimConfig, SimHandle};
use jira_sync::{SqliteSink, Strategy, SyncOptions};
use reqwest::Method;
use serde_json::json;

use super::count;

async fn three_projects() -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 3,
        issues_per_project: 150,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_across_projects_is_read_whole_every_way() {
    let sim = three_projects().await;
    let client = uncached_client(&sim).await;
    // The site is strict as Jira: an id range stays in the project of the id's issue.
    let (status, page) = rest(
        &sim,
        Method::POST,
        "/rest/api/3/search/jql",
        Some(json!({"jql": "project in (APO, BEA, COM) AND id > 10000", "maxResults": 5000})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        page["issues"].as_array().unwrap().len(),
        149,
        "APO-2 to APO-150"
    );
    let dir = tempfile::tempdir().unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        census_every: Some(Duration::ZERO),
        ..SyncOptions::new("project in (APO, BEA, COM)")
    };
    for strategy in [Strategy::Ids, Strategy::Pages, Strategy::Slices] {
        let mut sink = SqliteSink::open(dir.path().join(format!("{strategy:?}.db"))).unwrap();
        let options = SyncOptions {
            strategy: Some(strategy),
            ..options.clone()
        };
        let first = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
        assert_eq!(first.issues_written, 450, "{strategy:?}: {first:?}");
        assert_eq!(count(&sink, "SELECT COUNT(*) FROM issues"), 450);
        // A census of the query (every run here) finds every issue still there.
        let again = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
        assert_eq!(again.issues_deleted, 0, "{strategy:?}: {again:?}");
        assert_eq!(
            count(
                &sink,
                "SELECT COUNT(*) FROM issues WHERE deleted_at IS NULL"
            ),
            450
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_an_offset_token_cut_short_is_made_whole_by_the_second() {
    // More ids than a listing page holds (5,000), page tokens that are offsets, and an
    // issue of the first page updated (so out of the window) before the second page is
    // asked: the second page starts one issue late, and the first listing lacks that
    // issue. The second listing, once the first's ids are read, has it.
    let sim = std::sync::Arc::new(
        SimHandle::start(SimConfig {
            projects: 1,
            issues_per_project: 5_300,
            limits: LimitConfig::off(),
            realism: jira_sim::Realism {
                page_tokens: jira_sim::PageTokens::Offset,
                ..jira_sim::Realism::default()
            },
            ..SimConfig::default()
        })
        .await
        .expect("jira-sim starts"),
    );
    // The plan's sample (bulk fetches) takes a second, between the listing's first page
    // (the plan's) and its second.
    sim.set_faults(jira_sim::FaultConfig {
        rules: vec![
            jira_sim::FaultRule::new(
                jira_sim::Fault::Latency {
                    fixed_ms: 1_000,
                    jitter_ms: 0,
                },
                1.0,
            )
            .on("/rest/api/3/issue/bulkfetch"),
        ],
    });
    let editor = sim.clone();
    let edit = tokio::spawn(async move {
        while editor.stats().requests_to("POST", "/rest/api/3/search/jql") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, _) = rest(
            &editor,
            Method::PUT,
            "/rest/api/3/issue/APO-1",
            Some(json!({"fields": {"labels": ["moved"]}})),
        )
        .await;
        assert_eq!(status, 204);
        editor.set_faults(jira_sim::FaultConfig::default());
    });
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("offsets.db")).unwrap();
    let options = SyncOptions {
        changelogs: false,
        comments: false,
        worklogs: false,
        settle: Duration::ZERO,
        strategy: Some(Strategy::Ids),
        ..SyncOptions::new("project = APO")
    };
    let report = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    edit.await.unwrap();
    // APO-1 left the window after it was listed (it is read as it is now); APO-5001,
    // skipped by the shifted page, came from the second listing.
    assert_eq!(report.issues_written, 5_300, "{report:?}");
    assert_eq!(count(&sink, "SELECT COUNT(*) FROM issues"), 5_300);
    assert_eq!(
        count(&sink, "SELECT COUNT(*) FROM issues WHERE key = 'APO-5001'"),
        1
    );
    // Two listings of two pages, the first page the plan's.
    assert_eq!(
        sim.stats().requests_to("POST", "/rest/api/3/search/jql"),
        4,
        "{report:?}"
    );
}

/// The slices are cut from the window's listing and their pages read from it: a read by
/// slices lists the window no more often than one by ids (they read the same objects, as
/// the plan counts them). Before, the slices listed it once more for their own pages: 5,300
/// ids more here (5,300 of 100,000 in `cargo xtask bench`'s scenario 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_are_read_from_the_listing_they_were_cut_from() {
    let sim = super::two_id_pages().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut objects = Vec::new();
    for strategy in [Strategy::Ids, Strategy::Slices] {
        let mut sink = SqliteSink::open(dir.path().join(format!("{strategy:?}.db"))).unwrap();
        let options = SyncOptions {
            changelogs: false,
            comments: false,
            worklogs: false,
            settle: Duration::ZERO,
            strategy: Some(strategy),
            ..SyncOptions::new("project = APO")
        };
        sim.reset_stats();
        let report = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
        assert_eq!(report.issues_written, 5_300, "{strategy:?}: {report:?}");
        let stats = sim.stats();
        // Atlassian's points: one a request, one an object returned.
        objects.push((strategy, stats.points_spent - stats.requests));
        // The window listed twice (it takes two pages), the first page the plan's.
        assert_eq!(stats.ids_listed, 2 * 5_300, "{strategy:?}: {stats:?}");
    }
    // Each way: the issues, the plan's sample, and the ids listed twice (the listing
    // takes two pages, so it is made again once read: page tokens may be offsets).
    assert_eq!(objects[0].1, objects[1].1, "{objects:?}");
    assert!(objects[1].1 >= 3 * 5_300, "{objects:?}");
}

/// A site whose bulk fetch answers only the first issues asked and names no error for the
/// rest (jira-sim's `bulk_reads_answer_at_most`): the `ids` way asks for the rest again,
/// and the sink holds every issue, none marked deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_fetch_that_answers_only_its_first_issues_loses_none() {
    let sim = three_projects().await;
    sim.set_realism(jira_sim::Realism {
        bulk_reads_answer_at_most: Some(10),
        ..sim.realism()
    });
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("capped.db")).unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        strategy: Some(Strategy::Ids),
        census_every: Some(Duration::ZERO),
        ..SyncOptions::new("project in (APO, BEA, COM)")
    };
    let report = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(report.issues_written, 450, "{report:?}");
    assert_eq!(report.issues_deleted, 0, "{report:?}");
    assert_eq!(
        count(
            &sink,
            "SELECT COUNT(*) FROM issues WHERE deleted_at IS NULL"
        ),
        450
    );
}

//! `jira_sync::sync` into SQLite against jira-sim over HTTP: complete, incremental,
//! resumable, histories from the bulk changelog endpoint.

mod completeness;
mod dispatch;
mod early;
mod feeds;
mod jsonl;
mod older;
mod paging;
mod postgres;
mod relational;
mod sinks;

use std::collections::BTreeMap;
use std::time::Duration;

use jira_ops_tests::sim::{rest, rest_get, uncached_client};
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, Realism, SimConfig, SimHandle};
use jira_sync::{Census, JsonlSink, Sink, SqliteSink, Strategy, SyncBatch, SyncOptions, SyncState};
use reqwest::Method;

async fn tenant() -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 3,
        issues_per_project: 150,
        limits: LimitConfig::off(),
        realism: Realism {
            worklog_settle_ms: 0,
            ..Realism::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// One project of more issues than an id page holds (5,300 against 5,000), no limits: a
/// window whose listing takes two pages.
async fn two_id_pages() -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 5_300,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// A tenant, a client of it, a temporary directory and a SQLite sink in it
/// (`export.db`) holding a sync of [`options`]: the truth a JSON Lines sink is held to.
async fn synced_database() -> (
    SimHandle,
    jira_client::JiraClient,
    tempfile::TempDir,
    SqliteSink,
) {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut database = SqliteSink::open(dir.path().join("export.db")).unwrap();
    jira_sync::sync(&client, &mut database, &options())
        .await
        .unwrap();
    (sim, client, dir, database)
}

fn options() -> SyncOptions {
    SyncOptions {
        settle: Duration::ZERO,
        census_every: Some(Duration::ZERO),
        ..SyncOptions::new("project in (APO, BEA)")
    }
}

/// What the sink holds live: every issue's (id, updated) and history length (tombstones
/// left out).
fn contents(sink: &SqliteSink) -> BTreeMap<i64, (i64, i64)> {
    let mut statement = sink
        .connection()
        .prepare(
            "SELECT i.id, i.updated, (SELECT COUNT(*) FROM changelog c WHERE c.issue_id = i.id)
             FROM issues i WHERE i.deleted_at IS NULL ORDER BY i.id",
        )
        .unwrap();
    let millis = |text: String| {
        text.parse::<jira_model::JiraTimestamp>()
            .expect("updated is an ISO time")
            .unix_millis()
    };
    statement
        .query_map([], |row| {
            Ok((row.get(0)?, (millis(row.get(1)?), row.get(2)?)))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A sink that runs `before` ahead of every commit, with what the commit holds and the
/// state it saves: a commit it fails is not made (as a run killed there would stop), and
/// what it does to the site happens mid-run.
struct Hooked<S, F> {
    inner: S,
    before: F,
}

impl<S: Sink, F> Sink for Hooked<S, F>
where
    F: FnMut(&SyncBatch, &SyncState) -> Result<(), jira_sync::Error> + Send,
{
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, jira_sync::Error> {
        self.inner.load_state(jql)
    }

    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), jira_sync::Error> {
        (self.before)(batch, state)?;
        self.inner.commit(batch, state)
    }

    fn has_issue(&mut self, id: &str) -> Result<bool, jira_sync::Error> {
        self.inner.has_issue(id)
    }

    fn worklogs_held(&mut self, issues: &[u64]) -> Result<Vec<(u64, u64)>, jira_sync::Error> {
        self.inner.worklogs_held(issues)
    }

    fn census_begin(&mut self) -> Result<(), jira_sync::Error> {
        self.inner.census_begin()
    }

    fn census_seen(&mut self, ids: &[u64]) -> Result<(), jira_sync::Error> {
        self.inner.census_seen(ids)
    }

    fn census_finish(&mut self, jql: &str, at_ms: i64) -> Result<Census, jira_sync::Error> {
        self.inner.census_finish(jql, at_ms)
    }
}

/// `inner`, failing its commits after the first `left`, as a run killed there would stop.
fn failing<S: Sink>(
    inner: S,
    mut left: usize,
) -> Hooked<S, impl FnMut(&SyncBatch, &SyncState) -> Result<(), jira_sync::Error> + Send> {
    Hooked {
        inner,
        before: move |_: &SyncBatch, _: &SyncState| {
            if left == 0 {
                return Err(jira_sync::Error::Sync("killed".into()));
            }
            left -= 1;
            Ok(())
        },
    }
}

fn count(sink: &SqliteSink, sql: &str) -> i64 {
    sink.connection()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_is_complete_then_incremental_and_resumes_where_it_stopped() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();

    // Complete: every issue of the two projects, each with its whole history.
    let mut sink = SqliteSink::open(dir.path().join("full.db")).unwrap();
    let full = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(full.issues_written, 300);
    let held = contents(&sink);
    assert_eq!(held.len(), 300);
    for key in ["APO-1", "APO-77", "BEA-150"] {
        let (_, issue) = rest_get(&sim, &format!("/rest/api/3/issue/{key}?fields=updated")).await;
        let id: i64 = issue["id"].as_str().unwrap().parse().unwrap();
        let (_, history) = rest_get(
            &sim,
            &format!("/rest/api/3/issue/{key}/changelog?maxResults=1"),
        )
        .await;
        assert_eq!(
            held[&id].1,
            history["total"].as_i64().unwrap(),
            "{key}'s history"
        );
    }
    let entries: i64 = held.values().map(|(_, n)| n).sum();
    assert_eq!(entries as usize, full.history_entries);
    // Histories come in bulk: far fewer changelog requests than issues.
    let changelog_calls = sim
        .stats()
        .requests_to("POST", "/rest/api/3/changelog/bulkfetch");
    assert!(
        changelog_calls <= 20,
        "{changelog_calls} changelog calls for 300 issues"
    );

    // Comments and worklogs of the synced issues, as many as the site has.
    let (mut comments, mut worklogs) = (0, 0);
    for project in ["APO", "BEA"] {
        for n in 1..=150 {
            let key = format!("{project}-{n}");
            let (_, page) = rest_get(
                &sim,
                &format!("/rest/api/3/issue/{key}/comment?maxResults=1"),
            )
            .await;
            comments += page["total"].as_i64().unwrap();
            let (_, page) = rest_get(&sim, &format!("/rest/api/3/issue/{key}/worklog")).await;
            worklogs += page["total"].as_i64().unwrap();
        }
    }
    assert_eq!(count(&sink, "SELECT COUNT(*) FROM comments"), comments);
    assert_eq!(count(&sink, "SELECT COUNT(*) FROM worklogs"), worklogs);
    assert!(worklogs > 0 && comments > 0);

    // Nothing changed: a re-run reads the overlap only and writes nothing.
    let again = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(again.issues_written, 0);
    assert_eq!(again.worklogs, 0);
    assert_eq!(again.issues_deleted, 0);
    // The check for a site restored from a backup (one lean bulk fetch), the count, a
    // search page, the field catalogue, the two worklog feeds and the id census.
    assert!(again.requests <= 7, "{again:?}");
    assert_eq!(again.went_back, 0, "{again:?}");

    // An issue deleted on the site is marked deleted by the census, not dropped.
    let (gone, _) = rest(&sim, Method::DELETE, "/rest/api/3/issue/BEA-77", None).await;
    assert_eq!(gone, 204);
    let census = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(census.issues_deleted, 1, "{census:?}");
    assert_eq!(
        count(
            &sink,
            "SELECT COUNT(*) FROM issues WHERE deleted_at IS NOT NULL"
        ),
        1
    );

    // A worklog deleted on the site is marked deleted, not dropped.
    let (_, page) = rest_get(&sim, "/rest/api/3/issue/APO-2/worklog").await;
    let (_, page) = if page["total"].as_i64().unwrap() > 0 {
        (0, page)
    } else {
        rest_get(&sim, "/rest/api/3/issue/APO-5/worklog").await
    };
    let worklog = page["worklogs"][0].clone();
    let (deleted, _) = rest(
        &sim,
        Method::DELETE,
        &format!(
            "/rest/api/3/issue/{}/worklog/{}",
            worklog["issueId"].as_str().unwrap(),
            worklog["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(deleted, 204);
    let marked = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(marked.worklogs_deleted, 1, "{marked:?}");
    assert_eq!(
        count(
            &sink,
            "SELECT COUNT(*) FROM worklogs WHERE deleted_at IS NOT NULL"
        ),
        1
    );

    // Six issues change: the next run writes those six and the sink equals a fresh export.
    jira_ops_tests::sim::edit_summaries(
        &sim,
        ["APO-3", "APO-140", "BEA-9", "BEA-10", "BEA-149", "APO-150"],
    )
    .await;
    let before = sim.stats().requests;
    let incremental = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(incremental.issues_written, 6, "{incremental:?}");
    // The count, a search page, the catalogue, one changelog call, the two worklog
    // feeds, the worklog list of the changed issues and the census at most.
    assert!(sim.stats().requests - before <= 8, "{incremental:?}");
    let mut fresh = SqliteSink::open(dir.path().join("fresh.db")).unwrap();
    jira_sync::sync(&client, &mut fresh, &options())
        .await
        .unwrap();
    assert_eq!(contents(&sink), contents(&fresh));

    // Killed after the window's first commit of issues, then run again, each strategy:
    // the same as one run, and what was durable is not fetched again.
    for strategy in Strategy::ALL {
        let small_commits = SyncOptions {
            strategy: Some(strategy),
            commit_issues: 100,
            ..options()
        };
        let mut killed = failing(
            SqliteSink::open(dir.path().join(format!("killed-{strategy:?}.db"))).unwrap(),
            2,
        );
        assert!(
            jira_sync::sync(&client, &mut killed, &small_commits)
                .await
                .is_err()
        );
        let partial = contents(&killed.inner).len();
        assert!(
            (1..299).contains(&partial),
            "{strategy:?}: {partial} issues after one commit"
        );
        let mut resumed = killed.inner;
        let remaining = jira_sync::sync(&client, &mut resumed, &small_commits)
            .await
            .unwrap();
        assert!(remaining.resumed, "{remaining:?}");
        assert_eq!(remaining.strategy, Some(strategy));
        // One issue was deleted above: the fresh export holds the 299 left.
        assert_eq!(
            remaining.issues_written,
            contents(&fresh).len() - partial,
            "{strategy:?}: nothing durable fetched again"
        );
        assert_eq!(contents(&resumed), contents(&fresh), "{strategy:?}");
        assert_eq!(
            count(&resumed, "SELECT COUNT(*) FROM comments"),
            count(&fresh, "SELECT COUNT(*) FROM comments")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_measures_the_window_and_names_the_cheapest_way() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("plan.db")).unwrap();
    let plan = jira_sync::plan(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(plan.count, 300);
    assert_eq!(
        plan.requests_spent, 16,
        "count, the first id page, 100 issues spread over it in ten fetches, their histories in four"
    );
    assert!(plan.sample.id_page_ms > 0.0, "{plan:?}");
    assert!(plan.sample.history_per_issue > 0.0, "{plan:?}");
    assert!(plan.sample.issue_bytes > 100.0, "{plan:?}");
    let pages = plan.estimate(Strategy::Pages).unwrap();
    let ids = plan.estimate(Strategy::Ids).unwrap();
    assert!(ids.points > pages.points, "{plan:?}");
    assert!(ids.requests > pages.requests, "{plan:?}");
    assert!(
        plan.reason.starts_with(plan.chosen.name()),
        "{}",
        plan.reason
    );
    // The plan wrote nothing, and the run it describes takes its choice.
    assert_eq!(count(&sink, "SELECT COUNT(*) FROM issues"), 0);
    let run = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    // The run plans again from its own measurements (latency on a loaded two-core machine
    // varies between the two), so it is asked to have planned, not to agree exactly.
    let strategy = run.strategy.expect("the run says how it read");
    assert!(run.reason.starts_with(strategy.name()), "{}", run.reason);
    assert_eq!(run.issues_written, 300);
    assert_eq!(run.expected, Some(300));
}

/// A site's first answer may be slow for reasons no later request meets (its connection
/// set up, a server's cold caches, a busy count): the plan takes a small answer's round
/// trip as the least it measured, so one slow count does not make a near site far (which
/// puts many more units in flight, and their memory, for a latency that is not there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_reads_on_when_a_history_page_holds_fewer_entries_than_asked() {
    // One tenant, measured twice: its changelog pages holding what the plan asks, then at
    // most 200 entries (Atlassian gives `maxResults` as a maximum: a server may answer
    // fewer). Counted from each request's first page, the second would measure at most
    // 200 entries per 25 issues, 8 an issue.
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let plan = |client| async move {
        jira_sync::plan(client, &mut jira_sync::EmptySink, &options())
            .await
            .unwrap()
    };
    let whole = plan(&client).await;
    assert_eq!(whole.requests_spent, 16, "{:?}", whole.sample);
    assert!(whole.sample.history_per_issue > 3.0, "{:?}", whole.sample);
    sim.set_realism(Realism {
        changelog_page_at_most: Some(200),
        ..sim.realism()
    });
    let paged = plan(&client).await;
    assert_eq!(
        paged.sample.history_per_issue, whole.sample.history_per_issue,
        "{:?}",
        paged.sample
    );
    assert!(paged.requests_spent > 16, "{}", paged.requests_spent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_count_does_not_make_a_near_site_far() {
    let sim = tenant().await;
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(
                Fault::Latency {
                    fixed_ms: 80,
                    jitter_ms: 0,
                },
                1.0,
            )
            .on("/rest/api/3/search/approximate-count"),
        ],
    });
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("plan.db")).unwrap();
    let plan = jira_sync::plan(&client, &mut sink, &options())
        .await
        .unwrap();
    assert!(plan.sample.near, "{:?}", plan.sample);
    assert!(plan.sample.base_ms < 20.0, "{:?}", plan.sample);
}

/// A unit whose issues all went between the listing and the bulk fetch (a lagging search
/// index still lists them) sent its fetch and its changelog page all the same: the run's
/// count of requests holds them, and equals what the site answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_whose_issues_are_gone_is_counted_with_its_requests() {
    let sim = SimHandle::start(SimConfig {
        projects: 2,
        issues_per_project: 150,
        limits: LimitConfig::off(),
        realism: Realism {
            worklog_settle_ms: 0,
            search_lag_ms: 600_000,
            ..Realism::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts");
    for number in 1..=150 {
        let (status, _) = rest(
            &sim,
            Method::DELETE,
            &format!("/rest/api/3/issue/BEA-{number}"),
            None,
        )
        .await;
        assert_eq!(status, 204, "BEA-{number}");
    }
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("gone.db")).unwrap();
    let before = sim.stats().requests;
    let report = jira_sync::sync(
        &client,
        &mut sink,
        &SyncOptions {
            strategy: Some(Strategy::Ids),
            census_every: None,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.issues_written, 150, "{report:?}");
    assert_eq!(report.missing.len(), 150, "{report:?}");
    assert_eq!(
        report.requests as u64,
        sim.stats().requests - before,
        "{report:?}"
    );
}

/// What a JSON Lines export holds live, read as a consumer would (the last line per id
/// wins, a tombstone marks its row deleted): every issue's (id, updated) and history
/// length.
fn jsonl_contents(dir: &std::path::Path) -> BTreeMap<i64, (i64, i64)> {
    let read = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut issues = BTreeMap::new();
    for line in read("issues.jsonl") {
        let id = line["id"].as_i64().unwrap();
        match line["json"].is_null() {
            true => issues.remove(&id),
            false => issues.insert(id, line),
        };
    }
    let mut entries = BTreeMap::new();
    for line in read("changelog.jsonl") {
        entries.insert(
            (
                line["issue_id"].as_i64().unwrap(),
                line["id"].as_i64().unwrap(),
            ),
            (),
        );
    }
    issues
        .into_iter()
        .filter(|(_, line)| line["deleted_at"].is_null())
        .map(|(id, line)| {
            assert_eq!(line["json"]["id"], id.to_string(), "a live record is whole");
            let updated = line["updated"]
                .as_str()
                .unwrap()
                .parse::<jira_model::JiraTimestamp>()
                .unwrap()
                .unix_millis();
            let history = entries.range((id, i64::MIN)..=(id, i64::MAX)).count() as i64;
            (id, (updated, history))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_lines_export_equals_the_database_and_survives_a_torn_commit() {
    let (sim, client, dir, database) = synced_database().await;
    let files = dir.path().join("export");

    // Killed after the first commit of issues, with half a line written past it.
    let small = SyncOptions {
        commit_issues: 100,
        strategy: Some(Strategy::Slices),
        ..options()
    };
    let mut killed = failing(JsonlSink::open(&files).unwrap(), 2);
    assert!(jira_sync::sync(&client, &mut killed, &small).await.is_err());
    drop(killed);
    let committed = std::fs::metadata(files.join("issues.jsonl")).unwrap().len();
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(files.join("issues.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut torn, b"{\"id\": 1, \"key\": \"HALF").unwrap();
    drop(torn);

    let mut sink = JsonlSink::open(&files).unwrap();
    assert_eq!(
        std::fs::metadata(files.join("issues.jsonl")).unwrap().len(),
        committed,
        "the torn line is cut on open"
    );
    let partial = jsonl_contents(&files).len();
    assert!((1..300).contains(&partial), "{partial}");
    let remaining = jira_sync::sync(&client, &mut sink, &small).await.unwrap();
    assert!(remaining.resumed);
    assert_eq!(
        remaining.issues_written,
        300 - partial,
        "nothing durable fetched again"
    );
    assert_eq!(jsonl_contents(&files), contents(&database));

    // The manifest: counts that match the files, the field catalogue, the state.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["counts"]["issues"], 300);
    assert_eq!(
        manifest["counts"]["comments"].as_i64().unwrap(),
        count(&database, "SELECT COUNT(*) FROM comments")
    );
    assert_eq!(
        manifest["counts"]["worklogs"].as_i64().unwrap(),
        count(&database, "SELECT COUNT(*) FROM worklogs")
    );
    let fields = std::fs::read_to_string(files.join("fields.jsonl")).unwrap();
    assert!(
        fields
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .any(|f| f["id"] == "summary"
                && f["name"] == "Summary"
                && f["json"]["id"] == "summary")
    );
    assert!(manifest["states"]["project in (APO, BEA)"]["mark_ms"].is_i64());

    // A deleted issue becomes a tombstone line; back on the site, a whole record again.
    let (gone, _) = rest(&sim, Method::DELETE, "/rest/api/3/issue/APO-12", None).await;
    assert_eq!(gone, 204);
    let after = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(after.issues_deleted, 1);
    assert_eq!(jsonl_contents(&files).len(), 299);
    assert_eq!(sink.manifest().counts["issues_deleted"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_census_runs_when_it_is_cheap_and_a_first_run_counts_as_one() {
    let sim = tenant().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("census.db")).unwrap();
    let never = SyncOptions {
        census_every: None,
        ..options()
    };
    jira_sync::sync(&client, &mut sink, &never).await.unwrap();
    let (gone, _) = rest(&sim, Method::DELETE, "/rest/api/3/issue/APO-3", None).await;
    assert_eq!(gone, 204);
    // No census: the deletion not seen yet.
    let before = sim.stats().requests_to("POST", "/rest/api/3/search/jql");
    let quiet = jira_sync::sync(&client, &mut sink, &never).await.unwrap();
    assert_eq!(quiet.issues_deleted, 0);
    assert_eq!(
        sim.stats().requests_to("POST", "/rest/api/3/search/jql") - before,
        1,
        "the window's page alone"
    );
    // A daily census, but 300 ids are one page: it runs on every run.
    let daily = SyncOptions {
        census_every: Some(Duration::from_secs(86_400)),
        ..options()
    };
    let due = jira_sync::sync(&client, &mut sink, &daily).await.unwrap();
    assert_eq!(due.issues_deleted, 1, "{due:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_refuses_the_count_is_synced_the_way_that_needs_no_measure() {
    // A count refused (403: a proxy's rule, a permission) leaves the window unmeasured;
    // a site without the endpoint (404) is counted from its ids instead (`older.rs`).
    let sim = tenant().await;
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(Fault::Status { status: 403 }, 1.0)
                .on("/rest/api/3/search/approximate-count"),
        ],
    });
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("nocount.db")).unwrap();
    let report = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(report.strategy, Some(Strategy::Ids), "{report:?}");
    assert!(
        report.reason.contains("could not be measured"),
        "{}",
        report.reason
    );
    assert_eq!(report.issues_written, 300);
    assert_eq!(contents(&sink).len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_comment_page_that_is_not_the_first_loses_nothing() {
    // The issue's comment field carries only each thread's last 5 comments (startAt =
    // total - 5): paging on from the page's length would skip the thread's start and write
    // its tail twice.
    let sim = SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 20,
        limits: LimitConfig::off(),
        realism: Realism {
            worklog_settle_ms: 0,
            embedded_comments_last: 5,
            ..Realism::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (_, issue) = rest_get(&sim, "/rest/api/3/issue/APO-7?fields=comment").await;
    let total = issue["fields"]["comment"]["total"].as_u64().unwrap();
    assert!(total >= 100, "APO-7 has a long thread");
    assert_eq!(issue["fields"]["comment"]["startAt"], total - 5);

    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("comments.db")).unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        ..SyncOptions::new("project = APO")
    };
    jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    let mut expected = Vec::new();
    for n in 1..=20 {
        let mut start = 0;
        loop {
            let (_, page) = rest_get(
                &sim,
                &format!("/rest/api/3/issue/APO-{n}/comment?startAt={start}&maxResults=100"),
            )
            .await;
            let comments = page["comments"].as_array().unwrap();
            expected.extend(
                comments
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().parse::<i64>().unwrap()),
            );
            start += comments.len();
            if comments.is_empty() || start as u64 >= page["total"].as_u64().unwrap() {
                break;
            }
        }
    }
    expected.sort_unstable();
    let mut statement = sink
        .connection()
        .prepare("SELECT id FROM comments ORDER BY id")
        .unwrap();
    let held: Vec<i64> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(held, expected, "every comment once, none twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ids_way_reads_each_id_page_once_starting_from_the_plans() {
    // More issues than an id page holds (5,000): the plan's page is the read's first,
    // the read goes on after its last id, and every issue is written once.
    let sim = two_id_pages().await;
    let client = uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SqliteSink::open(dir.path().join("ids.db")).unwrap();
    let project = sim.project_keys()[0].clone();
    let options = SyncOptions {
        changelogs: false,
        comments: false,
        worklogs: false,
        settle: Duration::ZERO,
        strategy: Some(Strategy::Ids),
        ..SyncOptions::new(format!("project = {project}"))
    };
    let report = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(report.issues_written, 5_300, "{report:?}");
    assert_eq!(count(&sink, "SELECT COUNT(*) FROM issues"), 5_300);
    // The plan's page and the second: never the first again; then the second listing
    // of a listing that took two pages.
    assert_eq!(
        sim.stats().requests_to("POST", "/rest/api/3/search/jql"),
        4,
        "{report:?}"
    );
    assert_eq!(
        report.search_pages, 3,
        "the plan's page is the plan's request"
    );
}

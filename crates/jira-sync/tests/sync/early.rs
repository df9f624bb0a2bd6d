//! A far site's first id page, read while the plan measures (`jira_sync::early`): the run
//! goes on by ids when the plan chooses ids, and reads the rest of the window the chosen
//! way when it does not; either way every issue is read once and the mark moves.

use std::time::Duration;

use jira_batch::BatchConfig;
use jira_client::JiraClient;
use jira_ops_tests::sim::{client_builder, uncached_client};
use jira_sim::{
    Fault, FaultConfig, FaultRule, LimitConfig, Realism, SimConfig, SimHandle, WorkLatency,
};
use jira_sync::{Sink, SqliteSink, Strategy, SyncOptions, SyncReport};

use crate::count;

/// More issues than an id page holds (5,000), on a site 25 ms away (far: a small answer
/// takes 20 ms or more) whose answers take longer the more they hold.
async fn far_site(limits: LimitConfig) -> SimHandle {
    site_at(
        5_300,
        limits,
        WorkLatency {
            base_ms: 25,
            // A byte's time too, as a far site has: a stream of search pages then carries
            // every byte on its one chain, and the plan's choice between the ways is not a
            // near tie that the sample's noise decides.
            per_kib_ms: 1.0,
        },
    )
    .await
}

/// One project of `issues` issues whose answers take `latency`.
async fn site_at(issues: usize, limits: LimitConfig, latency: WorkLatency) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: issues,
        limits,
        realism: Realism {
            worklog_settle_ms: 0,
            work_latency: latency,
            ..Realism::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

/// A first sync of the site into a new SQLite file, what holds for either way: the first
/// id page read by ids while the plan measured, every issue written once, every request
/// the site answered counted once.
async fn first_sync(
    sim: &SimHandle,
    dir: &tempfile::TempDir,
) -> (JiraClient, SqliteSink, SyncReport) {
    first_sync_with(uncached_client(sim).await, sim, dir).await
}

/// [`first_sync`] through `client`.
async fn first_sync_with(
    client: JiraClient,
    sim: &SimHandle,
    dir: &tempfile::TempDir,
) -> (JiraClient, SqliteSink, SyncReport) {
    let mut sink = SqliteSink::open(dir.path().join("far.db")).unwrap();
    let report = jira_sync::sync(&client, &mut sink, &options(sim))
        .await
        .unwrap();
    assert!(
        report
            .reason
            .contains("read by ids while the plan measured"),
        "{report:?}"
    );
    assert_eq!(report.issues_written, 5_300, "{report:?}");
    assert_eq!(count(&sink, "SELECT COUNT(*) FROM issues"), 5_300);
    // Logical requests: one the site refused (the hourly quota) and answered when asked
    // again counts once.
    let stats = sim.stats();
    assert_eq!(
        report.requests as u64,
        stats.requests - stats.rate_limited,
        "{report:?} {:?}",
        stats.by_endpoint
    );
    // The window is done: the mark moved, nothing is left to resume.
    let state = sink.load_state(&options(sim).jql).unwrap().unwrap();
    assert!(state.window.is_none(), "{state:?}");
    assert!(state.mark_ms.is_some(), "{state:?}");
    (client, sink, report)
}

fn options(sim: &SimHandle) -> SyncOptions {
    SyncOptions {
        changelogs: false,
        comments: false,
        worklogs: false,
        settle: Duration::ZERO,
        ..SyncOptions::new(format!("project = {}", sim.project_keys()[0]))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_site_reads_its_first_id_page_while_the_plan_measures_then_goes_on_by_ids() {
    let sim = far_site(LimitConfig::off()).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, mut sink, report) = first_sync(&sim, &dir).await;
    assert_eq!(report.strategy, Some(Strategy::Ids), "{report:?}");
    // The listing: the probe's page and the one after it (never the first again), then,
    // a listing of two pages being only a first answer, the second listing's two.
    assert_eq!(
        sim.stats().requests_to("POST", "/rest/api/3/search/jql"),
        4,
        "{report:?}"
    );
    let again = jira_sync::sync(&client, &mut sink, &options(&sim))
        .await
        .unwrap();
    assert_eq!(again.issues_written, 0, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_plan_chooses_another_way_the_rest_of_the_window_is_read_that_way() {
    // Bulk fetches of at most 10 issues (a user's batch size): the `ids` way takes 530
    // of them, about 5 s at the burst rate of 100 a second, where the window's 53 search
    // pages read side by side take about a second. The plan chooses a search way for
    // what the first id page leaves (every way costs the same points, so the points do
    // not decide it).
    let sim = far_site(LimitConfig::off()).await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_builder(&sim)
        .batch(BatchConfig {
            fetch_chunk: 10,
            ..BatchConfig::default()
        })
        .build()
        .await
        .expect("a client for jira-sim builds");
    let (_, _, report) = first_sync_with(client, &sim, &dir).await;
    assert!(
        matches!(report.strategy, Some(Strategy::Pages | Strategy::Slices)),
        "{report:?}"
    );
    // Every issue once (`first_sync`): the first page's 5,000 by bulk fetch, the other
    // 300 by search pages with their fields; every request the site answered counted
    // once, the page after the first (asked while the plan measured, then not read) too.
    let stats = sim.stats();
    let fetched: u64 = stats.requests_to("POST", "/rest/api/3/issue/bulkfetch");
    // The sample's ten fetches, then the first page's units (10 issues each: a far
    // site's first units are the smallest a plan takes, within the batch size, and stay
    // so when the plan chooses another way); none for the rest.
    assert_eq!(fetched, 10 + 5_000 / 10, "{report:?} {stats:?}");
    // The window listed twice, no more (its listing is longer than a page, so it is made
    // again once read): the rest is read from the listing the first page's read made, not
    // from a listing of its own (which cost 5,300 ids more).
    assert_eq!(stats.ids_listed, 2 * 5_300, "{report:?} {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_id_pages_issues_are_read_while_the_listing_goes_on() {
    // Every id page takes 1.5 s and a bulk fetch 200 ms: the listing's second page is
    // asked when the first is back (its token is the first's) and answered 1.5 s later.
    // The first page's units go when it is back, not when the whole listing is: by the
    // time the second page is answered, many fetches besides the plan's ten are.
    let latency = |endpoint: &str, ms: u64| {
        FaultRule::new(
            Fault::Latency {
                fixed_ms: ms,
                jitter_ms: 0,
            },
            1.0,
        )
        .on(endpoint)
        .method("POST")
    };
    let sim = SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 5_300,
        limits: LimitConfig::off(),
        faults: FaultConfig {
            rules: vec![
                latency("/rest/api/3/search/jql", 1_500),
                latency("/rest/api/3/issue/bulkfetch", 200),
                // The count too: a far site's small answers are far. Answered at once, it
                // made the site near whenever its connection was quick, and a near site
                // reads nothing while its plan measures.
                latency("/rest/api/3/search/approximate-count", 50),
            ],
        },
        ..SimConfig::default()
    })
    .await
    .expect("jira-sim starts");
    let dir = tempfile::tempdir().unwrap();
    let client = uncached_client(&sim).await;
    let mut sink = SqliteSink::open(dir.path().join("listing.db")).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let fetch = "/rest/api/3/issue/bulkfetch";
    let run = async {
        let report = jira_sync::sync(&client, &mut sink, &options(&sim)).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        report
    };
    // The fetches answered when the listing's second page is (jira-sim counts an answer
    // as it sends it).
    let watch = async {
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let stats = sim.stats();
            if stats.requests_to("POST", "/rest/api/3/search/jql") >= 2 {
                return Some(stats.requests_to("POST", fetch));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    };
    let (report, fetched) = tokio::join!(run, watch);
    let report = report.unwrap();
    assert_eq!(report.issues_written, 5_300, "{report:?}");
    assert_eq!(count(&sink, "SELECT COUNT(*) FROM issues"), 5_300);
    let fetched = fetched.expect("the listing took two pages");
    // Ten past the plan's: a loaded machine answers fewer in the 1.5 s, but a read that
    // waited for the listing answers none.
    assert!(
        fetched >= 10 + 10,
        "{fetched} fetches answered when the listing's second page was: the plan's ten only, \
         the first page's units waited for the whole listing ({report:?})"
    );
    // Each issue read once: the plan's ten fetches, then units of 25.
    assert!(
        sim.stats().requests_to("POST", fetch) <= 10 + 5_300_u64.div_ceil(25) + 2,
        "{report:?}"
    );
    let state = sink.load_state(&options(&sim).jql).unwrap().unwrap();
    assert!(state.window.is_none(), "{state:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_runs_first_units_take_the_size_the_last_plan_measured() {
    // A far site of 1,000 issues at the bench's latency. A later run's window (200
    // changed issues) is read whole before its own plan lands: it is read in the units the
    // last plan measured, not in units of the smallest size (25), which cost twice the
    // requests where the plan found 50 fastest (as it does for the bench's 100,000 issues).
    let sim = site_at(
        1_000,
        LimitConfig::off(),
        WorkLatency {
            base_ms: 20,
            per_kib_ms: 0.25,
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = uncached_client(&sim).await;
    let mut sink = SqliteSink::open(dir.path().join("later.db")).unwrap();
    let options = SyncOptions {
        settle: Duration::ZERO,
        ..SyncOptions::new(format!("project = {}", sim.project_keys()[0]))
    };
    let first = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    let planned = first.unit_issues.expect("the first run's plan landed");
    let mut state = sink.load_state(&options.jql).unwrap().unwrap();
    let record = state.last_runs.last_mut().unwrap();
    assert_eq!(record.unit_issues, Some(planned));
    // The size the plan chooses depends on this machine's speed (a debug build parses
    // slowly): the record is set to what a release build's plan chooses for the bench.
    let unit = 50;
    record.unit_issues = Some(unit);
    sink.commit(&jira_sync::SyncBatch::default(), &state)
        .unwrap();

    let keys = sim.issue_keys(&sim.project_keys()[0]);
    let changed: Vec<&String> = keys.iter().step_by(5).collect();
    jira_ops_tests::sim::edit_summaries(&sim, &changed).await;
    let fetch = "/rest/api/3/issue/bulkfetch";
    let before = sim.stats().requests_to("POST", fetch);
    let later = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(later.issues_written, changed.len(), "{later:?}");
    assert!(
        later.reason.contains("read by ids while the plan measured"),
        "{later:?}"
    );
    // The check that the site did not go back in time and the plan's ten sample fetches,
    // then the changed issues in units of the recorded size.
    let fetched = sim.stats().requests_to("POST", fetch) - before;
    assert_eq!(
        fetched,
        1 + 10 + changed.len().div_ceil(unit) as u64,
        "units of {unit}: {later:?}"
    );
}

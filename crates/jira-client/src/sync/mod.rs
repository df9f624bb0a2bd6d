//! Complete, incremental, resumable exports of the issues a JQL query matches, with their
//! whole history, into a [`Sink`].
//!
//! The sink keeps, beside the data and in the same commit, a [`SyncState`]: the
//! high-water mark of `updated` (epoch milliseconds) and the `(id, updated)` of every
//! issue within the overlap below it. A run asks for
//! `(<jql>) AND updated >= mark − overlap AND updated <= now − settle ORDER BY updated ASC`
//! (epoch milliseconds: no time zone to get wrong; the overlap re-reads what minute
//! granularity and a lagging index could have hidden; the settle time holds the window's
//! end back from writes the index may not show yet), drops what it already holds by
//! `(id, updated)`, bulk-fetches the rest, takes their complete histories from
//! `POST /changelog/bulkfetch` (never from `expand=changelog`, which Jira cuts at 40), and
//! commits page by page: data and state together, so a run killed at any moment resumes
//! from the last durable page, with nothing fetched twice that is already durable and
//! nothing left out.
//!
//! Comments come with each issue's bulk fetch (the field's first page; the rest of a long
//! thread paged by the comment endpoint). Worklogs come from the tenant-wide feeds,
//! `/worklog/updated` then `/worklog/list` (1,000 a call) for those on synced issues, and
//! `/worklog/deleted` marks deleted ones in the sink (a tombstone, not a silent loss); the
//! feeds' own cursors are kept in the state too.
//!
//! Deleted issues leave no trace in an `updated` window, so a run ends with a census when
//! the last one is older than [`SyncOptions::census_every`] (12 hours by default): an
//! id-only search of the query (5,000 ids a page), and every issue the sink holds that
//! the site no longer returns is marked deleted (a tombstone with the time it was found
//! gone), never dropped silently; one the sink lacks is fetched.

mod jsonl;
mod plan;
mod record;
mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use jira_batch::{BatchConfig, FetchError, SearchOptions, fetch_issues, search_pages};
use jira_model::{ApiRequest, ChangelogBulkPage, ChangelogBulkRequest, Issue};
use jira_transport::Transport;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub use jsonl::{JsonlSink, Manifest};
pub use plan::{Estimate, MAX_CONCURRENCY, Sample, SyncPlan};
use record::At;
pub use record::{Child, SyncedIssue};
pub use sqlite::SqliteSink;

use crate::Error;

/// How a window's issues are read. `--plan` estimates each; a run takes the cheapest that
/// fits unless told (see [`plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// An id-only search (5,000 ids a page), then bulk fetches of 100 in parallel.
    Ids,
    /// Search pages with the fields (100 issues a page), one after the other.
    Pages,
    /// The window cut into id ranges, each streamed as pages with the fields, in parallel.
    Slices,
}

impl Strategy {
    /// Every strategy, in the order `--plan` shows them.
    pub const ALL: [Strategy; 3] = [Strategy::Ids, Strategy::Pages, Strategy::Slices];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Ids => "ids",
            Strategy::Pages => "pages",
            Strategy::Slices => "slices",
        }
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("strategy {text:?} is not one of ids, pages, slices"))
    }
}

/// What a sync reads and how it windows the query.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The query, bounded (`project in (A, B)`); no `ORDER BY` (the sync orders).
    pub jql: String,
    /// Also take every issue's complete history.
    pub changelogs: bool,
    /// Also take every issue's comments.
    pub comments: bool,
    /// Also take the worklogs of the synced issues (and mark deleted ones).
    pub worklogs: bool,
    /// End with an id census that marks issues gone from the site (or the query) when
    /// the last one is at least this old (`Some(ZERO)`: every run; `None`: never).
    pub census_every: Option<Duration>,
    /// How far below the mark a run reads again (minute granularity, index lag).
    pub overlap: Duration,
    /// How far behind now the window ends (writes the search index may not show yet).
    pub settle: Duration,
    /// Ignore the saved state and read everything the query matches.
    pub full: bool,
    /// Read issues updated at or after this instant (epoch ms) instead of from the saved
    /// mark.
    pub since_ms: Option<i64>,
    /// The fields stored for each issue (ids; `*navigable` by default). `updated` is
    /// always added: the sync needs it.
    pub fields: Vec<String>,
    /// How to read a new window; `None` lets [`plan`] choose.
    pub strategy: Option<Strategy>,
    /// Issues per commit (each commit is one transaction with the state).
    pub commit_issues: usize,
    /// The most results a run holds between the wire and the sink, in bytes of JSON
    /// (units in flight, units waiting for their turn, the commit being gathered): a unit
    /// starts only when its share is free, and a commit is made at a quarter of it. Memory
    /// then depends on this, not on the export's size or on the concurrency the plan
    /// chose.
    pub memory_budget: usize,
}

impl SyncOptions {
    /// `jql` with the defaults: histories on, two minutes of overlap, 30 s of settle.
    pub fn new(jql: impl Into<String>) -> Self {
        SyncOptions {
            jql: jql.into(),
            changelogs: true,
            comments: true,
            worklogs: true,
            census_every: Some(Duration::from_secs(12 * 3600)),
            overlap: Duration::from_secs(120),
            settle: Duration::from_secs(30),
            full: false,
            since_ms: None,
            fields: vec!["*navigable".into()],
            strategy: None,
            commit_issues: 1_000,
            memory_budget: 32 << 20,
        }
    }

    /// The fields a read asks for: the chosen ones, `updated`, and `comment` when
    /// comments are synced.
    fn read_fields(&self) -> Vec<String> {
        let mut fields = self.fields.clone();
        for needed in ["updated", "comment"] {
            if (needed == "updated" || self.comments) && !fields.iter().any(|f| f == needed) {
                fields.push(needed.into());
            }
        }
        fields
    }
}

/// The window a run reads: its bounds on `updated`, fixed when it starts, and where each
/// of its slices stands (issues are read in id order, which updates cannot reorder, so a
/// cursor on the id never skips or repeats one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// `updated >= from_ms`, when there is a lower bound.
    pub from_ms: Option<i64>,
    /// `updated <= to_ms`: now less the settle time, when the window was opened.
    pub to_ms: i64,
    /// How it is read.
    pub strategy: Strategy,
    /// Its id ranges (one for `ids` and `pages`).
    pub slices: Vec<Slice>,
    /// Units read at a time (`ids`); 0: the configured concurrency.
    #[serde(default)]
    pub concurrency: usize,
}

/// One id range of a window and its cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Every issue of the range with an id at or below this is durable.
    pub after_id: u64,
    /// The range's last id (inclusive); `None`: no upper bound.
    pub last_id: Option<u64>,
    /// Whether the range has been read to its end.
    pub done: bool,
}

impl Window {
    /// The search of one slice: the query, the window's bounds, the slice's range past its
    /// cursor, in id order.
    fn jql(&self, query: &str, slice: &Slice) -> String {
        let mut jql = format!("({query}) AND updated <= {}", self.to_ms);
        if let Some(from) = self.from_ms {
            jql.push_str(&format!(" AND updated >= {from}"));
        }
        if slice.after_id > 0 {
            jql.push_str(&format!(" AND id > {}", slice.after_id));
        }
        if let Some(last) = slice.last_id {
            jql.push_str(&format!(" AND id <= {last}"));
        }
        jql.push_str(" ORDER BY id ASC");
        jql
    }
}

/// Where a sync stands, saved with the data it describes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The query this state belongs to (another query starts afresh).
    pub jql: String,
    /// Every matching issue updated at or before this instant (epoch ms) is durable.
    pub mark_ms: Option<i64>,
    /// `(id, updated)` of the durable issues within the overlap below the mark: a later
    /// window that reads them again skips their histories and writes.
    pub recent: BTreeMap<String, i64>,
    /// Runs completed.
    pub runs: u64,
    /// The `/worklog/updated` cursor (epoch ms): never past a window's end, so a worklog
    /// on an issue the sink does not hold yet is read again once it does.
    #[serde(default)]
    pub worklogs_since_ms: i64,
    /// The `/worklog/deleted` cursor.
    #[serde(default)]
    pub deleted_worklogs_since_ms: i64,
    /// The window of a run that has not finished: the next run goes on with it.
    #[serde(default)]
    pub window: Option<Window>,
    /// When the last id census ended (epoch ms).
    #[serde(default)]
    pub census_ms: Option<i64>,
}

/// One commit: issues and, when asked for, their complete histories, comments and
/// worklogs, each held as the JSON text Jira sent (see [`SyncedIssue`]).
#[derive(Clone, Debug, Default)]
pub struct SyncBatch {
    /// The issues, as the read returned them.
    pub issues: Vec<SyncedIssue>,
    /// Each issue's complete history (by issue id), oldest first: it replaces what the
    /// sink held for that issue.
    pub histories: BTreeMap<u64, Vec<Child>>,
    /// Each issue's comments (by issue id): they replace what the sink held.
    pub comments: BTreeMap<u64, Vec<Child>>,
    /// Worklogs to upsert (each names its issue).
    pub worklogs: Vec<Child>,
    /// Worklog ids deleted on the site, with when: the sink keeps a tombstone.
    pub deleted_worklogs: Vec<(u64, i64)>,
}

impl SyncBatch {
    /// The bytes of JSON it holds.
    pub fn bytes(&self) -> usize {
        let children = |lists: &BTreeMap<u64, Vec<Child>>| -> usize {
            lists.values().flatten().map(|c| c.json.get().len()).sum()
        };
        self.issues
            .iter()
            .map(|i| i.json.get().len())
            .sum::<usize>()
            + children(&self.histories)
            + children(&self.comments)
            + self
                .worklogs
                .iter()
                .map(|w| w.json.get().len())
                .sum::<usize>()
    }

    fn append(&mut self, other: SyncBatch) {
        self.issues.extend(other.issues);
        self.histories.extend(other.histories);
        self.comments.extend(other.comments);
        self.worklogs.extend(other.worklogs);
        self.deleted_worklogs.extend(other.deleted_worklogs);
    }
}

/// Durable storage for a sync: data and state committed together.
pub trait Sink: Send {
    /// The saved state of `jql`, if a run of it committed anything.
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error>;
    /// Writes `batch` (upserting issues by id, replacing their histories) and `state` in
    /// one atomic commit.
    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error>;
    /// Whether the sink holds the issue with this id (worklogs are kept for those only).
    fn has_issue(&mut self, id: &str) -> Result<bool, Error>;
    /// Starts an id census: what [`Sink::census_seen`] reports until
    /// [`Sink::census_finish`] is every issue the query matches.
    fn census_begin(&mut self) -> Result<(), Error>;
    /// Ids the census found on the site.
    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error>;
    /// Marks every live issue the census did not see deleted at `at_ms` (a tombstone);
    /// names the issues it saw that the sink does not hold live (the sync fetches them).
    fn census_finish(&mut self, at_ms: i64) -> Result<Census, Error>;
    /// The site's field catalogue (`GET /field`), read once a run, so ids in the data can
    /// be read as names. Sinks that have no place for it ignore it.
    fn set_fields(&mut self, fields: &[Value]) -> Result<(), Error> {
        let _ = fields;
        Ok(())
    }
}

/// A sink that notes the keys of the issues committed through it (so a client can drop
/// its cached copies once the run ends).
pub(crate) struct KeysSeen<'a, S: Sink + ?Sized> {
    /// The sink written to.
    pub inner: &'a mut S,
    /// Keys of the issues committed so far.
    pub keys: Vec<String>,
}

impl<S: Sink + ?Sized> Sink for KeysSeen<'_, S> {
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error> {
        self.inner.load_state(jql)
    }
    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        self.inner.commit(batch, state)?;
        self.keys.extend(batch.issues.iter().map(|i| i.key.clone()));
        Ok(())
    }
    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        self.inner.has_issue(id)
    }
    fn census_begin(&mut self) -> Result<(), Error> {
        self.inner.census_begin()
    }
    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error> {
        self.inner.census_seen(ids)
    }
    fn census_finish(&mut self, at_ms: i64) -> Result<Census, Error> {
        self.inner.census_finish(at_ms)
    }
    fn set_fields(&mut self, fields: &[Value]) -> Result<(), Error> {
        self.inner.set_fields(fields)
    }
}

/// What a census found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Live issues it did not see, now tombstones.
    pub deleted: usize,
    /// Issues it saw that the sink does not hold live: tombstoned ones back on the site,
    /// or ones no window returned.
    pub absent: Vec<u64>,
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// How the window was read.
    pub strategy: Option<Strategy>,
    /// Why that way.
    pub reason: String,
    /// Whether the run went on with a window an earlier run left unfinished.
    pub resumed: bool,
    /// Issues written (new or changed).
    pub issues_written: usize,
    /// Issues the window returned that the sink already held at that `updated`.
    pub issues_unchanged: usize,
    /// History entries written.
    pub history_entries: usize,
    /// Comments written.
    pub comments: usize,
    /// Worklogs written.
    pub worklogs: usize,
    /// Worklogs marked deleted.
    pub worklogs_deleted: usize,
    /// Issues the census found gone and marked deleted.
    pub issues_deleted: usize,
    /// Issues the census found on the site but not live in the sink, fetched.
    pub issues_restored: usize,
    /// Search pages read.
    pub search_pages: usize,
    /// Requests sent (logical: a retried request counts once).
    pub requests: usize,
    /// Commits made.
    pub commits: usize,
    /// The mark after the run (epoch ms).
    pub mark_ms: Option<i64>,
    /// Issues the window named that bulk fetch could not return (deleted meanwhile).
    pub missing: Vec<String>,
    /// The approximate number of issues in the window, when it was counted.
    pub expected: Option<u64>,
    /// Set before the window is read when the plan found the run needs more points than
    /// the hourly quota has left: it will pause until the reset and go on.
    pub quota_warning: Option<String>,
}

/// Milliseconds since the epoch of a Jira timestamp (`2024-01-18T07:33:17.016+0000`).
pub(crate) fn jira_time_ms(text: &str) -> Option<i64> {
    text.parse::<jira_model::JiraTimestamp>()
        .ok()
        .map(|t| t.unix_millis())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn updated_ms(issue: &Issue) -> Result<i64, Error> {
    issue
        .fields
        .get("updated")
        .and_then(Value::as_str)
        .and_then(jira_time_ms)
        .ok_or_else(|| {
            Error::Sync(format!(
                "sync: issue {} came without a readable `updated`; the read must return it",
                issue.id
            ))
        })
}

fn numeric_id(id: &str) -> Result<u64, Error> {
    id.parse()
        .map_err(|_| Error::Sync(format!("sync: issue id {id:?} is not a number")))
}

/// What reading part of a window produced, in the order it must be committed.
enum Event {
    /// Issues of slice `slice` up to `last_id`, complete with their histories.
    Unit {
        slice: usize,
        last_id: u64,
        unit: Box<Unit>,
    },
    /// Slice `slice` has been read to its end.
    Done { slice: usize },
}

#[derive(Default)]
struct Unit {
    batch: SyncBatch,
    /// Its share of the memory budget, held until it is committed.
    share: Option<tokio::sync::OwnedSemaphorePermit>,
    /// `(id, updated)` of every issue read, written or unchanged.
    seen: Vec<(String, i64)>,
    unchanged: usize,
    requests: usize,
    search_pages: usize,
    missing: Vec<String>,
}

/// Runs one sync of `options.jql` into `sink` over `transport`; `progress` is called
/// after every commit with the report so far.
pub async fn sync<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    sink: &mut S,
    options: &SyncOptions,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> Result<SyncReport, Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let saved = sink.load_state(&options.jql)?;
    // Whether the sink held this query's issues before the run: only then can a census
    // find something gone.
    let held_before = saved.is_some();
    let saved = saved.filter(|_| !options.full);
    let mut state = saved.unwrap_or_else(|| SyncState {
        jql: options.jql.clone(),
        ..SyncState::default()
    });
    let mut report = SyncReport::default();
    let window = match state.window.clone() {
        Some(window) if !options.full && options.since_ms.is_none() => {
            report.resumed = true;
            report.reason = "went on with the window an interrupted run left".into();
            window
        }
        _ => {
            let opened = open_window(transport, batch, options, &state, &mut report).await?;
            state.window = Some(opened.clone());
            sink.commit(&SyncBatch::default(), &state)?;
            report.commits += 1;
            opened
        }
    };
    report.strategy = Some(window.strategy);
    progress(&report);
    // A census finds what went missing since an earlier run; a first run (nothing held
    // before it) has nothing to find, so it is skipped there.
    let incremental = held_before;
    let window_end = window.to_ms;
    // The worklog feeds are read (ids only) while the window is: their cursor pages one
    // after the other, so they would otherwise add their whole chain to the run.
    let feeds = options.worklogs.then(|| {
        AbortOnDrop::new(tokio::spawn(worklog_feeds(
            transport.clone(),
            state.worklogs_since_ms,
            state.deleted_worklogs_since_ms,
        )))
    });
    let fields = transport.send(ApiRequest::fields()).await?;
    report.requests += 1;
    if fields.is_success() {
        sink.set_fields(&fields.json::<Vec<Value>>()?)?;
    }
    read_window(
        transport,
        batch,
        sink,
        options,
        &mut state,
        window,
        &mut report,
        progress,
    )
    .await?;
    if let Some(feeds) = feeds {
        let feeds = feeds.join().await??;
        store_worklogs(
            transport,
            batch,
            sink,
            &mut state,
            feeds,
            window_end,
            options,
            &mut report,
        )
        .await?;
    }
    let census_due = options.census_every.is_some_and(|every| {
        state
            .census_ms
            .is_none_or(|last| now_ms() - last >= every.as_millis() as i64)
    });
    if census_due && incremental {
        census(transport, batch, sink, options, &state, &mut report).await?;
        state.census_ms = Some(now_ms());
    } else if !incremental {
        // A first run holds exactly what the site has: it counts as a census.
        state.census_ms = Some(now_ms());
    }
    state.runs += 1;
    sink.commit(&SyncBatch::default(), &state)?;
    report.commits += 1;
    report.mark_ms = state.mark_ms;
    progress(&report);
    Ok(report)
}

/// What the next run of `options` would cost each way, without reading the window:
/// three requests measure the tenant (see [`SyncPlan`]). A window an interrupted run left
/// is estimated as it stands.
pub async fn plan<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    sink: &mut S,
    options: &SyncOptions,
) -> Result<SyncPlan, Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let state = match options.full {
        true => None,
        false => sink.load_state(&options.jql)?,
    }
    .unwrap_or_default();
    let window = match state.window.clone() {
        Some(window) if !options.full && options.since_ms.is_none() => window,
        _ => Window {
            from_ms: options.since_ms.or_else(|| {
                state
                    .mark_ms
                    .map(|mark| mark - options.overlap.as_millis() as i64)
            }),
            to_ms: now_ms() - options.settle.as_millis() as i64,
            strategy: Strategy::Ids,
            slices: vec![Slice {
                after_id: 0,
                last_id: None,
                done: false,
            }],
            concurrency: 0,
        },
    };
    plan::estimate(transport, batch, options, &window).await
}

/// A new window from the mark (or `since`) to now less the settle time, with the strategy
/// given or the one [`plan`] finds cheapest.
async fn open_window<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    options: &SyncOptions,
    state: &SyncState,
    report: &mut SyncReport,
) -> Result<Window, Error> {
    let from_ms = options.since_ms.or_else(|| {
        state
            .mark_ms
            .map(|mark| mark - options.overlap.as_millis() as i64)
    });
    let to_ms = now_ms() - options.settle.as_millis() as i64;
    let mut window = Window {
        from_ms,
        to_ms,
        strategy: options.strategy.unwrap_or(Strategy::Ids),
        slices: vec![Slice {
            after_id: 0,
            last_id: None,
            done: false,
        }],
        concurrency: 0,
    };
    let slices = match options.strategy {
        Some(strategy) => {
            report.reason = format!("{} was asked for", strategy.name());
            (strategy == Strategy::Slices).then(|| batch.max_concurrent.max(1))
        }
        None => match plan::estimate(transport, batch, options, &window).await {
            // A site that cannot be measured (no approximate count, a refused sample)
            // is read the way that needs no measure.
            Err(error) => {
                tracing::warn!(%error, "sync: the window could not be measured");
                report.reason = format!(
                    "ids: the window could not be measured ({error}), and ids needs no measure"
                );
                None
            }
            Ok(plan) => {
                report.requests += plan.requests_spent;
                report.expected = Some(plan.count);
                window.strategy = plan.chosen;
                window.concurrency = plan.concurrency;
                report.reason = plan.reason.clone();
                if plan.exhausts_quota {
                    let needed = plan.estimate(plan.chosen).map_or(0, |e| e.points);
                    report.quota_warning = Some(format!(
                        "this run needs about {needed} points and the hourly quota has {} left: it will pause at the quota until the reset (the top of the hour) and go on; what is committed is kept",
                        plan.sample
                            .quota_remaining
                            .or(plan.sample.quota_points)
                            .unwrap_or(0)
                    ));
                }
                (plan.chosen == Strategy::Slices).then_some(plan.slices)
            }
        },
    };
    if let Some(wanted) = slices {
        let bounds = plan::id_bounds(transport, &window, &options.jql).await?;
        report.requests += 2;
        if let Some((first, last)) = bounds {
            window.slices = plan::cut(first, last, wanted);
        }
    }
    Ok(window)
}

/// Reads every unfinished slice of `window`, committing in order, then moves the mark to
/// the window's end.
#[allow(clippy::too_many_arguments)]
async fn read_window<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    sink: &mut S,
    options: &SyncOptions,
    state: &mut SyncState,
    window: Window,
    report: &mut SyncReport,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let recent = Arc::new(state.recent.clone());
    let budget = Budget::new(
        options.memory_budget,
        match window.concurrency {
            0 => batch.max_concurrent.max(1),
            n => n,
        },
    );
    let overlap = options.overlap.as_millis() as i64;
    let keep_from = window.to_ms - overlap;
    // The reads run in a task of their own, so that a commit (synchronous, fsynced)
    // never holds up the requests of the next units. Between them wait at most the units
    // of one commit: enough to keep reading through a commit, and memory bounded by the
    // units in flight plus one commit, however large the export.
    let (sender, mut events) = tokio::sync::mpsc::channel::<Result<Event, Error>>(
        (options.commit_issues / jira_model::BULK_FETCH_MAX_ISSUES).clamp(2, 16),
    );
    let reader = {
        let (transport, batch, options, window, budget) = (
            transport.clone(),
            batch.clone(),
            options.clone(),
            window.clone(),
            budget.clone(),
        );
        tokio::spawn(async move {
            let stream: futures_util::stream::BoxStream<'_, Result<Event, Error>> = match window
                .strategy
            {
                _ if window.slices.iter().all(|s| s.done) => futures_util::stream::empty().boxed(),
                Strategy::Ids => {
                    ids_events(&transport, &batch, &options, &window, recent, budget).boxed()
                }
                Strategy::Pages | Strategy::Slices => {
                    page_events(&transport, &options, &window, recent, budget).boxed()
                }
            };
            tokio::pin!(stream);
            while let Some(event) = stream.next().await {
                let failed = event.is_err();
                if sender.send(event).await.is_err() || failed {
                    break;
                }
            }
        })
    };
    let _reader = AbortOnDrop::new(reader);
    let mut window = window;
    let mut pending = SyncBatch::default();
    let mut pending_seen: Vec<(String, i64)> = Vec::new();
    let mut shares: Vec<tokio::sync::OwnedSemaphorePermit> = Vec::new();
    loop {
        let end = match events.recv().await.transpose()? {
            None => true,
            Some(Event::Done { slice }) => {
                window.slices[slice].done = true;
                false
            }
            Some(Event::Unit {
                slice,
                last_id,
                unit,
            }) => {
                let unit = *unit;
                let cursor = &mut window.slices[slice];
                cursor.after_id = cursor.after_id.max(last_id);
                report.issues_unchanged += unit.unchanged;
                report.requests += unit.requests;
                report.search_pages += unit.search_pages;
                report.missing.extend(unit.missing);
                report.issues_written += unit.batch.issues.len();
                report.comments += unit.batch.comments.values().map(Vec::len).sum::<usize>();
                report.history_entries +=
                    unit.batch.histories.values().map(Vec::len).sum::<usize>();
                pending.append(unit.batch);
                pending_seen.extend(unit.seen);
                shares.extend(unit.share);
                false
            }
        };
        let held: u32 = shares.iter().map(|s| s.num_permits() as u32).sum();
        if !end && pending.issues.len() < options.commit_issues.max(1) && !budget.commit_due(held) {
            continue;
        }
        for (id, updated) in pending_seen.drain(..) {
            if updated >= keep_from {
                state.recent.insert(id, updated);
            }
        }
        if end {
            // The whole window is durable: the mark moves to its end.
            state.mark_ms = Some(state.mark_ms.map_or(window.to_ms, |m| m.max(window.to_ms)));
            state.recent.retain(|_, updated| *updated >= keep_from);
            state.window = None;
        } else {
            state.window = Some(window.clone());
        }
        blocking(|| sink.commit(&pending, state))?;
        report.commits += 1;
        pending = SyncBatch::default();
        shares.clear();
        progress(report);
        if end {
            return Ok(());
        }
    }
}

/// The memory budget of a run's reads, in KiB: each unit takes a share (the running
/// average of what units held) before it starts, and gives it back once committed.
/// Shares are taken in the order units start, so the unit every later one waits behind
/// always has its share: the budget never deadlocks the ordered commits.
#[derive(Clone)]
struct Budget {
    kib: Arc<tokio::sync::Semaphore>,
    total_kib: u32,
    unit_kib: Arc<std::sync::atomic::AtomicU32>,
}

impl Budget {
    /// `bytes` in all, shared by up to `units` units at first.
    fn new(bytes: usize, units: usize) -> Self {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        Budget {
            kib: Arc::new(tokio::sync::Semaphore::new(total_kib as usize)),
            total_kib,
            unit_kib: Arc::new(std::sync::atomic::AtomicU32::new(
                (total_kib / (2 * units.max(1) as u32).max(1)).max(1),
            )),
        }
    }

    /// Waits for one unit's share.
    async fn share(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        // The semaphore is never closed.
        self.kib
            .clone()
            .acquire_many_owned(self.unit_share())
            .await
            .ok()
    }

    /// Learns what a unit held.
    fn observe(&self, bytes: usize) {
        let kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        let _ = self.unit_kib.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |old| Some(((u64::from(old) * 3 + u64::from(kib)) / 4) as u32),
        );
    }

    /// The share the next unit takes.
    fn unit_share(&self) -> u32 {
        self.unit_kib
            .load(std::sync::atomic::Ordering::Relaxed)
            .clamp(1, self.total_kib)
    }

    /// Whether `held` KiB of gathered units call for a commit: a quarter of the budget,
    /// or too little left for the next unit to start (which only a commit frees).
    fn commit_due(&self, held: u32) -> bool {
        held >= self.total_kib / 4 || self.kib.available_permits() < self.unit_share() as usize
    }
}

/// A task aborted when its owner ends early (a failed commit, a dropped run).
struct AbortOnDrop<R>(Option<tokio::task::JoinHandle<R>>);

impl<R> AbortOnDrop<R> {
    fn new(handle: tokio::task::JoinHandle<R>) -> Self {
        AbortOnDrop(Some(handle))
    }

    /// Waits for the task's result.
    async fn join(mut self) -> Result<R, Error> {
        let handle = self.0.take().expect("joined once");
        handle
            .await
            .map_err(|e| Error::Sync(format!("sync: a read task ended abnormally: {e}")))
    }
}

impl<R> Drop for AbortOnDrop<R> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// Runs a sink's synchronous work without stalling the runtime's other tasks (on a
/// multi-threaded runtime; on a current-thread one it simply runs).
fn blocking<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The `ids` strategy: id-only pages of the window, cut into bulk fetches of 100 that run
/// `max_concurrent` at a time, in order.
fn ids_events<'a, T: Transport + 'static>(
    transport: &'a Arc<T>,
    batch: &'a BatchConfig,
    options: &'a SyncOptions,
    window: &Window,
    recent: Arc<BTreeMap<String, i64>>,
    budget: Budget,
) -> impl futures_util::Stream<Item = Result<Event, Error>> + 'a {
    let slice = window.slices[0].clone();
    let pages = search_pages(
        transport.clone(),
        window.jql(&options.jql, &slice),
        SearchOptions {
            fields: Vec::new(),
            page_size: jira_model::SEARCH_ID_PAGE_MAX,
            prefetch: true,
        },
    );
    let chunk = batch
        .fetch_chunk
        .clamp(1, jira_model::BULK_FETCH_MAX_ISSUES);
    let units = pages
        .map(move |page| -> Vec<Result<(Vec<String>, bool), Error>> {
            match page {
                Err(error) => vec![Err(error.into())],
                Ok(page) => {
                    let ids: Vec<String> = page.issues.into_iter().map(|i| i.id).collect();
                    let mut chunks: Vec<Result<(Vec<String>, bool), Error>> =
                        ids.chunks(chunk).map(|c| Ok((c.to_vec(), false))).collect();
                    // The first chunk of a page carries the page's request.
                    if let Some(Ok((_, first))) = chunks.first_mut() {
                        *first = true;
                    }
                    chunks
                }
            }
        })
        .flat_map(futures_util::stream::iter)
        // Shares are taken one unit after the other, in order, before a unit starts.
        .then({
            let budget = budget.clone();
            move |chunk| {
                let budget = budget.clone();
                async move { (chunk, budget.share().await) }
            }
        })
        .map(move |(chunk, share)| {
            let recent = recent.clone();
            let budget = budget.clone();
            async move {
                let (ids, first_of_page) = chunk?;
                let last_id = ids
                    .iter()
                    .map(|id| numeric_id(id))
                    .try_fold(0, |m, id| id.map(|id| m.max(id)))?;
                let mut unit = fetch_unit(transport, batch, options, &ids, &recent).await?;
                budget.observe(unit.batch.bytes());
                unit.share = share;
                if first_of_page {
                    unit.requests += 1;
                    unit.search_pages += 1;
                }
                Ok(Event::Unit {
                    slice: 0,
                    last_id,
                    unit: Box::new(unit),
                })
            }
        })
        .buffered(match window.concurrency {
            0 => batch.max_concurrent.max(1),
            n => n,
        });
    units.chain(futures_util::stream::once(async {
        Ok(Event::Done { slice: 0 })
    }))
}

/// The `pages` and `slices` strategies: every unfinished slice streamed as pages with the
/// fields, the slices side by side, each in order.
fn page_events<'a, T: Transport + 'static>(
    transport: &'a Arc<T>,
    options: &'a SyncOptions,
    window: &Window,
    recent: Arc<BTreeMap<String, i64>>,
    budget: Budget,
) -> impl futures_util::Stream<Item = Result<Event, Error>> + 'a {
    let fields = options.read_fields();
    let streams = window
        .slices
        .iter()
        .enumerate()
        .filter(|(_, slice)| !slice.done)
        .map(|(index, slice)| {
            let recent = recent.clone();
            let budget = budget.clone();
            let pages = search_pages(
                transport.clone(),
                window.jql(&options.jql, slice),
                SearchOptions {
                    fields: fields.clone(),
                    page_size: jira_model::SEARCH_PAGE_MAX,
                    prefetch: true,
                },
            );
            pages
                .then(move |page| {
                    let recent = recent.clone();
                    let budget = budget.clone();
                    async move {
                        // A slice is read one page after the other: its next page waits
                        // for this one's share.
                        let share = budget.share().await;
                        let page = page?;
                        let last_id = page
                            .issues
                            .iter()
                            .map(|i| numeric_id(&i.id))
                            .try_fold(0, |m, id| id.map(|id| m.max(id)))?;
                        let mut unit = complete(transport, options, page.issues, &recent).await?;
                        budget.observe(unit.batch.bytes());
                        unit.share = share;
                        unit.requests += 1;
                        unit.search_pages += 1;
                        Ok(Event::Unit {
                            slice: index,
                            last_id,
                            unit: Box::new(unit),
                        })
                    }
                })
                .chain(futures_util::stream::once(async move {
                    Ok(Event::Done { slice: index })
                }))
                .boxed()
        })
        .collect::<Vec<_>>();
    futures_util::stream::select_all(streams)
}

/// Bulk-fetches `ids` with the fields and completes them.
async fn fetch_unit<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    options: &SyncOptions,
    ids: &[String],
    recent: &BTreeMap<String, i64>,
) -> Result<Unit, Error> {
    let fields = options.read_fields();
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let single = BatchConfig {
        max_concurrent: 1,
        ..batch.clone()
    };
    let (results, fetched) =
        fetch_issues::<_, jira_cache::SledStore>(transport, None, &single, ids, &field_refs, &[])
            .await?;
    let mut issues = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for (id, result) in results {
        match result {
            Ok(issue) => issues.push(issue),
            Err(FetchError::NotFound(_)) => missing.push(id),
            Err(FetchError::Failed { message, .. }) => {
                return Err(Error::Sync(format!(
                    "sync: issue {id} could not be fetched ({message}); nothing past the last commit was written, run again to resume"
                )));
            }
        }
    }
    let mut unit = complete(transport, options, issues, recent).await?;
    unit.requests += fetched.requests;
    unit.missing = missing;
    Ok(unit)
}

/// Drops the issues the sink already holds at this `updated`, then takes the rest's
/// comments (long threads paged) and complete histories. Every issue is turned into text
/// before the first request, so a unit waiting on the network holds no parsed trees.
async fn complete<T: Transport>(
    transport: &Arc<T>,
    options: &SyncOptions,
    issues: Vec<Issue>,
    recent: &BTreeMap<String, i64>,
) -> Result<Unit, Error> {
    let mut unit = Unit::default();
    // Threads longer than the field's first page: (issue id, comments in all).
    let mut threads: Vec<(u64, u64)> = Vec::new();
    for mut issue in issues {
        let updated = updated_ms(&issue)?;
        unit.seen.push((issue.id.clone(), updated));
        if recent.get(&issue.id) == Some(&updated) {
            unit.unchanged += 1;
            continue;
        }
        let id = numeric_id(&issue.id)?;
        if options.comments {
            let field = issue.fields.remove("comment").unwrap_or(Value::Null);
            let first = field
                .get("comments")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let comments = first
                .iter()
                .map(|comment| Child::from_value(comment, id, At::Updated))
                .collect::<Result<Vec<_>, _>>()?;
            let total = field
                .get("total")
                .and_then(Value::as_u64)
                .unwrap_or(comments.len() as u64);
            if (comments.len() as u64) < total {
                threads.push((id, total));
            }
            unit.batch.comments.insert(id, comments);
        }
        unit.batch.issues.push(SyncedIssue {
            id,
            key: issue.key.clone(),
            updated_ms: updated,
            json: record::raw(&issue)?,
        });
    }
    for (id, total) in threads {
        let comments = unit.batch.comments.entry(id).or_default();
        unit.requests += more_comments(transport, id, total, comments).await?;
    }
    if options.changelogs && !unit.batch.issues.is_empty() {
        let ids: Vec<u64> = unit.batch.issues.iter().map(|i| i.id).collect();
        let (histories, requests) = histories(transport, &ids).await?;
        unit.requests += requests;
        unit.batch.histories = histories;
    }
    Ok(unit)
}

/// The id census: every id the query matches (5,000 a page) told to the sink, which
/// tombstones the live issues it did not see.
async fn census<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    sink: &mut S,
    options: &SyncOptions,
    state: &SyncState,
    report: &mut SyncReport,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let pages = search_pages(
        transport.clone(),
        options.jql.clone(),
        SearchOptions {
            fields: Vec::new(),
            page_size: jira_model::SEARCH_ID_PAGE_MAX,
            prefetch: true,
        },
    );
    tokio::pin!(pages);
    sink.census_begin()?;
    while let Some(page) = pages.next().await {
        let page = page?;
        report.requests += 1;
        report.search_pages += 1;
        let ids: Vec<u64> = page
            .issues
            .iter()
            .filter_map(|i| i.id.parse::<u64>().ok())
            .collect();
        sink.census_seen(&ids)?;
    }
    let found = sink.census_finish(now_ms())?;
    report.issues_deleted = found.deleted;
    // Issues on the site the sink lacks (back from the trash, or moved into the query
    // without a change of `updated`): fetched whole, as a window would.
    let absent: Vec<String> = found.absent.iter().map(u64::to_string).collect();
    let none = BTreeMap::new();
    for chunk in absent.chunks(jira_model::BULK_FETCH_MAX_ISSUES) {
        let unit = fetch_unit(transport, batch, options, chunk, &none).await?;
        report.requests += unit.requests;
        report.issues_restored += unit.batch.issues.len();
        report.issues_written += unit.batch.issues.len();
        report.history_entries += unit.batch.histories.values().map(Vec::len).sum::<usize>();
        report.comments += unit.batch.comments.values().map(Vec::len).sum::<usize>();
        sink.commit(&unit.batch, state)?;
        report.commits += 1;
    }
    Ok(())
}

/// A page of `GET /issue/{id}/comment`, each comment kept as text.
#[derive(Deserialize)]
struct CommentsPage {
    #[serde(default)]
    comments: Vec<Box<RawValue>>,
}

/// Pages the comment endpoint for the rest of a thread of `total` comments whose first
/// page is in `comments`; the number of requests it took.
async fn more_comments<T: Transport>(
    transport: &Arc<T>,
    issue_id: u64,
    total: u64,
    comments: &mut Vec<Child>,
) -> Result<usize, Error> {
    let mut requests = 0;
    let id = issue_id.to_string();
    while (comments.len() as u64) < total {
        let request = ApiRequest::comments(&id, comments.len() as u64, 100);
        let response = transport.send(request).await?;
        requests += 1;
        let page: CommentsPage = response.json()?;
        if page.comments.is_empty() {
            break;
        }
        for comment in page.comments {
            comments.push(Child::parse(comment, Some(issue_id), At::Updated)?);
        }
    }
    Ok(requests)
}

/// One page of a worklog feed: the ids it named (with when, for deleted ones) and the
/// cursor after it.
struct FeedPage {
    ids: Vec<(u64, i64)>,
    until: i64,
}

/// Both feeds, read to their ends.
struct Feeds {
    updated: Vec<FeedPage>,
    deleted: Vec<FeedPage>,
    requests: usize,
}

/// Reads `/worklog/updated` and `/worklog/deleted` from their cursors to their last pages
/// (ids only: about 16 bytes a worklog).
async fn worklog_feeds<T: Transport + 'static>(
    transport: Arc<T>,
    updated_since: i64,
    deleted_since: i64,
) -> Result<Feeds, Error> {
    let mut feeds = Feeds {
        updated: Vec::new(),
        deleted: Vec::new(),
        requests: 0,
    };
    for (deleted, mut since) in [(false, updated_since), (true, deleted_since)] {
        loop {
            let response = transport
                .send(ApiRequest::worklogs_changed(since, deleted))
                .await?;
            feeds.requests += 1;
            if !response.is_success() {
                return Err(Error::Sync(format!(
                    "sync: the worklog feed answered HTTP {}; run again to resume",
                    response.status.as_u16()
                )));
            }
            let page: Value = response.json()?;
            let values = page
                .get("values")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ids: Vec<(u64, i64)> = values
                .iter()
                .filter_map(|v| {
                    Some((
                        v.get("worklogId").and_then(Value::as_u64)?,
                        v.get("updatedTime").and_then(Value::as_i64).unwrap_or(0),
                    ))
                })
                .collect();
            let until = page
                .get("until")
                .and_then(Value::as_i64)
                .unwrap_or(since)
                .max(since);
            let last = page
                .get("lastPage")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let empty = ids.is_empty();
            let pages = if deleted {
                &mut feeds.deleted
            } else {
                &mut feeds.updated
            };
            pages.push(FeedPage { ids, until });
            if last || empty || until == since {
                break;
            }
            since = until;
        }
    }
    Ok(feeds)
}

/// Lists the updated worklogs (1,000 a call, `max_concurrent` calls at a time), keeps
/// those of issues the sink holds, marks the deleted ones, each feed page committed in
/// order with its cursor. A cursor never passes the window's end: a worklog on an issue
/// the window did not hold yet is read again by the next run, once it does.
#[allow(clippy::too_many_arguments)]
async fn store_worklogs<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    sink: &mut S,
    state: &mut SyncState,
    feeds: Feeds,
    window_end: i64,
    options: &SyncOptions,
    report: &mut SyncReport,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    report.requests += feeds.requests;
    // A list holds up to 1,000 worklogs (a megabyte or two, held twice while it is read):
    // lists in flight and waiting share a quarter of the budget.
    let budget = Budget::new(options.memory_budget / 4, batch.max_concurrent);
    let lists = futures_util::stream::iter(feeds.updated)
        .then(|page| {
            let budget = budget.clone();
            async move { (page, budget.share().await) }
        })
        .map(|(page, share)| async move {
            let mut worklogs = Vec::new();
            let ids: Vec<u64> = page.ids.iter().map(|(id, _)| *id).collect();
            let mut requests = 0;
            for chunk in ids.chunks(1_000) {
                let response = transport.send(ApiRequest::worklog_list(chunk)?).await?;
                requests += 1;
                if !response.is_success() {
                    return Err(Error::Sync(format!(
                        "sync: POST /rest/api/3/worklog/list answered HTTP {}; run again to resume",
                        response.status.as_u16()
                    )));
                }
                for worklog in response.json::<Vec<Box<RawValue>>>()? {
                    worklogs.push(Child::parse(worklog, None, At::Updated)?);
                }
            }
            Ok::<_, Error>((worklogs, page.until, requests, share))
        })
        .buffered(batch.max_concurrent.max(1));
    tokio::pin!(lists);
    while let Some(listed) = lists.next().await {
        let (worklogs, until, requests, _share) = listed?;
        budget.observe(worklogs.iter().map(|w| w.json.get().len()).sum());
        report.requests += requests;
        let mut commit = SyncBatch::default();
        for worklog in worklogs {
            if sink.has_issue(&worklog.issue_id.to_string())? {
                commit.worklogs.push(worklog);
            }
        }
        report.worklogs += commit.worklogs.len();
        state.worklogs_since_ms = state.worklogs_since_ms.max(until.min(window_end));
        blocking(|| sink.commit(&commit, state))?;
        report.commits += 1;
    }
    for page in feeds.deleted {
        let commit = SyncBatch {
            deleted_worklogs: page.ids,
            ..SyncBatch::default()
        };
        report.worklogs_deleted += commit.deleted_worklogs.len();
        state.deleted_worklogs_since_ms = state.deleted_worklogs_since_ms.max(page.until);
        sink.commit(&commit, state)?;
        report.commits += 1;
    }
    Ok(())
}

/// The complete histories of `ids` (at most 1,000 a call), every page followed; the number
/// of requests it took.
async fn histories<T: Transport>(
    transport: &Arc<T>,
    ids: &[u64],
) -> Result<(BTreeMap<u64, Vec<Child>>, usize), Error> {
    let mut all: BTreeMap<u64, Vec<Child>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    let mut requests = 0;
    for chunk in ids.chunks(jira_model::CHANGELOG_BULK_MAX_ISSUES) {
        let mut token = None;
        loop {
            let body = ChangelogBulkRequest {
                issue_ids_or_keys: chunk.iter().map(u64::to_string).collect(),
                max_results: Some(jira_model::CHANGELOG_BULK_MAX_RESULTS),
                next_page_token: token,
                ..ChangelogBulkRequest::default()
            };
            let request = ApiRequest::changelog_bulk(&body)?;
            let response = transport.send(request).await?;
            requests += 1;
            if !response.is_success() {
                return Err(Error::Sync(format!(
                    "sync: POST /rest/api/3/changelog/bulkfetch answered HTTP {}; run again to resume",
                    response.status.as_u16()
                )));
            }
            let page: ChangelogBulkPage<Box<RawValue>> = response.json()?;
            for log in page.issue_change_logs {
                let issue_id = numeric_id(&log.issue_id)?;
                let entries = all.entry(issue_id).or_default();
                for entry in log.change_histories {
                    entries.push(Child::parse(entry, Some(issue_id), At::Created)?);
                }
            }
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
    }
    Ok((all, requests))
}

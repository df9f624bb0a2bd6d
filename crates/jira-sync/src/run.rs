//! One run: the window opened or resumed, read and committed with its cursors,
//! the worklog feeds, the census; and the plan of the next run.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt as _;
use jira_batch::BatchConfig;
use jira_model::ApiRequest;
use jira_transport::Transport;
use serde::Serialize;
use serde_json::Value;

use crate::Error;
use crate::census::{census, census_due, went_back};
use crate::early::{Early, rest_window};
use crate::events::{ids_events, page_events};
use crate::memory::{AbortOnDrop, MemoryBudget, blocking};
use crate::options::{Strategy, SyncOptions};
use crate::plan::{self, SyncPlan};
use crate::read::{Completion, Tuning};
use crate::record::now_ms;
use crate::sink::{Sink, SyncBatch};
use crate::window::{Opened, SyncState, Window, open_window};
use crate::worklogs::{Embedded, IssueWorklogs, entering_worklogs, store_worklogs, worklog_reads};

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
    /// Issues the site holds older versions of than the sink (of the query's newest,
    /// checked at the start of an incremental run): the site went back in time (restored
    /// from a backup, a sandbox reset), and the run read the whole query again.
    pub went_back: usize,
    /// Issues a unit of the `ids` way fetches on this site, as the run's plan found
    /// fastest (none when no plan landed: a window an interrupted run left, a site that
    /// could not be measured). Kept with the run's record, so that the next run's first
    /// units, sent before its own plan lands, take the site's measured size.
    pub unit_issues: Option<usize>,
}

/// What reading part of a window produced. A slice's units may come out of id order
/// (those of the `ids` way are handed on as they come back): each says how far its
/// slice's cursor may move once it is committed.
pub(crate) enum Event {
    /// Issues of slice `slice`, complete with their histories. Once it is committed, every
    /// issue of the slice up to `last_id` is durable, and so are those from the first to
    /// the last id of each range of `ahead` (the unit's own range, when it came back before
    /// a unit below it; the runs of the listing a unit of its first page holds).
    Unit {
        slice: usize,
        last_id: u64,
        ahead: Vec<(u64, u64)>,
        unit: Box<Unit>,
    },
    /// Slice `slice` has been read to its end.
    Done { slice: usize },
}

/// Issues read and completed together: one bulk fetch, or one search page.
#[derive(Default)]
pub(crate) struct Unit {
    pub(crate) batch: SyncBatch,
    /// Its share of the memory budget, held until it is committed.
    pub(crate) share: Option<tokio::sync::OwnedSemaphorePermit>,
    /// `(id, updated)` of every issue read, written or unchanged.
    pub(crate) seen: Vec<(String, i64)>,
    pub(crate) unchanged: usize,
    pub(crate) requests: usize,
    pub(crate) search_pages: usize,
    pub(crate) missing: Vec<String>,
    /// The worklogs each issue carried, when the read takes them from the issues.
    pub(crate) embedded: BTreeMap<u64, Embedded>,
}

impl Unit {
    /// The bytes of JSON it holds.
    pub(crate) fn bytes(&self) -> usize {
        self.batch.bytes() + self.embedded.values().map(Embedded::bytes).sum::<usize>()
    }
}

/// Runs one sync of `options.jql` into `sink` over `transport`; `progress` is called
/// after every commit with the report so far.
pub(crate) async fn sync<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    in_flight: usize,
    sink: &mut S,
    options: &SyncOptions,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> Result<SyncReport, Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let (started, started_ms) = (std::time::Instant::now(), now_ms());
    let (saved, damaged) = match sink.load_state(&options.jql) {
        Ok(saved) => (saved, false),
        // `--full` starts over: a saved state that does not read is what it replaces.
        Err(error) if options.full => {
            tracing::warn!(%error, "sync: --full replaces a saved state that does not read");
            (None, true)
        }
        Err(error) => return Err(error),
    };
    // Whether the sink held this query's issues before the run: only then can a census
    // find something gone.
    let held_before = saved.is_some() || damaged;
    let saved = saved.filter(|_| !options.full);
    let mut state = saved.unwrap_or_else(|| SyncState {
        jql: options.jql.clone(),
        ..SyncState::default()
    });
    let mut report = SyncReport::default();
    if held_before && !options.full && state.window.is_none() {
        let (older, requests) = went_back(transport, sink, &options.jql).await?;
        report.requests += requests;
        if older > 0 {
            // Below the mark is no longer what the sink holds: the whole query is read
            // again (what the sink holds at the same `updated` is skipped), and the census
            // marks what the site no longer has.
            tracing::warn!(
                issues = older,
                "sync: the site holds older versions of issues than the sink: it went back in time (restored from a backup, a sandbox reset); reading the whole query again"
            );
            report.went_back = older;
            state.mark_ms = None;
            state.census_ms = None;
        }
    }
    // The field catalogue is asked for beside the window's opening (its measure), not
    // after it: a far site's round trip less before the first read.
    let opening = async {
        match state.window.clone() {
            Some(window) if !options.full && options.since_ms.is_none() => {
                report.resumed = true;
                report.reason = "went on with the window an interrupted run left".into();
                Ok(Opened {
                    window,
                    first_ids: None,
                    listed: None,
                    early: None,
                })
            }
            _ => {
                let opened = open_window(
                    transport,
                    batch,
                    in_flight,
                    options,
                    &state,
                    !held_before,
                    &mut report,
                )
                .await?;
                if opened.window.worklogs_from_issues {
                    // The feeds start where this window's issues, which carry their worklogs,
                    // leave off (less the overlap, for the clocks' skew): a worklog changed
                    // after that is the next run's.
                    let since = opened.window.to_ms - options.overlap.as_millis() as i64;
                    state.worklogs_since_ms = since;
                    state.deleted_worklogs_since_ms = since;
                }
                state.window = Some(opened.window.clone());
                sink.commit(&SyncBatch::default(), &state)?;
                report.commits += 1;
                Ok::<_, Error>(opened)
            }
        }
    };
    let (opened, fields) = tokio::join!(opening, transport.send(ApiRequest::fields()));
    let Opened {
        window,
        first_ids,
        listed,
        early,
    } = opened?;
    let (mut early, past_first) = early.unzip();
    report.requests += 1;
    let fields = fields?;
    if fields.is_success() {
        sink.set_fields(&fields.json::<Vec<Value>>()?)?;
    }
    report.strategy = Some(window.strategy);
    progress(&report);
    // A census finds what went missing since an earlier run; a first run (nothing held
    // before it) has nothing to find, so it is skipped there.
    let incremental = held_before;
    let window_end = window.to_ms;
    // The worklog feeds are read (ids only) while the window is: their cursor pages one
    // after the other, so they would otherwise add their whole chain to the run.
    // A site without them is not asked again (a sync `--full` asks).
    let worklogs = (options.worklogs && !state.worklogs_without_feed).then(|| {
        worklog_reads(
            transport.clone(),
            state.worklogs_since_ms,
            state.deleted_worklogs_since_ms,
            batch.max_concurrent,
            window.memory_budget(options.memory_budget),
        )
    });
    let reads = Reads {
        transport,
        batch,
        options,
        worklogs: IssueWorklogs::of(options, &window, &state),
    };
    let from_issues = reads.worklogs == IssueWorklogs::Every;
    read_window(
        &reads,
        sink,
        &mut state,
        ToRead {
            window,
            first_ids,
            listed,
            past_first,
        },
        early.as_mut(),
        &mut report,
        progress,
    )
    .await?;
    // A far site's plan chose another way for what its first id page left.
    if let Some((plan, early)) = early.and_then(|mut early| Some((early.rest_way.take()?, early))) {
        let read = state.window.clone().ok_or_else(|| {
            Error::Sync("sync: the first id page ended without its window".into())
        })?;
        let (rest, listed, requests) =
            rest_window(transport, options, (&read, early.listing()), &plan).await?;
        report.requests += requests;
        report.strategy = Some(rest.strategy);
        state.window = Some(rest.clone());
        sink.commit(&SyncBatch::default(), &state)?;
        report.commits += 1;
        read_window(
            &reads,
            sink,
            &mut state,
            ToRead {
                window: rest,
                first_ids: None,
                listed,
                past_first: None,
            },
            None,
            &mut report,
            progress,
        )
        .await?;
    }
    if let Some(worklogs) = worklogs {
        store_worklogs(
            sink,
            &mut state,
            worklogs,
            (window_end, from_issues),
            &mut report,
        )
        .await?;
    }
    if incremental && census_due(options, &state, sink, report.requests)? {
        census(transport, batch, sink, options, &state, &mut report).await?;
        state.census_ms = Some(now_ms());
    } else if !incremental {
        // A first run holds exactly what the site has: it counts as a census.
        state.census_ms = Some(now_ms());
    }
    state.runs += 1;
    state.last_runs.push(crate::window::RunRecord {
        started_ms,
        took_ms: started.elapsed().as_millis() as u64,
        issues_written: report.issues_written as u64,
        issues_unchanged: report.issues_unchanged as u64,
        issues_deleted: report.issues_deleted as u64,
        requests: report.requests as u64,
        strategy: report.strategy.map(|s| s.name().to_owned()),
        unit_issues: report.unit_issues,
    });
    let excess = state
        .last_runs
        .len()
        .saturating_sub(crate::window::RUNS_KEPT);
    state.last_runs.drain(..excess);
    sink.commit(&SyncBatch::default(), &state)?;
    report.commits += 1;
    report.mark_ms = state.mark_ms;
    crate::memory::blocking(|| sink.finish_run())?;
    progress(&report);
    Ok(report)
}

/// How long the commit loop waits for another unit before it commits what it gathered.
/// A near site's units come back far more often than this (its commits are the
/// bottleneck, and gather as before); a far site's last units come back seconds apart.
const QUIET_COMMIT: std::time::Duration = std::time::Duration::from_millis(50);

/// What the next run of `options` would cost each way, without reading the window:
/// sixteen requests measure the tenant (see [`SyncPlan`]). A window an interrupted run left
/// is estimated as it stands.
pub(crate) async fn plan<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    in_flight: usize,
    sink: &mut S,
    options: &SyncOptions,
) -> Result<SyncPlan, Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let saved = sink.load_state(&options.jql);
    // As the run decides: the sink holds nothing of the query yet.
    let first_read = matches!(saved, Ok(None));
    let state = match options.full {
        // `--full` reads no saved state, so a damaged one does not stop its plan.
        true => None,
        false => saved?,
    }
    .unwrap_or_default();
    let window = match state.window.clone() {
        Some(window) if !options.full && options.since_ms.is_none() => window,
        _ => Window::opening(options, &state, first_read, Strategy::Ids),
    };
    plan::estimate(transport, batch, in_flight, options, &window).await
}

/// What every read of one run shares: the stack it reads through, the batch settings and
/// the run's options.
pub(crate) struct Reads<'a, T> {
    pub(crate) transport: &'a Arc<T>,
    pub(crate) batch: &'a BatchConfig,
    pub(crate) options: &'a SyncOptions,
    /// Which issues take their worklogs from themselves ([`entering_worklogs`]) rather
    /// than from the feed.
    pub(crate) worklogs: IssueWorklogs,
}

/// A window to read and what of it is in hand.
struct ToRead {
    window: Window,
    /// Its listing's first page, when the plan read it.
    first_ids: Option<jira_model::SearchPage>,
    /// Its whole listing, when its slices were cut from one.
    listed: Option<Arc<jira_batch::QueryIds>>,
    /// On a far site, the plan's word on reading past the first page.
    past_first: Option<crate::early::PastFirst>,
}

/// Reads every unfinished slice of `window`, committing units as they come back with
/// the cursors they move, then moves the mark to the window's end.
/// With `early` (a far site's first id page, read while the plan measures), the read
/// takes the plan when it lands; when the plan chose another way, it ends after the first
/// page with the window unfinished (see [`crate::early`]).
async fn read_window<T, S>(
    reads: &Reads<'_, T>,
    sink: &mut S,
    state: &mut SyncState,
    ToRead {
        window,
        first_ids,
        listed,
        past_first,
    }: ToRead,
    mut early: Option<&mut Early>,
    report: &mut SyncReport,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let (transport, batch, options) = (reads.transport, reads.batch, reads.options);
    let worklogs = reads.worklogs;
    let recent = Arc::new(state.recent.clone());
    let budget = MemoryBudget::new(
        window.memory_budget(options.memory_budget),
        match window.concurrency {
            0 => batch.max_concurrent.max(1),
            n => n,
        },
    );
    let tuning = Tuning::new(
        match window.unit_issues {
            0 => batch.fetch_chunk,
            n => n,
        },
        match window.concurrency {
            0 => batch.max_concurrent.max(1),
            n => n,
        },
    );
    let overlap = options.overlap.as_millis() as i64;
    let keep_from = window.to_ms - overlap;
    // The reads run in a task of their own, so that a commit (synchronous, fsynced)
    // never holds up the requests of the next units. Between them wait at most half as
    // many units as may be in flight, ten at least (`Tuning::waiting`): a far site, with
    // many units on the wire for their latency, reads on through a commit; a near one,
    // whose commits are the bottleneck, holds little more than its units in flight. (A
    // bound of ten units stopped the dispatch whenever a commit outlasted their arrival:
    // at Jira Cloud's latency, a second of a 7.2 s read of 10,000 issues.)
    let waiting = tuning.waiting.clone();
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel::<(
        Result<Event, Error>,
        Option<tokio::sync::OwnedSemaphorePermit>,
    )>();
    // The plan's count of the window (none for a window an earlier run left).
    let expected = report.expected.filter(|_| !report.resumed);
    let reader = {
        let (transport, batch, options, window) = (
            transport.clone(),
            batch.clone(),
            options.clone(),
            window.clone(),
        );
        let completion = Completion {
            worklogs,
            recent,
            budget: budget.clone(),
        };
        let tuning = tuning.clone();
        tokio::spawn(async move {
            let stream: futures_util::stream::BoxStream<'_, Result<Event, Error>> = match window
                .strategy
            {
                _ if window.slices.iter().all(|s| s.done) => futures_util::stream::empty().boxed(),
                Strategy::Ids => ids_events(
                    &transport,
                    &batch,
                    &options,
                    &window,
                    (first_ids, past_first),
                    completion,
                    tuning,
                )
                .boxed(),
                Strategy::Pages | Strategy::Slices => page_events(
                    &transport,
                    &options,
                    &window,
                    completion,
                    (expected, first_ids, listed),
                )
                .boxed(),
            };
            tokio::pin!(stream);
            while let Some(event) = stream.next().await {
                let failed = event.is_err();
                // Given back as soon as the commit loop takes the unit.
                let room = match &event {
                    Ok(Event::Unit { .. }) => waiting.acquire(1).await,
                    _ => None,
                };
                if sender.send((event, room)).is_err() || failed {
                    break;
                }
            }
        })
    };
    let _reader = AbortOnDrop::new(reader);
    let mut window = window;
    let mut pending = SyncBatch::default();
    let mut pending_embedded: BTreeMap<u64, Embedded> = BTreeMap::new();
    let mut pending_seen: Vec<(String, i64)> = Vec::new();
    let mut shares: Vec<tokio::sync::OwnedSemaphorePermit> = Vec::new();
    loop {
        // The issues gathered are committed once nothing has come for a while: the loop
        // would only wait, and the units that come back last (a far site's slowest) then
        // find little left to commit before the run can end.
        let gathered = !pending.issues.is_empty();
        let quiet = async move {
            match gathered {
                false => std::future::pending().await,
                true => tokio::time::sleep(QUIET_COMMIT).await,
            }
        };
        let event = match early.as_deref_mut().filter(|early| early.pending()) {
            Some(early) => tokio::select! {
                biased;
                event = events.recv() => Some(event.map(|(event, _room)| event)),
                landed = early.landed() => {
                    early.apply(landed, (&mut window, &tuning, &budget), options, report);
                    continue;
                }
                () = quiet => None,
            },
            None => tokio::select! {
                biased;
                event = events.recv() => Some(event.map(|(event, _room)| event)),
                () = quiet => None,
            },
        };
        let quiet = event.is_none();
        let end = match event.flatten().transpose()? {
            None if quiet => false,
            None => {
                report.requests += tuning.unused_requests();
                true
            }
            Some(Event::Done { slice }) => {
                window.slices[slice].done = true;
                false
            }
            Some(Event::Unit {
                slice,
                last_id,
                ahead,
                unit,
            }) => {
                let unit = *unit;
                window.slices[slice].advance(last_id, ahead);
                report.issues_unchanged += unit.unchanged;
                report.requests += unit.requests;
                report.search_pages += unit.search_pages;
                report.missing.extend(unit.missing);
                report.issues_written += unit.batch.issues.len();
                report.comments += unit.batch.comments.values().map(Vec::len).sum::<usize>();
                report.history_entries +=
                    unit.batch.histories.values().map(Vec::len).sum::<usize>();
                pending.append(unit.batch);
                pending_embedded.extend(unit.embedded);
                pending_seen.extend(unit.seen);
                shares.extend(unit.share);
                false
            }
        };
        let held: u32 = shares.iter().map(|s| s.num_permits() as u32).sum();
        if !end
            && !quiet
            && pending.issues.len() < options.commit_issues.max(1)
            && !budget.commit_due(held)
        {
            continue;
        }
        if worklogs.carried() {
            let before = (pending.worklogs.len(), pending.deleted_worklogs.len());
            report.requests += entering_worklogs(
                transport,
                batch.max_concurrent,
                sink,
                &mut pending,
                std::mem::take(&mut pending_embedded),
                worklogs,
            )
            .await?;
            report.worklogs += pending.worklogs.len() - before.0;
            report.worklogs_deleted += pending.deleted_worklogs.len() - before.1;
        }
        for (id, updated) in pending_seen.drain(..) {
            if updated >= keep_from {
                state.recent.insert(id, updated);
            }
        }
        // The stream ends with every slice done, unless a far site's plan chose another
        // way for what its first id page left.
        if end && window.slices.iter().all(|s| s.done) {
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

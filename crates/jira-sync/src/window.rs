//! The window a run reads, its slices and cursors, and the [`SyncState`] saved with the
//! data; [`open_window`] opens a new one from the mark.

use std::collections::BTreeMap;
use std::sync::Arc;

use jira_batch::BatchConfig;
use jira_transport::Transport;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::early::Early;
use crate::memory::AbortOnDrop;
use crate::options::{Strategy, SyncOptions};
use crate::plan::{self, SyncPlan};
use crate::record::now_ms;
use crate::run::SyncReport;

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
    /// Issues a unit of the `ids` way fetches; 0: the configured batch size.
    #[serde(default)]
    pub unit_issues: usize,
    /// Whether every issue of the window takes its worklogs from itself: the query's
    /// first read (the worklog feed's cursors start at this window instead of at the
    /// beginning of time), or every read of a site without worklog feeds
    /// ([`SyncState::worklogs_without_feed`]).
    #[serde(default)]
    pub worklogs_from_issues: bool,
    /// The memory budget its read takes, in bytes (what the plan found its units in
    /// flight need, within the configured one); 0: the configured one.
    #[serde(default)]
    pub memory_budget: usize,
}

impl Window {
    /// A new window of `options`' query, read `strategy`'s way: from the mark less the
    /// overlap (or `--since`; no lower bound on a first read) to now less the settle
    /// time, one slice from the first id, the configured unit size, units in flight and
    /// memory budget. `first_read`: the sink holds nothing of the query yet.
    pub(crate) fn opening(
        options: &SyncOptions,
        state: &SyncState,
        first_read: bool,
        strategy: Strategy,
    ) -> Self {
        let mark_ms = state.mark_ms;
        Window {
            from_ms: options
                .since_ms
                .or_else(|| mark_ms.map(|mark| mark - options.overlap.as_millis() as i64)),
            to_ms: now_ms() - options.settle.as_millis() as i64,
            strategy,
            slices: vec![Slice::new(0, None)],
            concurrency: 0,
            unit_issues: 0,
            // The query's first read takes every issue's worklogs from the issue: reading
            // the feed from the beginning of time would page through every worklog of the
            // site, one page after another, for what the issues carry anyway. A site
            // without the feed has no other way.
            worklogs_from_issues: options.worklogs && (first_read || state.worklogs_without_feed),
            memory_budget: 0,
        }
    }

    /// The window's query: the user's, bounded on `updated` (epoch ms: no time zone to
    /// get wrong), no order. A slice's id range and cursor are the reader's to keep, not
    /// the query's: JQL cannot bound ids (see [`jira_batch::query_ids`]).
    pub(crate) fn bounds(&self, query: &str) -> String {
        let mut jql = format!("({query}) AND updated <= {}", self.to_ms);
        if let Some(from) = self.from_ms {
            jql.push_str(&format!(" AND updated >= {from}"));
        }
        jql
    }

    /// The memory budget its read takes, within `configured`.
    pub(crate) fn memory_budget(&self, configured: usize) -> usize {
        match self.memory_budget {
            0 => configured,
            planned => planned.min(configured),
        }
    }
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
    /// Id ranges past `after_id` (first and last id, inclusive) whose issues are durable:
    /// units of the `ids` way are committed as they come back, and one that came back
    /// before a unit below it is kept here until the cursor passes it. A run that goes on
    /// with the window does not read them again. Sorted, none overlapping or touching
    /// another (a state saved unsorted is sorted as it is read), so a lookup is a binary
    /// search however many there are.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "sorted_ranges"
    )]
    pub ahead: Vec<(u64, u64)>,
}

impl Slice {
    /// A range from `after_id` to `last_id`, nothing of it read yet.
    pub(crate) fn new(after_id: u64, last_id: Option<u64>) -> Self {
        Slice {
            after_id,
            last_id,
            done: false,
            ahead: Vec::new(),
        }
    }

    /// Whether `id` is in the range, past the cursor and in no range read ahead: still to
    /// be read.
    pub(crate) fn unread(&self, id: u64) -> bool {
        id > self.after_id && self.last_id.is_none_or(|last| id <= last) && !self.read_ahead(id)
    }

    /// Whether a range read ahead holds `id`.
    fn read_ahead(&self, id: u64) -> bool {
        let after = self.ahead.partition_point(|(first, _)| *first <= id);
        after > 0 && id <= self.ahead[after - 1].1
    }

    /// Takes, of `ahead` (ranges durable past a cursor), the parts within this range and
    /// past its cursor.
    pub(crate) fn keep_ahead(&mut self, ahead: &[(u64, u64)]) {
        let (after, last) = (self.after_id, self.last_id.unwrap_or(u64::MAX));
        self.ahead.extend(
            ahead
                .iter()
                .map(|(first, end)| ((*first).max(after.saturating_add(1)), (*end).min(last)))
                .filter(|(first, end)| first <= end),
        );
        merge(&mut self.ahead);
    }

    /// Marks durable what a commit holds of the range: every id up to `after_id`, and the
    /// ids from `first` to `last` of each range of a unit that came back ahead of the
    /// cursor.
    pub(crate) fn advance(&mut self, after_id: u64, read: impl IntoIterator<Item = (u64, u64)>) {
        self.after_id = self.after_id.max(after_id);
        self.ahead.extend(read);
        let cursor = self.after_id;
        self.ahead.retain(|(_, last)| *last > cursor);
        merge(&mut self.ahead);
    }
}

/// Sorts `ranges` (first and last id, inclusive) and joins those that overlap or touch:
/// the same ids, in as few ranges as they allow.
fn merge(ranges: &mut Vec<(u64, u64)>) {
    ranges.retain(|(first, last)| first <= last);
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges.drain(..) {
        match merged.last_mut() {
            Some((_, end)) if first <= end.saturating_add(1) => *end = (*end).max(last),
            _ => merged.push((first, last)),
        }
    }
    *ranges = merged;
}

/// [`Slice::ahead`] as saved, sorted and joined ([`merge`]).
fn sorted_ranges<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(u64, u64)>, D::Error> {
    let mut ranges = Vec::<(u64, u64)>::deserialize(deserializer)?;
    merge(&mut ranges);
    Ok(ranges)
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
    /// The site answers no worklog feed (`/worklog/updated` or `/worklog/deleted` said
    /// 404 or 405: an older or partial Jira). Every issue a window reads then takes its
    /// whole worklog list from itself, and a worklog the sink holds that the list lacks is
    /// marked deleted: Jira moves an issue's `updated` when a worklog on it is added,
    /// changed or deleted, so the windows see every change. `--full` asks the site again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub worklogs_without_feed: bool,
    /// The window of a run that has not finished: the next run goes on with it.
    #[serde(default)]
    pub window: Option<Window>,
    /// When the last id census ended (epoch ms).
    #[serde(default)]
    pub census_ms: Option<i64>,
    /// The last runs that ended ([`RUNS_KEPT`] at most, oldest first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_runs: Vec<RunRecord>,
}

/// Runs kept in [`SyncState::last_runs`].
pub const RUNS_KEPT: usize = 10;

/// What one run that ended did, kept with the state (`jira-ops sync status`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When it began (epoch ms).
    pub started_ms: i64,
    /// How long it took, in milliseconds.
    pub took_ms: u64,
    /// Issues written.
    pub issues_written: u64,
    /// Issues read and found unchanged.
    pub issues_unchanged: u64,
    /// Issues marked deleted.
    pub issues_deleted: u64,
    /// Requests it sent.
    pub requests: u64,
    /// The way it read its window, when it read one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Issues a unit of the `ids` way fetched, as the run's plan measured the site
    /// ([`crate::SyncReport::unit_issues`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_issues: Option<usize>,
}

impl SyncState {
    /// The unit size the latest plan of this query found fastest on the site, when a run
    /// that ended had one.
    pub(crate) fn measured_unit(&self) -> Option<usize> {
        self.last_runs.iter().rev().find_map(|run| run.unit_issues)
    }
}

/// A window just opened: the way to read it, its first id-only page when the probe read
/// it (the `ids` way starts from it), its whole listing when its slices were cut from one
/// (their pages are read from it: the window is not listed again), and on a far site the
/// plan still measuring while that page is read ([`Early`]).
pub(crate) struct Opened {
    pub(crate) window: Window,
    pub(crate) first_ids: Option<jira_model::SearchPage>,
    pub(crate) listed: Option<Arc<jira_batch::QueryIds>>,
    pub(crate) early: Option<(Early, crate::early::PastFirst)>,
}

/// A new window from the mark (or `since`) to now less the settle time, with the strategy
/// given or the one [`plan`] finds fastest (within the hourly quota). `first_read`: the
/// sink holds nothing of the query yet (its issues then take their worklogs from
/// themselves, see [`Window::worklogs_from_issues`]).
pub(crate) async fn open_window<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    in_flight: usize,
    options: &SyncOptions,
    state: &SyncState,
    first_read: bool,
    report: &mut SyncReport,
) -> Result<Opened, Error> {
    let mut window = Window::opening(
        options,
        state,
        first_read,
        options.strategy.unwrap_or(Strategy::Ids),
    );
    // The plan measures the tenant (sixteen requests) whether or not a way was asked for:
    // the units in flight and the slices follow the latency it measures.
    let mut first_ids = None;
    let measured = match plan::probe(transport, options, &window).await {
        // A far site's first id page is read while the sample measures (unless another
        // way than ids was asked for).
        Ok(probe) if probe.reads_early() && options.strategy.is_none_or(|s| s == Strategy::Ids) => {
            report.requests += probe.requests_spent();
            report.expected = Some(probe.count());
            report.reason = format!(
                "ids: a far site ({:.0} ms a round trip) is read from its first id page on while the plan measures",
                probe.base_ms()
            );
            crate::early::provisional(&mut window, batch, in_flight, state.measured_unit());
            let probe_requests = probe.requests_spent();
            let first_ids = probe.first_ids.clone();
            let (transport, batch, options, sampled) = (
                transport.clone(),
                batch.clone(),
                options.clone(),
                window.clone(),
            );
            let measuring = AbortOnDrop::new(tokio::spawn(async move {
                plan::measure(&transport, &batch, in_flight, &options, &sampled, probe).await
            }));
            return Ok(Opened {
                window,
                first_ids,
                listed: None,
                early: Some(Early::new(measuring, probe_requests)),
            });
        }
        Ok(probe) => plan::measure(transport, batch, in_flight, options, &window, probe).await,
        Err(error) => Err(error),
    };
    let slices = match measured {
        // A site that cannot be measured (no approximate count, a refused sample) is read
        // the way asked for, or the way that needs no measure, at the configured
        // concurrency.
        // A refused query is the user's to fix: said once, as the error, not measured
        // around.
        Err(error) if error.is_invalid_jql() => return Err(error),
        Err(error) => {
            tracing::warn!(%error, "sync: the window could not be measured");
            report.reason = match options.strategy {
                Some(strategy) => asked_for(strategy),
                None => unmeasured(&error),
            };
            (window.strategy == Strategy::Slices).then(|| batch.max_concurrent.max(1))
        }
        Ok(mut plan) => {
            first_ids = plan.first_ids.take();
            report.requests += plan.requests_spent;
            report.expected = Some(plan.count);
            window.strategy = options.strategy.unwrap_or(plan.chosen);
            window.memory_budget = plan
                .estimate(window.strategy)
                .map_or(0, |e| e.memory_budget);
            window.concurrency = plan.concurrency;
            window.unit_issues = plan.unit_issues;
            report.unit_issues = Some(plan.unit_issues);
            report.reason = match options.strategy {
                Some(strategy) => asked_for(strategy),
                None => plan.reason.clone(),
            };
            if plan
                .estimate(window.strategy)
                .is_some_and(|e| !e.fits_quota)
            {
                report.quota_warning = Some(quota_warning(&plan, window.strategy));
            }
            (window.strategy == Strategy::Slices).then_some(plan.slices)
        }
    };
    let mut listed = None;
    if let Some(wanted) = slices {
        let (slices, listing) = plan::slice_window(
            transport,
            &window,
            &options.jql,
            (0, wanted),
            first_ids.take(),
        )
        .await?;
        report.requests += listing.requests;
        window.slices = match slices.is_empty() {
            // Nothing to read: one slice, read (and done) at once.
            true => window.slices,
            false => slices,
        };
        listed = Some(Arc::new(listing));
    }
    Ok(Opened {
        window,
        first_ids,
        listed,
        early: None,
    })
}

/// What a run that will pause at the hourly quota is told before it starts.
/// The reason a run gives for the way `--strategy` named.
pub(crate) fn asked_for(strategy: Strategy) -> String {
    format!("{} was asked for", strategy.name())
}

/// The reason a run gives for reading by ids when its window's sample failed.
pub(crate) fn unmeasured(error: &Error) -> String {
    format!("ids: the window could not be measured ({error}), and ids needs no measure")
}

pub(crate) fn quota_warning(plan: &SyncPlan, strategy: Strategy) -> String {
    let needed = plan.estimate(strategy).map_or(0, |e| e.points);
    format!(
        "this run needs about {needed} points and the hourly quota has {} left: it will pause at the quota until the reset (the top of the hour) and go on; what is committed is kept",
        plan.sample
            .quota_remaining
            .or(plan.sample.quota_points)
            .unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use super::Slice;

    #[test]
    fn a_slice_keeps_the_ranges_read_ahead_within_it() {
        let mut slice = Slice::new(10, Some(40));
        slice.keep_ahead(&[(5, 12), (20, 25), (38, 45), (50, 60)]);
        assert_eq!(slice.ahead, [(11, 12), (20, 25), (38, 40)]);
        assert!(!slice.unread(12) && slice.unread(13) && !slice.unread(40));
    }

    #[test]
    fn ranges_read_ahead_are_not_read_again_and_go_once_the_cursor_passes_them() {
        let mut slice = Slice::new(0, None);
        slice.advance(0, Some((21, 30)));
        slice.advance(10, Some((41, 50)));
        assert_eq!(slice.after_id, 10);
        let unread: Vec<u64> = (1..=60).filter(|id| slice.unread(*id)).collect();
        let expected: Vec<u64> = (11..=20).chain(31..=40).chain(51..=60).collect();
        assert_eq!(unread, expected);
        slice.advance(30, None);
        assert_eq!(
            slice.ahead,
            [(41, 50)],
            "the range the cursor passed is dropped"
        );
        slice.advance(50, None);
        assert!(slice.ahead.is_empty());
        // A state saved before ranges were kept reads as none.
        let old: Slice =
            serde_json::from_str(r#"{"after_id":7,"last_id":null,"done":false}"#).unwrap();
        assert_eq!(old, Slice::new(7, None));
    }

    #[test]
    fn ranges_read_ahead_are_kept_sorted_and_joined() {
        let mut slice = Slice::new(0, None);
        // Units of an interleaved listing come back in any order.
        slice.advance(0, [(50, 59), (10, 19), (30, 39)]);
        slice.advance(0, [(20, 29), (35, 45), (70, 70)]);
        assert_eq!(slice.ahead, [(10, 45), (50, 59), (70, 70)]);
        let unread: Vec<u64> = (1..=80).filter(|id| slice.unread(*id)).collect();
        let expected: Vec<u64> = (1..=9)
            .chain(46..=49)
            .chain(60..=69)
            .chain(71..=80)
            .collect();
        assert_eq!(unread, expected);
        slice.keep_ahead(&[(60, 69)]);
        assert_eq!(slice.ahead, [(10, 45), (50, 70)]);
        // A state saved with its ranges out of order reads as sorted and joined.
        let saved: Slice = serde_json::from_str(
            r#"{"after_id":0,"last_id":null,"done":false,"ahead":[[30,39],[5,9],[10,12],[1,2]]}"#,
        )
        .unwrap();
        assert_eq!(saved.ahead, [(1, 2), (5, 12), (30, 39)]);
        assert!(saved.unread(3) && !saved.unread(11) && saved.unread(13) && !saved.unread(39));
    }
}

//! A far site's first id page, read while the plan measures.
//!
//! The plan's sample (ten small bulk fetches and a changelog page side by side) takes a
//! few round trips: on Jira Cloud, a second or two that the run would otherwise spend
//! waiting, since the sample waits for its heaviest issue. On a far site (a small answer
//! takes 20 ms or more) the run therefore reads the window's first page of ids by the
//! `ids` way as soon as the probe has the first page of its listing (that page's ids at
//! once, while the listing's later pages are asked; then the lowest of the window's other
//! ids to 5,000 with them, since JQL cannot order by id), with
//! provisional settings ([`provisional`]), and the sample goes on beside the first units.
//! When the plan lands ([`Early::apply`]):
//! - it chose `ids`: the read takes the plan's unit size, units in flight and memory budget
//!   and goes on past the first page, in the same window;
//! - it chose another way: the units started so far finish and are committed, and the
//!   rest of the window, the ids above the slice's cursor, is read the chosen way
//!   ([`rest_window`]), from the listing the first page's read made (the window is not
//!   listed again). Every way reads a window's listed ids in id order from its
//!   cursor, and the ranges the first page's units left durable above it go with the
//!   rest ([`crate::window::Slice::keep_ahead`]), so nothing is read twice and nothing
//!   skipped.
//!
//! A run stopped in between resumes the window as it was committed: an `ids` window, read
//! on by ids.

use std::sync::Arc;

use jira_batch::{BatchConfig, QueryIds};
use jira_transport::Transport;

use crate::Error;
use crate::memory::{AbortOnDrop, MemoryBudget};
use crate::options::{Strategy, SyncOptions};
use crate::plan::{self, SyncPlan};
use crate::read::Tuning;
use crate::run::SyncReport;
use crate::window::Window;

/// The plan on its way while the first id page is read, and what the read does past it.
pub(crate) struct Early {
    /// The sample, in a task of its own started before the first units: its requests
    /// go ahead of theirs.
    plan: Option<AbortOnDrop<Result<SyncPlan, Error>>>,
    decision: Option<tokio::sync::oneshot::Sender<bool>>,
    /// Requests the probe sent (counted when the read began).
    probe_requests: usize,
    /// The plan, when it chose another way than `ids` for the rest of the window.
    pub(crate) rest_way: Option<SyncPlan>,
    /// The window's listing, once the first page's read has it: the rest is read from it,
    /// whatever the way, rather than listing the window again.
    listed: tokio::sync::watch::Receiver<Option<Arc<QueryIds>>>,
}

/// What a far site's first-page read is told and tells back: whether to read past the
/// first page (the plan's word), and the window's listing once it is in.
pub(crate) struct PastFirst {
    /// The plan's word: read on past the first page's worth of ids.
    pub(crate) go_on: tokio::sync::oneshot::Receiver<bool>,
    /// Where the read puts the window's listing.
    pub(crate) listed: tokio::sync::watch::Sender<Option<Arc<QueryIds>>>,
}

impl Early {
    /// The plan `measuring`, after a probe of `probe_requests` requests; with what the
    /// `ids` read waits on before it reads past the first page and where it puts the
    /// window's listing.
    pub(crate) fn new(
        measuring: AbortOnDrop<Result<SyncPlan, Error>>,
        probe_requests: usize,
    ) -> (Self, PastFirst) {
        let (decision, go_on) = tokio::sync::oneshot::channel();
        let (listed_tx, listed) = tokio::sync::watch::channel(None);
        (
            Early {
                plan: Some(measuring),
                decision: Some(decision),
                probe_requests,
                rest_way: None,
                listed,
            },
            PastFirst {
                go_on,
                listed: listed_tx,
            },
        )
    }

    /// The window's listing, when the first page's read made it (its requests counted
    /// there).
    pub(crate) fn listing(&self) -> Option<Arc<QueryIds>> {
        self.listed.borrow().clone()
    }

    /// Whether the plan has yet to land.
    pub(crate) fn pending(&self) -> bool {
        self.plan.is_some()
    }

    /// Waits for the plan (never ends once it has landed).
    pub(crate) async fn landed(&mut self) -> Result<SyncPlan, Error> {
        match self.plan.as_mut() {
            Some(plan) => {
                let landed = plan.wait().await;
                self.plan = None;
                landed.and_then(|landed| landed)
            }
            None => std::future::pending().await,
        }
    }

    /// Takes the plan that landed: the read's settings (and `window`'s, kept with the state
    /// for a resumed run) become the plan's when it chose `ids` (or `ids` was asked for),
    /// and the read goes on past the first page; otherwise it stops there and
    /// [`Early::rest_way`] says how the rest is read. A plan that failed leaves the
    /// provisional settings, read on by ids.
    pub(crate) fn apply(
        &mut self,
        landed: Result<SyncPlan, Error>,
        (window, tuning, budget): (&mut Window, &Tuning, &MemoryBudget),
        options: &SyncOptions,
        report: &mut SyncReport,
    ) {
        let go_on = match landed {
            Err(error) => {
                tracing::warn!(%error, "sync: the window's sample failed: read on by ids at the provisional settings");
                report.reason = crate::window::unmeasured(&error);
                true
            }
            Ok(plan) => {
                report.requests += plan.requests_spent.saturating_sub(self.probe_requests);
                report.unit_issues = Some(plan.unit_issues);
                let strategy = options.strategy.unwrap_or(plan.chosen);
                report.reason = match options.strategy {
                    Some(strategy) => crate::window::asked_for(strategy),
                    None => format!(
                        "{}; the first id page was read by ids while the plan measured",
                        plan.reason
                    ),
                };
                let estimate = plan.estimate(strategy);
                if estimate.is_some_and(|e| !e.fits_quota) {
                    report.quota_warning = Some(crate::window::quota_warning(&plan, strategy));
                }
                if strategy == Strategy::Ids {
                    window.unit_issues = plan.unit_issues;
                    window.concurrency = plan.concurrency;
                    window.memory_budget = estimate.map_or(0, |e| e.memory_budget);
                    tuning.set(plan.unit_issues, plan.concurrency);
                    budget.resize(window.memory_budget(options.memory_budget));
                    true
                } else {
                    self.rest_way = Some(plan);
                    false
                }
            }
        };
        if let Some(decision) = self.decision.take() {
            // The read may have ended already (a failed unit): nothing waits then.
            let _ = decision.send(go_on);
        }
    }
}

/// The settings of a far site's first units, before the plan lands: units of the size
/// the query's last plan `measured` on the site (a later run's window, often read whole
/// before its own plan lands, is read as the plan would have read it), or with none, of
/// the smallest size a plan takes (short latencies, and little held if the issues are
/// heavy); two thirds of the transport's slots in flight (a unit has its fetch and, for
/// part of its time, its changelog page on the wire: about one slot and a half), the
/// configured memory budget.
pub(crate) fn provisional(
    window: &mut Window,
    batch: &BatchConfig,
    in_flight: usize,
    measured: Option<usize>,
) {
    window.strategy = Strategy::Ids;
    window.unit_issues = measured
        .unwrap_or(plan::SMALLEST_UNIT)
        .clamp(1, batch.fetch_chunk.max(1));
    window.concurrency = (in_flight * 2 / 3).clamp(
        batch.max_concurrent.max(1),
        plan::MAX_CONCURRENCY.max(batch.max_concurrent),
    );
    window.memory_budget = 0;
}

/// The rest of `window` (the ids above its first slice's cursor that no range read ahead
/// holds), to be read the way `plan` chose; with the window's listing (`listed`, the
/// first page's read's, or one made here to cut slices from: the read takes the rest's
/// ids from it) and the requests made here.
pub(crate) async fn rest_window<T: Transport + 'static>(
    transport: &Arc<T>,
    options: &SyncOptions,
    (window, listed): (&Window, Option<Arc<QueryIds>>),
    plan: &SyncPlan,
) -> Result<(Window, Option<Arc<QueryIds>>, usize), Error> {
    let strategy = options.strategy.unwrap_or(plan.chosen);
    let after_id = window.slices[0].after_id;
    let mut rest = Window {
        strategy,
        slices: vec![crate::window::Slice::new(after_id, None)],
        concurrency: plan.concurrency,
        unit_issues: plan.unit_issues,
        memory_budget: plan.estimate(strategy).map_or(0, |e| e.memory_budget),
        ..window.clone()
    };
    let mut listed = listed;
    let mut requests = 0;
    if strategy == Strategy::Slices {
        // The plan's slices were for the whole window: the rest takes its share of them.
        let first_page = window_first_page(plan);
        let left = plan.count.saturating_sub(first_page).max(1) as f64;
        let slices = ((plan.slices as f64 * left / plan.count.max(1) as f64).ceil() as usize)
            .clamp(1, plan.slices.max(1));
        // Nothing above the first page: no slice, the window is read.
        let listing = match listed {
            Some(listed) => listed,
            None => {
                let listing =
                    jira_batch::query_ids(&**transport, &rest.bounds(&options.jql), None).await?;
                requests += listing.requests;
                Arc::new(listing)
            }
        };
        rest.slices = plan::cut_above(&listing, after_id, slices);
        listed = Some(listing);
    }
    // What the first page's units left durable above the cursor is not read again.
    for slice in &mut rest.slices {
        slice.keep_ahead(&window.slices[0].ahead);
    }
    Ok((rest, listed, requests))
}

/// Issues of the window's first id-only page.
fn window_first_page(plan: &SyncPlan) -> u64 {
    plan.count.min(jira_model::SEARCH_ID_PAGE_MAX as u64)
}

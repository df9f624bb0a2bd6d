//! Each way's schedule from what the sample measured: a unit's slowest chain of
//! requests, the units in flight (the concurrency, the memory budget and the transport's
//! slots), each endpoint at its burst rate past its bucket, the `ids` way's units played
//! out one by one with their issues drawn from the sample's (so the heaviest ends the
//! read where it goes), the commit a run ends with, the bytes over this machine's
//! processors; then the choice among the ways (`choice.rs`).

use super::choice::{self, POINTS_TIE};
use super::{COMMENT_PAGE, Estimate, Sample, SyncPlan};
use crate::{Strategy, SyncOptions};

/// Bytes of one issue in an id-only page (`{"id":"10001"},`).
const ID_BYTES: f64 = 16.0;
/// The most units a sync keeps in flight (unless configured higher).
pub const MAX_CONCURRENCY: usize = 256;
/// Issues a unit of the `ids` way may fetch at once, largest first: smaller units are
/// faster when the memory budget, not the burst rate, bounds what is in flight (a unit
/// holds its share for its whole latency, and latency grows with the bytes).
const UNIT_SIZES: [usize; 3] = [100, 50, 25];
/// The smallest of them: a far site's first units, before the plan lands, are this size.
pub(crate) const SMALLEST_UNIT: usize = UNIT_SIZES[UNIT_SIZES.len() - 1];

/// What a unit of some size costs.
struct UnitCost {
    /// Units in the window.
    units: f64,
    /// The latency of its bulk fetch (or search page), in seconds.
    fetch: f64,
    /// Its changelog pages one after the other, in seconds.
    changelog: f64,
    /// Changelog pages it needs.
    changelog_pages: f64,
    /// Its long comment threads and worklog lists (side by side), in seconds: the
    /// chance that it has one times the chain of one.
    thread: f64,
    /// The chain of one long thread or worklog list, in seconds: what follows the fetch
    /// of the heaviest unit, whose heavy issues are the ones that have them.
    follow: f64,
    /// What this client spends on its bytes on the read's own chain (parsing them into
    /// the records a sink keeps), in seconds. The sink's writes happen in the commit
    /// loop, beside the reads (`crate::run`): their processor time counts in a near
    /// site's bound, not here.
    process: f64,
    /// Units the memory budget lets be in flight.
    by_memory: f64,
}

/// What the settings allow the plan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Configured {
    /// Units in flight at least.
    pub(crate) concurrency: usize,
    /// Issues a bulk fetch asks for at most.
    pub(crate) unit_issues: usize,
    /// Requests the transport sends at once (its connection slots).
    pub(crate) requests_in_flight: usize,
    /// Whether the worklog feed is read beside the window, page after page (not on a
    /// query's first read: its issues carry their worklogs, and the feed starts at the
    /// window's end).
    pub(crate) feed_beside: bool,
}

/// Each strategy's cost from the sample, and the choice.
pub(crate) fn choose(
    jql: String,
    count: u64,
    sample: Sample,
    options: &SyncOptions,
    configured: Configured,
    requests_spent: usize,
) -> SyncPlan {
    let concurrency = configured.concurrency;
    let n = count as f64;
    let latency = |bytes: f64| (sample.base_ms + sample.ms_per_byte * bytes) / 1000.0;
    // The sample's sizes are each issue's own text; a fetch's answer wraps them.
    let sized: f64 = sample.issue_sizes.iter().sum();
    let wire = match sized > 0.0 {
        true => sample.issue_bytes * sample.issue_sizes.len() as f64 / sized,
        false => 1.0,
    };
    let history = if options.changelogs {
        sample.history_per_issue
    } else {
        0.0
    };
    let entries = n * history;
    let rate = sample.post_rate.max(1.0);
    let comments = options.comments && sample.long_threads > 0.0;
    let comment_requests = if comments {
        n * sample.comment_pages_per_issue
    } else {
        0.0
    };
    // Worklog lists longer than the embedded page, read whole (a first read, whose
    // issues carry their worklogs): a request each.
    let worklog_list_bytes = sample.worklogs_per_list * sample.worklog_bytes;
    let worklog_requests = n * sample.long_worklogs;
    // The bytes an issue holds in a unit until it is committed.
    let issue_bytes = sample.issue_bytes
        + history * sample.entry_bytes
        + sample.comment_pages_per_issue * COMMENT_PAGE * sample.comment_bytes
        + sample.long_worklogs * worklog_list_bytes;
    // A unit of `u` issues: its chains of requests and what it holds.
    let unit = |u: f64| {
        // Changelog pages of 1,000 entries, one after the other.
        let pages = if options.changelogs {
            (u * history / 1000.0).ceil().max(1.0)
        } else {
            0.0
        };
        let changelog =
            pages * latency(0.0) + sample.ms_per_byte * u * history * sample.entry_bytes / 1000.0;
        // Its long comment threads side by side: the chance that the unit has one, times
        // the rounds of a long thread's pages (asked a few at a time, side by side).
        let (some, one_thread) = if comments {
            let pages_per_thread = sample.comment_pages_per_issue / sample.long_threads;
            let rounds = (pages_per_thread / crate::read::THREAD_PAGES_AT_ONCE as f64).ceil();
            (
                1.0 - (1.0 - sample.long_threads.min(1.0)).powf(u),
                rounds * latency(COMMENT_PAGE * sample.comment_bytes),
            )
        } else {
            (0.0, 0.0)
        };
        // Its long worklog lists, beside the threads.
        let some_list = 1.0 - (1.0 - sample.long_worklogs.min(1.0)).powf(u);
        let one_list = match sample.long_worklogs > 0.0 {
            true => latency(worklog_list_bytes),
            false => 0.0,
        };
        let thread = (some * one_thread).max(some_list * one_list);
        // Each unit holds its share of the memory budget until it is committed: the
        // budget bounds the units in flight as well as the concurrency does. Three
        // quarters of it are theirs: the rest holds the commit being gathered (a commit
        // is due at a quarter, `MemoryBudget::commit_due`).
        let by_memory = (options.memory_budget as f64 * 0.75 / (u * issue_bytes).max(1.0))
            .floor()
            .max(1.0);
        UnitCost {
            units: (n / u).ceil(),
            fetch: latency(u * sample.issue_bytes),
            changelog,
            changelog_pages: pages,
            thread,
            follow: one_thread.max(one_list),
            process: u * issue_bytes * sample.client_ms_per_byte / 1000.0,
            by_memory,
        }
    };
    let page_unit = unit(100.0);
    // The time `requests` to one endpoint take at its burst rate: its bucket holds a
    // second of them (Atlassian's and jira-sim's burst buckets), the rest go at the rate.
    let paced = |requests: f64| (requests - rate).max(0.0) / rate;
    // A quarter of the transport's slots stays free for the worklog feed read beside the
    // window (its pages follow one another: queued behind the units, each would wait a
    // unit's latency).
    let slots = match configured.feed_beside {
        true => configured.requests_in_flight * 3 / 4,
        false => configured.requests_in_flight,
    }
    .max(1) as f64;
    // Little's law: to keep each endpoint at its burst rate, `rate × latency` units must be
    // in flight (never fewer than configured, never more than the cap); of those, as many
    // as the memory budget and the slots hold, a unit taking `slots_per_unit` of them on
    // average.
    let in_flight_for = |cost: &UnitCost, latency: f64, slots_per_unit: f64| {
        let wanted = ((rate * latency).ceil() as usize)
            .clamp(concurrency.max(1), MAX_CONCURRENCY.max(concurrency));
        let by_slots = (slots / slots_per_unit.max(1.0)).floor().max(1.0);
        (wanted as f64).min(cost.by_memory).min(by_slots).max(1.0)
    };
    // A page has the next one asked meanwhile, or its changelog pages, on the wire beside
    // it: two slots.
    let page_slots = match options.changelogs {
        true => 2.0,
        false => 1.0,
    };
    // The `ids` way at each unit size it may use: the fastest (a smaller one only when it
    // gains more than the points tie: it costs a request a unit).
    // The window's ids are listed before they are read (JQL cannot page by id), a page
    // after the other, the first the plan's; a listing of more than a page is listed
    // again once its ids are under way (`crate::events`).
    let id_pages = (n / 5000.0).ceil();
    let relisted = match id_pages > 1.0 {
        true => id_pages,
        false => 0.0,
    };
    let id_page = match sample.id_page_ms {
        0.0 => latency(5000.0 * ID_BYTES),
        ms => ms / 1000.0,
    };
    // The listing's pages past the plan's (a window of one search page is asked as that
    // page, nothing listed: `count > 100` is when the plan reads an id page).
    let listing_rest = (id_pages - 1.0).max(0.0) * id_page;
    let ids_at = |u: usize| {
        let cost = unit(u as f64);
        // A unit's histories are read beside its bulk fetch (the ids are known); its long
        // threads once the fetch has said which they are.
        let time = cost.fetch.max(cost.changelog) + cost.thread + cost.process;
        // Its fetch and its changelog pages are on the wire side by side, its threads after
        // them: the slots it holds over its time, on average.
        let slots_per_unit = (cost.fetch + cost.changelog + cost.thread) / time.max(1e-9);
        let in_flight = in_flight_for(&cost, time, slots_per_unit);
        let changelog_requests = cost.units * cost.changelog_pages;
        // The units as they go (each endpoint's bucket, then its rate; past the units in
        // flight, one at a time as one comes back), each with its issues drawn from the
        // sample's, so the heaviest ends the read where it goes; then the long thread or
        // list its heavy issues have.
        let busiest = cost.units.max(changelog_requests).max(comment_requests);
        let chain =
            |bytes: f64| latency(bytes * wire).max(cost.changelog) + cost.thread + cost.process;
        let units = Dispatch {
            units: cost.units as usize,
            issues: u,
            in_flight: in_flight as usize,
            requests: busiest / cost.units.max(1.0),
            rate,
        };
        let read = units
            .last_back(
                &sample.issue_sizes,
                u as f64 * sample.issue_bytes / wire,
                chain,
            )
            .max(relisted * id_page)
            + listing_rest
            + (cost.follow - cost.thread).max(0.0);
        let requests = id_pages
            + relisted
            + cost.units
            + changelog_requests
            + comment_requests
            + worklog_requests;
        (u, in_flight as usize, read + id_page, requests)
    };
    let largest = configured
        .unit_issues
        .clamp(1, jira_model::BULK_FETCH_MAX_ISSUES);
    let mut sizes: Vec<usize> = UNIT_SIZES.into_iter().filter(|u| *u < largest).collect();
    sizes.insert(0, largest);
    let (unit_issues, ids_concurrency, ids_read, ids_requests) = sizes
        .into_iter()
        .map(ids_at)
        .reduce(|best, next| match next.2 < best.2 * (1.0 - POINTS_TIE) {
            true => next,
            false => best,
        })
        .expect("one unit size at least");
    // A page is completed (threads, histories, the client's work on its bytes) before the
    // next is taken; the next is asked meanwhile.
    let after_page = page_unit.thread.max(page_unit.changelog) + page_unit.process;
    // The ids known, a stream has `PAGES_AHEAD` pages on the wire at once; each is
    // completed in turn.
    let page_time = (page_unit.fetch / jira_batch::PAGES_AHEAD as f64).max(after_page);
    let page_in_flight = in_flight_for(&page_unit, page_time, page_slots);
    // A slice a unit in flight at most: each streams its pages one after the other, so
    // more slices are fewer rounds of a page's latency.
    let slices = (page_in_flight as usize)
        .min(page_unit.units.max(1.0) as usize)
        .max(1);
    // What every way spends before its first read: this plan's own requests (measured)
    // and the field catalogue.
    let setup = sample.plan_ms / 1000.0 + latency(0.0);
    // A far site's `ids` way starts after the probe, its units beside the sample.
    let ids_setup = match sample.probe_ms > 0.0 && !sample.near && count > 100 {
        true => (sample.probe_ms / 1000.0).max(latency(0.0)),
        false => setup,
    };
    // Slices side by side end with the slowest: the one holding an issue like the
    // sample's heaviest (a trait of one sampled issue in a hundred, likely in a window of
    // hundreds) comes back that many more bytes later. A stream of pages has every
    // issue's bytes on its one chain already.
    let likely = 1.0 - (1.0 - 1.0 / super::SAMPLE as f64).powf(n);
    let heaviest = sample.issue_sizes.last().map_or(0.0, |bytes| bytes * wire);
    let tail = likely * sample.ms_per_byte * (heaviest - sample.issue_bytes).max(0.0) / 1000.0;
    let remaining = sample.quota_remaining.or(sample.quota_points);
    let page_changelogs = page_unit.units * page_unit.changelog_pages;
    let page_paced = paced(page_unit.units.max(page_changelogs).max(comment_requests));
    // This client reads every byte on a few processors, and a near site renders them on
    // the same ones: the run takes at least the bytes' time spread over this machine's
    // (the client's share counted twice: the sink writes what it parsed). A far site's
    // share is on its own machines, but the client's stays: many units in flight share
    // its processors (for 100,000 issues 20 ms away the schedules alone said 11–17 s;
    // the runs took 40–48 s, jira-sim on the same two cores: docs/BENCHMARKS.md).
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let processed = {
        let site = match sample.near {
            true => sample.ms_per_byte,
            false => 0.0,
        };
        n * issue_bytes * (site + 2.0 * sample.client_ms_per_byte) / 1000.0 / cores
    };
    // What a way's units in flight hold, twice (the commit being gathered and the units
    // on their way to it hold the rest), as a budget between the floor and the cap.
    let cap = options.memory_budget.max(1);
    let budget = |units: f64, issues: f64| {
        let needed = (2.0 * units * issues * issue_bytes).ceil() as usize;
        needed.clamp(crate::MEMORY_BUDGET_FLOOR.min(cap), cap)
    };
    // After its last answer a run commits what its units left (a quarter of its budget
    // at most: a commit is due there), at twice the client's time a byte (the sample
    // times one parse and one writing out; a run's last commits take about twice that).
    // A stream of pages too: its sink writes in the commit loop beside the reads, not on
    // its chain (2,000 issues near: 0.36 s from the last answer to the end, its last two
    // commits). That commit's work is in the processors' bound too, spread over the
    // cores; it is counted there once, on one core after the read. Then, when the run
    // writes issues the sink holds (a query's later reads), the compaction scans every
    // file (about a quarter of the client's time a byte: 0.9 ns a byte, 380 MB in 0.35 s,
    // where the sample measured the client at 3.6 ns). A first read writes each issue
    // once and leaves the bulk of the files unread.
    let compaction = match configured.feed_beside {
        true => n * issue_bytes / 4.0 * sample.client_ms_per_byte / 1000.0,
        false => 0.0,
    };
    let last_commit = |budget: usize| {
        (n * issue_bytes).min(budget as f64 / 4.0) * 2.0 * sample.client_ms_per_byte / 1000.0
    };
    // The search ways list the window's ids before their pages, unless it is one page.
    let (listed_for_pages, listing_for_pages) = match n > 100.0 {
        true => ((id_pages - 1.0).max(0.0), listing_rest),
        false => (0.0, 0.0),
    };
    // Every way lists the window's ids (each a point, as an issue is) past the plan's
    // first page, and again when the listing is longer than a page (the slices are cut
    // from the first listing, and their pages read from it). So every way reads the same
    // objects, as jira-sim's tally shows (`cargo xtask bench`, scenario 13).
    let listed_ids = match count > 100 {
        true => (n - jira_model::SEARCH_ID_PAGE_MAX as f64).max(0.0),
        false => 0.0,
    } + match relisted > 0.0 {
        true => n,
        false => 0.0,
    };
    let estimate = |strategy: Strategy| {
        let memory_budget = match strategy {
            Strategy::Ids => budget(ids_concurrency as f64, unit_issues as f64),
            Strategy::Pages => budget(1.0, 100.0),
            Strategy::Slices => budget(slices as f64, 100.0),
        };
        let (requests, seconds) = match strategy {
            // Read early, it still ends no sooner than the plan that lands beside it (a
            // small window's units may all be back first).
            Strategy::Ids => (ids_requests, (ids_setup + ids_read).max(setup)),
            // A stream of pages: its first fetch, then a page's time for each of the
            // others (the next ones asked while one is completed), then the last one's
            // completion; past one search page, the listing first and, past one id page,
            // again last.
            Strategy::Pages => (
                page_unit.units
                    + page_changelogs
                    + comment_requests
                    + worklog_requests
                    + listed_for_pages
                    + relisted,
                setup
                    + listing_for_pages
                    + page_unit.fetch
                    + (page_unit.units - 1.0).max(0.0) * page_time
                    + after_page
                    + relisted * id_page,
            ),
            // The slices are cut from the listing (read whole first, the plan's first page
            // not asked again); then read side by side as pages are.
            Strategy::Slices => {
                let rounds = (page_unit.units / slices as f64).ceil();
                let read = (rounds - 1.0).max(0.0) * page_time;
                let listed = (id_pages - 1.0).max(0.0);
                (
                    page_unit.units
                        + page_changelogs
                        + comment_requests
                        + worklog_requests
                        + listed
                        + relisted,
                    setup
                        + listed * id_page
                        + relisted * id_page
                        + page_unit.fetch
                        + read.max(page_paced)
                        + after_page
                        + tail,
                )
            }
        };
        // A point a request and one an object it returns (`jira_model::points`): each
        // issue, history entry, comment past the embedded page, worklog of a list read
        // whole, and id listed.
        let points = requests
            + n
            + entries
            + comment_requests * COMMENT_PAGE
            + worklog_requests * sample.worklogs_per_list
            + listed_ids;
        Estimate {
            strategy,
            requests: requests as u64,
            points: points as u64,
            // The processors bound the read (but the last commit's share); the last
            // commit and the compaction come after it.
            seconds: seconds.max(setup + processed - last_commit(memory_budget) / cores)
                + last_commit(memory_budget)
                + compaction,
            fits_quota: remaining.is_none_or(|left| points as u64 <= left),
            memory_budget,
        }
    };
    let estimates: Vec<Estimate> = Strategy::ALL.into_iter().map(estimate).collect();
    let (chosen, reason) = choice::choose(
        &estimates,
        &choice::Context {
            count,
            rate,
            quota_points: sample.quota_points,
        },
    );
    let exhausts_quota = estimates
        .iter()
        .find(|e| e.strategy == chosen)
        .is_some_and(|e| !e.fits_quota);
    SyncPlan {
        jql,
        count,
        sample,
        estimates,
        chosen,
        slices,
        unit_issues,
        concurrency: ids_concurrency,
        reason,
        exhausts_quota,
        requests_spent,
        first_ids: None,
    }
}

/// How a way's units go out.
struct Dispatch {
    /// Units in the window.
    units: usize,
    /// Issues a unit holds.
    issues: usize,
    /// Units in flight at most.
    in_flight: usize,
    /// Requests a unit sends to the busiest endpoint.
    requests: f64,
    /// That endpoint's burst rate, a second (its bucket holds a second's worth).
    rate: f64,
}

impl Dispatch {
    /// When the last unit is back, in seconds from the first one's going: each goes when
    /// the busiest endpoint's bucket (a second's worth at once, then `rate` a second)
    /// and the units in flight (past them, as one comes back) let it, and is back
    /// `chain(bytes)` later, its bytes those of `issues` drawn from the sample's `sizes`
    /// (with replacement, repeatably: seeded by the window), `mean` without a sample.
    fn last_back(&self, sizes: &[f64], mean: f64, chain: impl Fn(f64) -> f64) -> f64 {
        use std::cmp::Reverse;
        let mut draw = super::Draw::seeded(self.units as u64);
        // When each unit in flight is back, in microseconds.
        let mut back: std::collections::BinaryHeap<Reverse<u64>> =
            std::collections::BinaryHeap::with_capacity(self.in_flight.max(1));
        let mut last = 0.0f64;
        for unit in 0..self.units {
            let paced = ((unit + 1) as f64 * self.requests - self.rate).max(0.0) / self.rate;
            let free = match back.len() >= self.in_flight.max(1) {
                true => back.pop().map_or(0.0, |Reverse(us)| us as f64 / 1e6),
                false => 0.0,
            };
            let bytes = match sizes.is_empty() {
                true => mean,
                false => (0..self.issues)
                    .map(|_| sizes[draw.below(sizes.len())])
                    .sum(),
            };
            let end = paced.max(free) + chain(bytes);
            back.push(Reverse((end * 1e6) as u64));
            last = last.max(end);
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sample {
        Sample {
            base_ms: 150.0,
            id_page_ms: 350.0,
            plan_ms: 900.0,
            probe_ms: 0.0,
            ms_per_byte: 2.5 / 1024.0,
            issue_bytes: 7_000.0,
            issue_sizes: Vec::new(),
            history_per_issue: 13.0,
            entry_bytes: 400.0,
            comment_pages_per_issue: 0.04,
            long_threads: 0.02,
            comment_bytes: 900.0,
            post_rate: 100.0,
            quota_points: None,
            quota_remaining: None,
            near: false,
            client_ms_per_byte: 0.0,
            long_worklogs: 0.0,
            worklogs_per_list: 0.0,
            worklog_bytes: 0.0,
        }
    }

    fn configured(concurrency: usize) -> Configured {
        Configured {
            concurrency,
            unit_issues: 100,
            requests_in_flight: 128,
            feed_beside: true,
        }
    }

    #[test]
    fn a_memory_bound_read_takes_smaller_units() {
        let options = SyncOptions::new("project = A");
        // Heavy issues at Jira Cloud's latency (no long threads): a unit of 100 takes
        // ~4 s, and the slots hold 48 units (each with its changelog page on the wire):
        // units of 25 take a quarter of the latency with as many in flight.
        let heavy = Sample {
            issue_bytes: 15_000.0,
            history_per_issue: 10.0,
            comment_pages_per_issue: 0.0,
            long_threads: 0.0,
            ..sample()
        };
        let plan = choose("q".into(), 10_000, heavy, &options, configured(16), 7);
        assert!(plan.unit_issues < 100, "{plan:?}");
        assert!(
            plan.concurrency > 16,
            "Little's law asks for more: {plan:?}"
        );
        // A configured batch size is the largest a unit may be.
        let small = Configured {
            unit_issues: 10,
            ..configured(16)
        };
        let plan = choose("q".into(), 10_000, sample(), &options, small, 7);
        assert_eq!(plan.unit_issues, 10, "{plan:?}");
        // Light issues with a fast site: the burst rate bounds, not memory: 100 a unit.
        let light = Sample {
            base_ms: 5.0,
            ms_per_byte: 0.01 / 1024.0,
            issue_bytes: 2_000.0,
            history_per_issue: 2.0,
            ..sample()
        };
        let plan = choose("q".into(), 10_000, light, &options, configured(16), 7);
        assert_eq!(plan.unit_issues, 100, "{plan:?}");
    }

    #[test]
    fn the_memory_budget_is_what_the_units_in_flight_need_within_the_cap() {
        let options = SyncOptions::new("project = A");
        let budget = |plan: &SyncPlan| plan.estimate(plan.chosen).unwrap().memory_budget;
        // A near site: a few units in flight need little, the run takes the floor.
        let near = Sample {
            base_ms: 1.0,
            ms_per_byte: 0.0,
            ..sample()
        };
        let plan = choose(
            "q".into(),
            10_000,
            near.clone(),
            &options,
            configured(10),
            3,
        );
        assert_eq!(budget(&plan), crate::MEMORY_BUDGET_FLOOR, "{plan:?}");
        // Jira Cloud's latency: the burst rate keeps more in flight, up to the cap.
        let plan = choose("q".into(), 10_000, sample(), &options, configured(10), 3);
        assert!(
            budget(&plan) > crate::MEMORY_BUDGET_FLOOR && budget(&plan) <= crate::MEMORY_BUDGET,
            "{plan:?}"
        );
        // A configured budget below the floor is the budget.
        let small = SyncOptions {
            memory_budget: 64 << 20,
            ..options
        };
        let plan = choose("q".into(), 10_000, near, &small, configured(10), 3);
        assert_eq!(budget(&plan), 64 << 20, "{plan:?}");
    }

    #[test]
    fn burst_limits_choose_wall_time_and_a_quota_points() {
        let options = SyncOptions {
            memory_budget: 256 << 20,
            ..SyncOptions::new("project = A")
        };
        let plan = choose("q".into(), 100_000, sample(), &options, configured(16), 3);
        let ids = plan.estimate(Strategy::Ids).unwrap();
        let pages = plan.estimate(Strategy::Pages).unwrap();
        let slices = plan.estimate(Strategy::Slices).unwrap();
        // Every way lists the ids (twice: the listing is longer than a page) and reads
        // the same issues; the slices are cut from the first listing.
        let objects = |e: &Estimate| e.points as i64 - e.requests as i64;
        assert!((objects(pages) - objects(ids)).abs() <= 1, "{plan:?}");
        assert!((objects(slices) - objects(ids)).abs() <= 1, "{plan:?}");
        assert!(pages.seconds > 10.0 * slices.seconds, "pages go one by one");
        assert_ne!(plan.chosen, Strategy::Pages, "{}", plan.reason);
        assert!(plan.reason.contains("wall time"), "{}", plan.reason);
        assert!(!plan.exhausts_quota);
        // A unit takes ~2.2 s here: 100 requests a second need ~220 in flight. It has its
        // fetch (1.8 s) and its two changelog pages (1.6 s) on the wire side by side, then
        // its long threads (0.4 s: a thread's pages side by side): 1.72 slots on average.
        // 128 slots, a quarter kept for the worklog feed, hold 55 (three quarters of the
        // 256 MiB budget at ~1.6 MB a unit would hold 127).
        assert_eq!(plan.concurrency, 55, "{plan:?}");
        // A first read reads no feed beside it: all 128 slots, 74 units.
        let first = Configured {
            feed_beside: false,
            ..configured(16)
        };
        let plan = choose("q".into(), 100_000, sample(), &options, first, 3);
        assert_eq!(plan.concurrency, 74, "{plan:?}");
        // Three quarters of a 128 MiB budget hold 63 pages of 100 (~1.6 MB each): slices
        // take 63 (a page and the next one, or its changelog, take two of the 128 slots).
        let small = SyncOptions {
            memory_budget: 128 << 20,
            ..options.clone()
        };
        let plan = choose("q".into(), 100_000, sample(), &small, first, 3);
        assert_eq!(plan.slices, 63, "{plan:?}");
        let fast = Sample {
            base_ms: 1.0,
            ms_per_byte: 0.0,
            ..sample()
        };
        assert_eq!(
            choose("q".into(), 100_000, fast, &options, configured(10), 3).concurrency,
            10,
            "never below the configured concurrency"
        );

        let quota = Sample {
            quota_points: Some(65_000),
            quota_remaining: Some(60_000),
            ..sample()
        };
        let plan = choose("q".into(), 100_000, quota, &options, configured(16), 3);
        assert!(plan.reason.contains("fewest points"), "{}", plan.reason);
        assert!(
            plan.exhausts_quota,
            "over a million points do not fit in 60,000"
        );
        // Ids and pages cost the same points (slices 100,000 more, past the 5% tie), and
        // ids are far faster.
        assert_eq!(plan.chosen, Strategy::Ids, "{}", plan.reason);
        // A quota that holds every way: the fastest.
        let roomy = Sample {
            quota_points: Some(5_000_000),
            quota_remaining: Some(5_000_000),
            ..sample()
        };
        let plan = choose("q".into(), 100_000, roomy, &options, configured(16), 3);
        assert!(plan.reason.contains("least wall time"), "{}", plan.reason);
        assert_ne!(plan.chosen, Strategy::Pages, "{}", plan.reason);

        let small = choose("q".into(), 40, sample(), &options, configured(16), 3);
        assert_eq!(small.chosen, Strategy::Pages);
    }

    #[test]
    fn a_far_sites_read_is_bounded_by_this_clients_processors() {
        let options = SyncOptions::new("project = A");
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        // 100,000 issues of at least 12 KB with their histories, at Jira Cloud's latency,
        // that cost this client 60 ns a byte a processor: 146 s, parsed and written, that no
        // number of units in flight shortens.
        let busy = Sample {
            client_ms_per_byte: 60e-6 * cores,
            ..sample()
        };
        let bound = 100_000.0 * (7_000.0 + 13.0 * 400.0) * 2.0 * 60e-9;
        let plan = choose("q".into(), 100_000, busy, &options, configured(16), 3);
        for strategy in Strategy::ALL {
            let seconds = plan.estimate(strategy).unwrap().seconds;
            assert!(
                seconds >= bound,
                "{strategy:?}: {seconds} s under {bound} s"
            );
        }
        // The bound holds the side-by-side ways alike (`ids` and `slices`, the same
        // points within a request): the plan takes one of them, not the page stream.
        let (ids, slices) = (
            plan.estimate(Strategy::Ids).unwrap(),
            plan.estimate(Strategy::Slices).unwrap(),
        );
        assert!(
            (ids.seconds - slices.seconds).abs() < 0.01 * ids.seconds,
            "{:?}",
            plan.estimates
        );
        assert_ne!(
            plan.chosen,
            Strategy::Pages,
            "{}\n{:?}",
            plan.reason,
            plan.estimates
        );
        // Without the client's cost, the schedule alone is well under it.
        let idle = choose("q".into(), 100_000, sample(), &options, configured(16), 3);
        assert!(
            idle.estimate(Strategy::Ids).unwrap().seconds < bound / 2.0,
            "{idle:?}"
        );
    }

    #[test]
    fn units_go_at_the_burst_rate_and_the_heaviest_ends_the_read() {
        let dispatch = |units, in_flight| Dispatch {
            units,
            issues: 25,
            in_flight,
            requests: 1.0,
            rate: 100.0,
        };
        let chain = |bytes: f64| 0.1 + bytes / 1e6;
        // Without a sample, every unit the mean: 400 units past a bucket of 100 go over
        // 3 s, the last back a chain (1 s) after it.
        let even = dispatch(400, 1_000).last_back(&[], 900_000.0, chain);
        assert!((even - 4.0).abs() < 1e-3, "{even}");
        // Ten in flight: forty rounds of a chain.
        let rounds = dispatch(400, 10).last_back(&[], 900_000.0, chain);
        assert!((rounds - 40.0).abs() < 1e-3, "{rounds}");
        // One issue in a hundred far heavier: some unit draws it (or two) and ends the
        // read after the last one's going, the same each time.
        let mut sizes = vec![30_000.0; 99];
        sizes.push(600_000.0);
        let drawn = dispatch(400, 1_000).last_back(&sizes, 0.0, chain);
        let mean = sizes.iter().sum::<f64>() / 100.0 * 25.0;
        let at_mean = dispatch(400, 1_000).last_back(&[], mean, chain);
        assert!(drawn > at_mean + 0.3, "{drawn} against {at_mean}");
        assert_eq!(drawn, dispatch(400, 1_000).last_back(&sizes, 0.0, chain));
    }

    #[test]
    fn a_stream_of_pages_carries_the_clients_parse_not_the_sinks_writes() {
        let options = SyncOptions::new("project = A");
        // A near site whose answers cost this client 10 ns a byte and the site nothing:
        // 100 pages of 100 issues of 20 KB, no histories. The sink writes in the commit
        // loop, beside the reads, so a page's chain is its parse (20 ms), and the
        // processors' bound (both shares of 200 MB, over this machine's cores) is the
        // only one that counts both. The last commit comes after the read: a quarter of
        // the stream's budget (128 MiB) parsed and written out.
        let near = Sample {
            base_ms: 1.0,
            id_page_ms: 5.0,
            plan_ms: 20.0,
            ms_per_byte: 0.0,
            issue_bytes: 20_000.0,
            history_per_issue: 0.0,
            comment_pages_per_issue: 0.0,
            long_threads: 0.0,
            near: true,
            client_ms_per_byte: 10e-6,
            ..sample()
        };
        // A first read: no compaction after it.
        let first = Configured {
            feed_beside: false,
            ..configured(16)
        };
        let plan = choose("q".into(), 10_000, near, &options, first, 7);
        let pages = plan.estimate(Strategy::Pages).expect("pages").seconds;
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let chain: f64 = 100.0 * 0.020;
        let processors = 10_000.0 * 20_000.0 * 2.0 * 10e-9 / cores;
        let last_commit = (crate::MEMORY_BUDGET_FLOOR / 4) as f64 * 2.0 * 10e-9;
        let read = chain.max(processors - last_commit / cores) + last_commit;
        // Past the read: the plan's own time, the field catalogue, the listing's pages.
        assert!(
            pages >= read && pages < read + 0.2,
            "{pages} s against a chain of {chain} s, the processors' {processors} s and a last commit of {last_commit} s"
        );
    }
}

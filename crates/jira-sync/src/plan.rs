//! What a window will cost each way it can be read, measured on a small sample, and the
//! choice among them.
//!
//! Thirteen requests measure the tenant: the window's approximate count (its round trip
//! is the base latency), its first id-only page (that page's latency), 100 issues picked
//! at random over those ids (one in each hundredth, so a site's regular patterns do not
//! alias the sample) fetched with the fields in ten fetches side by side (one after the
//! other on a near site: bytes and latency per issue, comment threads longer than the
//! embedded page; a trait of one issue in fifty is in the sample about twice), and beside
//! them the histories of every fourth from the changelog bulk fetch (entries per issue,
//! bytes per entry). Latency is modelled as `base + per_byte × bytes`, the burst limits
//! are the ones the answers announce (`X-RateLimit-Limit`) or Atlassian's defaults, and
//! an hourly points quota counts when the answers announce one (`Beta-RateLimit-Policy`
//! with a one-hour window).
//!
//! Each way's wall is then its schedule: a unit takes its slowest chain of requests (the
//! fetch or page, the comment threads past the embedded page side by side, the changelog
//! pages one after the other); units in flight are what the concurrency, the memory
//! budget and the transport's slots allow (Little's law: throughput = units in flight ÷ a
//! unit's time), and no endpoint goes faster than its burst rate. The `ids` way also
//! chooses its unit size (100, 50 or 25 issues a bulk fetch): when memory or slots bound
//! what is in flight, smaller units have shorter latencies and more of them finish a
//! second. A near site is bounded by the processors that render and read its bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_batch::BatchConfig;
use jira_model::{
    ApiRequest, ApiResponse, BulkFetchRequest, BulkFetchResponse, ChangelogBulkPage,
    ChangelogBulkRequest, SearchPage, SearchRequest,
};
use jira_transport::Transport;
use serde::Serialize;

use crate::Error;
use crate::{Slice, Strategy, SyncOptions, Window};

/// Bytes of one issue in an id-only page (`{"id":"10001"},`).
const ID_BYTES: f64 = 16.0;
/// Issues a sample reads: enough that a trait of one issue in fifty (a thread of
/// hundreds of comments, and its bytes) is in it about twice.
const SAMPLE: usize = 100;
/// Issues a sample fetch asks for (small, so the sample costs one small fetch's latency).
const SAMPLE_FETCH: usize = 10;
/// A site whose small answers take less than this (ms) is near: on this machine or its
/// network, bounded by processors rather than by latency.
const NEAR_MS: f64 = 20.0;
/// Comments a page of `GET /issue/{id}/comment` holds.
const COMMENT_PAGE: f64 = 100.0;
/// Points within this share of the fewest are a tie: the faster way is taken.
const POINTS_TIE: f64 = 0.05;
/// The most units of 100 issues a sync keeps in flight (unless configured higher).
pub const MAX_CONCURRENCY: usize = 128;
/// Issues a unit of the `ids` way may fetch at once, largest first: smaller units are
/// faster when the memory budget, not the burst rate, bounds what is in flight (a unit
/// holds its share for its whole latency, and latency grows with the bytes).
const UNIT_SIZES: [usize; 3] = [100, 50, 25];

/// What the sample measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// The round trip of a small answer, in ms.
    pub base_ms: f64,
    /// The round trip of the window's first id-only page, in ms.
    pub id_page_ms: f64,
    /// What the plan's own requests took, in ms (a run spends it before its first read).
    pub plan_ms: f64,
    /// Extra latency per byte of an answer, in ms.
    pub ms_per_byte: f64,
    /// Bytes of one issue with the fields.
    pub issue_bytes: f64,
    /// History entries per issue.
    pub history_per_issue: f64,
    /// Bytes of one history entry.
    pub entry_bytes: f64,
    /// Comment pages an issue needs past its embedded one.
    pub comment_pages_per_issue: f64,
    /// The share of issues that need them (threads longer than the embedded page).
    pub long_threads: f64,
    /// Bytes of one comment.
    pub comment_bytes: f64,
    /// What this client spends on a byte of an answer (parsing it, writing it out again
    /// as a sink's text), in ms.
    pub client_ms_per_byte: f64,
    /// Whether the site is near (a small answer within 20 ms): its answers are then
    /// bounded by the processors that render and read them (this machine's, at most),
    /// not by latency.
    pub near: bool,
    /// Search, bulk fetch and changelog requests a second (the burst limits).
    pub post_rate: f64,
    /// The hourly points quota the site announced, if any.
    pub quota_points: Option<u64>,
    /// Points left of it, when the site said.
    pub quota_remaining: Option<u64>,
}

/// One strategy's cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// The strategy.
    pub strategy: Strategy,
    /// Requests it sends.
    pub requests: u64,
    /// Points they cost.
    pub points: u64,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// Whether its points fit in what is left of the hourly quota (always, without one).
    pub fits_quota: bool,
}

/// The cost of a window each way, and the choice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncPlan {
    /// The window's search.
    pub jql: String,
    /// Its approximate number of issues.
    pub count: u64,
    /// What the sample measured.
    pub sample: Sample,
    /// Every strategy's cost.
    pub estimates: Vec<Estimate>,
    /// The fastest that fits what is left of the hourly quota (when none fits: the fewest
    /// points, ties within 5% going to the faster).
    pub chosen: Strategy,
    /// Slices `slices` would use.
    pub slices: usize,
    /// Issues a unit of the `ids` way fetches at once.
    pub unit_issues: usize,
    /// Units of the `ids` way (bulk fetches with their histories) to keep in flight: what
    /// the burst rate times a unit's measured latency needs, between the configured
    /// concurrency and [`crate::MAX_CONCURRENCY`] (the memory budget may hold fewer).
    pub concurrency: usize,
    /// Why it was chosen.
    pub reason: String,
    /// Whether the run will use up the hourly quota (it then waits for the reset).
    pub exhausts_quota: bool,
    /// Requests the sample sent.
    pub requests_spent: usize,
}

impl SyncPlan {
    /// The estimate of `strategy`.
    pub fn estimate(&self, strategy: Strategy) -> Option<&Estimate> {
        self.estimates.iter().find(|e| e.strategy == strategy)
    }
}

fn json<T: serde::de::DeserializeOwned>(response: ApiResponse, what: &str) -> Result<T, Error> {
    if !response.is_success() {
        return Err(Error::Sync(format!(
            "sync: {what} answered HTTP {}: {}",
            response.status.as_u16(),
            String::from_utf8_lossy(&response.body)
                .chars()
                .take(300)
                .collect::<String>()
        )));
    }
    Ok(response.json()?)
}

/// Measures the window (thirteen requests) and estimates every strategy.
pub(crate) async fn estimate<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    in_flight: usize,
    options: &SyncOptions,
    window: &Window,
) -> Result<SyncPlan, Error> {
    let jql = window.jql(&options.jql, &window.slices[0]);
    let unordered = jql.trim_end_matches(" ORDER BY id ASC").to_owned();
    let started_plan = Instant::now();
    let started = Instant::now();
    let response = transport
        .send(ApiRequest::approximate_count(&unordered)?)
        .await?;
    let base = started.elapsed();
    let mut infos = vec![response.rate_limit_info()];
    if response.status.as_u16() == 400 {
        return Err(Error::from(jira_batch::invalid_jql(
            &options.jql,
            &response,
        )));
    }
    let count: serde_json::Value = json(response, "the approximate count")?;
    let count = count
        .get("count")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let mut requests_spent = 1;
    let mut sample = Sample {
        base_ms: base.as_secs_f64() * 1000.0,
        post_rate: jira_client::BurstLimits::default().post,
        ..Sample::default()
    };
    // A window of one page is read as one page: nothing to measure.
    if count > 100 {
        // The window's ids (one id-only page: what the `ids` way reads first), then
        // SAMPLE issues spread evenly over them: a page of the first ten would take a
        // neighbourhood for the whole (one long thread in it, and every issue looks
        // heavy).
        let request = ApiRequest::search(&SearchRequest {
            jql: jql.clone(),
            max_results: Some(jira_model::SEARCH_ID_PAGE_MAX),
            ..SearchRequest::default()
        })?;
        let started = Instant::now();
        let response = transport.send(request).await?;
        sample.id_page_ms = started.elapsed().as_secs_f64() * 1000.0;
        requests_spent += 1;
        infos.push(response.rate_limit_info());
        let page: SearchPage = json(response, "the id search")?;
        let ids: Vec<String> = page.issues.into_iter().map(|issue| issue.id).collect();
        let picked = spread(&ids, SAMPLE, count);
        // In small fetches side by side: the sample costs one small fetch's latency, and
        // its histories (every fourth picked issue) go beside them.
        let fetches = picked.chunks(SAMPLE_FETCH).map(|chunk| {
            let request = ApiRequest::bulk_fetch(&BulkFetchRequest {
                issue_ids_or_keys: chunk.to_vec(),
                fields: options.read_fields(false),
                expand: Vec::new(),
            });
            async move {
                let started = Instant::now();
                let response = transport.send(request?).await?;
                Ok::<_, Error>((response, started.elapsed()))
            }
        });
        let logged: Vec<String> = picked.iter().step_by(4).cloned().collect();
        let changelog = async {
            if !options.changelogs || logged.is_empty() {
                return Ok::<_, Error>(None);
            }
            let body = ChangelogBulkRequest {
                issue_ids_or_keys: logged.clone(),
                max_results: Some(jira_model::CHANGELOG_BULK_MAX_RESULTS),
                ..ChangelogBulkRequest::default()
            };
            Ok(Some(
                transport.send(ApiRequest::changelog_bulk(&body)?).await?,
            ))
        };
        // A near site is measured one fetch after the other: side by side, the fetches
        // would share its processors and the slope would read their contention, not its
        // latency (the estimate then bounds the run by those processors instead).
        sample.near = sample.base_ms < NEAR_MS;
        let (fetched, changelog) = if sample.near {
            let mut fetched = Vec::new();
            for fetch in fetches {
                fetched.push(fetch.await?);
            }
            (Ok(fetched), changelog.await)
        } else {
            tokio::join!(futures_util::future::try_join_all(fetches), changelog)
        };
        let (mut bytes, mut slope_ms, mut issues) = (0.0, 0.0, Vec::new());
        // The least a byte took over the fetches: the first parses of a run pay for
        // warming the allocator, which a run of thousands of answers does not.
        let mut processing = f64::INFINITY;
        // A near site's time a byte, the least over the fetches (its small answers take
        // about as long as the connection's own round trip, so no base is subtracted).
        let mut near_slope = f64::INFINITY;
        for (response, elapsed) in fetched? {
            requests_spent += 1;
            infos.push(response.rate_limit_info());
            bytes += response.body.len() as f64;
            slope_ms += elapsed.saturating_sub(base).as_secs_f64() * 1000.0;
            near_slope =
                near_slope.min(elapsed.as_secs_f64() * 1000.0 / response.body.len().max(1) as f64);
            // What the run does with each answer: parse it, and write each issue out
            // again as the text a sink keeps.
            let started = Instant::now();
            let length = response.body.len().max(1) as f64;
            let page: BulkFetchResponse = json(response, "the sample fetch")?;
            for issue in &page.issues {
                std::hint::black_box(crate::record::raw(issue)?);
            }
            processing = processing.min(started.elapsed().as_secs_f64() * 1000.0 / length);
            issues.extend(page.issues);
        }
        let n = issues.len().max(1) as f64;
        sample.issue_bytes = bytes / n;
        sample.client_ms_per_byte = if processing.is_finite() {
            processing
        } else {
            0.0
        };
        sample.ms_per_byte = match sample.near {
            true if near_slope.is_finite() => near_slope,
            _ => (slope_ms / bytes.max(1.0)).max(0.0),
        };
        let threads = threads(&issues);
        sample.comment_pages_per_issue = threads.pages / n;
        sample.long_threads = threads.long / n;
        sample.comment_bytes = threads.comment_bytes;
        if let Some(response) = changelog? {
            requests_spent += 1;
            infos.push(response.rate_limit_info());
            let bytes = response.body.len() as f64;
            let logs: ChangelogBulkPage = json(response, "the sample changelog")?;
            let entries: usize = logs
                .issue_change_logs
                .iter()
                .map(|l| l.change_histories.len())
                .sum();
            sample.history_per_issue = entries as f64 / logged.len() as f64;
            sample.entry_bytes = bytes / entries.max(1) as f64;
        }
    }
    sample.plan_ms = started_plan.elapsed().as_secs_f64() * 1000.0;
    for info in &infos {
        if let Some(limit) = info.window.limit.filter(|l| *l > 0) {
            sample.post_rate = limit as f64;
        }
        for policy in &info.policies {
            if policy
                .window
                .is_some_and(|w| w >= Duration::from_secs(3600))
            {
                sample.quota_points = policy.quota;
                sample.quota_remaining = info
                    .states
                    .iter()
                    .find(|s| s.name == policy.name)
                    .and_then(|s| s.remaining)
                    .or(sample.quota_remaining);
            }
        }
    }
    Ok(choose(
        jql,
        count,
        sample,
        options,
        Configured {
            concurrency: batch.max_concurrent.max(1),
            unit_issues: batch.fetch_chunk,
            requests_in_flight: in_flight,
        },
        requests_spent,
    ))
}

/// `n` of `ids`, one at random in each `n`th of them: a stride would alias a site whose
/// issues repeat a pattern (every 50th with a long thread) and take all or none of it.
/// The draw is seeded by the window's count, so a plan is repeatable.
fn spread(ids: &[String], n: usize, seed: u64) -> Vec<String> {
    if ids.len() <= n {
        return ids.to_vec();
    }
    let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64: a few lines of a well-known generator, not a dependency.
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|k| {
            let from = k * ids.len() / n;
            let to = ((k + 1) * ids.len() / n).max(from + 1);
            ids[from + (next() % (to - from) as u64) as usize].clone()
        })
        .collect()
}

/// What the sampled issues' comment fields say of their threads.
struct Threads {
    /// Pages of `GET /issue/{id}/comment` past the embedded page, in all.
    pages: f64,
    /// Issues that need them.
    long: f64,
    /// Bytes of one embedded comment.
    comment_bytes: f64,
}

fn threads(issues: &[jira_model::Issue]) -> Threads {
    let (mut pages, mut long, mut bytes, mut comments) = (0.0, 0.0, 0usize, 0usize);
    for issue in issues {
        let Some(field) = issue.fields.get("comment") else {
            continue;
        };
        let embedded = field
            .get("comments")
            .and_then(serde_json::Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        comments += embedded.len();
        bytes += embedded.iter().map(|c| c.to_string().len()).sum::<usize>();
        let start_at = field.get("startAt").and_then(serde_json::Value::as_u64);
        let total = field
            .get("total")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(embedded.len() as u64);
        // The reader takes the embedded page only when it starts the thread (see
        // `read::complete`), then pages on from its length.
        let left = match start_at {
            Some(0) | None => total.saturating_sub(embedded.len() as u64),
            Some(_) => total,
        };
        if left > 0 {
            long += 1.0;
            pages += (left as f64 / COMMENT_PAGE).ceil();
        }
    }
    Threads {
        pages,
        long,
        comment_bytes: if comments == 0 {
            0.0
        } else {
            bytes as f64 / comments as f64
        },
    }
}

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
    /// Its long comment threads (side by side), in seconds.
    thread: f64,
    /// What this client spends on its bytes (parsing them, the sink writing them), in
    /// seconds.
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
    // The bytes an issue holds in a unit until it is committed.
    let issue_bytes = sample.issue_bytes
        + history * sample.entry_bytes
        + sample.comment_pages_per_issue * COMMENT_PAGE * sample.comment_bytes;
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
        // the pages a long thread takes one after the other.
        let thread = if comments {
            let pages_per_thread = sample.comment_pages_per_issue / sample.long_threads;
            let some = 1.0 - (1.0 - sample.long_threads.min(1.0)).powf(u);
            some * pages_per_thread * latency(COMMENT_PAGE * sample.comment_bytes)
        } else {
            0.0
        };
        // Each unit holds its share of the memory budget until it is committed: the
        // budget bounds the units in flight as well as the concurrency does. About half
        // of it is theirs: the rest holds the commit being gathered (up to a quarter)
        // and the units on their way to it.
        let by_memory = (options.memory_budget as f64 / 2.0 / (u * issue_bytes).max(1.0))
            .floor()
            .max(1.0);
        UnitCost {
            units: (n / u).ceil(),
            fetch: latency(u * sample.issue_bytes),
            changelog,
            changelog_pages: pages,
            thread,
            process: u * issue_bytes * 2.0 * sample.client_ms_per_byte / 1000.0,
            by_memory,
        }
    };
    let page_unit = unit(100.0);
    // The time `requests` to one endpoint take at its burst rate: its bucket holds a
    // second of them (Atlassian's and jira-sim's burst buckets), the rest go at the rate.
    let paced = |requests: f64| (requests - rate).max(0.0) / rate;
    // A unit has its fetch (or page) and its changelog pages on the wire at once: the
    // transport's slots hold half as many units. A quarter of the slots stays free for
    // the worklog feed read beside the window (its pages follow one another: queued
    // behind the units, each would wait a unit's latency).
    let slots = match options.worklogs {
        true => configured.requests_in_flight * 3 / 4,
        false => configured.requests_in_flight,
    };
    let by_slots = match options.changelogs {
        true => slots / 2,
        false => slots,
    }
    .max(1) as f64;
    // Little's law: to keep each endpoint at its burst rate, `rate × latency` units must be
    // in flight; never fewer than configured, never more than the cap, the memory budget
    // or the slots hold. The units in flight, and how many that is.
    let in_flight_for = |cost: &UnitCost, latency: f64| {
        let wanted = ((rate * latency).ceil() as usize)
            .clamp(concurrency.max(1), MAX_CONCURRENCY.max(concurrency));
        let held = (wanted as f64).min(cost.by_memory).min(by_slots);
        (held as usize, held)
    };
    // The `ids` way at each unit size it may use: the fastest (a smaller one only when it
    // gains more than the points tie: it costs a request a unit).
    let id_pages = (n / 5000.0).ceil();
    let id_page = match sample.id_page_ms {
        0.0 => latency(5000.0 * ID_BYTES),
        ms => ms / 1000.0,
    };
    let ids_at = |u: usize| {
        let cost = unit(u as f64);
        // A unit's histories are read beside its bulk fetch (the ids are known); its long
        // threads once the fetch has said which they are.
        let time = cost.fetch.max(cost.changelog) + cost.thread + cost.process;
        let (wanted, in_flight) = in_flight_for(&cost, time);
        let changelog_requests = cost.units * cost.changelog_pages;
        let paced = paced(cost.units.max(changelog_requests).max(comment_requests));
        let read = ((cost.units / in_flight).ceil() * time)
            .max(paced + time)
            .max(id_pages * id_page);
        let requests = id_pages + cost.units + changelog_requests + comment_requests;
        (u, wanted, read + id_page, requests)
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
    let page_time = page_unit.fetch.max(after_page);
    let (_, page_in_flight) = in_flight_for(&page_unit, page_time);
    // A slice a unit in flight at most: each streams its pages one after the other, so
    // more slices are fewer rounds of a page's latency.
    let slices = (page_in_flight as usize)
        .min(page_unit.units.max(1.0) as usize)
        .max(1);
    // What every way spends before its first read: this plan's own requests (measured)
    // and the field catalogue.
    let setup = sample.plan_ms / 1000.0 + latency(0.0);
    let remaining = sample.quota_remaining.or(sample.quota_points);
    let page_changelogs = page_unit.units * page_unit.changelog_pages;
    let page_paced = paced(page_unit.units.max(page_changelogs).max(comment_requests));
    // A near site renders and this client reads every byte on a few processors: the run
    // takes at least the bytes' time spread over this machine's (the client's share
    // counted twice: the sink writes what it parsed).
    let processed = match sample.near {
        true => {
            let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
            n * issue_bytes * (sample.ms_per_byte + 2.0 * sample.client_ms_per_byte)
                / 1000.0
                / cores
        }
        false => 0.0,
    };
    let estimate = |strategy: Strategy| {
        let (requests, seconds) = match strategy {
            Strategy::Ids => (ids_requests, setup + ids_read),
            Strategy::Pages => (
                page_unit.units + page_changelogs + comment_requests,
                setup + page_unit.fetch + page_unit.units * page_time + after_page,
            ),
            Strategy::Slices => {
                let read = (page_unit.units / slices as f64).ceil() * page_time;
                (
                    page_unit.units + page_changelogs + comment_requests + 2.0,
                    setup
                        + 2.0 * latency(0.0)
                        + page_unit.fetch
                        + read.max(page_paced)
                        + after_page,
                )
            }
        };
        // A point a request and one an object it returns (`jira_model::points`): each
        // issue, history entry and comment past the embedded page; the `ids` way reads
        // each issue twice (its id, then the issue).
        let points = requests
            + n
            + entries
            + comment_requests * COMMENT_PAGE
            + match strategy {
                Strategy::Ids => n,
                _ => 0.0,
            };
        Estimate {
            strategy,
            requests: requests as u64,
            points: points as u64,
            seconds: seconds.max(setup + processed),
            fits_quota: remaining.is_none_or(|left| points as u64 <= left),
        }
    };
    let estimates: Vec<Estimate> = Strategy::ALL.into_iter().map(estimate).collect();
    let by_wall = |a: &&Estimate, b: &&Estimate| {
        a.seconds
            .total_cmp(&b.seconds)
            .then(a.requests.cmp(&b.requests))
    };
    let fitting: Vec<&Estimate> = estimates.iter().filter(|e| e.fits_quota).collect();
    let (chosen, reason) = if count <= 100 {
        (
            Strategy::Pages,
            format!("pages: {count} issues fit in one search page"),
        )
    } else if let Some(best) = fitting.iter().copied().min_by(by_wall) {
        let quota = match sample.quota_points {
            Some(quota) => format!(" and within the hourly quota of {quota} points"),
            None => String::new(),
        };
        (
            best.strategy,
            format!(
                "{}: least wall time ({:.1} s) under the burst limits ({rate:.0} requests a second an endpoint){quota}",
                best.strategy.name(),
                best.seconds
            ),
        )
    } else {
        // None fits what is left of the quota: the run pauses at it whichever way it
        // goes, so the fewest points (within a few percent: a tie, the fastest of those).
        let least = estimates.iter().map(|e| e.points).min().unwrap_or(0);
        let tie = (least as f64 * (1.0 + POINTS_TIE)).ceil() as u64;
        let best = estimates
            .iter()
            .filter(|e| e.points <= tie)
            .min_by(by_wall)
            .expect("three estimates");
        (
            best.strategy,
            format!(
                "{}: no way fits the hourly quota left; fewest points ({}, within {:.0}% of the least) and of those the least wall time ({:.1} s)",
                best.strategy.name(),
                best.points,
                POINTS_TIE * 100.0,
                best.seconds
            ),
        )
    };
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
    }
}

/// The first and last id in the window (two id-only searches), or `None` when it is empty.
pub(crate) async fn id_bounds<T: Transport + 'static>(
    transport: &Arc<T>,
    window: &Window,
    query: &str,
) -> Result<Option<(u64, u64)>, Error> {
    let whole = Slice {
        after_id: 0,
        last_id: None,
        done: false,
    };
    let ascending = window.jql(query, &whole);
    let descending = ascending.replace(" ORDER BY id ASC", " ORDER BY id DESC");
    let mut ends = Vec::with_capacity(2);
    for jql in [ascending, descending] {
        let request = ApiRequest::search(&SearchRequest {
            jql,
            max_results: Some(1),
            ..SearchRequest::default()
        })?;
        let page: SearchPage = json(transport.send(request).await?, "the id search")?;
        match page.issues.first().and_then(|i| i.id.parse::<u64>().ok()) {
            Some(id) => ends.push(id),
            None => return Ok(None),
        }
    }
    Ok(Some((ends[0].min(ends[1]), ends[0].max(ends[1]))))
}

/// `[first, last]` cut into `n` id ranges of equal width (the last one open-ended).
pub(crate) fn cut(first: u64, last: u64, n: usize) -> Vec<Slice> {
    let n = n.max(1) as u64;
    let width = (last - first + 1).div_ceil(n).max(1);
    let mut slices = Vec::new();
    let mut after = first - 1;
    while after < last {
        let end = (after + width).min(last);
        slices.push(Slice {
            after_id: after,
            last_id: Some(end),
            done: false,
        });
        after = end;
    }
    if let Some(slice) = slices.last_mut() {
        slice.last_id = None;
    }
    slices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sample {
        Sample {
            base_ms: 150.0,
            id_page_ms: 350.0,
            plan_ms: 900.0,
            ms_per_byte: 2.5 / 1024.0,
            issue_bytes: 7_000.0,
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
        }
    }

    fn configured(concurrency: usize) -> Configured {
        Configured {
            concurrency,
            unit_issues: 100,
            requests_in_flight: 128,
        }
    }

    #[test]
    fn a_sample_takes_one_issue_in_each_stratum_and_never_a_stride() {
        let ids: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
        let picked = spread(&ids, 100, 7);
        assert_eq!(picked.len(), 100);
        for (k, id) in picked.iter().enumerate() {
            let id: usize = id.parse().unwrap();
            assert!((k * 50..(k + 1) * 50).contains(&id), "{k}: {id}");
        }
        // A stride of 50 would give every pick the same residue: a site whose every
        // 50th issue has a long thread would be sampled all or nothing.
        let residues: std::collections::HashSet<usize> = picked
            .iter()
            .map(|id| id.parse::<usize>().unwrap() % 50)
            .collect();
        assert!(residues.len() > 20, "{residues:?}");
        assert_eq!(spread(&ids, 100, 7), picked, "seeded: a plan is repeatable");
        assert_eq!(spread(&ids[..30], 100, 7).len(), 30);
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
    fn slices_cover_the_range_once() {
        let slices = cut(10_001, 10_950, 4);
        assert_eq!(slices.len(), 4);
        assert_eq!(slices[0].after_id, 10_000);
        for pair in slices.windows(2) {
            assert_eq!(pair[0].last_id, Some(pair[1].after_id));
        }
        assert_eq!(slices[3].last_id, None);
        assert_eq!(cut(5, 5, 8).len(), 1);
    }

    #[test]
    fn burst_limits_choose_wall_time_and_a_quota_points() {
        let options = SyncOptions::new("project = A");
        let plan = choose("q".into(), 100_000, sample(), &options, configured(16), 3);
        let ids = plan.estimate(Strategy::Ids).unwrap();
        let pages = plan.estimate(Strategy::Pages).unwrap();
        let slices = plan.estimate(Strategy::Slices).unwrap();
        assert!(ids.points > slices.points, "ids pay for the id pages");
        assert!(pages.seconds > 10.0 * slices.seconds, "pages go one by one");
        assert_ne!(plan.chosen, Strategy::Pages, "{}", plan.reason);
        assert!(plan.reason.contains("wall time"), "{}", plan.reason);
        assert!(!plan.exhausts_quota);
        // A unit takes ~2 s here: 100 requests a second need ~200 in flight; 128 slots,
        // a quarter kept for the worklog feed, two requests a unit, hold 48; half the
        // 128 MiB budget at ~1.6 MB a unit holds 42.
        assert_eq!(plan.concurrency, 42, "{plan:?}");
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
        assert_ne!(plan.chosen, Strategy::Ids, "{}", plan.reason);
        assert!(plan.reason.contains("fewest points"), "{}", plan.reason);
        assert!(plan.exhausts_quota, "1.4 M points do not fit in 60,000");
        // Points within 5% are a tie: pages and slices cost about the same, slices are
        // far faster.
        assert_eq!(plan.chosen, Strategy::Slices, "{}", plan.reason);
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
}

//! What a window will cost each way it can be read, measured on a small sample, and the
//! choice among them.
//!
//! Sixteen requests measure the tenant: the window's approximate count (its round trip
//! is the base latency), its first id-only page (that page's latency), 100 issues picked
//! at random over those ids (one in each hundredth, so a site's regular patterns do not
//! alias the sample) fetched with the fields in ten fetches side by side (one after the
//! other on a near site: bytes and latency per issue, comment threads longer than the
//! embedded page; a trait of one issue in fifty is in the sample about twice), and beside
//! them their histories from the changelog bulk fetch, 25 issues a request (entries per
//! issue, bytes per entry). Latency is modelled as `base + per_byte × bytes`, the burst limits
//! are the ones the answers announce (`X-RateLimit-Limit`) or Atlassian's defaults, and
//! an hourly points quota counts when the answers announce one (`Beta-RateLimit-Policy`
//! with a one-hour window). A site without the approximate count (404 or 405) has the
//! window counted from its id-only listing instead, a request per 5,000 ids.
//!
//! Each way's wall is then its schedule (`schedule.rs`): a unit takes its slowest chain
//! of requests (the fetch or page, the comment threads past the embedded page side by
//! side, the changelog pages one after the other); units in flight are what the
//! concurrency, the memory budget and the transport's slots allow (Little's law:
//! throughput = units in flight ÷ a unit's time), and no endpoint goes faster than its
//! burst rate. The `ids` way also chooses its unit size (100, 50 or 25 issues a bulk
//! fetch): when memory or slots bound what is in flight, smaller units have shorter
//! latencies and more of them finish a second. Every read is bounded by this machine's
//! processors, which parse and write its bytes (a near site's render them too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_batch::{BatchConfig, QueryIds};
use jira_model::{
    ApiRequest, ApiResponse, BulkFetchRequest, BulkFetchResponse, SearchPage, SearchRequest,
};
use jira_transport::Transport;
use serde::Serialize;

use crate::Error;
use crate::{Slice, Strategy, SyncOptions, Window};

mod choice;
mod histories;
mod schedule;

pub use schedule::MAX_CONCURRENCY;
pub(crate) use schedule::{Configured, SMALLEST_UNIT, choose};

/// Issues a sample reads: enough that a trait of one issue in fifty (a thread of
/// hundreds of comments, and its bytes) is in it about twice.
const SAMPLE: usize = 100;
/// Issues a sample fetch asks for (small, so the sample costs one small fetch's latency).
const SAMPLE_FETCH: usize = 10;
/// A site whose small answers take less than this (ms) is near: on this machine or its
/// network, bounded by processors rather than by latency.
const NEAR_MS: f64 = 20.0;
/// Comments a page of `GET /issue/{id}/comment` holds (the read's page).
const COMMENT_PAGE: f64 = crate::read::COMMENT_PAGE as f64;

/// What the sample measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// The round trip of a small answer, in ms: the least the plan's answers took (the
    /// count, the first id page, the sample's fetches), since a run's first answers also
    /// pay for their connections and a server's cold caches.
    pub base_ms: f64,
    /// The round trip of the window's first id-only page, in ms.
    pub id_page_ms: f64,
    /// What the plan's own requests took, in ms (a run spends it before its first read).
    pub plan_ms: f64,
    /// What the count and the first id page took, in ms: a far site's `ids` way reads
    /// from then on, beside the rest of the plan.
    pub probe_ms: f64,
    /// Extra latency per byte of an answer, in ms.
    pub ms_per_byte: f64,
    /// Bytes of one issue with the fields.
    pub issue_bytes: f64,
    /// Bytes of each issue the sample read, as the bulk fetch returned it, least first:
    /// units side by side end with the heaviest, which the plan draws from them.
    #[serde(skip)]
    pub issue_sizes: Vec<f64>,
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
    /// The share of issues whose worklogs are read from their own endpoint (a list longer
    /// than the embedded page, on a window whose issues carry their worklogs).
    pub long_worklogs: f64,
    /// Worklogs in one such list.
    pub worklogs_per_list: f64,
    /// Bytes of one worklog.
    pub worklog_bytes: f64,
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
    /// The memory budget a run this way takes, in bytes: twice what its units in flight
    /// hold (Little's law), between [`crate::MEMORY_BUDGET_FLOOR`] and
    /// [`SyncOptions::memory_budget`].
    pub memory_budget: usize,
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
    /// The fastest that fits what is left of the hourly quota, unless one within 10% of
    /// its wall time saves a larger share of its points than it adds to its wall (when
    /// none fits: the fewest points, ties within 5% going to the faster).
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
    /// The window's first id-only page, as the sample read it: the `ids` way's first page,
    /// not asked for twice.
    #[serde(skip)]
    pub(crate) first_ids: Option<SearchPage>,
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

/// What the window's first two requests measured: its approximate count (that round trip
/// is a small answer's latency) and its first id-only page. A far site's run starts
/// reading that page while the sample ([`measure`]) goes on.
pub(crate) struct Probe {
    jql: String,
    count: u64,
    sample: Sample,
    infos: Vec<jira_model::RateLimitInfo>,
    requests_spent: usize,
    started: Instant,
    /// The window's first id-only page, when the window holds more than one search page.
    pub(crate) first_ids: Option<SearchPage>,
}

impl Probe {
    /// The window's approximate number of issues.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Requests the probe sent.
    pub(crate) fn requests_spent(&self) -> usize {
        self.requests_spent
    }

    /// A small answer's round trip, in ms.
    pub(crate) fn base_ms(&self) -> f64 {
        self.sample.base_ms
    }

    /// Whether the run may read the first id page (by the `ids` way) while the sample
    /// measures: the site is far (a small answer takes 20 ms or more, so the sample's
    /// round trips are time no read would otherwise use) and the window is larger than one
    /// page (a page's window is not sampled).
    pub(crate) fn reads_early(&self) -> bool {
        self.first_ids.is_some() && self.sample.base_ms >= NEAR_MS
    }
}

/// Measures the window (sixteen requests, a few more on a site of long histories) and
/// estimates every strategy.
pub(crate) async fn estimate<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    in_flight: usize,
    options: &SyncOptions,
    window: &Window,
) -> Result<SyncPlan, Error> {
    let probe = probe(transport, options, window).await?;
    measure(transport, batch, in_flight, options, window, probe).await
}

/// The window's approximate count and (a window of more than a page) its first id-only
/// page. A read of the whole query (no lower bound: a query's first read, `--full`) asks
/// both side by side: its window is rarely one page, and the page's round trip is then
/// not spent after the count's (a window of one page leaves that page unused, one
/// request). A later run's window (the issues changed since its mark) asks the count
/// first: it is mostly small.
pub(crate) async fn probe<T: Transport + 'static>(
    transport: &Arc<T>,
    options: &SyncOptions,
    window: &Window,
) -> Result<Probe, Error> {
    let jql = window.bounds(&options.jql);
    let unordered = jql.clone();
    // The window's ids (one id-only page: what the `ids` way reads first).
    let id_page = || {
        ApiRequest::search(&SearchRequest {
            jql: jql.clone(),
            max_results: Some(jira_model::SEARCH_ID_PAGE_MAX),
            ..SearchRequest::default()
        })
    };
    let timed = |request: ApiRequest| async move {
        let started = Instant::now();
        let response = transport.send(request).await;
        (response, started.elapsed())
    };
    let started = Instant::now();
    let ((response, base), beside) = match window.from_ms {
        None => {
            let (count, ids) = tokio::join!(
                timed(ApiRequest::approximate_count(&unordered)?),
                timed(id_page()?)
            );
            (count, Some(ids))
        }
        Some(_) => (
            timed(ApiRequest::approximate_count(&unordered)?).await,
            None,
        ),
    };
    let response = response?;
    let infos = vec![response.rate_limit_info()];
    if response.status.as_u16() == 400 {
        return Err(Error::from(jira_batch::invalid_jql(
            &options.jql,
            &response,
        )));
    }
    let (count, counted) = match crate::histories::no_such_endpoint(&response) {
        false => {
            let count: serde_json::Value = json(response, "the approximate count")?;
            let count = count.get("count").and_then(serde_json::Value::as_u64);
            (count.unwrap_or(0), 0)
        }
        true => listed_count(transport, &unordered).await?,
    };
    let mut probe = Probe {
        jql: jql.clone(),
        count,
        sample: Sample {
            base_ms: base.as_secs_f64() * 1000.0,
            post_rate: jira_client::BurstLimits::default().post,
            ..Sample::default()
        },
        infos,
        requests_spent: 1 + usize::from(beside.is_some()) + counted,
        started,
        first_ids: None,
    };
    // A window of one page is read as one page: nothing to measure.
    if count > 100 {
        let (response, elapsed) = match beside {
            Some(ids) => ids,
            None => {
                probe.requests_spent += 1;
                timed(id_page()?).await
            }
        };
        let response = response?;
        probe.sample.id_page_ms = elapsed.as_secs_f64() * 1000.0;
        // A small answer's round trip is the least of those measured: the first answers
        // of a run pay for their connections (a handshake, TLS's too) and a server's cold
        // caches, which no later request does.
        probe.sample.base_ms = probe.sample.base_ms.min(probe.sample.id_page_ms);
        probe.infos.push(response.rate_limit_info());
        probe.first_ids = Some(json(response, "the id search")?);
    }
    probe.sample.probe_ms = probe.started.elapsed().as_secs_f64() * 1000.0;
    Ok(probe)
}

/// The window's count on a site without `POST /search/approximate-count` (it answered
/// 404 or 405: a Jira-like server that implements only the older endpoints): its ids
/// listed id-only, 5,000 a page, and counted; the requests that took. Slower than the
/// count (a request a page, a point an id) but exact, and the sync goes on.
async fn listed_count<T: Transport + 'static>(
    transport: &Arc<T>,
    jql: &str,
) -> Result<(u64, usize), Error> {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        tracing::warn!(
            "sync: the site has no POST /rest/api/3/search/approximate-count (it answered 404 or 405); the window's issues are counted by listing their ids, 5,000 a page"
        );
    });
    let listed = jira_batch::query_ids(&**transport, jql, None).await?;
    Ok((listed.ids.len() as u64, listed.requests))
}

/// The sample after the probe: SAMPLE issues spread evenly over the first id page (a
/// page of the first ten would take a neighbourhood for the whole: one long thread in
/// it, and every issue looks heavy) and beside them some of their histories; then every
/// strategy's estimate.
pub(crate) async fn measure<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    in_flight: usize,
    options: &SyncOptions,
    window: &Window,
    probe: Probe,
) -> Result<SyncPlan, Error> {
    let Probe {
        jql,
        count,
        mut sample,
        mut infos,
        mut requests_spent,
        started: started_plan,
        first_ids,
    } = probe;
    let mut base = Duration::from_secs_f64(sample.base_ms / 1000.0);
    if let Some(page) = &first_ids {
        let ids: Vec<String> = page.issues.iter().map(|issue| issue.id.clone()).collect();
        let picked = spread(&ids, SAMPLE, count);
        // In small fetches side by side: the sample costs one small fetch's latency, and
        // its histories go beside them.
        let fetches = picked.chunks(SAMPLE_FETCH).map(|chunk| {
            let request = ApiRequest::bulk_fetch(&BulkFetchRequest {
                issue_ids_or_keys: chunk.to_vec(),
                fields: options.read_fields(true),
                ..BulkFetchRequest::default()
            });
            async move {
                let started = Instant::now();
                let response = transport.send(request?).await?;
                Ok::<_, Error>((response, started.elapsed()))
            }
        });
        let changelog = async {
            if !options.changelogs {
                return Ok(Vec::new());
            }
            histories::read(transport, &picked).await
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
        let fetched = fetched?;
        // No answer is quicker than a small one: a fetch that was bounds it from above
        // (and may show a site the probe's first answers took for far to be near).
        if let Some(least) = fetched.iter().map(|(_, elapsed)| *elapsed).min() {
            base = base.min(least);
            sample.base_ms = base.as_secs_f64() * 1000.0;
            sample.near = sample.base_ms < NEAR_MS;
        }
        let (mut bytes, mut slope_ms, mut issues) = (0.0, 0.0, Vec::new());
        // The least a byte took over the fetches: the first parses of a run pay for
        // warming the allocator, which a run of thousands of answers does not.
        let mut processing = f64::INFINITY;
        // A near site's time a byte, the least over the fetches (its small answers take
        // about as long as the connection's own round trip, so no base is subtracted).
        let mut near_slope = f64::INFINITY;
        for (response, elapsed) in fetched {
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
                let text = crate::record::raw(issue)?;
                sample.issue_sizes.push(text.get().len() as f64);
            }
            processing = processing.min(started.elapsed().as_secs_f64() * 1000.0 / length);
            issues.extend(page.issues);
        }
        let n = issues.len().max(1) as f64;
        sample.issue_sizes.sort_by(f64::total_cmp);
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
        let threads = tails(&issues, "comment", "comments", COMMENT_PAGE);
        sample.comment_pages_per_issue = threads.pages / n;
        sample.long_threads = threads.long / n;
        sample.comment_bytes = threads.entry_bytes;
        // A window whose issues carry their worklogs reads the longer lists whole, in one
        // page of the issue's worklog endpoint.
        let lists = tails(
            &issues,
            "worklog",
            "worklogs",
            f64::from(jira_model::ISSUE_WORKLOGS_PAGE_MAX),
        );
        sample.worklog_bytes = lists.entry_bytes;
        if window.worklogs_from_issues && lists.long > 0.0 {
            sample.long_worklogs = lists.long / n;
            sample.worklogs_per_list = lists.entries / lists.long;
        }
        let measured = histories::measure(changelog?, &picked, &mut sample)?;
        requests_spent += measured.len();
        infos.extend(measured);
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
    let mut plan = choose(
        jql,
        count,
        sample,
        options,
        Configured {
            concurrency: batch.max_concurrent.max(1),
            unit_issues: batch.fetch_chunk,
            requests_in_flight: in_flight,
            feed_beside: options.worklogs && !window.worklogs_from_issues,
        },
        requests_spent,
    );
    plan.first_ids = first_ids;
    Ok(plan)
}

/// `n` of `ids`, one at random in each `n`th of them: a stride would alias a site whose
/// issues repeat a pattern (every 50th with a long thread) and take all or none of it.
/// The draw is seeded by the window's count, so a plan is repeatable.
fn spread(ids: &[String], n: usize, seed: u64) -> Vec<String> {
    if ids.len() <= n {
        return ids.to_vec();
    }
    let mut draw = Draw::seeded(seed);
    (0..n)
        .map(|k| {
            let from = k * ids.len() / n;
            let to = ((k + 1) * ids.len() / n).max(from + 1);
            ids[from + draw.below(to - from)].clone()
        })
        .collect()
}

/// Repeatable draws for the plan (splitmix64: a few lines of a well-known generator, not
/// a dependency): the same seed, the same plan.
pub(super) struct Draw(u64);

impl Draw {
    pub(super) fn seeded(seed: u64) -> Self {
        Draw(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// A number in `0..n` (`n` > 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

/// What the sampled issues' embedded lists (the `comment` or the `worklog` field) say of
/// the entries left to read from the issue's own endpoint.
struct Tails {
    /// Pages of the endpoint past the embedded page, in all.
    pages: f64,
    /// Issues that need them.
    long: f64,
    /// Entries of those issues, in all.
    entries: f64,
    /// Bytes of one embedded entry.
    entry_bytes: f64,
}

/// The tails of the `field` lists (entries under `list`) of `issues`, read `page` a
/// request.
fn tails(issues: &[jira_model::Issue], field: &str, list: &str, page: f64) -> Tails {
    let mut tails = Tails {
        pages: 0.0,
        long: 0.0,
        entries: 0.0,
        entry_bytes: 0.0,
    };
    let (mut bytes, mut embedded_entries) = (0usize, 0usize);
    for issue in issues {
        let Some(field) = issue.fields.get(field) else {
            continue;
        };
        let embedded = field
            .get(list)
            .and_then(serde_json::Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        embedded_entries += embedded.len();
        bytes += embedded.iter().map(|c| c.to_string().len()).sum::<usize>();
        let start_at = field.get("startAt").and_then(serde_json::Value::as_u64);
        let total = field
            .get("total")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(embedded.len() as u64);
        // The reader takes the embedded page only when it starts the list (see
        // `read::complete`), then pages on from its length.
        let left = match start_at {
            Some(0) | None => total.saturating_sub(embedded.len() as u64),
            Some(_) => total,
        };
        if left > 0 {
            tails.long += 1.0;
            tails.entries += total as f64;
            tails.pages += (left as f64 / page).ceil();
        }
    }
    if embedded_entries > 0 {
        tails.entry_bytes = bytes as f64 / embedded_entries as f64;
    }
    tails
}

/// The window's ids above `after_id` (listed by page token, [`jira_batch::query_ids`]:
/// JQL cannot bound ids; `first`, the listing's first page when the plan read it, is not
/// asked again) cut into `n` slices of as many ids each ([`cut_above`]); with the
/// listing, which the read then takes its slices' ids from instead of listing the window
/// again. No slice when nothing is left to read.
pub(crate) async fn slice_window<T: Transport + 'static>(
    transport: &Arc<T>,
    window: &Window,
    query: &str,
    (after_id, n): (u64, usize),
    first: Option<jira_model::SearchPage>,
) -> Result<(Vec<Slice>, QueryIds), Error> {
    let listed = jira_batch::query_ids(&**transport, &window.bounds(query), first).await?;
    Ok((cut_above(&listed, after_id, n), listed))
}

/// The ids of `listed` above `after_id` cut into `n` slices ([`cut`]).
pub(crate) fn cut_above(listed: &QueryIds, after_id: u64, n: usize) -> Vec<Slice> {
    let unread: Vec<u64> = listed
        .ids
        .iter()
        .copied()
        .filter(|id| *id > after_id)
        .collect();
    cut(&unread, after_id, n)
}

/// The ascending `ids` (all above `after_id`) cut into `n` id ranges of as many ids each,
/// the first from `after_id`, the last one open-ended; none for no ids.
pub(crate) fn cut(ids: &[u64], after_id: u64, n: usize) -> Vec<Slice> {
    let per = ids.len().div_ceil(n.max(1)).max(1);
    let mut slices: Vec<Slice> = Vec::new();
    for run in ids.chunks(per) {
        slices.push(Slice::new(
            slices.last().and_then(|s| s.last_id).unwrap_or(after_id),
            run.last().copied(),
        ));
    }
    if let Some(slice) = slices.last_mut() {
        slice.last_id = None;
    }
    slices
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jira_transport::testing::{Scripted, Step};

    use super::*;

    /// A first read's window (`None`), or a later run's from `mark_ms`.
    fn window(mark_ms: Option<i64>) -> Window {
        let options = SyncOptions::new("project = A");
        let state = crate::SyncState {
            mark_ms,
            ..crate::SyncState::default()
        };
        Window::opening(&options, &state, mark_ms.is_none(), Strategy::Ids)
    }

    /// A count of `count`, then an id page, each a second away.
    fn site(count: u64) -> Arc<Scripted> {
        let second = Duration::from_secs(1);
        Arc::new(Scripted::new([
            Step::json(200, &format!(r#"{{"count":{count}}}"#)).after(second),
            Step::json(
                200,
                r#"{"issues":[{"id":"10001"},{"id":"10002"}],"isLast":true}"#,
            )
            .after(second),
        ]))
    }

    #[tokio::test(start_paused = true)]
    async fn the_whole_query_asks_its_count_and_first_id_page_side_by_side() {
        let options = SyncOptions::new("project = A");
        let second = Duration::from_secs(1);
        // A first read: one round trip for both.
        let transport = site(5_000);
        let started = tokio::time::Instant::now();
        let probe = probe(&transport, &options, &window(None)).await.unwrap();
        assert_eq!(started.elapsed(), second, "one round trip, not two");
        assert!(transport.arrivals().iter().all(|at| *at == started));
        assert_eq!(probe.requests_spent(), 2);
        assert_eq!(probe.first_ids.as_ref().map(|p| p.issues.len()), Some(2));
        // Its window of one page leaves the id page unused, and counts it.
        let transport = site(40);
        let probe = probe_of(&transport, &options, None).await;
        assert_eq!(
            (probe.requests_spent(), probe.first_ids.is_some()),
            (2, false)
        );
        // A later run's window asks the count first, and the page only when it is needed.
        let transport = site(5_000);
        let started = tokio::time::Instant::now();
        let probe = probe_of(&transport, &options, Some(1)).await;
        assert_eq!(transport.arrivals()[1], started + second);
        assert_eq!(probe.requests_spent(), 2);
        let transport = site(40);
        let probe = probe_of(&transport, &options, Some(1)).await;
        assert_eq!(probe.requests_spent(), 1);
        assert_eq!(transport.requests().len(), 1);
    }

    async fn probe_of(
        transport: &Arc<Scripted>,
        options: &SyncOptions,
        from: Option<i64>,
    ) -> Probe {
        probe(transport, options, &window(from)).await.unwrap()
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
    fn slices_hold_each_id_once_and_as_many_each() {
        // Ids of two projects created side by side: far apart, unevenly spread.
        let ids: Vec<u64> = (0..1000).map(|n| 10_000 + n * 7 + (n % 3) * 900).collect();
        let mut ids = ids;
        ids.sort_unstable();
        let slices = cut(&ids, 9_000, 4);
        assert_eq!(slices.len(), 4);
        assert_eq!(slices[0].after_id, 9_000);
        for pair in slices.windows(2) {
            assert_eq!(pair[0].last_id, Some(pair[1].after_id));
        }
        assert_eq!(slices[3].last_id, None);
        for slice in &slices {
            let held = ids.iter().filter(|id| slice.unread(**id)).count();
            assert_eq!(held, 250, "{slice:?}");
        }
        assert_eq!(cut(&[5], 0, 8).len(), 1);
        assert!(cut(&[], 0, 8).is_empty());
    }
}

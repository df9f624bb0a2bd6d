//! What a window will cost each way it can be read, measured on a small sample, and the
//! choice among them.
//!
//! Four requests measure the tenant: the window's approximate count (its round trip is
//! the base latency), its first id-only page (that page's latency), ten issues spread
//! evenly over those ids fetched with the fields (bytes and latency per issue), and their
//! histories from the changelog bulk fetch (entries per issue, bytes per entry). Latency is modelled as `base + per_byte × bytes`, the burst limits are the ones
//! the answers announce (`X-RateLimit-Limit`) or Atlassian's defaults, and an hourly points
//! quota counts when the answers announce one (`Beta-RateLimit-Policy` with a one-hour
//! window).

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
/// Issues a sample reads.
const SAMPLE: u32 = 10;
/// Points within this share of the fewest are a tie: the faster way is taken.
const POINTS_TIE: f64 = 0.05;
/// The most units of 100 issues a sync keeps in flight (unless configured higher).
pub const MAX_CONCURRENCY: usize = 32;

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
    /// Units (bulk fetches or pages with their histories) to keep in flight: what the
    /// burst rate times the measured latency needs, between the configured concurrency
    /// and [`crate::MAX_CONCURRENCY`].
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

/// Measures the window (four requests) and estimates every strategy.
pub(crate) async fn estimate<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
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
        let step = (page.issues.len() / SAMPLE as usize).max(1);
        let picked: Vec<String> = page
            .issues
            .iter()
            .skip(step / 2)
            .step_by(step)
            .take(SAMPLE as usize)
            .map(|issue| issue.id.clone())
            .collect();
        let request = ApiRequest::bulk_fetch(&BulkFetchRequest {
            issue_ids_or_keys: picked.clone(),
            fields: options.read_fields(false),
            expand: Vec::new(),
        })?;
        let started = Instant::now();
        let response = transport.send(request).await?;
        let elapsed = started.elapsed();
        requests_spent += 1;
        infos.push(response.rate_limit_info());
        let bytes = response.body.len() as f64;
        let fetched: BulkFetchResponse = json(response, "the sample fetch")?;
        let n = fetched.issues.len().max(1) as f64;
        sample.issue_bytes = bytes / n;
        sample.ms_per_byte =
            (elapsed.saturating_sub(base).as_secs_f64() * 1000.0 / bytes.max(1.0)).max(0.0);
        if options.changelogs && !picked.is_empty() {
            let body = ChangelogBulkRequest {
                issue_ids_or_keys: picked,
                max_results: Some(1_000),
                ..ChangelogBulkRequest::default()
            };
            let response = transport.send(ApiRequest::changelog_bulk(&body)?).await?;
            requests_spent += 1;
            infos.push(response.rate_limit_info());
            let bytes = response.body.len() as f64;
            let logs: ChangelogBulkPage = json(response, "the sample changelog")?;
            let entries: usize = logs
                .issue_change_logs
                .iter()
                .map(|l| l.change_histories.len())
                .sum();
            sample.history_per_issue = entries as f64 / n;
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
        batch.max_concurrent.max(1),
        requests_spent,
    ))
}

/// Each strategy's cost from the sample, and the choice.
pub(crate) fn choose(
    jql: String,
    count: u64,
    sample: Sample,
    options: &SyncOptions,
    concurrency: usize,
    requests_spent: usize,
) -> SyncPlan {
    let n = count as f64;
    let latency = |bytes: f64| (sample.base_ms + sample.ms_per_byte * bytes) / 1000.0;
    let history = if options.changelogs {
        sample.history_per_issue
    } else {
        0.0
    };
    // Histories of a unit of 100 issues: pages of 1,000 entries.
    let changelog_pages_per_unit = if options.changelogs {
        (100.0 * history / 1000.0).ceil().max(1.0)
    } else {
        0.0
    };
    let changelog_latency =
        changelog_pages_per_unit * latency(sample.entry_bytes * (100.0 * history).min(1000.0));
    let units = (n / 100.0).ceil();
    let entries = n * history;
    let unit_latency = latency(100.0 * sample.issue_bytes) + changelog_latency;
    let rate = sample.post_rate.max(1.0);
    // Little's law: to keep each endpoint at its burst rate, `rate × latency` units must be
    // in flight; never fewer than configured, never more than the cap (memory: each unit
    // holds 100 issues with their histories until it is committed).
    let concurrency = ((rate * unit_latency).ceil() as usize)
        .clamp(concurrency.max(1), MAX_CONCURRENCY.max(concurrency));
    // A slice a unit at most: each streams its pages one after the other, so more
    // slices are fewer rounds of a page's latency.
    let slices = concurrency.min(units.max(1.0) as usize).max(1);
    // What every way spends before its first read: this plan's own requests (measured)
    // and the field catalogue.
    let setup = sample.plan_ms / 1000.0 + latency(0.0);
    let remaining = sample.quota_remaining.or(sample.quota_points);
    let estimate = |strategy: Strategy| {
        let changelog_requests = units * changelog_pages_per_unit;
        let (requests, points, seconds) = match strategy {
            Strategy::Ids => {
                let id_pages = (n / 5000.0).ceil();
                let requests = id_pages + units + changelog_requests;
                let points = id_pages + n + units + n + changelog_requests + entries;
                let id_page = match sample.id_page_ms {
                    0.0 => latency(5000.0 * ID_BYTES),
                    ms => ms / 1000.0,
                };
                let ids_path = id_pages * id_page;
                // Units go `concurrency` at a time: whole rounds of a unit's latency.
                // A unit's histories are read beside its bulk fetch (the ids are known).
                let unit_latency = latency(100.0 * sample.issue_bytes).max(changelog_latency);
                let fetch_path = (units / concurrency as f64).ceil() * unit_latency;
                // Each endpoint has its own bucket: the busiest one bounds the pace.
                let paced = units.max(changelog_requests) / rate;
                (
                    requests,
                    points,
                    setup + ids_path.max(fetch_path).max(paced) + id_page,
                )
            }
            Strategy::Pages => {
                let requests = units + changelog_requests;
                let points = units + n + changelog_requests + entries;
                let page = latency(100.0 * sample.issue_bytes);
                (
                    requests,
                    points,
                    setup + units * page.max(changelog_latency) + page,
                )
            }
            Strategy::Slices => {
                let requests = units + changelog_requests + 2.0;
                let points = units + n + changelog_requests + entries + 2.0;
                let page = latency(100.0 * sample.issue_bytes);
                let path = (units / slices as f64).ceil() * page.max(changelog_latency);
                let paced = units.max(changelog_requests) / rate;
                (
                    requests,
                    points,
                    setup + path.max(paced) + changelog_latency + 2.0 * latency(0.0),
                )
            }
        };
        Estimate {
            strategy,
            requests: requests as u64,
            points: points as u64,
            seconds,
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
        concurrency,
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
            post_rate: 100.0,
            quota_points: None,
            quota_remaining: None,
        }
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
        let plan = choose("q".into(), 100_000, sample(), &options, 16, 3);
        let ids = plan.estimate(Strategy::Ids).unwrap();
        let pages = plan.estimate(Strategy::Pages).unwrap();
        let slices = plan.estimate(Strategy::Slices).unwrap();
        assert!(ids.points > slices.points, "ids pay for the id pages");
        assert!(pages.seconds > 10.0 * slices.seconds, "pages go one by one");
        assert_ne!(plan.chosen, Strategy::Pages, "{}", plan.reason);
        assert!(plan.reason.contains("wall time"), "{}", plan.reason);
        assert!(!plan.exhausts_quota);
        // A unit takes ~0.5 s here: 100 requests a second need ~50 in flight, capped.
        assert_eq!(plan.concurrency, MAX_CONCURRENCY);
        let fast = Sample {
            base_ms: 1.0,
            ms_per_byte: 0.0,
            ..sample()
        };
        assert_eq!(
            choose("q".into(), 100_000, fast, &options, 10, 3).concurrency,
            10,
            "never below the configured concurrency"
        );

        let quota = Sample {
            quota_points: Some(65_000),
            quota_remaining: Some(60_000),
            ..sample()
        };
        let plan = choose("q".into(), 100_000, quota, &options, 16, 3);
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
        let plan = choose("q".into(), 100_000, roomy, &options, 16, 3);
        assert!(plan.reason.contains("least wall time"), "{}", plan.reason);
        assert_ne!(plan.chosen, Strategy::Pages, "{}", plan.reason);

        let small = choose("q".into(), 40, sample(), &options, 16, 3);
        assert_eq!(small.chosen, Strategy::Pages);
    }
}

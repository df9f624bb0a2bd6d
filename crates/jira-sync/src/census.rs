//! The id census: what the site still holds of the query, against what the sink holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use jira_batch::BatchConfig;
use jira_transport::Transport;

use crate::Error;
use crate::options::SyncOptions;
use crate::read::fetch_unit;
use crate::record::now_ms;
use crate::run::SyncReport;
use crate::sink::Sink;
use crate::window::SyncState;
use crate::worklogs::{IssueWorklogs, entering_worklogs};

/// The share of a run's requests a census may cost and still run every time.
pub(crate) const CENSUS_SHARE: f64 = 0.05;

/// Whether this run ends with a census: when the last one is older than
/// [`SyncOptions::census_every`], and on every run whose census costs one page (5,000
/// ids) or at most [`CENSUS_SHARE`] of the run's requests (a census of more than one page
/// lists twice). `None` never.
pub(crate) fn census_due<S: Sink + ?Sized>(
    options: &SyncOptions,
    state: &SyncState,
    sink: &mut S,
    run_requests: usize,
) -> Result<bool, Error> {
    let Some(every) = options.census_every else {
        return Ok(false);
    };
    if state
        .census_ms
        .is_none_or(|last| now_ms() - last >= every.as_millis() as i64)
    {
        return Ok(true);
    }
    Ok(sink.issues_held(&options.jql)?.is_some_and(|held| {
        let pages = held
            .div_ceil(u64::from(jira_model::SEARCH_ID_PAGE_MAX))
            .max(1);
        // More than a page is listed twice (see `census`).
        pages == 1 || (2 * pages) as f64 <= CENSUS_SHARE * run_requests as f64
    }))
}

/// The id census: every id the query matches (listed 5,000 a page, twice when it takes
/// more than one page) told to the sink, which tombstones the live issues it did not see.
pub(crate) async fn census<T, S>(
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
    // A census that left a live issue out would mark it deleted. The ids are listed by
    // page token (JQL cannot page by id: `jira_batch::query_ids`); a listing of more than
    // one page is listed again, and the sink told both: an offset-like token that left
    // an issue out of one listing (another issue left the query meanwhile) does not
    // leave it out of the other.
    let first = jira_batch::query_ids(&**transport, &options.jql, None).await?;
    let again = match first.paged() {
        true => Some(jira_batch::query_ids(&**transport, &options.jql, None).await?),
        false => None,
    };
    sink.census_begin()?;
    for listed in std::iter::once(&first).chain(again.as_ref()) {
        report.requests += listed.requests;
        report.search_pages += listed.requests;
        for ids in listed.ids.chunks(jira_model::SEARCH_ID_PAGE_MAX as usize) {
            sink.census_seen(ids)?;
        }
    }
    let found = sink.census_finish(&options.jql, now_ms())?;
    report.issues_deleted = found.deleted;
    // Issues on the site the sink lacks (back from the trash, or moved into the query
    // without a change of `updated`): fetched whole, as a window would.
    let absent: Vec<String> = found.absent.iter().map(u64::to_string).collect();
    let none = BTreeMap::new();
    for chunk in absent.chunks(jira_model::BULK_FETCH_MAX_ISSUES) {
        // The worklog feed has passed these issues' worklogs (or will pass them before
        // the issues are held): they are read from the issues.
        let mut unit = fetch_unit(
            transport,
            batch,
            options,
            chunk,
            match options.worklogs {
                true => IssueWorklogs::Entering,
                false => IssueWorklogs::Feed,
            },
            &none,
            None,
        )
        .await?;
        if options.worklogs {
            let embedded = std::mem::take(&mut unit.embedded);
            unit.requests += entering_worklogs(
                transport,
                batch.max_concurrent,
                sink,
                &mut unit.batch,
                embedded,
                IssueWorklogs::Entering,
            )
            .await?;
            report.worklogs += unit.batch.worklogs.len();
        }
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

/// Issues a run checks against the site for a site that went back in time.
pub(crate) const CANARIES: usize = 100;

/// How many of the query's newest issues in the sink (at most [`CANARIES`], one lean
/// bulk fetch of their `updated`) the site now holds with an older `updated` than the
/// sink does: a site restored from a backup, or a sandbox reset, has its issues as they
/// were, below the mark, where an incremental window would never look. The count and the
/// requests it took; a check the site refuses is skipped (a warning), never a failure.
pub(crate) async fn went_back<T: Transport, S: Sink + ?Sized>(
    transport: &Arc<T>,
    sink: &mut S,
    jql: &str,
) -> Result<(usize, usize), Error> {
    let held = sink.newest_held(jql, CANARIES)?;
    if held.is_empty() {
        return Ok((0, 0));
    }
    let request = jira_model::ApiRequest::bulk_fetch(&jira_model::BulkFetchRequest {
        issue_ids_or_keys: held.iter().map(|(id, _)| id.to_string()).collect(),
        fields: vec!["updated".into()],
        ..Default::default()
    })?;
    let response = transport.send(request).await?;
    if !response.is_success() {
        tracing::warn!(
            status = response.status.as_u16(),
            "sync: the check for a site restored from a backup was refused; skipped"
        );
        return Ok((0, 1));
    }
    let page: jira_model::BulkFetchResponse = response.json()?;
    let held: BTreeMap<u64, i64> = held.into_iter().collect();
    let mut older = 0;
    for issue in &page.issues {
        let id = crate::record::numeric_id(&issue.id)?;
        if held
            .get(&id)
            .is_some_and(|sink| crate::record::updated_ms(issue).is_ok_and(|site| site < *sink))
        {
            older += 1;
        }
    }
    Ok((older, 1))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sink::{Census, SyncBatch};

    /// A sink that holds `.0` issues of every query and nothing else.
    struct Holding(u64);

    impl Sink for Holding {
        fn load_state(&mut self, _: &str) -> Result<Option<SyncState>, Error> {
            Ok(None)
        }
        fn commit(&mut self, _: &SyncBatch, _: &SyncState) -> Result<(), Error> {
            Ok(())
        }
        fn has_issue(&mut self, _: &str) -> Result<bool, Error> {
            Ok(false)
        }
        fn census_begin(&mut self) -> Result<(), Error> {
            Ok(())
        }
        fn census_seen(&mut self, _: &[u64]) -> Result<(), Error> {
            Ok(())
        }
        fn census_finish(&mut self, _: &str, _: i64) -> Result<Census, Error> {
            Ok(Census::default())
        }
        fn issues_held(&mut self, _: &str) -> Result<Option<u64>, Error> {
            Ok(Some(self.0))
        }
    }

    #[test]
    fn a_census_runs_when_it_is_one_page_a_small_share_or_due() {
        let daily = SyncOptions {
            census_every: Some(Duration::from_secs(86_400)),
            ..SyncOptions::new("project = A")
        };
        let an_hour_ago = SyncState {
            census_ms: Some(now_ms() - 3_600_000),
            ..SyncState::default()
        };
        // One page (5,000 ids): every run.
        assert!(census_due(&daily, &an_hour_ago, &mut Holding(5_000), 5).unwrap());
        // Ten pages, listed twice: when those 20 are at most 5% of the run's requests.
        assert!(!census_due(&daily, &an_hour_ago, &mut Holding(50_000), 399).unwrap());
        assert!(census_due(&daily, &an_hour_ago, &mut Holding(50_000), 400).unwrap());
        // Or once the last census is a day old; never with `None`.
        let two_days_ago = SyncState {
            census_ms: Some(now_ms() - 2 * 86_400_000),
            ..SyncState::default()
        };
        assert!(census_due(&daily, &two_days_ago, &mut Holding(50_000), 5).unwrap());
        let never = SyncOptions {
            census_every: None,
            ..daily.clone()
        };
        assert!(!census_due(&never, &two_days_ago, &mut Holding(5), 5).unwrap());
        // A sink that cannot count: by age alone.
        assert!(!census_due(&daily, &an_hour_ago, &mut crate::EmptySink, 1_000).unwrap());
    }
}

//! The id census: what the site still holds of the query, against what the sink holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt as _;
use jira_batch::{BatchConfig, SearchOptions, search_pages};
use jira_transport::Transport;

use crate::Error;
use crate::options::SyncOptions;
use crate::read::fetch_unit;
use crate::record::now_ms;
use crate::run::SyncReport;
use crate::sink::Sink;
use crate::window::SyncState;

/// The id census: every id the query matches (5,000 a page) told to the sink, which
/// tombstones the live issues it did not see.
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

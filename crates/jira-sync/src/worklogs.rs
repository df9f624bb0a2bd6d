//! Worklogs from the tenant-wide feeds: `/worklog/updated` and `/worklog/deleted` read to
//! their ends (ids only), then `/worklog/list` for those on issues the sink holds.

use std::sync::Arc;

use futures_util::StreamExt as _;
use jira_model::ApiRequest;
use jira_transport::Transport;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Error;
use crate::memory::{MemoryBudget, blocking};
use crate::record::{At, Child};
use crate::run::{Reads, SyncReport};
use crate::sink::{Sink, SyncBatch};
use crate::window::SyncState;

/// One page of a worklog feed: the ids it named (with when, for deleted ones) and the
/// cursor after it.
pub(crate) struct FeedPage {
    ids: Vec<(u64, i64)>,
    until: i64,
}

/// Both feeds, read to their ends.
pub(crate) struct Feeds {
    updated: Vec<FeedPage>,
    deleted: Vec<FeedPage>,
    requests: usize,
}

/// Reads `/worklog/updated` and `/worklog/deleted` from their cursors to their last pages
/// (ids only: about 16 bytes a worklog).
pub(crate) async fn worklog_feeds<T: Transport + 'static>(
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
pub(crate) async fn store_worklogs<T, S>(
    reads: &Reads<'_, T>,
    sink: &mut S,
    state: &mut SyncState,
    feeds: Feeds,
    window_end: i64,
    report: &mut SyncReport,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let (transport, batch, options) = (reads.transport, reads.batch, reads.options);
    report.requests += feeds.requests;
    // A list holds up to 1,000 worklogs (a megabyte or two, held twice while it is read):
    // lists in flight and waiting share a quarter of the budget.
    let budget = MemoryBudget::new(options.memory_budget / 4, batch.max_concurrent);
    let lists = futures_util::stream::iter(feeds.updated)
        .then(|page| {
            let budget = budget.clone();
            async move { (page, budget.share().await) }
        })
        .map(|(page, share)| async move {
            let mut worklogs = Vec::new();
            let ids: Vec<u64> = page.ids.iter().map(|(id, _)| *id).collect();
            let mut requests = 0;
            for chunk in ids.chunks(jira_model::WORKLOG_LIST_MAX_IDS) {
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

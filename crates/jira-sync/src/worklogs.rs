//! Worklogs from the tenant-wide feeds: `/worklog/updated` and `/worklog/deleted` read to
//! their ends (ids only), then `/worklog/list` for those on issues the sink holds; and the
//! worklogs of an issue that enters the sink after the feed's cursor has passed them,
//! read from the issue itself.
//!
//! A site without the feeds (either answers 404 or 405 to its first page: an older or
//! partial Jira) is remembered in the state ([`SyncState::worklogs_without_feed`]): from
//! then on every issue a window reads takes its whole list from itself, and what the sink
//! holds that the list lacks is marked deleted.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt as _;
use jira_model::ApiRequest;
use jira_transport::Transport;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Error;
use crate::memory::{AbortOnDrop, MemoryBudget, blocking};
use crate::record::{At, Child};
use crate::run::SyncReport;
use crate::sink::{Sink, SyncBatch};
use crate::window::SyncState;

/// One page of a worklog feed: the ids it named (with when, for deleted ones) and the
/// cursor after it.
pub(crate) struct FeedPage {
    ids: Vec<(u64, i64)>,
    until: i64,
}

/// Both feeds, read to their ends.
struct Feeds {
    updated: Vec<FeedPage>,
    deleted: Vec<FeedPage>,
    requests: usize,
    /// The feed the site does not have (its path and the status it answered).
    missing: Option<(&'static str, u16)>,
}

/// The worklogs of one page of `/worklog/updated`, listed, with the cursor after it.
pub(crate) struct Listed {
    worklogs: Vec<Child>,
    until: i64,
    requests: usize,
    /// Its share of the memory budget, held until it is committed.
    _share: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What the feed task leaves once every list is sent: the deleted feed's pages and the
/// feeds' own requests.
pub(crate) struct FeedsDone {
    deleted: Vec<FeedPage>,
    requests: usize,
    missing: Option<(&'static str, u16)>,
}

/// The worklog step's reads, running beside the window: the feeds (ids only), then the
/// lists of the updated worklogs, in feed order, a few at a time and no more than a
/// quarter of the memory budget waiting, until the window is done and they are stored.
pub(crate) struct WorklogReads {
    listed: tokio::sync::mpsc::Receiver<Result<Listed, Error>>,
    task: AbortOnDrop<Result<FeedsDone, Error>>,
}

/// Starts the worklog step's reads from the cursors `updated_since` and `deleted_since`.
pub(crate) fn worklog_reads<T: Transport + 'static>(
    transport: Arc<T>,
    updated_since: i64,
    deleted_since: i64,
    concurrency: usize,
    memory_budget: usize,
) -> WorklogReads {
    let concurrency = concurrency.max(1);
    let (sender, listed) = tokio::sync::mpsc::channel(concurrency);
    let task = tokio::spawn(async move {
        let feeds = worklog_feeds(&transport, updated_since, deleted_since).await?;
        if feeds.missing.is_some() {
            return Ok(FeedsDone {
                deleted: Vec::new(),
                requests: feeds.requests,
                missing: feeds.missing,
            });
        }
        // A list holds up to 1,000 worklogs (a megabyte or two, held twice while it is
        // read): lists in flight and waiting share a quarter of the budget.
        let budget = MemoryBudget::new(memory_budget / 4, concurrency);
        let lists = futures_util::stream::iter(feeds.updated)
            .then(|page| {
                let budget = budget.clone();
                async move { (page, budget.share().await) }
            })
            .map(|(page, share)| {
                // Each list runs in a task of its own: while the lists wait for the window
                // to end (the channel full), one on the wire still reads its answer
                // instead of stalling until its deadline.
                let transport = transport.clone();
                let listing = AbortOnDrop::new(tokio::spawn(async move {
                    let (worklogs, requests) = list(&transport, &page, concurrency).await?;
                    Ok::<_, Error>(Listed {
                        worklogs,
                        until: page.until,
                        requests,
                        _share: share,
                    })
                }));
                async move { listing.join().await? }
            })
            .buffered(concurrency);
        tokio::pin!(lists);
        while let Some(listed) = lists.next().await {
            if let Ok(listed) = &listed {
                budget.observe(listed.worklogs.iter().map(|w| w.json.get().len()).sum());
            }
            let failed = listed.is_err();
            if sender.send(listed).await.is_err() || failed {
                break;
            }
        }
        Ok(FeedsDone {
            deleted: feeds.deleted,
            requests: feeds.requests,
            missing: None,
        })
    });
    WorklogReads {
        listed,
        task: AbortOnDrop::new(task),
    }
}

/// Reads `/worklog/updated` and `/worklog/deleted` from their cursors to their last pages
/// (ids only: about 16 bytes a worklog); stops at a feed whose first page says the site
/// has no such endpoint.
async fn worklog_feeds<T: Transport + 'static>(
    transport: &Arc<T>,
    updated_since: i64,
    deleted_since: i64,
) -> Result<Feeds, Error> {
    let mut feeds = Feeds {
        updated: Vec::new(),
        deleted: Vec::new(),
        requests: 0,
        missing: None,
    };
    for (deleted, mut since) in [(false, updated_since), (true, deleted_since)] {
        let mut first = true;
        loop {
            let request = ApiRequest::worklogs_changed(since, deleted);
            let path = request.path_template;
            let response = transport.send(request).await?;
            feeds.requests += 1;
            if first && crate::histories::no_such_endpoint(&response) {
                feeds.missing = Some((path, response.status.as_u16()));
                return Ok(feeds);
            }
            first = false;
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

/// Ids a `POST /worklog/list` takes at least, however the page is spread.
const LIST_MIN_IDS: usize = 100;

/// The worklogs one feed page names (`POST /worklog/list`), its ids spread over up to
/// `concurrency` calls at once (at least 100 and at most 1,000 a call): a list's latency
/// grows with its answer, and a full one of 1,000 takes seconds on Jira Cloud; the
/// requests it took.
async fn list<T: Transport>(
    transport: &Arc<T>,
    page: &FeedPage,
    concurrency: usize,
) -> Result<(Vec<Child>, usize), Error> {
    let ids: Vec<u64> = page.ids.iter().map(|(id, _)| *id).collect();
    let per_call = ids
        .len()
        .div_ceil(concurrency.max(1))
        .clamp(LIST_MIN_IDS, jira_model::WORKLOG_LIST_MAX_IDS);
    let chunks: Vec<Vec<u64>> = ids.chunks(per_call).map(<[u64]>::to_vec).collect();
    let calls = futures_util::stream::iter(chunks)
        .map(|chunk| async move {
            let mut listed = list_call(transport, &chunk).await?;
            let mut requests = 1;
            // A worklog deleted since the feed named it is not answered (the deleted feed
            // names it). But a site with a cap of its own below Atlassian's 1,000 answers
            // fewer and says nothing of the rest: what was not answered is asked once
            // more, in calls of as many as it answered.
            let answered = listed.len();
            if answered > 0 && answered < chunk.len() {
                let got: std::collections::HashSet<u64> = listed.iter().map(|w| w.id).collect();
                let rest: Vec<u64> = chunk
                    .iter()
                    .copied()
                    .filter(|id| !got.contains(id))
                    .collect();
                for part in rest.chunks(answered) {
                    listed.extend(list_call(transport, part).await?);
                    requests += 1;
                }
            }
            Ok::<_, Error>((listed, requests))
        })
        .buffered(concurrency.max(1));
    tokio::pin!(calls);
    let (mut worklogs, mut requests) = (Vec::new(), 0);
    while let Some(listed) = calls.next().await {
        let (listed, sent) = listed?;
        worklogs.extend(listed);
        requests += sent;
    }
    Ok((worklogs, requests))
}

/// One `POST /worklog/list` of `ids`: the worklogs it answered.
async fn list_call<T: Transport>(transport: &Arc<T>, ids: &[u64]) -> Result<Vec<Child>, Error> {
    let response = transport.send(ApiRequest::worklog_list(ids)?).await?;
    if !response.is_success() {
        return Err(Error::Sync(format!(
            "sync: POST /rest/api/3/worklog/list answered HTTP {}; run again to resume",
            response.status.as_u16()
        )));
    }
    response
        .json::<Vec<Box<RawValue>>>()?
        .into_iter()
        .map(|worklog| Child::parse(worklog, None, At::Updated))
        .collect()
}

/// Stores what [`worklog_reads`] listed: the worklogs of issues the sink holds, each
/// feed page committed in order with its cursor, then the deleted ones marked. A cursor
/// never passes the window's end; a worklog of an issue the sink does not hold is left
/// out (an issue that enters the sink later takes its worklogs from itself:
/// [`entering_worklogs`]). A site without the feeds is remembered ([`without_feed`]).
/// `from_issues`: every issue of the run's window took its worklogs from itself.
pub(crate) async fn store_worklogs<S>(
    sink: &mut S,
    state: &mut SyncState,
    mut worklogs: WorklogReads,
    (window_end, from_issues): (i64, bool),
    report: &mut SyncReport,
) -> Result<(), Error>
where
    S: Sink + ?Sized,
{
    while let Some(listed) = worklogs.listed.recv().await {
        let listed = listed?;
        report.requests += listed.requests;
        let mut commit = SyncBatch::default();
        let owners: Vec<u64> = listed.worklogs.iter().map(|w| w.issue_id).collect();
        let held = blocking(|| sink.held_of(&owners))?;
        commit.worklogs = listed
            .worklogs
            .into_iter()
            .filter(|worklog| held.contains(&worklog.issue_id))
            .collect();
        report.worklogs += commit.worklogs.len();
        state.worklogs_since_ms = state.worklogs_since_ms.max(listed.until.min(window_end));
        blocking(|| sink.commit(&commit, state))?;
        report.commits += 1;
    }
    let done = worklogs.task.join().await??;
    report.requests += done.requests;
    if let Some(missing) = done.missing {
        return without_feed(sink, state, from_issues, missing);
    }
    for page in done.deleted {
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

/// Remembers that the site has no worklog feed (`missing`: the feed's path and the status
/// it answered), so that from the next window on every issue takes its worklogs from
/// itself. When the issues this sink already held took theirs from the feed this run
/// (`from_issues` false), the mark goes back to the feed's cursor and the run fails: the
/// next run reads again, with their worklogs, every issue changed since then (a worklog
/// added, changed or deleted moves its issue's `updated`).
fn without_feed<S: Sink + ?Sized>(
    sink: &mut S,
    state: &mut SyncState,
    from_issues: bool,
    (path, status): (&'static str, u16),
) -> Result<(), Error> {
    state.worklogs_without_feed = true;
    if from_issues {
        tracing::warn!(
            "sync: the site has no worklog feed (GET {path} answered HTTP {status}); every issue a sync reads takes its worklogs from the issue itself"
        );
        return blocking(|| sink.commit(&SyncBatch::default(), state));
    }
    let since = state.worklogs_since_ms;
    state.mark_ms = (since > 0).then(|| state.mark_ms.map_or(since, |mark| mark.min(since)));
    state.recent.clear();
    blocking(|| sink.commit(&SyncBatch::default(), state))?;
    Err(Error::Sync(format!(
        "sync: the site has no worklog feed (GET {path} answered HTTP {status}), from which the issues this sink held took their worklogs; from now on every issue takes its worklogs from itself. Run the sync again: it reads again {} with their worklogs",
        match since {
            0 => "every issue of the query".to_owned(),
            _ => "the issues changed since the feed's cursor".to_owned(),
        }
    )))
}

/// Where a window's issues take their worklogs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IssueWorklogs {
    /// Not from the issues: worklogs are not synced, or the feed reads from the beginning
    /// of time (a sink whose issues were synced before without worklogs) and covers them
    /// all.
    Feed,
    /// An issue entering the sink takes its worklogs from itself (the feed's cursor may
    /// have passed them); an issue the sink holds, from the feed.
    Entering,
    /// Every issue takes its worklogs from itself, its lists longer than the embedded
    /// page read within its unit, and what the sink held of them that the lists lack is
    /// marked deleted: the window is the query's first read (the feed's cursors start at
    /// the window's end, less the overlap, instead of at the beginning of time), or the
    /// site has no worklog feed.
    Every,
}

impl IssueWorklogs {
    /// How the issues of `window` take their worklogs, for a run in the state `state`.
    pub(crate) fn of(
        options: &crate::SyncOptions,
        window: &crate::Window,
        state: &SyncState,
    ) -> Self {
        match options.worklogs {
            false => IssueWorklogs::Feed,
            true if window.worklogs_from_issues => IssueWorklogs::Every,
            true if state.worklogs_since_ms > 0 => IssueWorklogs::Entering,
            true => IssueWorklogs::Feed,
        }
    }

    /// Whether the issues' `worklog` field is asked for.
    pub(crate) fn carried(self) -> bool {
        self != IssueWorklogs::Feed
    }
}

/// The worklogs an issue carried in its `worklog` field (Jira embeds the first 20).
#[derive(Debug, Default)]
pub(crate) struct Embedded {
    /// The embedded page, when it is the thread's start (`startAt` 0).
    pub(crate) worklogs: Vec<Child>,
    /// The issue's worklogs in all.
    pub(crate) total: u64,
}

impl Embedded {
    /// Reads an issue's `worklog` field (`{startAt, maxResults, total, worklogs}`). An
    /// answer without the field (it was asked for) says nothing of the list, which is then
    /// read from its endpoint rather than taken for empty.
    pub(crate) fn parse(field: &Value, issue_id: u64) -> Result<Self, Error> {
        if field.is_null() {
            return Ok(Embedded {
                worklogs: Vec::new(),
                total: u64::MAX,
            });
        }
        let listed = field
            .get("worklogs")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let start_at = field.get("startAt").and_then(Value::as_u64).unwrap_or(0);
        let worklogs = match start_at {
            0 => listed
                .iter()
                .map(|worklog| Child::from_value(worklog, issue_id, At::Updated))
                .collect::<Result<Vec<_>, _>>()?,
            // Not the start: the issue's worklogs are read from their endpoint.
            _ => Vec::new(),
        };
        let total = field
            .get("total")
            .and_then(Value::as_u64)
            .unwrap_or(start_at + listed.len() as u64);
        Ok(Embedded { worklogs, total })
    }

    /// Its JSON's bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.worklogs.iter().map(|w| w.json.get().len()).sum()
    }

    /// Whether it holds every worklog of its issue.
    pub(crate) fn complete(&self) -> bool {
        self.worklogs.len() as u64 >= self.total
    }

    /// Reads the rest of the list from the issue's endpoint, when the embedded page does
    /// not hold all of it; the requests it took.
    pub(crate) async fn complete_from<T: Transport>(
        &mut self,
        transport: &Arc<T>,
        issue_id: u64,
    ) -> Result<usize, Error> {
        if self.complete() {
            return Ok(0);
        }
        let (worklogs, requests) = issue_worklogs(transport, issue_id).await?;
        self.total = worklogs.len() as u64;
        self.worklogs = worklogs;
        Ok(requests)
    }
}

/// Gives every issue of `batch` that the sink does not hold live yet (new, moved into
/// the query, back from the trash, found by a census), or with [`IssueWorklogs::Every`]
/// every issue, its worklogs, read from the issue itself: the embedded ones when they are
/// all of them, else every page of `GET /issue/{id}/worklog`. The worklog feed cannot be
/// trusted with them: its cursor may have passed them before the issue was in the sink.
/// With [`IssueWorklogs::Every`], a worklog the sink holds live of an issue it already
/// held that the issue's list lacks is marked deleted (now).
/// `embedded` holds what the issues carried; an issue it lacks is read from its endpoint.
/// The requests it took.
pub(crate) async fn entering_worklogs<T, S>(
    transport: &Arc<T>,
    concurrency: usize,
    sink: &mut S,
    batch: &mut SyncBatch,
    mut embedded: BTreeMap<u64, Embedded>,
    which: IssueWorklogs,
) -> Result<usize, Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let mut read = Vec::new();
    let ids: Vec<u64> = batch.issues.iter().map(|issue| issue.id).collect();
    let held = blocking(|| sink.held_of(&ids))?;
    for issue in &batch.issues {
        if which != IssueWorklogs::Every && held.contains(&issue.id) {
            // Held: its worklogs are the feed's (new ones) and the sink's (older ones).
            continue;
        }
        match embedded.remove(&issue.id) {
            Some(carried) if carried.complete() => batch.worklogs.extend(carried.worklogs),
            _ => read.push(issue.id),
        }
    }
    let mut requests = 0;
    let pages = futures_util::stream::iter(read)
        .map(|id| issue_worklogs(transport, id))
        .buffered(concurrency.max(1));
    tokio::pin!(pages);
    while let Some(read) = pages.next().await {
        let (worklogs, sent) = read?;
        requests += sent;
        batch.worklogs.extend(worklogs);
    }
    if which == IssueWorklogs::Every && !held.is_empty() {
        // Each held issue's list is whole: what the sink holds beyond it is gone.
        let held: Vec<u64> = held.into_iter().collect();
        let listed: std::collections::HashSet<u64> = batch.worklogs.iter().map(|w| w.id).collect();
        let at = crate::record::now_ms();
        let before = blocking(|| sink.worklogs_held(&held))?;
        batch.deleted_worklogs.extend(
            before
                .into_iter()
                .filter(|(_, id)| !listed.contains(id))
                .map(|(_, id)| (id, at)),
        );
    }
    Ok(requests)
}

/// Every worklog of issue `issue_id`, page after page; the requests it took.
async fn issue_worklogs<T: Transport>(
    transport: &Arc<T>,
    issue_id: u64,
) -> Result<(Vec<Child>, usize), Error> {
    let page = |id: &str, start: u64| {
        ApiRequest::issue_worklogs(id, start, jira_model::ISSUE_WORKLOGS_PAGE_MAX)
    };
    crate::paged::issue_children(transport, issue_id, At::Updated, page, "worklog").await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Embedded;

    #[test]
    fn a_worklog_field_the_answer_left_out_is_not_taken_for_an_empty_list() {
        let absent = Embedded::parse(&serde_json::Value::Null, 7).unwrap();
        assert!(!absent.complete(), "read from the issue's endpoint");
        let empty = json!({"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []});
        assert!(Embedded::parse(&empty, 7).unwrap().complete());
    }
}

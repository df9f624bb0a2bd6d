//! Complete, incremental, resumable exports of the issues a JQL query matches, with their
//! whole history, into a [`Sink`].
//!
//! The sink keeps, beside the data and in the same commit, a [`SyncState`]: the
//! high-water mark of `updated` (epoch milliseconds) and the `(id, updated)` of every
//! issue within the overlap below it. A run asks for
//! `(<jql>) AND updated >= mark − overlap AND updated <= now − settle ORDER BY updated ASC`
//! (epoch milliseconds: no time zone to get wrong; the overlap re-reads what minute
//! granularity and a lagging index could have hidden; the settle time holds the window's
//! end back from writes the index may not show yet), drops what it already holds by
//! `(id, updated)`, bulk-fetches the rest, takes their complete histories from
//! `POST /changelog/bulkfetch` (never from `expand=changelog`, which Jira cuts at 40), and
//! commits page by page: data and state together, so a run killed at any moment resumes
//! from the last durable page, with nothing fetched twice that is already durable and
//! nothing left out.
//!
//! Comments come with each issue's bulk fetch (the field's first page; the rest of a long
//! thread paged by the comment endpoint). Worklogs come from the tenant-wide feeds,
//! `/worklog/updated` then `/worklog/list` (1,000 a call) for those on synced issues, and
//! `/worklog/deleted` marks deleted ones in the sink (a tombstone, not a silent loss); the
//! feeds' own cursors are kept in the state too.
//!
//! Deleted issues leave no trace in an `updated` window, so each run ends with a census:
//! an id-only search of the query (5,000 ids a page), and every issue the sink holds that
//! the site no longer returns is marked deleted (a tombstone with the time it was found
//! gone), never dropped silently; one that comes back is live again.

mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use jira_batch::{BatchConfig, FetchError, SearchOptions, fetch_issues, search_pages};
use jira_model::{ApiRequest, ChangelogBulkPage, ChangelogBulkRequest, Issue};
use jira_transport::Transport;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use sqlite::SqliteSink;

use crate::Error;

/// What a sync reads and how it windows the query.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The query, bounded (`project in (A, B)`); no `ORDER BY` (the sync orders).
    pub jql: String,
    /// Also take every issue's complete history.
    pub changelogs: bool,
    /// Also take every issue's comments.
    pub comments: bool,
    /// Also take the worklogs of the synced issues (and mark deleted ones).
    pub worklogs: bool,
    /// End with an id census that marks issues gone from the site (or the query).
    pub census: bool,
    /// How far below the mark a run reads again (minute granularity, index lag).
    pub overlap: Duration,
    /// How far behind now the window ends (writes the search index may not show yet).
    pub settle: Duration,
    /// Ignore the saved state and read everything the query matches.
    pub full: bool,
    /// The fields stored for each issue (bulk fetch's `fields`; `*navigable` by default).
    pub fields: Vec<String>,
}

impl SyncOptions {
    /// `jql` with the defaults: histories on, two minutes of overlap, 30 s of settle.
    pub fn new(jql: impl Into<String>) -> Self {
        SyncOptions {
            jql: jql.into(),
            changelogs: true,
            comments: true,
            worklogs: true,
            census: true,
            overlap: Duration::from_secs(120),
            settle: Duration::from_secs(30),
            full: false,
            fields: vec!["*navigable".into()],
        }
    }
}

/// Where a sync stands, saved with the data it describes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The query this state belongs to (another query starts afresh).
    pub jql: String,
    /// Every matching issue updated before this instant (epoch ms) is durable, and those
    /// at it that `recent` names.
    pub mark_ms: Option<i64>,
    /// `(id, updated)` of the durable issues within the overlap below the mark.
    pub recent: BTreeMap<String, i64>,
    /// Runs completed.
    pub runs: u64,
    /// The `/worklog/updated` cursor (epoch ms) after the last durable worklog page.
    #[serde(default)]
    pub worklogs_since_ms: i64,
    /// The `/worklog/deleted` cursor.
    #[serde(default)]
    pub deleted_worklogs_since_ms: i64,
}

/// One commit: issues and, when asked for, their complete histories.
#[derive(Clone, Debug, Default)]
pub struct SyncBatch {
    /// The issues, as bulk fetch returned them.
    pub issues: Vec<Issue>,
    /// Each issue's complete history (by issue id), oldest first: it replaces what the
    /// sink held for that issue.
    pub histories: BTreeMap<String, Vec<Value>>,
    /// Each issue's comments (by issue id): they replace what the sink held.
    pub comments: BTreeMap<String, Vec<Value>>,
    /// Worklogs to upsert (each carries its `issueId`).
    pub worklogs: Vec<Value>,
    /// Worklog ids deleted on the site, with when: the sink keeps a tombstone.
    pub deleted_worklogs: Vec<(u64, i64)>,
}

/// Durable storage for a sync: data and state committed together.
pub trait Sink: Send {
    /// The saved state of `jql`, if a run of it committed anything.
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error>;
    /// Writes `batch` (upserting issues by id, replacing their histories) and `state` in
    /// one atomic commit.
    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error>;
    /// Whether the sink holds the issue with this id (worklogs are kept for those only).
    fn has_issue(&mut self, id: &str) -> Result<bool, Error>;
    /// Marks every live issue not in `present` deleted at `at_ms` (a tombstone) and brings
    /// back the ones in it; how many it marked.
    fn tombstone_missing(
        &mut self,
        present: &std::collections::HashSet<u64>,
        at_ms: i64,
    ) -> Result<usize, Error>;
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Issues written (new or changed).
    pub issues_written: usize,
    /// Issues the window returned that the sink already held at that `updated`.
    pub issues_unchanged: usize,
    /// History entries written.
    pub history_entries: usize,
    /// Comments written.
    pub comments: usize,
    /// Worklogs written.
    pub worklogs: usize,
    /// Worklogs marked deleted.
    pub worklogs_deleted: usize,
    /// Issues the census found gone and marked deleted.
    pub issues_deleted: usize,
    /// Search pages read.
    pub search_pages: usize,
    /// HTTP requests sent (search pages, bulk fetches, changelog pages).
    pub requests: usize,
    /// Commits made.
    pub commits: usize,
    /// The mark after the run (epoch ms).
    pub mark_ms: Option<i64>,
    /// Issues the window named that bulk fetch could not return (deleted meanwhile).
    pub missing: Vec<String>,
}

/// Milliseconds since the epoch of a Jira timestamp (`2024-01-18T07:33:17.016+0000`).
pub(crate) fn jira_time_ms(text: &str) -> Option<i64> {
    text.parse::<jira_model::JiraTimestamp>()
        .ok()
        .map(|t| t.unix_millis())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Runs one sync of `options.jql` into `sink` over `transport`.
pub async fn sync<T, S>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    sink: &mut S,
    options: &SyncOptions,
) -> Result<SyncReport, Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    let mut state = match options.full {
        true => None,
        false => sink.load_state(&options.jql)?,
    }
    .unwrap_or_else(|| SyncState {
        jql: options.jql.clone(),
        ..SyncState::default()
    });
    let overlap = options.overlap.as_millis() as i64;
    let end = now_ms() - options.settle.as_millis() as i64;
    let mut window = format!("({}) AND updated <= {end}", options.jql);
    if let Some(mark) = state.mark_ms {
        window.push_str(&format!(" AND updated >= {}", mark - overlap));
    }
    window.push_str(" ORDER BY updated ASC, id ASC");
    let mut report = SyncReport::default();
    let pages = search_pages(
        transport.clone(),
        window,
        SearchOptions {
            fields: vec!["updated".into()],
            page_size: jira_model::SEARCH_PAGE_MAX,
            prefetch: true,
        },
    );
    tokio::pin!(pages);
    let mut fields = options.fields.clone();
    if options.comments && !fields.iter().any(|f| f == "comment") {
        fields.push("comment".into());
    }
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    while let Some(page) = pages.next().await {
        let page = page?;
        report.search_pages += 1;
        report.requests += 1;
        // What the window shows, and what the sink lacks of it.
        let mut seen: Vec<(String, i64)> = Vec::with_capacity(page.issues.len());
        for issue in &page.issues {
            let updated = issue
                .fields
                .get("updated")
                .and_then(Value::as_str)
                .and_then(jira_time_ms)
                .ok_or_else(|| {
                    Error::Sync(format!(
                        "sync: issue {} came without a readable `updated`; the search must return it",
                        issue.id
                    ))
                })?;
            seen.push((issue.id.clone(), updated));
        }
        let wanted: Vec<String> = seen
            .iter()
            .filter(|(id, updated)| state.recent.get(id) != Some(updated))
            .map(|(id, _)| id.clone())
            .collect();
        report.issues_unchanged += seen.len() - wanted.len();
        let mut commit = SyncBatch::default();
        if !wanted.is_empty() {
            let (results, fetched) = fetch_issues::<_, jira_cache::SledStore>(
                transport,
                None,
                batch,
                &wanted,
                &field_refs,
                &[],
            )
            .await?;
            report.requests += fetched.requests;
            for (id, result) in results {
                match result {
                    Ok(mut issue) => {
                        if options.comments {
                            let (comments, requests) = comments_of(transport, &mut issue).await?;
                            report.requests += requests;
                            report.comments += comments.len();
                            commit.comments.insert(issue.id.clone(), comments);
                        }
                        commit.issues.push(issue);
                    }
                    Err(FetchError::NotFound(_)) => report.missing.push(id),
                    Err(FetchError::Failed { message, .. }) => {
                        return Err(Error::Sync(format!(
                            "sync: issue {id} could not be fetched ({message}); nothing past the last commit was written, run again to resume"
                        )));
                    }
                }
            }
            if options.changelogs && !commit.issues.is_empty() {
                let ids: Vec<String> = commit.issues.iter().map(|i| i.id.clone()).collect();
                let (histories, requests) = histories(transport, &ids).await?;
                report.requests += requests;
                report.history_entries += histories.values().map(Vec::len).sum::<usize>();
                commit.histories = histories;
            }
        }
        // The page is durable once committed: move the mark to its newest issue.
        if let Some(newest) = seen.iter().map(|(_, updated)| *updated).max() {
            let mark = state.mark_ms.map_or(newest, |m| m.max(newest));
            state.mark_ms = Some(mark);
            for (id, updated) in &seen {
                state.recent.insert(id.clone(), *updated);
            }
            state.recent.retain(|_, updated| *updated >= mark - overlap);
        }
        report.issues_written += commit.issues.len();
        sink.commit(&commit, &state)?;
        report.commits += 1;
    }
    if options.worklogs {
        sync_worklogs(transport, sink, &mut state, &mut report).await?;
    }
    if options.census {
        let census = search_pages(
            transport.clone(),
            options.jql.clone(),
            SearchOptions {
                fields: Vec::new(),
                page_size: jira_model::SEARCH_ID_PAGE_MAX,
                prefetch: true,
            },
        );
        tokio::pin!(census);
        let mut present = std::collections::HashSet::new();
        while let Some(page) = census.next().await {
            let page = page?;
            report.requests += 1;
            present.extend(page.issues.iter().filter_map(|i| i.id.parse::<u64>().ok()));
        }
        report.issues_deleted = sink.tombstone_missing(&present, now_ms())?;
    }
    state.runs += 1;
    sink.commit(&SyncBatch::default(), &state)?;
    report.commits += 1;
    report.mark_ms = state.mark_ms;
    Ok(report)
}

/// Takes an issue's `comment` field out of it: its comments, every page (the field holds
/// the first; a longer thread is paged by the comment endpoint).
async fn comments_of<T: Transport>(
    transport: &Arc<T>,
    issue: &mut Issue,
) -> Result<(Vec<Value>, usize), Error> {
    let field = issue.fields.remove("comment").unwrap_or(Value::Null);
    let mut comments: Vec<Value> = field
        .get("comments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = field
        .get("total")
        .and_then(Value::as_u64)
        .unwrap_or(comments.len() as u64);
    let mut requests = 0;
    while (comments.len() as u64) < total {
        let request = ApiRequest::comments(&issue.id, comments.len() as u64, 100);
        let response = transport.send(request).await?;
        requests += 1;
        let page: Value = response.json()?;
        let more = page
            .get("comments")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if more.is_empty() {
            break;
        }
        comments.extend(more);
    }
    Ok((comments, requests))
}

/// Reads the worklog feeds from the state's cursors: the updated worklogs of synced
/// issues are upserted, the deleted ones marked, each page committed with its cursor.
async fn sync_worklogs<T, S>(
    transport: &Arc<T>,
    sink: &mut S,
    state: &mut SyncState,
    report: &mut SyncReport,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Sink + ?Sized,
{
    for deleted in [false, true] {
        loop {
            let since = if deleted {
                state.deleted_worklogs_since_ms
            } else {
                state.worklogs_since_ms
            };
            let response = transport
                .send(ApiRequest::worklogs_changed(since, deleted))
                .await?;
            report.requests += 1;
            let page: Value = response.json()?;
            let values = page
                .get("values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let until = page.get("until").and_then(Value::as_i64).unwrap_or(since);
            let last = page
                .get("lastPage")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let mut commit = SyncBatch::default();
            if deleted {
                for value in &values {
                    if let (Some(id), Some(at)) = (
                        value.get("worklogId").and_then(Value::as_u64),
                        value.get("updatedTime").and_then(Value::as_i64),
                    ) {
                        commit.deleted_worklogs.push((id, at));
                    }
                }
                report.worklogs_deleted += commit.deleted_worklogs.len();
                state.deleted_worklogs_since_ms = until.max(since);
            } else {
                let ids: Vec<u64> = values
                    .iter()
                    .filter_map(|v| v.get("worklogId").and_then(Value::as_u64))
                    .collect();
                for chunk in ids.chunks(1_000) {
                    let response = transport.send(ApiRequest::worklog_list(chunk)?).await?;
                    report.requests += 1;
                    let worklogs: Vec<Value> = response.json()?;
                    for worklog in worklogs {
                        let issue = worklog
                            .get("issueId")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        if sink.has_issue(&issue)? {
                            commit.worklogs.push(worklog);
                        }
                    }
                }
                report.worklogs += commit.worklogs.len();
                state.worklogs_since_ms = until.max(since);
            }
            sink.commit(&commit, state)?;
            report.commits += 1;
            if last || values.is_empty() {
                break;
            }
        }
    }
    Ok(())
}

/// The complete histories of `ids` (at most 1,000 a call), every page followed; the number
/// of requests it took.
async fn histories<T: Transport>(
    transport: &Arc<T>,
    ids: &[String],
) -> Result<(BTreeMap<String, Vec<Value>>, usize), Error> {
    let mut all: BTreeMap<String, Vec<Value>> =
        ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    let mut requests = 0;
    for chunk in ids.chunks(jira_model::CHANGELOG_BULK_MAX_ISSUES) {
        let mut token = None;
        loop {
            let body = ChangelogBulkRequest {
                issue_ids_or_keys: chunk.to_vec(),
                max_results: Some(1_000),
                next_page_token: token,
                ..ChangelogBulkRequest::default()
            };
            let request = ApiRequest::changelog_bulk(&body)?;
            let response = transport.send(request).await?;
            requests += 1;
            if !response.is_success() {
                return Err(Error::Sync(format!(
                    "sync: POST /rest/api/3/changelog/bulkfetch answered HTTP {}; run again to resume",
                    response.status.as_u16()
                )));
            }
            let page: ChangelogBulkPage = response.json()?;
            for log in page.issue_change_logs {
                all.entry(log.issue_id)
                    .or_default()
                    .extend(log.change_histories);
            }
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
    }
    Ok((all, requests))
}

//! Reading a window's issues into units: the `ids` strategy (id-only pages, then bulk
//! fetches) and the `pages`/`slices` strategies (search pages with the fields), each unit
//! completed with its comments and complete histories.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::TryStreamExt as _;
use jira_batch::{BatchConfig, FetchError, fetch_issues};
use jira_model::{ApiRequest, Issue};
use jira_transport::Transport;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Error;
use crate::histories::histories;
use crate::memory::{Gauge, MemoryBudget};
use crate::options::SyncOptions;
use crate::record::{self, At, Child, SyncedIssue, numeric_id, updated_ms};
use crate::run::Unit;
use crate::worklogs::{Embedded, IssueWorklogs};

/// What completing a unit takes besides the stack: where its issues' worklogs come from,
/// the issues the sink holds at their `updated` (skipped), and the run's memory budget.
#[derive(Clone)]
pub(crate) struct Completion {
    pub(crate) worklogs: IssueWorklogs,
    pub(crate) recent: Arc<BTreeMap<String, i64>>,
    pub(crate) budget: MemoryBudget,
}

/// What an `ids` read may change while it runs: the unit size and the units in flight
/// (a far site's plan lands after its first units started), and whether it goes on past
/// the first id page.
#[derive(Clone)]
pub(crate) struct Tuning {
    unit_issues: Arc<std::sync::atomic::AtomicUsize>,
    pub(crate) units: Gauge,
    /// Units read and not yet taken by the commit loop: half as many as may be in flight
    /// (at least ten, [`waiting_for`]).
    pub(crate) waiting: Gauge,
    /// Requests the read sent and did not use (the page asked ahead for a plan that then
    /// chose another way).
    unused: Arc<std::sync::atomic::AtomicUsize>,
}

impl Tuning {
    /// Units of `unit_issues` issues, `concurrency` in flight.
    pub(crate) fn new(unit_issues: usize, concurrency: usize) -> Self {
        Tuning {
            unit_issues: Arc::new(std::sync::atomic::AtomicUsize::new(unit_issues.max(1))),
            units: Gauge::new(concurrency.max(1)),
            waiting: Gauge::new(waiting_for(concurrency)),
            unused: Arc::default(),
        }
    }

    /// Requests the read sent and did not use.
    pub(crate) fn unused_requests(&self) -> usize {
        self.unused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// From now on, units of `unit_issues`, `concurrency` in flight.
    pub(crate) fn set(&self, unit_issues: usize, concurrency: usize) {
        self.unit_issues
            .store(unit_issues.max(1), std::sync::atomic::Ordering::Relaxed);
        self.units.resize(concurrency.max(1));
        self.waiting.resize(waiting_for(concurrency));
    }

    pub(crate) fn unit_issues(&self) -> usize {
        self.unit_issues
            .load(std::sync::atomic::Ordering::Relaxed)
            .clamp(1, jira_model::BULK_FETCH_MAX_ISSUES)
    }
}

/// The units that may wait for the commit loop beside `concurrency` in flight: half as
/// many, and never fewer than [`WAITING_AT_LEAST`]. A far site keeps many units on the
/// wire for their latency, and this is room for those that come back while a commit is
/// made (the reader stops starting units once it is full); a near one, whose commits are
/// the bottleneck, holds little more than its units in flight.
fn waiting_for(concurrency: usize) -> usize {
    (concurrency / 2).max(WAITING_AT_LEAST)
}

/// The fewest units that may wait for the commit loop: a commit's worth of 1,000 issues
/// in units of 100.
const WAITING_AT_LEAST: usize = 10;

/// Bulk-fetches `ids` with the fields and completes them (with the worklogs they carry
/// when `worklogs` takes them from the issues, see [`complete`]). With `settled_at` (a
/// window's end), the histories of the ids the sink does not hold recently are read
/// beside the bulk fetch rather than after it; they are kept for an issue that has not changed since
/// `settled_at` (no entry can have been added after they were read), and read again for
/// one that has.
pub(crate) async fn fetch_unit<T: Transport + 'static>(
    transport: &Arc<T>,
    batch: &BatchConfig,
    options: &SyncOptions,
    ids: &[String],
    worklogs: IssueWorklogs,
    recent: &BTreeMap<String, i64>,
    settled_at: Option<i64>,
) -> Result<Unit, Error> {
    let fields = options.read_fields(worklogs.carried());
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let single = BatchConfig {
        max_concurrent: 1,
        ..batch.clone()
    };
    let early_ids: Vec<u64> = match settled_at {
        Some(_) if options.changelogs => ids
            .iter()
            .filter(|id| !recent.contains_key(*id))
            .filter_map(|id| id.parse().ok())
            .collect(),
        _ => Vec::new(),
    };
    // The answer is turned into text as soon as it arrives, not once the histories beside
    // it are back: a parsed tree takes several times its text's memory, and a unit whose
    // changelog pages are slower than its fetch would hold it all that while.
    let fetch = async {
        let (results, fetched) = fetch_issues::<_, jira_cache::SledStore>(
            transport,
            None,
            &single,
            ids,
            &field_refs,
            &[],
        )
        .await?;
        let mut issues = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (id, result) in results {
            match result {
                Ok(issue) => issues.push(issue),
                Err(FetchError::NotFound(_)) => missing.push(id),
                Err(FetchError::Failed { message, .. }) => {
                    return Err(Error::Sync(format!(
                        "sync: issue {id} could not be fetched ({message}); nothing past the last commit was written, run again to resume"
                    )));
                }
            }
        }
        let (mut unit, threads) = records(options, issues, worklogs, recent)?;
        unit.requests += fetched.requests;
        unit.missing = missing;
        Ok::<_, Error>((unit, threads))
    };
    let (fetched, early) = tokio::join!(fetch, async {
        match early_ids.is_empty() {
            true => Ok(None),
            false => histories(transport, &early_ids).await.map(Some),
        }
    });
    let (unit, threads) = fetched?;
    let early = early?.map(|(histories, requests)| Early {
        histories,
        requests,
        settled_at: settled_at.unwrap_or(i64::MIN),
    });
    finish(transport, options, unit, threads, worklogs, early).await
}

/// Drops the issues the sink already holds at this `updated`, then takes the rest's
/// comments (long threads paged) and complete histories, and (when `worklogs` takes them
/// from the issues) keeps the worklogs each carried for the commit to give to those that
/// enter the sink (with [`IssueWorklogs::Every`], to every issue: lists longer than the
/// embedded page are read here). Every issue
/// is turned into text before the first request, so a unit waiting on the network holds
/// no parsed trees.
pub(crate) async fn complete<T: Transport>(
    transport: &Arc<T>,
    options: &SyncOptions,
    issues: Vec<Issue>,
    worklogs: IssueWorklogs,
    recent: &BTreeMap<String, i64>,
    early: Option<Early>,
) -> Result<Unit, Error> {
    let (unit, threads) = records(options, issues, worklogs, recent)?;
    finish(transport, options, unit, threads, worklogs, early).await
}

/// Comment threads longer than what an answer embedded: (issue id, comments in all,
/// `None` when the answer did not say).
type Threads = Vec<(u64, Option<u64>)>;

/// The first, synchronous step of [`complete`]: `issues` as text (the unchanged ones
/// counted and dropped), their embedded comments and worklogs taken out as records of
/// their own; with the threads longer than their embedded page, (issue id, comments in
/// all, `None` when the answer did not say).
fn records(
    options: &SyncOptions,
    issues: Vec<Issue>,
    worklogs: IssueWorklogs,
    recent: &BTreeMap<String, i64>,
) -> Result<(Unit, Threads), Error> {
    let mut unit = Unit::default();
    // Threads longer than the field's first page: (issue id, comments in all).
    let mut threads: Threads = Vec::new();
    for mut issue in issues {
        let updated = updated_ms(&issue)?;
        unit.seen.push((issue.id.clone(), updated));
        if recent.get(&issue.id) == Some(&updated) {
            unit.unchanged += 1;
            continue;
        }
        let id = numeric_id(&issue.id)?;
        if options.comments {
            let field = issue.fields.remove("comment").unwrap_or(Value::Null);
            // The field was asked for; an answer without it (a site that does not embed
            // comments in a bulk fetch) says nothing of the thread, which is then read
            // from its endpoint rather than taken for empty.
            if field.is_null() {
                threads.push((id, None));
                unit.batch.comments.insert(id, Vec::new());
            }
            let first = field
                .get("comments")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            // The embedded page is the thread's start only when it says `startAt` 0; a
            // later page (Jira does not promise the first) is dropped and the thread read
            // from its start, so no comment is skipped or written twice.
            let start_at = field.get("startAt").and_then(Value::as_u64).unwrap_or(0);
            let comments = if start_at == 0 {
                first
                    .iter()
                    .map(|comment| Child::from_value(comment, id, At::Updated))
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                Vec::new()
            };
            let total = field
                .get("total")
                .and_then(Value::as_u64)
                .unwrap_or(start_at + first.len() as u64);
            if !field.is_null() {
                if (comments.len() as u64) < total {
                    threads.push((id, Some(total)));
                }
                unit.batch.comments.insert(id, comments);
            }
        }
        if options.worklogs {
            // Worklogs are records of their own, never part of the issue's JSON.
            let field = issue.fields.remove("worklog").unwrap_or(Value::Null);
            if worklogs.carried() {
                unit.embedded.insert(id, Embedded::parse(&field, id)?);
            }
        }
        unit.batch.issues.push(SyncedIssue {
            id,
            key: issue.key.clone(),
            updated_ms: updated,
            json: record::raw(&issue)?,
        });
    }
    Ok((unit, threads))
}

/// The rest of [`complete`], on the network: the long threads' pages, the histories
/// (those of `early` kept where they hold every entry) and, with every issue taking its
/// worklogs from itself, the worklog lists longer than their embedded page.
async fn finish<T: Transport>(
    transport: &Arc<T>,
    options: &SyncOptions,
    mut unit: Unit,
    threads: Threads,
    worklogs: IssueWorklogs,
    early: Option<Early>,
) -> Result<Unit, Error> {
    // The long threads, side by side, beside the histories: a unit's wall is its slowest
    // chain of requests, not their sum.
    let threads = futures_util::future::try_join_all(threads.into_iter().map(|(id, total)| {
        let mut comments = unit.batch.comments.remove(&id).unwrap_or_default();
        async move {
            let sent = more_comments(transport, id, total, &mut comments).await?;
            Ok::<_, Error>((id, comments, sent))
        }
    }));
    let histories = async {
        // The requests the early histories took are the unit's whatever it holds (its
        // issues may all have gone between the listing and the fetch).
        let mut requests = early.as_ref().map_or(0, |early| early.requests);
        if !options.changelogs || unit.batch.issues.is_empty() {
            return Ok::<_, Error>((None, requests));
        }
        let mut known = BTreeMap::new();
        if let Some(early) = early {
            let settled: std::collections::HashSet<u64> = unit
                .batch
                .issues
                .iter()
                .filter(|i| i.updated_ms <= early.settled_at)
                .map(|i| i.id)
                .collect();
            known = early.histories;
            known.retain(|id, _| settled.contains(id));
        }
        let ids: Vec<u64> = unit
            .batch
            .issues
            .iter()
            .map(|i| i.id)
            .filter(|id| !known.contains_key(id))
            .collect();
        if !ids.is_empty() {
            let (histories, sent) = histories(transport, &ids).await?;
            requests += sent;
            known.extend(histories);
        }
        Ok((Some(known), requests))
    };
    // With every issue taking its worklogs from itself, the lists longer than the
    // embedded page are read here, beside the threads, rather than at the commit.
    let worklog_lists = futures_util::future::try_join_all(
        unit.embedded
            .iter_mut()
            .filter(|(_, carried)| worklogs == IssueWorklogs::Every && !carried.complete())
            .map(|(id, carried)| carried.complete_from(transport, *id)),
    );
    let (threads, histories, worklog_requests) =
        tokio::try_join!(threads, histories, worklog_lists)?;
    unit.requests += worklog_requests.iter().sum::<usize>();
    for (id, comments, sent) in threads {
        unit.requests += sent;
        unit.batch.comments.insert(id, comments);
    }
    let (known, requests) = histories;
    unit.requests += requests;
    if let Some(known) = known {
        unit.batch.histories = known;
    }
    Ok(unit)
}

/// Histories read beside a bulk fetch ([`fetch_unit`]).
pub(crate) struct Early {
    histories: BTreeMap<u64, Vec<Child>>,
    requests: usize,
    /// They hold every entry of an issue not updated after this (epoch ms).
    settled_at: i64,
}

/// A page of `GET /issue/{id}/comment`, each comment kept as text.
#[derive(Deserialize)]
struct CommentsPage {
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    comments: Vec<Box<RawValue>>,
}

/// Pages of one long comment thread asked at once: the thread's total is known from its
/// embedded page, so its pages need not wait for one another.
pub(crate) const THREAD_PAGES_AT_ONCE: usize = 8;

/// Comments a page of `GET /issue/{id}/comment` is asked for.
pub(crate) const COMMENT_PAGE: u32 = 100;

/// Reads the rest of a thread of `total` comments whose first page is in `comments`:
/// the pages past it side by side ([`THREAD_PAGES_AT_ONCE`] at a time), then, should the
/// thread have shifted while it was read (a comment added or deleted), on from what is
/// held, one page after another. A thread whose total is not known (`None`) is read from
/// its first page, whose `total` says the rest. A comment already held, by id, is not
/// taken twice. The number of requests it took.
async fn more_comments<T: Transport>(
    transport: &Arc<T>,
    issue_id: u64,
    total: Option<u64>,
    comments: &mut Vec<Child>,
) -> Result<usize, Error> {
    let mut requests = 0;
    let id = issue_id.to_string();
    let mut held: std::collections::HashSet<u64> = comments.iter().map(|c| c.id).collect();
    let total = match total {
        Some(total) => Some(total),
        None => {
            let request = ApiRequest::comments(&id, comments.len() as u64, COMMENT_PAGE);
            let page: CommentsPage = transport.send(request).await?.json()?;
            requests += 1;
            let read = page.comments.len() as u64;
            for comment in page.comments {
                let comment = Child::parse(comment, Some(issue_id), At::Updated)?;
                if held.insert(comment.id) {
                    comments.push(comment);
                }
            }
            // A page without a total, or an empty one: what follows is read page by page.
            page.total.filter(|_| read > 0)
        }
    };
    let (total, starts): (u64, Vec<u64>) = match total {
        Some(total) => (
            total,
            (comments.len() as u64..total)
                .step_by(COMMENT_PAGE as usize)
                .collect(),
        ),
        None if comments.is_empty() => (0, Vec::new()),
        None => (u64::MAX, Vec::new()),
    };
    let pages: Vec<CommentsPage> = futures_util::stream::iter(starts)
        .map(|start| {
            let request = ApiRequest::comments(&id, start, COMMENT_PAGE);
            async move { Ok::<_, Error>(transport.send(request).await?.json()?) }
        })
        .buffered(THREAD_PAGES_AT_ONCE)
        .try_collect()
        .await?;
    requests += pages.len();
    for page in pages {
        for comment in page.comments {
            let comment = Child::parse(comment, Some(issue_id), At::Updated)?;
            if held.insert(comment.id) {
                comments.push(comment);
            }
        }
    }
    while (comments.len() as u64) < total {
        let request = ApiRequest::comments(&id, comments.len() as u64, COMMENT_PAGE);
        let response = transport.send(request).await?;
        requests += 1;
        let page: CommentsPage = response.json()?;
        if page.comments.is_empty() {
            break;
        }
        let mut added = false;
        for comment in page.comments {
            let comment = Child::parse(comment, Some(issue_id), At::Updated)?;
            if held.insert(comment.id) {
                comments.push(comment);
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jira_transport::testing::{Scripted, Step};

    use super::*;

    fn comment(id: u64) -> Box<RawValue> {
        RawValue::from_string(format!(
            r#"{{"id":"{id}","updated":"2026-03-02T18:21:19.756+0000","body":"c"}}"#
        ))
        .unwrap()
    }

    /// A page of the comments `ids` of a thread of `total`.
    fn page(ids: std::ops::Range<u64>, total: u64) -> String {
        let comments: Vec<String> = ids.map(|id| comment(id).get().to_owned()).collect();
        format!(r#"{{"total":{total},"comments":[{}]}}"#, comments.join(","))
    }

    /// An issue whose answer left its `comment` field out: the thread is read from its
    /// first page, whose total says the rest, and those pages go side by side.
    #[tokio::test(start_paused = true)]
    async fn a_thread_the_answer_said_nothing_of_is_read_from_its_first_page() {
        let second = Duration::from_secs(1);
        let transport = Arc::new(Scripted::new([
            Step::json(200, &page(0..100, 250)).after(second),
            Step::json(200, &page(100..200, 250)).after(second),
            Step::json(200, &page(200..250, 250)).after(second),
        ]));
        let mut comments = Vec::new();
        let started = tokio::time::Instant::now();
        let sent = more_comments(&transport, 7, None, &mut comments)
            .await
            .unwrap();
        assert_eq!(sent, 3);
        let ids: Vec<u64> = comments.iter().map(|c| c.id).collect();
        assert_eq!(ids, (0..250).collect::<Vec<_>>());
        assert_eq!(
            started.elapsed(),
            2 * second,
            "the first page, then the rest at once"
        );
        // An issue with no comment at all: one page, nothing more.
        let empty = Arc::new(Scripted::new([Step::json(
            200,
            r#"{"total":0,"comments":[]}"#,
        )]));
        let mut none = Vec::new();
        assert_eq!(more_comments(&empty, 8, None, &mut none).await.unwrap(), 1);
        assert!(none.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_threads_pages_are_asked_side_by_side_and_nothing_is_taken_twice() {
        let second = Duration::from_secs(1);
        let transport = Arc::new(Scripted::new([
            Step::json(200, &page(20..120, 320)).after(second),
            // The thread shifted while it was read: this page repeats two comments.
            Step::json(200, &page(118..218, 320)).after(second),
            Step::json(200, &page(218..318, 320)).after(second),
            // What the shift left out, asked on from what is held.
            Step::json(200, &page(318..320, 320)).after(second),
        ]));
        let mut comments: Vec<Child> = (0..20)
            .map(|id| Child::parse(comment(id), Some(7), At::Updated).unwrap())
            .collect();
        let started = tokio::time::Instant::now();
        let sent = more_comments(&transport, 7, Some(320), &mut comments)
            .await
            .unwrap();
        assert_eq!(sent, 4);
        let mut ids: Vec<u64> = comments.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..320).collect::<Vec<_>>(), "each comment once");
        let arrivals = transport.arrivals();
        assert!(
            arrivals[..3].iter().all(|at| *at == started),
            "the three pages past the embedded one were asked at once"
        );
        assert_eq!(arrivals[3], started + second);
        let starts: Vec<String> = transport
            .requests()
            .iter()
            .map(|r| {
                r.query
                    .iter()
                    .find(|(k, _)| k == "startAt")
                    .unwrap()
                    .1
                    .clone()
            })
            .collect();
        assert_eq!(starts, ["20", "120", "220", "318"]);
        assert_eq!(started.elapsed(), 2 * second, "two rounds, not four");
    }
}

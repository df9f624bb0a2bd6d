//! Complete, incremental, resumable exports of the issues a JQL query matches, with their
//! whole history, into a [`Sink`]: the job behind `jira-ops sync`, on top of
//! [`jira_client::JiraClient`].
//!
//! # Design
//!
//! - **Data and state in one commit.** The sink keeps, beside the data and in the same
//!   commit, a [`SyncState`]: the high-water mark of `updated` (epoch milliseconds), the
//!   `(id, updated)` of every issue within the overlap below it, and the [`Window`] a run
//!   is reading. A run killed at any moment resumes from the last durable commit, with
//!   nothing fetched twice that is already durable and nothing left out.
//! - **Windows on `updated`, read in id order.** A run's window is
//!   `(<jql>) AND updated <= now − settle AND updated >= mark − overlap` (epoch
//!   milliseconds: no time zone to get wrong). The overlap re-reads what minute
//!   granularity and a lagging index could have hidden; the settle time holds the
//!   window's end back from writes the index may not show yet. Its ids are listed first
//!   and read in id order from a cursor the run keeps: ids do not change when an issue
//!   is updated, so the cursor neither skips nor repeats an issue while the window's
//!   issues change ([`Window`]). Units are committed as they come back, not in id order:
//!   a commit saves the cursor (everything below it is durable) and the id ranges of the
//!   units committed ahead of it ([`Slice::ahead`]), so one slow unit holds up neither
//!   the others' commits nor a resumed run.
//! - **Three ways to read a window** ([`Strategy`]): id-only pages then bulk fetches,
//!   search pages with the fields, or id ranges streamed side by side. [`plan`] measures
//!   the window with sixteen requests and picks the fastest ([`SyncPlan`]), and for the
//!   `ids` way the unit size and the units in flight (Little's law under the memory
//!   budget and the burst rate).
//! - **Histories are complete**: from `POST /changelog/bulkfetch`, never from
//!   `expand=changelog` (which Jira cuts at 40). Comments come with each issue's read, the
//!   rest of a long thread read from the comment endpoint, its pages side by side (the
//!   whole thread when the answer left the field out: never taken for none). A query's
//!   first read takes every issue's worklogs from the issue (its `worklog` field when that
//!   holds them all, else `GET /issue/{id}/worklog`, within the issue's unit) and starts
//!   the tenant-wide
//!   feeds at its window's end less the overlap, rather than paging the whole site's
//!   feed from the beginning of time; later runs take worklogs from the feeds,
//!   `/worklog/updated` then `/worklog/list` (1,000 a call; ids a list answers without
//!   are asked once more, in calls of as many as it answered), and `/worklog/deleted` marks
//!   deleted ones (a tombstone, not a silent loss); the feeds' cursors are kept in the
//!   state too. An issue that enters the sink once the feed's cursor has moved (new, moved
//!   into the query, back from the trash, found by a census) may have worklogs behind that
//!   cursor: it takes them from itself, the same way. A site without the feeds (404 or
//!   405: an older or partial Jira) is remembered in the state: every issue a window
//!   reads then takes its whole list from itself, and what the sink holds that the list
//!   lacks is marked deleted.
//! - **Listed by token, confirmed, read by id.** JQL cannot page by id: `id` is the issue
//!   key field's alias, so `id > N` keeps to issue N's project and `ORDER BY id` sorts by
//!   key (a cursor `AND id > <last id>` over `project in (A, B)` ends with A). A window's
//!   ids are listed id-only by `nextPageToken` (5,000 a page,
//!   [`jira_batch::query_ids`]) and sorted; the bulk fetches (or search pages with
//!   `id in (...)`, [`jira_batch::search_pages_of_ids`]) follow them in id order; the
//!   `ids` way reads the listing's first page at once while its later pages are asked,
//!   each of those units durable as the runs of the sorted listing it holds.
//!   Atlassian does not document what a page token is: were it an offset, an issue
//!   leaving the window while it is listed would leave another out of the list. So a
//!   listing of more than one page is listed again once its ids are read, and what the
//!   first lacked is read too; one page is one answer.
//! - **Deletions** leave no trace in an `updated` window, so a run ends with an id census
//!   (an id-only search of the query, 5,000 ids a page, listed twice when it takes more
//!   than one page so that a page token cannot hide a live issue) whenever it costs one
//!   page or at most 5% of the run's requests, and at least every [`SyncOptions::census_every`].
//!   An issue the query held that the site no longer returns is no longer the query's;
//!   one no query of the sink holds any more is marked deleted with its worklogs, never
//!   dropped silently (so two queries in one sink never erase each other); one the sink
//!   lacks is fetched.
//! - **Memory is bounded by a budget**, not by the export's size: what waits between the
//!   wire and the sink is each entity's JSON text ([`SyncedIssue`], [`Child`]), and each
//!   unit of work takes its share of [`SyncOptions::memory_budget`] before it starts.
//! - **One schema, every sink.** [`relational`] holds the tables once; [`SqliteSink`]
//!   (feature `sqlite`, on by default; bundled SQLite) and the PostgreSQL sink (feature
//!   `postgres`) write them as tables, [`JsonlSink`] (always) as a file per table whose
//!   lines are the same rows. A crate that only wants the client depends on `jira-client`
//!   and compiles no database driver.
//! - **Reads go to Jira, never to the cache**; the client's cached copies of the synced
//!   issues are dropped when the run ends, so a later fetch reads them fresh.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), jira_sync::Error> {
//! use jira_client::JiraClient;
//! use jira_sync::{SqliteSink, SyncOptions};
//!
//! let client = JiraClient::builder("https://your-domain.atlassian.net")
//!     .basic_auth("me@example.com", std::env::var("JIRA_API_TOKEN").unwrap_or_default())
//!     .build()
//!     .await?;
//! let mut sink = SqliteSink::open("jira.db")?;
//! let report = jira_sync::sync(&client, &mut sink, &SyncOptions::new("project = PROJ")).await?;
//! println!("{} issues written, mark at {:?}", report.issues_written, report.mark_ms);
//! # Ok(())
//! # }
//! ```

mod census;
mod early;
mod error;
mod events;
mod histories;
mod jsonl;
mod lock;
mod memory;
mod options;
mod paged;
mod plan;
#[cfg(feature = "postgres")]
mod postgres;
mod read;
mod record;
pub mod relational;
mod run;
mod sink;
#[cfg(feature = "sqlite")]
mod sqlite;
mod status;
mod window;
mod worklogs;

pub use error::Error;
pub use jsonl::{FORMAT as JSONL_FORMAT, JsonlSink, Manifest};
pub use options::{MEMORY_BUDGET, MEMORY_BUDGET_FLOOR, Strategy, SyncOptions, check_query};
pub use plan::{Estimate, MAX_CONCURRENCY, Sample, SyncPlan};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresSink, Target as PostgresTarget, postgres_status, redact as redact_url};
pub use record::{Child, SyncedIssue};
pub use run::SyncReport;
pub use sink::{Census, EmptySink, KeysSeen, Sink, SyncBatch};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSink;
#[cfg(feature = "sqlite")]
pub use status::sqlite_status;
pub use status::{QueryStatus, SinkStatus, jsonl_status};
pub use window::{RUNS_KEPT, RunRecord, Slice, SyncState, Window};

use jira_client::JiraClient;

/// Syncs the issues `options.jql` matches, with their histories, into `sink`:
/// incremental from the state the sink saved, resumable after any interruption (see the
/// crate docs). Reads go to Jira, never to the cache.
pub async fn sync<S: Sink + ?Sized>(
    client: &JiraClient,
    sink: &mut S,
    options: &SyncOptions,
) -> Result<SyncReport, Error> {
    sync_with_progress(client, sink, options, &|_| {}).await
}

/// [`sync`], calling `progress` after every commit with the report so far (what a
/// progress bar shows).
pub async fn sync_with_progress<S: Sink + ?Sized>(
    client: &JiraClient,
    sink: &mut S,
    options: &SyncOptions,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> Result<SyncReport, Error> {
    if !client.has_live_cache() {
        return run::sync(
            client.uncached(),
            client.batch_config(),
            client.http_config().max_in_flight,
            sink,
            options,
            progress,
        )
        .await
        .map_err(|e| e.naming_query(&options.jql));
    }
    // What the cache holds of the synced issues is older than what was just read:
    // dropped once the run ends (however it ends), so a later fetch reads them fresh.
    let mut seen = sink::KeysSeen {
        inner: sink,
        keys: Vec::new(),
    };
    let report = run::sync(
        client.uncached(),
        client.batch_config(),
        client.http_config().max_in_flight,
        &mut seen,
        options,
        progress,
    )
    .await
    .map_err(|e| e.naming_query(&options.jql));
    client.forget_cached(&seen.keys).await;
    report
}

/// What the next [`sync`] of `options` would cost each way (requests, points, wall time)
/// and which way it would take; sixteen requests, nothing written.
pub async fn plan<S: Sink + ?Sized>(
    client: &JiraClient,
    sink: &mut S,
    options: &SyncOptions,
) -> Result<SyncPlan, Error> {
    run::plan(
        client.uncached(),
        client.batch_config(),
        client.http_config().max_in_flight,
        sink,
        options,
    )
    .await
    .map_err(|e| e.naming_query(&options.jql))
}

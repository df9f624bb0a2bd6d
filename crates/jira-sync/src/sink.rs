//! Durable storage for a sync: the [`Sink`] trait and what a commit holds.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Error;
use crate::record::{Child, SyncedIssue};
use crate::window::SyncState;

/// One commit: issues and, when asked for, their complete histories, comments and
/// worklogs, each held as the JSON text Jira sent (see [`SyncedIssue`]).
#[derive(Clone, Debug, Default)]
pub struct SyncBatch {
    /// The issues, as the read returned them.
    pub issues: Vec<SyncedIssue>,
    /// Each issue's complete history (by issue id), oldest first: it replaces what the
    /// sink held for that issue.
    pub histories: BTreeMap<u64, Vec<Child>>,
    /// Each issue's comments (by issue id): they replace what the sink held.
    pub comments: BTreeMap<u64, Vec<Child>>,
    /// Worklogs to upsert (each names its issue).
    pub worklogs: Vec<Child>,
    /// Worklog ids deleted on the site, with when (or when the sync noticed): the sink
    /// keeps a tombstone.
    pub deleted_worklogs: Vec<(u64, i64)>,
}

impl SyncBatch {
    /// The bytes of JSON it holds.
    pub fn bytes(&self) -> usize {
        let children = |lists: &BTreeMap<u64, Vec<Child>>| -> usize {
            lists.values().flatten().map(|c| c.json.get().len()).sum()
        };
        self.issues
            .iter()
            .map(|i| i.json.get().len())
            .sum::<usize>()
            + children(&self.histories)
            + children(&self.comments)
            + self
                .worklogs
                .iter()
                .map(|w| w.json.get().len())
                .sum::<usize>()
    }

    pub(crate) fn append(&mut self, other: SyncBatch) {
        self.issues.extend(other.issues);
        self.histories.extend(other.histories);
        self.comments.extend(other.comments);
        self.worklogs.extend(other.worklogs);
        self.deleted_worklogs.extend(other.deleted_worklogs);
    }
}

/// Durable storage for a sync: data and state committed together.
pub trait Sink: Send {
    /// The saved state of `jql`, if a run of it committed anything.
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error>;
    /// Writes `batch` (upserting issues by id, replacing their histories) and `state` in
    /// one atomic commit. Every issue of `batch` is from then on held by the query
    /// `state.jql` as well as by any other that held it (see [`Sink::census_finish`]).
    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error>;
    /// Whether the sink holds the issue with this id live (not a tombstone): worklogs
    /// from the feed are kept for those only, and one that is not takes its worklogs from
    /// itself when it is written.
    fn has_issue(&mut self, id: &str) -> Result<bool, Error>;
    /// Which of `ids` the sink holds live: [`Sink::has_issue`] for many at once (a sink
    /// across a network answers in one round trip).
    fn held_of(&mut self, ids: &[u64]) -> Result<std::collections::HashSet<u64>, Error> {
        let mut held = std::collections::HashSet::new();
        for id in ids {
            if self.has_issue(&id.to_string())? {
                held.insert(*id);
            }
        }
        Ok(held)
    }
    /// `(issue id, worklog id)` of every live worklog the sink holds of the issues
    /// `issues`: a sync that read an issue's whole worklog list from the issue marks
    /// deleted those the list lacks. A sink that keeps no worklogs returns none; the
    /// default says the sink cannot tell, which a sync needs only when it reads worklogs
    /// from the issues it already holds (a site without worklog feeds).
    fn worklogs_held(&mut self, issues: &[u64]) -> Result<Vec<(u64, u64)>, Error> {
        let _ = issues;
        Err(Error::Sync(
            "sync: this sink cannot list the worklogs it holds, which a site without worklog feeds needs (each issue's list is compared with the sink's); implement Sink::worklogs_held, or sync without worklogs".into(),
        ))
    }
    /// Starts an id census: what [`Sink::census_seen`] reports until
    /// [`Sink::census_finish`] is every issue the query matches.
    fn census_begin(&mut self) -> Result<(), Error>;
    /// Ids the census found on the site.
    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error>;
    /// Ends the census of the query `jql`: every issue that query held and the census did
    /// not see is no longer held by it, and one no other query holds either is marked
    /// deleted at `at_ms` (a tombstone), with its worklogs. An issue another query of the
    /// sink holds is never marked by this one's census. The live issues the census saw
    /// are held by `jql` from then on; it names those it saw that the sink does not hold
    /// live (the sync fetches them).
    fn census_finish(&mut self, jql: &str, at_ms: i64) -> Result<Census, Error>;
    /// How many live issues the query `jql` holds, when the sink can tell cheaply (a
    /// sync uses it to price a census; `None` prices it unknown).
    fn issues_held(&mut self, jql: &str) -> Result<Option<u64>, Error> {
        let _ = jql;
        Ok(None)
    }
    /// The `n` live issues of the query `jql` with the latest `updated`, with it (epoch
    /// ms), newest first: a run checks them against the site to notice a site that went
    /// back in time (restored from a backup, a sandbox reset). A sink that cannot tell
    /// returns none, and the check is skipped.
    fn newest_held(&mut self, jql: &str, n: usize) -> Result<Vec<(u64, i64)>, Error> {
        let _ = (jql, n);
        Ok(Vec::new())
    }
    /// The site's field catalogue (`GET /field`), read once a run, so ids in the data can
    /// be read as names. Sinks that have no place for it ignore it.
    fn set_fields(&mut self, fields: &[Value]) -> Result<(), Error> {
        let _ = fields;
        Ok(())
    }
    /// A run ended well, its last state committed: a sink tidies what the run left (the
    /// JSON Lines sink compacts its files to one line per row). A failure here loses
    /// nothing the run committed.
    fn finish_run(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// A sink that notes the keys of the issues committed through it, so that a client can
/// drop its cached copies once the run ends ([`crate::sync`] does so with a client that
/// holds a cache; a program that runs the sync without one, to keep the cache free for
/// others, wraps its sink in this and drops them itself).
pub struct KeysSeen<'a, S: Sink + ?Sized> {
    /// The sink written to.
    pub inner: &'a mut S,
    /// Keys of the issues committed so far.
    pub keys: Vec<String>,
}

impl<S: Sink + ?Sized> Sink for KeysSeen<'_, S> {
    fn load_state(&mut self, jql: &str) -> Result<Option<SyncState>, Error> {
        self.inner.load_state(jql)
    }
    fn commit(&mut self, batch: &SyncBatch, state: &SyncState) -> Result<(), Error> {
        self.inner.commit(batch, state)?;
        self.keys.extend(batch.issues.iter().map(|i| i.key.clone()));
        Ok(())
    }
    fn has_issue(&mut self, id: &str) -> Result<bool, Error> {
        self.inner.has_issue(id)
    }
    fn held_of(&mut self, ids: &[u64]) -> Result<std::collections::HashSet<u64>, Error> {
        self.inner.held_of(ids)
    }
    fn worklogs_held(&mut self, issues: &[u64]) -> Result<Vec<(u64, u64)>, Error> {
        self.inner.worklogs_held(issues)
    }
    fn census_begin(&mut self) -> Result<(), Error> {
        self.inner.census_begin()
    }
    fn census_seen(&mut self, ids: &[u64]) -> Result<(), Error> {
        self.inner.census_seen(ids)
    }
    fn census_finish(&mut self, jql: &str, at_ms: i64) -> Result<Census, Error> {
        self.inner.census_finish(jql, at_ms)
    }
    fn set_fields(&mut self, fields: &[Value]) -> Result<(), Error> {
        self.inner.set_fields(fields)
    }
    fn issues_held(&mut self, jql: &str) -> Result<Option<u64>, Error> {
        self.inner.issues_held(jql)
    }
    fn newest_held(&mut self, jql: &str, n: usize) -> Result<Vec<(u64, i64)>, Error> {
        self.inner.newest_held(jql, n)
    }
    fn finish_run(&mut self) -> Result<(), Error> {
        self.inner.finish_run()
    }
}

/// What a census found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Live issues it did not see that no other query holds, now tombstones.
    pub deleted: usize,
    /// Issues it saw that the sink does not hold live: tombstoned ones back on the site,
    /// or ones no window returned.
    pub absent: Vec<u64>,
}

/// A sink with nothing saved that keeps nothing: what [`crate::plan`] is given for a
/// destination that does not exist yet (a plan creates nothing).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptySink;

impl Sink for EmptySink {
    fn load_state(&mut self, _: &str) -> Result<Option<SyncState>, Error> {
        Ok(None)
    }
    fn commit(&mut self, _: &SyncBatch, _: &SyncState) -> Result<(), Error> {
        Ok(())
    }
    fn has_issue(&mut self, _: &str) -> Result<bool, Error> {
        Ok(false)
    }
    fn worklogs_held(&mut self, _: &[u64]) -> Result<Vec<(u64, u64)>, Error> {
        Ok(Vec::new())
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
}

//! What a sync reads and how: [`SyncOptions`] and the [`Strategy`] of a window's read.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a window's issues are read. `--plan` estimates each; a run takes the fastest that
/// fits unless told (see [`crate::plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// An id-only search (5,000 ids a page), then bulk fetches of 100 in parallel.
    Ids,
    /// Search pages with the fields (100 issues a page), one after the other.
    Pages,
    /// The window cut into id ranges, each streamed as pages with the fields, in parallel.
    Slices,
}

impl Strategy {
    /// Every strategy, in the order `--plan` shows them.
    pub const ALL: [Strategy; 3] = [Strategy::Ids, Strategy::Pages, Strategy::Slices];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Ids => "ids",
            Strategy::Pages => "pages",
            Strategy::Slices => "slices",
        }
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("strategy {text:?} is not one of ids, pages, slices"))
    }
}

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
    /// End with an id census that marks issues gone from the site (or the query) as
    /// deleted: on every run whose census costs one page (5,000 ids) or at most 5% of the
    /// run's requests, and on any run when the last one is at least this old
    /// (`Some(ZERO)`: every run; `None`: never).
    pub census_every: Option<Duration>,
    /// How far below the mark a run reads again (minute granularity, index lag).
    pub overlap: Duration,
    /// How far behind now the window ends (writes the search index may not show yet).
    pub settle: Duration,
    /// Ignore the saved state and read everything the query matches.
    pub full: bool,
    /// Read issues updated at or after this instant (epoch ms) instead of from the saved
    /// mark.
    pub since_ms: Option<i64>,
    /// The fields stored for each issue (ids; `*navigable` by default). `updated` is
    /// always added: the sync needs it.
    pub fields: Vec<String>,
    /// How to read a new window; `None` lets [`crate::plan`] choose.
    pub strategy: Option<Strategy>,
    /// Issues per commit (each commit is one transaction with the state).
    pub commit_issues: usize,
    /// The most results a run holds between the wire and the sink, in bytes of JSON
    /// (units in flight, units waiting for their turn, the commit being gathered): a unit
    /// starts only when its share is free, and a commit is made at a quarter of it. Memory
    /// then depends on this, not on the export's size or on the concurrency the plan
    /// chose. A run takes less when the plan finds it needs less (see
    /// [`MEMORY_BUDGET_FLOOR`]).
    pub memory_budget: usize,
}

/// The most a run holds by default ([`SyncOptions::memory_budget`]), in bytes: what the
/// units in flight need to read a far site (Jira Cloud, 2.5 ms a KiB) at the burst rate
/// holds up to this.
pub const MEMORY_BUDGET: usize = 256 << 20;

/// The budget a run takes when the plan finds it needs no more (a near site, a small
/// window), unless [`SyncOptions::memory_budget`] is smaller: the units the burst rate
/// keeps in flight at the measured latency hold their bytes for that latency (Little's
/// law), and a run needs twice what they hold (the rest holds the commit being
/// gathered). A near site gains nothing from more.
pub const MEMORY_BUDGET_FLOOR: usize = 128 << 20;

/// Checks a sync's query before anything is sent: not empty, and without an `ORDER BY`
/// (the sync orders by id itself, and a window's clauses are added after the query).
pub fn check_query(jql: &str) -> Result<(), String> {
    if jql.trim().is_empty() {
        return Err("the query is empty: give a bounded query, e.g. 'project = PROJ'".into());
    }
    if jql.to_ascii_lowercase().contains("order by") {
        return Err(format!(
            "{jql:?} has an ORDER BY: leave it out, the sync orders by id itself"
        ));
    }
    Ok(())
}

impl SyncOptions {
    /// `jql` with the defaults: histories on, two minutes of overlap, 30 s of settle.
    pub fn new(jql: impl Into<String>) -> Self {
        SyncOptions {
            jql: jql.into(),
            changelogs: true,
            comments: true,
            worklogs: true,
            census_every: Some(Duration::from_secs(12 * 3600)),
            overlap: Duration::from_secs(120),
            settle: Duration::from_secs(30),
            full: false,
            since_ms: None,
            fields: vec!["*navigable".into()],
            strategy: None,
            commit_issues: 1_000,
            memory_budget: MEMORY_BUDGET,
        }
    }

    /// The fields a read asks for: the chosen ones, `updated`, `comment` when comments
    /// are synced, and `worklog` when the read takes worklogs from the issues
    /// (`worklogs_from_issues`: see `IssueWorklogs`).
    pub(crate) fn read_fields(&self, worklogs_from_issues: bool) -> Vec<String> {
        let mut fields = self.fields.clone();
        let needed = [
            ("updated", true),
            ("comment", self.comments),
            ("worklog", self.worklogs && worklogs_from_issues),
        ];
        for (field, wanted) in needed {
            if wanted && !fields.iter().any(|f| f == field) {
                fields.push(field.into());
            }
        }
        fields
    }
}

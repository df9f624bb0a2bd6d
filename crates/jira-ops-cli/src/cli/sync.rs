//! `jira-ops sync` and its subcommands (`status`, `migrate`, `compact`), as clap sees
//! them.

use clap::{Args, Subcommand};

use super::ReportFormat;

/// What a sync takes beside the issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncPart {
    /// Every issue's comments (long threads paged).
    Comments,
    /// Every issue's complete history (the changelog bulk fetch).
    Changelog,
    /// The synced issues' worklogs (the tenant-wide worklog feeds), deleted ones marked.
    Worklogs,
    /// Nothing beside the issues.
    None,
}

/// How a sync reads its window (`--plan` shows what each costs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncStrategy {
    /// Id-only search pages, then bulk fetches of 100 in parallel.
    Ids,
    /// Search pages with the fields, one after the other.
    Pages,
    /// Id ranges streamed side by side as pages with the fields.
    Slices,
}

#[derive(Clone, Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SyncArgs {
    /// `sync status`: what a sink holds (instead of a sync).
    #[command(subcommand)]
    pub command: Option<SyncCommand>,
    /// The issues to export, as a bounded JQL query without ORDER BY.
    #[arg(long, value_name = "JQL", required = true)]
    pub jql: Option<String>,
    /// Where to: a directory of JSON Lines files (one that exists, a new one written
    /// `./export/`, or `jsonl:DIR`) or a SQLite database (`sqlite:PATH`, or a path ending
    /// in .db, .sqlite, .sqlite3); created when missing, the sync state kept in it.
    #[arg(long, value_name = "DEST", required = true)]
    pub to: Option<String>,
    /// What to take beside the issues, comma separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "comments,changelog,worklogs",
        value_name = "PARTS"
    )]
    pub with: Vec<SyncPart>,
    /// Read issues updated since then instead of since the last run: a date
    /// (`2026-11-01`), a Jira or RFC 3339 time, epoch milliseconds, or an age (`7d`,
    /// `12h`, `30m`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// The fields stored for each issue, by name or id (`'Summary,Story Points'`);
    /// default: every navigable field.
    #[arg(long, value_name = "FIELDS")]
    pub fields: Option<String>,
    /// Print what the run would cost each way (requests, points, wall time) and the way
    /// it would take; nothing is written.
    #[arg(long)]
    pub plan: bool,
    /// Read the window this way instead of the fastest the plan finds.
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub strategy: Option<SyncStrategy>,
    /// Ignore the saved state and export everything the query matches.
    #[arg(long)]
    pub full: bool,
    /// Skip the id census that marks issues gone from the site as deleted.
    #[arg(long, conflicts_with = "census_every")]
    pub no_census: bool,
    /// Run the id census at least this often (`0` for every run; `12h`, `1d`, `30m`).
    /// It also runs on every run whose census costs one page (5,000 ids) or at most 5%
    /// of the run's requests.
    #[arg(long, default_value = "12h", value_name = "AGE")]
    pub census_every: String,
    /// Seconds the window's end is held back from now (writes the search index may not
    /// show yet; they are taken by the next run).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub settle_secs: u64,
    /// Wait up to SECS for another sync of the same DEST to end; without it a second sync
    /// is refused at once, naming the first.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
    /// The most answers the run holds between the wire and DEST, in MiB of JSON (units
    /// in flight, units waiting their turn, the commit being gathered); default 256, of
    /// which a run takes what its units in flight need (128 at least). A far site is read
    /// faster with more (more units in flight), a small machine kept smaller with less.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(8..=65_536))]
    pub memory_mb: Option<u64>,
    #[command(flatten)]
    pub format: ReportFormat,
}

/// What `sync` does besides syncing.
#[derive(Clone, Debug, Subcommand)]
pub enum SyncCommand {
    /// What a sink holds and what its last runs did: each query's mark, census and last
    /// runs (when, how long, issues written, requests), issues live and deleted, the sync
    /// writing it now. Reads the sink only (no site, no credentials, no lock).
    #[command(after_help = "Examples:
  jira-ops sync status --to sqlite:jira.db
  jira-ops sync status --to ./export --json")]
    Status {
        /// The sink: `sqlite:PATH` (or PATH.db), or a JSON Lines directory.
        #[arg(long, value_name = "DEST")]
        to: String,
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Rewrites a JSON Lines sink to one line per row (its current one), atomically.
    /// A sync does this when its run ends; this is for a directory an interrupted run or
    /// an older jira-ops left with superseded lines.
    #[command(after_help = "Examples:
  jira-ops sync compact --to ./export/")]
    Compact {
        /// The sink: a JSON Lines directory.
        #[arg(long, value_name = "DEST")]
        to: String,
        /// Wait up to SECS for a sync that holds the sink to end.
        #[arg(long, value_name = "SECS", default_value_t = 0)]
        wait: u64,
    },
    /// Moves a SQLite sink written by an older jira-ops to this version's schema, in
    /// place and in one transaction (nothing is read from Jira; an interruption leaves the
    /// file as it was). A sync does the same when it opens such a file.
    #[command(after_help = "Examples:
  jira-ops sync migrate --to jira.db")]
    Migrate {
        /// The sink: `sqlite:PATH` (or PATH.db).
        #[arg(long, value_name = "DEST")]
        to: String,
        /// Wait up to SECS for a sync that holds the sink to end.
        #[arg(long, value_name = "SECS", default_value_t = 0)]
        wait: u64,
    },
}

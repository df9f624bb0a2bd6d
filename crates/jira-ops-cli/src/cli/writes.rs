//! The write commands' options: `create`, `apply` (and its revert) and `journal`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Clone, Debug, Args)]
pub struct CreateArgs {
    /// A JSON Lines file of issues to create; `-` reads stdin.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub from_file: PathBuf,
    /// Create the issues of a file an earlier run created to the end once more, as a new
    /// run (each exactly once within it); without it such a file creates nothing.
    #[arg(long)]
    pub again: bool,
    /// Wait up to SECS for another run holding this site's write journal (a cron
    /// overlap) to end; without it the run is refused at once, naming the other.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
    #[command(flatten)]
    pub format: super::RecordFormat,
}

#[derive(Clone, Debug, Args)]
pub struct ApplyArgs {
    /// A JSON Lines file of changes; `-` reads stdin. With `--revert` and no run named:
    /// the file whose last run to revert.
    #[arg(
        short = 'f',
        long,
        value_name = "FILE",
        required_unless_present = "revert"
    )]
    pub from_file: Option<PathBuf>,
    /// Put back what a run changed: the run named (`jira-ops journal list`), or without
    /// a name the last run of `--from-file`.
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "")]
    pub revert: Option<String>,
    /// With `--revert`: delete the comments, links and issues the run created (asks on a
    /// terminal unless `--yes`).
    #[arg(long, requires = "revert")]
    pub delete_created: bool,
    /// With `--revert`: set fields back even where another hand changed them since the
    /// run.
    #[arg(long, requires = "revert")]
    pub force: bool,
    /// Print what each line would change (reading the issues), write nothing.
    #[arg(long, conflicts_with = "plan")]
    pub dry_run: bool,
    /// Apply a file that an earlier run applied to the end once more, as a new run (each
    /// line once more, exactly once within the run); without it such a file sends nothing.
    #[arg(long)]
    pub again: bool,
    /// Run lines that delete (issues, comments, links; they cannot be undone) without
    /// asking; such a file is refused without a terminal unless this is given.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the requests and the least time the limits allow, send nothing.
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub format: super::RecordFormat,
    /// Wait up to SECS for another run holding this site's write journal (a cron
    /// overlap) to end; without it the run is refused at once, naming the other.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// The runs the journal holds, oldest first: when, whether they ended, their lines'
    /// outcomes.
    #[command(after_help = "Examples:
  jira-ops journal list
  jira-ops journal list --json --profile work")]
    List {
        #[command(flatten)]
        format: super::RecordFormat,
    },
    /// One run's lines: each line's outcome, the issue it made or changed, Jira's message.
    #[command(after_help = "Examples:
  jira-ops journal show apply-3f2a9c01d4e5
  jira-ops journal show apply-3f2a9c01d4e5 --json")]
    Show {
        /// The run's name, as `journal list` shows it.
        run: String,
        #[command(flatten)]
        format: super::RecordFormat,
    },
    /// Forget a run: the lines it wrote count as never sent, so its file applies again
    /// as new writes (after the site was reset, or to replay a migration). Asks on a
    /// terminal.
    #[command(after_help = "Examples:
  jira-ops journal forget apply-3f2a9c01d4e5
  jira-ops journal forget apply-3f2a9c01d4e5 --yes    # without a terminal to ask on")]
    Forget {
        /// The run's name, as `journal list` shows it.
        run: String,
        /// Do not ask (required without a terminal).
        #[arg(long)]
        yes: bool,
    },
}

//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jira_client::Setting;

mod format;
mod sync;
mod writes;

pub use format::{Format, RecordFormat, ReportFormat};
pub use sync::{SyncArgs, SyncCommand, SyncPart, SyncStrategy};
pub use writes::{ApplyArgs, CreateArgs, JournalCommand};

/// The version `--version` prints: the package's, the commit it was built from (with
/// `-modified` when the tree had changes) and that commit's date.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("JIRA_OPS_BUILD"), ")");

/// Drive heavy traffic at Jira Cloud: fast, polite to the server, and never losing a result.
#[derive(Debug, Parser)]
#[command(
    name = "jira-ops",
    version = VERSION,
    propagate_version = true,
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Examples:
  jira-ops demo                                          # the main job on an embedded simulator
  jira-ops config init --site https://your-domain.atlassian.net --email me@example.com
  jira-ops health
  jira-ops search 'project = PROJ AND updated >= -7d' --format csv > recent.csv
  jira-ops sync --jql 'project = PROJ' --to sqlite:jira.db

Exit codes:
  0  success (health: healthy)
  1  some items failed, or the run failed (health: degraded)
  2  usage, configuration or input error (health: unhealthy)
  3  authentication refused (wrong email or API token)

Configuration: flags > environment (JIRA_SITE_URL, JIRA_EMAIL, JIRA_API_TOKEN,
JIRA_API_TOKEN_<PROFILE>, JIRA_PROFILE) > the profile in the config file > defaults.
`jira-ops config show` prints the result with the token redacted.";

/// Global flags about the site and the client (connection, pace, retries).
const CLIENT_FLAGS: &[&str] = &[
    "site",
    "email",
    "concurrency",
    "timeout",
    "retries",
    "max_wait",
    "rate_limit_store",
];
/// Global flags about the cache.
const CACHE_FLAGS: &[&str] = &["cache_dir", "no_cache"];
/// Global flags naming the configuration.
const CONFIG_FLAGS: &[&str] = &["profile", "config"];

/// The global flags a command has no use for, by its path: they are hidden from its help
/// and its completions (they still parse, so a flag placed anywhere is not an error).
fn unused_flags(path: &[&str]) -> Vec<&'static str> {
    let all = || CLIENT_FLAGS.iter().chain(CACHE_FLAGS).chain(CONFIG_FLAGS);
    match path {
        // The demo makes its own site, cache and settings; it takes the pace flags.
        ["demo"] => vec![
            "site",
            "email",
            "cache_dir",
            "no_cache",
            "profile",
            "config",
        ],
        ["cache", "status" | "clear"] => vec![
            "concurrency",
            "timeout",
            "retries",
            "max_wait",
            "rate_limit_store",
        ],
        ["config", "init"] => vec![
            "concurrency",
            "timeout",
            "retries",
            "max_wait",
            "rate_limit_store",
            "cache_dir",
            "no_cache",
        ],
        ["sim", ..] | ["completions"] => all().copied().collect(),
        _ => Vec::new(),
    }
}

/// The command line, each command's help showing only the global flags it uses (under
/// their own heading, after the command's own).
pub fn command() -> clap::Command {
    use clap::CommandFactory as _;
    let mut command = Cli::command();
    command.build();
    hide_unused(&mut command, &mut Vec::new());
    command
}

fn hide_unused(command: &mut clap::Command, path: &mut Vec<String>) {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in names {
        path.push(name.clone());
        let view: Vec<&str> = path.iter().map(String::as_str).collect();
        let unused = unused_flags(&view);
        *command = std::mem::take(command).mut_subcommand(&name, |sub| {
            // In place: the command is built, so its arguments keep their order.
            let mut sub = sub.mut_args(|arg| {
                let unused = arg.is_global_set() && unused.contains(&arg.get_id().as_str());
                arg.hide(unused)
            });
            hide_unused(&mut sub, path);
            sub
        });
        path.pop();
    }
}

/// Flags every command takes.
#[derive(Clone, Debug, Args)]
pub struct Global {
    /// The profile to use (default: JIRA_PROFILE, then `default_profile` in the file,
    /// then `default`).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAME"
    )]
    pub profile: Option<String>,
    /// The config file (default: JIRA_OPS_CONFIG, then
    /// `$XDG_CONFIG_HOME/jira-ops/config.toml`).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    #[arg(long, global = true, help_heading = "Global options", value_name = "URL", help = Setting::help("site_url"))]
    pub site: Option<String>,
    #[arg(long, global = true, help_heading = "Global options", value_name = "EMAIL", help = Setting::help("email"))]
    pub email: Option<String>,
    #[arg(long, global = true, help_heading = "Global options", value_name = "N", help = Setting::help("max_concurrent"))]
    pub concurrency: Option<String>,
    #[arg(long, global = true, help_heading = "Global options", value_name = "SECS", help = Setting::help("timeout_secs"))]
    pub timeout: Option<String>,
    #[arg(long, global = true, help_heading = "Global options", value_name = "N", help = Setting::help("retries"))]
    pub retries: Option<String>,
    #[arg(long, global = true, help_heading = "Global options", value_name = "SECS", help = Setting::help("max_wait_secs"))]
    pub max_wait: Option<String>,
    #[arg(long, global = true, help_heading = "Global options", value_name = "DIR", help = Setting::help("cache_dir"))]
    pub cache_dir: Option<String>,
    /// Bypass the cache: read nothing from it and write nothing to it (cache_store = none).
    #[arg(long, global = true, help_heading = "Global options")]
    pub no_cache: bool,
    #[arg(long, global = true, help_heading = "Global options", value_name = "local|URL", help = Setting::help("rate_limit_store"))]
    pub rate_limit_store: Option<String>,
    /// More logging: -v info, -vv debug, -vvv trace (RUST_LOG overrides).
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// Log lines as text or as JSON objects (one per line, on stderr).
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Write what the command prints on stdout to FILE instead: whole or not at all (a
    /// temporary file renamed when the command ends; an interrupted run's output is kept
    /// as FILE.partial). Without --format, the extension picks one (.csv, .json, .jsonl).
    #[arg(
        short = 'o',
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    pub output: Option<PathBuf>,
}

impl Global {
    /// The settings given as flags, by flag name (`--timeout`), for the settings table
    /// (`jira_client::SETTINGS`) to parse and check like any other source.
    pub fn setting_flags(&self) -> Vec<(&'static str, String)> {
        [
            ("--site", &self.site),
            ("--email", &self.email),
            ("--concurrency", &self.concurrency),
            ("--timeout", &self.timeout),
            ("--retries", &self.retries),
            ("--max-wait", &self.max_wait),
            ("--cache-dir", &self.cache_dir),
            ("--rate-limit-store", &self.rate_limit_store),
        ]
        .into_iter()
        .filter_map(|(flag, value)| value.clone().map(|v| (flag, v)))
        .collect()
    }
}

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the main job against an embedded Jira Cloud simulator: health check, cache
    /// warm, fetch of every issue in a project, the same fetch from cache, cache status.
    #[command(after_help = "Examples:
  jira-ops demo
  jira-ops demo --projects 3 --issues-per-project 500 --json")]
    Demo(DemoArgs),
    /// Check connectivity, auth, latency, rate-limit headroom and the cache.
    #[command(after_help = "Examples:
  jira-ops health
  jira-ops health --json --profile work    # for cron: exit 0 healthy, 1 degraded, 2 unhealthy, 3 auth")]
    Health(HealthArgs),
    /// Health, plus sequential vs batched timing on real keys and the effective settings.
    #[command(after_help = "Examples:
  jira-ops diagnose
  jira-ops diagnose --keys PROJ-1,PROJ-2,PROJ-3")]
    Diagnose(DiagnoseArgs),
    /// Inspect, warm and clear the cache.
    #[command(
        subcommand,
        after_help = "Examples:
  jira-ops cache status
  jira-ops cache warm --all
  jira-ops cache clear --category issue --pattern 'PROJ-*' --force"
    )]
    Cache(CacheCommand),
    /// Fetch issues by key, coalesced into bulk fetches of 100, cache first.
    #[command(after_help = "Examples:
  jira-ops fetch PROJ-1 PROJ-2
  jira-ops fetch --from-file keys.txt --format csv --fields summary,status > issues.csv
  printf 'PROJ-1\\nPROJ-2\\n' | jira-ops fetch - --format jsonl
  jira-ops fetch PROJ-1 --max-age 30s      # a cached copy only if at most 30 s old
  jira-ops fetch PROJ-1 --fresh            # from the site, the cache refreshed")]
    Fetch(FetchArgs),
    /// Export the issues a JQL query matches, streamed page by page.
    #[command(after_help = "Examples:
  jira-ops search 'project = PROJ AND updated >= -7d' --format jsonl > recent.jsonl
  jira-ops search 'assignee = currentUser() ORDER BY updated DESC' --limit 20
  jira-ops search --jql-file triage.jql --format csv --fields 'summary,Story Points' > triage.csv
  echo 'project = PROJ AND status = Done' | jira-ops search - --format jsonl")]
    Search(SearchArgs),
    /// Create issues in bulk (50 per request) from a JSON Lines file, one result per line.
    #[command(
        after_help = "Each line is an issue as Jira's create API takes it, e.g.
  {\"fields\": {\"project\": {\"key\": \"PROJ\"}, \"issuetype\": {\"name\": \"Task\"}, \"summary\": \"Hello\"}}

Examples:
  jira-ops create --from-file new-issues.jsonl > results.jsonl"
    )]
    Create(CreateArgs),
    /// Apply a file of changes (update, transition, assign, comment, link, label, delete,
    /// create; one JSON object a line) exactly once, at the pace Jira allows: the whole
    /// file is checked first, one issue's lines run in file order, and running the same
    /// file again (after an interrupt, a crash, lost answers) never applies a line twice.
    #[command(after_help = r#"Examples:
  jira-ops apply --from-file changes.jsonl > results.jsonl
  jira-ops apply --from-file changes.jsonl --dry-run     # what each line would change, nothing written
  jira-ops apply --from-file changes.jsonl --plan        # requests and the least time the limits allow
  jira-ops apply --from-file changes.jsonl --json        # one JSON document for cron
  jira-ops apply --revert --from-file changes.jsonl      # put back what the file's last run changed
  jira-ops apply --revert apply-3f2a9c01d4e5 --delete-created --dry-run   # a run by name (`journal list`)

Lines (JSON Lines; blank lines and lines starting with # are skipped):
  {"op": "update", "issue": "PROJ-1", "fields": {"summary": "New title"}, "update": {"labels": [{"add": "x"}]}}
  {"op": "update", "issue": "PROJ-1", "fields": {"description": "Plain text (made a document), or an ADF document"}}
  {"op": "transition", "issue": "PROJ-1", "to": "Done", "fields": {"resolution": {"name": "Done"}}}
  {"op": "assign", "issue": "PROJ-1", "account_id": "5b10ac8d82e05b22cc7d4ef5"}     (null unassigns)
  {"op": "comment", "issue": "PROJ-1", "body": "Plain text, or an ADF document"}
  {"op": "link", "type": "Blocks", "inward": "PROJ-1", "outward": "PROJ-2"}
  {"op": "label", "issue": "PROJ-1", "add": ["migrated"], "remove": ["legacy"]}
  {"op": "delete", "issue": "PROJ-9", "subtasks": false}
  {"op": "create", "fields": {"project": {"key": "PROJ"}, "issuetype": {"name": "Task"}, "summary": "New"}}
  {"op": "delete_comment", "issue": "PROJ-1", "id": "10042"}
  {"op": "unlink", "type": "Blocks", "inward": "PROJ-1", "outward": "PROJ-2"}

Revert: every field line's values before it are kept in the journal as it writes. --revert sets them
back in reverse order as a run of its own (exactly once, with --plan and --dry-run); a field another
hand changed since is reported and left unless --force; comments, links and issues the run made are
deleted only with --delete-created (which asks, as delete lines do).

Outcomes, one result line per input line: done, already_so, refused (with Jira's error), not_sent, unknown.
Exit codes: 0 every line holds, 1 some lines did not, 2 the file is invalid (nothing was sent)."#)]
    Apply(ApplyArgs),
    /// What the write journal holds: the runs of `apply` and `create` on this site, what
    /// each line came to, and forgetting a run so its file applies afresh.
    #[command(
        subcommand,
        after_help = "Examples:
  jira-ops journal list
  jira-ops journal show apply-3f2a9c01d4e5
  jira-ops journal forget apply-3f2a9c01d4e5    # after the site was reset: the file applies anew"
    )]
    Journal(JournalCommand),
    /// Export the issues a JQL query matches, with their complete histories, comments and
    /// worklogs, into JSON Lines files or SQLite: incremental (only what changed since the
    /// last run) and resumable (a run stopped at any moment goes on where it stopped).
    #[command(after_help = "Examples:
  jira-ops sync --jql 'project in (PROJ, OPS)' --to sqlite:jira.db
  jira-ops sync --jql 'project = PROJ' --to ./export/ --with comments,changelog
  jira-ops sync --jql 'project = PROJ' --to sqlite:jira.db --plan    # the cost each way, nothing written
  jira-ops sync --jql 'project = PROJ' --to sqlite:jira.db --full --json   # from scratch, a JSON summary
  jira-ops sync --jql 'project = PROJ' --to ./export/ --since 7d --fields 'Summary,Story Points'
  jira-ops sync status --to sqlite:jira.db                       # what it holds, its last runs")]
    Sync(SyncArgs),
    /// The Jira Cloud simulator, for testing your own tools against.
    #[command(
        subcommand,
        after_help = "Examples:
  jira-ops sim serve --port 8080
  jira-ops sim serve --port 0 --no-limits --latency-ms 20"
    )]
    Sim(SimCommand),
    /// Serve Jira Cloud's REST API on a local port through jira-ops' stack, so any tool
    /// (a script on the `jira` package, a `jira.js` service, a connector) gets the shared
    /// budget, the cache and single flight by changing only its base URL.
    #[command(after_help = "Examples:
  jira-ops proxy --site https://your-domain.atlassian.net --listen 127.0.0.1:8080
      # callers keep their own credentials: point them at http://127.0.0.1:8080
  JIRA_OPS_PROXY_KEY=local-secret jira-ops proxy --token-from-env --listen 127.0.0.1:0
      # the proxy holds JIRA_EMAIL/JIRA_API_TOKEN; callers present the local key
  jira-ops proxy --redis redis://cache-host:6379/0 --webhook-secret-env JIRA_WEBHOOK_SECRET
      # budget and cache shared with every proxy and jira-ops run on that Redis
  curl -s http://127.0.0.1:8080/__proxy/stats

Callers see a 429 only when the wait for the budget would pass --max-wait (Retry-After says how long).
Answers from the cache carry x-jira-ops-cache: hit; send Cache-Control: no-cache to skip it.
Access logs (one line a request, no credentials) with -v.")]
    Proxy(ProxyArgs),
    /// Create, show and check the config file.
    #[command(
        subcommand,
        after_help = "Examples:
  jira-ops config init --site https://your-domain.atlassian.net --email me@example.com
  jira-ops config show
  jira-ops config check"
    )]
    Config(ConfigCommand),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  jira-ops completions bash > ~/.local/share/bash-completion/completions/jira-ops
  jira-ops completions zsh > ~/.zfunc/_jira-ops")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Manual pages (roff) made from this command line: `jira-ops.1` on stdout, or with
    /// `--dir` one page per command there (`jira-ops-fetch.1`, ...).
    #[command(after_help = "Examples:
  jira-ops man | man -l -
  jira-ops man --dir ~/.local/share/man/man1      # then: man jira-ops-sync")]
    Man {
        /// Write every page into this directory (created when missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `jira-ops proxy`'s options.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The address to listen on (`127.0.0.1:0` picks a free port; the address taken is
    /// printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Hold the site's credentials (the profile's email and API token, e.g. JIRA_EMAIL and
    /// JIRA_API_TOKEN) instead of forwarding each caller's; callers then present the local
    /// key from --local-key-env.
    #[arg(long)]
    pub token_from_env: bool,
    /// The variable holding the local key callers present with --token-from-env
    /// (`Authorization: Bearer <key>`, or the key as the Basic-auth password).
    #[arg(long, value_name = "VAR", default_value = "JIRA_OPS_PROXY_KEY")]
    pub local_key_env: String,
    /// The variable holding the secret of the Jira webhooks sent to POST /webhook (their
    /// X-Hub-Signature is checked with it); without it, deliveries are refused.
    #[arg(long, value_name = "VAR")]
    pub webhook_secret_env: Option<String>,
    /// Serve enhanced-search pages from the cache too (off: a search always reaches Jira).
    #[arg(long)]
    pub cache_searches: bool,
    /// Serve reads from the cache even when callers send `Cache-Control: no-cache` (the
    /// PyPI `jira` package sends it on every request).
    #[arg(long)]
    pub ignore_no_cache: bool,
    /// Share the budget and the cache through this Redis with every other proxy and
    /// jira-ops process of the team (sets the rate-limit store and the cache store).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
}

#[derive(Clone, Debug, Args)]
pub struct DemoArgs {
    /// Projects in the simulated tenant.
    #[arg(long, default_value_t = 5)]
    pub projects: usize,
    /// Issues per project.
    #[arg(long, default_value_t = 2_000)]
    pub issues_per_project: usize,
    /// Fixed latency of each simulated answer, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub latency_ms: u64,
    /// Share of searches and bulk fetches answered 503 with Retry-After: 1.
    #[arg(long, default_value_t = 0.05)]
    pub unavailable: f64,
    #[command(flatten)]
    pub format: ReportFormat,
}

#[derive(Clone, Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub format: ReportFormat,
    /// Latency samples after the first request (0 to 1,000; each is one `GET /myself`).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(0..=1_000))]
    pub samples: u16,
}

#[derive(Clone, Debug, Args)]
pub struct DiagnoseArgs {
    /// Keys to time (default: the 5 most recently updated issues the account can see).
    #[arg(long, value_delimiter = ',', value_name = "KEY,...")]
    pub keys: Vec<String>,
    #[command(flatten)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, size against the cap, hit rate, evictions.
    #[command(after_help = "Examples:
  jira-ops cache status
  jira-ops cache status --json --profile work")]
    Status {
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Fill the cache: metadata first, then recent issues per project.
    #[command(after_help = "Examples:
  jira-ops cache warm --all
  jira-ops cache warm --fields --projects
  jira-ops cache warm --issues --project PROJ --project OPS --days 7")]
    Warm(WarmArgs),
    /// Remove entries by key, glob pattern or category.
    #[command(after_help = "Examples:
  jira-ops cache clear --category issue --pattern 'PROJ-*' --dry-run
  jira-ops cache clear --category issue --key PROJ-123 --force
  jira-ops cache clear --category search --force")]
    Clear(ClearArgs),
}

#[derive(Clone, Debug, Args)]
pub struct WarmArgs {
    /// Field definitions.
    #[arg(long)]
    pub fields: bool,
    /// Every project.
    #[arg(long)]
    pub projects: bool,
    /// Users.
    #[arg(long)]
    pub users: bool,
    /// Recently updated issues of each project (or of --project ones).
    #[arg(long)]
    pub issues: bool,
    /// Limit --issues to this project (repeatable).
    #[arg(long = "project", value_name = "KEY")]
    pub project_keys: Vec<String>,
    /// How recent, in days.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// At most this many issues per project.
    #[arg(long, default_value_t = 1_000)]
    pub per_project: usize,
    /// Fields cached with each issue: a later `fetch --fields` of the same list is served
    /// from the cache.
    #[arg(long, value_delimiter = ',', value_name = "FIELD,...", default_value = jira_client::DEFAULT_ISSUE_FIELDS)]
    pub issue_fields: Vec<String>,
    /// Everything: fields, projects, users and issues.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub format: ReportFormat,
}

#[derive(Clone, Debug, Args)]
pub struct ClearArgs {
    /// The category: issue, project, field, user, search (required with --key and
    /// --pattern; alone it clears the whole category).
    #[arg(long)]
    pub category: Option<String>,
    /// One key, e.g. PROJ-123.
    #[arg(long, conflicts_with = "pattern", requires = "category")]
    pub key: Option<String>,
    /// A glob over keys: `*`, `?`, `[abc]`, e.g. 'PROJ-*'.
    #[arg(long, requires = "category")]
    pub pattern: Option<String>,
    /// Every entry of this site and profile.
    #[arg(long, conflicts_with_all = ["category", "key", "pattern"])]
    pub all: bool,
    /// Move a damaged sled cache directory aside (to DIR.damaged-SECONDS, nothing deleted)
    /// without opening it, so the next run starts a fresh cache.
    #[arg(long, conflicts_with_all = ["category", "key", "pattern", "all", "dry_run"])]
    pub reset: bool,
    /// Count what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask (required when stdin is not a terminal).
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Debug, Args)]
pub struct OutputArgs {
    /// Output format (default: table on a terminal, else the `-o` file's extension, else
    /// jsonl).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Fields to return, comma separated: ids (`summary`, `customfield_10016`) or names
    /// (`'Story Points'`), checked against the site's fields; `*all` or `*navigable` for
    /// every field (one column each in CSV and tables).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = jira_client::DEFAULT_ISSUE_FIELDS
    )]
    pub fields: Vec<String>,
    /// Write CSV cells as they are, even those a spreadsheet would run as a formula (by
    /// default a cell starting with =, +, -, @, tab or carriage return gets a leading ').
    #[arg(long)]
    pub csv_raw: bool,
    /// JSON and JSON Lines: add to each issue `names`, each of its fields' id → name
    /// (`"customfield_10016": "Story Points"`), as Jira's `expand=names` does; the field
    /// list costs one request.
    #[arg(long)]
    pub names: bool,
    /// The column titles of fields asked for by name (`customfield_10016` → `Story
    /// Points`), filled once the names are resolved; JSON keeps Jira's ids.
    #[arg(skip)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Every field's name by id, filled when `--names` is given.
    #[arg(skip)]
    pub field_names: Option<std::collections::BTreeMap<String, String>>,
}

impl OutputArgs {
    /// The format asked for (`--json` is `--format json`), else the default.
    pub fn resolve_format(&self) -> Format {
        RecordFormat {
            format: self.format,
            json: self.json,
        }
        .resolve()
    }

    /// A writer of these fields in `format` to `out`, CSV made spreadsheet-safe unless
    /// `--csv-raw`.
    pub fn writer<W: std::io::Write>(
        &self,
        format: Format,
        out: W,
    ) -> Result<crate::output::IssueWriter<W>, crate::error::CliError> {
        crate::output::IssueWriter::new(format, &self.fields, out, self.csv_raw).map(|writer| {
            writer
                .labelled(self.labels.clone())
                .named(self.field_names.clone())
        })
    }

    /// `--fields` trimmed (`'summary, status'` is two fields), naming at least one, none
    /// of them empty.
    pub fn check(&mut self) -> Result<(), crate::error::CliError> {
        for field in &mut self.fields {
            *field = field.trim().to_owned();
        }
        if self.fields.is_empty() || self.fields.iter().any(String::is_empty) {
            return Err(crate::error::CliError::usage(format!(
                "--fields {:?} names an empty field: name one or more, comma separated, e.g. --fields {}",
                self.fields.join(","),
                jira_client::DEFAULT_ISSUE_FIELDS
            )));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Args)]
pub struct FetchArgs {
    /// Issue keys; `-` reads them from stdin, one per line.
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
    /// Read keys from this file, one per line (`#` starts a comment).
    #[arg(short = 'f', long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Write each issue as soon as it is fetched, not in input order (cache hits first).
    /// In input order, an issue waits for the bulk fetches before it.
    #[arg(long)]
    pub unordered: bool,
    /// Serve cached issues no older than this (`30s`, `5m`, `1h`); older ones are read
    /// from the site (the cache's TTL, `ttl_issue_secs`, bounds it too).
    #[arg(long, value_name = "AGE", conflicts_with = "fresh")]
    pub max_age: Option<String>,
    /// Read every issue from the site, none from the cache (the cache is refreshed).
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Debug, Args)]
pub struct SearchArgs {
    /// The JQL query (bounded, e.g. `project = PROJ AND updated >= -30d`); `-` reads it
    /// from stdin.
    #[arg(required_unless_present = "jql_file", conflicts_with = "jql_file")]
    pub jql: Option<String>,
    /// Read the query from this file (lines joined with spaces; lines starting with `#`
    /// are comments).
    #[arg(long, value_name = "FILE")]
    pub jql_file: Option<PathBuf>,
    /// Stop after this many issues.
    #[arg(short = 'L', long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated tenant until Ctrl-C.
    #[command(after_help = jira_sim::cli::examples("jira-ops sim serve"))]
    Serve(Box<jira_sim::cli::ServeArgs>),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a config file with a profile to fill in (never overwrites one).
    #[command(after_help = "Examples:
  jira-ops config init --site https://your-domain.atlassian.net --email me@example.com
  jira-ops --profile staging config init --site https://staging.atlassian.net --email me@example.com")]
    Init,
    /// Print the effective settings and where each comes from (token redacted).
    #[command(after_help = "Examples:
  jira-ops config show
  jira-ops --profile staging config show --json
  JIRA_REQUEST_TIMEOUT=60 jira-ops config show      # see the environment win over the file")]
    Show {
        #[command(flatten)]
        format: ReportFormat,
    },
    /// Validate the config file and the profile, then try the credentials.
    #[command(after_help = "Examples:
  jira-ops config check
  jira-ops config check --offline        # the file and the values only, no request
  jira-ops --profile staging config check")]
    Check {
        /// Validate only; send no request.
        #[arg(long)]
        offline: bool,
    },
}

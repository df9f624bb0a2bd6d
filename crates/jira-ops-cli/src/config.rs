//! Settings: profiles in a TOML file, the environment, flags; and which one won.
//!
//! Every setting is declared once, in `jira_client::SETTINGS` (key, flag, variables, type,
//! range, default, doc line); this module only layers the sources over it. Precedence,
//! highest first: flags, environment, the profile in the file, defaults. [`Loaded::load`]
//! records where every value came from, so `config show` can say, and an error about a
//! value can point at the file and key, or the variable, that set it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jira_client::{JiraClient, SETTINGS, Setting, SettingError, Settings};
use serde::Deserialize;

use crate::cli::Global;
use crate::error::CliError;

/// The config file, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The profile used when none is named.
    pub default_profile: Option<String>,
    /// The profiles by name: each a table of settings.
    #[serde(default)]
    pub profiles: BTreeMap<String, toml::Table>,
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag(&'static str),
    /// An environment variable.
    Env(String),
    /// The profile in the config file.
    File,
    /// The built-in default.
    Default,
}

/// A value and where it came from.
#[derive(Clone, Debug)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

/// Every setting, resolved, with its source.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The config file consulted.
    pub config_path: PathBuf,
    /// Whether it exists.
    pub config_exists: bool,
    /// The profile.
    pub profile: Sourced<String>,
    /// The values.
    pub settings: Settings,
    /// Where each value of [`Loaded::settings`] came from, by key.
    pub sources: BTreeMap<&'static str, Source>,
    /// `--quiet`: notes (a cache gone without) are not printed.
    pub quiet: bool,
}

/// How a command uses the embedded cache (sled), which one process holds at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Never opened: the command reads the site, never the cache (a sync), so it never
    /// keeps another command from the cache however long it runs.
    Never,
    /// Opened when free, without waiting; when another process holds it the command goes
    /// on without it at once, a note on stderr saying so (reads that the cache only
    /// speeds up).
    IfFree,
    /// Wanted by a command that writes to the site (`apply`, `create`), to drop the
    /// cache's copies of what it changes: waited for up to `cache_lock_wait_secs` (another
    /// short command lets go), then the command goes on without it, a note saying that
    /// those copies stay until their TTL (a long holder such as `jira-ops proxy` never
    /// stops a migration).
    Writes,
    /// Needed (warming it, clearing it): waited for up to `cache_lock_wait_secs`, then the
    /// command fails naming the holder.
    Required,
}

/// The default config file: `$JIRA_OPS_CONFIG`, else `<config dir>/jira-ops/config.toml`.
pub fn default_path(env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(path) = env("JIRA_OPS_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let base = env("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::config_dir)
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("jira-ops").join("config.toml")
}

/// The config file's text and parsed form; a missing file is `None`.
pub fn read_file(path: &Path) -> Result<Option<(String, FileConfig)>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(CliError::usage(format!(
                "config file {}: cannot read it: {error}",
                path.display()
            )));
        }
    };
    let file = toml::from_str(&text)
        .map_err(|error| CliError::usage(describe_toml_error(path, &text, &error)))?;
    refuse_readable_token(path, &text)?;
    Ok(Some((text, file)))
}

/// A config file that holds an `api_token` must be readable by its owner alone, as ssh
/// insists for private keys: refused with the `chmod 600` fix otherwise.
fn refuse_readable_token(path: &Path, text: &str) -> Result<(), CliError> {
    fn holds_token(table: &toml::Table) -> bool {
        table
            .iter()
            .any(|(key, value)| key == "api_token" || value.as_table().is_some_and(holds_token))
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let holds = text
            .parse::<toml::Table>()
            .is_ok_and(|table| holds_token(&table));
        if let Ok(metadata) = std::fs::metadata(path)
            && holds
            && metadata.permissions().mode() & 0o077 != 0
        {
            return Err(CliError::usage(format!(
                "config file {} holds an api_token and can be read by others (mode {:o}): run `chmod 600 {}`, or move the token to JIRA_API_TOKEN",
                path.display(),
                metadata.permissions().mode() & 0o777,
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, text, holds_token as fn(&toml::Table) -> bool);
    Ok(())
}

/// One line: the file, the line, the table, and what toml says is wrong.
fn describe_toml_error(path: &Path, text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    let Some(span) = error.span() else {
        return format!("config file {}: {message}", path.display());
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'));
    let table = table.map(|t| format!(" in {t}")).unwrap_or_default();
    format!(
        "config file {}, line {line}{table}: {message} (see `jira-ops config init` for a commented example)",
        path.display()
    )
}

/// The line of `key` inside `[profiles.<profile>]`, for messages about a value there.
fn line_of(text: &str, profile: &str, key: &str) -> Option<usize> {
    let header = format!("[profiles.{profile}]");
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == header || line == format!("[profiles.\"{profile}\"]");
            continue;
        }
        if inside
            && let Some((name, _)) = line.split_once('=')
            && name.trim().trim_matches('"') == key
        {
            return Some(n + 1);
        }
    }
    None
}

/// The environment variable holding a profile's own token: `JIRA_API_TOKEN_<PROFILE>`.
pub fn token_variable(profile: &str) -> String {
    let suffix: String = profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("JIRA_API_TOKEN_{suffix}")
}

/// A TOML value as the text the settings parser reads.
fn toml_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Loaded {
    /// Resolves every setting from `flags`, the environment (through `env`) and the file.
    pub fn load(flags: &Global, env: impl Fn(&str) -> Option<String>) -> Result<Self, CliError> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let (config_path, path_given) = match &flags.config {
            Some(path) => (path.clone(), true),
            None => (default_path(&env), env("JIRA_OPS_CONFIG").is_some()),
        };
        let file = read_file(&config_path)?;
        if file.is_none() && path_given {
            return Err(CliError::usage(format!(
                "config file {} does not exist (create it with `jira-ops config init`)",
                config_path.display()
            )));
        }
        let config_exists = file.is_some();
        let (text, file) = file.unwrap_or_default();
        let mut loaded = Self::resolve(flags, env, &text, file, config_path, config_exists)?;
        if let Some(note) = loaded.site_to_root()
            && !flags.quiet
        {
            crate::notes::say!("jira-ops: note: {note}");
        }
        Ok(loaded)
    }

    /// A site URL with a path (`https://x.atlassian.net/jira/software`, copied from the
    /// browser) becomes the site itself, where Jira's REST API is; the note says so.
    fn site_to_root(&mut self) -> Option<String> {
        let url = self.settings.site_url.as_deref()?.trim();
        let (scheme, rest) = url.split_once("://")?;
        let cut = rest.find(['/', '?', '#'])?;
        if rest[cut..].trim_end_matches('/').is_empty() {
            return None;
        }
        let root = format!("{scheme}://{}", &rest[..cut]);
        let note = format!(
            "the site URL {url} has a path; using {root}, the site itself, where Jira's REST API is (set site_url to {root} to drop this note)"
        );
        self.settings.site_url = Some(root);
        Some(note)
    }

    /// Resolves every setting from `flags`, `env` and an already read `file` (`text` is
    /// its source, for line numbers).
    pub fn resolve(
        flags: &Global,
        env: impl Fn(&str) -> Option<String>,
        text: &str,
        file: FileConfig,
        config_path: PathBuf,
        config_exists: bool,
    ) -> Result<Self, CliError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let profile = match (&flags.profile, env("JIRA_PROFILE"), &file.default_profile) {
            (Some(name), _, _) => Sourced {
                value: name.clone(),
                source: Source::Flag("--profile"),
            },
            (None, Some(name), _) => Sourced {
                value: name,
                source: Source::Env("JIRA_PROFILE".into()),
            },
            (None, None, Some(name)) => Sourced {
                value: name.clone(),
                source: Source::File,
            },
            (None, None, None) => Sourced {
                value: "default".into(),
                source: Source::Default,
            },
        };
        let chosen = file.profiles.get(&profile.value);
        if chosen.is_none() && profile.source != Source::Default {
            let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            return Err(CliError::usage(format!(
                "profile {:?} (from {}) is not in {} (profiles there: {known}); add it with `jira-ops --profile {} config init`",
                profile.value,
                profile.source,
                config_path.display(),
                profile.value
            )));
        }
        let mut loaded = Loaded {
            config_path,
            config_exists,
            settings: Settings::default(),
            sources: SETTINGS.iter().map(|s| (s.key, Source::Default)).collect(),
            profile,
            quiet: flags.quiet,
        };
        // The file's profile, each key checked against the table.
        let table = chosen.cloned().unwrap_or_default();
        for (key, value) in &table {
            let Some(setting) = Setting::named(key) else {
                let line = line_of(text, &loaded.profile.value, key)
                    .map(|n| format!(", line {n}"))
                    .unwrap_or_default();
                return Err(CliError::usage(format!(
                    "config file {}{line} in [profiles.{}]: unknown setting {key:?} (known: {}; see `jira-ops config init` for a commented example)",
                    loaded.config_path.display(),
                    loaded.profile.value,
                    SETTINGS
                        .iter()
                        .map(|s| s.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            let text = toml_text(value).ok_or_else(|| {
                CliError::usage(format!(
                    "{key} in {} is a {}: expected a number or a string",
                    loaded.where_in_file(),
                    value.type_str()
                ))
            })?;
            loaded.set(setting, &text, Source::File)?;
        }
        // The environment; a profile's own token variable beats the shared one.
        for setting in SETTINGS {
            let mut vars: Vec<String> = setting.env.iter().map(|v| (*v).to_owned()).collect();
            if setting.secret {
                vars.insert(0, token_variable(&loaded.profile.value));
            }
            if let Some((var, value)) = vars.iter().find_map(|var| env(var).map(|v| (var, v))) {
                loaded.set(setting, &value, Source::Env(var.clone()))?;
            }
        }
        // Flags.
        for (flag, value) in flags.setting_flags() {
            if let Some(setting) = SETTINGS.iter().find(|s| s.flag == Some(flag)) {
                loaded.set(setting, &value, Source::Flag(flag))?;
            }
        }
        if flags.no_cache {
            loaded.settings.cache_store = "none".into();
            loaded
                .sources
                .insert("cache_store", Source::Flag("--no-cache"));
        }
        Ok(loaded)
    }

    fn set(&mut self, setting: &Setting, text: &str, source: Source) -> Result<(), CliError> {
        self.settings
            .set(setting.key, text)
            .map_err(|error| self.describe(&error, text, &source))?;
        self.sources.insert(setting.key, source);
        Ok(())
    }

    /// A refused value, said from where it came.
    fn describe(&self, error: &SettingError, text: &str, source: &Source) -> CliError {
        let shown = if text.trim().parse::<f64>().is_ok() {
            text.trim().to_owned()
        } else {
            error.value.clone()
        };
        CliError::usage(match source {
            Source::Env(var) => format!(
                "{var}={shown} is invalid (from env {var}, which sets {}): expected {}",
                error.key, error.expected
            ),
            Source::Flag(flag) => {
                format!("{flag} {shown} is invalid: expected {}", error.expected)
            }
            Source::File => format!(
                "{} = {shown} (from {}) is invalid: expected {}",
                error.key,
                self.where_in_file(),
                error.expected
            ),
            Source::Default => error.to_string(),
        })
    }

    fn where_in_file(&self) -> String {
        self.origin(&Source::File)
    }

    /// The site URL, or an error saying how to set one.
    pub fn require_site(&self) -> Result<String, CliError> {
        self.settings
            .site_url
            .as_ref()
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "no Jira site for profile {:?}: pass --site https://your-domain.atlassian.net, set JIRA_SITE_URL, or set site_url in {} (`jira-ops config init` writes one)",
                    self.profile.value,
                    self.config_path.display()
                ))
            })
    }

    /// The token, or an error naming the variables that can hold it.
    fn require_token(&self) -> Result<(), CliError> {
        if self.settings.api_token.is_some() {
            return Ok(());
        }
        Err(CliError::usage(format!(
            "no API token for profile {:?}: set {} or JIRA_API_TOKEN (create a token at https://id.atlassian.com/manage-profile/security/api-tokens)",
            self.profile.value,
            token_variable(&self.profile.value)
        )))
    }

    /// The client these settings describe, built and connected, using the embedded cache
    /// as `cache` says.
    pub async fn client(&self, cache: CacheUse) -> Result<JiraClient, CliError> {
        self.client_with(cache, |builder| builder).await
    }

    /// [`Loaded::client`], its builder adjusted by `adjust` first (a command's own
    /// options).
    pub async fn client_with(
        &self,
        cache: CacheUse,
        adjust: impl Fn(jira_client::ClientBuilder) -> jira_client::ClientBuilder,
    ) -> Result<JiraClient, CliError> {
        self.require_site()?;
        self.require_token()?;
        let mut settings = self.settings.clone();
        match cache {
            CacheUse::Never => settings.cache_store = "none".into(),
            CacheUse::IfFree => settings.cache_lock_wait_secs = 0,
            CacheUse::Writes | CacheUse::Required => {}
        }
        let build = |settings: &jira_client::Settings| {
            let builder = JiraClient::from_settings(settings, &self.profile.value).map(&adjust);
            async move { builder?.build().await }
        };
        let built = match build(&settings).await {
            Err(jira_client::Error::Cache(jira_client::cache::Error::Locked {
                dir,
                holder,
                ..
            })) if matches!(cache, CacheUse::IfFree | CacheUse::Writes) => {
                if !self.quiet {
                    let stale = match cache {
                        CacheUse::Writes => {
                            "; its copies of what this run changes stay until their TTL (ttl_issue_secs; `fetch --fresh` reads anew)"
                        }
                        _ => "",
                    };
                    crate::notes::say!(
                        "jira-ops: note: the cache {} is in use by {holder}; this run goes without it (reads come from the site){stale}",
                        dir.display()
                    );
                }
                settings.cache_store = "none".into();
                build(&settings).await
            }
            other => other,
        };
        built.map_err(|error| self.build_error(error))
    }

    /// A client with no credentials of its own, each request carrying its caller's
    /// (`jira-ops proxy` forwarding them).
    pub async fn forwarding_client(&self) -> Result<JiraClient, CliError> {
        self.require_site()?;
        JiraClient::from_settings_with_auth(
            &self.settings,
            &self.profile.value,
            jira_client::Auth::None,
        )?
        .build()
        .await
        .map_err(|error| self.build_error(error))
    }

    /// A client build's error, a bad site URL said as the setting it came from.
    fn build_error(&self, error: jira_client::Error) -> CliError {
        match error {
            jira_client::Error::Transport(error @ jira_client::TransportError::Config(_)) => {
                CliError::usage(format!(
                    "{error} (from site_url, {})",
                    self.origin(&self.sources["site_url"])
                ))
            }
            other => other.into(),
        }
    }

    /// Where a value came from, for `config show`.
    pub fn origin(&self, source: &Source) -> String {
        match source {
            Source::File => format!(
                "{} [profiles.{}]",
                self.config_path.display(),
                self.profile.value
            ),
            other => other.to_string(),
        }
    }

    /// Every setting as (name, value, source), secrets redacted.
    pub fn rows(&self) -> Vec<(String, String, String)> {
        let mut rows = vec![(
            "profile".to_owned(),
            self.profile.value.clone(),
            self.origin(&self.profile.source),
        )];
        for setting in SETTINGS {
            let mut value = self.settings.get(setting.key).unwrap_or_default();
            if setting.secret && self.settings.api_token.is_none() {
                value = format!(
                    "(not set: use {} or JIRA_API_TOKEN)",
                    token_variable(&self.profile.value)
                );
            }
            let source = self.sources.get(setting.key).unwrap_or(&Source::Default);
            rows.push((setting.key.to_owned(), value, self.origin(source)));
        }
        rows
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::File => f.write_str("config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// The commented profile `config init` writes: every setting of the table, its doc line
/// and variables, the ones people change most set to their defaults, the rest commented.
/// The site a new profile holds until its owner writes theirs.
pub const PLACEHOLDER_SITE: &str = "https://your-domain.atlassian.net";

/// The email a new profile holds until its owner writes theirs.
pub const PLACEHOLDER_EMAIL: &str = "you@example.com";

pub fn profile_template(profile: &str, site: Option<&str>, email: Option<&str>) -> String {
    let defaults = Settings::default();
    let mut out = format!("\n[profiles.{profile}]\n");
    for setting in SETTINGS {
        let mut doc = setting.doc.trim().to_owned();
        let mut vars: Vec<String> = setting.env.iter().map(|v| (*v).to_owned()).collect();
        if setting.secret {
            vars.insert(0, token_variable(profile));
        }
        if !vars.is_empty() {
            doc.push_str(&format!(" ({} overrides)", vars.join(", ")));
        }
        for line in wrap(&doc, 88) {
            out.push_str(&format!("# {line}\n"));
        }
        let value = match setting.key {
            "site_url" => Some(format!("{:?}", site.unwrap_or(PLACEHOLDER_SITE))),
            "email" => Some(format!("{:?}", email.unwrap_or(PLACEHOLDER_EMAIL))),
            "api_token" => None,
            key => defaults.get(key),
        };
        let numeric = value.as_deref().is_some_and(|v| v.parse::<u64>().is_ok());
        // The settings people change most are written out; the rest stay commented.
        let comment = if WRITTEN_OUT.contains(&setting.key) {
            ""
        } else {
            "# "
        };
        match value {
            Some(v) if setting.key == "site_url" || setting.key == "email" => {
                out.push_str(&format!("{} = {v}\n", setting.key))
            }
            Some(v) if numeric => out.push_str(&format!("{comment}{} = {v}\n", setting.key)),
            Some(v) => out.push_str(&format!("{comment}{} = {:?}\n", setting.key, v)),
            None => out.push_str(&format!("# {} = \"...\"\n", setting.key)),
        }
    }
    out
}

/// The settings `config init` writes uncommented, at their defaults.
const WRITTEN_OUT: [&str; 6] = [
    "max_concurrent",
    "batch_size",
    "timeout_secs",
    "retries",
    "cache_max_mb",
    "rate_limit_store",
];

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn flags(args: &[&str]) -> Global {
        let mut argv = vec!["jira-ops"];
        argv.extend_from_slice(args);
        argv.push("health");
        crate::cli::Cli::parse_from(argv).global
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }

    #[cfg(unix)]
    #[test]
    fn a_token_in_a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "[profiles.default]\napi_token = \"t0ken\"\n");
        assert!(read_file(&path).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read_file(&path).unwrap_err();
        assert_eq!(error.code, crate::error::Code::Usage);
        assert!(error.message.contains("chmod 600"), "{}", error.message);
        assert!(!error.message.contains("t0ken"), "{}", error.message);
        // Without a token, a readable file is fine.
        std::fs::write(&path, "[profiles.default]\nemail = \"a@b.c\"\n").unwrap();
        assert!(read_file(&path).is_ok());
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "[profiles.default]\nsite_url = \"https://file.example\"\nemail = \"file@example.com\"\nmax_concurrent = 3\nbatch_size = 50\n",
        );
        let path = path.to_str().unwrap().to_owned();
        let env = |name: &str| match name {
            "JIRA_EMAIL" => Some("env@example.com".to_owned()),
            "MAX_CONCURRENT_JIRA_CALLS" => Some("7".to_owned()),
            "JIRA_API_TOKEN" => Some("generic".to_owned()),
            "JIRA_API_TOKEN_DEFAULT" => Some("own".to_owned()),
            _ => None,
        };
        let s = Loaded::load(&flags(&["--config", &path, "--concurrency", "12"]), env).unwrap();
        assert_eq!(s.settings.max_concurrent, 12);
        assert_eq!(s.sources["max_concurrent"], Source::Flag("--concurrency"));
        let s = Loaded::load(&flags(&["--config", &path]), env).unwrap();
        assert_eq!(s.settings.max_concurrent, 7);
        assert_eq!(s.settings.email.as_deref(), Some("env@example.com"));
        assert_eq!(s.sources["site_url"], Source::File);
        assert_eq!(s.settings.batch_size, 50);
        assert_eq!(s.sources["retries"], Source::Default);
        // The profile's own token beats the generic one.
        assert_eq!(s.settings.api_token.as_ref().unwrap().expose(), "own");
        let shown = format!("{:?}", s.rows());
        assert!(!shown.contains("own\""), "{shown}");
    }

    #[test]
    fn bad_values_name_their_origin_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "[profiles.default]\nbatch_size = 500\n");
        let error =
            Loaded::load(&flags(&["--config", path.to_str().unwrap()]), |_| None).unwrap_err();
        assert!(error.message.contains("batch_size = 500"), "{error}");
        assert!(error.message.contains("[profiles.default]"), "{error}");
        assert!(error.message.contains("1 to 100"), "{error}");

        let error = Loaded::load(&flags(&[]), |name| {
            (name == "JIRA_BATCH_SIZE").then(|| "lots".to_owned())
        })
        .unwrap_err();
        assert!(
            error.message.contains("JIRA_BATCH_SIZE=\"lots\""),
            "{error}"
        );
        // Absurd numbers are refused, not overflowed.
        let error =
            Loaded::load(&flags(&["--timeout", "18446744073709551615"]), |_| None).unwrap_err();
        assert!(
            error.message.contains("--timeout 18446744073709551615"),
            "{error}"
        );
    }

    #[test]
    fn a_typo_in_the_file_is_one_line_with_the_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "[profiles.work]\nsite_url = \"https://x.example\"\nconcurency = 4\n",
        );
        let error = Loaded::load(
            &flags(&["--config", path.to_str().unwrap(), "--profile", "work"]),
            |_| None,
        )
        .unwrap_err();
        assert!(!error.message.contains('\n'), "{error}");
        assert!(
            error.message.contains("line 3 in [profiles.work]"),
            "{error}"
        );
        assert!(error.message.contains("concurency"), "{error}");
    }

    #[test]
    fn a_named_profile_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "[profiles.work]\n");
        let error = Loaded::load(
            &flags(&["--config", path.to_str().unwrap(), "--profile", "prod"]),
            |_| None,
        )
        .unwrap_err();
        assert!(error.message.contains("\"prod\""), "{error}");
        assert!(error.message.contains("profiles there: work"), "{error}");
        assert_eq!(
            token_variable("my-site.prod"),
            "JIRA_API_TOKEN_MY_SITE_PROD"
        );
    }

    #[test]
    fn the_template_is_a_valid_profile_naming_every_setting() {
        let text = format!(
            "default_profile = \"t\"\n{}",
            profile_template("t", Some("https://t.example"), None)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, &text);
        let loaded = Loaded::load(&flags(&["--config", path.to_str().unwrap()]), |_| None).unwrap();
        assert_eq!(
            loaded.settings.site_url.as_deref(),
            Some("https://t.example")
        );
        for setting in SETTINGS {
            assert!(
                text.contains(setting.key),
                "{} missing from the template",
                setting.key
            );
        }
    }
}

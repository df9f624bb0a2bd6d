//! Settings: profiles in a TOML file, the environment, flags; and which one won.
//!
//! Precedence, highest first: flags, environment, the profile in the file, defaults.
//! [`Settings::load`] records where every value came from, so `config show` can say, and
//! an error about a value can point at the file and key, or the variable, that set it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jira_transport::Secret;
use serde::{Deserialize, Serialize};

use crate::cli::Global;
use crate::error::CliError;

/// The config file, as written.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The profile used when none is named.
    pub default_profile: Option<String>,
    /// The profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One profile: a site, its credentials and how hard to drive it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub site_url: Option<String>,
    pub email: Option<String>,
    pub api_token: Option<String>,
    pub max_concurrent: Option<usize>,
    pub max_in_flight: Option<usize>,
    pub batch_size: Option<usize>,
    pub timeout_secs: Option<u64>,
    pub connect_timeout_secs: Option<u64>,
    pub retries: Option<usize>,
    pub retry_base_ms: Option<u64>,
    pub max_wait_secs: Option<u64>,
    pub cache_dir: Option<PathBuf>,
    pub cache_max_mb: Option<u64>,
    pub cache_store: Option<String>,
    pub cache_lock_wait_secs: Option<u64>,
    pub rate_limit_store: Option<String>,
    pub rate_limit_workers: Option<u32>,
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
    pub value: T,
    pub source: Source,
}

/// Every setting, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config_path: PathBuf,
    pub config_exists: bool,
    pub profile: Sourced<String>,
    pub site_url: Option<Sourced<String>>,
    pub email: Option<Sourced<String>>,
    pub api_token: Option<Sourced<Secret>>,
    pub max_concurrent: Sourced<usize>,
    pub max_in_flight: Sourced<usize>,
    pub batch_size: Sourced<usize>,
    pub timeout_secs: Sourced<u64>,
    pub connect_timeout_secs: Sourced<u64>,
    pub retries: Sourced<usize>,
    pub retry_base_ms: Sourced<u64>,
    pub max_wait_secs: Sourced<u64>,
    pub cache_enabled: bool,
    pub cache_dir: Sourced<PathBuf>,
    pub cache_max_mb: Sourced<u64>,
    pub cache_store: Sourced<String>,
    pub cache_lock_wait_secs: Sourced<u64>,
    pub rate_limit_store: Sourced<String>,
    pub rate_limit_workers: Sourced<u32>,
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

/// Reads and parses the config file; a missing file is an empty config.
pub fn read_file(path: &Path) -> Result<Option<FileConfig>, CliError> {
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
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| CliError::usage(describe_toml_error(path, &text, &error)))
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

impl Settings {
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
        Self::resolve(
            flags,
            env,
            file.unwrap_or_default(),
            config_path,
            config_exists,
        )
    }

    /// Resolves every setting from `flags`, `env` and an already read `file`.
    pub fn resolve(
        flags: &Global,
        env: impl Fn(&str) -> Option<String>,
        file: FileConfig,
        config_path: PathBuf,
        config_exists: bool,
    ) -> Result<Self, CliError> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());

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
        let p = chosen.cloned().unwrap_or_default();
        let file_path = config_path.clone();
        let profile_name = profile.value.clone();
        let where_ = move |key: &str| {
            format!(
                "{} in {} [profiles.{}]",
                key,
                file_path.display(),
                profile_name
            )
        };

        // Strings: flag > env > file.
        let string = |flag: &Option<String>,
                      flag_name: &'static str,
                      var: &str,
                      file: &Option<String>|
         -> Option<Sourced<String>> {
            if let Some(value) = flag {
                return Some(Sourced {
                    value: value.clone(),
                    source: Source::Flag(flag_name),
                });
            }
            if let Some(value) = env(var) {
                return Some(Sourced {
                    value,
                    source: Source::Env(var.into()),
                });
            }
            file.clone().map(|value| Sourced {
                value,
                source: Source::File,
            })
        };
        let site_url = string(&flags.site, "--site", "JIRA_SITE_URL", &p.site_url);
        let email = string(&flags.email, "--email", "JIRA_EMAIL", &p.email);
        let own_token = token_variable(&profile.value);
        let api_token = env(&own_token)
            .map(|t| Sourced {
                value: Secret::new(t),
                source: Source::Env(own_token.clone()),
            })
            .or_else(|| {
                env("JIRA_API_TOKEN").map(|t| Sourced {
                    value: Secret::new(t),
                    source: Source::Env("JIRA_API_TOKEN".into()),
                })
            })
            .or_else(|| {
                p.api_token.clone().map(|t| Sourced {
                    value: Secret::new(t),
                    source: Source::File,
                })
            });

        let number = |flag: Option<u64>,
                      flag_name: &'static str,
                      var: Option<&str>,
                      file: Option<u64>,
                      default: u64|
         -> Result<Sourced<u64>, CliError> {
            if let Some(value) = flag {
                return Ok(Sourced {
                    value,
                    source: Source::Flag(flag_name),
                });
            }
            if let Some(var) = var
                && let Some(text) = env(var)
            {
                let value = text.trim().parse::<u64>().map_err(|_| {
                    CliError::usage(format!(
                        "{var}={text:?} is not a whole number (expected e.g. {default})"
                    ))
                })?;
                return Ok(Sourced {
                    value,
                    source: Source::Env(var.into()),
                });
            }
            Ok(match file {
                Some(value) => Sourced {
                    value,
                    source: Source::File,
                },
                None => Sourced {
                    value: default,
                    source: Source::Default,
                },
            })
        };
        let as_u64 = |v: Option<usize>| v.map(|v| v as u64);
        let to_usize = |s: Sourced<u64>| Sourced {
            value: s.value as usize,
            source: s.source,
        };

        let max_concurrent = to_usize(number(
            as_u64(flags.concurrency),
            "--concurrency",
            Some("MAX_CONCURRENT_JIRA_CALLS"),
            as_u64(p.max_concurrent),
            10,
        )?);
        let max_in_flight = to_usize(number(None, "", None, as_u64(p.max_in_flight), 50)?);
        let batch_size = to_usize(number(
            None,
            "",
            Some("JIRA_BATCH_SIZE"),
            as_u64(p.batch_size),
            100,
        )?);
        let timeout_secs = number(
            flags.timeout,
            "--timeout",
            Some("JIRA_REQUEST_TIMEOUT"),
            p.timeout_secs,
            20,
        )?;
        let connect_timeout_secs = number(None, "", None, p.connect_timeout_secs, 10)?;
        let retries = to_usize(number(
            as_u64(flags.retries),
            "--retries",
            None,
            as_u64(p.retries),
            4,
        )?);
        let retry_base_ms = number(None, "", None, p.retry_base_ms, 2_000)?;
        let max_wait_secs = number(None, "", None, p.max_wait_secs, 120)?;
        let cache_max_mb = number(None, "", None, p.cache_max_mb, 500)?;
        let cache_lock_wait_secs = number(None, "", None, p.cache_lock_wait_secs, 5)?;
        let rate_limit_workers = number(None, "", None, p.rate_limit_workers.map(u64::from), 1)?;
        let rate_limit_workers = Sourced {
            value: u32::try_from(rate_limit_workers.value).unwrap_or(u32::MAX),
            source: rate_limit_workers.source,
        };

        let cache_dir = match (&flags.cache_dir, env("JIRA_OPS_CACHE_DIR"), &p.cache_dir) {
            (Some(dir), _, _) => Sourced {
                value: dir.clone(),
                source: Source::Flag("--cache-dir"),
            },
            (None, Some(dir), _) => Sourced {
                value: PathBuf::from(dir),
                source: Source::Env("JIRA_OPS_CACHE_DIR".into()),
            },
            (None, None, Some(dir)) => Sourced {
                value: dir.clone(),
                source: Source::File,
            },
            (None, None, None) => Sourced {
                value: jira_cache::SledStore::default_dir()
                    .unwrap_or_else(|| PathBuf::from(".jira-ops-cache")),
                source: Source::Default,
            },
        };
        let cache_store =
            string(&None, "", "JIRA_OPS_CACHE_STORE", &p.cache_store).unwrap_or(Sourced {
                value: "sled".into(),
                source: Source::Default,
            });
        let rate_limit_store = string(
            &flags.rate_limit_store,
            "--rate-limit-store",
            "JIRA_OPS_RATE_LIMIT_STORE",
            &p.rate_limit_store,
        )
        .unwrap_or(Sourced {
            value: "local".into(),
            source: Source::Default,
        });

        let settings = Settings {
            config_path: config_path.clone(),
            config_exists,
            profile,
            site_url,
            email,
            api_token,
            max_concurrent,
            max_in_flight,
            batch_size,
            timeout_secs,
            connect_timeout_secs,
            retries,
            retry_base_ms,
            max_wait_secs,
            cache_enabled: !flags.no_cache,
            cache_dir,
            cache_max_mb,
            cache_store,
            cache_lock_wait_secs,
            rate_limit_store,
            rate_limit_workers,
        };
        settings.validate(&where_)?;
        Ok(settings)
    }

    /// Range checks, each error naming where the value came from.
    fn validate(&self, where_: &dyn Fn(&str) -> String) -> Result<(), CliError> {
        let origin = |key: &str, source: &Source| match source {
            Source::File => where_(key),
            other => other.to_string(),
        };
        let check = |ok: bool, key: &str, source: &Source, value: String, expected: &str| {
            if ok {
                Ok(())
            } else {
                Err(CliError::usage(format!(
                    "{key} = {value} (from {}) is invalid: expected {expected}",
                    origin(key, source)
                )))
            }
        };
        let s = self;
        check(
            s.max_concurrent.value >= 1,
            "max_concurrent",
            &s.max_concurrent.source,
            s.max_concurrent.value.to_string(),
            "at least 1 (e.g. 10)",
        )?;
        check(
            s.max_in_flight.value >= 1,
            "max_in_flight",
            &s.max_in_flight.source,
            s.max_in_flight.value.to_string(),
            "at least 1 (e.g. 50)",
        )?;
        check(
            (1..=100).contains(&s.batch_size.value),
            "batch_size",
            &s.batch_size.source,
            s.batch_size.value.to_string(),
            "1 to 100 (Jira's bulk fetch takes at most 100 keys)",
        )?;
        check(
            s.timeout_secs.value >= 1,
            "timeout_secs",
            &s.timeout_secs.source,
            s.timeout_secs.value.to_string(),
            "at least 1 second",
        )?;
        check(
            s.connect_timeout_secs.value >= 1,
            "connect_timeout_secs",
            &s.connect_timeout_secs.source,
            s.connect_timeout_secs.value.to_string(),
            "at least 1 second",
        )?;
        check(
            s.cache_max_mb.value >= 1,
            "cache_max_mb",
            &s.cache_max_mb.source,
            s.cache_max_mb.value.to_string(),
            "at least 1 (MiB)",
        )?;
        check(
            s.rate_limit_workers.value >= 1,
            "rate_limit_workers",
            &s.rate_limit_workers.source,
            s.rate_limit_workers.value.to_string(),
            "at least 1",
        )?;
        let store = &s.cache_store.value;
        check(
            store == "sled" || store.starts_with("redis://") || store.starts_with("rediss://"),
            "cache_store",
            &s.cache_store.source,
            format!("{:?}", jira_transport::redact_url(store)),
            "\"sled\" or a redis:// URL",
        )?;
        let store = &s.rate_limit_store.value;
        check(
            store == "local" || store.starts_with("redis://") || store.starts_with("rediss://"),
            "rate_limit_store",
            &s.rate_limit_store.source,
            format!("{:?}", jira_transport::redact_url(store)),
            "\"local\" or a redis:// URL",
        )?;
        if let Some(site) = &s.site_url {
            let url = site.value.trim();
            check(
                url.starts_with("https://") || url.starts_with("http://"),
                "site_url",
                &site.source,
                format!("{url:?}"),
                "a URL such as https://your-domain.atlassian.net",
            )?;
        }
        Ok(())
    }

    /// The site URL, or an error saying how to set one.
    pub fn require_site(&self) -> Result<String, CliError> {
        self.site_url
            .as_ref()
            .map(|s| s.value.trim().trim_end_matches('/').to_owned())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "no Jira site for profile {:?}: pass --site https://your-domain.atlassian.net, set JIRA_SITE_URL, or set site_url in {} (`jira-ops config init` writes one)",
                    self.profile.value,
                    self.config_path.display()
                ))
            })
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

    /// Every setting as (name, value, source), the token redacted.
    pub fn rows(&self) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        let mut row = |name: &str, value: String, source: &Source| {
            rows.push((name.to_owned(), value, self.origin(source)));
        };
        row("profile", self.profile.value.clone(), &self.profile.source);
        match &self.site_url {
            Some(s) => row("site_url", s.value.clone(), &s.source),
            None => row("site_url", "(not set)".into(), &Source::Default),
        }
        match &self.email {
            Some(s) => row("email", s.value.clone(), &s.source),
            None => row("email", "(not set)".into(), &Source::Default),
        }
        match &self.api_token {
            Some(s) => row(
                "api_token",
                format!("(set, {} characters, redacted)", s.value.expose().len()),
                &s.source,
            ),
            None => row(
                "api_token",
                format!(
                    "(not set: use {} or JIRA_API_TOKEN)",
                    token_variable(&self.profile.value)
                ),
                &Source::Default,
            ),
        }
        let s = self;
        row(
            "max_concurrent",
            s.max_concurrent.value.to_string(),
            &s.max_concurrent.source,
        );
        row(
            "max_in_flight",
            s.max_in_flight.value.to_string(),
            &s.max_in_flight.source,
        );
        row(
            "batch_size",
            s.batch_size.value.to_string(),
            &s.batch_size.source,
        );
        row(
            "timeout_secs",
            s.timeout_secs.value.to_string(),
            &s.timeout_secs.source,
        );
        row(
            "connect_timeout_secs",
            s.connect_timeout_secs.value.to_string(),
            &s.connect_timeout_secs.source,
        );
        row("retries", s.retries.value.to_string(), &s.retries.source);
        row(
            "retry_base_ms",
            s.retry_base_ms.value.to_string(),
            &s.retry_base_ms.source,
        );
        row(
            "max_wait_secs",
            s.max_wait_secs.value.to_string(),
            &s.max_wait_secs.source,
        );
        row(
            "cache",
            if s.cache_enabled { "on" } else { "off" }.into(),
            &if s.cache_enabled {
                Source::Default
            } else {
                Source::Flag("--no-cache")
            },
        );
        row(
            "cache_store",
            jira_transport::redact_url(&s.cache_store.value),
            &s.cache_store.source,
        );
        row(
            "cache_dir",
            s.cache_dir.value.display().to_string(),
            &s.cache_dir.source,
        );
        row(
            "cache_max_mb",
            s.cache_max_mb.value.to_string(),
            &s.cache_max_mb.source,
        );
        row(
            "cache_lock_wait_secs",
            s.cache_lock_wait_secs.value.to_string(),
            &s.cache_lock_wait_secs.source,
        );
        row(
            "rate_limit_store",
            jira_transport::redact_url(&s.rate_limit_store.value),
            &s.rate_limit_store.source,
        );
        row(
            "rate_limit_workers",
            s.rate_limit_workers.value.to_string(),
            &s.rate_limit_workers.source,
        );
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

/// The commented profile `config init` writes.
pub fn profile_template(profile: &str, site: Option<&str>, email: Option<&str>) -> String {
    format!(
        r#"
[profiles.{profile}]
site_url = "{site}"
email = "{email}"
# The API token: prefer the environment ({var} or JIRA_API_TOKEN) to this file.
# Create one at https://id.atlassian.com/manage-profile/security/api-tokens
# api_token = "..."
# Requests in flight and per batch (MAX_CONCURRENT_JIRA_CALLS overrides).
max_concurrent = 10
# max_in_flight = 50
# Keys per bulk fetch, 1 to 100 (JIRA_BATCH_SIZE overrides).
batch_size = 100
# Read timeout of single requests in seconds (JIRA_REQUEST_TIMEOUT overrides).
timeout_secs = 20
# connect_timeout_secs = 10
# Retries after a failed attempt, the first backoff, and the longest Retry-After honoured.
retries = 4
# retry_base_ms = 2000
# max_wait_secs = 120
# The cache: "sled" (embedded, in cache_dir) or a redis:// URL shared by workers.
# cache_store = "sled"
# cache_dir = "/var/cache/jira-ops"
cache_max_mb = 500
# The rate-limit budget: "local" or a redis:// URL shared by every worker of this site;
# rate_limit_workers is each worker's share if Redis goes away.
rate_limit_store = "local"
# rate_limit_workers = 1
"#,
        site = site.unwrap_or("https://your-domain.atlassian.net"),
        email = email.unwrap_or("you@example.com"),
        var = token_variable(profile),
    )
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
        path
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
        let s = Settings::load(&flags(&["--config", &path, "--concurrency", "12"]), env).unwrap();
        assert_eq!(s.max_concurrent.value, 12);
        assert_eq!(s.max_concurrent.source, Source::Flag("--concurrency"));
        let s = Settings::load(&flags(&["--config", &path]), env).unwrap();
        assert_eq!(s.max_concurrent.value, 7);
        assert_eq!(s.email.as_ref().unwrap().value, "env@example.com");
        assert_eq!(s.site_url.as_ref().unwrap().source, Source::File);
        assert_eq!(s.batch_size.value, 50);
        assert_eq!(s.retries.source, Source::Default);
        // The profile's own token beats the generic one.
        assert_eq!(s.api_token.as_ref().unwrap().value.expose(), "own");
        let shown = format!("{:?}", s.rows());
        assert!(!shown.contains("own\""), "{shown}");
    }

    #[test]
    fn bad_values_name_their_origin_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "[profiles.default]\nbatch_size = 500\n");
        let error =
            Settings::load(&flags(&["--config", path.to_str().unwrap()]), |_| None).unwrap_err();
        assert!(error.message.contains("batch_size = 500"), "{error}");
        assert!(error.message.contains("[profiles.default]"), "{error}");
        assert!(error.message.contains("1 to 100"), "{error}");

        let error = Settings::load(&flags(&[]), |name| {
            (name == "JIRA_BATCH_SIZE").then(|| "lots".to_owned())
        })
        .unwrap_err();
        assert!(
            error.message.contains("JIRA_BATCH_SIZE=\"lots\""),
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
        let error =
            Settings::load(&flags(&["--config", path.to_str().unwrap()]), |_| None).unwrap_err();
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
        let error = Settings::load(
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
}

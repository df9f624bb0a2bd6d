//! [`Settings`]: every setting of a client, declared once.
//!
//! One macro invocation below names each setting with its TOML key, its command-line flag,
//! its environment variables, its type, its check, its default (read from the library
//! type that owns it: `RetryPolicy::default()`, `Timeouts::default()`, ...) and one line of
//! documentation. From that one table come the [`Settings`] struct and its `Default`,
//! [`SETTINGS`] (what `jira-ops config show`, the config template and the flags' help
//! read), parsing with range checks ([`Settings::set`]) and the environment mapping
//! ([`Settings::apply_env`]). A value from a file, a variable or a flag goes through the
//! same parser, so all three fail alike, with the value and the fix.

use std::path::PathBuf;

use jira_batch::BatchConfig;
use jira_cache::{CacheConfig, SledStore};
use jira_ratelimit::Fallback;
use jira_transport::{HttpConfig, PerClass, RetryPolicy, Secret, Timeouts};

/// What one setting is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The TOML key in a profile, and the name `config show` prints.
    pub key: &'static str,
    /// The command-line flag, when there is one.
    pub flag: Option<&'static str>,
    /// Environment variables, in order of precedence.
    pub env: &'static [&'static str],
    /// What values look like (`SECS`, `N`, `URL`...).
    pub value_name: &'static str,
    /// One line for help texts and the config template.
    pub doc: &'static str,
    /// Whether the value is a secret (never printed, never taken from a flag).
    pub secret: bool,
}

impl Setting {
    /// The setting called `key`.
    pub fn named(key: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.key == key)
    }

    /// The flag's help text: the doc line, the variables and the default.
    pub fn help(key: &str) -> String {
        let Some(setting) = Setting::named(key) else {
            return String::new();
        };
        let mut help = setting.doc.to_owned();
        if !setting.env.is_empty() {
            help.push_str(&format!(" [env: {}]", setting.env.join(", ")));
        }
        if let Some(default) = Settings::default().get(key).filter(|d| !d.starts_with('(')) {
            help.push_str(&format!(" [default: {default}]"));
        }
        help
    }
}

/// Why a value was refused: the key, the value as given (secrets redacted) and what is
/// expected instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} = {value} is invalid: expected {expected}")]
pub struct SettingError {
    /// The setting.
    pub key: String,
    /// The value as given, quoted when text, redacted when secret.
    pub value: String,
    /// What would be accepted.
    pub expected: String,
}

/// A type a setting can have.
pub trait SettingValue: Sized {
    /// Whether values of this type are secrets (never printed, never taken from a flag).
    const SECRET: bool = false;
    /// Parses a value from a file, a variable or a flag.
    fn parse(text: &str) -> Result<Self, String>;
    /// The value as `config show` prints it.
    fn show(&self) -> String;
    /// The value as `config show --json` prints it: numbers as numbers, the rest as the
    /// text [`SettingValue::show`] gives.
    fn json(&self) -> serde_json::Value {
        serde_json::Value::String(self.show())
    }
}

macro_rules! whole_number {
    ($($ty:ty),*) => {$(
        impl SettingValue for $ty {
            fn parse(text: &str) -> Result<Self, String> {
                text.trim().parse::<$ty>().map_err(|_| {
                    format!("a whole number from 0 to {}", <$ty>::MAX)
                })
            }
            fn show(&self) -> String {
                self.to_string()
            }
            fn json(&self) -> serde_json::Value {
                (*self).into()
            }
        }
    )*};
}
whole_number!(u32, u64, usize);

impl SettingValue for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.trim().to_owned())
    }
    fn show(&self) -> String {
        jira_model::redact_url(self)
    }
}

impl SettingValue for Option<String> {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }
    fn show(&self) -> String {
        match self {
            Some(text) => jira_model::redact_url(text),
            None => "(not set)".to_owned(),
        }
    }
}

impl SettingValue for PathBuf {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(PathBuf::from(text.trim()))
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl SettingValue for Option<Secret> {
    const SECRET: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        Ok((!text.is_empty()).then(|| Secret::new(text)))
    }
    fn show(&self) -> String {
        match self {
            Some(secret) => format!("(set, {} characters, redacted)", secret.expose().len()),
            None => "(not set)".to_owned(),
        }
    }
}

fn at_least<T: PartialOrd + Copy + std::fmt::Display>(
    min: T,
    hint: &'static str,
) -> impl Fn(&T) -> Result<(), String> {
    move |value| {
        if *value >= min {
            Ok(())
        } else {
            Err(hint.to_owned())
        }
    }
}

fn within<T: PartialOrd + Copy>(
    min: T,
    max: T,
    hint: &'static str,
) -> impl Fn(&T) -> Result<(), String> {
    move |value| {
        if *value >= min && *value <= max {
            Ok(())
        } else {
            Err(hint.to_owned())
        }
    }
}

fn any<T>(_: &T) -> Result<(), String> {
    Ok(())
}

fn site_url(value: &Option<String>) -> Result<(), String> {
    match value {
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            Err("a URL such as https://your-domain.atlassian.net".into())
        }
        Some(url) if jira_model::redact_url(url) != *url => Err(
            "a URL without credentials, such as https://your-domain.atlassian.net (the email goes in `email`, the token in JIRA_API_TOKEN, never in the URL, where logs and shell history keep it)".into(),
        ),
        Some(url) if jira_model::SiteKey::from_url(url).is_err() => {
            Err("a URL with a host, such as https://your-domain.atlassian.net".into())
        }
        _ => Ok(()),
    }
}

fn cache_store(value: &String) -> Result<(), String> {
    if value == "sled" || value == "none" || is_redis(value) {
        Ok(())
    } else {
        Err("\"sled\", \"none\" or a redis:// URL".into())
    }
}

fn rate_limit_store(value: &String) -> Result<(), String> {
    if value == "local" || is_redis(value) {
        Ok(())
    } else {
        Err("\"local\" or a redis:// URL".into())
    }
}

/// The default journal directory: `$XDG_STATE_HOME/jira-ops/journal`, else
/// `~/.local/state/jira-ops/journal`.
fn default_journal_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("state"))
        })?;
    Some(base.join("jira-ops").join("journal"))
}

pub(crate) fn is_redis(url: &str) -> bool {
    url.starts_with("redis://") || url.starts_with("rediss://")
}

/// A duration in whole seconds that `Duration` can hold and a timer can wait: a day at most.
const DAY: u64 = 86_400;

macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $key:ident: $ty:ty = $default:expr;
            flag $flag:expr, env [$($env:literal),*], value $value_name:literal, check $check:expr;
    )*) => {
        /// Every setting of a client, with the library's defaults. Read it from a file, the
        /// environment or flags with [`Settings::set`]; turn it into a client with
        /// [`crate::JiraClient::from_settings`].
        // The doc lines double as help texts, where a URL is plain text.
        #[allow(rustdoc::bare_urls)]
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub struct Settings {
            $( $(#[doc = $doc])+ pub $key: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $( $key: $default, )* }
            }
        }

        /// Every setting, in the order `config show` prints them.
        pub const SETTINGS: &[Setting] = &[
            $( Setting {
                key: stringify!($key),
                flag: $flag,
                env: &[$($env),*],
                value_name: $value_name,
                doc: concat!($($doc),+),
                secret: <$ty as SettingValue>::SECRET,
            }, )*
        ];

        impl Settings {
    /// The write journal of `site` (one file per site under `journal_dir`).
    pub fn journal_path(&self, site: &jira_model::SiteKey) -> PathBuf {
        let name: String = site
            .as_str()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
            .collect();
        self.journal_dir.join(format!("{name}.jsonl"))
    }

            /// Parses `text` into the setting `key`, checking its range.
            pub fn set(&mut self, key: &str, text: &str) -> Result<(), SettingError> {
                let refuse = |expected: String| SettingError {
                    key: key.to_owned(),
                    value: if Setting::named(key).is_some_and(|s| s.secret) {
                        "(redacted)".to_owned()
                    } else {
                        format!("{:?}", jira_model::redact_url(text.trim()))
                    },
                    expected,
                };
                match key {
                    $( stringify!($key) => {
                        let value = <$ty as SettingValue>::parse(text).map_err(refuse)?;
                        ($check)(&value).map_err(refuse)?;
                        self.$key = value;
                        Ok(())
                    } )*
                    _ => Err(SettingError {
                        key: key.to_owned(),
                        value: String::new(),
                        expected: format!(
                            "one of the known settings ({})",
                            SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>().join(", ")
                        ),
                    }),
                }
            }

            /// The setting `key` as `config show --json` prints it: numbers as numbers
            /// (secrets redacted).
            pub fn get_json(&self, key: &str) -> Option<serde_json::Value> {
                match key {
                    $( stringify!($key) => Some(SettingValue::json(&self.$key)), )*
                    _ => None,
                }
            }

            /// The setting `key` as `config show` prints it (secrets redacted).
            pub fn get(&self, key: &str) -> Option<String> {
                match key {
                    $( stringify!($key) => Some(SettingValue::show(&self.$key)), )*
                    _ => None,
                }
            }
        }
    };
}

settings! {
    /// The Jira Cloud site, e.g. https://your-domain.atlassian.net.
    site_url: Option<String> = None;
        flag Some("--site"), env ["JIRA_SITE_URL"], value "URL", check site_url;
    /// The account's email (Basic auth with an API token; without one, the token is sent as
    /// a Bearer token).
    email: Option<String> = None;
        flag Some("--email"), env ["JIRA_EMAIL"], value "EMAIL", check any;
    /// The API token (https://id.atlassian.com/manage-profile/security/api-tokens); prefer
    /// the environment to a file.
    api_token: Option<Secret> = None;
        flag None, env ["JIRA_API_TOKEN"], value "TOKEN", check any;
    /// Requests of a batch in flight at once.
    max_concurrent: usize = BatchConfig::default().max_concurrent;
        flag Some("--concurrency"), env ["MAX_CONCURRENT_JIRA_CALLS"], value "N",
        check within(1, 1_000, "1 to 1000 (e.g. 10)");
    /// Requests in flight on the connection pool at once (callers beyond it wait).
    max_in_flight: usize = HttpConfig::new("", jira_transport::Auth::None).max_in_flight;
        flag None, env [], value "N", check within(1, 10_000, "1 to 10000 (e.g. 256)");
    /// Keys per bulk fetch (Jira takes at most 100).
    batch_size: usize = BatchConfig::default().fetch_chunk;
        flag None, env ["JIRA_BATCH_SIZE"], value "N",
        check within(1, jira_model::BULK_FETCH_MAX_ISSUES, "1 to 100 (Jira's bulk fetch takes at most 100 keys)");
    /// Read timeout of a single request in seconds; searches, bulk calls and totals scale
    /// from it.
    timeout_secs: u64 = Timeouts::default().read.single.as_secs();
        flag Some("--timeout"), env ["JIRA_REQUEST_TIMEOUT"], value "SECS",
        check within(1, DAY, "1 to 86400 seconds");
    /// Connect timeout in seconds.
    connect_timeout_secs: u64 = Timeouts::default().connect.as_secs();
        flag None, env [], value "SECS", check within(1, DAY, "1 to 86400 seconds");
    /// The most one logical request may take, its attempts, backoffs and waits included, in
    /// seconds: a hanging server ends a request within it. It caps the per-class deadlines
    /// below (set it low to bound every request at once).
    request_deadline_secs: u64 = PerClass::DEFAULT_DEADLINES.longest().as_secs();
        flag None, env ["JIRA_OPS_REQUEST_DEADLINE"], value "SECS", check within(1, DAY, "1 to 86400 seconds");
    /// The deadline of a read of one object or of metadata (an issue, a project, the field
    /// list), in seconds, attempts and waits included.
    read_deadline_secs: u64 = PerClass::DEFAULT_DEADLINES.single.as_secs();
        flag None, env ["JIRA_OPS_READ_DEADLINE"], value "SECS", check within(1, DAY, "1 to 86400 seconds");
    /// The deadline of a search page or a bulk call (bulk fetch, bulk create), in seconds.
    bulk_deadline_secs: u64 = PerClass::DEFAULT_DEADLINES.bulk.as_secs();
        flag None, env ["JIRA_OPS_BULK_DEADLINE"], value "SECS", check within(1, DAY, "1 to 86400 seconds");
    /// The deadline of a single write (create, edit, transition, comment), in seconds. A
    /// write cut by it has an unknown outcome, resolved through the journal before it is
    /// sent again.
    write_deadline_secs: u64 = PerClass::DEFAULT_DEADLINES.write.as_secs();
        flag None, env ["JIRA_OPS_WRITE_DEADLINE"], value "SECS", check within(1, DAY, "1 to 86400 seconds");
    /// The largest response body read, in MiB (a larger answer is a clear error).
    max_body_mb: u64 = (HttpConfig::new("", jira_transport::Auth::None).max_body_bytes / (1024 * 1024)) as u64;
        flag None, env ["JIRA_OPS_MAX_BODY_MB"], value "MIB", check within(1, 65_536, "1 to 65536 (MiB)");
    /// Retries after a failed attempt.
    retries: usize = RetryPolicy::default().max_retries;
        flag Some("--retries"), env [], value "N", check within(0, 100, "0 to 100");
    /// The first backoff in milliseconds (it doubles, with jitter, up to 30 s).
    retry_base_ms: u64 = RetryPolicy::default().base_delay.as_millis() as u64;
        flag None, env [], value "MS", check within(1, DAY * 1000, "1 to 86400000 milliseconds");
    /// The longest wait the server may ask for (Retry-After) before a request fails, in
    /// seconds.
    max_wait_secs: u64 = RetryPolicy::default().max_wait.as_secs();
        flag Some("--max-wait"), env ["JIRA_OPS_MAX_WAIT"], value "SECS", check within(0, DAY, "0 to 86400 seconds");
    /// How long a write takes to reach Jira's search at most, in seconds: a write whose
    /// answer was lost is looked for until its intent is this old before it is sent again.
    search_settle_secs: u64 = BatchConfig::default().search_settle.as_secs();
        flag None, env ["JIRA_OPS_SEARCH_SETTLE_SECS"], value "SECS", check within(0, 3_600, "0 to 3600 seconds");
    /// The cache: "sled" (embedded, in cache_dir), a redis:// URL shared by workers, or
    /// "none".
    cache_store: String = "sled".to_owned();
        flag None, env ["JIRA_OPS_CACHE_STORE"], value "sled|none|URL", check cache_store;
    /// The sled cache directory.
    cache_dir: PathBuf = SledStore::default_dir().unwrap_or_else(|| PathBuf::from(".jira-ops-cache"));
        flag Some("--cache-dir"), env ["JIRA_OPS_CACHE_DIR"], value "DIR", check any;
    /// The write journal's directory: what every create was, durable before it is sent.
    journal_dir: PathBuf = default_journal_dir().unwrap_or_else(|| PathBuf::from(".jira-ops-journal"));
        flag None, env ["JIRA_OPS_JOURNAL_DIR"], value "DIR", check any;
    /// The cache's size cap in MiB.
    cache_max_mb: u64 = CacheConfig::new("default").max_size_bytes / (1024 * 1024);
        flag None, env [], value "MIB", check within(1, 1 << 30, "1 to 1073741824 (MiB)");
    /// How long a cached issue is served, in seconds (`fetch --max-age` asks for less).
    ttl_issue_secs: u64 = jira_cache::Category::Issue.ttl().as_secs();
        flag None, env [], value "SECS", check within(0, 30 * DAY, "0 to 2592000 seconds");
    /// How long cached search pages are served, in seconds.
    ttl_search_secs: u64 = jira_cache::Category::Search.ttl().as_secs();
        flag None, env [], value "SECS", check within(0, 30 * DAY, "0 to 2592000 seconds");
    /// How long cached projects are served, in seconds.
    ttl_project_secs: u64 = jira_cache::Category::Project.ttl().as_secs();
        flag None, env [], value "SECS", check within(0, 30 * DAY, "0 to 2592000 seconds");
    /// How long cached users are served, in seconds.
    ttl_user_secs: u64 = jira_cache::Category::User.ttl().as_secs();
        flag None, env [], value "SECS", check within(0, 30 * DAY, "0 to 2592000 seconds");
    /// How long the cached field catalogue is served, in seconds.
    ttl_field_secs: u64 = jira_cache::Category::Field.ttl().as_secs();
        flag None, env [], value "SECS", check within(0, 30 * DAY, "0 to 2592000 seconds");
    /// How long to wait for another process holding the sled cache, in seconds.
    cache_lock_wait_secs: u64 = SledStore::DEFAULT_LOCK_WAIT.as_secs();
        flag None, env [], value "SECS", check within(0, DAY, "0 to 86400 seconds");
    /// The rate-limit budget: "local", or a redis:// URL shared by every worker of the site.
    rate_limit_store: String = "local".to_owned();
        flag Some("--rate-limit-store"), env ["JIRA_OPS_RATE_LIMIT_STORE"], value "local|URL",
        check rate_limit_store;
    /// Each worker's share of the limits while a shared Redis budget is unreachable.
    rate_limit_workers: u32 = match Fallback::default() {
        Fallback::LocalShare { workers } => workers,
        Fallback::Fail => 1,
    };
        flag None, env [], value "N", check at_least(1, "at least 1");
}

impl Settings {
    /// The settings from the process environment over the defaults (the variables of
    /// [`SETTINGS`], including the reference tool's `MAX_CONCURRENT_JIRA_CALLS`,
    /// `JIRA_BATCH_SIZE` and `JIRA_REQUEST_TIMEOUT`).
    pub fn from_env() -> Result<Self, SettingError> {
        let mut settings = Settings::default();
        settings.apply_env(|name| std::env::var(name).ok())?;
        Ok(settings)
    }

    /// Applies every variable `lookup` finds (empty ones ignored); the first variable of a
    /// setting wins.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), SettingError> {
        for setting in SETTINGS {
            if let Some(text) = setting
                .env
                .iter()
                .find_map(|var| lookup(var).filter(|v| !v.trim().is_empty()))
            {
                self.set(setting.key, &text)?;
            }
        }
        Ok(())
    }

    /// The batch settings these describe.
    pub fn batch(&self) -> BatchConfig {
        BatchConfig {
            max_concurrent: self.max_concurrent,
            fetch_chunk: self.batch_size,
            search_settle: std::time::Duration::from_secs(self.search_settle_secs),
            ..BatchConfig::default()
        }
    }

    /// The cache TTLs by category name, from the `ttl_*_secs` settings.
    pub fn cache_ttls(&self) -> std::collections::BTreeMap<String, std::time::Duration> {
        let secs = std::time::Duration::from_secs;
        [
            ("issue", self.ttl_issue_secs),
            ("search", self.ttl_search_secs),
            ("project", self.ttl_project_secs),
            ("user", self.ttl_user_secs),
            ("field", self.ttl_field_secs),
        ]
        .into_iter()
        .map(|(name, ttl)| (name.to_owned(), secs(ttl)))
        .collect()
    }

    /// The retry policy these describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.retries,
            base_delay: std::time::Duration::from_millis(self.retry_base_ms),
            max_wait: std::time::Duration::from_secs(self.max_wait_secs),
            deadline: Some(self.deadlines()),
            ..RetryPolicy::default()
        }
    }

    /// The deadline of one logical request per operation class: the class's setting, capped
    /// by `request_deadline_secs`.
    pub fn deadlines(&self) -> PerClass {
        let secs =
            |class: u64| std::time::Duration::from_secs(class.min(self.request_deadline_secs));
        PerClass {
            single: secs(self.read_deadline_secs),
            metadata: secs(self.read_deadline_secs),
            search: secs(self.bulk_deadline_secs),
            bulk: secs(self.bulk_deadline_secs),
            write: secs(self.write_deadline_secs),
        }
    }

    /// The timeouts these describe: the defaults scaled to `timeout_secs`.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts::scaled(
            std::time::Duration::from_secs(self.timeout_secs),
            std::time::Duration::from_secs(self.connect_timeout_secs),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, text: &str, expected: Result<&str, &str>) {
        let mut settings = Settings::default();
        match (settings.set(key, text), expected) {
            (Ok(()), Ok(shown)) => assert_eq!(settings.get(key).unwrap(), shown, "{key}={text}"),
            (Err(error), Err(part)) => {
                assert!(error.to_string().contains(part), "{key}={text}: {error}")
            }
            (outcome, expected) => panic!("{key}={text}: {outcome:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn values_are_parsed_and_checked_by_one_table() {
        check("timeout_secs", " 30 ", Ok("30"));
        check(
            "timeout_secs",
            "18446744073709551615",
            Err("1 to 86400 seconds"),
        );
        check(
            "timeout_secs",
            "lots",
            Err("timeout_secs = \"lots\" is invalid"),
        );
        check("batch_size", "500", Err("at most 100 keys"));
        check(
            "cache_store",
            "memcached://x",
            Err("\"sled\", \"none\" or a redis:// URL"),
        );
        check(
            "rate_limit_store",
            "redis://:pw@h:1/0",
            Ok("redis://:***@h:1/0"),
        );
        check("api_token", "t0ken", Ok("(set, 5 characters, redacted)"));
        check(
            "site_url",
            "your-domain.atlassian.net",
            Err("a URL such as"),
        );
        check("concurency", "4", Err("one of the known settings"));
        // Credentials in the site URL are refused, and the refusal does not repeat them.
        let mut settings = Settings::default();
        let error = settings
            .set("site_url", "https://me:s3cr3t-token@x.atlassian.net")
            .unwrap_err()
            .to_string();
        assert!(error.contains("without credentials"), "{error}");
        assert!(!error.contains("s3cr3t-token"), "{error}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        /// No value of any setting panics: it is taken and every derived configuration
        /// builds, or it is refused with a message naming the setting.
        #[test]
        fn no_value_of_any_setting_panics(
            which in 0..SETTINGS.len(),
            text in proptest::prop_oneof![
                "\\PC{0,40}",
                "[0-9]{1,25}",
                proptest::sample::select(vec![
                    "18446744073709551615".to_owned(), "-1".to_owned(), "0".to_owned(),
                    "1e308".to_owned(), "NaN".to_owned(), "inf".to_owned(), " ".to_owned(),
                    "redis://:pw@h:1/0".to_owned(), "https://u:p@h".to_owned(),
                ]),
            ],
        ) {
            let setting = &SETTINGS[which];
            let mut settings = Settings::default();
            match settings.set(setting.key, &text) {
                Ok(()) => {
                    let _ = settings.timeouts();
                    let _ = settings.retry_policy();
                    let _ = settings.batch();
                    let _ = settings.budget_choice();
                    let _ = settings.cache_choice();
                    let _ = settings.get(setting.key);
                }
                Err(error) => {
                    proptest::prop_assert!(error.to_string().contains(setting.key), "{}", error);
                }
            }
        }
    }

    #[test]
    fn defaults_come_from_the_library_types() {
        let settings = Settings::default();
        assert_eq!(settings.retries, RetryPolicy::default().max_retries);
        assert_eq!(settings.timeouts(), Timeouts::default());
        assert_eq!(settings.batch(), BatchConfig::default());
        assert!(
            Setting::help("timeout_secs").contains("[env: JIRA_REQUEST_TIMEOUT] [default: 20]")
        );
        for setting in SETTINGS {
            assert!(!setting.doc.is_empty(), "{}", setting.key);
            assert!(
                !(setting.secret && setting.flag.is_some()),
                "{}: a secret flag shows in ps",
                setting.key
            );
        }
    }

    #[test]
    fn the_reference_variables_keep_working() {
        let mut settings = Settings::default();
        settings
            .apply_env(|name| match name {
                "MAX_CONCURRENT_JIRA_CALLS" => Some("7".into()),
                "JIRA_BATCH_SIZE" => Some("50".into()),
                "JIRA_REQUEST_TIMEOUT" => Some("90".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            (
                settings.max_concurrent,
                settings.batch_size,
                settings.timeout_secs
            ),
            (7, 50, 90)
        );
    }
}

//! Batch configuration, including the environment variables the reference tooling uses.

use std::time::Duration;

use crate::Error;

/// How batches run.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Requests in flight at most (`MAX_CONCURRENT_JIRA_CALLS`, default 10).
    pub max_concurrent: usize,
    /// Keys per bulk fetch, at most 100 (`JIRA_BATCH_SIZE`, default 100).
    pub fetch_chunk: usize,
    /// Issues per bulk create, at most 50.
    pub create_chunk: usize,
    /// A time limit for each request of a batch, on top of the transport's own
    /// (`JIRA_REQUEST_TIMEOUT`, seconds; none by default).
    pub request_timeout: Option<Duration>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_concurrent: 10,
            fetch_chunk: 100,
            create_chunk: 50,
            request_timeout: None,
        }
    }
}

impl BatchConfig {
    /// The defaults, overridden by `MAX_CONCURRENT_JIRA_CALLS`, `JIRA_BATCH_SIZE` and
    /// `JIRA_REQUEST_TIMEOUT` when set.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`BatchConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut config = BatchConfig::default();
        let number = |name: &str, max: u64| -> Result<Option<u64>, Error> {
            match lookup(name) {
                None => Ok(None),
                Some(text) => match text.trim().parse::<u64>() {
                    Ok(value) if (1..=max).contains(&value) => Ok(Some(value)),
                    _ => Err(Error::Config(format!(
                        "{name}={text:?} must be a whole number from 1 to {max}"
                    ))),
                },
            }
        };
        if let Some(value) = number("MAX_CONCURRENT_JIRA_CALLS", 1_000)? {
            config.max_concurrent = value as usize;
        }
        if let Some(value) = number("JIRA_BATCH_SIZE", 100)? {
            config.fetch_chunk = value as usize;
        }
        if let Some(value) = number("JIRA_REQUEST_TIMEOUT", 3_600)? {
            config.request_timeout = Some(Duration::from_secs(value));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_and_bad_values() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let config = BatchConfig::from_lookup(lookup(&[
            ("MAX_CONCURRENT_JIRA_CALLS", "7"),
            ("JIRA_BATCH_SIZE", "50"),
            ("JIRA_REQUEST_TIMEOUT", "90"),
        ]))
        .unwrap();
        assert_eq!(config.max_concurrent, 7);
        assert_eq!(config.fetch_chunk, 50);
        assert_eq!(config.request_timeout, Some(Duration::from_secs(90)));
        assert_eq!(
            BatchConfig::from_lookup(|_| None).unwrap(),
            BatchConfig::default()
        );
        let error = BatchConfig::from_lookup(lookup(&[("JIRA_BATCH_SIZE", "500")])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("JIRA_BATCH_SIZE=\"500\" must be a whole number from 1 to 100"),
            "{error}"
        );
    }
}

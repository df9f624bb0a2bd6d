//! [`SiteKey`]: the one name of a Jira site that the cache, the shared rate-limit budget and
//! the CLI all namespace by, so two processes configured alike always share both.

use std::fmt;

/// A site's host and port, lowercased, without scheme, credentials, path or trailing dot:
/// `your-domain.atlassian.net`, `127.0.0.1:8080`.
///
/// Every spelling of one site gives the same key, so a service configured with
/// `https://Your-Domain.atlassian.net/` shares its Redis budget and cache with a CLI
/// worker configured with `https://your-domain.atlassian.net`.
///
/// ```
/// use jira_model::SiteKey;
/// let a = SiteKey::from_url("https://Your-Domain.atlassian.net/jira/").unwrap();
/// let b = SiteKey::from_url("your-domain.atlassian.net").unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.as_str(), "your-domain.atlassian.net");
/// // Credentials in a URL never become part of the key.
/// let c = SiteKey::from_url("https://me:secret@your-domain.atlassian.net").unwrap();
/// assert_eq!(c, a);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct SiteKey(String);

/// Why a text is not a site.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} has no host (expected a site URL such as https://your-domain.atlassian.net)")]
pub struct SiteKeyError(String);

impl SiteKey {
    /// The key of a site URL (or a bare host).
    pub fn from_url(url: &str) -> Result<Self, SiteKeyError> {
        let trimmed = url.trim();
        let rest = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // Userinfo (`user:token@`) is never part of the key: it would put a secret into
        // every cache key and Redis key.
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    (host, Some(port))
                } else {
                    (host_port, None)
                }
            }
            _ => (host_port, None),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SiteKeyError(redact_url(trimmed)));
        }
        let scheme = trimmed
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        let default_port = match scheme.as_deref() {
            Some("http") => Some("80"),
            _ => Some("443"),
        };
        Ok(SiteKey(match port {
            Some(port) if Some(port) != default_port && !port.is_empty() => {
                format!("{host}:{port}")
            }
            _ => host,
        }))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never fails: a text [`SiteKey::from_url`] rejects is kept as written, trimmed and
/// lowercased (for tests and labels); use `from_url` where bad input must be refused.
impl From<&str> for SiteKey {
    fn from(text: &str) -> Self {
        SiteKey::from_url(text).unwrap_or_else(|_| SiteKey(text.trim().to_ascii_lowercase()))
    }
}

impl From<String> for SiteKey {
    fn from(text: String) -> Self {
        SiteKey::from(text.as_str())
    }
}

impl From<&String> for SiteKey {
    fn from(text: &String) -> Self {
        SiteKey::from(text.as_str())
    }
}

impl From<&SiteKey> for SiteKey {
    fn from(key: &SiteKey) -> Self {
        key.clone()
    }
}

impl fmt::Display for SiteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URL with its password (or token) replaced by `***`, for errors, logs and `config show`:
/// `redis://ann:hunter2@host/0` → `redis://ann:***@host/0`, `rediss://token@host` →
/// `rediss://***@host`, `https://x:TOKEN@site` → `https://x:***@site`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let credentials = &rest[..at];
    let shown = match credentials.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_owned(),
    };
    format!("{}{shown}{}", &url[..scheme_end], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expected: &str) {
        assert_eq!(SiteKey::from_url(url).unwrap().as_str(), expected, "{url}");
    }

    #[test]
    fn spellings_of_one_site_share_a_key() {
        check(
            "https://Your-Domain.atlassian.net/",
            "your-domain.atlassian.net",
        );
        check(
            "https://your-domain.atlassian.net:443",
            "your-domain.atlassian.net",
        );
        check("your-domain.atlassian.net.", "your-domain.atlassian.net");
        check("http://127.0.0.1:8080", "127.0.0.1:8080");
        check("http://127.0.0.1:80/x", "127.0.0.1");
        check("https://x:TOKEN@host.example/", "host.example");
        check("http://[::1]:9000", "[::1]:9000");
        assert!(SiteKey::from_url("https://").is_err());
        assert!(SiteKey::from_url("").is_err());
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_url("https://x:TOKEN@host/p@q"),
            "https://x:***@host/p@q"
        );
        assert_eq!(redact_url("rediss://token@host"), "rediss://***@host");
        assert_eq!(
            redact_url("redis://ann:hunter2@host/0"),
            "redis://ann:***@host/0"
        );
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(redact_url("sled"), "sled");
    }
}

//! Where a PostgreSQL sink connects: `postgres://user[:password]@host[:port]/db`, the
//! password from the URL, else `PGPASSWORD`, else the password file (`PGPASSFILE` or
//! `~/.pgpass`, libpq's format and matching), as libpq reads them. The URL is shown
//! without its password everywhere ([`Target::shown`]); nothing here logs it.

use std::path::PathBuf;

use postgres::config::Host;

use crate::Error;

/// A database to sync into.
#[derive(Clone)]
pub struct Target {
    pub(super) config: postgres::Config,
    shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Target").field(&self.shown).finish()
    }
}

const DEFAULT_PORT: u16 = 5432;

impl Target {
    /// Reads `url` (`postgres://` or `postgresql://`) and finds its password.
    pub fn parse(url: &str) -> Result<Target, Error> {
        let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let redacted = redact(url);
        let mut config: postgres::Config = scheme_ok
            .then(|| url.parse().ok())
            .flatten()
            .ok_or_else(|| {
                Error::Sync(format!(
                    "sync: {redacted:?} is not a PostgreSQL URL: write postgres://user@host[:port]/database (the password in PGPASSWORD or ~/.pgpass)"
                ))
            })?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(Error::Sync(format!(
                "sync: {redacted:?} asks for sslmode=require, and this jira-ops connects to PostgreSQL without TLS: reach a server that demands TLS through a local TLS-terminating proxy or an SSH tunnel, or drop sslmode=require where the network is trusted"
            )));
        }
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => {
                return Err(Error::Sync(format!(
                    "sync: {redacted:?} names no host: write postgres://user@host[:port]/database"
                )));
            }
        };
        let port = config.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .map_err(|_| {
                    Error::Sync(format!(
                        "sync: {redacted:?} names no user: write postgres://user@host/database"
                    ))
                })?;
            config.user(&user);
        }
        let user = config.get_user().unwrap_or_default().to_owned();
        let database = config.get_dbname().unwrap_or(&user).to_owned();
        if config.get_password().is_none() {
            let password = std::env::var("PGPASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .or_else(|| pgpass(&host, port, &database, &user));
            if let Some(password) = password {
                config.password(password);
            }
        }
        Ok(Target {
            config,
            shown: format!("postgres://{user}@{host}:{port}/{database}"),
        })
    }

    /// The URL without its password: what messages name.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// `url` with any password replaced by `***`, for a message about a URL that does not
/// read.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            let hidden = if credentials.contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// The password file's entry for this connection, as libpq matches it: the first line
/// whose `host:port:database:user` fields equal these or are `*` (`\:` and `\\` escape).
fn pgpass(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let port = port.to_string();
    let wanted = [host, port.as_str(), database, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split_escaped(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4..].join(":"))
        })
}

fn split_escaped(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap_or(&mut String::new()).push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        let target = Target::parse("postgres://ana:hunter2@db.example:6543/jira").unwrap();
        assert_eq!(target.shown(), "postgres://ana@db.example:6543/jira");
        assert!(!format!("{target:?}").contains("hunter2"));
        assert_eq!(
            redact("postgres://ana:hunter2@db/jira"),
            "postgres://ana:***@db/jira"
        );
        let bad = Target::parse("postgres://ana:hunter2@/jira?x=%zz").unwrap_err();
        assert!(!bad.to_string().contains("hunter2"), "{bad}");
        assert!(Target::parse("mysql://db/jira").is_err());
    }

    #[test]
    fn password_file_lines_match_as_libpq_matches_them() {
        assert_eq!(
            split_escaped(r"db:5432:*:ana:pa\:ss"),
            ["db", "5432", "*", "ana", "pa:ss"]
        );
    }
}

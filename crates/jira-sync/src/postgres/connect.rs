//! Where a PostgreSQL sink connects: `postgres://user[:password]@host[:port]/db`, the
//! password from the URL, else `PGPASSWORD`, else the password file (`PGPASSFILE` or
//! `~/.pgpass`, libpq's format and matching), as libpq reads them. The URL is shown
//! without its password everywhere ([`Target::shown`]); nothing here logs it.
//!
//! TLS follows `sslmode` (the URL's, else `PGSSLMODE`): `disable`, `allow` and `prefer`
//! (the default) connect plainly; `require`, `verify-ca` and `verify-full` connect over
//! TLS (rustls) and verify the server's certificate and name, against `sslrootcert=FILE`
//! (the URL's, else `PGSSLROOTCERT`: PEM certificates of the CA) or the system's roots.
//! That is stricter than libpq's `require`, which encrypts without verifying: a server
//! with a self-signed certificate needs its CA named by `sslrootcert`.

use std::path::PathBuf;
use std::sync::Arc;

use postgres::config::Host;

use crate::Error;

/// How a connection is secured.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tls {
    /// Plain TCP (`disable`, `allow`, `prefer`).
    Plain,
    /// TLS, the certificate verified against these roots (`None`: the system's).
    Verified(Option<PathBuf>),
}

/// A database to sync into.
#[derive(Clone)]
pub struct Target {
    pub(super) config: postgres::Config,
    tls: Tls,
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
        // `sslmode` and `sslrootcert` are read here (the driver knows three modes and no
        // root file); the rest of the URL is the driver's.
        let (rest, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = std::env::var("PGSSLMODE").ok().filter(|m| !m.is_empty());
        let mut root = std::env::var_os("PGSSLROOTCERT")
            .filter(|r| !r.is_empty())
            .map(PathBuf::from);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", value)) => mode = Some(value.to_owned()),
                Some(("sslrootcert", value)) => root = Some(PathBuf::from(value)),
                _ => kept.push(pair),
            }
        }
        let driver_url = match kept.is_empty() {
            true => rest.to_owned(),
            false => format!("{rest}?{}", kept.join("&")),
        };
        let tls = match mode.as_deref().unwrap_or("prefer") {
            "disable" | "allow" | "prefer" => Tls::Plain,
            "require" | "verify-ca" | "verify-full" => Tls::Verified(root),
            other => {
                return Err(Error::Sync(format!(
                    "sync: sslmode={other:?} in {redacted:?} is not a mode: use disable, prefer (the default), require, verify-ca or verify-full"
                )));
            }
        };
        let mut config: postgres::Config = scheme_ok
            .then(|| driver_url.parse().ok())
            .flatten()
            .ok_or_else(|| {
                Error::Sync(format!(
                    "sync: {redacted:?} is not a PostgreSQL URL: write postgres://user@host[:port]/database (the password in PGPASSWORD or ~/.pgpass)"
                ))
            })?;
        config.ssl_mode(match tls {
            Tls::Plain => postgres::config::SslMode::Disable,
            Tls::Verified(_) => postgres::config::SslMode::Require,
        });
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
            tls,
            shown: format!("postgres://{user}@{host}:{port}/{database}"),
        })
    }

    /// Connects with `config` (this target's, adjusted), over TLS when the mode asks.
    pub(super) fn connect(
        &self,
        config: &postgres::Config,
    ) -> Result<postgres::Client, ConnectError> {
        match &self.tls {
            Tls::Plain => Ok(config.connect(postgres::NoTls)?),
            Tls::Verified(root) => {
                let tls = tls_config(root.as_deref()).map_err(|e| {
                    ConnectError::Setup(format!(
                        "sync: TLS to {} cannot be set up: {e}",
                        self.shown
                    ))
                })?;
                Ok(config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))?)
            }
        }
    }

    /// The URL without its password: what messages name.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// Why a connection was not made.
#[derive(Debug)]
pub(super) enum ConnectError {
    /// The server or the network said no.
    Database(postgres::Error),
    /// TLS could not be set up (a root file that does not read).
    Setup(String),
}

impl From<postgres::Error> for ConnectError {
    fn from(error: postgres::Error) -> Self {
        ConnectError::Database(error)
    }
}

/// The rustls configuration: the roots of `root` (PEM), or the system's.
fn tls_config(root: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    Ok(match root {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {} does not read: {e}", path.display()))?;
            for certificate in certificates {
                let certificate = certificate
                    .map_err(|e| format!("sslrootcert {} does not read: {e}", path.display()))?;
                roots.add(certificate).map_err(|e| {
                    format!(
                        "sslrootcert {} holds a certificate rustls refuses: {e}",
                        path.display()
                    )
                })?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "sslrootcert {} holds no PEM certificate",
                    path.display()
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .with_platform_verifier()
            .map_err(|e| e.to_string())?
            .with_no_client_auth(),
    })
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

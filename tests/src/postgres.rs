//! A real PostgreSQL server for one test: `initdb` into a temporary directory, `postgres`
//! on a free loopback port with password authentication (SCRAM), stopped and removed when
//! dropped. Debian's packages put the programs in `/usr/lib/postgresql/<version>/bin`,
//! off the PATH: they are found there too. PostgreSQL refuses to run as root, so under
//! root (CI) the server runs as the `postgres` account the package creates.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user the tests connect as.
pub const USER: &str = "jira";
/// Its password (the tests check it never shows).
pub const PASSWORD: &str = "s3cret-Pg-pass";

/// A PostgreSQL server started for one test.
pub struct PostgresServer {
    child: Child,
    /// The data directory and the socket directory.
    _dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// The directory holding `initdb` and `postgres`: on the PATH, or Debian's newest.
fn bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
    });
    if let Some(dir) = on_path {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL is not installed: run `cargo xtask ci` (installs it as root) or `apt-get install -y postgresql`",
    )
}

/// The uid and gid to run the server as: none when not root, else the `postgres`
/// account's.
fn run_as() -> Option<(u32, u32)> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0");
    if !root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd reads");
    let entry = passwd
        .lines()
        .find(|line| line.starts_with("postgres:"))
        .expect("running as root, PostgreSQL needs the `postgres` account its package creates");
    let fields: Vec<&str> = entry.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

fn command(bin: &Path, program: &str, owner: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(bin.join(program));
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command.env_remove("PGPASSWORD").env("LC_ALL", "C");
    command
}

impl PostgresServer {
    /// `initdb` (user [`USER`], password [`PASSWORD`], SCRAM), then `postgres` on a free
    /// port; returns once it accepts connections.
    pub fn start() -> PostgresServer {
        Self::start_with(false)
    }

    /// [`PostgresServer::start`] with TLS only: a certificate for `127.0.0.1` signed by a
    /// CA made for it ([`PostgresServer::ca_file`]), and plain connections refused by
    /// `pg_hba.conf`.
    pub fn start_tls() -> PostgresServer {
        Self::start_with(true)
    }

    /// The PEM file of the CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self._dir.path().join("ca.pem")
    }

    fn start_with(tls: bool) -> PostgresServer {
        let bin = bin_dir();
        let owner = run_as();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, PASSWORD).unwrap();
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), password_file.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
            }
        }
        let init = command(&bin, "initdb", owner)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .arg(format!("--pwfile={}", password_file.display()))
            .output()
            .expect("initdb runs");
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let mut tls_args = Vec::new();
        if tls {
            let (ca, certificate, key) = certificates();
            std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
            let (cert_path, key_path) = (data.join("server.crt"), data.join("server.key"));
            std::fs::write(&cert_path, certificate).unwrap();
            std::fs::write(&key_path, key).unwrap();
            std::fs::set_permissions(
                &key_path,
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
            std::fs::write(
                data.join("pg_hba.conf"),
                "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .unwrap();
            if let Some((uid, gid)) = owner {
                for path in [&cert_path, &key_path, &data.join("pg_hba.conf")] {
                    std::os::unix::fs::chown(path, Some(uid), Some(gid))
                        .expect("chown to postgres");
                }
            }
            tls_args = vec!["-c".to_owned(), "ssl=on".to_owned()];
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log_path = dir.path().join("postgres.log");
        let log = std::fs::File::create(&log_path).expect("the server's log");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&log_path, Some(uid), Some(gid)).expect("chown to postgres");
        }
        let child = command(&bin, "postgres", owner)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.path().display()))
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .args(&tls_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        let mut server = PostgresServer {
            child,
            _dir: dir,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Accepting connections, past "the database system is starting up".
            // A plain connection is answered (or, TLS only, refused by pg_hba.conf) once
            // the server is up.
            let url = server.url_with_password("postgres");
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && off_runtime(|| match postgres::Client::connect(&url, postgres::NoTls) {
                    Ok(_) => true,
                    Err(e) => {
                        e.code()
                            == Some(&postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
                    }
                });
            if ready {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "postgres exited ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// A URL for the database `name` without the password (jira-ops then reads it
    /// from `PGPASSWORD` or `.pgpass`).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// A URL for the database `name` with the password in it.
    pub fn url_with_password(&self, name: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{name}",
            self.port
        )
    }

    /// Creates the database `name`; returns [`PostgresServer::url_with_password`] of it.
    pub fn create_database(&self, name: &str) -> String {
        off_runtime(|| {
            self.client("postgres")
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("CREATE DATABASE");
        });
        self.url_with_password(name)
    }

    /// Every row of the tables a sync fills with the site's data in the database `name`,
    /// as text, in key order: what two syncs of the same site must hold alike.
    pub fn sync_contents(&self, name: &str) -> Vec<Vec<Vec<Option<String>>>> {
        off_runtime(|| {
            let mut client = self.client(name);
            [
                "SELECT id, key, status, updated, summary, description_text, labels, deleted_at, json::text FROM issues ORDER BY id",
                "SELECT issue_id, field_id, position, value_text, value_number FROM issue_field_values ORDER BY 1, 2, 3",
                "SELECT id, issue_id, created, json::text FROM changelog ORDER BY issue_id, id",
                "SELECT history_id, position, issue_key, field, from_string, to_string FROM changelog_items ORDER BY issue_id, history_id, position",
                "SELECT id, issue_key, body_text, deleted_at FROM comments ORDER BY id",
                "SELECT id, issue_key, time_spent_seconds, started, deleted_at FROM worklogs ORDER BY id",
                "SELECT account_id, display_name, time_zone FROM users ORDER BY account_id",
                "SELECT jql, issue_id FROM sync_members ORDER BY 1, 2",
            ]
            .iter()
            .map(|sql| rows(&mut client, sql))
            .collect()
        })
    }

    /// A client of the database `name` (its session in UTC). The driver runs a runtime
    /// of its own: use it off the test's (in `spawn_blocking`, or through
    /// [`off_runtime`]).
    pub fn client(&self, name: &str) -> postgres::Client {
        let mut client = postgres::Client::connect(&self.url_with_password(name), postgres::NoTls)
            .expect("the test server accepts the test user");
        client.batch_execute("SET TIME ZONE 'UTC'").unwrap();
        client
    }
}

/// Every row `sql` returns on `client`, each value as the server writes it as text
/// (NULL as `None`).
pub fn rows(client: &mut postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|message| match message {
            postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// A CA, and a certificate for `127.0.0.1` and `localhost` it signed with its key: the
/// PEM of each.
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jira-ops test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("the CA");
    let key = rcgen::KeyPair::generate().expect("a server key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let certificate = params
        .signed_by(&key, &ca)
        .expect("the server's certificate");
    (ca.pem(), certificate.pem(), key.serialize_pem())
}

/// Runs `work` on a thread of its own: the blocking driver starts a runtime, which it
/// cannot do on a thread that drives a test's.
pub fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| scope.spawn(work).join().expect("the work ends"))
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // SIGQUIT: an immediate shutdown that takes the server's children with it.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

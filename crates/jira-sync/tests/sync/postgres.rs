//! The PostgreSQL sink against a real server (initdb into a temporary directory, a free
//! port, password authentication): the same schema and answers as SQLite, several syncs
//! of different queries into one database at once, one sync per query.

use std::sync::Arc;

use jira_ops_tests::postgres::{PASSWORD, PostgresServer};
use jira_sync::PostgresSink;

use crate::relational::{Db, QUERY, Truth, answers_match, documented_columns_exist, options};

impl Db for postgres::Client {
    const DOC_COLUMN: usize = 2;

    fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        jira_ops_tests::postgres::rows(self, sql)
    }

    fn columns(&mut self, table: &str) -> std::collections::BTreeMap<String, String> {
        self.rows(&format!(
            "SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = '{table}'"
        ))
        .into_iter()
        .map(|row| {
            let udt = row[1].clone().unwrap();
            let named = match udt.as_str() {
                "int8" => "bigint",
                "float8" => "double precision",
                "bool" => "boolean",
                other => other,
            };
            (row[0].clone().unwrap(), named.to_owned())
        })
        .collect()
    }
}

/// Runs `check` on a client of the database `name`, off the async runtime (the driver
/// runs one of its own).
async fn with_db<R: Send + 'static>(
    server: &Arc<PostgresServer>,
    name: &str,
    check: impl FnOnce(&mut postgres::Client) -> R + Send + 'static,
) -> R {
    let (server, name) = (Arc::clone(server), name.to_owned());
    tokio::task::spawn_blocking(move || check(&mut server.client(&name)))
        .await
        .expect("the check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_sink_holds_the_same_schema_and_answers_as_sqlite() {
    let sim = crate::relational::small_tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let server = Arc::new(PostgresServer::start());
    let url = server.create_database("jira");
    let mut sink = PostgresSink::open(&url).unwrap();
    assert!(!format!("{sink:?}").contains(PASSWORD));
    assert!(!sink.shown().contains(PASSWORD));
    let report = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(report.issues_written, 80, "{report:?}");
    // Again: nothing new, and the state was kept with the data.
    let again = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(again.issues_written, 0, "{again:?}");
    drop(sink);
    let truth = Truth::read(&sim, QUERY).await;
    with_db(&server, "jira", move |db| {
        answers_match(db, &truth);
        documented_columns_exist(db);
        let version = db.rows("SELECT version FROM schema_version");
        assert_eq!(version, [[Some("2".to_owned())]]);
    })
    .await;
}

/// The rows of every table that names its issue, for the issues of `project`, as text.
fn project_rows(db: &mut postgres::Client, project: &str) -> Vec<Vec<Vec<Option<String>>>> {
    use jira_sync::relational::schema::{
        CHANGELOG, CHANGELOG_ITEMS, COMMENTS, FIELD_VALUES, WORKLOGS,
    };
    let mut all = vec![db.rows(&format!(
        "SELECT {} FROM issues WHERE key LIKE '{project}-%' ORDER BY id",
        jira_sync::relational::schema::ISSUES.column_list()
    ))];
    for table in [
        &FIELD_VALUES,
        &CHANGELOG,
        &CHANGELOG_ITEMS,
        &COMMENTS,
        &WORKLOGS,
    ] {
        all.push(db.rows(&format!(
            "SELECT {} FROM {} WHERE issue_key LIKE '{project}-%' ORDER BY {}",
            table.column_list(),
            table.name,
            table.key.join(", ")
        )));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_of_different_queries_share_a_database_and_one_query_syncs_once_at_a_time() {
    let sim = crate::relational::small_tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let server = Arc::new(PostgresServer::start());
    let shared = server.create_database("shared");
    let alone: Vec<String> = ["apo", "bea"]
        .iter()
        .map(|name| server.create_database(name))
        .collect();
    let query = |project: &str| jira_sync::SyncOptions {
        settle: std::time::Duration::ZERO,
        ..jira_sync::SyncOptions::new(format!("project = {project}"))
    };

    // Each project alone, for reference.
    for (url, project) in alone.iter().zip(["APO", "BEA"]) {
        let mut sink = PostgresSink::open(url).unwrap();
        jira_sync::sync(&client, &mut sink, &query(project))
            .await
            .unwrap();
    }
    // Both into one database at once.
    let (mut apo, mut bea) = (
        PostgresSink::open(&shared).unwrap(),
        PostgresSink::open(&shared).unwrap(),
    );
    let (apo_options, bea_options) = (query("APO"), query("BEA"));
    let (a, b) = tokio::join!(
        jira_sync::sync(&client, &mut apo, &apo_options),
        jira_sync::sync(&client, &mut bea, &bea_options),
    );
    assert_eq!(a.unwrap().issues_written, 40);
    assert_eq!(b.unwrap().issues_written, 40);

    // While `apo` holds its query, a second sync of it is refused at once, naming it.
    let mut second = PostgresSink::open(&shared).unwrap();
    let refused = jira_sync::sync(&client, &mut second, &apo_options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("is being synced by jira-ops sync (process") && refused.contains("--wait"),
        "{refused}"
    );
    assert!(!refused.contains(PASSWORD), "{refused}");
    // Once `apo` is dropped, the query is free.
    drop(apo);
    let after = jira_sync::sync(&client, &mut second, &apo_options)
        .await
        .unwrap();
    assert_eq!(after.issues_written, 0, "{after:?}");
    drop((bea, second));

    let together = with_db(&server, "shared", |db| {
        (project_rows(db, "APO"), project_rows(db, "BEA"))
    })
    .await;
    let apo_alone = with_db(&server, "apo", |db| project_rows(db, "APO")).await;
    let bea_alone = with_db(&server, "bea", |db| project_rows(db, "BEA")).await;
    assert!(apo_alone[0].len() == 40 && !apo_alone[3].is_empty());
    assert!(
        together.0 == apo_alone,
        "APO in the shared database equals APO alone"
    );
    assert!(
        together.1 == bea_alone,
        "BEA in the shared database equals BEA alone"
    );
}

/// A session of `url` calling itself a sync of this host's process `pid`, holding the
/// lock of `jql` until `release` says so (or is dropped).
fn holding_session(
    url: &str,
    pid: u32,
    jql: &'static str,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let mut config: postgres::Config = url.parse().unwrap();
    config.application_name(&format!("jira-ops sync (process {pid} on {})", host.trim()));
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut session = config.connect(postgres::NoTls).unwrap();
        session
            .query_one("SELECT pg_advisory_lock(hashtextextended($1, 0))", &[&jql])
            .unwrap();
        held.send(()).unwrap();
        let _ = released.recv();
    });
    holding.recv().unwrap();
    (release, thread)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_run_again_after_one_was_killed_waits_for_its_session_to_end() {
    let sim = crate::relational::small_tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let server = PostgresServer::start();
    let url = server.create_database("orphaned");
    const JQL: &str = "project = APO";
    let options = jira_sync::SyncOptions {
        settle: std::time::Duration::ZERO,
        ..jira_sync::SyncOptions::new(JQL)
    };

    // A sync of this host whose process has ended, its session still holding the query
    // (the server ends it once the statement it was running when killed is done): the
    // next sync, with no --wait, waits for it and goes on.
    let mut ended = std::process::Command::new("true").spawn().unwrap();
    let dead = ended.id();
    ended.wait().unwrap();
    let (release, holder) = holding_session(&url, dead, JQL);
    let ends = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1_500));
        release.send(()).unwrap();
    });
    let mut sink = PostgresSink::open(&url).unwrap();
    let report = jira_sync::sync(&client, &mut sink, &options).await.unwrap();
    assert_eq!(report.issues_written, 40, "{report:?}");
    drop(sink);
    ends.join().unwrap();
    holder.join().unwrap();

    // A holder whose process still runs (this one) is another sync: refused at once.
    let (release, holder) = holding_session(&url, std::process::id(), JQL);
    let mut sink = PostgresSink::open(&url).unwrap();
    let refused = jira_sync::sync(&client, &mut sink, &options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!(
            "is being synced by jira-ops sync (process {}",
            std::process::id()
        )),
        "{refused}"
    );
    release.send(()).unwrap();
    holder.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_password_is_named_without_the_password() {
    let server = PostgresServer::start();
    let wrong = format!(
        "postgres://jira:not-{PASSWORD}@127.0.0.1:{}/postgres",
        server.port
    );
    let error = PostgresSink::open(&wrong).unwrap_err().to_string();
    assert!(
        error.contains("cannot connect to postgres://jira@127.0.0.1"),
        "{error}"
    );
    assert!(error.contains("password authentication failed"), "{error}");
    assert!(!error.contains(PASSWORD), "{error}");
    let tls = format!("{}?sslmode=require", server.url_with_password("postgres"));
    let error = PostgresSink::open(&tls).unwrap_err().to_string();
    assert!(error.contains("TLS"), "{error}");
    assert!(!error.contains(PASSWORD), "{error}");
    let error = PostgresSink::open("postgres://jira:hunter2@127.0.0.1:1/x?sslmode=bogus")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("is not a mode") && !error.contains("hunter2"),
        "{error}"
    );
    let error = PostgresSink::open("postgres://jira:hunter2@127.0.0.1:1/x?colour=blue")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("not a PostgreSQL URL") && !error.contains("hunter2"),
        "{error}"
    );
}

/// A server that takes TLS only: `sslmode=require` with the CA in `sslrootcert` syncs;
/// without it the certificate is refused (it is verified, never trusted blindly); a
/// plain connection is refused by the server, with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_verify_the_server_against_the_named_ca() {
    let sim = crate::relational::small_tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let server = PostgresServer::start_tls();
    let url = server.url_with_password("postgres");
    let ca = server.ca_file();

    let plain = PostgresSink::open(&url).unwrap_err().to_string();
    assert!(plain.contains("no encryption"), "{plain}");
    let unverified = PostgresSink::open(&format!("{url}?sslmode=require"))
        .unwrap_err()
        .to_string();
    assert!(unverified.contains("certificate"), "{unverified}");
    let missing = PostgresSink::open(&format!(
        "{url}?sslmode=require&sslrootcert=/nonexistent/ca.pem"
    ))
    .unwrap_err()
    .to_string();
    assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    for error in [&plain, &unverified, &missing] {
        assert!(!error.contains(PASSWORD), "{error}");
    }

    let verified = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let mut sink = PostgresSink::open(&verified).unwrap();
    let report = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(report.issues_written, 80, "{report:?}");
    drop(sink);
    let status = jira_sync::postgres_status(&verified).unwrap();
    assert_eq!(status.counts["issues"], 80);
}

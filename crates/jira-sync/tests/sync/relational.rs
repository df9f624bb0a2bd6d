//! The relational schema, judged as a data engineer would: the questions people ask of a
//! synced database, in plain SQL (no JSON functions), answered the same as jira-sim's REST
//! API answers them; and every column docs/sync.md documents, there with its type. One
//! set of questions for every database ([`Db`]).

use std::collections::{BTreeMap, BTreeSet};

use jira_model::JiraTimestamp;
use jira_ops_tests::sim::rest_get;
use jira_sim::SimHandle;
use serde_json::Value;

/// A synced database the questions are asked of.
pub(crate) trait Db {
    /// The column of docs/sync.md's tables that holds this database's types (1 SQLite,
    /// 2 PostgreSQL).
    const DOC_COLUMN: usize;
    /// The rows `sql` returns, every value as text (NULL as `None`).
    fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>>;
    /// Each column of `table` with its type, named as docs/sync.md names it.
    fn columns(&mut self, table: &str) -> BTreeMap<String, String>;
}

impl Db for rusqlite::Connection {
    const DOC_COLUMN: usize = 1;

    fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        use rusqlite::types::ValueRef;
        let mut statement = self.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let width = statement.column_count();
        statement
            .query_map([], |row| {
                (0..width)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Null => None,
                            ValueRef::Integer(n) => Some(n.to_string()),
                            ValueRef::Real(x) => Some(x.to_string()),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })
                    .collect()
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn columns(&mut self, table: &str) -> BTreeMap<String, String> {
        self.rows(&format!(
            "SELECT name, type FROM pragma_table_info('{table}')"
        ))
        .into_iter()
        .map(|row| (row[0].clone().unwrap(), row[1].clone().unwrap()))
        .collect()
    }
}

/// An instant a database returned (SQLite's `...T...Z`, PostgreSQL's `... ...+00`), in
/// epoch milliseconds.
pub(crate) fn millis(text: &str) -> i64 {
    text.replacen(' ', "T", 1)
        .parse::<JiraTimestamp>()
        .unwrap_or_else(|e| panic!("{text:?} is a time: {e}"))
        .unix_millis()
}

fn jira_millis(value: &Value) -> i64 {
    value
        .as_str()
        .and_then(|t| t.parse::<JiraTimestamp>().ok())
        .unwrap_or_else(|| panic!("{value} is a Jira time"))
        .unix_millis()
}

/// A status change: when (epoch ms), from, to.
type Change = (i64, String, String);

/// What jira-sim's REST API says of the issues `keys`: read one by one as a person would.
pub(crate) struct Truth {
    /// Per issue: created, status now, and each status change (when, from, to).
    issues: BTreeMap<String, (i64, String, Vec<Change>)>,
    /// Issues with a priority change.
    priority_changed: BTreeSet<String>,
    /// Seconds logged per author account id.
    logged: BTreeMap<String, i64>,
    /// Team (an option field) per issue that has one.
    team: BTreeMap<String, String>,
    /// Story Points per issue that has them.
    points: BTreeMap<String, f64>,
    /// Time zone per user named as an assignee.
    zones: BTreeMap<String, String>,
}

impl Truth {
    pub(crate) async fn read(sim: &SimHandle, jql: &str) -> Truth {
        let (_, fields) = rest_get(sim, "/rest/api/3/field").await;
        let field_id = |name: &str| {
            fields
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .and_then(|f| f["id"].as_str())
                .unwrap()
                .to_owned()
        };
        let (team_id, points_id) = (field_id("Team"), field_id("Story Points"));
        let mut truth = Truth {
            issues: BTreeMap::new(),
            priority_changed: BTreeSet::new(),
            logged: BTreeMap::new(),
            team: BTreeMap::new(),
            points: BTreeMap::new(),
            zones: BTreeMap::new(),
        };
        let mut token: Option<String> = None;
        loop {
            let page = token
                .as_deref()
                .map_or_else(String::new, |t| format!("&nextPageToken={t}"));
            let (status, found) = rest_get(
                sim,
                &format!(
                    "/rest/api/3/search/jql?jql={}&fields=created,status,assignee,{team_id},{points_id}&maxResults=100{page}",
                    urlencode(jql)
                ),
            )
            .await;
            assert_eq!(status, 200, "{found}");
            for issue in found["issues"].as_array().unwrap() {
                let key = issue["key"].as_str().unwrap().to_owned();
                let fields = &issue["fields"];
                if let Some(team) = fields[&team_id]["value"].as_str() {
                    truth.team.insert(key.clone(), team.to_owned());
                }
                if let Some(points) = fields[&points_id].as_f64() {
                    truth.points.insert(key.clone(), points);
                }
                if let Some(zone) = fields["assignee"]["timeZone"].as_str() {
                    let account = fields["assignee"]["accountId"].as_str().unwrap();
                    truth.zones.insert(account.to_owned(), zone.to_owned());
                }
                let mut changes = Vec::new();
                let mut start = 0;
                loop {
                    let (_, history) = rest_get(
                        sim,
                        &format!("/rest/api/3/issue/{key}/changelog?startAt={start}"),
                    )
                    .await;
                    let values = history["values"].as_array().unwrap();
                    for entry in values {
                        let at = jira_millis(&entry["created"]);
                        for item in entry["items"].as_array().unwrap() {
                            match item["field"].as_str() {
                                Some("status") => changes.push((
                                    at,
                                    item["fromString"].as_str().unwrap_or_default().to_owned(),
                                    item["toString"].as_str().unwrap_or_default().to_owned(),
                                )),
                                Some("priority") => {
                                    truth.priority_changed.insert(key.clone());
                                }
                                _ => {}
                            }
                        }
                    }
                    start += values.len();
                    if history["isLast"].as_bool().unwrap_or(true) || values.is_empty() {
                        break;
                    }
                }
                changes.sort_by_key(|c| c.0);
                let (_, worklogs) = rest_get(
                    sim,
                    &format!("/rest/api/3/issue/{key}/worklog?maxResults=5000"),
                )
                .await;
                for worklog in worklogs["worklogs"].as_array().unwrap() {
                    let author = worklog["author"]["accountId"].as_str().unwrap().to_owned();
                    *truth.logged.entry(author).or_default() +=
                        worklog["timeSpentSeconds"].as_i64().unwrap();
                }
                let status = fields["status"]["name"].as_str().unwrap().to_owned();
                truth
                    .issues
                    .insert(key, (jira_millis(&fields["created"]), status, changes));
            }
            match found["nextPageToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        truth
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn one(db: &mut impl Db, sql: &str) -> String {
    db.rows(sql)[0][0].clone().unwrap_or_default()
}

/// Asks `db` the five questions of docs/sync.md in plain SQL and checks each answer
/// against `truth`.
pub(crate) fn answers_match(db: &mut impl Db, truth: &Truth) {
    assert_eq!(
        one(db, "SELECT COUNT(*) FROM current_issues"),
        truth.issues.len().to_string()
    );

    // How many issues moved to Done in a week: the week up to a Done move in the data.
    let done: Vec<(i64, &String)> = truth
        .issues
        .iter()
        .flat_map(|(key, (_, _, changes))| {
            changes
                .iter()
                .filter(|c| c.2 == "Done")
                .map(move |c| (c.0, key))
        })
        .collect();
    assert!(done.len() >= 3, "the tenant moves issues to Done");
    let mut times: Vec<i64> = done.iter().map(|d| d.0).collect();
    times.sort_unstable();
    let end = times[times.len() / 2] + 1;
    let start = end - 7 * 86_400_000;
    let expected: BTreeSet<&String> = done
        .iter()
        .filter(|(at, _)| (start..end).contains(at))
        .map(|d| d.1)
        .collect();
    let iso = |ms: i64| JiraTimestamp::from_unix_millis(ms).unwrap().to_utc_iso();
    assert_eq!(
        one(
            db,
            &format!(
                "SELECT COUNT(DISTINCT issue_id) FROM changelog_items
                 WHERE field = 'status' AND to_string = 'Done'
                   AND created >= '{}' AND created < '{}'",
                iso(start),
                iso(end)
            )
        ),
        expected.len().to_string()
    );

    // Time in status per issue: every period from creation through each change.
    let mut expected = Vec::new();
    for (key, (created, status, changes)) in &truth.issues {
        let first = changes.first().map_or(status.clone(), |c| c.1.clone());
        let mut entered = (*created, first);
        for (at, _, to) in changes {
            expected.push((key.clone(), entered.1.clone(), entered.0, Some(*at)));
            entered = (*at, to.clone());
        }
        expected.push((key.clone(), entered.1, entered.0, None));
    }
    expected.sort();
    let mut periods: Vec<(String, String, i64, Option<i64>)> = Vec::new();
    for row in db.rows("SELECT issue_key, status, entered, \"left\", seconds FROM status_periods") {
        let entered = millis(row[2].as_deref().unwrap());
        let left = row[3].as_deref().map(millis);
        let seconds: i64 = row[4].as_deref().unwrap().parse().unwrap();
        if let Some(left) = left {
            assert!(
                (seconds - (left - entered) / 1000).abs() <= 1,
                "{row:?}: seconds are left − entered"
            );
        } else {
            assert!(seconds >= 0, "{row:?}");
        }
        periods.push((
            row[0].clone().unwrap(),
            row[1].clone().unwrap(),
            entered,
            left,
        ));
    }
    periods.sort();
    assert_eq!(periods, expected, "status_periods");

    // Who logged the most work, and every author's total.
    let logged: BTreeMap<String, i64> = db
        .rows(
            "SELECT w.author_account_id, SUM(w.time_spent_seconds) FROM worklogs w
             JOIN users u ON u.account_id = w.author_account_id
             WHERE w.deleted_at IS NULL GROUP BY w.author_account_id",
        )
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].as_deref().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(!truth.logged.is_empty());
    assert_eq!(logged, truth.logged);
    let top = truth
        .logged
        .iter()
        .max_by_key(|(a, s)| (**s, std::cmp::Reverse(*a)))
        .unwrap();
    assert_eq!(
        db.rows(
            "SELECT w.author_account_id, u.display_name FROM worklogs w
             JOIN users u ON u.account_id = w.author_account_id
             WHERE w.deleted_at IS NULL
             GROUP BY w.author_account_id, u.display_name
             ORDER BY SUM(w.time_spent_seconds) DESC, w.author_account_id LIMIT 1"
        )[0][0]
            .as_deref(),
        Some(top.0.as_str())
    );

    // Whose priority changed.
    let changed: BTreeSet<String> = db
        .rows("SELECT DISTINCT issue_key FROM changelog_items WHERE field = 'priority'")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert!(!truth.priority_changed.is_empty());
    assert_eq!(changed, truth.priority_changed);

    // A custom field's values by its name.
    let team: BTreeMap<String, String> = db
        .rows("SELECT issue_key, value_text FROM issue_field_values WHERE field_name = 'Team'")
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    assert!(!truth.team.is_empty());
    assert_eq!(team, truth.team);
    let points: BTreeMap<String, f64> = db
        .rows(
            "SELECT issue_key, value_number FROM issue_field_values WHERE field_name = 'Story Points'",
        )
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].as_deref().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(points, truth.points);

    // People with their time zones.
    for (account, zone) in &truth.zones {
        assert_eq!(
            one(
                db,
                &format!("SELECT time_zone FROM users WHERE account_id = '{account}'")
            ),
            *zone
        );
    }
}

/// Every table and column docs/sync.md documents exists in `db` with the documented type.
pub(crate) fn documented_columns_exist<T: Db>(db: &mut T) {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/sync.md"),
    )
    .expect("docs/sync.md reads");
    let mut table = String::new();
    let mut checked = 0;
    for line in doc.lines() {
        if let Some(name) = line.strip_prefix("### `") {
            table = name.split('`').next().unwrap().to_owned();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(column) = cells.get(1).and_then(|c| c.strip_prefix('`')) else {
            continue;
        };
        let column = column.trim_end_matches('`');
        let (table, column) = column.split_once('.').unwrap_or((&table, column));
        let expected = cells[1 + T::DOC_COLUMN];
        let columns = db.columns(table);
        assert_eq!(
            columns.get(column).map(String::as_str),
            Some(expected),
            "{table}.{column} (docs/sync.md says {expected}; the database has {columns:?})"
        );
        checked += 1;
    }
    assert!(checked > 80, "docs/sync.md documents {checked} columns");
    let periods =
        db.rows("SELECT issue_key, status, entered, \"left\", seconds FROM status_periods LIMIT 1");
    assert_eq!(periods[0].len(), 5);
    assert!(!db.rows("SELECT * FROM current_issues LIMIT 1").is_empty());
}

pub(crate) async fn small_tenant() -> SimHandle {
    SimHandle::start(jira_sim::SimConfig {
        projects: 2,
        issues_per_project: 40,
        limits: jira_sim::LimitConfig::off(),
        realism: jira_sim::Realism {
            worklog_settle_ms: 0,
            ..jira_sim::Realism::default()
        },
        ..jira_sim::SimConfig::default()
    })
    .await
    .expect("jira-sim starts")
}

pub(crate) const QUERY: &str = "project in (APO, BEA)";

pub(crate) fn options() -> jira_sync::SyncOptions {
    jira_sync::SyncOptions {
        settle: std::time::Duration::ZERO,
        ..jira_sync::SyncOptions::new(QUERY)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_sink_answers_the_questions_in_plain_sql() {
    let sim = small_tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jira.db");
    let mut sink = jira_sync::SqliteSink::open(&path).unwrap();
    jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    drop(sink);
    let truth = Truth::read(&sim, QUERY).await;
    let mut db = rusqlite::Connection::open(&path).unwrap();
    answers_match(&mut db, &truth);
    documented_columns_exist(&mut db);
    // SQLite's own date functions read every stored time.
    assert_eq!(
        one(
            &mut db,
            "SELECT COUNT(*) FROM issues WHERE datetime(created) IS NULL OR datetime(updated) IS NULL"
        ),
        "0"
    );
    assert_eq!(
        one(&mut db, "SELECT version FROM schema_version"),
        jira_sync::relational::schema::SCHEMA_VERSION.to_string()
    );
}

/// Every row of every table of the schema, as text, in key order.
fn dump(db: &mut rusqlite::Connection) -> BTreeMap<&'static str, Vec<Vec<Option<String>>>> {
    jira_sync::relational::schema::TABLES
        .iter()
        .map(|table| {
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {}",
                table.column_list(),
                table.name,
                table.key.join(", ")
            );
            (table.name, db.rows(&sql))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_sqlite_file_is_migrated_in_place_to_the_same_rows() {
    let sim = small_tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let (new, old) = (dir.path().join("new.db"), dir.path().join("old.db"));
    let mut sink = jira_sync::SqliteSink::open(&new).unwrap();
    jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    drop(sink);

    // The same data as jira-ops wrote it before the relational schema: each entity as
    // JSON, epoch-millisecond tombstones (one issue and one worklog deleted).
    let mut db = rusqlite::Connection::open(&new).unwrap();
    let (gone_issue, gone_worklog) = (
        one(&mut db, "SELECT MIN(id) FROM issues"),
        one(&mut db, "SELECT MAX(id) FROM worklogs"),
    );
    let at = "2026-01-02T03:04:05.678Z";
    let at_ms = millis(at);
    db.execute_batch(&format!(
        "UPDATE issues SET deleted_at = '{at}' WHERE id = {gone_issue};
         UPDATE comments SET deleted_at = '{at}' WHERE issue_id = {gone_issue};
         UPDATE worklogs SET deleted_at = '{at}' WHERE id = {gone_worklog};"
    ))
    .unwrap();
    let expected = dump(&mut db);
    db.execute_batch(&format!(
        "ATTACH '{}' AS v1;
         CREATE TABLE v1.issues (id INTEGER PRIMARY KEY, key TEXT NOT NULL, updated_ms INTEGER NOT NULL, deleted_ms INTEGER, json TEXT NOT NULL);
         CREATE TABLE v1.changelog (issue_id INTEGER NOT NULL, id INTEGER NOT NULL, created TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (issue_id, id)) WITHOUT ROWID;
         CREATE TABLE v1.comments (id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, updated TEXT NOT NULL, json TEXT NOT NULL);
         CREATE INDEX v1.comments_by_issue ON comments (issue_id);
         CREATE TABLE v1.worklogs (id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, updated TEXT NOT NULL, deleted_ms INTEGER, json TEXT NOT NULL);
         CREATE INDEX v1.worklogs_by_issue ON worklogs (issue_id);
         CREATE TABLE v1.fields (id TEXT PRIMARY KEY, name TEXT NOT NULL, json TEXT NOT NULL);
         CREATE TABLE v1.sync_state (jql TEXT PRIMARY KEY, json TEXT NOT NULL);
         CREATE TABLE v1.sync_members (jql TEXT NOT NULL, issue_id INTEGER NOT NULL, PRIMARY KEY (jql, issue_id)) WITHOUT ROWID;
         INSERT INTO v1.changelog SELECT issue_id, id, created, json FROM changelog;
         INSERT INTO v1.comments SELECT id, issue_id, COALESCE(updated, ''), json FROM comments;
         INSERT INTO v1.worklogs SELECT id, issue_id, COALESCE(updated, ''), CASE WHEN deleted_at IS NULL THEN NULL ELSE {at_ms} END, json FROM worklogs;
         INSERT INTO v1.fields SELECT id, name, json FROM fields;
         INSERT INTO v1.sync_state SELECT jql, json FROM sync_state;
         INSERT INTO v1.sync_members SELECT jql, issue_id FROM sync_members;",
        old.display()
    ))
    .unwrap();
    for row in db.rows("SELECT id, key, updated, deleted_at, json FROM issues") {
        db.execute(
            "INSERT INTO v1.issues VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                row[0],
                row[1],
                millis(row[2].as_deref().unwrap()),
                row[3].as_deref().map(millis),
                row[4]
            ],
        )
        .unwrap();
    }
    drop(db);

    let mut status = jira_sync::sqlite_status(&old).unwrap_err().to_string();
    assert!(
        status.contains("schema version 1") && status.contains("jira-ops sync migrate --to"),
        "{status}"
    );
    let sink = jira_sync::SqliteSink::open(&old).unwrap();
    drop(sink);
    let mut migrated = rusqlite::Connection::open(&old).unwrap();
    assert_eq!(dump(&mut migrated), expected);
    assert_eq!(
        one(
            &mut migrated,
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'v1_%'"
        ),
        "0"
    );
    status = format!("{:?}", jira_sync::sqlite_status(&old).unwrap().format);
    assert_eq!(status, "2");

    // And it syncs on from where it was: only the issue the fixture marked deleted,
    // which the site still holds, is written (the census brings it back).
    let mut sink = jira_sync::SqliteSink::open(&old).unwrap();
    let again = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(
        (again.issues_written, again.issues_restored),
        (1, 1),
        "{again:?}"
    );
}

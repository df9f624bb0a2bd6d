//! A JSON Lines sink holds the same records as the relational tables: after a first run
//! and after a run that follows edits, deletions and a cleared field, every file's
//! lines equal the rows of the same table in a SQLite sink of the same site, column by
//! column; and a format-1 directory is migrated in place to them.

use std::collections::BTreeMap;

use jira_ops_tests::sim::{rest, rest_get};
use jira_sync::relational::schema::{self, Kind, Table};
use jira_sync::{JsonlSink, SqliteSink};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{options, synced_database};

/// A row's key, as text, for ordering.
fn key_of(table: &Table, row: &Value) -> String {
    table
        .key
        .iter()
        .map(|column| row[*column].to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// `deleted_at` as whether it is set: the two sinks mark a row deleted at the moment
/// each of them learns it.
fn settle(mut row: Value) -> Value {
    if let Some(deleted) = row.get_mut("deleted_at") {
        *deleted = json!(!deleted.is_null());
    }
    row
}

/// Every row of `table` in the SQLite sink, as the JSON object a JSON Lines line is.
fn database_rows(sink: &SqliteSink, table: &Table) -> BTreeMap<String, Value> {
    let sql = format!("SELECT {} FROM {}", table.column_list(), table.name);
    let mut statement = sink.connection().prepare(&sql).unwrap();
    let rows = statement
        .query_map([], |row| {
            let mut object = serde_json::Map::new();
            for (n, column) in table.columns.iter().enumerate() {
                let value: rusqlite::types::Value = row.get(n)?;
                use rusqlite::types::Value as V;
                let value = match (column.kind, value) {
                    (_, V::Null) => Value::Null,
                    (Kind::Bool, V::Integer(n)) => json!(n != 0),
                    (_, V::Integer(n)) => json!(n),
                    (_, V::Real(x)) => json!(x),
                    (Kind::Json, V::Text(text)) => serde_json::from_str(&text).unwrap(),
                    (_, V::Text(text)) => json!(text),
                    (_, V::Blob(_)) => panic!("{}.{} holds a blob", table.name, column.name),
                };
                object.insert(column.name.to_owned(), value);
            }
            Ok(Value::Object(object))
        })
        .unwrap();
    rows.map(|row| {
        let row = settle(row.unwrap());
        (key_of(table, &row), row)
    })
    .collect()
}

/// Every line of `table`'s file, each one whole and its key's only line.
fn file_rows(dir: &std::path::Path, table: &Table) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(dir.join(format!("{}.jsonl", table.name))).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let names: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        columns.sort_unstable();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted, columns,
            "{}: a line holds the table's columns",
            table.name
        );
        let key = key_of(table, &row);
        assert!(
            rows.insert(key.clone(), settle(row)).is_none(),
            "{}: one line per key after a run ({key})",
            table.name
        );
    }
    rows
}

fn assert_same_records(database: &SqliteSink, dir: &std::path::Path) {
    for table in schema::DATA_TABLES {
        let (expected, got) = (database_rows(database, table), file_rows(dir, table));
        assert!(!expected.is_empty(), "{} has rows", table.name);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{}: the same rows",
            table.name
        );
        for (key, row) in &expected {
            assert_eq!(&got[key], row, "{} {key}", table.name);
        }
    }
    assert_eq!(std::fs::metadata(dir.join("sets.jsonl")).unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_hold_the_records_of_the_relational_tables() {
    let (sim, client, dir, mut database) = synced_database().await;
    let files = dir.path().join("export");
    let mut sink = JsonlSink::open(&files).unwrap();
    jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_same_records(&database, &files);

    // An issue with Story Points loses them; one of its comments is deleted; another
    // issue is edited and a third deleted.
    let (_, found) = rest_get(
        &sim,
        "/rest/api/3/search/jql?jql=project%3DAPO&fields=customfield_10016,comment&maxResults=100",
    )
    .await;
    let pointed = found["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|issue| {
            issue["fields"]["customfield_10016"].is_number()
                && !issue["fields"]["comment"]["comments"]
                    .as_array()
                    .unwrap()
                    .is_empty()
        })
        .expect("an issue with Story Points and comments");
    let key = pointed["key"].as_str().unwrap().to_owned();
    let comment = pointed["fields"]["comment"]["comments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edits = [
        (
            Method::PUT,
            format!("/rest/api/3/issue/{key}"),
            Some(json!({"fields": {"customfield_10016": null}})),
        ),
        (
            Method::DELETE,
            format!("/rest/api/3/issue/{key}/comment/{comment}"),
            None,
        ),
        (
            Method::PUT,
            "/rest/api/3/issue/BEA-7".to_owned(),
            Some(json!({"fields": {"summary": "BEA-7 edited"}})),
        ),
        (Method::DELETE, "/rest/api/3/issue/APO-12".to_owned(), None),
    ];
    for (method, path, body) in edits {
        let (status, answer) = rest(&sim, method, &path, body).await;
        assert_eq!(status, 204, "{path}: {answer}");
    }
    for sink in [&mut database as &mut dyn jira_sync::Sink, &mut sink] {
        let run = jira_sync::sync(&client, sink, &options()).await.unwrap();
        assert_eq!(run.issues_deleted, 1, "{run:?}");
    }
    assert_same_records(&database, &files);
    let points = file_rows(&files, &schema::FIELD_VALUES);
    assert!(
        !points
            .values()
            .any(|row| row["issue_key"] == key.as_str() && row["field_name"] == "Story Points"),
        "the cleared field's row is gone"
    );
    let comments = file_rows(&files, &schema::COMMENTS);
    assert_eq!(
        comments
            .values()
            .filter(|row| row["deleted_at"] == json!(true))
            .count() as i64,
        database
            .connection()
            .query_row(
                "SELECT COUNT(*) FROM comments WHERE deleted_at IS NOT NULL",
                [],
                |r| r.get::<_, i64>(0)
            )
            .unwrap(),
    );
    assert!(
        comments
            .values()
            .any(|row| row["id"] == json!(comment.parse::<i64>().unwrap())
                && row["deleted_at"] == json!(true)),
        "the deleted comment keeps its row, marked deleted"
    );
}

/// Writes the JSON Lines files of format 1 (before this layout) that a sync of the site
/// `database` holds would have made: each issue's JSON, history and comments a line each,
/// the catalogue in the manifest; with an issue written twice (the last line wins).
fn format_one(database: &SqliteSink, dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let connection = database.connection();
    let strings = |sql: &str| -> Vec<(i64, String, String)> {
        let mut statement = connection.prepare(sql).unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let millis = |text: &str| {
        text.parse::<jira_model::JiraTimestamp>()
            .unwrap()
            .unix_millis()
    };
    let mut files: BTreeMap<&str, String> = BTreeMap::new();
    let mut held = Vec::new();
    let issues = strings("SELECT id, key || ' ' || updated, json FROM issues ORDER BY id");
    for (n, (id, key_updated, json)) in issues.iter().enumerate() {
        let (key, updated) = key_updated.split_once(' ').unwrap();
        let line = json!({"id": id, "key": key, "updated_ms": millis(updated), "deleted_ms": null, "issue": serde_json::from_str::<Value>(json).unwrap()});
        if n == 0 {
            // An earlier line of the same issue, superseded.
            let mut older = line.clone();
            older["issue"]["fields"]["summary"] = json!("an older summary");
            files
                .entry("issues.jsonl")
                .or_default()
                .push_str(&format!("{older}\n"));
        }
        files
            .entry("issues.jsonl")
            .or_default()
            .push_str(&format!("{line}\n"));
        held.push(*id);
    }
    for (table, file, member) in [
        ("changelog", "changelog.jsonl", "entries"),
        ("comments", "comments.jsonl", "comments"),
    ] {
        let rows = strings(&format!(
            "SELECT issue_id, '', json FROM {table} ORDER BY issue_id, id"
        ));
        let mut by_issue: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        for (issue, _, json) in rows {
            by_issue
                .entry(issue)
                .or_default()
                .push(serde_json::from_str(&json).unwrap());
        }
        for (issue, children) in by_issue {
            files.entry(file).or_default().push_str(&format!(
                "{}\n",
                json!({"issue_id": issue, member: children})
            ));
        }
    }
    for (id, issue, json) in
        strings("SELECT id, CAST(issue_id AS TEXT), json FROM worklogs ORDER BY id")
    {
        let line = json!({"id": id, "issue_id": issue.parse::<i64>().unwrap(), "deleted_ms": null, "worklog": serde_json::from_str::<Value>(&json).unwrap()});
        files
            .entry("worklogs.jsonl")
            .or_default()
            .push_str(&format!("{line}\n"));
    }
    files.insert(
        "members.jsonl",
        format!("{}\n", json!({"query": 0, "held": held})),
    );
    let mut bytes = BTreeMap::new();
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
        bytes.insert(*name, text.len());
    }
    let fields: Vec<Value> = strings("SELECT 0, '', json FROM fields ORDER BY id")
        .into_iter()
        .map(|(_, _, json)| serde_json::from_str(&json).unwrap())
        .collect();
    let (jql, state) = connection
        .query_row("SELECT jql, json FROM sync_state", [], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .unwrap();
    let manifest = json!({
        "format": 1,
        "bytes": bytes,
        "counts": {"issues": issues.len()},
        "fields": fields,
        "states": {jql.clone(): serde_json::from_str::<Value>(&state).unwrap()},
        "queries": [jql],
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_one_directory_is_migrated_in_place_to_the_relational_records() {
    let (_sim, client, dir, database) = synced_database().await;
    let files = dir.path().join("old");
    format_one(&database, &files);

    let mut sink = JsonlSink::open(&files).expect("a format-1 directory opens, migrated");
    assert_eq!(sink.manifest().format, jira_sync::JSONL_FORMAT);
    assert!(
        !std::fs::read_to_string(files.join("issues.jsonl"))
            .unwrap()
            .contains("an older summary")
    );
    assert_same_records(&database, &files);
    // And it syncs on from the state it kept: nothing to write again.
    let run = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(run.issues_written, 0, "{run:?}");
    assert_eq!(sink.manifest().counts["issues"], 300);
    assert_same_records(&database, &files);
}

/// An issue's JSON as Jira sends it: `key`, project, summary and Story Points.
fn issue(id: u64, key: &str, points: Option<f64>) -> jira_sync::SyncedIssue {
    let project = key.split('-').next().unwrap();
    let json = json!({
        "id": id.to_string(),
        "key": key,
        "fields": {
            "project": {"key": project},
            "summary": format!("{key} summary"),
            "updated": "2026-03-02T18:21:19.756+0000",
            "customfield_10016": points,
        },
    });
    jira_sync::SyncedIssue {
        id,
        key: key.to_owned(),
        updated_ms: 1_772_475_679_756,
        json: serde_json::value::to_raw_value(&json).unwrap(),
    }
}

fn child(id: u64, issue_id: u64, extra: Value) -> jira_sync::Child {
    let mut json = json!({"id": id.to_string(), "created": "2026-03-02T18:21:19.756+0000"});
    json.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    jira_sync::Child {
        id,
        issue_id,
        at: String::new(),
        json: serde_json::value::to_raw_value(&json).unwrap(),
    }
}

/// Lines of `table`'s file, parsed.
fn lines(dir: &std::path::Path, table: &Table) -> Vec<Value> {
    std::fs::read_to_string(dir.join(format!("{}.jsonl", table.name)))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Within one run: an issue's comment and Story Points go, the issue moves to another
/// project, a worklog is deleted. Between the commits the files only append (the last
/// line of a key wins, `sets.jsonl` says which commit holds an issue's rows); the end of
/// the run leaves the rows the tables hold.
#[test]
fn compaction_leaves_the_rows_the_tables_hold() {
    use jira_sync::Sink as _;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    let state = jira_sync::SyncState {
        jql: "project = APO".into(),
        ..jira_sync::SyncState::default()
    };
    let comment = |id: u64| child(id, 7, json!({"body": format!("comment {id}")}));
    let mut first = jira_sync::SyncBatch {
        issues: vec![issue(7, "APO-7", Some(5.0)), issue(8, "APO-8", None)],
        worklogs: vec![child(70, 7, json!({"timeSpentSeconds": 60}))],
        ..Default::default()
    };
    first.comments.insert(7, vec![comment(701), comment(702)]);
    first.histories.insert(
        7,
        vec![child(
            9001,
            7,
            json!({"items": [{"field": "status", "fromString": "To Do", "toString": "Done"}]}),
        )],
    );
    sink.commit(&first, &state).unwrap();
    let mut second = jira_sync::SyncBatch {
        issues: vec![issue(7, "BEA-3", None)],
        deleted_worklogs: vec![(70, 1_772_475_679_756)],
        ..Default::default()
    };
    second.comments.insert(7, vec![comment(701)]);
    second.histories.insert(
        7,
        vec![child(
            9001,
            7,
            json!({"items": [{"field": "status", "fromString": "To Do", "toString": "Done"}]}),
        )],
    );
    sink.commit(&second, &state).unwrap();
    assert_eq!(lines(dir.path(), &schema::COMMENTS).len(), 3, "appended");
    assert_eq!(
        sink.manifest().counts["comments"],
        1,
        "701, the one comment issue 7 holds now"
    );

    sink.finish_run().unwrap();
    let issues = lines(dir.path(), &schema::ISSUES);
    assert_eq!(issues.len(), 2);
    assert_eq!(
        issues.iter().find(|i| i["id"] == 7).unwrap()["key"],
        "BEA-3"
    );
    assert!(
        lines(dir.path(), &schema::FIELD_VALUES).is_empty(),
        "Story Points cleared: no row"
    );
    let comments = lines(dir.path(), &schema::COMMENTS);
    assert_eq!(comments.len(), 2);
    for row in &comments {
        assert_eq!(row["issue_key"], "BEA-3", "{row}");
        assert_eq!(row["deleted_at"].is_null(), row["id"] == 701, "{row}");
    }
    let items = lines(dir.path(), &schema::CHANGELOG_ITEMS);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["issue_key"], "BEA-3");
    let worklogs = lines(dir.path(), &schema::WORKLOGS);
    assert_eq!(worklogs.len(), 1);
    assert_eq!(
        worklogs[0]["issue_key"], "BEA-3",
        "a moved issue's worklog takes its key"
    );
    assert_eq!(worklogs[0]["deleted_at"], "2026-03-02T18:21:19.756Z");
    assert_eq!(
        worklogs[0]["time_spent_seconds"], 60,
        "the tombstone folded into the row"
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("sets.jsonl"))
            .unwrap()
            .len(),
        0
    );
    drop(sink);
    let sink = JsonlSink::open(dir.path()).unwrap();
    assert_eq!(sink.manifest().counts["comments"], 1);
    assert_eq!(sink.manifest().counts["worklogs_deleted"], 1);
}

/// The inode of `table`'s file: a compaction writes a file anew and renames it over the
/// old one, so a file it did not rewrite keeps its inode.
fn inode(dir: &std::path::Path, table: &Table) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(dir.join(format!("{}.jsonl", table.name)))
        .unwrap()
        .ino()
}

/// A run that wrote each issue once leaves `issues.jsonl` and the files written per issue
/// as they are (nothing in them is superseded: the bulk of an export is not read again);
/// the worklogs written twice are still folded, and a later run that writes an issue
/// again, or a census that deletes one (even one cut off before its compaction), has
/// every file compacted.
#[test]
fn a_run_that_wrote_each_issue_once_is_not_compacted_again() {
    use jira_sync::Sink as _;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    let state = jira_sync::SyncState {
        jql: "project = APO".into(),
        ..jira_sync::SyncState::default()
    };
    let comment = |id: u64, issue: u64| child(id, issue, json!({"body": format!("comment {id}")}));
    let worklog = |seconds: u64| child(70, 7, json!({"timeSpentSeconds": seconds}));
    let mut first = jira_sync::SyncBatch {
        issues: vec![issue(7, "APO-7", Some(5.0))],
        worklogs: vec![worklog(60)],
        ..Default::default()
    };
    first.comments.insert(7, vec![comment(701, 7)]);
    sink.commit(&first, &state).unwrap();
    let mut second = jira_sync::SyncBatch {
        issues: vec![issue(8, "APO-8", None)],
        // The worklog feed names worklog 70 again, edited.
        worklogs: vec![worklog(90)],
        ..Default::default()
    };
    second.comments.insert(8, vec![comment(801, 8)]);
    sink.commit(&second, &state).unwrap();
    let before =
        [schema::ISSUES, schema::COMMENTS, schema::FIELD_VALUES].map(|t| inode(dir.path(), &t));
    sink.finish_run().unwrap();
    let after =
        [schema::ISSUES, schema::COMMENTS, schema::FIELD_VALUES].map(|t| inode(dir.path(), &t));
    assert_eq!(
        before, after,
        "no issue was written twice: those files were not rewritten"
    );
    assert_eq!(lines(dir.path(), &schema::ISSUES).len(), 2);
    assert_eq!(lines(dir.path(), &schema::COMMENTS).len(), 2);
    let worklogs = lines(dir.path(), &schema::WORKLOGS);
    assert_eq!(worklogs.len(), 1, "the keyed files are still folded");
    assert_eq!(worklogs[0]["time_spent_seconds"], 90);
    assert_eq!(
        std::fs::metadata(dir.path().join("sets.jsonl"))
            .unwrap()
            .len(),
        0
    );

    // The next run writes issue 7 again: every file is compacted.
    let mut again = jira_sync::SyncBatch {
        issues: vec![issue(7, "APO-7", None)],
        ..Default::default()
    };
    again.comments.insert(7, vec![comment(702, 7)]);
    sink.commit(&again, &state).unwrap();
    let before = inode(dir.path(), &schema::ISSUES);
    sink.finish_run().unwrap();
    assert_ne!(before, inode(dir.path(), &schema::ISSUES));
    assert_eq!(
        lines(dir.path(), &schema::ISSUES).len(),
        2,
        "one line per issue"
    );
    assert_eq!(
        lines(dir.path(), &schema::FIELD_VALUES).len(),
        0,
        "Story Points cleared"
    );
    let comments = lines(dir.path(), &schema::COMMENTS);
    assert_eq!(comments.len(), 3, "701 kept, marked deleted; 702 and 801");
    assert!(
        comments
            .iter()
            .any(|c| c["id"] == 701 && !c["deleted_at"].is_null())
    );

    // A census deletes issue 8 and the run is cut off before its compaction: the sink
    // opened next finds the tombstone and compacts every file at the end of its run.
    sink.census_begin().unwrap();
    sink.census_seen(&[7]).unwrap();
    assert_eq!(
        sink.census_finish("project = APO", 1_772_475_679_756)
            .unwrap()
            .deleted,
        1
    );
    drop(sink);
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    sink.finish_run().unwrap();
    let issues = lines(dir.path(), &schema::ISSUES);
    assert_eq!(issues.len(), 2, "the tombstone folded into issue 8's row");
    assert!(
        issues
            .iter()
            .any(|i| i["id"] == 8 && !i["deleted_at"].is_null())
    );
    let comments = lines(dir.path(), &schema::COMMENTS);
    assert!(
        comments
            .iter()
            .any(|c| c["id"] == 801 && !c["deleted_at"].is_null()),
        "a deleted issue's comments are marked deleted with it"
    );
}

/// A run that wrote each worklog once leaves `worklogs.jsonl` as it is (a query's first
/// read need not read every worklog back to fold nothing); a worklog written again (found
/// by the sink opened after a run cut off before its compaction) or marked deleted has
/// the file folded.
#[test]
fn worklogs_written_once_are_not_read_back() {
    use jira_sync::Sink as _;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    let state = jira_sync::SyncState {
        jql: "project = APO".into(),
        ..jira_sync::SyncState::default()
    };
    let worklog = |id: u64, seconds: u64| child(id, 7, json!({"timeSpentSeconds": seconds}));
    let first = jira_sync::SyncBatch {
        issues: vec![issue(7, "APO-7", None)],
        worklogs: vec![worklog(70, 60), worklog(71, 30)],
        ..Default::default()
    };
    sink.commit(&first, &state).unwrap();
    let before = inode(dir.path(), &schema::WORKLOGS);
    sink.finish_run().unwrap();
    assert_eq!(
        before,
        inode(dir.path(), &schema::WORKLOGS),
        "each worklog written once: the file was not rewritten"
    );

    // The feed names worklog 70 again, edited, and the run is cut off before its
    // compaction: the sink opened next finds the second line and folds it.
    let edited = jira_sync::SyncBatch {
        worklogs: vec![worklog(70, 90)],
        ..Default::default()
    };
    sink.commit(&edited, &state).unwrap();
    drop(sink);
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    assert_eq!(lines(dir.path(), &schema::WORKLOGS).len(), 3, "appended");
    sink.finish_run().unwrap();
    let worklogs = lines(dir.path(), &schema::WORKLOGS);
    assert_eq!(worklogs.len(), 2, "one line a worklog");
    assert!(
        worklogs
            .iter()
            .any(|w| w["id"] == 70 && w["time_spent_seconds"] == 90)
    );

    // Worklog 71 is deleted: its tombstone is folded into its row.
    let deleted = jira_sync::SyncBatch {
        deleted_worklogs: vec![(71, 1_772_475_679_756)],
        ..Default::default()
    };
    sink.commit(&deleted, &state).unwrap();
    let before = inode(dir.path(), &schema::WORKLOGS);
    sink.finish_run().unwrap();
    assert_ne!(before, inode(dir.path(), &schema::WORKLOGS));
    let worklogs = lines(dir.path(), &schema::WORKLOGS);
    assert_eq!(worklogs.len(), 2);
    assert!(
        worklogs
            .iter()
            .any(|w| w["id"] == 71 && !w["deleted_at"].is_null())
    );
}

/// A commit that holds one issue twice (two reads of it gathered into one commit) has the
/// files compacted at the run's end even on a first read.
#[test]
fn an_issue_twice_in_one_commit_is_compacted() {
    use jira_sync::Sink as _;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    let state = jira_sync::SyncState {
        jql: "project = APO".into(),
        ..jira_sync::SyncState::default()
    };
    let batch = jira_sync::SyncBatch {
        issues: vec![issue(9, "APO-9", Some(3.0)), issue(9, "APO-9", Some(5.0))],
        ..Default::default()
    };
    sink.commit(&batch, &state).unwrap();
    assert_eq!(lines(dir.path(), &schema::ISSUES).len(), 2, "appended");
    sink.finish_run().unwrap();
    assert_eq!(lines(dir.path(), &schema::ISSUES).len(), 1);
}

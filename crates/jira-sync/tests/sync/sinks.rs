//! What a sink refuses to do to its files: a second sync at once, a directory of someone
//! else's files, a data file deleted or cut short.

use jira_sync::relational::schema;
use jira_sync::{JsonlSink, SqliteSink};

use crate::{options, tenant};

#[test]
fn a_sink_is_synced_by_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("one.db");
    let first = SqliteSink::open(&db).unwrap();
    let refused = SqliteSink::open(&db)
        .err()
        .expect("a second opener is refused");
    let text = refused.to_string();
    assert!(text.contains("is being synced by process"), "{text}");
    assert!(text.contains(&std::process::id().to_string()), "{text}");
    drop(first);
    SqliteSink::open(&db).expect("free again once the first is dropped");

    let files = dir.path().join("files");
    let first = JsonlSink::open(&files).unwrap();
    let refused = JsonlSink::open(&files)
        .err()
        .expect("a second opener is refused");
    assert!(
        refused.to_string().contains("is being synced by process"),
        "{refused}"
    );
    drop(first);
    JsonlSink::open(&files).expect("free again");
}

#[test]
fn a_directory_of_other_files_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("issues.jsonl");
    std::fs::write(&mine, "{\"my\": \"own data\"}\n").unwrap();
    let refused = JsonlSink::open(dir.path()).err().expect("refused");
    assert!(
        refused.to_string().contains("no manifest.json"),
        "{refused}"
    );
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "{\"my\": \"own data\"}\n"
    );
    // A sink whose first commit was cut short (data, no manifest yet) is ours: it opens,
    // the uncommitted bytes cut.
    let cut = dir.path().join("cut");
    drop(JsonlSink::open(&cut).unwrap());
    std::fs::write(cut.join("issues.jsonl"), "{\"id\": 1, \"half").unwrap();
    drop(JsonlSink::open(&cut).expect("a sink of ours opens"));
    assert_eq!(
        std::fs::metadata(cut.join("issues.jsonl")).unwrap().len(),
        0
    );
}

/// A tenant, a client of it, a temporary directory and a JSON Lines sink in it
/// (`export`) holding a sync of [`options`].
async fn synced_export() -> (
    jira_sim::SimHandle,
    jira_client::JiraClient,
    tempfile::TempDir,
    std::path::PathBuf,
    JsonlSink,
) {
    let sim = tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("export");
    let mut sink = JsonlSink::open(&files).unwrap();
    jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    (sim, client, dir, files, sink)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_file_deleted_from_a_sink_is_named_not_filled_with_zeros() {
    let (_sim, _client, _dir, files, sink) = synced_export().await;
    drop(sink);
    let comments = files.join("comments.jsonl");
    assert!(std::fs::metadata(&comments).unwrap().len() > 0);
    std::fs::remove_file(&comments).unwrap();
    let refused = JsonlSink::open(&files).err().expect("refused");
    let text = refused.to_string();
    assert!(text.contains("comments.jsonl holds 0 bytes"), "{text}");
    assert!(text.contains("move the directory away"), "{text}");
    assert!(!comments.exists(), "no file of zeros made in its place");
}

/// A saved state that does not read says to run with `--full`, and `--full` then works
/// (it replaces that state instead of reading it first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_starts_over_from_a_state_that_does_not_read() {
    let sim = tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let mut sink = SqliteSink::open(&db).unwrap();
    let first = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert!(first.issues_written > 0);
    sink.connection()
        .execute("UPDATE sync_state SET json = '{not json'", [])
        .unwrap();
    let refused = jira_sync::sync(&client, &mut sink, &options())
        .await
        .expect_err("a damaged state stops an incremental run");
    assert!(refused.to_string().contains("--full"), "{refused}");
    let full = jira_sync::SyncOptions {
        full: true,
        ..options()
    };
    let again = jira_sync::sync(&client, &mut sink, &full).await.unwrap();
    assert_eq!(
        again.issues_written + again.issues_unchanged,
        first.issues_written
    );
    assert_eq!(again.issues_deleted, 0, "{again:?}");
    // And the state it saved reads: an incremental run goes on from it.
    jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
}

/// Every line's key in a JSON Lines file (its table's key columns), in file order.
fn record_keys(path: &std::path::Path, by: &[&str]) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            by.iter()
                .map(|c| value[*c].to_string())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

/// After a run each file holds one line per row, its current one; a compaction cut
/// off before its commit point leaves the export as it was, one cut off after it is
/// finished when the sink is next opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_hold_one_current_line_per_entity_after_a_run() {
    let (sim, client, _dir, files, mut sink) = synced_export().await;
    // Edits (and so new lines for the same issues), then a run.
    jira_ops_tests::sim::edit_summaries(&sim, ["APO-3", "APO-4", "BEA-7"]).await;
    let again = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(again.issues_written, 3, "{again:?}");
    for table in schema::DATA_TABLES {
        let name = format!("{}.jsonl", table.name);
        let ids = record_keys(&files.join(&name), table.key);
        assert!(!ids.is_empty(), "{name}");
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(ids.len(), distinct.len(), "{name}: one line per record");
    }
    let issues = std::fs::read_to_string(files.join("issues.jsonl")).unwrap();
    assert_eq!(
        issues
            .lines()
            .filter(|l| l.contains("changed APO-3"))
            .count(),
        1,
        "the current line kept"
    );
    assert_eq!(sink.manifest().counts["issues"], 300);
    let described = &sink.manifest().files;
    assert!(
        [
            "issues.jsonl",
            "changelog.jsonl",
            "changelog_items.jsonl",
            "comments.jsonl",
            "worklogs.jsonl",
            "members.jsonl"
        ]
        .iter()
        .all(|name| described
            .get(*name)
            .is_some_and(|text| text.contains("one line per"))),
        "the manifest says what each file holds: {described:?}"
    );
    let manifest = sink.manifest().clone();
    drop(sink);
    assert_eq!(
        std::fs::metadata(files.join("issues.jsonl")).unwrap().len(),
        manifest.bytes["issues.jsonl"],
        "the manifest names the compacted lengths"
    );

    // Cut off before its commit point: the leftovers go, the export stays.
    std::fs::write(files.join("issues.jsonl.compact"), "half a file").unwrap();
    let sink = JsonlSink::open(&files).unwrap();
    assert!(!files.join("issues.jsonl.compact").exists());
    assert_eq!(sink.manifest().counts["issues"], 300);
    drop(sink);
    // Cut off after it: the swap the journal names is finished on open.
    let mut shorter: Vec<&str> = issues.lines().collect();
    shorter.truncate(10);
    let mut compacted_manifest = manifest.clone();
    let body = format!("{}\n", shorter.join("\n"));
    compacted_manifest
        .bytes
        .insert("issues.jsonl".into(), body.len() as u64);
    std::fs::write(files.join("issues.jsonl.compact"), &body).unwrap();
    std::fs::write(
        files.join("manifest.json.compact"),
        serde_json::to_vec(&compacted_manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(
        files.join("compact.pending"),
        r#"["issues.jsonl", "manifest.json"]"#,
    )
    .unwrap();
    let sink = JsonlSink::open(&files).unwrap();
    assert!(!files.join("compact.pending").exists());
    assert_eq!(
        std::fs::read_to_string(files.join("issues.jsonl")).unwrap(),
        body
    );
    assert_eq!(sink.manifest().bytes["issues.jsonl"], body.len() as u64);
}

/// A commit that fails at its commit point (the manifest cannot be replaced) leaves the
/// files as the last commit made them: the sink reopens itself under the lock it holds,
/// so the failed commit's bytes are cut, and the next commit is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_json_lines_commit_is_undone_before_the_next() {
    let (sim, client, _dir, files, sink) = synced_export().await;
    let (status, _) = jira_ops_tests::sim::rest(
        &sim,
        reqwest::Method::PUT,
        "/rest/api/3/issue/APO-3",
        Some(serde_json::json!({"fields": {"summary": "APO-3 edited"}})),
    )
    .await;
    assert_eq!(status, 204);
    // The commit of the edited issue cannot make the manifest's temporary file: every
    // data file is appended, then the commit point fails.
    let blocker = files.join("manifest.json.tmp");
    let mut hooked = crate::Hooked {
        inner: sink,
        before: |batch: &jira_sync::SyncBatch, _: &jira_sync::SyncState| {
            if !batch.issues.is_empty() {
                std::fs::create_dir(&blocker).unwrap();
            }
            Ok(())
        },
    };
    let failed = jira_sync::sync(&client, &mut hooked, &options())
        .await
        .expect_err("the commit point fails");
    let mut sink = hooked.inner;
    assert!(failed.to_string().contains("manifest.json.tmp"), "{failed}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files.join("manifest.json")).unwrap()).unwrap();
    for name in ["issues.jsonl", "issue_field_values.jsonl", "sets.jsonl"] {
        assert_eq!(
            std::fs::metadata(files.join(name)).unwrap().len(),
            manifest["bytes"][name].as_u64().unwrap_or(0),
            "{name}: the failed commit's bytes are cut"
        );
    }
    std::fs::remove_dir(&blocker).unwrap();
    let again = jira_sync::sync(&client, &mut sink, &options())
        .await
        .unwrap();
    assert_eq!(again.issues_written, 1, "{again:?}");
    drop(sink);
    let sink = JsonlSink::open(&files).unwrap();
    assert_eq!(sink.manifest().counts["issues"], 300);
    let issues = std::fs::read_to_string(files.join("issues.jsonl")).unwrap();
    assert_eq!(issues.lines().count(), 300);
    for line in issues.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line whole");
    }
    assert_eq!(
        issues
            .lines()
            .filter(|l| l.contains("APO-3 edited"))
            .count(),
        1
    );
}

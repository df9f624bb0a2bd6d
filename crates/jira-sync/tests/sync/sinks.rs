//! What a sink refuses to do to its files: a second sync at once, a directory of someone
//! else's files, a data file deleted or cut short.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_file_deleted_from_a_sink_is_named_not_filled_with_zeros() {
    let sim = tenant().await;
    let client = jira_ops_tests::sim::uncached_client(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("export");
    {
        let mut sink = JsonlSink::open(&files).unwrap();
        jira_sync::sync(&client, &mut sink, &options())
            .await
            .unwrap();
    }
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

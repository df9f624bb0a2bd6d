//! Runs, the journal and revert: `jira-ops journal list | show | forget` and
//! `apply --revert` against jira-sim, every value read back from the site.

use crate::apply::{comment_texts, write, writes};
use crate::{Env, sim};

/// Fields of `issue` read straight from jira-sim.
pub(crate) async fn fields_of(
    sim: &jira_sim::SimHandle,
    issue: &str,
    fields: &str,
) -> serde_json::Value {
    let path = format!("/rest/api/3/issue/{issue}?fields={fields}");
    jira_ops_tests::sim::rest_get(sim, &path).await.1["fields"].clone()
}

/// `journal list | show | forget`: the journal says which runs it holds and what each line
/// came to; a forgotten run's lines are new writes to the next run of its file (a site
/// reset), and forgetting asks first.
#[tokio::test]
async fn the_journal_lists_shows_and_forgets_runs() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "notes.jsonl",
        &[
            serde_json::json!({"op": "comment", "issue": "APO-4", "body": "journal note"}),
            serde_json::json!({"op": "comment", "issue": "APO-999", "body": "to nowhere"}),
        ],
    );
    env.run(&["apply", "--from-file", &path]).await.code(1);
    let listed = env.run(&["journal", "list", "--json"]).await;
    listed.code(0);
    let runs = listed.json()["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let name = runs[0]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("apply-"), "{name}");
    assert_eq!(
        runs[0]["finished"], false,
        "a refused line leaves it unfinished"
    );
    assert_eq!(runs[0]["lines"]["done"], 1);
    assert_eq!(runs[0]["lines"]["refused"], 1);
    let shown = env.run(&["journal", "show", &name, "--json"]).await;
    shown.code(0);
    let lines = shown.json()["lines"].as_array().unwrap().clone();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l["line"].as_u64().unwrap(), l["state"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(1, "done"), (2, "refused")]
    );
    assert!(
        !lines[1]["message"].as_str().unwrap().is_empty(),
        "{lines:?}"
    );
    let table = env.run(&["journal", "list"]).await;
    assert!(table.stdout.contains(&name), "{}", table.stdout);
    let unknown = env.run(&["journal", "show", "apply-nope"]).await;
    unknown.code(2);
    assert!(unknown.stderr.contains(&name), "{}", unknown.stderr);

    // Without a terminal and without --yes, nothing is forgotten.
    let refused = env.run(&["journal", "forget", &name]).await;
    refused.code(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let before = comment_texts(&sim, "APO-4").await.len();
    env.run(&["apply", "--from-file", &path]).await.code(1);
    assert_eq!(
        comment_texts(&sim, "APO-4").await.len(),
        before,
        "done stays done"
    );
    env.run(&["journal", "forget", &name, "--yes"])
        .await
        .code(0);
    env.run(&["apply", "--from-file", &path]).await.code(1);
    assert_eq!(
        comment_texts(&sim, "APO-4").await.len(),
        before + 1,
        "a forgotten run's line is written again, once"
    );
    let runs = env.run(&["journal", "list", "--json"]).await.json()["runs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(runs.len(), 1, "the new run under the file's name: {runs:?}");
    assert_eq!(runs[0]["lines"]["done"], 1);
}

/// `apply --revert`: every value a run changed is put back as it was, exactly once; a
/// field changed since by another hand is reported and left unless `--force`; what the
/// run created is deleted only with `--delete-created`.
#[tokio::test]
async fn a_reverted_run_puts_every_value_back() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let watched = "summary,priority,labels,assignee,status,resolution,customfield_10016";
    let before_4 = fields_of(&sim, "APO-4", watched).await;
    let before_6 = fields_of(&sim, "APO-6", watched).await;
    let someone = "5b10a2844c20165700ede000";
    let path = write(
        &env,
        "migration.jsonl",
        &[
            serde_json::json!({"op": "update", "issue": "APO-4", "fields": {"summary": "Migrated", "priority": {"name": "High"}, "customfield_10016": 13}}),
            serde_json::json!({"op": "label", "issue": "APO-4", "add": ["migrated"], "remove": ["performance"]}),
            serde_json::json!({"op": "assign", "issue": "APO-4", "account_id": someone}),
            serde_json::json!({"op": "transition", "issue": "APO-4", "to": "Close", "fields": {"resolution": {"name": "Done"}}}),
            serde_json::json!({"op": "update", "issue": "APO-6", "fields": {"summary": "Also migrated"}}),
            serde_json::json!({"op": "update", "issue": "APO-6", "fields": {"summary": "Migrated twice"}}),
            serde_json::json!({"op": "comment", "issue": "APO-4", "body": "migrated by jira-ops"}),
            serde_json::json!({"op": "link", "type": "Blocks", "inward": "APO-4", "outward": "APO-6"}),
        ],
    );
    env.run(&["apply", "--from-file", &path]).await.code(0);
    let after_4 = fields_of(&sim, "APO-4", watched).await;
    assert_eq!(after_4["status"]["name"], "Done");
    assert_eq!(after_4["summary"], "Migrated");
    let comments = comment_texts(&sim, "APO-4").await.len();

    // Another hand changes APO-6's summary after the run.
    let (edited, _) = jira_ops_tests::sim::rest(
        &sim,
        reqwest::Method::PUT,
        "/rest/api/3/issue/APO-6",
        Some(serde_json::json!({"fields": {"summary": "Edited by hand"}})),
    )
    .await;
    assert_eq!(edited, 204);

    let dry = env
        .run(&["apply", "--revert", "--from-file", &path, "--dry-run"])
        .await;
    dry.code(1);
    assert!(
        dry.stderr.contains("changed since the run") && dry.stderr.contains("APO-6"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stdout.contains("status: Done → In Progress"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        fields_of(&sim, "APO-4", watched).await,
        after_4,
        "a dry run wrote"
    );

    let writes_before = writes(&sim);
    let revert = env.run(&["apply", "--revert", "--from-file", &path]).await;
    revert.code(1);
    assert!(
        revert.stderr.contains("--delete-created"),
        "{}",
        revert.stderr
    );
    let back_4 = fields_of(&sim, "APO-4", watched).await;
    for field in ["summary", "labels", "customfield_10016"] {
        assert_eq!(back_4[field], before_4[field], "{field}");
    }
    assert_eq!(back_4["priority"]["id"], before_4["priority"]["id"]);
    assert_eq!(
        back_4["assignee"]["accountId"],
        before_4["assignee"]["accountId"]
    );
    assert_eq!(back_4["status"]["name"], before_4["status"]["name"]);
    assert_eq!(back_4["resolution"], before_4["resolution"]);
    assert_eq!(
        fields_of(&sim, "APO-6", "summary").await["summary"],
        "Edited by hand",
        "another hand's edit is left"
    );
    assert_eq!(comment_texts(&sim, "APO-4").await.len(), comments, "kept");

    // Exactly once: the same revert again sends nothing.
    let sent = writes(&sim);
    assert!(sent > writes_before);
    let again = env.run(&["apply", "--revert", "--from-file", &path]).await;
    again.code(1);
    assert_eq!(
        writes(&sim),
        sent,
        "a second revert wrote again: {}",
        again.stderr
    );

    // --force sets the edited field back; --delete-created removes what the run made.
    let name = env.run(&["journal", "list", "--json"]).await.json()["runs"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = env
        .run(&[
            "apply",
            "--revert",
            &name,
            "--force",
            "--delete-created",
            "--yes",
        ])
        .await;
    last.code(0);
    assert_eq!(
        fields_of(&sim, "APO-6", "summary").await["summary"],
        before_6["summary"]
    );
    assert_eq!(comment_texts(&sim, "APO-4").await.len(), comments - 1);
    assert!(
        fields_of(&sim, "APO-4", "issuelinks").await["issuelinks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["outwardIssue"]["key"] != "APO-6"),
        "the link is gone"
    );
}

/// A `create` run is reverted too: the issues it made are deleted with
/// `--delete-created`, and only then.
#[tokio::test]
async fn a_create_run_is_reverted_by_deleting_what_it_made() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = env.dir.path().join("new.jsonl");
    let lines: Vec<String> = (1..=3)
        .map(|n| {
            serde_json::json!({"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}, "summary": format!("Made to be reverted {n}")}})
                .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let created = env
        .run(&["create", "--from-file", path.to_str().unwrap()])
        .await;
    created.code(0);
    let keys: Vec<String> = created
        .json_lines()
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3);
    let runs = env.run(&["journal", "list", "--json"]).await.json()["runs"]
        .as_array()
        .unwrap()
        .clone();
    let name = runs[0]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("create-"), "{name}");
    // Without --delete-created the issues are kept, and said so.
    let kept = env.run(&["apply", "--revert", &name]).await;
    kept.code(0);
    assert!(kept.stderr.contains("--delete-created"), "{}", kept.stderr);
    let exists = |key: String| {
        let path = format!("/rest/api/3/issue/{key}");
        let sim = &sim;
        async move { jira_ops_tests::sim::rest_get(sim, &path).await.0 }
    };
    assert_eq!(exists(keys[0].clone()).await, 200);
    // Without a terminal, deleting needs --yes.
    env.run(&["apply", "--revert", &name, "--delete-created"])
        .await
        .code(2);
    assert_eq!(exists(keys[0].clone()).await, 200);
    env.run(&["apply", "--revert", &name, "--delete-created", "--yes"])
        .await
        .code(0);
    for key in keys {
        assert_eq!(exists(key.clone()).await, 404, "{key}");
    }
}

/// One process per journal: a run that finds another holding it is refused at once,
/// naming it and `--wait`; with `--wait` it waits for the other to end, then runs.
#[tokio::test]
async fn a_second_run_waits_for_the_journal_only_when_asked() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    let journal_dir = env.dir.path().join("journal");
    env.set("JIRA_OPS_JOURNAL_DIR", journal_dir.to_str().unwrap());
    let path = write(
        &env,
        "wait.jsonl",
        &[serde_json::json!({"op": "comment", "issue": "APO-7", "body": "after the other run"})],
    );
    // A first run makes the site's journal: the one file in the journal directory.
    let first = write(
        &env,
        "first.jsonl",
        &[serde_json::json!({"op": "label", "issue": "APO-7", "add": ["first"]})],
    );
    env.run(&["apply", "--from-file", &first]).await.code(0);
    let journal_path = std::fs::read_dir(&journal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("the site's journal");
    // Another run holds the journal.
    let held = jira_apply::Journal::open(&journal_path).unwrap();
    let refused = env.run(&["apply", "--from-file", &path]).await;
    refused.code(1);
    assert!(
        refused.stderr.contains("is writing it now") && refused.stderr.contains("--wait"),
        "{}",
        refused.stderr
    );
    let made = |texts: Vec<String>| texts.iter().filter(|c| *c == "after the other run").count();
    assert_eq!(made(comment_texts(&sim, "APO-7").await), 0);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1_500));
        drop(held);
    });
    let waited = env
        .run(&["apply", "--from-file", &path, "--wait", "30"])
        .await;
    waited.code(0);
    release.join().unwrap();
    assert_eq!(made(comment_texts(&sim, "APO-7").await), 1);
}

//! `jira-ops apply`: a change file against jira-sim: checked whole before anything is
//! sent, one result line per input line, exactly once across re-runs and interrupts, a
//! dry run that writes nothing, a plan.

use crate::{Env, sim};

pub(crate) fn write(env: &Env, name: &str, lines: &[serde_json::Value]) -> String {
    let path = env.dir.path().join(name);
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_owned()
}

/// The text of every comment on `issue`, read straight from jira-sim.
pub(crate) async fn comment_texts(sim: &jira_sim::SimHandle, issue: &str) -> Vec<String> {
    let (_, page) = jira_ops_tests::sim::rest_get(
        sim,
        &format!("/rest/api/3/issue/{issue}/comment?maxResults=5000"),
    )
    .await;
    page["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| jira_model::adf::to_text(&c["body"]).trim().to_owned())
        .collect()
}

/// Requests that write (not GETs, nor the POSTs that read: bulk fetches).
pub(crate) fn writes(sim: &jira_sim::SimHandle) -> u64 {
    sim.stats()
        .by_endpoint
        .iter()
        .filter(|(k, _)| !k.starts_with("GET") && !k.contains("/bulkfetch"))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn a_bad_line_is_exit_2_naming_it_and_nothing_is_sent() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "bad.jsonl",
        &[
            serde_json::json!({"op": "comment", "issue": "APO-1", "body": "fine"}),
            serde_json::json!({"op": "transition", "issue": "APO-1"}),
            serde_json::json!({"op": "comment", "issue": "APO-2", "body": "fine too"}),
        ],
    );
    let before = sim.stats().requests;
    let run = env.run(&["apply", "--from-file", &path]).await;
    run.code(2);
    assert!(
        run.stderr.contains("bad.jsonl, line 2:") && run.stderr.contains("`to`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
    assert_eq!(sim.stats().requests, before, "no request may be sent");
    assert!(run.stdout.is_empty());
}

#[tokio::test]
async fn apply_writes_each_line_once_and_a_rerun_writes_nothing() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "changes.jsonl",
        &[
            serde_json::json!({"op": "update", "issue": "APO-1", "fields": {"summary": "Set by the CLI"}}),
            serde_json::json!({"op": "comment", "issue": "APO-1", "body": "A note from apply"}),
            serde_json::json!({"op": "transition", "issue": "APO-2", "to": "Reopen"}),
            serde_json::json!({"op": "label", "issue": "APO-3", "add": ["cli"]}),
        ],
    );
    // The dry run reads and writes nothing.
    let before = writes(&sim);
    let dry = env.run(&["apply", "--from-file", &path, "--dry-run"]).await;
    // APO-2 may have no Reopen from its status: the dry run then says the line would be
    // refused (and exits 1), as the real run below is.
    let predicted_refusal = dry.stdout.contains("would be refused");
    assert_eq!(dry.code, i32::from(predicted_refusal), "{}", dry.stderr);
    assert!(
        dry.stdout.contains("summary:") && dry.stdout.contains("\"Set by the CLI\""),
        "{}",
        dry.stdout
    );
    assert_eq!(writes(&sim), before, "a dry run writes nothing");

    let plan = env
        .run(&["apply", "--from-file", &path, "--plan", "--json"])
        .await;
    plan.code(0);
    let plan = plan.json();
    assert_eq!(plan["lines"], 4);
    assert_eq!(plan["writes"]["PUT"], 2);
    assert_eq!(plan["writes"]["POST"], 2);

    let first = env.run(&["apply", "--from-file", &path]).await;
    let results = first.json_lines();
    assert_eq!(results.len(), 4, "{}", first.stdout);
    assert_eq!(
        results
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    // APO-2 may not be in Done: Reopen is then refused with the transitions it has.
    let reopen = &results[2];
    assert_eq!(
        reopen["outcome"] == "refused",
        predicted_refusal,
        "{reopen}"
    );
    if reopen["outcome"] == "refused" {
        first.code(1);
        assert!(
            reopen["message"].as_str().unwrap().contains("available:"),
            "{reopen}"
        );
    } else {
        first.code(0);
    }
    for result in [&results[0], &results[1], &results[3]] {
        assert_eq!(result["outcome"], "done", "{result}");
    }
    assert!(first.stderr.contains("applied"), "{}", first.stderr);
    let after_first = writes(&sim);

    let again = env.run(&["apply", "--from-file", &path, "--json"]).await;
    let report = again.json();
    for result in report["results"].as_array().unwrap() {
        if result["line"] != 3 {
            assert_eq!(result["earlier"], true, "{result}");
        }
    }
    let refused_again = u64::from(reopen["outcome"] == "refused");
    // Only a refused line is tried again (its reads are GETs).
    assert_eq!(writes(&sim), after_first, "{refused_again}");
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupted_apply_finishes_on_the_next_run_with_every_comment_once() {
    let sim = crate::sim_with(1, 60, jira_sim::LimitConfig::default()).await;
    let env = Env::for_sim(&sim);
    // Enough writes to one issue that the per-issue windows stretch the run.
    let lines: Vec<serde_json::Value> = (1..=150)
        .map(|n| serde_json::json!({"op": "comment", "issue": format!("APO-{}", 1 + n % 3), "body": format!("interrupt {n}")}))
        .collect();
    let path = write(&env, "many.jsonl", &lines);
    let stopped = env
        .run_interrupted(
            &["apply", "--from-file", &path],
            std::time::Duration::from_millis(1500),
            "INT",
        )
        .await;
    assert_ne!(stopped.code, 0, "{}", stopped.stderr);
    let finished = env.run(&["apply", "--from-file", &path]).await;
    finished.code(0);
    let mut total = 0;
    for issue in ["APO-1", "APO-2", "APO-3"] {
        let ours: Vec<String> = comment_texts(&sim, issue)
            .await
            .into_iter()
            .filter(|t| t.starts_with("interrupt "))
            .collect();
        let mut unique = ours.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ours.len(),
            "{issue}: a comment twice: {ours:?}"
        );
        total += ours.len();
    }
    assert_eq!(total, 150);
}

/// A cron overlap: two `apply` of one file started together. One process writes the
/// journal; the other is refused naming it, and every comment is made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_of_one_file_at_once_write_each_comment_once() {
    let sim = crate::sim_with(1, 30, jira_sim::LimitConfig::default()).await;
    let env = Env::for_sim(&sim);
    let lines: Vec<serde_json::Value> = (1..=60)
        .map(|n| serde_json::json!({"op": "comment", "issue": format!("APO-{}", 1 + n % 2), "body": format!("overlap {n}")}))
        .collect();
    let path = write(&env, "overlap.jsonl", &lines);
    let args = ["--no-cache", "apply", "--from-file", path.as_str()];
    let (first, second) = tokio::join!(env.run(&args), env.run(&args));
    let (ran, refused) = if first.code == 0 {
        (first, second)
    } else {
        (second, first)
    };
    ran.code(0);
    // The second either waited for nothing (the first had finished) and found every
    // line done, or was refused while the first held the journal.
    if refused.code != 0 {
        assert!(
            refused.stderr.contains("is writing it now"),
            "{}",
            refused.stderr
        );
    }
    let mut total = 0;
    for issue in ["APO-1", "APO-2"] {
        total += comment_texts(&sim, issue)
            .await
            .iter()
            .filter(|t| t.starts_with("overlap "))
            .count();
    }
    assert_eq!(total, 60, "comments made by two runs of one file");
}

/// Deleting issues cannot be undone: without a terminal to ask on, `delete` lines need
/// `--yes`, and nothing of the file is sent until then.
#[tokio::test]
async fn delete_lines_need_yes_without_a_terminal() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "deletes.jsonl",
        &[
            serde_json::json!({"op": "comment", "issue": "APO-1", "body": "before the delete"}),
            serde_json::json!({"op": "delete", "key": "APO-2"}),
        ],
    );
    let refused = env.run(&["apply", "--from-file", &path]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("1 line that deletes") && refused.stderr.contains("--yes"),
        "{}",
        refused.stderr
    );
    assert_eq!(writes(&sim), 0, "something was sent");
    // The dry run needs no question.
    env.run(&["apply", "--from-file", &path, "--dry-run"])
        .await
        .code(0);
    env.run(&["apply", "--from-file", &path, "--yes"])
        .await
        .code(0);
    let (gone, _) = jira_ops_tests::sim::rest_get(&sim, "/rest/api/3/issue/APO-2").await;
    assert_eq!(gone, 404);
}

/// A file applied to the end is not applied again silently: the next run says so and
/// sends nothing; `--again` applies it once more as a new run, exactly once.
#[tokio::test]
async fn a_finished_file_says_so_and_again_applies_it_once_more() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "weekly.jsonl",
        &[
            serde_json::json!({"op": "comment", "issue": "APO-3", "body": "weekly note"}),
            serde_json::json!({"op": "label", "issue": "APO-3", "add": ["weekly"]}),
        ],
    );
    let notes = |sim: &jira_sim::SimHandle| {
        sim.stats()
            .by_endpoint
            .iter()
            .filter(|(k, _)| k.starts_with("POST /rest/api/3/issue/{issueIdOrKey}/comment"))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    env.run(&["apply", "--from-file", &path]).await.code(0);
    assert_eq!(notes(&sim), 1);
    let before = writes(&sim);
    let again = env.run(&["apply", "--from-file", &path]).await;
    again.code(0);
    assert!(
        again.stderr.contains("applied to the end") && again.stderr.contains("--again"),
        "{}",
        again.stderr
    );
    assert_eq!(writes(&sim), before, "a finished file sent something");
    env.run(&["apply", "--from-file", &path, "--again"])
        .await
        .code(0);
    assert_eq!(notes(&sim), 2, "--again makes the comment once more");
    // And that new run, finished, is not repeated either.
    env.run(&["apply", "--from-file", &path]).await.code(0);
    assert_eq!(notes(&sim), 2);
}

/// A dry run checks each line as the real run would be answered: it names every line the
/// site would refuse, with why and the fix, and exits 1; nothing is written.
#[tokio::test]
async fn a_dry_run_names_every_line_the_site_would_refuse() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "bad.jsonl",
        &[
            serde_json::json!({"op": "update", "issue": "APO-1", "fields": {"nonsense": 1}}),
            serde_json::json!({"op": "update", "issue": "APO-1", "fields": {"customfield_10016": "five"}}),
            serde_json::json!({"op": "update", "issue": "APO-1", "fields": {"priority": {"name": "Whenever"}}}),
            serde_json::json!({"op": "assign", "issue": "APO-1", "account_id": "no-such-account"}),
            serde_json::json!({"op": "link", "type": "Frobs", "inward": "APO-1", "outward": "APO-2"}),
            serde_json::json!({"op": "comment", "issue": "APO-999", "body": "to nowhere"}),
            serde_json::json!({"op": "transition", "issue": "APO-2", "to": "Nowhere"}),
            serde_json::json!({"op": "update", "issue": "APO-3", "fields": {"summary": "Fine", "priority": {"name": "High"}}}),
            serde_json::json!({"op": "transition", "issue": "APO-4", "to": "Close"}),
            serde_json::json!({"op": "transition", "issue": "APO-4", "to": "Close", "fields": {"resolution": {"name": "Whatever"}}}),
            serde_json::json!({"op": "transition", "issue": "APO-4", "to": "Request Review", "fields": {"resolution": {"name": "Done"}}}),
            serde_json::json!({"op": "transition", "issue": "APO-4", "to": "Close", "fields": {"resolution": {"name": "Done"}}}),
        ],
    );
    let before = writes(&sim);
    let dry = env
        .run(&["apply", "--from-file", &path, "--dry-run", "--json"])
        .await;
    assert_eq!(dry.code, 1, "{}\n{}", dry.stdout, dry.stderr);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&dry.stdout).unwrap();
    let failing: Vec<u64> = lines
        .iter()
        .filter(|l| l["would_fail"] == true)
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        failing,
        vec![1, 2, 3, 4, 5, 6, 7, 9, 10, 11],
        "{}",
        dry.stdout
    );
    let why = |n: usize| lines[n - 1]["change"].as_str().unwrap().to_owned();
    assert!(
        why(1).contains("\"nonsense\"") && why(1).contains("summary"),
        "{}",
        why(1)
    );
    assert!(why(2).contains("a number"), "{}", why(2));
    assert!(why(3).contains("High"), "{}", why(3));
    assert!(why(4).contains("no-such-account"), "{}", why(4));
    assert!(why(5).contains("Blocks"), "{}", why(5));
    assert!(why(7).contains("Nowhere"), "{}", why(7));
    assert_eq!(lines[7]["would_write"], true);
    // A transition's screen: a required field missing, a value it does not allow, a field
    // not on it; the same transition with the field it needs goes through.
    assert!(
        why(9).contains("requires Resolution") && why(9).contains("\"resolution\""),
        "{}",
        why(9)
    );
    assert!(
        why(10).contains("Whatever") && why(10).contains("Done"),
        "{}",
        why(10)
    );
    assert!(why(11).contains("not on the Request Review"), "{}", why(11));
    assert_eq!(lines[11]["would_write"], true, "{}", why(12));
    assert!(dry.stderr.contains("10 would be refused"), "{}", dry.stderr);
    assert_eq!(writes(&sim), before, "a dry run writes nothing");

    // The real run makes the same checks before its first write: the lines the dry run
    // named are refused unsent, the two good ones are written.
    let real = env.run(&["apply", "--from-file", &path, "--json"]).await;
    real.code(1);
    let report = real.json();
    let refused: Vec<u64> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "refused")
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(refused, vec![1, 2, 3, 4, 5, 6, 7, 9, 10, 11], "{report}");
    assert!(
        report["results"][8]["message"]
            .as_str()
            .unwrap()
            .contains("refused before it was sent"),
        "{report}"
    );
    assert_eq!(writes(&sim), before + 2, "only the good lines were sent");
}

/// An account without a permission a line needs: the dry run names the line and the
/// permission, and the real run refuses it unsent while the lines it may write go out.
#[tokio::test]
async fn a_missing_permission_is_named_before_anything_is_sent() {
    let sim = sim().await;
    sim.set_realism(jira_sim::Realism {
        denied_permissions: vec!["ADD_COMMENTS".into()],
        ..sim.realism()
    });
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "perms.jsonl",
        &[
            serde_json::json!({"op": "comment", "issue": "APO-5", "body": "not allowed"}),
            serde_json::json!({"op": "label", "issue": "APO-5", "add": ["allowed"]}),
        ],
    );
    let dry = env
        .run(&["apply", "--from-file", &path, "--dry-run", "--json"])
        .await;
    dry.code(1);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(lines[0]["would_fail"], true, "{}", dry.stdout);
    assert!(
        lines[0]["change"]
            .as_str()
            .unwrap()
            .contains("Add Comments permission"),
        "{}",
        dry.stdout
    );
    assert_eq!(lines[1]["would_fail"], false, "{}", dry.stdout);
    let comments = |sim: &jira_sim::SimHandle| {
        sim.stats()
            .requests_to("POST", "/rest/api/3/issue/{issueIdOrKey}/comment")
    };
    let real = env.run(&["apply", "--from-file", &path, "--json"]).await;
    real.code(1);
    let report = real.json();
    assert_eq!(report["results"][0]["outcome"], "refused", "{report}");
    assert_eq!(report["results"][1]["outcome"], "done", "{report}");
    assert_eq!(comments(&sim), 0, "the refused comment was never sent");
}

/// A line that repeats an earlier one is applied (each occurrence is a write), and said so.
#[tokio::test]
async fn a_repeated_line_is_flagged() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let note = serde_json::json!({"op": "comment", "issue": "APO-9", "body": "twice on purpose?"});
    let path = write(&env, "twice.jsonl", &[note.clone(), note]);
    let plan = env.run(&["apply", "--from-file", &path, "--plan"]).await;
    plan.code(0);
    assert!(
        plan.stderr.contains("line 2 repeats line 1"),
        "{}",
        plan.stderr
    );
}

/// A line the site already held (`already_so`: nothing written) says so again when a
/// later run reports it, with why; it does not turn into `done`.
#[tokio::test]
async fn already_so_stays_already_so_in_a_later_run() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let path = write(
        &env,
        "twice.jsonl",
        &[
            serde_json::json!({"op": "label", "issue": "APO-5", "add": ["twice"]}),
            serde_json::json!({"op": "transition", "issue": "APO-5", "to": "To Do"}),
            serde_json::json!({"op": "transition", "issue": "APO-5", "to": "To Do"}),
        ],
    );
    let first = env.run(&["apply", "--from-file", &path]).await;
    first.code(0);
    let results = first.json_lines();
    assert_eq!(results[1]["outcome"], "done", "{}", first.stdout);
    assert_eq!(results[2]["outcome"], "already_so", "{}", first.stdout);
    let again = env.run(&["apply", "--from-file", &path]).await;
    again.code(0);
    let results = again.json_lines();
    assert_eq!(results[1]["outcome"], "done", "{}", again.stdout);
    assert_eq!(results[2]["outcome"], "already_so", "{}", again.stdout);
    assert_eq!(results[2]["earlier"], true, "{}", again.stdout);
    assert!(
        results[2]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        again.stdout
    );
}

//! What a new user meets first: JQL refusals, `--fields` checked against the site,
//! colours, widths, and messages that name the fix.

use crate::{Env, sim};

#[tokio::test]
async fn every_jql_the_server_refuses_exits_2_with_its_message_and_a_matching_hint() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    let cases = [
        ("project = = BEA", "Expecting", "syntax"),
        ("projekt = BEA", "does not exist", "field in JQL"),
        (
            "project = NOPE",
            "does not exist for the field",
            "check the value",
        ),
        ("order by created", "Unbounded", "bound it"),
    ];
    for (jql, message, hint) in cases {
        for format in ["csv", "jsonl", "json", "table"] {
            let run = env.run(&["search", jql, "--format", format]).await;
            run.code(2);
            let line = run.error_line();
            assert!(line.contains(jql), "{jql}: {line}");
            assert!(line.contains(message), "{jql}: {line}");
            assert!(line.contains(hint), "{jql}: {line}");
            assert_eq!(
                run.stdout, "",
                "{jql} --format {format}: nothing before the first result"
            );
        }
    }
    // The same refusal through sync: exit 2, nothing created.
    let dest = env.dir.path().join("out");
    let run = env
        .run(&[
            "sync",
            "--jql",
            "projekt = BEA",
            "--to",
            dest.to_str().unwrap(),
        ])
        .await;
    run.code(2);
    assert!(run.error_line().contains("field in JQL"), "{}", run.stderr);
}

#[tokio::test]
async fn fields_are_trimmed_checked_against_the_site_and_star_all_becomes_columns() {
    let sim = sim().await;
    let env = Env::for_sim(&sim);
    // A space after the comma is the same list.
    let run = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "csv",
            "--fields",
            "summary, status",
        ])
        .await;
    run.code(0);
    let header = run.stdout.lines().next().unwrap();
    assert_eq!(header, "key,summary,status");
    assert!(
        !run.stdout.lines().nth(1).unwrap().ends_with(','),
        "{}",
        run.stdout
    );

    // A typo: exit 2 naming it, with the close names; nothing written.
    let typo = env
        .run(&[
            "search",
            "project = APO",
            "--format",
            "csv",
            "--fields",
            "summary,stauts",
        ])
        .await;
    typo.code(2);
    let line = typo.error_line();
    assert!(
        line.contains("\"stauts\"") && line.contains("did you mean") && line.contains("status"),
        "{line}"
    );
    assert_eq!(typo.stdout, "");

    // A name is resolved to its id.
    let named = env
        .run(&[
            "fetch",
            "APO-1",
            "--format",
            "jsonl",
            "--fields",
            "Story Points",
        ])
        .await;
    named.code(0);
    let issue = &named.json_lines()[0];
    assert!(
        issue["fields"].get("customfield_10016").is_some(),
        "{issue}"
    );

    // *all: one column per field, none headed `*all`.
    let all = env
        .run(&["fetch", "APO-1", "--format", "csv", "--fields", "*all"])
        .await;
    all.code(0);
    let header: Vec<&str> = all.stdout.lines().next().unwrap().split(',').collect();
    assert!(!header.contains(&"*all"), "{header:?}");
    for column in ["key", "summary", "status", "priority", "created"] {
        assert!(header.contains(&column), "{column} in {header:?}");
    }
    let row = all.stdout.lines().nth(1).unwrap();
    assert!(row.starts_with("APO-1,"), "{row}");
}

#[tokio::test]
async fn logs_have_no_colours_when_piped_or_with_no_color() {
    let sim = sim().await;
    let mut env = Env::for_sim(&sim);
    let run = env.run(&["-vv", "fetch", "APO-1"]).await;
    run.code(0);
    assert!(run.stderr.contains("DEBUG"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
    env.set("NO_COLOR", "1");
    let run = env.run(&["-vv", "fetch", "APO-2"]).await;
    run.code(0);
    assert!(!run.stderr.contains('\u{1b}'));
}

//! `jira-ops config init | show | check`, profiles, precedence, config errors, completions,
//! and `sim serve`.

use crate::{EMAIL, Env, TOKEN, sim};

#[tokio::test]
async fn init_show_check_round_trip() {
    let sim = sim().await;
    let mut env = Env::new();
    let init = env
        .run(&["config", "init", "--site", sim.base_url(), "--email", EMAIL])
        .await;
    init.code(0);
    let path = env.config_path();
    assert!(
        init.stdout.contains(&path.display().to_string()),
        "{}",
        init.stdout
    );
    assert!(init.stdout.contains("JIRA_API_TOKEN_DEFAULT"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A site no request could reach is refused, and nothing is written for it.
    for site in ["ftp://acme.example", "http://acme.example", "acme"] {
        let refused = env
            .run(&["--profile", "bad", "config", "init", "--site", site])
            .await;
        refused.code(2);
        assert!(
            refused.error_line().contains(&format!("{site:?}"))
                && refused.error_line().contains("https://"),
            "{}",
            refused.stderr
        );
    }
    // Nor is a site with credentials in it, and they are not echoed back.
    let refused = env
        .run(&[
            "--profile",
            "bad",
            "config",
            "init",
            "--site",
            "https://me:s3cret@acme.example",
        ])
        .await;
    refused.code(2);
    assert!(
        refused.error_line().contains("holds credentials"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("s3cret"), "{}", refused.stderr);
    assert!(
        !std::fs::read_to_string(&path)
            .unwrap()
            .contains("[profiles.bad]")
    );
    // Never overwritten.
    let again = env.run(&["config", "init"]).await;
    again.code(2);
    assert!(again.error_line().contains("already"), "{}", again.stderr);
    // A second profile is appended.
    env.run(&[
        "--profile",
        "staging",
        "config",
        "init",
        "--site",
        "https://staging.example",
    ])
    .await
    .code(0);

    env.set("JIRA_API_TOKEN_DEFAULT", TOKEN);
    let show = env
        .run(&["config", "show", "--json", "--concurrency", "7"])
        .await;
    show.code(0);
    let shown = show.json();
    let s = &shown["settings"];
    assert_eq!(s["site_url"]["value"], sim.base_url());
    assert!(
        s["site_url"]["source"]
            .as_str()
            .unwrap()
            .contains("[profiles.default]")
    );
    assert_eq!(s["max_concurrent"]["value"], 7);
    assert_eq!(s["max_concurrent"]["source"], "flag --concurrency");
    assert_eq!(s["api_token"]["source"], "env JIRA_API_TOKEN_DEFAULT");
    assert!(!show.stdout.contains(TOKEN));
    assert_eq!(
        s["retries"]["source"],
        format!("{} [profiles.default]", path.display())
    );
    assert_eq!(s["retry_base_ms"]["source"], "default");

    // Environment beats the file.
    env.set("JIRA_EMAIL", "other@example.com");
    let shown = env.run(&["config", "show", "--json"]).await.json();
    assert_eq!(shown["settings"]["email"]["value"], "other@example.com");
    assert_eq!(shown["settings"]["email"]["source"], "env JIRA_EMAIL");
    env.unset("JIRA_EMAIL");

    let check = env.run(&["config", "check"]).await;
    check.code(0);
    assert!(check.stdout.contains("credentials OK"), "{}", check.stdout);

    // The staging profile, picked by JIRA_PROFILE, has no reachable site: offline check only.
    env.set("JIRA_PROFILE", "staging");
    let staging = env.run(&["config", "show", "--json"]).await.json();
    assert_eq!(staging["settings"]["profile"]["source"], "env JIRA_PROFILE");
    assert_eq!(
        staging["settings"]["site_url"]["value"],
        "https://staging.example"
    );
    // Its token is its own variable; the default profile's does not apply.
    let no_token = env.run(&["config", "check", "--offline"]).await;
    no_token.code(2);
    assert!(no_token.error_line().contains("JIRA_API_TOKEN_STAGING"));
    env.set("JIRA_API_TOKEN_STAGING", "staging-token");
    env.run(&["config", "check", "--offline"]).await.code(0);
    env.unset("JIRA_PROFILE");

    env.set("JIRA_API_TOKEN_DEFAULT", "wrong");
    let wrong = env.run(&["config", "check"]).await;
    wrong.code(3);
    assert!(wrong.error_line().contains("refused the credentials"));
}

#[tokio::test]
async fn config_errors_name_the_file_the_key_and_the_fix() {
    let env = Env::new();
    let path = env.config_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();

    std::fs::write(
        &path,
        "[profiles.default]\nsite_url = \"https://x.example\"\nconcurency = 4\n",
    )
    .unwrap();
    let typo = env.run(&["config", "show"]).await;
    typo.code(2);
    let line = typo.error_line();
    assert!(line.contains(&path.display().to_string()), "{line}");
    assert!(line.contains("line 3"), "{line}");
    assert!(line.contains("concurency"), "{line}");

    std::fs::write(&path, "[profiles.default\nsite_url = 1\n").unwrap();
    let malformed = env.run(&["health"]).await;
    malformed.code(2);
    assert!(
        malformed.error_line().contains("line 1"),
        "{}",
        malformed.stderr
    );

    std::fs::write(&path, "[profiles.default]\nbatch_size = 500\n").unwrap();
    let range = env.run(&["config", "check", "--offline"]).await;
    range.code(2);
    assert!(
        range.error_line().contains("batch_size = 500"),
        "{}",
        range.stderr
    );
    assert!(range.error_line().contains("1 to 100"));

    std::fs::write(&path, "[profiles.work]\nsite_url = \"https://x.example\"\n").unwrap();
    let unknown = env.run(&["--profile", "prod", "health"]).await;
    unknown.code(2);
    let line = unknown.error_line();
    assert!(
        line.contains("\"prod\"") && line.contains("profiles there: work"),
        "{line}"
    );

    let missing = env
        .run(&["--config", "/nonexistent/jira-ops.toml", "config", "show"])
        .await;
    missing.code(2);
    assert!(missing.error_line().contains("/nonexistent/jira-ops.toml"));

    let mut env2 = Env::new();
    env2.set("JIRA_SITE_URL", "your-domain.atlassian.net");
    let url = env2.run(&["config", "check", "--offline"]).await;
    url.code(2);
    assert!(
        url.error_line().contains("env JIRA_SITE_URL"),
        "{}",
        url.stderr
    );

    env2.set("JIRA_SITE_URL", "https://x.example")
        .set("MAX_CONCURRENT_JIRA_CALLS", "ten");
    let number = env2.run(&["config", "show"]).await;
    number.code(2);
    assert!(
        number
            .error_line()
            .contains("MAX_CONCURRENT_JIRA_CALLS=\"ten\"")
    );

    // clap's own usage errors exit 2 as well.
    env.run(&["no-such-command"]).await.code(2);
    env.run(&["fetch", "--format", "xml", "A-1"]).await.code(2);
}

#[tokio::test]
async fn completions_and_help() {
    let env = Env::new();
    let bash = env.run(&["completions", "bash"]).await;
    bash.code(0);
    assert!(bash.stdout.contains("jira-ops"));
    assert!(bash.stdout.contains("diagnose"));
    let help = env.run(&["cache", "clear", "--help"]).await;
    help.code(0);
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
    let top = env.run(&["--help"]).await;
    top.code(0);
    assert!(top.stdout.contains("Exit codes:"));
}

#[tokio::test]
async fn sim_serve_serves_a_tenant_the_client_can_use() {
    let env = Env::new();
    let (mut child, banner, url) = env
        .serve_sim(&[
            "--projects",
            "1",
            "--issues-per-project",
            "7",
            "--no-limits",
        ])
        .await;
    assert!(
        banner.starts_with("jira-sim serving 7 issues at http://127.0.0.1:"),
        "{banner}"
    );
    assert!(
        banner.contains("credentials: sim@example.com / sim-token;"),
        "the default token is printed: {banner}"
    );

    let mut client = Env::new();
    client
        .set("JIRA_SITE_URL", &url)
        .set("JIRA_EMAIL", "sim@example.com")
        .set("JIRA_API_TOKEN", "sim-token");
    let run = client.run(&["search", "project = APO"]).await;
    run.code(0);
    assert_eq!(run.json_lines().len(), 7);
    child.kill().await.unwrap();

    let bad = env.run(&["sim", "serve", "--fault", "explode@0.1"]).await;
    bad.code(2);
    assert!(bad.error_line().contains("explode@0.1"), "{}", bad.stderr);

    // A tenant past what memory holds is refused by its flags, not aborted on allocation.
    let huge = ["--issues-per-project", "99999999999999"];
    let bad = env
        .run(&[&["sim", "serve", "--port", "0"][..], &huge].concat())
        .await;
    bad.code(2);
    let said = bad.error_line();
    assert!(
        said.contains("--issues-per-project 99999999999999"),
        "{}",
        bad.stderr
    );
    assert!(said.contains("ask for fewer"), "{}", bad.stderr);
    let bad = env
        .run(&["sim", "serve", "--port", "0", "--users", "99999999999"])
        .await;
    bad.code(2);
    assert!(
        bad.error_line().contains("--users 99999999999"),
        "{}",
        bad.stderr
    );
}

/// `config init` writes what the environment already says; `config check` refuses the
/// placeholder site, says when there is no config file, and does not call a 200 that is
/// not Jira's user "credentials OK".
#[tokio::test]
async fn init_takes_the_environment_and_check_believes_only_jira() {
    let sim = sim().await;
    let mut env = Env::new();
    env.set("JIRA_SITE_URL", sim.base_url());
    env.set("JIRA_EMAIL", EMAIL);
    env.run(&["config", "init"]).await.code(0);
    let written = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(written.contains(sim.base_url()), "{written}");
    assert!(written.contains(EMAIL), "{written}");

    // The placeholder a bare `config init` writes is not a site.
    let mut bare = Env::new();
    bare.run(&["config", "init"]).await.code(0);
    bare.set("JIRA_API_TOKEN", TOKEN);
    let placeholder = bare.run(&["config", "check", "--offline"]).await;
    placeholder.code(2);
    assert!(
        placeholder.stderr.contains("placeholder"),
        "{}",
        placeholder.stderr
    );

    // No config file at all: settings from the environment, and said so.
    let no_file = Env::for_sim(&sim);
    let checked = no_file.run(&["config", "check", "--offline"]).await;
    checked.code(0);
    assert!(
        checked.stdout.contains("no config file"),
        "{}",
        checked.stdout
    );

    // A site answering 200 with something else than Jira's user.
    sim.set_faults(jira_sim::FaultConfig {
        rules: vec![
            jira_sim::FaultRule::new(jira_sim::Fault::Malformed, 1.0).on("/rest/api/3/myself"),
        ],
    });
    let fooled = no_file.run(&["config", "check"]).await;
    fooled.code(1);
    assert!(
        !fooled.stdout.contains("credentials OK"),
        "{}",
        fooled.stdout
    );
    assert!(
        fooled.stderr.contains("not with a Jira user"),
        "{}",
        fooled.stderr
    );
}

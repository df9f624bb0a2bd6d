//! The client built from the facade alone, against jira-sim over HTTP: the jobs, the
//! warmers filling what a fetch reads, refusals reported as "not sent", one request for many
//! callers of a cold issue, and settings turned into a client.

use std::sync::Arc;
use std::time::Duration;

use jira_batch::CreateError;
use jira_client::{CacheChoice, JiraClient, Settings, warm::WarmPlan};
use jira_model::{ApiRequest, IssueUpdate};
use jira_sim::{Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use jira_transport::{RetryPolicy, Transport};
use serde_json::json;

async fn sim(projects: usize, issues_per_project: usize) -> SimHandle {
    SimHandle::start(SimConfig {
        projects,
        issues_per_project,
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn client(sim: &SimHandle, dir: &tempfile::TempDir) -> JiraClient {
    let (email, token) = sim.basic_auth();
    JiraClient::builder(sim.base_url())
        .basic_auth(email, token)
        .retry(RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        })
        .cache(CacheChoice::Sled {
            dir: dir.path().join("cache"),
            lock_wait: Duration::from_secs(2),
        })
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn warming_fills_metadata_first_then_recent_issues() {
    let sim = sim(3, 40).await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim, &dir).await;
    let plan = WarmPlan {
        jitter: Duration::from_millis(20),
        ..WarmPlan::default()
    };
    let report = client.warm(&plan).await.unwrap();
    let stages: Vec<&str> = report.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(
        stages,
        [
            "fields",
            "projects",
            "users",
            "issues APO",
            "issues BEA",
            "issues COM"
        ]
    );
    assert_eq!(report.stages[1].items, 3);
    let mut recent = 0;
    for project in ["APO", "BEA", "COM"] {
        let request =
            ApiRequest::approximate_count(&format!("project = {project} AND updated >= -30d"))
                .unwrap();
        let response = client.uncached().send(request).await.unwrap();
        recent += response.json::<jira_model::CountResult>().unwrap().count;
    }
    let issues: usize = report.stages[3..].iter().map(|s| s.items).sum();
    assert_eq!(issues as u64, recent);
    let stats = client.cache().unwrap().stats().await.unwrap();
    assert_eq!(stats.entries["issue"], recent);
    assert_eq!(stats.entries["project"], 3);
    assert_eq!(stats.entries["field"], 1);
    assert_eq!(report.requests(), sim.stats().requests as usize - 3);
    assert!(report.points() > 0 && report.bytes() > 0);
}

#[tokio::test]
async fn a_warmed_cache_serves_the_next_fetch_with_default_fields() {
    let sim = sim(2, 60).await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim, &dir).await;
    let plan = WarmPlan {
        fields: false,
        projects: false,
        users: false,
        issue_projects: vec!["APO".into()],
        jitter: Duration::ZERO,
        ..WarmPlan::default()
    };
    let report = client.warm(&plan).await.unwrap();
    let warmed = report.items();
    assert!(warmed > 0);
    let keys: Vec<String> = (1..=60).map(|n| format!("APO-{n}")).collect();
    let before = sim.stats().requests;
    let default_fields = jira_client::default_issue_fields();
    let fields: Vec<&str> = default_fields.iter().map(String::as_str).collect();
    let (results, fetched) = client.fetch_issues(&keys, &fields, &[]).await.unwrap();
    assert_eq!(fetched.cache_hits, warmed);
    assert_eq!(
        sim.stats().requests - before,
        u64::from(warmed < keys.len()),
        "only the keys the warm did not see are fetched"
    );
    assert!(results.iter().all(|(_, r)| r.is_ok()));
}

#[tokio::test]
async fn a_hundred_cold_reads_of_one_issue_through_the_client_send_one_request() {
    let sim = sim(1, 10).await;
    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(
            Fault::Latency {
                fixed_ms: 100,
                jitter_ms: 0,
            },
            1.0,
        )],
    });
    let dir = tempfile::tempdir().unwrap();
    let client = Arc::new(client(&sim, &dir).await);
    let readers: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .transport()
                    .send(ApiRequest::get_issue("APO-3", &["summary"], &[]))
                    .await
                    .unwrap()
                    .status
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), 200);
    }
    assert_eq!(
        sim.stats()
            .requests_to("GET", "/rest/api/3/issue/{issueIdOrKey}"),
        1
    );
}

#[tokio::test]
async fn a_bulk_create_refused_with_retry_after_until_retries_run_out_is_not_sent() {
    let sim = sim(1, 5).await;
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::new(
                Fault::Unavailable {
                    retry_after_secs: 1,
                },
                1.0,
            )
            .on("/rest/api/3/issue/bulk"),
        ],
    });
    let (email, token) = sim.basic_auth();
    let client = JiraClient::builder(sim.base_url())
        .basic_auth(email, token)
        .retry(RetryPolicy {
            max_retries: 1,
            ..RetryPolicy::default()
        })
        .build()
        .await
        .unwrap();
    let inputs = (0..3)
        .map(|n| {
            let mut issue = IssueUpdate::default();
            issue
                .fields
                .insert("summary".into(), json!(format!("refused {n}")));
            issue
        })
        .collect();
    let results = client.create_issues(inputs).await;
    assert_eq!(results.len(), 3);
    for (n, result) in results.iter().enumerate() {
        assert!(
            matches!(result, Err(CreateError::NotSent { index, .. }) if *index == n),
            "{result:?}"
        );
    }
    assert_eq!(sim.stats().issues_created, 0);
    assert_eq!(sim.stats().requests_to("POST", "/rest/api/3/issue/bulk"), 2);
}

#[tokio::test]
async fn settings_become_a_client_and_bad_ones_are_refused() {
    let sim = sim(1, 5).await;
    let (email, token) = sim.basic_auth();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.set("site_url", sim.base_url()).unwrap();
    settings.set("email", &email).unwrap();
    settings.set("api_token", &token).unwrap();
    settings
        .set("cache_dir", dir.path().join("c").to_str().unwrap())
        .unwrap();
    let client = JiraClient::from_settings(&settings, "default")
        .unwrap()
        .build()
        .await
        .unwrap();
    let report = client.health(&Default::default()).await;
    assert_eq!(report.failure, None, "{report:#?}");
    assert_eq!(
        client.site_key().as_str(),
        sim.base_url().trim_start_matches("http://")
    );
    assert!(client.cache().is_some());

    let mut no_site = settings.clone();
    no_site.site_url = None;
    let error = JiraClient::from_settings(&no_site, "default")
        .err()
        .unwrap();
    assert!(error.to_string().contains("no Jira site"), "{error}");
}

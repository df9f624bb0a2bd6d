//! jira-model meets jira-sim: every body the simulator sends decodes into the model's types,
//! the model reads the simulator's rate-limit headers and classifies its errors, and the
//! model's point estimates match what the simulator charges. The two share no code, so
//! agreement here is evidence, not tautology.

use std::time::{Duration, Instant, SystemTime};

use jira_model::{
    ApiRequest, ApiResponse, BulkCreateRequest, BulkCreateResponse, BulkFetchRequest,
    BulkFetchResponse, CommentPage, CountResult, CreatedIssue, ErrorClass, Field, Issue,
    IssueUpdate, Project, ProjectPage, RateLimitReason, RateLimitScope, SearchPage, SearchRequest,
    ServerInfo, User,
};
use jira_sim::{BurstConfig, Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
use serde_json::json;

/// Sends an `ApiRequest` with a plain reqwest client (the real transport is jira-transport's
/// job; this is the least that turns a request into a response).
async fn send(sim: &SimHandle, request: &ApiRequest) -> ApiResponse {
    let credential = sim.credential();
    let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes()).unwrap();
    let mut builder = reqwest::Client::new()
        .request(method, format!("{}{}", sim.base_url(), request.path))
        .basic_auth(&credential.email, Some(&credential.api_token.expose()))
        .query(&request.query);
    if let Some(body) = &request.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.clone());
    }
    let started = Instant::now();
    let response = builder.send().await.expect("jira-sim answers");
    let status = http::StatusCode::from_u16(response.status().as_u16()).unwrap();
    let mut headers = http::HeaderMap::new();
    for (name, value) in response.headers() {
        headers.append(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let body = response.bytes().await.expect("body arrives");
    ApiResponse::from_wire(request, status, headers, body, started.elapsed())
}

async fn sim(limits: LimitConfig) -> SimHandle {
    SimHandle::start(SimConfig {
        projects: 3,
        issues_per_project: 150,
        limits,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn every_body_decodes_into_the_model() {
    let sim = sim(LimitConfig::off()).await;

    let me: User = send(&sim, &ApiRequest::myself()).await.json().unwrap();
    assert_eq!(me.email_address.as_deref(), Some("sim@example.com"));

    let info: ServerInfo = send(&sim, &ApiRequest::server_info()).await.json().unwrap();
    assert_eq!(info.deployment_type.as_deref(), Some("Cloud"));
    let skew = SystemTime::now()
        .duration_since(SystemTime::from(
            info.server_time.unwrap().as_offset_date_time(),
        ))
        .unwrap_or_default();
    assert!(skew < Duration::from_secs(5));

    let page: ProjectPage = send(&sim, &ApiRequest::project_search(0, 2))
        .await
        .json()
        .unwrap();
    assert_eq!((page.total, page.values.len(), page.is_last), (3, 2, false));
    assert!(page.next_page.is_some());

    let project: Project = send(&sim, &ApiRequest::get_project("APO"))
        .await
        .json()
        .unwrap();
    assert!(project.lead.is_some());

    let fields: Vec<Field> = send(&sim, &ApiRequest::fields()).await.json().unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f.id == "customfield_10016" && f.custom)
    );

    let users: Vec<User> = send(&sim, &ApiRequest::users_search(0, 8))
        .await
        .json()
        .unwrap();
    assert_eq!(users.len(), 8);

    let issue: Issue = send(&sim, &ApiRequest::get_issue("APO-1", &[], &[]))
        .await
        .json()
        .unwrap();
    assert_eq!(issue.key, "APO-1");
    assert!(issue.summary().is_some());
    assert!(issue.status_name().is_some());
    assert!(issue.created().unwrap() <= issue.updated().unwrap());
    assert!(issue.reporter().is_some());

    let comments: CommentPage = send(&sim, &ApiRequest::comments("APO-1", 0, 50))
        .await
        .json()
        .unwrap();
    assert_eq!(comments.total as usize, comments.comments.len());

    let search = SearchRequest {
        jql: "project = APO ORDER BY key".into(),
        max_results: Some(20),
        fields: vec!["summary".into(), "updated".into()],
        ..SearchRequest::default()
    };
    let page: SearchPage = send(&sim, &ApiRequest::search(&search).unwrap())
        .await
        .json()
        .unwrap();
    assert_eq!(page.issues.len(), 20);
    assert!(page.next_page_token.is_some() && !page.is_last);
    assert!(page.issues.iter().all(|i| i.updated().is_some()));

    let count: CountResult = send(
        &sim,
        &ApiRequest::approximate_count("project = APO").unwrap(),
    )
    .await
    .json()
    .unwrap();
    assert_eq!(count.count, 150);

    let fetch = BulkFetchRequest {
        issue_ids_or_keys: vec!["APO-3".into(), "APO-2".into(), "NOPE-1".into()],
        fields: vec!["summary".into()],
        ..BulkFetchRequest::default()
    };
    let fetched: BulkFetchResponse = send(&sim, &ApiRequest::bulk_fetch(&fetch).unwrap())
        .await
        .json()
        .unwrap();
    let keys: Vec<&str> = fetched.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["APO-2", "APO-3"]);
    assert_eq!(fetched.issue_errors[0].id, "NOPE-1");

    let mut valid = IssueUpdate::default();
    valid.fields.insert("project".into(), json!({"key": "APO"}));
    valid
        .fields
        .insert("issuetype".into(), json!({"name": "Task"}));
    valid
        .fields
        .insert("summary".into(), json!("From the model"));
    let created: CreatedIssue = send(&sim, &ApiRequest::create_issue(&valid).unwrap())
        .await
        .json()
        .unwrap();
    assert_eq!(created.key, "APO-151");

    let bulk = BulkCreateRequest {
        issue_updates: vec![valid.clone(), IssueUpdate::default()],
    };
    let response = send(&sim, &ApiRequest::bulk_create(&bulk).unwrap()).await;
    assert_eq!(response.status, 201);
    let result: BulkCreateResponse = response.json().unwrap();
    assert_eq!(result.issues.len(), 1);
    assert_eq!(result.errors[0].failed_element_number, 1);
    assert!(!result.errors[0].element_errors.is_empty());
}

#[tokio::test]
async fn the_model_classifies_the_sims_errors() {
    let sim = sim(LimitConfig::off()).await;
    let check = |response: ApiResponse, expected: ErrorClass| {
        assert_eq!(response.classify(), expected, "status {}", response.status);
        if expected != ErrorClass::Success {
            assert!(!response.error_collection().unwrap().is_empty());
        }
    };
    check(
        send(&sim, &ApiRequest::get_issue("NOPE-1", &[], &[])).await,
        ErrorClass::NotFound,
    );
    let unbounded = SearchRequest {
        jql: "ORDER BY key".into(),
        ..SearchRequest::default()
    };
    check(
        send(&sim, &ApiRequest::search(&unbounded).unwrap()).await,
        ErrorClass::InvalidJql,
    );
    let removed = ApiRequest::new(
        http::Method::GET,
        "/rest/api/3/search",
        "/rest/api/3/search",
    );
    check(send(&sim, &removed).await, ErrorClass::Removed);
    check(
        send(
            &sim,
            &ApiRequest::create_issue(&IssueUpdate::default()).unwrap(),
        )
        .await,
        ErrorClass::Client,
    );

    sim.set_faults(FaultConfig {
        rules: vec![FaultRule::new(
            Fault::Unavailable {
                retry_after_secs: 4,
            },
            1.0,
        )],
    });
    let response = send(&sim, &ApiRequest::myself()).await;
    check(response.clone(), ErrorClass::Transient);
    assert_eq!(
        response.rate_limit_info().requested_wait(SystemTime::now()),
        Some(Duration::from_secs(4))
    );
}

#[tokio::test]
async fn the_model_reads_the_sims_rate_limit_headers() {
    // A bucket of 3 refilled at one a second: the four requests below meet an empty
    // bucket even on a loaded machine (a refill of 3 a second let a busy CI machine
    // refill it between them).
    let sim = sim(LimitConfig {
        burst: Some(BurstConfig::uniform(1.0).with_capacity(3.0)),
        ..LimitConfig::atlassian()
    })
    .await;
    let request = ApiRequest::get_issue("APO-1", &["summary"], &[]);
    let first = send(&sim, &request).await;
    let info = first.rate_limit_info();
    // The limit is the refill rate; what is left is counted in the bucket's tokens.
    assert_eq!(info.window.limit, Some(1));
    assert_eq!(info.window.remaining, Some(2));
    assert_eq!(info.window.near_limit, Some(false));
    assert_eq!(info.policies[0].quota, Some(65_000));
    assert_eq!(info.policies[0].window, Some(Duration::from_secs(3600)));
    for _ in 0..2 {
        send(&sim, &request).await;
    }
    let limited = send(&sim, &request).await;
    assert_eq!(limited.classify(), ErrorClass::RateLimited);
    let info = limited.rate_limit_info();
    assert_eq!(info.reason, Some(RateLimitReason::Burst));
    assert_eq!(
        info.reason.as_ref().unwrap().scope(),
        RateLimitScope::Endpoint
    );
    let wait = info.requested_wait(SystemTime::now()).unwrap();
    assert!(
        wait >= Duration::from_millis(500) && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
    assert!(info.window.reset.is_some());
    assert!(info.is_near_limit());
}

#[tokio::test]
async fn point_estimates_match_what_the_sim_charges() {
    let sim = sim(LimitConfig::off()).await;
    let keys: Vec<String> = (1..=100).map(|n| format!("APO-{n}")).collect();
    let requests = [
        ApiRequest::get_issue("APO-1", &[], &[]),
        ApiRequest::myself(),
        ApiRequest::users_search(0, 8),
        ApiRequest::project_search(0, 3),
        ApiRequest::bulk_fetch(&BulkFetchRequest {
            issue_ids_or_keys: keys,
            ..BulkFetchRequest::default()
        })
        .unwrap(),
    ];
    for request in requests {
        let before = sim.stats().points_spent;
        let response = send(&sim, &request).await;
        assert!(response.is_success());
        let charged = sim.stats().points_spent - before;
        assert_eq!(
            u64::from(request.estimated_points),
            charged,
            "{} {}",
            request.method,
            request.path_template
        );
    }
}

//! Writes change the data: creates, edits, deletes, comments, bulk create, and auth.

use jira_sim::{Credential, LimitConfig, Secret, SimConfig};
use serde_json::{Value, json};

use crate::{Sim, send};

fn new_issue(summary: &str) -> Value {
    json!({"fields": {"project": {"key": "BEA"}, "issuetype": {"name": "Bug"}, "summary": summary, "labels": ["new"]}})
}

#[tokio::test]
async fn create_then_read_and_search() {
    let sim = Sim::small().await;
    let (status, created) = sim
        .post("/rest/api/3/issue", &new_issue("Created by a test"))
        .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(key, "BEA-61");
    let (status, issue) = sim.get(&format!("/rest/api/3/issue/{key}")).await;
    assert_eq!(status, 200);
    assert_eq!(issue["fields"]["summary"], "Created by a test");
    assert_eq!(issue["fields"]["issuetype"]["name"], "Bug");
    assert_eq!(issue["fields"]["labels"], json!(["new"]));
    let (_, found) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = BEA AND created >= -5m", "fields": ["summary"]}),
        )
        .await;
    assert_eq!(found["issues"][0]["key"], key.as_str());
    let stats = sim.handle.stats();
    assert_eq!(stats.issues_created, 1);
    assert_eq!(stats.duplicate_creates, 0);
    // A second create with the same summary is counted as a duplicate.
    sim.post("/rest/api/3/issue", &new_issue("Created by a test"))
        .await;
    assert_eq!(sim.handle.stats().duplicate_creates, 1);
}

#[tokio::test]
async fn edits_and_deletes_are_seen_by_later_reads() {
    let sim = Sim::small().await;
    let (_, before) = sim.get("/rest/api/3/issue/APO-9?fields=updated").await;
    let edit = json!({"fields": {"summary": "Renamed", "priority": {"name": "Highest"}}, "update": {"labels": [{"add": "edited"}]}});
    assert_eq!(sim.put("/rest/api/3/issue/APO-9", &edit).await.0, 204);
    let (_, after) = sim.get("/rest/api/3/issue/APO-9").await;
    assert_eq!(after["fields"]["summary"], "Renamed");
    assert_eq!(after["fields"]["priority"]["name"], "Highest");
    assert!(
        after["fields"]["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("edited"))
    );
    assert!(after["fields"]["updated"].as_str() > before["fields"]["updated"].as_str());
    let (_, recent) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = APO AND updated >= -1m", "fields": ["key"]}),
        )
        .await;
    assert!(
        recent["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == "APO-9")
    );

    let (status, errors) = sim
        .put(
            "/rest/api/3/issue/APO-9",
            &json!({"fields": {"nonsense": 1}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        errors["errors"]["nonsense"]
            .as_str()
            .unwrap()
            .contains("cannot be set")
    );

    let delete = sim.request(reqwest::Method::DELETE, "/rest/api/3/issue/APO-9");
    assert_eq!(send(delete).await.0, 204);
    assert_eq!(sim.get("/rest/api/3/issue/APO-9").await.0, 404);
    let (_, count) = sim
        .post(
            "/rest/api/3/search/approximate-count",
            &json!({"jql": "project = APO"}),
        )
        .await;
    assert_eq!(count["count"], 59);
}

#[tokio::test]
async fn bulk_create_reports_each_failed_element() {
    let sim = Sim::small().await;
    let mut updates: Vec<Value> = (0..5).map(|n| new_issue(&format!("Bulk {n}"))).collect();
    updates.insert(
        1,
        json!({"fields": {"project": {"key": "BEA"}, "issuetype": {"name": "Bug"}}}),
    );
    updates.insert(4, json!({"fields": {"project": {"key": "NOPE"}, "issuetype": {"name": "Bug"}, "summary": "x"}}));
    let (status, body) = sim
        .post("/rest/api/3/issue/bulk", &json!({"issueUpdates": updates}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["issues"].as_array().unwrap().len(), 5);
    let failed: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["failedElementNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, [1, 4]);
    assert!(body["errors"][0]["elementErrors"]["errors"]["summary"].is_string());
    assert!(body["errors"][1]["elementErrors"]["errors"]["project"].is_string());
    assert_eq!(sim.handle.stats().issues_created, 5);

    let too_many: Vec<Value> = (0..51).map(|n| new_issue(&format!("Many {n}"))).collect();
    let (status, body) = sim
        .post("/rest/api/3/issue/bulk", &json!({"issueUpdates": too_many}))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["elementErrors"]["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("At most 50")
    );
    assert_eq!(
        sim.handle.stats().issues_created,
        5,
        "nothing of a refused batch is created"
    );
}

#[tokio::test]
async fn bulkfetch_orders_by_id_and_reports_unknown_keys() {
    let sim = Sim::small().await;
    let (status, body) = sim
        .post(
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": ["BEA-2", "APO-7", "10001", "APO-7", "GONE-1"], "fields": ["summary"]}),
        )
        .await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, [10_001, 10_006, 10_061]);
    assert_eq!(
        body["issueErrors"],
        json!([{"id": "GONE-1", "errorMessage": "Issue does not exist or you do not have permission to see it."}])
    );
    let keys: Vec<String> = (1..=101).map(|n| format!("APO-{n}")).collect();
    assert_eq!(
        sim.post(
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": keys})
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn comments_are_added_and_listed() {
    let sim = Sim::small().await;
    let (_, before) = sim.get("/rest/api/3/issue/APO-4/comment").await;
    let total = before["total"].as_u64().unwrap();
    let (status, comment) = sim
        .post(
            "/rest/api/3/issue/APO-4/comment",
            &json!({"body": crate::doc("Looked into it.")}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, after) = sim.get("/rest/api/3/issue/APO-4/comment").await;
    assert_eq!(after["total"].as_u64().unwrap(), total + 1);
    assert_eq!(
        after["comments"].as_array().unwrap().last().unwrap()["id"],
        comment["id"]
    );
}

#[tokio::test]
async fn auth_accepts_configured_credentials_only() {
    let sim = Sim::start(SimConfig {
        projects: 1,
        issues_per_project: 2,
        credentials: vec![Credential {
            email: "ann@example.com".into(),
            api_token: Secret::new("right"),
        }],
        bearer_tokens: vec![Secret::new("pat-123")],
        limits: LimitConfig::off(),
        ..SimConfig::default()
    })
    .await;
    let url = sim.url("/rest/api/3/myself");
    let (status, me) = send(
        sim.client
            .get(&url)
            .basic_auth("ann@example.com", Some("right")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["emailAddress"], "ann@example.com");
    assert_eq!(
        send(sim.client.get(&url).bearer_auth("pat-123")).await.0,
        200
    );
    assert_eq!(
        send(
            sim.client
                .get(&url)
                .basic_auth("ann@example.com", Some("wrong"))
        )
        .await
        .0,
        401
    );
    assert_eq!(send(sim.client.get(&url).bearer_auth("nope")).await.0, 401);
    assert_eq!(
        send(sim.client.get(&url).header("authorization", "Basic !!!"))
            .await
            .0,
        401
    );
    assert_eq!(send(sim.client.get(&url)).await.0, 401);
    assert_eq!(sim.handle.stats().unauthorized, 4);
}

/// A permission the caller lacks: its writes answered 403 with Jira's words, nothing
/// changed, and `/mypermissions` says so; the others still work.
#[tokio::test]
async fn a_permission_the_caller_lacks_refuses_its_writes_and_says_so() {
    let sim = Sim::small().await;
    sim.handle.set_realism(jira_sim::Realism {
        denied_permissions: vec!["ADD_COMMENTS".into()],
        ..sim.handle.realism()
    });
    let (status, refused) = sim
        .post(
            "/rest/api/3/issue/APO-3/comment",
            &json!({"body": {"type": "doc", "version": 1, "content": []}}),
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        refused["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("permission to comment"),
        "{refused}"
    );
    let (_, comments) = sim.get("/rest/api/3/issue/APO-3/comment").await;
    let (status, _) = sim
        .put(
            "/rest/api/3/issue/APO-3",
            &json!({"fields": {"summary": "Allowed"}}),
        )
        .await;
    assert_eq!(status, 204, "an edit needs another permission");
    let (status, mine) = sim
        .get("/rest/api/3/mypermissions?issueKey=APO-3&permissions=ADD_COMMENTS,EDIT_ISSUES")
        .await;
    assert_eq!(status, 200);
    assert_eq!(mine["permissions"]["ADD_COMMENTS"]["havePermission"], false);
    assert_eq!(mine["permissions"]["EDIT_ISSUES"]["havePermission"], true);
    let (status, _) = sim.get("/rest/api/3/mypermissions").await;
    assert_eq!(status, 400, "Jira requires the permissions asked about");
    // The permissions no write here needs are held, and said so; an unknown key is not.
    let (status, held) = sim
        .get("/rest/api/3/mypermissions?projectKey=APO&permissions=BROWSE_PROJECTS,WORK_ON_ISSUES")
        .await;
    assert_eq!(status, 200);
    assert_eq!(held["permissions"]["BROWSE_PROJECTS"]["id"], "10");
    assert_eq!(
        held["permissions"]["BROWSE_PROJECTS"]["havePermission"],
        true
    );
    assert_eq!(
        held["permissions"]["WORK_ON_ISSUES"]["havePermission"],
        true
    );
    let (status, _) = sim
        .get("/rest/api/3/mypermissions?permissions=BROWSE_EVERYTHING")
        .await;
    assert_eq!(status, 400);
    let (_, after) = sim.get("/rest/api/3/issue/APO-3/comment").await;
    assert_eq!(
        after["total"], comments["total"],
        "the refused comment was not made"
    );
}

//! The enhanced search over HTTP: pagination, fields, JQL, errors.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::Sim;

/// Follows `nextPageToken` to the end; returns the issues in order and the page count.
async fn all_pages(sim: &Sim, mut body: Value) -> (Vec<Value>, usize) {
    let mut issues = Vec::new();
    let mut pages = 0;
    loop {
        let (status, page) = sim.post("/rest/api/3/search/jql", &body).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        issues.extend(page["issues"].as_array().unwrap().iter().cloned());
        match page["nextPageToken"].as_str() {
            Some(token) => {
                assert_eq!(page["isLast"], false);
                body["nextPageToken"] = token.into();
            }
            None => {
                assert_eq!(page["isLast"], true);
                return (issues, pages);
            }
        }
    }
}

#[tokio::test]
async fn pages_have_no_duplicates_or_gaps() {
    let sim = Sim::small().await;
    let (issues, pages) = all_pages(
        &sim,
        json!({"jql": "project = APO ORDER BY key ASC", "maxResults": 7, "fields": ["summary"]}),
    )
    .await;
    assert_eq!(pages, 9);
    let keys: Vec<&str> = issues.iter().map(|i| i["key"].as_str().unwrap()).collect();
    let expected: Vec<String> = (1..=60).map(|n| format!("APO-{n}")).collect();
    assert_eq!(keys, expected);
    assert!(issues.iter().all(|i| i["fields"]["summary"].is_string()));
}

#[tokio::test]
async fn default_fields_are_only_the_id() {
    let sim = Sim::small().await;
    let (status, page) = sim
        .get("/rest/api/3/search/jql?jql=project%20in%20(APO,%20BEA)")
        .await;
    assert_eq!(status, 200);
    let issues = page["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 50, "maxResults defaults to 50");
    assert!(
        issues
            .iter()
            .all(|i| i.as_object().unwrap().keys().eq(["id"]))
    );
}

#[tokio::test]
async fn ordering_and_counts_agree() {
    let sim = Sim::small().await;
    let (issues, _) = all_pages(
        &sim,
        json!({"jql": "project in (APO, BEA) AND updated >= -180d ORDER BY updated DESC", "maxResults": 25, "fields": ["updated"]}),
    )
    .await;
    let updated: Vec<&str> = issues
        .iter()
        .map(|i| i["fields"]["updated"].as_str().unwrap())
        .collect();
    assert!(updated.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    let (_, count) = sim
        .post(
            "/rest/api/3/search/approximate-count",
            &json!({"jql": "project in (APO, BEA) AND updated >= -180d"}),
        )
        .await;
    assert_eq!(count["count"].as_u64().unwrap() as usize, issues.len());
    let (older, _) = all_pages(
        &sim,
        json!({"jql": "project in (APO, BEA) AND updated < -180d", "maxResults": 100}),
    )
    .await;
    assert_eq!(issues.len() + older.len(), 120);
    let ids: HashSet<&str> = issues
        .iter()
        .chain(&older)
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 120);
}

#[tokio::test]
async fn key_lists_and_v2() {
    let sim = Sim::small().await;
    let (status, page) = sim
        .get("/rest/api/2/search/jql?jql=key%20in%20(APO-3,BEA-4,NOPE-1)%20ORDER%20BY%20key&fields=key")
        .await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = page["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["APO-3", "BEA-4"]);
    // v2 renders descriptions as text, v3 as ADF.
    let (_, v2) = sim.get("/rest/api/2/issue/APO-3?fields=description").await;
    assert!(v2["fields"]["description"].is_string());
    let (_, v3) = sim.get("/rest/api/3/issue/APO-3?fields=description").await;
    assert_eq!(v3["fields"]["description"]["type"], "doc");
}

#[tokio::test]
async fn bad_queries_and_tokens_get_jiras_400s() {
    let sim = Sim::small().await;
    let check = |body: Value, fragment: &'static str| {
        let sim = &sim;
        async move {
            let (status, answer) = sim.post("/rest/api/3/search/jql", &body).await;
            assert_eq!(status, 400, "{body}");
            let message = answer["errorMessages"][0]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(message.contains(fragment), "{body}: {message}");
        }
    };
    check(json!({"jql": ""}), "Unbounded JQL").await;
    check(json!({"jql": "order by created"}), "Unbounded JQL").await;
    check(
        json!({"jql": "project = APO AND"}),
        "Error in the JQL Query",
    )
    .await;
    check(
        json!({"jql": "nosuchfield = 1"}),
        "Field 'nosuchfield' does not exist",
    )
    .await;
    check(
        json!({"jql": "project = APO", "nextPageToken": "garbage"}),
        "invalid",
    )
    .await;
    // A token belongs to its query.
    let (_, first) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = APO", "maxResults": 5}),
        )
        .await;
    let token = first["nextPageToken"].as_str().unwrap().to_owned();
    check(
        json!({"jql": "project = BEA", "nextPageToken": token}),
        "another query",
    )
    .await;
    check(
        json!({"jql": "project = APO", "unknownField": 1}),
        "Invalid request body",
    )
    .await;
    // The removed search answers 410.
    let (status, body) = sim.get("/rest/api/3/search?jql=project%3DAPO").await;
    assert_eq!(status, 410);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("/rest/api/3/search/jql")
    );
}

#[tokio::test]
async fn id_only_pages_can_be_large() {
    let sim = Sim::small().await;
    let (_, page) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project in (APO, BEA, COM)", "maxResults": 5000}),
        )
        .await;
    assert_eq!(page["issues"].as_array().unwrap().len(), 180);
    let (_, page) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project in (APO, BEA, COM)", "maxResults": 5000, "fields": ["summary"]}),
        )
        .await;
    assert_eq!(
        page["issues"].as_array().unwrap().len(),
        100,
        "pages with fields are capped at 100"
    );
}

/// Entity properties are stored and readable, but searchable only when an app declared
/// them for the index: on Jira Cloud an API-token client's property is not in JQL.
#[tokio::test]
async fn entity_properties_are_searchable_only_when_declared() {
    let sim = Sim::small().await;
    let (status, _) = sim
        .put(
            "/rest/api/3/issue/APO-3/properties/jira-ops.idempotency",
            &json!({"key": "k-1"}),
        )
        .await;
    assert!(status == 200 || status == 201, "{status}");
    let (status, property) = sim
        .get("/rest/api/3/issue/APO-3/properties/jira-ops.idempotency")
        .await;
    assert_eq!(status, 200);
    assert_eq!(property["value"]["key"], "k-1");
    // A bulk fetch returns the properties it names.
    let (status, fetched) = sim
        .post(
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": ["APO-3", "APO-4"], "fields": ["summary"], "properties": ["jira-ops.idempotency"]}),
        )
        .await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(
        fetched["issues"][0]["properties"]["jira-ops.idempotency"]["key"],
        "k-1"
    );
    assert_eq!(fetched["issues"][1]["properties"], json!({}));
    let query =
        json!({"jql": "issue.property[jira-ops.idempotency].key = \"k-1\"", "fields": ["summary"]});
    let (status, refused) = sim.post("/rest/api/3/search/jql", &query).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("does not exist or you do not have permission"),
        "{refused}"
    );
    // An app declared it: now the index has it.
    sim.handle.set_realism(jira_sim::Realism {
        indexed_properties: vec!["jira-ops.idempotency".into()],
        ..jira_sim::Realism::default()
    });
    let (status, found) = sim.post("/rest/api/3/search/jql", &query).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["issues"][0]["key"], "APO-3");
}

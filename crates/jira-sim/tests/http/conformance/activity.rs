//! The metadata endpoints (projects, components, versions, statuses, priorities, issue
//! types, fields, users, create and edit metadata), the history and activity endpoints
//! (comments and their properties, worklogs, changelogs, links, watchers) and the bulk
//! operations validated against the contract, after the writes that give them something
//! to answer.

use reqwest::Method;
use serde_json::{Value, json};

use super::{case, check_all};
use crate::{Sim, send};

/// POSTs `body` to `path` and returns the answer's `id`.
async fn created_id(sim: &Sim, path: &str, body: Value) -> String {
    let (status, answer) = send(sim.request(Method::POST, path).json(&body)).await;
    assert!(status == 201 || status == 200, "{path}: {status} {answer}");
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| answer["id"].to_string())
}

#[tokio::test]
async fn metadata_history_and_activity_endpoints_validate_against_the_contract() {
    let sim = Sim::small().await;
    use Method as M;
    let doc = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]}]});
    let comment_id = created_id(
        &sim,
        "/rest/api/3/issue/APO-7/comment",
        json!({ "body": doc }),
    )
    .await;
    let marked_id = created_id(
        &sim,
        "/rest/api/3/issue/APO-8/comment",
        json!({"body": doc, "properties": [{"key": "first", "value": 1}]}),
    )
    .await;
    let worklog_id = created_id(
        &sim,
        "/rest/api/3/issue/APO-7/worklog",
        json!({"timeSpent": "1h 30m", "started": "2025-05-01T09:00:00.000+0000", "comment": doc}),
    )
    .await;
    let (status, _) = send(sim.request(M::POST, "/rest/api/3/issueLink").json(&json!({
        "type": {"name": "Blocks"},
        "inwardIssue": {"key": "APO-7"},
        "outwardIssue": {"key": "APO-8"},
    })))
    .await;
    assert_eq!(status, 201);
    let (_, issue) = sim.get("/rest/api/3/issue/APO-7?fields=issuelinks").await;
    let link_id = issue["fields"]["issuelinks"][0]["id"]
        .as_str()
        .expect("the link shows on the issue")
        .to_owned();
    let (_, user) = sim.get("/rest/api/3/users/search?maxResults=1").await;
    let account = user[0]["accountId"].as_str().unwrap().to_owned();

    let same = |path: &str, template: &'static str| case(M::GET, path, template, None, 200);
    let cases = vec![
        same("/rest/api/3/project", "/rest/api/3/project"),
        same(
            "/rest/api/3/project?expand=description,lead",
            "/rest/api/3/project",
        ),
        same("/rest/api/3/issuetype", "/rest/api/3/issuetype"),
        same(
            "/rest/api/3/issuetype/project?projectId=10000",
            "/rest/api/3/issuetype/project",
        ),
        same("/rest/api/3/issuetype/10001", "/rest/api/3/issuetype/{id}"),
        same("/rest/api/3/priority", "/rest/api/3/priority"),
        same(
            "/rest/api/3/priority/search?maxResults=2",
            "/rest/api/3/priority/search",
        ),
        same("/rest/api/3/priority/3", "/rest/api/3/priority/{id}"),
        same("/rest/api/3/status", "/rest/api/3/status"),
        same("/rest/api/3/status/Done", "/rest/api/3/status/{idOrName}"),
        same("/rest/api/3/statuses/search", "/rest/api/3/statuses/search"),
        same("/rest/api/3/resolution", "/rest/api/3/resolution"),
        same(
            "/rest/api/3/resolution/search",
            "/rest/api/3/resolution/search",
        ),
        same(
            "/rest/api/3/resolution/10000",
            "/rest/api/3/resolution/{id}",
        ),
        same(
            "/rest/api/3/project/APO/components",
            "/rest/api/3/project/{projectIdOrKey}/components",
        ),
        same(
            "/rest/api/3/project/APO/component",
            "/rest/api/3/project/{projectIdOrKey}/component",
        ),
        same("/rest/api/3/component/10000", "/rest/api/3/component/{id}"),
        same(
            "/rest/api/3/project/APO/versions",
            "/rest/api/3/project/{projectIdOrKey}/versions",
        ),
        same(
            "/rest/api/3/project/APO/version?status=released",
            "/rest/api/3/project/{projectIdOrKey}/version",
        ),
        same("/rest/api/3/version/10001", "/rest/api/3/version/{id}"),
        same(
            "/rest/api/3/project/APO/statuses",
            "/rest/api/3/project/{projectIdOrKey}/statuses",
        ),
        same(
            "/rest/api/3/field/search?maxResults=5",
            "/rest/api/3/field/search",
        ),
        same(
            "/rest/api/3/field/search?type=custom",
            "/rest/api/3/field/search",
        ),
        same("/rest/api/3/issueLinkType", "/rest/api/3/issueLinkType"),
        same(
            "/rest/api/3/issueLinkType/10000",
            "/rest/api/3/issueLinkType/{issueLinkTypeId}",
        ),
        same(
            &format!("/rest/api/3/user?accountId={account}"),
            "/rest/api/3/user",
        ),
        same("/rest/api/3/user/search?query=a", "/rest/api/3/user/search"),
        same(
            &format!("/rest/api/3/user/bulk?accountId={account}"),
            "/rest/api/3/user/bulk",
        ),
        same(
            "/rest/api/3/user/assignable/search?project=APO",
            "/rest/api/3/user/assignable/search",
        ),
        same("/rest/api/3/label", "/rest/api/3/label"),
        same(
            "/rest/api/3/issue/createmeta/APO/issuetypes",
            "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes",
        ),
        same(
            "/rest/api/3/issue/createmeta/APO/issuetypes/10001",
            "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        ),
        same(
            "/rest/api/3/issue/APO-1/editmeta",
            "/rest/api/3/issue/{issueIdOrKey}/editmeta",
        ),
        same(
            "/rest/api/3/issue/APO-1/transitions",
            "/rest/api/3/issue/{issueIdOrKey}/transitions",
        ),
        same(
            "/rest/api/3/issue/APO-1/transitions?expand=transitions.fields",
            "/rest/api/3/issue/{issueIdOrKey}/transitions",
        ),
        same(
            "/rest/api/3/issue/APO-1/changelog",
            "/rest/api/3/issue/{issueIdOrKey}/changelog",
        ),
        same(
            "/rest/api/3/issue/APO-1?expand=changelog",
            "/rest/api/3/issue/{issueIdOrKey}",
        ),
        same(
            "/rest/api/3/issue/APO-7?fields=*all",
            "/rest/api/3/issue/{issueIdOrKey}",
        ),
        same(
            "/rest/api/3/issue/APO-13?fields=*all&expand=transitions,schema,operations,editmeta,names,renderedFields,changelog",
            "/rest/api/3/issue/{issueIdOrKey}",
        ),
        same(
            "/rest/api/3/issue/createmeta?expand=projects.issuetypes.fields",
            "/rest/api/3/issue/createmeta",
        ),
        same(
            &format!("/rest/api/3/issue/APO-7/comment/{comment_id}"),
            "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
        ),
        same(
            "/rest/api/3/issue/APO-7/worklog",
            "/rest/api/3/issue/{issueIdOrKey}/worklog",
        ),
        same(
            &format!("/rest/api/3/issue/APO-7/worklog/{worklog_id}"),
            "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
        ),
        same(
            "/rest/api/3/worklog/updated?since=0",
            "/rest/api/3/worklog/updated",
        ),
        same(
            "/rest/api/3/worklog/deleted?since=0",
            "/rest/api/3/worklog/deleted",
        ),
        same(
            &format!("/rest/api/3/issueLink/{link_id}"),
            "/rest/api/3/issueLink/{linkId}",
        ),
        same(
            "/rest/api/3/issue/APO-7/watchers",
            "/rest/api/3/issue/{issueIdOrKey}/watchers",
        ),
        case(
            M::POST,
            "/rest/api/3/changelog/bulkfetch",
            "/rest/api/3/changelog/bulkfetch",
            Some(json!({"issueIdsOrKeys": ["APO-1", "APO-2", "APO-3"], "maxResults": 5})),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/changelog/bulkfetch",
            "/rest/api/3/changelog/bulkfetch",
            Some(json!({"issueIdsOrKeys": ["APO-1"], "fieldIds": ["status"]})),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/changelog/bulkfetch",
            "/rest/api/3/changelog/bulkfetch",
            Some(json!({"issueIdsOrKeys": []})),
            400,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/APO-1/changelog/list",
            "/rest/api/3/issue/{issueIdOrKey}/changelog/list",
            Some(json!({"changelogIds": [10000000, 10000001]})),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/comment/list",
            "/rest/api/3/comment/list",
            Some(json!({"ids": [comment_id.parse::<u64>().unwrap(), 100_000]})),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/worklog/list",
            "/rest/api/3/worklog/list",
            Some(json!({"ids": [worklog_id.parse::<u64>().unwrap()]})),
            200,
        ),
        case(
            M::PUT,
            &format!("/rest/api/3/issue/APO-7/comment/{comment_id}"),
            "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
            Some(json!({"body": doc})),
            200,
        ),
        case(
            M::PUT,
            &format!("/rest/api/3/issue/APO-7/worklog/{worklog_id}"),
            "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
            Some(json!({"timeSpentSeconds": 600})),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/APO-7/worklog",
            "/rest/api/3/issue/{issueIdOrKey}/worklog",
            Some(json!({"comment": doc})),
            400,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/APO-7/transitions",
            "/rest/api/3/issue/{issueIdOrKey}/transitions",
            Some(json!({"transition": {"id": "999"}})),
            400,
        ),
        case(
            M::PUT,
            "/rest/api/3/issue/APO-7/assignee",
            "/rest/api/3/issue/{issueIdOrKey}/assignee",
            Some(json!({"accountId": account})),
            204,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/APO-7/watchers",
            "/rest/api/3/issue/{issueIdOrKey}/watchers",
            Some(json!(account)),
            204,
        ),
        case(
            M::DELETE,
            &format!("/rest/api/3/issue/APO-7/worklog/{worklog_id}"),
            "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
            None,
            204,
        ),
        case(
            M::DELETE,
            &format!("/rest/api/3/issue/APO-7/comment/{comment_id}"),
            "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
            None,
            204,
        ),
        case(
            M::DELETE,
            &format!("/rest/api/3/issueLink/{link_id}"),
            "/rest/api/3/issueLink/{linkId}",
            None,
            204,
        ),
        case(
            M::GET,
            "/rest/api/3/issue/APO-7/comment/1",
            "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
            None,
            404,
        ),
        case(
            M::GET,
            "/rest/api/3/project/NOPE/components",
            "/rest/api/3/project/{projectIdOrKey}/components",
            None,
            404,
        ),
        case(
            M::GET,
            "/rest/api/3/user?accountId=nobody",
            "/rest/api/3/user",
            None,
            404,
        ),
        case(
            M::GET,
            "/rest/api/3/issue/NOPE-1/changelog",
            "/rest/api/3/issue/{issueIdOrKey}/changelog",
            None,
            404,
        ),
        case(
            M::GET,
            "/rest/api/2/issue/APO-7/worklog",
            "/rest/api/2/issue/{issueIdOrKey}/worklog",
            None,
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/bulk/issues/fields",
            "/rest/api/3/bulk/issues/fields",
            Some(
                json!({"selectedIssueIdsOrKeys": ["APO-9"], "selectedActions": ["priority"], "editedFieldsInput": {"priority": {"priorityId": "2"}}}),
            ),
            201,
        ),
        case(
            M::POST,
            "/rest/api/3/bulk/issues/fields",
            "/rest/api/3/bulk/issues/fields",
            Some(
                json!({"selectedIssueIdsOrKeys": ["APO-9"], "selectedActions": ["labels"], "editedFieldsInput": {}}),
            ),
            400,
        ),
        case(
            M::POST,
            "/rest/api/3/bulk/issues/transition",
            "/rest/api/3/bulk/issues/transition",
            Some(
                json!({"bulkTransitionInputs": [{"selectedIssueIdsOrKeys": ["APO-10"], "transitionId": "41"}]}),
            ),
            201,
        ),
        case(
            M::POST,
            "/rest/api/3/bulk/issues/delete",
            "/rest/api/3/bulk/issues/delete",
            Some(json!({"selectedIssueIdsOrKeys": []})),
            400,
        ),
        same(
            "/rest/api/3/bulk/queue/10000",
            "/rest/api/3/bulk/queue/{taskId}",
        ),
        case(
            M::PUT,
            &format!("/rest/api/3/comment/{marked_id}/properties/marker"),
            "/rest/api/3/comment/{commentId}/properties/{propertyKey}",
            Some(json!({"key": "abc"})),
            201,
        ),
        same(
            &format!("/rest/api/3/comment/{marked_id}/properties"),
            "/rest/api/3/comment/{commentId}/properties",
        ),
        same(
            &format!("/rest/api/3/comment/{marked_id}/properties/marker"),
            "/rest/api/3/comment/{commentId}/properties/{propertyKey}",
        ),
        same(
            "/rest/api/3/issue/APO-8/comment?expand=properties",
            "/rest/api/3/issue/{issueIdOrKey}/comment",
        ),
        case(
            M::GET,
            "/rest/api/3/bulk/queue/1",
            "/rest/api/3/bulk/queue/{taskId}",
            None,
            400,
        ),
    ];
    check_all(&sim, cases).await;
}

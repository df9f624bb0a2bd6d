//! Every body jira-sim sends, 2xx and errors, validated whole against the response schema of
//! its path, method and status in Atlassian's OpenAPI file (`contract/`), references
//! resolved. Where the contract gives no schema for an error status, Jira's
//! `ErrorCollection` is the schema.
//!
//! Two adaptations of OpenAPI 3.0 to JSON Schema, both standard: `nullable: true` becomes
//! a `null` alternative, and `format` is not asserted, because Jira's own timestamps
//! (`2024-01-18T07:33:17.016+0000`) are not RFC 3339 `date-time` and would fail.

mod activity;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jira_sim::{BurstConfig, Fault, FaultConfig, FaultRule, LimitConfig, SimConfig};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::{Sim, send};

fn contract() -> &'static Value {
    static CONTRACT: OnceLock<Value> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../contract/jira-cloud-platform.openapi.v3.json"
        );
        let text = std::fs::read_to_string(path).expect("contract file is in the repository");
        serde_json::from_str(&text).expect("contract is JSON")
    })
}

/// The response schema for a path template, method and status.
fn response_schema(template: &str, method: &str, status: u16) -> Value {
    let operation = &contract()["paths"][template][method.to_lowercase()];
    assert!(
        !operation.is_null(),
        "the contract has no {method} {template}"
    );
    let schema =
        &operation["responses"][status.to_string()]["content"]["application/json"]["schema"];
    if schema.is_null() {
        json!({"$ref": "#/components/schemas/ErrorCollection"})
    } else {
        schema.clone()
    }
}

/// A self-contained JSON Schema: `root` plus every component it reaches, with OpenAPI's
/// `nullable` turned into JSON Schema.
fn standalone(root: &Value) -> Value {
    let schemas = contract()["components"]["schemas"].as_object().unwrap();
    let mut reached: BTreeMap<String, Value> = BTreeMap::new();
    let mut pending = Vec::new();
    collect_refs(root, &mut pending);
    while let Some(name) = pending.pop() {
        if reached.contains_key(&name) {
            continue;
        }
        let schema = schemas
            .get(&name)
            .unwrap_or_else(|| panic!("unresolved $ref {name}"))
            .clone();
        collect_refs(&schema, &mut pending);
        reached.insert(name, nullable_to_json_schema(schema));
    }
    let mut document = match nullable_to_json_schema(root.clone()) {
        Value::Object(map) => map,
        other => Map::from_iter([("allOf".to_owned(), json!([other]))]),
    };
    document.insert(
        "components".into(),
        json!({"schemas": Value::Object(reached.into_iter().collect())}),
    );
    Value::Object(document)
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && let Some(name) = reference.strip_prefix("#/components/schemas/")
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn nullable_to_json_schema(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            let nullable = map.remove("nullable") == Some(Value::Bool(true));
            let map: Map<String, Value> = map
                .into_iter()
                .map(|(k, v)| (k, nullable_to_json_schema(v)))
                .collect();
            if nullable {
                json!({"anyOf": [Value::Object(map), {"type": "null"}]})
            } else {
                Value::Object(map)
            }
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(nullable_to_json_schema).collect())
        }
        other => other,
    }
}

/// Validates `body` and returns every violation, with the instance path.
pub(crate) fn violations(template: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
    let schema = standalone(&response_schema(template, method, status));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(&schema)
        .expect("schema compiles");
    validator
        .iter_errors(body)
        .map(|error| format!("{} at {}: {}", template, error.instance_path(), error))
        .collect()
}

/// Validates `value` against the contract's component schema `name` (a field's value,
/// which the issue's schema leaves open).
pub(crate) fn component_violations(name: &str, value: &Value) -> Vec<String> {
    let schema = standalone(&json!({ "$ref": format!("#/components/schemas/{name}") }));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(&schema)
        .expect("schema compiles");
    validator
        .iter_errors(value)
        .map(|error| format!("{name} at {}: {}", error.instance_path(), error))
        .collect()
}

struct Case {
    method: Method,
    path: String,
    template: &'static str,
    body: Option<Value>,
    status: u16,
}

fn case(
    method: Method,
    path: &str,
    template: &'static str,
    body: Option<Value>,
    status: u16,
) -> Case {
    Case {
        method,
        path: path.to_owned(),
        template,
        body,
        status,
    }
}

async fn check_all(sim: &Sim, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
        let mut request = sim.request(case.method.clone(), &case.path);
        if let Some(body) = &case.body {
            request = request.json(body);
        }
        let (status, body) = send(request).await;
        if status != case.status {
            failures.push(format!(
                "{} {}: status {status}, expected {} (body {body})",
                case.method, case.path, case.status
            ));
            continue;
        }
        if status == 204 {
            assert_eq!(body, Value::Null, "204 has no body");
            continue;
        }
        let contract_template = case.template.replace("/rest/api/2/", "/rest/api/3/");
        failures.extend(violations(
            &contract_template,
            case.method.as_str(),
            status,
            &body,
        ));
    }
    assert!(
        failures.is_empty(),
        "contract violations:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_endpoint_validates_against_the_contract() {
    let sim = Sim::small().await;
    use Method as M;
    let issue = "/rest/api/3/issue/{issueIdOrKey}";
    let comment = "/rest/api/3/issue/{issueIdOrKey}/comment";
    let create = json!({"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"}, "summary": "Conformance"}});
    let cases = vec![
        case(
            M::GET,
            "/rest/api/3/myself",
            "/rest/api/3/myself",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/serverInfo",
            "/rest/api/3/serverInfo",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/statuscategory",
            "/rest/api/3/statuscategory",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/statuscategory/indeterminate",
            "/rest/api/3/statuscategory/{idOrKey}",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/statuscategory/99",
            "/rest/api/3/statuscategory/{idOrKey}",
            None,
            404,
        ),
        case(
            M::GET,
            "/rest/api/3/project/type",
            "/rest/api/3/project/type",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/projectCategory",
            "/rest/api/3/projectCategory",
            None,
            200,
        ),
        case(M::GET, "/rest/api/3/role", "/rest/api/3/role", None, 200),
        case(
            M::GET,
            "/rest/api/3/role/10003",
            "/rest/api/3/role/{id}",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/issue/APO-1/votes",
            "/rest/api/3/issue/{issueIdOrKey}/votes",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/mypermissions?projectKey=APO&permissions=EDIT_ISSUES,ADD_COMMENTS,BROWSE_PROJECTS",
            "/rest/api/3/mypermissions",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/project/search?maxResults=2",
            "/rest/api/3/project/search",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/project/search?expand=description,lead&startAt=2",
            "/rest/api/3/project/search",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/project/search?maxResults=x",
            "/rest/api/3/project/search",
            None,
            400,
        ),
        case(
            M::GET,
            "/rest/api/3/project/APO",
            "/rest/api/3/project/{projectIdOrKey}",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/project/NOPE",
            "/rest/api/3/project/{projectIdOrKey}",
            None,
            404,
        ),
        case(M::GET, "/rest/api/3/field", "/rest/api/3/field", None, 200),
        case(
            M::GET,
            "/rest/api/3/users/search?maxResults=10",
            "/rest/api/3/users/search",
            None,
            200,
        ),
        case(M::GET, "/rest/api/3/issue/APO-1", issue, None, 200),
        case(
            M::GET,
            "/rest/api/3/issue/APO-1?expand=names,renderedFields",
            issue,
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/issue/APO-1?fields=summary,customfield_10016",
            issue,
            None,
            200,
        ),
        case(M::GET, "/rest/api/2/issue/APO-1", issue, None, 200),
        case(M::GET, "/rest/api/3/issue/NOPE-1", issue, None, 404),
        case(
            M::PUT,
            "/rest/api/3/issue/APO-2",
            issue,
            Some(json!({"fields": {"summary": "Edited", "labels": ["x"]}})),
            204,
        ),
        case(
            M::PUT,
            "/rest/api/3/issue/APO-2",
            issue,
            Some(json!({"fields": {"status": {"name": "Done"}}})),
            400,
        ),
        case(
            M::PUT,
            "/rest/api/3/issue/APO-2?returnIssue=true",
            issue,
            Some(json!({"update": {"labels": [{"add": "y"}]}})),
            200,
        ),
        case(M::DELETE, "/rest/api/3/issue/APO-3", issue, None, 204),
        case(M::DELETE, "/rest/api/3/issue/APO-3", issue, None, 404),
        case(
            M::GET,
            "/rest/api/3/issue/APO-1/comment",
            comment,
            None,
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/APO-1/comment",
            comment,
            Some(
                json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]}]}}),
            ),
            201,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/APO-1/comment",
            comment,
            Some(json!({"body": ""})),
            400,
        ),
        case(
            M::GET,
            "/rest/api/3/issue/NOPE-1/comment",
            comment,
            None,
            404,
        ),
        case(
            M::POST,
            "/rest/api/3/issue",
            "/rest/api/3/issue",
            Some(create.clone()),
            201,
        ),
        case(
            M::POST,
            "/rest/api/3/issue",
            "/rest/api/3/issue",
            Some(json!({"fields": {"project": {"key": "NOPE"}}})),
            400,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/bulk",
            "/rest/api/3/issue/bulk",
            Some(json!({"issueUpdates": [create.clone(), {"fields": {}}]})),
            201,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/bulk",
            "/rest/api/3/issue/bulk",
            Some(json!({"issueUpdates": [{"fields": {}}]})),
            400,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/bulkfetch",
            "/rest/api/3/issue/bulkfetch",
            Some(
                json!({"issueIdsOrKeys": ["APO-5", "APO-4", "NOPE-9"], "fields": ["summary", "status"]}),
            ),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/bulkfetch",
            "/rest/api/3/issue/bulkfetch",
            Some(json!({"issueIdsOrKeys": ["APO-5"], "expand": ["names"]})),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/issue/bulkfetch",
            "/rest/api/3/issue/bulkfetch",
            Some(json!({"issueIdsOrKeys": []})),
            400,
        ),
        case(
            M::GET,
            "/rest/api/3/search/jql?jql=project%20%3D%20APO&maxResults=5",
            "/rest/api/3/search/jql",
            None,
            200,
        ),
        case(
            M::GET,
            "/rest/api/3/search/jql?jql=project%20%3D%20APO&fields=*all&expand=names",
            "/rest/api/3/search/jql",
            None,
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/search/jql",
            "/rest/api/3/search/jql",
            Some(
                json!({"jql": "project = BEA ORDER BY updated DESC", "fields": ["summary", "updated"], "maxResults": 10}),
            ),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/search/jql",
            "/rest/api/3/search/jql",
            Some(json!({"jql": "ORDER BY key"})),
            400,
        ),
        case(
            M::GET,
            "/rest/api/3/search/jql?jql=votes%20~%20x",
            "/rest/api/3/search/jql",
            None,
            400,
        ),
        case(
            M::POST,
            "/rest/api/3/search/approximate-count",
            "/rest/api/3/search/approximate-count",
            Some(json!({"jql": "project = APO"})),
            200,
        ),
        case(
            M::POST,
            "/rest/api/3/search/approximate-count",
            "/rest/api/3/search/approximate-count",
            Some(json!({"jql": ""})),
            400,
        ),
        case(
            M::GET,
            "/rest/api/3/search?jql=project%3DAPO",
            "/rest/api/3/search",
            None,
            410,
        ),
        case(
            M::POST,
            "/rest/api/3/search",
            "/rest/api/3/search",
            Some(json!({"jql": "project = APO"})),
            410,
        ),
    ];
    check_all(&sim, cases).await;
}

#[tokio::test]
async fn error_answers_validate_too() {
    // 401 without credentials.
    let sim = Sim::small().await;
    let (status, body) = send(sim.client.get(sim.url("/rest/api/3/myself"))).await;
    assert_eq!(status, 401);
    assert!(
        violations("/rest/api/3/myself", "GET", 401, &body).is_empty(),
        "{body}"
    );

    // 429 from the burst limit, and 503 with Retry-After from a fault.
    let sim = Sim::start(SimConfig {
        projects: 1,
        issues_per_project: 5,
        limits: LimitConfig {
            burst: Some(BurstConfig::uniform(1.0)),
            ..LimitConfig::off()
        },
        ..SimConfig::default()
    })
    .await;
    let path = "/rest/api/3/issue/APO-1";
    assert_eq!(sim.get(path).await.0, 200);
    let (status, body) = sim.get(path).await;
    assert_eq!(status, 429);
    let failures = violations("/rest/api/3/issue/{issueIdOrKey}", "GET", 429, &body);
    assert!(failures.is_empty(), "{failures:?}");

    sim.handle.set_limits(LimitConfig::off());
    sim.handle.set_faults(FaultConfig {
        rules: vec![FaultRule::new(
            Fault::Unavailable {
                retry_after_secs: 1,
            },
            1.0,
        )],
    });
    let (status, body) = sim.get(path).await;
    assert_eq!(status, 503);
    let failures = violations("/rest/api/3/issue/{issueIdOrKey}", "GET", 503, &body);
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn the_validator_rejects_a_wrong_body() {
    // A guard against a validator that accepts everything.
    let wrong = json!({"issues": [{"id": 5}], "isLast": "no", "surprise": true});
    let failures = violations("/rest/api/3/search/jql", "GET", 200, &wrong);
    assert!(failures.len() >= 3, "{failures:?}");
    let wrong_error = json!({"errorMessages": "one string", "errors": {}});
    assert!(!violations("/rest/api/3/myself", "GET", 401, &wrong_error).is_empty());
}

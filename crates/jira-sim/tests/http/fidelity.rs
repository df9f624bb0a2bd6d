//! Where Jira Cloud is strict, jira-sim is too: the user's time zone, `expand=transitions`,
//! every system field of `*all` in its contract shape, every `self` link answered, unknown
//! JQL values refused, long comment threads and worklog lists, at most five bulk
//! operations, the deprecated create metadata, v2 and v3 counted apart, and ids unique
//! per kind.

use std::time::{Duration, SystemTime};

use jira_sim::{LimitConfig, Realism, RenderZone, SimConfig};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Sim;
use crate::conformance::component_violations;

/// The offset at the end of a Jira timestamp (`+0100`), in seconds.
fn offset_seconds(timestamp: &str) -> i32 {
    let tail = &timestamp[timestamp.len() - 5..];
    let sign = if tail.starts_with('-') { -1 } else { 1 };
    let hours: i32 = tail[1..3].parse().unwrap();
    let minutes: i32 = tail[3..5].parse().unwrap();
    sign * (hours * 3600 + minutes * 60)
}

#[tokio::test]
async fn timestamps_and_jql_dates_are_in_the_users_zone() {
    let sim = Sim::small().await;
    let (_, me) = sim.get("/rest/api/3/myself").await;
    let zone = me["timeZone"].as_str().unwrap().to_owned();
    assert_ne!(zone, "UTC", "the caller lives in a zone other than UTC");
    let tz = jiff::tz::TimeZone::get(&zone).unwrap();

    // Bodies carry the zone's offset at each instant.
    let (_, issue) = sim.get("/rest/api/3/issue/APO-1?fields=created").await;
    let created = issue["fields"]["created"].as_str().unwrap();
    let at: jiff::Timestamp = jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", created)
        .unwrap()
        .to_timestamp()
        .unwrap();
    assert_eq!(offset_seconds(created), tz.to_offset(at).seconds());

    // A connector's bookmark in the user's zone finds an edit made after it.
    let bookmark = jiff::Timestamp::now().to_zoned(tz.clone());
    let bookmark = bookmark.strftime("%Y-%m-%d %H:%M").to_string();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, _) = sim
        .put(
            "/rest/api/3/issue/APO-2",
            &json!({"fields": {"summary": "Edited after the bookmark"}}),
        )
        .await;
    assert_eq!(status, 204);
    let search = |jql: String| {
        let sim = &sim;
        async move {
            let (status, page) = sim
                .post(
                    "/rest/api/3/search/jql",
                    &json!({"jql": jql, "fields": ["key"]}),
                )
                .await;
            assert_eq!(status, 200, "{page}");
            page["issues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["key"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let found = search(format!("project = APO AND updated >= \"{bookmark}\"")).await;
    assert_eq!(found, ["APO-2"], "bookmark {bookmark} in {zone}");
    // The same digits an hour later (in a zone ahead of UTC, what reading them as UTC
    // would have meant) find nothing: the literal is read in the user's zone.
    let later = jiff::Timestamp::now()
        .to_zoned(tz)
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap()
        .strftime("%Y-%m-%d %H:%M")
        .to_string();
    assert!(
        search(format!("project = APO AND updated >= \"{later}\""))
            .await
            .is_empty()
    );
    // Epoch milliseconds are no one's wall clock.
    let epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 60_000;
    let found = search(format!("project = APO AND updated >= {epoch}")).await;
    assert_eq!(found, ["APO-2"]);
}

/// Every `self` link jira-sim sends, from an issue with every field and expansion and from
/// the metadata a connector reads, answers 200: a client that follows one (a status's
/// category, an issue's votes, a comment, a user) finds what it names.
#[tokio::test]
async fn every_self_link_answers() {
    let sim = Sim::small().await;
    let base = sim.url("");
    let seeds = [
        "/rest/api/3/issue/APO-1?fields=*all&expand=changelog,renderedFields,names,transitions",
        "/rest/api/3/issue/APO-7?fields=*all",
        "/rest/api/3/issue/APO-1/comment",
        "/rest/api/3/issue/APO-1/worklog",
        "/rest/api/3/myself",
        "/rest/api/3/project/APO",
        "/rest/api/3/project/search",
        "/rest/api/3/project/APO/versions",
        "/rest/api/3/project/APO/components",
        "/rest/api/3/issuetype",
        "/rest/api/3/priority",
        "/rest/api/3/resolution",
        "/rest/api/3/status",
        "/rest/api/3/statuscategory",
        "/rest/api/3/issueLinkType",
        "/rest/api/3/role",
        "/rest/api/3/users/search",
    ];
    fn links(value: &Value, base: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value.as_str()) {
                        ("self", Some(link)) if link.starts_with(base) => {
                            out.insert(link[base.len()..].to_owned());
                        }
                        _ => links(value, base, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| links(v, base, out)),
            _ => {}
        }
    }
    let mut found = std::collections::BTreeSet::new();
    for seed in seeds {
        let (status, body) = sim.get(seed).await;
        assert_eq!(status, 200, "{seed}");
        links(&body, &base, &mut found);
    }
    assert!(found.len() > 100, "{} links", found.len());
    for kind in [
        "/statuscategory/",
        "/votes",
        "/watchers",
        "/comment/",
        "/user?",
    ] {
        assert!(found.iter().any(|l| l.contains(kind)), "no {kind} link");
    }
    for link in &found {
        let (status, _) = sim.get(link).await;
        assert_eq!(status, 200, "{link}");
    }
}

#[tokio::test]
async fn a_utc_site_renders_utc() {
    let sim = Sim::start(SimConfig {
        projects: 1,
        issues_per_project: 5,
        limits: LimitConfig::off(),
        render_zone: RenderZone::Utc,
        ..SimConfig::default()
    })
    .await;
    let (_, issue) = sim
        .get("/rest/api/3/issue/APO-1?fields=created,updated")
        .await;
    assert!(
        issue["fields"]["created"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
    assert!(
        issue["fields"]["updated"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
}

#[tokio::test]
async fn expand_transitions_lists_what_the_issue_can_take_now() {
    let sim = Sim::small().await;
    let (_, offered) = sim.get("/rest/api/3/issue/APO-1/transitions").await;
    let (status, issue) = sim
        .get("/rest/api/3/issue/APO-1?fields=status&expand=transitions,schema,operations,editmeta")
        .await;
    assert_eq!(status, 200);
    assert_eq!(issue["transitions"], offered["transitions"]);
    assert!(!issue["transitions"].as_array().unwrap().is_empty());
    for transition in issue["transitions"].as_array().unwrap() {
        let violations = component_violations("IssueTransition", transition);
        assert!(violations.is_empty(), "{violations:?}");
    }
    assert_eq!(issue["schema"]["status"]["type"], "status");
    assert!(issue["operations"].is_object());
    assert_eq!(issue["editmeta"]["fields"]["summary"]["required"], true);
    assert!(issue["editmeta"]["fields"].get("status").is_none());
    // Searches expand them too.
    let (_, page) = sim
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "key = APO-1", "fields": ["status"], "expand": "transitions"}),
        )
        .await;
    assert_eq!(page["issues"][0]["transitions"], offered["transitions"]);
}

#[tokio::test]
async fn every_system_field_of_star_all_has_its_contract_shape() {
    let sim = Sim::small().await;
    // APO-13 has a long worklog list, APO-7 a long comment thread.
    let (status, issue) = sim.get("/rest/api/3/issue/APO-13?fields=*all").await;
    assert_eq!(status, 200);
    let fields = issue["fields"].as_object().unwrap();
    let shapes: &[(&str, &str)] = &[
        ("worklog", "PageOfWorklogs"),
        ("timetracking", "TimeTrackingDetails"),
        ("votes", "Votes"),
        ("watches", "Watchers"),
        ("comment", "PageOfComments"),
        ("status", "StatusDetails"),
        ("priority", "Priority"),
        ("issuetype", "IssueTypeDetails"),
        ("project", "ProjectDetails"),
        ("assignee", "UserDetails"),
        ("reporter", "UserDetails"),
        ("creator", "UserDetails"),
    ];
    for (field, schema) in shapes {
        let value = fields
            .get(*field)
            .unwrap_or_else(|| panic!("*all has no {field}"));
        if value.is_null() {
            continue;
        }
        let violations = component_violations(schema, value);
        assert!(violations.is_empty(), "{field}: {violations:?}");
    }
    let arrays: &[(&str, &str)] = &[
        ("components", "ProjectComponent"),
        ("fixVersions", "Version"),
        ("versions", "Version"),
        ("attachment", "AttachmentMetadata"),
        ("issuelinks", "IssueLink"),
        ("subtasks", "IssueLink"),
    ];
    for (field, schema) in arrays {
        let items = fields
            .get(*field)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("*all has no {field} list"));
        for item in items {
            let violations = component_violations(schema, item);
            assert!(violations.is_empty(), "{field}: {violations:?}");
        }
    }
    for field in [
        "environment",
        "duedate",
        "resolutiondate",
        "lastViewed",
        "timespent",
        "timeestimate",
        "timeoriginalestimate",
        "progress",
        "workratio",
        "security",
        "statuscategorychangedate",
    ] {
        assert!(fields.contains_key(field), "*all has no {field}");
    }
    // The worklog field carries the first 20 of a longer list, and says how many there are.
    let worklog = &fields["worklog"];
    let total = worklog["total"].as_u64().unwrap();
    assert!(total > 20, "APO-13 has {total} worklogs");
    assert_eq!(worklog["worklogs"].as_array().unwrap().len(), 20);
    assert_eq!(worklog["maxResults"], 20);
    let spent: u64 = {
        let (_, all) = sim
            .get("/rest/api/3/issue/APO-13/worklog?maxResults=5000")
            .await;
        assert_eq!(all["total"].as_u64(), Some(total));
        all["worklogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["timeSpentSeconds"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(fields["timetracking"]["timeSpentSeconds"], spent);
    // `*navigable` leaves the non-navigable ones out.
    let (_, navigable) = sim.get("/rest/api/3/issue/APO-13?fields=*navigable").await;
    let navigable = navigable["fields"].as_object().unwrap();
    assert!(!navigable.contains_key("worklog") && !navigable.contains_key("comment"));
    assert!(navigable.contains_key("components") && navigable.contains_key("votes"));
}

#[tokio::test]
async fn long_comment_threads_page_past_the_first_hundred() {
    let sim = Sim::small().await;
    let (_, first) = sim
        .get("/rest/api/3/issue/APO-7/comment?maxResults=100")
        .await;
    let total = first["total"].as_u64().unwrap();
    assert!((100..=300).contains(&total), "APO-7 has {total} comments");
    let mut ids = Vec::new();
    let mut start = 0;
    while start < total {
        let (status, page) = sim
            .get(&format!(
                "/rest/api/3/issue/APO-7/comment?startAt={start}&maxResults=100"
            ))
            .await;
        assert_eq!(status, 200);
        let comments = page["comments"].as_array().unwrap();
        assert!(!comments.is_empty());
        ids.extend(
            comments
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        start += comments.len() as u64;
    }
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len() as u64, total, "every comment once");
}

#[tokio::test]
async fn unknown_jql_values_are_refused_as_jira_refuses_them() {
    let sim = Sim::small().await;
    for (jql, field, value) in [
        ("status = Donee", "status", "Donee"),
        (
            "project = APO AND priority in (High, Urgentest)",
            "priority",
            "Urgentest",
        ),
        ("issuetype = Storey", "issuetype", "Storey"),
        ("resolution = Fixxed", "resolution", "Fixxed"),
        ("assignee = nobody-at-all", "assignee", "nobody-at-all"),
    ] {
        let (status, body) = sim
            .post("/rest/api/3/search/jql", &json!({"jql": jql}))
            .await;
        assert_eq!(status, 400, "{jql}: {body}");
        let expected = format!("The value '{value}' does not exist for the field '{field}'.");
        assert_eq!(body["errorMessages"][0], expected.as_str(), "{jql}");
    }
    // Known values, by name or id and in any case, still search.
    for jql in [
        "status = done",
        "status = 10002 OR priority = 3",
        "statusCategory = 3",
    ] {
        let (status, body) = sim
            .post("/rest/api/3/search/jql", &json!({"jql": jql}))
            .await;
        assert_eq!(status, 200, "{jql}: {body}");
    }
}

#[tokio::test]
async fn a_sixth_bulk_operation_in_progress_is_refused() {
    let sim = Sim::small().await;
    sim.handle.set_realism(Realism {
        bulk_issues_per_sec: 1.0,
        ..Realism::default()
    });
    let delete = |n: usize| json!({"selectedIssueIdsOrKeys": [format!("BEA-{n}")], "sendBulkNotification": false});
    for n in 1..=5 {
        let (status, body) = sim.post("/rest/api/3/bulk/issues/delete", &delete(n)).await;
        assert_eq!(status, 201, "{body}");
    }
    let refused = sim
        .request(Method::POST, "/rest/api/3/bulk/issues/delete")
        .json(&delete(6))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("at most 5"),
        "{body}"
    );
    // Nothing of the refused one happened.
    assert_eq!(sim.get("/rest/api/3/issue/BEA-6").await.0, 200);
}

#[tokio::test]
async fn the_deprecated_create_metadata_is_served_and_filtered() {
    let sim = Sim::small().await;
    let (status, meta) = sim
        .get("/rest/api/3/issue/createmeta?projectKeys=APO&issuetypeNames=Task&expand=projects.issuetypes.fields")
        .await;
    assert_eq!(status, 200, "{meta}");
    let violations = component_violations("IssueCreateMetadata", &meta);
    assert!(violations.is_empty(), "{violations:?}");
    let projects = meta["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0]["key"], "APO");
    let types = projects[0]["issuetypes"].as_array().unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0]["name"], "Task");
    assert_eq!(types[0]["fields"]["summary"]["required"], true);
    // Without the expansion, no fields; without filters, every project.
    let (_, bare) = sim.get("/rest/api/2/issue/createmeta").await;
    assert_eq!(bare["projects"].as_array().unwrap().len(), 3);
    assert!(bare["projects"][0]["issuetypes"][0].get("fields").is_none());
}

#[tokio::test]
async fn stats_count_v2_and_v3_apart() {
    let sim = Sim::small().await;
    sim.get("/rest/api/2/issue/APO-1").await;
    sim.get("/rest/api/3/issue/APO-1").await;
    sim.get("/rest/api/3/issue/APO-2").await;
    let stats = sim.handle.stats();
    assert_eq!(
        stats.requests_to("GET", "/rest/api/2/issue/{issueIdOrKey}"),
        1
    );
    assert_eq!(
        stats.requests_to("GET", "/rest/api/3/issue/{issueIdOrKey}"),
        2
    );
}

#[tokio::test]
async fn comments_and_worklogs_never_share_an_id() {
    let sim = Sim::small().await;
    // Generated ones, on the issue with a long worklog list.
    let (_, comments) = sim
        .get("/rest/api/3/issue/APO-13/comment?maxResults=5000")
        .await;
    let (_, worklogs) = sim
        .get("/rest/api/3/issue/APO-13/worklog?maxResults=5000")
        .await;
    let ids = |list: &Value, key: &str| -> Vec<String> {
        list[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut comment_ids = ids(&comments, "comments");
    let mut worklog_ids = ids(&worklogs, "worklogs");
    // Written ones.
    let (status, comment) = sim
        .post(
            "/rest/api/3/issue/APO-13/comment",
            &json!({"body": crate::doc("written")}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, worklog) = sim
        .post(
            "/rest/api/3/issue/APO-13/worklog",
            &json!({"timeSpent": "1h", "started": "2026-11-30T10:00:00.000+0000"}),
        )
        .await;
    assert_eq!(status, 201, "{worklog}");
    comment_ids.push(comment["id"].as_str().unwrap().to_owned());
    worklog_ids.push(worklog["id"].as_str().unwrap().to_owned());
    for id in &worklog_ids {
        assert!(
            !comment_ids.contains(id),
            "comment and worklog share id {id}"
        );
    }
    // Deleting the written worklog leaves the comment of the same issue readable.
    let worklog_id = worklog["id"].as_str().unwrap();
    let (status, _) = crate::send(sim.request(
        Method::DELETE,
        &format!("/rest/api/3/issue/APO-13/worklog/{worklog_id}"),
    ))
    .await;
    assert_eq!(status, 204);
    let comment_id = comment["id"].as_str().unwrap();
    let (status, _) = sim
        .get(&format!("/rest/api/3/issue/APO-13/comment/{comment_id}"))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn generated_worklogs_keep_their_times_when_the_issue_is_edited() {
    let sim = Sim::small().await;
    let started = |page: &Value| -> Vec<String> {
        page["worklogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["started"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, before) = sim
        .get("/rest/api/3/issue/APO-13/worklog?maxResults=5000")
        .await;
    let (_, comments_before) = sim.get("/rest/api/3/issue/APO-7/comment").await;
    for key in ["APO-13", "APO-7"] {
        let (status, _) = sim
            .put(
                &format!("/rest/api/3/issue/{key}"),
                &json!({"fields": {"summary": "Edited now"}}),
            )
            .await;
        assert_eq!(status, 204);
    }
    let (_, after) = sim
        .get("/rest/api/3/issue/APO-13/worklog?maxResults=5000")
        .await;
    let (_, comments_after) = sim.get("/rest/api/3/issue/APO-7/comment").await;
    assert!(!started(&before).is_empty());
    assert_eq!(started(&before), started(&after));
    assert_eq!(comments_before["comments"], comments_after["comments"]);
}

#[tokio::test]
async fn a_v2_answer_links_to_v2() {
    let sim = Sim::small().await;
    let (status, issue) = sim.get("/rest/api/2/issue/APO-1?fields=summary").await;
    assert_eq!(status, 200);
    let link = issue["self"].as_str().unwrap();
    assert!(link.ends_with("/rest/api/2/issue/10000"), "{link}");
    // A search page and its issues too; v3 keeps its own.
    let (_, page) = sim
        .get("/rest/api/2/search/jql?jql=project%3DAPO&fields=assignee&maxResults=3")
        .await;
    let text = page.to_string();
    assert!(!text.contains("/rest/api/3/"), "{text}");
    assert!(text.contains("/rest/api/2/issue/"), "{text}");
    let (_, v3) = sim.get("/rest/api/3/issue/APO-1?fields=summary").await;
    assert!(v3["self"].as_str().unwrap().contains("/rest/api/3/issue/"));
}

#[tokio::test]
async fn rich_text_is_a_document_in_v3_and_a_string_in_v2() {
    let sim = Sim::small().await;
    let text = json!({"fields": {"description": "plain words"}});
    let doc = json!({"fields": {"description": {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "a document"}]}
    ]}}});
    // Each version refuses the other's spelling, with Jira's messages, and keeps nothing.
    let (status, body) = sim.put("/rest/api/3/issue/APO-3", &text).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"]["description"],
        "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    );
    let (status, body) = sim.put("/rest/api/2/issue/APO-3", &doc).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"]["description"],
        "Operation value must be a string"
    );
    let create = json!({"fields": {"project": {"key": "APO"}, "issuetype": {"name": "Task"},
        "summary": "s", "description": "plain words"}});
    assert_eq!(sim.post("/rest/api/3/issue", &create).await.0, 400);
    // Each its own is taken, and read back in either version.
    assert_eq!(sim.put("/rest/api/2/issue/APO-3", &text).await.0, 204);
    let (_, v3) = sim.get("/rest/api/3/issue/APO-3?fields=description").await;
    assert_eq!(v3["fields"]["description"]["type"], "doc");
    assert_eq!(sim.put("/rest/api/3/issue/APO-3", &doc).await.0, 204);
    let (_, v2) = sim.get("/rest/api/2/issue/APO-3?fields=description").await;
    assert_eq!(v2["fields"]["description"], "a document");
    assert_eq!(sim.post("/rest/api/2/issue", &create).await.0, 201);
}

#[tokio::test]
async fn a_v3_comment_is_a_document() {
    let sim = Sim::small().await;
    let text = json!({"body": "plain words"});
    let doc = json!({"body": {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "a document"}]}
    ]}});
    let (_, before) = sim.get("/rest/api/3/issue/APO-3/comment").await;
    let (status, body) = sim.post("/rest/api/3/issue/APO-3/comment", &text).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"]["comment"], "Comment body is not valid!");
    // Nor with a transition: refused before the issue moves.
    let (_, transitions) = sim.get("/rest/api/3/issue/APO-3/transitions").await;
    let to = transitions["transitions"][0]["id"].clone();
    let (status, _) = sim
        .post(
            "/rest/api/3/issue/APO-3/transitions",
            &json!({"transition": {"id": to}, "update": {"comment": [{"add": text}]}}),
        )
        .await;
    assert_eq!(status, 400);
    let (_, after) = sim.get("/rest/api/3/issue/APO-3/comment").await;
    assert_eq!(after["total"], before["total"]);
    // v3 takes a document, v2 text.
    assert_eq!(
        sim.post("/rest/api/3/issue/APO-3/comment", &doc).await.0,
        201
    );
    assert_eq!(
        sim.post("/rest/api/2/issue/APO-3/comment", &text).await.0,
        201
    );
    let (_, after) = sim.get("/rest/api/3/issue/APO-3/comment").await;
    assert_eq!(after["total"], before["total"].as_u64().unwrap() + 2);
}

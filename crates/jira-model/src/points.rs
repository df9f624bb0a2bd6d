//! What an answer cost against Jira Cloud's hourly points quota: the one rule the client's
//! tally and jira-sim both charge by.
//!
//! Atlassian's published model ("Rate limiting", points-based quotas:
//! <https://developer.atlassian.com/cloud/jira/platform/rate-limiting/>; summarised in
//! docs/RATE-LIMITS.md):
//!
//! - every request costs a base of 1 point;
//! - a read adds, per object it returns, 1 for a core object (issue, project, dashboard,
//!   attachment), 2 for an identity object (user, group, project role, permission) and 1
//!   for anything else (a comment, a worklog, a history entry, a field);
//! - a write (`POST`/`PUT`/`PATCH`/`DELETE` that changes something) costs the base only.
//!
//! What the page does not say, decided here once: the objects of an answer are the
//! entries of its list (a top-level array, or the `issues`, `values`, `comments`,
//! `worklogs`, `histories`, `fields`, `transitions`, `issueTypes` or `projects` member of
//! a page; the histories of every issue of a bulk changelog fetch), or the answer itself
//! when it is one entity (it has an `id` or an `accountId`, or no list); a refused
//! request (429) and a server error cost nothing; any other answer that is not a success
//! costs the base.

use http::{Method, StatusCode};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Points every request costs.
pub const BASE_POINTS: u64 = 1;
/// Points an object of a core type (issue, project, attachment) adds to a read.
pub const CORE_POINTS: u32 = 1;
/// Points an identity object (user, group, role) adds to a read.
pub const IDENTITY_POINTS: u32 = 2;

/// `POST` endpoints that read (a search or a fetch by ids sent in the body).
const POST_READS: &[&str] = &[
    "/rest/api/3/search/jql",
    "/rest/api/3/search/approximate-count",
    "/rest/api/3/issue/bulkfetch",
    "/rest/api/3/changelog/bulkfetch",
    "/rest/api/3/worklog/list",
    "/rest/api/3/comment/list",
    "/rest/api/3/issue/{issueIdOrKey}/changelog/list",
    "/rest/api/3/field/search",
];

/// Path prefixes whose objects are identities (users, groups, roles, permissions).
const IDENTITY_PATHS: &[&str] = &[
    "/rest/api/3/user",
    "/rest/api/3/myself",
    "/rest/api/3/group",
    "/rest/api/3/role",
    "/rest/api/3/permission",
    "/rest/api/3/mypermissions",
];

/// `template` as a v3 template (v2 and v3 are one endpoint).
fn v3(template: &str) -> std::borrow::Cow<'_, str> {
    match template.strip_prefix("/rest/api/2/") {
        Some(rest) => format!("/rest/api/3/{rest}").into(),
        None => template.into(),
    }
}

/// Whether `method` on the path template `template` reads (so its objects are charged).
pub fn is_read(method: &Method, template: &str) -> bool {
    *method == Method::GET || *method == Method::POST && POST_READS.contains(&&*v3(template))
}

/// The points one object of an answer from `template` adds.
pub fn per_object(template: &str) -> u64 {
    let template = v3(template);
    let identity = IDENTITY_PATHS.iter().any(|p| template.starts_with(p));
    u64::from(if identity {
        IDENTITY_POINTS
    } else {
        CORE_POINTS
    })
}

/// What an answer with `objects` objects (see [`objects_returned`]) cost.
pub fn charged(method: &Method, template: &str, status: StatusCode, objects: u64) -> u64 {
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        0
    } else if !status.is_success() || !is_read(method, template) {
        BASE_POINTS
    } else {
        BASE_POINTS + per_object(template) * objects
    }
}

/// What a read of up to `objects` objects from `template` may cost: the estimate a limiter
/// reserves before the answer says.
pub fn estimate(method: &Method, template: &str, objects: u64) -> u32 {
    u32::try_from(charged(method, template, StatusCode::OK, objects)).unwrap_or(u32::MAX)
}

/// The objects an answer's body returns (see the module docs); 0 for an empty body or one
/// that is not JSON. An entity's answer is read only up to its `id` (an issue's is its
/// second member): whatever follows, it is one object.
pub fn objects_returned(body: &[u8]) -> u64 {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        Some(b'[') => serde_json::from_slice::<Counted>(body).map_or(0, |c| c.0),
        Some(b'{') => {
            // The read stops at an entity's `id` with an error, and says so here: no
            // error message is formatted to tell (this runs on every answer).
            let entity = std::cell::Cell::new(false);
            let mut reader = serde_json::Deserializer::from_slice(body);
            match AnswerSeed(&entity).deserialize(&mut reader) {
                Ok(answer) if reader.end().is_ok() => answer.objects(),
                Err(_) if entity.get() => 1,
                _ => 0,
            }
        }
        _ => 0,
    }
}

/// The length of a JSON array, 0 for any other value (read without building it).
#[derive(Default)]
struct Counted(u64);

/// Like [`Counted`] for a member that may hold something other than an array.
struct MaybeCounted(Option<u64>);

struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(Some(n))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
}

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Counted(
            deserializer.deserialize_any(CountVisitor)?.unwrap_or(0),
        ))
    }
}

impl<'de> Deserialize<'de> for MaybeCounted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CountVisitor).map(MaybeCounted)
    }
}

/// One issue's entry in a bulk changelog fetch: only its histories are counted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeLogs {
    #[serde(default)]
    change_histories: Counted,
}

/// What an object answer without an `id` or `accountId` (those stop the read: one
/// entity) says about its objects.
#[derive(Default)]
struct Answer {
    /// The first list member found.
    listed: Option<u64>,
}

impl Answer {
    fn objects(&self) -> u64 {
        self.listed.unwrap_or(1)
    }
}

/// Members of a page that list its objects.
const LIST_MEMBERS: &[&str] = &[
    "issues",
    "values",
    "comments",
    "worklogs",
    "histories",
    "fields",
    "transitions",
    "issueTypes",
    "projects",
];

/// Reads an [`Answer`]; meeting an `id` or `accountId` (one entity, whatever else it
/// holds) it sets its flag and stops the read with an error.
struct AnswerSeed<'a>(&'a std::cell::Cell<bool>);

impl<'de> DeserializeSeed<'de> for AnswerSeed<'_> {
    type Value = Answer;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Answer, D::Error> {
        struct AnswerVisitor<'a>(&'a std::cell::Cell<bool>);

        impl<'de> Visitor<'de> for AnswerVisitor<'_> {
            type Value = Answer;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Answer, A::Error> {
                let mut answer = Answer::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        // One entity, whatever else it holds: nothing more to read.
                        "id" | "accountId" => {
                            self.0.set(true);
                            return Err(de::Error::custom("an entity: one object"));
                        }
                        "issueChangeLogs" if answer.listed.is_none() => {
                            let logs: Vec<ChangeLogs> = map.next_value()?;
                            answer.listed = Some(logs.iter().map(|l| l.change_histories.0).sum());
                        }
                        list if answer.listed.is_none() && LIST_MEMBERS.contains(&list) => {
                            answer.listed = map.next_value::<MaybeCounted>()?.0;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(answer)
            }
        }

        deserializer.deserialize_map(AnswerVisitor(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: Method, template: &str, status: u16, body: &str) -> u64 {
        let status = StatusCode::from_u16(status).unwrap();
        charged(&method, template, status, objects_returned(body.as_bytes()))
    }

    #[test]
    fn atlassians_examples_cost_what_the_page_says() {
        // `GET /issue/ABC-123` = 2.
        let issue = r#"{"id": "10001", "key": "ABC-123", "fields": {"comment": {"comments": [{}, {}]}}, "transitions": [{}, {}, {}]}"#;
        assert_eq!(
            of(Method::GET, "/rest/api/3/issue/{issueIdOrKey}", 200, issue),
            2
        );
        // A user list of 8 = 1 + 16.
        let users = format!("[{}]", [r#"{"accountId": "a"}"#; 8].join(","));
        assert_eq!(of(Method::GET, "/rest/api/3/users/search", 200, &users), 17);
        // A create is a write: the base.
        assert_eq!(of(Method::POST, "/rest/api/3/issue", 201, issue), 1);
        // A bulk fetch of 100 issues: 101.
        let page = format!(
            r#"{{"issues": [{}], "issueErrors": []}}"#,
            ["{}"; 100].join(",")
        );
        assert_eq!(
            of(Method::POST, "/rest/api/3/issue/bulkfetch", 200, &page),
            101
        );
    }

    #[test]
    fn pages_count_their_list_and_a_bulk_changelog_its_histories() {
        let comments =
            r#"{"startAt": 0, "total": 3, "comments": [{"id": "1"}, {"id": "2"}, {"id": "3"}]}"#;
        assert_eq!(objects_returned(comments.as_bytes()), 3);
        let logs = r#"{"issueChangeLogs": [{"issueId": "1", "changeHistories": [{}, {}]}, {"issueId": "2", "changeHistories": [{}]}], "nextPageToken": "x"}"#;
        assert_eq!(objects_returned(logs.as_bytes()), 3);
        let feed = r#"{"values": [{"worklogId": 1}, {"worklogId": 2}], "lastPage": true}"#;
        assert_eq!(
            of(Method::GET, "/rest/api/2/worklog/updated", 200, feed),
            3,
            "v2 counts as v3"
        );
        assert_eq!(objects_returned(br#"{"count": 12}"#), 1);
        // An entity is one object whatever follows its id: the read stops there.
        assert_eq!(objects_returned(br#"{"values": [1, 2], "id": "7"}"#), 1);
        assert_eq!(
            objects_returned(br#"{"expand": "x", "id": "7", "fields": {"#),
            1
        );
        assert_eq!(objects_returned(br#"{"values": [1, 2"#), 0, "not JSON");
        assert_eq!(objects_returned(b""), 0);
        assert_eq!(objects_returned(b"[]"), 0);
    }

    #[test]
    fn refusals_and_server_errors_cost_nothing_other_failures_the_base() {
        assert_eq!(of(Method::GET, "/rest/api/3/field", 429, "{}"), 0);
        assert_eq!(of(Method::GET, "/rest/api/3/field", 503, "{}"), 0);
        let error = r#"{"errorMessages": ["nope"], "errors": {}}"#;
        assert_eq!(of(Method::POST, "/rest/api/3/search/jql", 400, error), 1);
        assert_eq!(
            of(Method::DELETE, "/rest/api/3/issue/{issueIdOrKey}", 204, ""),
            1
        );
    }
}

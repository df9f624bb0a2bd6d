//! The JQL subset's tests: parsing, Jira's messages, evaluation, properties.

use super::*;
use crate::config::SimConfig;
use crate::data::{self, STATUSES};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;
/// Properties the tests search by, as if an app declared them.
const INDEXED: &[String] = &[];

fn tenant() -> (Tenant, data::IssueStore) {
    let config = SimConfig {
        projects: 3,
        issues_per_project: 40,
        ..SimConfig::default()
    };
    data::generate(&config, NOW)
}

/// Counts the issues a query matches, or returns its error.
fn check(jql: &str, expected: Result<usize, &str>) {
    let (tenant, store) = tenant();
    let result = parse(jql, &tenant, NOW, &TimeZone::UTC, INDEXED).map(|mut query| {
        query.resolve_ids(&|id| store.by_id.get(&id).map(|i| (i.project, i.number)));
        store
            .by_id
            .values()
            .filter(|issue| query.matches(issue, &tenant))
            .count()
    });
    match expected {
        Ok(count) => assert_eq!(result, Ok(count), "{jql}"),
        Err(fragment) => {
            let error = result.expect_err(jql);
            assert!(error.contains(fragment), "{jql}: {error}");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    /// No query, however malformed, panics the parser or the evaluation: it is an
    /// answer or Jira's error.
    #[test]
    fn no_query_panics(words in proptest::collection::vec(
        proptest::prop_oneof![
            proptest::sample::select(vec![
                "(", ")", "NOT", "AND", "OR", "ORDER", "BY", "project", "=", "!=", "in",
                "~", ">", "<=", "APO", "\"", ",", "created", "-1d", "key", "empty", "is",
                "labels", "updated", "DESC", "status", "Done", "currentUser()", "\\",
            ]).prop_map(str::to_owned),
            "\\PC{0,12}",
        ],
        0..60,
    )) {
        let jql = words.join(" ");
        let (tenant, store) = tenant();
        if let Ok(query) = parse(&jql, &tenant, NOW, &TimeZone::UTC, INDEXED) {
            let mut issues: Vec<&IssueData> = store
                .by_id
                .values()
                .filter(|issue| query.matches(issue, &tenant))
                .collect();
            issues.sort_by(|a, b| query.compare(a, b));
        }
    }
}

#[test]
fn clauses() {
    check("project = APO", Ok(40));
    check("project = apo", Ok(40));
    check("project = 10001", Ok(40));
    check("project in (APO, BEA)", Ok(80));
    check("project not in (APO, BEA)", Ok(40));
    check("project != APO", Ok(80));
    check("key in (APO-1, APO-2, BEA-40, BEA-41)", Ok(3));
    check("issuekey = APO-7", Ok(1));
    check("project = APO OR project = COM", Ok(80));
    check(
        "(project = APO OR project = COM) AND NOT project = COM",
        Ok(40),
    );
    check("created <= -1d", Ok(120));
    check("created > -1d", Ok(0));
    check("updated >= 2000-01-01", Ok(120));
    check("updated >= \"2000/01/01 10:00\"", Ok(120));
    check("updated < '2000-01-01'", Ok(0));
}

#[test]
fn export_clauses_slice_and_filter() {
    // The 120 issues' ids are 10000..10120, APO-1 to APO-40, then BEA, then COM. `id` is
    // the issue key field's alias: a range is of key numbers within the project of the
    // issue with that id, never of ids across projects.
    check("id > 10010", Ok(29));
    check("id >= 10040", Ok(40));
    check("id >= 10000 AND id < 10060", Ok(0));
    check("id < 10060 OR id >= 10060", Ok(40));
    check("id > 10119", Ok(0));
    check("id > 99999", Ok(0));
    check("key > APO-30", Ok(10));
    check("key <= BEA-5 AND project = BEA", Ok(5));
    check("key < APO-0", Ok(0));
    check("id > x", Err("not a valid issue id"));
    check("key > NOPE-3", Err("is invalid"));
    // Epoch milliseconds: every generated issue is older than NOW.
    check(&format!("updated <= {NOW}"), Ok(120));
    check(&format!("updated > {NOW}"), Ok(0));
    // Text: every generated summary says what it is "for".
    check("summary ~ for AND project = APO", Ok(40));
    check("summary !~ for", Ok(0));
    check("text ~ \"zzzz-nothing\"", Ok(0));
    check("summary = for", Err("not supported"));
    // Resolution: exactly the done ones; Unresolved is the others.
    let (tenant, store) = tenant();
    let done = store
        .by_id
        .values()
        .filter(|i| STATUSES[i.status].2 == "done")
        .count();
    check("resolution = Done", Ok(done));
    check("resolution is EMPTY", Ok(120 - done));
    check("resolution = Unresolved", Ok(120 - done));
    check("statusCategory = Done", Ok(done));
    // currentUser() is the caller (the first user).
    let mine = store
        .by_id
        .values()
        .filter(|i| i.assignee == Some(0))
        .count();
    check("assignee = currentUser()", Ok(mine));
    check("assignee in (currentUser())", Ok(mine));
    check("assignee = membersOf(x)", Err("not supported"));
    drop(tenant);
}

#[test]
fn date_windows_partition() {
    let (tenant, store) = tenant();
    let count = |jql: &str| {
        let query = parse(jql, &tenant, NOW, &TimeZone::UTC, INDEXED).unwrap();
        store
            .by_id
            .values()
            .filter(|i| query.matches(i, &tenant))
            .count()
    };
    let recent = count("project = APO AND updated >= -30d");
    let older = count("project = APO AND updated < -30d");
    assert_eq!(recent + older, 40);
    assert_eq!(count("updated >= -4w"), count("updated >= -28d"));
    assert_eq!(count("updated >= -24h"), count("updated >= -1d"));
    assert_eq!(count("updated >= -1440m"), count("updated >= -1d"));
}

#[test]
fn errors_are_jiras() {
    check("", Err("Unbounded JQL"));
    check("ORDER BY created DESC", Err("Unbounded JQL"));
    check("votes ~ foo", Err("Field 'votes' does not exist"));
    check(
        "project = NOPE",
        Err("The value 'NOPE' does not exist for the field 'project'"),
    );
    check(
        "project = APO AND",
        Err("Expecting a field name before the end"),
    );
    check("project APO", Err("Expecting operator but got 'APO'"));
    check("project in (APO", Err("Expecting ')'"));
    check("project = \"APO", Err("not terminated"));
    check("created > yesterday", Err("Date value 'yesterday'"));
    check(
        "project = APO ORDER BY summary",
        Err("Not able to sort using field 'summary'"),
    );
    check(
        "project = APO project = BEA",
        Err("Expecting either 'OR' or 'AND'"),
    );
    check("assignee = now()", Err("function 'now' is not supported"));
    // Deep nesting and huge queries are Jira's 400, never a stack overflow.
    let deep = format!("{}project = APO{}", "(".repeat(5_000), ")".repeat(5_000));
    check(&deep, Err("nested too deeply"));
    let nots = format!("{}project = APO", "NOT ".repeat(5_000));
    check(&nots, Err("nested too deeply"));
    let wide = vec!["project = APO"; 5_000].join(" OR ");
    check(&wide, Err("more than 1000 clauses"));
    let fine = format!("{}project = APO{}", "(".repeat(50), ")".repeat(50));
    check(&fine, Ok(40));
}

#[test]
fn order_by_is_stable_and_directional() {
    let (tenant, store) = tenant();
    let sorted = |jql: &str| {
        let query = parse(jql, &tenant, NOW, &TimeZone::UTC, INDEXED).unwrap();
        let mut issues: Vec<&IssueData> = store
            .by_id
            .values()
            .filter(|i| query.matches(i, &tenant))
            .collect();
        issues.sort_by(|a, b| query.compare(a, b));
        issues.iter().map(|i| i.key.clone()).collect::<Vec<_>>()
    };
    let desc = sorted("project = APO ORDER BY key DESC");
    assert_eq!(desc.first().map(String::as_str), Some("APO-40"));
    let asc = sorted("project = APO ORDER BY key");
    assert_eq!(asc.first().map(String::as_str), Some("APO-1"));
    let by_updated = sorted("project in (APO, BEA) ORDER BY updated DESC");
    let updated_of = |key: &str| store.find(key).unwrap().updated_ms;
    assert!(
        by_updated
            .windows(2)
            .all(|w| updated_of(&w[0]) >= updated_of(&w[1]))
    );
}

#[test]
fn a_query_that_names_its_ids_is_searched_among_them() {
    let (tenant, store) = tenant();
    let ids: Vec<u64> = store.by_id.keys().copied().collect();
    let (a, b, c) = (ids[3], ids[50], ids[90]);
    let candidates = |jql: &str| {
        parse(jql, &tenant, NOW, &TimeZone::UTC, INDEXED)
            .expect(jql)
            .candidate_ids()
    };
    // The query a client pages a list of ids with: the ids, ascending, once each.
    let paged = format!("(project = APO AND updated <= 1796622430501) AND id in ({c}, {a}, {c})");
    assert_eq!(candidates(&paged), Some(vec![a, c]));
    // Both sides of an AND name ids: only those in both can match.
    let both = format!("id in ({a}, {b}) AND id = {b}");
    assert_eq!(candidates(&both), Some(vec![b]));
    // Anything else may match issues outside the list: every issue is evaluated.
    for jql in [
        format!("id in ({a}) OR project = APO"),
        format!("id not in ({a})"),
        "key in (APO-1, APO-2)".to_owned(),
        "id in (APO-1)".to_owned(),
        format!("id > {a}"),
        "project = APO".to_owned(),
    ] {
        assert_eq!(candidates(&jql), None, "{jql}");
    }
    // Among the candidates the filter still decides: an id of another project is named,
    // but does not match.
    let mut query = parse(&paged, &tenant, NOW, &TimeZone::UTC, INDEXED).unwrap();
    query.resolve_ids(&|id| store.by_id.get(&id).map(|i| (i.project, i.number)));
    let among: Vec<u64> = query
        .candidate_ids()
        .unwrap()
        .into_iter()
        .filter(|id| query.matches(&store.by_id[id], &tenant))
        .collect();
    let scanned: Vec<u64> = store
        .by_id
        .values()
        .filter(|issue| query.matches(issue, &tenant))
        .map(|issue| issue.id)
        .collect();
    assert_eq!(among, scanned);
}

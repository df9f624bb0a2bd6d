//! A query's issue ids in full, and the issues of chosen ids with their fields: how a
//! reader works through a query in id order on any Jira.
//!
//! JQL cannot page by id. `id` is an alias of the issue key field: `id > 10050` means
//! "a higher key number than the issue with id 10050, **in that issue's project**", and
//! `ORDER BY id` sorts by key (the [JQL reference's issue key
//! field](https://support.atlassian.com/jira-software-cloud/docs/jql-fields/#Issue-key);
//! Jira's `IssueIdClauseQueryFactory`). A cursor `AND id > <last id read>` over a query
//! that spans projects stops at the end of the first project. Instead a reader lists the
//! ids once, id-only by `nextPageToken` (5,000 a page, [`query_ids`]), sorts them, keeps
//! its cursor on its side, and reads the issues of each run of ids by equality
//! (`id in (...)`, [`search_pages_of_ids`]), which means the same on every Jira.
//!
//! Atlassian does not document what a page token is. Were it an offset, an issue that
//! leaves the results while they are listed would shift the later pages and an untouched
//! issue would be left out of the list: a list of more than one page is only a first
//! answer, and a reader that must miss nothing lists again once it has read the first
//! ([`QueryIds::missing_from`]). One page is one answer, and needs no second.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::Stream;
use futures_util::stream::{self, StreamExt};
use jira_model::{SEARCH_ID_PAGE_MAX, SearchPage};
use jira_transport::Transport;

use crate::Error;
use crate::search::{SearchOptions, fetch_page};

/// The ids a query matches, ascending, each once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryIds {
    /// The ids, ascending.
    pub ids: Vec<u64>,
    /// Search requests sent (a first page the caller gave counts none).
    pub requests: usize,
    /// Pages the list took, the caller's first page included: more than one, and an
    /// offset-like token may have left an issue out (list again to be sure).
    pub pages: usize,
}

impl QueryIds {
    /// The ids of `again` (a later listing of the same query) this listing lacks,
    /// ascending.
    pub fn missing_from(&self, again: &QueryIds) -> Vec<u64> {
        again
            .ids
            .iter()
            .filter(|id| self.ids.binary_search(id).is_err())
            .copied()
            .collect()
    }

    /// Whether the list took more than one page, so that a page token that is an offset
    /// may have left an issue out.
    pub fn paged(&self) -> bool {
        self.pages > 1
    }
}

/// Every id `jql` matches (which must hold no `ORDER BY`), listed id-only by
/// `nextPageToken`, 5,000 a page, then sorted; `first`: the listing's first page when the
/// caller has read it already (it is not asked again).
pub async fn query_ids<T: Transport>(
    transport: &T,
    jql: &str,
    first: Option<SearchPage>,
) -> Result<QueryIds, Error> {
    let options = SearchOptions {
        fields: Vec::new(),
        page_size: SEARCH_ID_PAGE_MAX,
        prefetch: false,
        limit: None,
    };
    let mut listed = QueryIds::default();
    let mut page = match first {
        Some(page) => page,
        None => {
            listed.requests += 1;
            fetch_page(transport, jql, &options, SEARCH_ID_PAGE_MAX, None).await?
        }
    };
    loop {
        listed.pages += 1;
        for issue in &page.issues {
            let id = issue.id.parse::<u64>().map_err(|_| {
                Error::Config(format!(
                    "search: the issue id {:?} in the answer to {jql:?} is not a number",
                    issue.id
                ))
            })?;
            listed.ids.push(id);
        }
        let token = match (page.next_page_token.take(), page.is_last) {
            (Some(token), false) if !page.issues.is_empty() => token,
            _ => break,
        };
        listed.requests += 1;
        page = fetch_page(transport, jql, &options, SEARCH_ID_PAGE_MAX, Some(token)).await?;
    }
    listed.ids.sort_unstable();
    listed.ids.dedup();
    Ok(listed)
}

/// Pages [`search_pages_of_ids`] has on the wire at once with `prefetch`: the ids known,
/// the next page need not wait for this one.
pub const PAGES_AHEAD: usize = 2;

/// The issues of `ids` that `jql` (which must hold no `ORDER BY`) matches, with
/// `options.fields`: a page a run of `options.page_size` ids (`(jql) AND id in (...)`),
/// in the order of `ids`, each page's issues in id order. An id the query no longer
/// matches (the issue changed or was deleted since it was listed) is simply absent. With
/// `options.prefetch`, [`PAGES_AHEAD`] pages are asked at once.
pub fn search_pages_of_ids<T: Transport + 'static>(
    transport: Arc<T>,
    jql: impl Into<String>,
    ids: Vec<u64>,
    options: SearchOptions,
) -> impl Stream<Item = Result<SearchPage, Error>> {
    let jql: Arc<str> = jql.into().into();
    let size = options.page_size.clamp(1, jira_model::SEARCH_PAGE_MAX) as usize;
    let runs: Vec<Vec<u64>> = ids.chunks(size).map(<[u64]>::to_vec).collect();
    let ahead = if options.prefetch { PAGES_AHEAD } else { 1 };
    stream::iter(runs)
        .map(move |run| {
            let (transport, jql, options) = (transport.clone(), jql.clone(), options.clone());
            async move {
                let listed: Vec<String> = run.iter().map(u64::to_string).collect();
                let of_ids = format!("({jql}) AND id in ({})", listed.join(", "));
                let mut page =
                    fetch_page(&*transport, &of_ids, &options, run.len() as u32, None).await?;
                let wanted: HashSet<&str> = listed.iter().map(String::as_str).collect();
                page.issues
                    .retain(|issue| wanted.contains(issue.id.as_str()));
                page.issues
                    .sort_by_key(|issue| issue.id.parse::<u64>().unwrap_or(u64::MAX));
                page.next_page_token = None;
                page.is_last = true;
                Ok(page)
            }
        })
        .buffered(ahead)
}

#[cfg(test)]
mod tests {
    use jira_transport::testing::{Scripted, Step};

    use super::*;

    fn page(ids: &[u64], token: Option<&str>) -> Step {
        let issues: Vec<String> = ids.iter().map(|id| format!(r#"{{"id":"{id}"}}"#)).collect();
        let body = match token {
            Some(token) => format!(
                r#"{{"issues":[{}],"nextPageToken":"{token}","isLast":false}}"#,
                issues.join(",")
            ),
            None => format!(r#"{{"issues":[{}],"isLast":true}}"#, issues.join(",")),
        };
        Step::json(200, &body)
    }

    fn body(request: &jira_model::ApiRequest) -> serde_json::Value {
        serde_json::from_slice(request.body.as_deref().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_listing_follows_the_tokens_sorts_and_a_second_finds_what_it_left_out() {
        // Ids as Jira's key order gives them: two projects, neither in id order of the
        // other. Between the two listings, an issue left the query while the first was
        // read, and its offset-like token skipped 10007.
        let site = Scripted::new([
            page(&[10_009, 10_001, 10_004], Some("t1")),
            page(&[10_002, 10_010], None),
            page(&[10_009, 10_001, 10_004], Some("t2")),
            page(&[10_007, 10_002, 10_010], None),
        ]);
        let first = query_ids(&site, "project in (A, B)", None).await.unwrap();
        assert_eq!(first.ids, [10_001, 10_002, 10_004, 10_009, 10_010]);
        assert_eq!((first.requests, first.pages), (2, 2));
        assert!(first.paged());
        let requests = site.requests();
        assert_eq!(body(&requests[0])["maxResults"], 5_000);
        assert!(body(&requests[0]).get("nextPageToken").is_none());
        assert_eq!(body(&requests[1])["nextPageToken"], "t1");
        assert_eq!(body(&requests[1])["jql"], "project in (A, B)");
        let again = query_ids(&site, "project in (A, B)", None).await.unwrap();
        assert_eq!(first.missing_from(&again), [10_007]);
    }

    #[tokio::test]
    async fn a_first_page_given_is_not_asked_again_and_one_page_is_one_answer() {
        let site = Scripted::new([]);
        let given: SearchPage =
            serde_json::from_str(r#"{"issues":[{"id":"3"},{"id":"1"}],"isLast":true}"#).unwrap();
        let listed = query_ids(&site, "project = A", Some(given)).await.unwrap();
        assert_eq!(listed.ids, [1, 3]);
        assert_eq!((listed.requests, listed.pages), (0, 1));
        assert!(!listed.paged());
        assert_eq!(site.count(), 0);
    }

    #[tokio::test]
    async fn pages_of_ids_ask_by_equality_and_keep_only_those_asked() {
        let site = Arc::new(Scripted::new([
            // Jira's order, and an id the page did not ask for.
            Step::json(
                200,
                r#"{"issues":[{"id":"12","key":"B-1"},{"id":"10","key":"A-1"},{"id":"99"}],"isLast":true}"#,
            ),
            Step::json(200, r#"{"issues":[],"isLast":true}"#),
        ]));
        let pages: Vec<SearchPage> = search_pages_of_ids(
            site.clone(),
            "updated <= 5",
            vec![10, 11, 12, 13],
            SearchOptions {
                fields: vec!["summary".into()],
                page_size: 3,
                prefetch: false,
                limit: None,
            },
        )
        .map(Result::unwrap)
        .collect()
        .await;
        let ids: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| p.issues.iter().map(|i| i.id.as_str()).collect())
            .collect();
        // 11 changed or was deleted since it was listed: absent, not an error.
        assert_eq!(ids, [vec!["10", "12"], vec![]]);
        let requests = site.requests();
        assert_eq!(
            body(&requests[0])["jql"],
            "(updated <= 5) AND id in (10, 11, 12)"
        );
        assert_eq!(body(&requests[0])["maxResults"], 3);
        assert_eq!(body(&requests[0])["fields"], serde_json::json!(["summary"]));
        assert_eq!(body(&requests[1])["jql"], "(updated <= 5) AND id in (13)");
    }
}

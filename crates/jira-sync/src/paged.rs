//! One issue's list of children (its worklogs, its history entries) read from the issue's
//! own endpoint, page after page, as Jira pages them: by `startAt`, with the list's
//! `total` and, on some endpoints, `isLast`.

use std::collections::HashSet;
use std::sync::Arc;

use jira_model::ApiRequest;
use jira_transport::Transport;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Error;
use crate::record::{At, Child};

/// A page of an issue's children, each kept as text: the items under `worklogs`
/// (`GET /issue/{id}/worklog`) or `values` (`GET /issue/{id}/changelog`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    is_last: Option<bool>,
    #[serde(default, alias = "worklogs", alias = "values")]
    items: Vec<Box<RawValue>>,
}

/// Every child of issue `issue_id` from the first page on, `page(issue, start_at)` asking
/// for each page, each child's time read as `at`; a child already held (by id) is not
/// taken twice, and the read ends on the last page, at the list's total, or on a page
/// that adds nothing (a list that shrank while it was read). The requests it took. An
/// issue gone since it was read has none (the census tombstones it); any other failure
/// names `what` and stops the run before its commit.
pub(crate) async fn issue_children<T: Transport>(
    transport: &Arc<T>,
    issue_id: u64,
    at: At,
    page: impl Fn(&str, u64) -> ApiRequest,
    what: &str,
) -> Result<(Vec<Child>, usize), Error> {
    let id = issue_id.to_string();
    let (mut children, mut held, mut requests) = (Vec::new(), HashSet::new(), 0);
    loop {
        let response = transport.send(page(&id, children.len() as u64)).await?;
        requests += 1;
        if response.status.as_u16() == 404 {
            return Ok((Vec::new(), requests));
        }
        if !response.is_success() {
            return Err(Error::Sync(format!(
                "sync: GET /rest/api/3/issue/{id}/{what} answered HTTP {}; nothing past the last commit was written, run again to resume",
                response.status.as_u16()
            )));
        }
        let page: Page = response.json()?;
        let mut added = false;
        for item in page.items {
            let child = Child::parse(item, Some(issue_id), at)?;
            if held.insert(child.id) {
                children.push(child);
                added = true;
            }
        }
        let done = page.is_last == Some(true)
            || page
                .total
                .is_some_and(|total| children.len() as u64 >= total);
        if !added || done {
            return Ok((children, requests));
        }
    }
}

//! Issues' complete histories: many issues' at once from `POST /changelog/bulkfetch`
//! (1,000 issues a call, every page followed), or, on a site that has no such endpoint
//! (it answers 404 or 405: an older or partial Jira), each issue's from
//! `GET /issue/{id}/changelog`, page after page. Either way nothing is left out: a sync
//! is slower on such a site, never incomplete.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt as _;
use jira_model::{ApiRequest, ApiResponse, ChangelogBulkPage, ChangelogBulkRequest};
use jira_transport::Transport;
use serde_json::value::RawValue;

use crate::Error;
use crate::record::{At, Child, numeric_id};

/// Issues whose histories are read side by side when they are read issue by issue.
const ISSUES_AT_ONCE: usize = 8;

/// The complete histories of `ids`, by issue id; the number of requests it took.
pub(crate) async fn histories<T: Transport>(
    transport: &Arc<T>,
    ids: &[u64],
) -> Result<(BTreeMap<u64, Vec<Child>>, usize), Error> {
    let mut all: BTreeMap<u64, Vec<Child>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    let mut requests = 0;
    for chunk in ids.chunks(jira_model::CHANGELOG_BULK_MAX_ISSUES) {
        let mut token = None;
        loop {
            let first = token.is_none();
            let body = ChangelogBulkRequest {
                issue_ids_or_keys: chunk.iter().map(u64::to_string).collect(),
                max_results: Some(jira_model::CHANGELOG_BULK_MAX_RESULTS),
                next_page_token: token,
                ..ChangelogBulkRequest::default()
            };
            let request = ApiRequest::changelog_bulk(&body)?;
            let response = transport.send(request).await?;
            requests += 1;
            if first && no_such_endpoint(&response) {
                requests += one_by_one(transport, chunk, &mut all).await?;
                break;
            }
            if !response.is_success() {
                return Err(Error::Sync(format!(
                    "sync: POST /rest/api/3/changelog/bulkfetch answered HTTP {}; run again to resume",
                    response.status.as_u16()
                )));
            }
            let page: ChangelogBulkPage<Box<RawValue>> = response.json()?;
            for log in page.issue_change_logs {
                let issue_id = numeric_id(&log.issue_id)?;
                let entries = all.entry(issue_id).or_default();
                for entry in log.change_histories {
                    entries.push(Child::parse(entry, Some(issue_id), At::Created)?);
                }
            }
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
    }
    Ok((all, requests))
}

/// Whether the site has no bulk changelog endpoint: a 404 or 405 to the first page (with
/// issues it cannot see, the endpoint leaves them out and answers 200).
pub(crate) fn no_such_endpoint(response: &ApiResponse) -> bool {
    matches!(response.status.as_u16(), 404 | 405)
}

/// Reads the histories of `ids` issue by issue into `all`; the requests it took.
async fn one_by_one<T: Transport>(
    transport: &Arc<T>,
    ids: &[u64],
    all: &mut BTreeMap<u64, Vec<Child>>,
) -> Result<usize, Error> {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        tracing::warn!(
            "sync: the site has no POST /rest/api/3/changelog/bulkfetch (it answered 404 or 405); histories are read issue by issue from GET /rest/api/3/issue/{{id}}/changelog, a request or more an issue, so the sync is slower but complete"
        );
    });
    let mut requests = 0;
    let reads = futures_util::stream::iter(ids.iter().copied())
        .map(|id| async move { (id, issue_history(transport, id).await) })
        .buffered(ISSUES_AT_ONCE);
    tokio::pin!(reads);
    while let Some((id, read)) = reads.next().await {
        let (entries, sent) = read?;
        requests += sent;
        all.insert(id, entries);
    }
    Ok(requests)
}

/// Every history entry of issue `issue_id`, oldest first, page after page; the requests
/// it took.
async fn issue_history<T: Transport>(
    transport: &Arc<T>,
    issue_id: u64,
) -> Result<(Vec<Child>, usize), Error> {
    let page = |id: &str, start: u64| {
        ApiRequest::issue_changelog(id, start, jira_model::ISSUE_CHANGELOG_PAGE_MAX)
    };
    crate::paged::issue_children(transport, issue_id, At::Created, page, "changelog").await
}

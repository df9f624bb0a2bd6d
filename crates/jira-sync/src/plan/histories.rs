//! The plan's sample of histories: every picked issue's, [`SAMPLE_HISTORIES`] issues a
//! request side by side, and what they hold an issue.
//!
//! A few issues in a hundred carry most of a site's entries (2,000 issues of jira-sim: 84
//! hold 9,554 of 24,673), and a quarter of the sample took them for twice the mean (22.5
//! entries an issue against 12.3), so the plan doubled the histories' points and a page's
//! changelog requests: every picked issue's history is read. A request whose histories
//! take more than the page the server answers goes on to the next (up to
//! [`SAMPLE_HISTORY_PAGES`]): Atlassian gives `maxResults` as a maximum, and counted from
//! its first page alone, a server that answers 1,000 entries a page would read as a site
//! of 40 entries an issue at most.

use std::sync::Arc;

use jira_model::RateLimitInfo;
use jira_model::{ApiRequest, ApiResponse, ChangelogBulkPage, ChangelogBulkRequest};
use jira_transport::Transport;

use super::{Sample, json};
use crate::Error;

/// Issues a sample's changelog request asks for: four requests side by side for the
/// sample's hundred issues, each answered in one page (10,000 entries asked) unless the
/// server answers fewer a page.
const SAMPLE_HISTORIES: usize = 25;
/// Pages a sample's changelog request reads at most: enough to tell a site of long
/// histories, whose cost the plan then counts.
const SAMPLE_HISTORY_PAGES: usize = 4;

/// The cursor of a changelog page, read without the rest of it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct NextPage {
    next_page_token: Option<String>,
}

/// The histories of `picked`, [`SAMPLE_HISTORIES`] issues a request side by side: each
/// request's pages.
pub(super) async fn read<T: Transport + 'static>(
    transport: &Arc<T>,
    picked: &[String],
) -> Result<Vec<Vec<ApiResponse>>, Error> {
    let requests = picked.chunks(SAMPLE_HISTORIES).map(|chunk| {
        let mut body = ChangelogBulkRequest {
            issue_ids_or_keys: chunk.to_vec(),
            max_results: Some(jira_model::CHANGELOG_BULK_MAX_RESULTS),
            ..ChangelogBulkRequest::default()
        };
        async move {
            let mut pages = Vec::new();
            loop {
                let response = transport.send(ApiRequest::changelog_bulk(&body)?).await?;
                let next = (pages.len() + 1 < SAMPLE_HISTORY_PAGES && response.status == 200)
                    .then(|| serde_json::from_slice::<NextPage>(&response.body).ok())
                    .flatten()
                    .and_then(|page| page.next_page_token);
                pages.push(response);
                match next {
                    Some(token) => body.next_page_token = Some(token),
                    None => return Ok::<_, Error>(pages),
                }
            }
        }
    });
    futures_util::future::try_join_all(requests).await
}

/// Entries an issue and bytes an entry of what [`read`] answered into `sample`; the rate
/// limit news of each answer (one a request).
pub(super) fn measure(
    answered: Vec<Vec<ApiResponse>>,
    picked: &[String],
    sample: &mut Sample,
) -> Result<Vec<RateLimitInfo>, Error> {
    let (mut entries, mut bytes, mut logged) = (0usize, 0.0, 0usize);
    let mut infos = Vec::new();
    for (pages, chunk) in answered.into_iter().zip(picked.chunks(SAMPLE_HISTORIES)) {
        let mut measured = false;
        for response in pages {
            infos.push(response.rate_limit_info());
            // A site without the bulk endpoint has its histories read issue by issue
            // (`crate::histories`); the sample then measures none.
            if crate::histories::no_such_endpoint(&response) {
                continue;
            }
            bytes += response.body.len() as f64;
            let logs: ChangelogBulkPage = json(response, "the sample changelog")?;
            entries += logs
                .issue_change_logs
                .iter()
                .map(|l| l.change_histories.len())
                .sum::<usize>();
            measured = true;
        }
        if measured {
            logged += chunk.len();
        }
    }
    if logged > 0 {
        sample.history_per_issue = entries as f64 / logged as f64;
        sample.entry_bytes = bytes / entries.max(1) as f64;
    }
    Ok(infos)
}

//! [`search`]: every issue a JQL query matches, as a stream, one page in memory at a time.

use std::sync::Arc;

use futures_util::Stream;
use futures_util::stream::{self, StreamExt};
use jira_model::{ApiRequest, ErrorClass, Issue, SearchPage, SearchRequest};
use jira_transport::Transport;

use crate::Error;

/// How to page through a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchOptions {
    /// Fields to return (Jira returns only ids when empty).
    pub fields: Vec<String>,
    /// Issues per page (Jira allows up to 100 with fields, 5,000 ids only).
    pub page_size: u32,
    /// Fetch the next page while the caller consumes this one (two pages in memory at most).
    pub prefetch: bool,
    /// The most issues to read in all: a page asks for no more than are still wanted, and
    /// none is asked once they are read. `None`: every issue the query matches.
    pub limit: Option<usize>,
}

impl SearchOptions {
    /// The `maxResults` of the next page once `read` issues have been: the page size, or
    /// fewer when the limit is closer; `None` once the limit is read.
    fn next_page_size(&self, read: usize) -> Option<u32> {
        match self.limit {
            None => Some(self.page_size),
            Some(limit) if read >= limit => None,
            Some(limit) => Some(
                u32::try_from(limit - read)
                    .unwrap_or(u32::MAX)
                    .clamp(1, self.page_size.max(1)),
            ),
        }
    }
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            fields: vec!["summary".into(), "status".into(), "updated".into()],
            page_size: 100,
            prefetch: true,
            limit: None,
        }
    }
}

pub(crate) async fn fetch_page<T: Transport>(
    transport: &T,
    jql: &str,
    options: &SearchOptions,
    page_size: u32,
    token: Option<String>,
) -> Result<SearchPage, Error> {
    let body = SearchRequest {
        jql: jql.to_owned(),
        next_page_token: token,
        max_results: Some(page_size),
        fields: options.fields.clone(),
        expand: None,
    };
    let request = ApiRequest::search(&body)?;
    let path = request.path.clone();
    // A 200 whose body does not decode (cut short or garbled on the way) is asked for
    // again, as a bulk fetch is: a search is a read.
    let mut attempt = 1;
    let response = loop {
        let response = transport.send(request.clone()).await?;
        if response.classify() != ErrorClass::Success {
            break response;
        }
        match response.json::<SearchPage>() {
            Ok(page) => return Ok(page),
            Err(error) if attempt < crate::fetch::UNDECODABLE_ATTEMPTS => {
                tracing::warn!(%error, attempt, "a search page did not decode; asking again");
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    };
    // The query is the only input of a search a person writes: any 400 is its refusal.
    match response.classify() {
        ErrorClass::InvalidJql | ErrorClass::Client if response.status.as_u16() == 400 => {
            Err(invalid_jql(jql, &response))
        }
        ErrorClass::Removed => Err(Error::Removed {
            path,
            message: response
                .error_collection()
                .map(|e| e.summary())
                .unwrap_or_default(),
        }),
        _ => Err(
            jira_transport::Error::from_response(&http::Method::POST, &path, response)
                .err()
                .map(Error::Transport)
                .unwrap_or_else(|| {
                    Error::Config("unreachable: a success classified as failure".into())
                }),
        ),
    }
}

/// A search's 400 as [`Error::InvalidJql`]: Jira's message and the hint that matches it.
pub fn invalid_jql(jql: &str, response: &jira_model::ApiResponse) -> Error {
    let message = response
        .error_collection()
        .map(|e| e.summary())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&response.body)
                .chars()
                .take(300)
                .collect()
        });
    Error::InvalidJql {
        jql: jql.to_owned(),
        hint: jql_hint(&message),
        message,
    }
}

/// The fix for the kind of problem Jira's `message` names, if it names one.
pub fn jql_hint(message: &str) -> Option<String> {
    let lower = message.to_lowercase();
    let hint = if lower.contains("unbounded") || lower.contains("search restriction") {
        "bound it, e.g. `project = PROJ AND updated >= -30d`"
    } else if lower.starts_with("field '")
        || lower.contains("field '") && lower.contains("does not exist or")
    {
        "a field in JQL is its name or id as the site lists it (`jira-ops cache warm --fields`, GET /rest/api/3/field); quote names with spaces, e.g. '\"Story Points\" > 3'"
    } else if lower.contains("the value '") && lower.contains("does not exist") {
        "check the value: a project key, a status or user the site has (names are matched exactly; quote values with spaces)"
    } else if lower.contains("function")
        && (lower.contains("not supported") || lower.contains("does not exist"))
    {
        "check the function's name and arguments, e.g. currentUser(), startOfDay(-7)"
    } else if lower.contains("error in the jql query")
        || lower.contains("expecting")
        || lower.contains("reserved")
    {
        "a syntax error: check the query near the place Jira names; quote values with spaces or reserved characters"
    } else {
        return None;
    };
    Some(hint.to_owned())
}

enum State {
    Next(Option<String>),
    Prefetched(tokio::task::JoinHandle<Result<SearchPage, Error>>),
    Done,
}

/// The pages of a search, following `nextPageToken` until `isLast` (or until
/// [`SearchOptions::limit`] issues are read).
pub fn search_pages<T: Transport + 'static>(
    transport: Arc<T>,
    jql: impl Into<String>,
    options: SearchOptions,
) -> impl Stream<Item = Result<SearchPage, Error>> {
    let jql: Arc<str> = jql.into().into();
    stream::unfold((State::Next(None), 0usize), move |(state, read)| {
        let (transport, jql, options) = (transport.clone(), jql.clone(), options.clone());
        async move {
            let page = match state {
                State::Done => return None,
                State::Next(token) => {
                    let size = options.next_page_size(read)?;
                    fetch_page(&*transport, &jql, &options, size, token).await
                }
                State::Prefetched(handle) => handle
                    .await
                    .unwrap_or_else(|e| Err(Error::Config(format!("prefetch task failed: {e}")))),
            };
            let page = match page {
                Ok(page) => page,
                Err(error) => return Some((Err(error), (State::Done, read))),
            };
            let read = read + page.issues.len();
            let next = match (&page.next_page_token, page.is_last) {
                _ if options.next_page_size(read).is_none() => State::Done,
                (Some(token), false) if options.prefetch => {
                    let (transport, jql, options, token) = (
                        transport.clone(),
                        jql.clone(),
                        options.clone(),
                        token.clone(),
                    );
                    let size = options.next_page_size(read).unwrap_or(1);
                    State::Prefetched(tokio::spawn(async move {
                        fetch_page(&*transport, &jql, &options, size, Some(token)).await
                    }))
                }
                (Some(token), false) => State::Next(Some(token.clone())),
                _ => State::Done,
            };
            Some((Ok(page), (next, read)))
        }
    })
}

/// Every issue of a search, one page in memory at a time (two with prefetch).
pub fn search<T: Transport + 'static>(
    transport: Arc<T>,
    jql: impl Into<String>,
    options: SearchOptions,
) -> impl Stream<Item = Result<Issue, Error>> {
    search_pages(transport, jql, options).flat_map(|page| match page {
        Ok(page) => stream::iter(page.issues.into_iter().map(Ok).collect::<Vec<_>>()),
        Err(error) => stream::iter(vec![Err(error)]),
    })
}

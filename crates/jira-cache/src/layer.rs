//! [`Cached`]: a read-through layer. GETs of issues, projects, fields and users and
//! enhanced-search pages are answered from the cache when fresh (a hit never reaches the
//! wire); writes through it invalidate what they change.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use jira_model::{ApiRequest, ApiResponse};
use jira_transport::Transport;

use crate::cache::{JiraCache, Target};
use crate::pattern::Pattern;
use crate::store::CacheStore;
use crate::{Category, Error};

/// A cached answer is marked with this header.
pub const CACHE_HEADER: &str = "x-jira-ops-cache";

/// Caches `T`'s answers in a [`JiraCache`].
pub struct Cached<T, S> {
    inner: T,
    cache: JiraCache<S>,
}

impl<T, S> Cached<T, S> {
    /// Wraps `inner`.
    pub fn new(inner: T, cache: JiraCache<S>) -> Self {
        Cached { inner, cache }
    }

    /// The cache.
    pub fn cache(&self) -> &JiraCache<S> {
        &self.cache
    }
}

/// The cache slot of a read: category and key. Issues are keyed by their key first, so
/// `PROJ-*` in category `issue` names a project's issues.
fn slot(request: &ApiRequest) -> Option<(Category, String)> {
    let template = request
        .path_template
        .replace("/rest/api/2/", "/rest/api/3/");
    let mut query: Vec<String> = request
        .query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    query.sort();
    let query = query.join("&");
    let last_segment = request.path.rsplit('/').next().unwrap_or_default();
    let body = request
        .body
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    match (&request.method, template.as_str()) {
        (&Method::GET, "/rest/api/3/issue/{issueIdOrKey}") => Some((
            Category::Issue,
            format!("{}?{query}", last_segment.to_ascii_uppercase()),
        )),
        (&Method::GET, "/rest/api/3/project/{projectIdOrKey}") => {
            Some((Category::Project, format!("project:{last_segment}")))
        }
        (&Method::GET, "/rest/api/3/project/search") => {
            Some((Category::Project, format!("project-search?{query}")))
        }
        (&Method::GET, "/rest/api/3/field") => Some((Category::Field, "fields".into())),
        (&Method::GET, "/rest/api/3/users/search") => {
            Some((Category::User, format!("users?{query}")))
        }
        (&Method::GET, "/rest/api/3/search/jql") => {
            Some((Category::Search, format!("search:{query}")))
        }
        (&Method::POST, "/rest/api/3/search/jql") => {
            Some((Category::Search, format!("search:{body}")))
        }
        _ => None,
    }
}

/// The cache key of an issue fetched with these `fields` and `expand`, shared by the
/// read-through layer and the batcher's bulk fetches: `PROJ-1?fields=summary,status`.
pub fn issue_cache_key(issue_key: &str, fields: &[&str], expand: &[&str]) -> String {
    let mut query = Vec::new();
    if !expand.is_empty() {
        query.push(format!("expand={}", expand.join(",")));
    }
    if !fields.is_empty() {
        query.push(format!("fields={}", fields.join(",")));
    }
    issue_key_with_query(issue_key, &query.join("&"))
}

/// Everything cached for one issue: the plain key and every fields/expand variant of
/// [`issue_cache_key`]. What `jira-ops cache clear --category issue --key K` removes, and
/// what a write to the issue invalidates.
pub fn issue_targets(issue_key: &str) -> Vec<Target> {
    let key = issue_key.to_ascii_uppercase();
    let mut targets = vec![Target::Key(Category::Issue, key.clone())];
    if let Ok(pattern) = Pattern::new(&format!("{}\\?*", Pattern::escape(&key))) {
        targets.push(Target::Pattern(Category::Issue, pattern));
    }
    targets
}

fn issue_key_with_query(issue_key: &str, sorted_query: &str) -> String {
    format!("{}?{sorted_query}", issue_key.to_ascii_uppercase())
}

/// What a successful write invalidates: the issue's entries and the search pages that
/// mention its project (search keys hold the JQL).
fn invalidations(request: &ApiRequest) -> Vec<Target> {
    let template = request.path_template;
    let issue = match (&request.method, template) {
        (&Method::PUT | &Method::DELETE, "/rest/api/3/issue/{issueIdOrKey}")
        | (&Method::POST, "/rest/api/3/issue/{issueIdOrKey}/comment") => request
            .path
            .trim_end_matches("/comment")
            .rsplit('/')
            .next()
            .map(str::to_ascii_uppercase),
        _ => None,
    };
    let mut projects = Vec::new();
    let mut targets = Vec::new();
    if let Some(issue) = &issue {
        targets.extend(issue_targets(issue));
        if let Some((project, _)) = issue.rsplit_once('-') {
            projects.push(project.to_owned());
        }
    }
    if request.method == Method::POST
        && matches!(template, "/rest/api/3/issue" | "/rest/api/3/issue/bulk")
        && let Some(body) = &request.body
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
    {
        let updates = value
            .get("issueUpdates")
            .and_then(|u| u.as_array().cloned())
            .unwrap_or_else(|| vec![value.clone()]);
        for update in updates {
            if let Some(key) = update
                .pointer("/fields/project/key")
                .and_then(|k| k.as_str())
            {
                projects.push(key.to_ascii_uppercase());
            }
        }
    }
    projects.sort();
    projects.dedup();
    for project in projects {
        if let Ok(pattern) = Pattern::new(&format!("*{}*", Pattern::escape(&project))) {
            targets.push(Target::Pattern(Category::Search, pattern));
        }
    }
    targets
}

/// Escapes glob characters in a literal.
fn layer_error(error: Error) -> jira_transport::Error {
    jira_transport::Error::Layer {
        layer: "cache",
        source: Box::new(error),
    }
}

impl<T: Transport, S: CacheStore> Transport for Cached<T, S> {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, jira_transport::Error> {
        if let Some((category, key)) = slot(&request) {
            if let Some(body) = self
                .cache
                .get_raw(&category, &key)
                .await
                .map_err(layer_error)?
            {
                let mut headers = HeaderMap::new();
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                headers.insert(CACHE_HEADER, HeaderValue::from_static("hit"));
                return Ok(ApiResponse {
                    status: StatusCode::OK,
                    headers,
                    body: body.into(),
                    elapsed: Duration::ZERO,
                });
            }
            let response = self.inner.send(request).await?;
            if response.status == StatusCode::OK
                && let Err(error) = self
                    .cache
                    .set_raw(&category, &key, &response.body, None)
                    .await
            {
                tracing::warn!(%error, "could not cache an answer; it is returned all the same");
            }
            return Ok(response);
        }
        let targets = if request.is_write() || request.method == Method::POST {
            invalidations(&request)
        } else {
            Vec::new()
        };
        let response = self.inner.send(request).await?;
        if response.is_success() {
            for target in &targets {
                if let Err(error) = self.cache.invalidate(target).await {
                    tracing::warn!(%error, "could not invalidate after a write");
                }
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_invalidations() {
        let get = ApiRequest::get_issue("proj-7", &["summary"], &[]);
        assert_eq!(
            slot(&get),
            Some((Category::Issue, "PROJ-7?fields=summary".into()))
        );
        assert_eq!(
            slot(&ApiRequest::fields()),
            Some((Category::Field, "fields".into()))
        );
        let update = ApiRequest::update_issue("PROJ-7", &Default::default()).unwrap();
        assert_eq!(slot(&update), None);
        let targets = invalidations(&update);
        assert!(matches!(&targets[0], Target::Key(Category::Issue, k) if k == "PROJ-7"));
        assert!(
            matches!(&targets[1], Target::Pattern(Category::Issue, p) if p.matches("PROJ-7?fields=summary") && !p.matches("PROJ-70?"))
        );
        assert!(
            matches!(&targets[2], Target::Pattern(Category::Search, p) if p.matches("search:{\"jql\":\"project = PROJ\"}"))
        );
        assert_eq!(Pattern::escape("a*b?"), "a\\*b\\?");
    }
}

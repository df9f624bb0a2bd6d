//! [`Cached`]: a read-through layer. GETs of issues, projects, fields and users and
//! enhanced-search pages are answered from the cache when fresh (a hit never reaches the
//! wire); misses share one request per key (single flight); an entry just past its TTL is
//! served while one background refresh runs (stale-while-revalidate) and a stale entry
//! stands in when the fetch fails (stale-if-error); writes through it invalidate what they
//! change. A failing store never costs an answer: its first error is reported once, the
//! store is dropped for the rest of the layer's life, and requests go to Jira uncached.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use jira_model::{ApiRequest, ApiResponse, Endpoint};
use jira_transport::Transport;
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use crate::cache::{JiraCache, RawRead, Target};
use crate::pattern::Pattern;
use crate::store::CacheStore;
use crate::{Category, Error};

/// A cached answer is marked with this header: `hit`, `stale` (served while a refresh
/// runs) or `stale-if-error` (served because the fetch failed).
pub const CACHE_HEADER: &str = "x-jira-ops-cache";

/// Caches `T`'s answers in a [`JiraCache`].
pub struct Cached<T, S> {
    inner: Arc<T>,
    cache: JiraCache<S>,
    flights: Flights,
    dropped: Dropped,
}

/// Set once the store failed: from then on the layer passes every request through.
#[derive(Clone, Default)]
struct Dropped(Arc<AtomicBool>);

impl Dropped {
    fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Drops the store after `error` (reported the first time only).
    fn fail(&self, error: &Error, doing: &str) {
        if !self.0.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %error,
                "the cache store failed while {doing}; going on without the cache (answers come from Jira); if it keeps failing, fix or clear the store (jira-ops: `cache clear --reset`, or JIRA_OPS_CACHE_STORE=none)"
            );
        }
    }
}

/// Fetches in flight, by store key: every caller missing one key waits for one request.
type Flights = Arc<Mutex<HashMap<String, Arc<OnceCell<Shared>>>>>;

/// What one fetch gives the callers that waited for it.
#[derive(Clone)]
enum Shared {
    Answer(ApiResponse),
    Failed {
        message: String,
        not_performed: bool,
        response: Option<ApiResponse>,
    },
}

/// A fetch another caller made failed; this caller shares its failure.
#[derive(Debug, thiserror::Error)]
#[error("the shared fetch of this entry failed: {0}")]
struct SharedFailure(String);

impl<T, S> Cached<T, S> {
    /// Wraps `inner`.
    pub fn new(inner: T, cache: JiraCache<S>) -> Self {
        Cached {
            inner: Arc::new(inner),
            cache,
            flights: Flights::default(),
            dropped: Dropped::default(),
        }
    }

    /// Whether the store failed and the layer now passes every request to Jira.
    pub fn store_dropped(&self) -> bool {
        self.dropped.is_set()
    }

    /// The cache.
    pub fn cache(&self) -> &JiraCache<S> {
        &self.cache
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

/// Builder method that puts a [`Cached`] layer over any transport.
pub trait CacheExt: Transport + Sized {
    /// Reads through `cache`; writes invalidate what they change.
    fn with_cache<S: CacheStore>(self, cache: JiraCache<S>) -> Cached<Self, S> {
        Cached::new(self, cache)
    }
}

impl<T: Transport> CacheExt for T {}

/// The cache slot of a read: category and key. Issues are keyed by their key first, so
/// `PROJ-*` in category `issue` names a project's issues. REST v2 (and `latest`, which is
/// v2) renders bodies differently (plain-text descriptions and comments), so a v2 read has
/// slots of its own: `PROJ-1?v2&fields=…`, `v2:fields`.
fn slot(request: &ApiRequest) -> Option<(Category, String)> {
    let (category, key) = v3_slot(request)?;
    let v2 =
        request.path.starts_with("/rest/api/2/") || request.path.starts_with("/rest/api/latest/");
    if !v2 {
        return Some((category, key));
    }
    Some(match key.split_once('?') {
        Some((issue, query)) if category == Category::Issue => {
            (category, format!("{issue}?v2&{query}"))
        }
        _ => (category, format!("v2:{key}")),
    })
}

/// The slot of a read as REST v3 spells it.
fn v3_slot(request: &ApiRequest) -> Option<(Category, String)> {
    let sorted_query = || sorted_query(request);
    let last_segment = request.path.rsplit('/').next().unwrap_or_default();
    match request.endpoint {
        Endpoint::GetIssue => Some((Category::Issue, issue_read_key(last_segment, request))),
        Endpoint::GetProject => Some((Category::Project, format!("project:{last_segment}"))),
        Endpoint::ProjectSearch => Some((
            Category::Project,
            format!("project-search?{}", sorted_query()),
        )),
        Endpoint::Fields => Some((Category::Field, "fields".into())),
        Endpoint::UsersSearch => Some((Category::User, format!("users?{}", sorted_query()))),
        Endpoint::SearchGet => Some((Category::Search, format!("search:{}", sorted_query()))),
        Endpoint::SearchPost => {
            let body = request
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Some((Category::Search, format!("search:{body}")))
        }
        _ => None,
    }
}

/// The query as `k=v` pairs, sorted and joined with `&`: one spelling per parameter set.
fn sorted_query(request: &ApiRequest) -> String {
    let mut query: Vec<String> = request
        .query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    query.sort();
    query.join("&")
}

/// The key of a single-issue GET: [`issue_cache_key`] when it asks only for fields and
/// expansions (so it shares entries with bulk fetches and warmers), else every parameter.
fn issue_read_key(issue_key: &str, request: &ApiRequest) -> String {
    let mut fields = Vec::new();
    let mut expand = Vec::new();
    for (name, value) in &request.query {
        let list = match name.as_str() {
            "fields" => &mut fields,
            "expand" => &mut expand,
            _ => {
                return format!(
                    "{}?{}",
                    issue_key.to_ascii_uppercase(),
                    sorted_query(request)
                );
            }
        };
        list.extend(value.split(',').map(str::trim).filter(|v| !v.is_empty()));
    }
    issue_cache_key(issue_key, &fields, &expand)
}

/// The cache key of an issue fetched with these `fields` and `expand`: the one key builder
/// for issue entries, shared by the read-through layer, the batcher's bulk fetches and the
/// warmers, so the same field set always meets the same entry. Names are trimmed, sorted
/// and deduplicated: `PROJ-1?fields=status,summary`.
pub fn issue_cache_key(issue_key: &str, fields: &[&str], expand: &[&str]) -> String {
    let normalise = |names: &[&str]| {
        let mut names: Vec<&str> = names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        names.join(",")
    };
    let mut query = Vec::new();
    let expand = normalise(expand);
    if !expand.is_empty() {
        query.push(format!("expand={expand}"));
    }
    let fields = normalise(fields);
    if !fields.is_empty() {
        query.push(format!("fields={fields}"));
    }
    format!("{}?{}", issue_key.to_ascii_uppercase(), query.join("&"))
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

/// What a successful write invalidates: the entries of every issue it changes (a write
/// to an issue's path or under it: edit, transition, assignee, comment, worklog, property;
/// both ends of a new link; the issues a bulk operation names) and the search pages that
/// mention their projects (search keys hold the JQL).
pub fn invalidations(request: &ApiRequest) -> Vec<Target> {
    let mut issues: Vec<String> = Vec::new();
    if request.method != Method::GET
        && let Some(issue) = request.issue_in_path()
    {
        issues.push(issue);
    }
    let body = || {
        request
            .body
            .as_ref()
            .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
    };
    let template = request.path_template;
    if template.ends_with("/issueLink")
        && let Some(body) = body()
    {
        for end in [
            "/inwardIssue/key",
            "/outwardIssue/key",
            "/inwardIssue/id",
            "/outwardIssue/id",
        ] {
            if let Some(issue) = body.pointer(end).and_then(|v| v.as_str()) {
                issues.push(issue.to_owned());
            }
        }
    }
    if template.contains("/bulk/issues/")
        && let Some(body) = body()
    {
        // Edits and deletes name the issues at the top; transitions in each input.
        let inputs = body.get("bulkTransitionInputs").and_then(|v| v.as_array());
        let lists = std::iter::once(&body).chain(inputs.into_iter().flatten());
        for list in lists.filter_map(|v| v.get("selectedIssueIdsOrKeys")?.as_array()) {
            issues.extend(list.iter().filter_map(|v| v.as_str()).map(str::to_owned));
        }
    }
    let mut projects = Vec::new();
    if request.endpoint.creates_issues()
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
    let issues: Vec<&str> = issues.iter().map(String::as_str).collect();
    let mut targets = issues_changed(&issues);
    projects.sort();
    projects.dedup();
    targets.extend(project_searches(&projects));
    targets
}

/// What a change to `issues` (keys or ids) invalidates: each one's entries
/// ([`issue_targets`]) and the search pages that mention its project. The rule writes
/// through the layer follow, and what a webhook naming the issues removes.
pub fn issues_changed(issues: &[&str]) -> Vec<Target> {
    let mut projects = Vec::new();
    let mut targets = Vec::new();
    for issue in issues {
        let issue = issue.to_ascii_uppercase();
        targets.extend(issue_targets(&issue));
        if let Some((project, _)) = issue.rsplit_once('-') {
            projects.push(project.to_owned());
        }
    }
    projects.sort();
    projects.dedup();
    targets.extend(project_searches(&projects));
    targets
}

/// The search pages whose JQL mentions one of `projects`.
fn project_searches(projects: &[String]) -> Vec<Target> {
    projects
        .iter()
        .filter_map(|project| Pattern::new(&format!("*{}*", Pattern::escape(project))).ok())
        .map(|pattern| Target::Pattern(Category::Search, pattern))
        .collect()
}

/// An answer served from the cache, marked `how`.
fn from_cache(payload: Vec<u8>, how: &'static str) -> ApiResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(CACHE_HEADER, HeaderValue::from_static(how));
    ApiResponse::local(StatusCode::OK, headers, payload.into())
}

impl<T, S> Cached<T, S>
where
    T: Transport + 'static,
    S: CacheStore,
{
    /// Sends `request` once for every caller missing `store_key` at the same time, and
    /// stores a 200 answer. The caller that sent it gets its own outcome; the others share
    /// it (a failure as the same status, or as a [`SharedFailure`]).
    async fn fetch_once(
        inner: &Arc<T>,
        cache: &JiraCache<S>,
        flights: &Flights,
        dropped: &Dropped,
        request: ApiRequest,
        category: &Category,
        key: &str,
    ) -> Result<ApiResponse, jira_transport::Error> {
        let store_key = cache.store_key(category, key);
        let flight = flights
            .lock()
            .entry(store_key.clone())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let (method, path) = (request.method.clone(), request.path.clone());
        let mut own = None;
        let shared = flight
            .get_or_init(|| async {
                // A body left on the wire for its caller (not JSON) is never stored.
                let streamed = request.stream_to.clone();
                let outcome = inner.send(request).await;
                let shared = match &outcome {
                    Ok(response) => {
                        if response.status == StatusCode::OK
                            && !streamed.as_ref().is_some_and(|s| s.is_filled())
                            && !dropped.is_set()
                            && let Err(error) =
                                cache.set_raw(category, key, &response.body, None).await
                        {
                            dropped.fail(&error, "storing an answer");
                        }
                        Shared::Answer(response.clone())
                    }
                    Err(error) => Shared::Failed {
                        message: error.to_string(),
                        not_performed: error.not_performed(),
                        response: error.response().cloned(),
                    },
                };
                own = Some(outcome);
                shared
            })
            .await
            .clone();
        {
            let mut flights = flights.lock();
            if flights
                .get(&store_key)
                .is_some_and(|f| Arc::ptr_eq(f, &flight))
            {
                flights.remove(&store_key);
            }
        }
        if let Some(outcome) = own {
            return outcome;
        }
        match shared {
            Shared::Answer(response) => Ok(response),
            Shared::Failed {
                response: Some(response),
                ..
            } => Err(jira_transport::Error::Status {
                method,
                path,
                response: Box::new(response),
            }),
            Shared::Failed {
                message,
                not_performed,
                response: None,
            } => Err(if not_performed {
                jira_transport::Error::layer_before_sending("cache", SharedFailure(message))
            } else {
                jira_transport::Error::layer_after_sending("cache", SharedFailure(message))
            }),
        }
    }
}

impl<T, S> Transport for Cached<T, S>
where
    T: Transport + 'static,
    S: CacheStore,
{
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, jira_transport::Error> {
        if self.dropped.is_set() {
            return self.inner.send(request).await;
        }
        let Some((category, key)) = slot(&request) else {
            let targets = if request.is_write() || request.method == Method::POST {
                invalidations(&request)
            } else {
                Vec::new()
            };
            let response = self.inner.send(request).await?;
            if response.is_success() {
                for target in &targets {
                    if let Err(error) = self.cache.invalidate(target).await {
                        self.dropped.fail(&error, "invalidating after a write");
                        break;
                    }
                }
            }
            return Ok(response);
        };
        let read = match self.cache.read_raw(&category, &key).await {
            Ok(read) => read,
            Err(error) => {
                self.dropped.fail(&error, "reading");
                return self.inner.send(request).await;
            }
        };
        let stale = match read {
            RawRead::Fresh(payload) => return Ok(from_cache(payload, "hit")),
            RawRead::Stale {
                payload,
                within_grace: true,
            } => {
                // Serve it, and refresh it once in the background.
                let (inner, cache, flights, dropped) = (
                    self.inner.clone(),
                    self.cache.clone(),
                    self.flights.clone(),
                    self.dropped.clone(),
                );
                tokio::spawn(async move {
                    if let Err(error) = Self::fetch_once(
                        &inner, &cache, &flights, &dropped, request, &category, &key,
                    )
                    .await
                    {
                        tracing::warn!(%error, "background refresh failed; the stale entry stays");
                    }
                });
                return Ok(from_cache(payload, "stale"));
            }
            RawRead::Stale { payload, .. } => Some(payload),
            RawRead::Missing => None,
        };
        let outcome = Self::fetch_once(
            &self.inner,
            &self.cache,
            &self.flights,
            &self.dropped,
            request,
            &category,
            &key,
        )
        .await;
        match (outcome, stale) {
            (Err(error), Some(payload)) => {
                tracing::warn!(%error, key, "fetch failed; serving the stale entry");
                Ok(from_cache(payload, "stale-if-error"))
            }
            (outcome, _) => outcome,
        }
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
        // One key for one field set, whatever the order or the API version.
        let reordered = ApiRequest::get_issue("PROJ-7", &["status", "summary", "status"], &[]);
        assert_eq!(
            slot(&reordered).unwrap().1,
            issue_cache_key("proj-7", &["summary", "status"], &[])
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

    #[test]
    fn v2_reads_have_slots_of_their_own_and_every_issue_write_invalidates() {
        let forwarded = |method: Method, path: &str, body: Option<&str>| {
            ApiRequest::forwarded(
                method,
                path,
                vec![("fields".into(), "status".into())],
                body.map(|b| bytes::Bytes::from(b.to_owned())),
                HeaderMap::new(),
            )
        };
        let v3 = slot(&forwarded(Method::GET, "/rest/api/3/issue/PROJ-7", None)).unwrap();
        let v2 = slot(&forwarded(Method::GET, "/rest/api/2/issue/PROJ-7", None)).unwrap();
        let latest = slot(&forwarded(
            Method::GET,
            "/rest/api/latest/issue/PROJ-7",
            None,
        ))
        .unwrap();
        assert_eq!(v3.1, "PROJ-7?fields=status");
        assert_eq!(v2.1, "PROJ-7?v2&fields=status");
        assert_eq!(latest, v2);
        assert_eq!(
            slot(&forwarded(Method::GET, "/rest/api/2/field", None))
                .unwrap()
                .1,
            "v2:fields"
        );
        // A transition, an assignment and a new link change issues the cache holds.
        let issue_targets_of = |request: &ApiRequest| {
            invalidations(request)
                .into_iter()
                .filter_map(|t| match t {
                    Target::Key(Category::Issue, k) => Some(k),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let transition = forwarded(
            Method::POST,
            "/rest/api/2/issue/proj-7/transitions",
            Some("{}"),
        );
        assert_eq!(issue_targets_of(&transition), ["PROJ-7"]);
        let (_, pattern) = match &invalidations(&transition)[1] {
            Target::Pattern(c, p) => (c.clone(), p.clone()),
            other => panic!("{other:?}"),
        };
        assert!(pattern.matches(&v2.1) && pattern.matches(&v3.1));
        let assign = forwarded(Method::PUT, "/rest/api/3/issue/PROJ-8/assignee", Some("{}"));
        assert_eq!(issue_targets_of(&assign), ["PROJ-8"]);
        let link = forwarded(
            Method::POST,
            "/rest/api/3/issueLink",
            Some(
                r#"{"type":{"name":"Blocks"},"inwardIssue":{"key":"A-1"},"outwardIssue":{"key":"B-2"}}"#,
            ),
        );
        assert_eq!(issue_targets_of(&link), ["A-1", "B-2"]);
        let bulk = forwarded(
            Method::POST,
            "/rest/api/3/bulk/issues/transition",
            Some(
                r#"{"bulkTransitionInputs":[{"selectedIssueIdsOrKeys":["C-1","C-2"],"transitionId":"31"}]}"#,
            ),
        );
        assert_eq!(issue_targets_of(&bulk), ["C-1", "C-2"]);
        // A read changes nothing.
        assert!(
            invalidations(&forwarded(Method::GET, "/rest/api/3/issue/PROJ-7", None)).is_empty()
        );
    }
}

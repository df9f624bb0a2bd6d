//! The enhanced search (`/search/jql`, GET and POST, page tokens over a fingerprinted
//! result), the approximate count, and the removed `/search`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;
use http::Uri;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::{self, IssueData};
use crate::extract::{App, Params, bad_request, param, param_list, renderer};
use crate::jql;
use crate::render::{Expand, FieldSelection, IssueJson};
use crate::state::{AppState, json_error, json_response};

pub(crate) const SEARCH_REMOVED: &str = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SearchBody {
    #[serde(default)]
    jql: String,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    expand: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    fields_by_keys: bool,
    #[serde(default)]
    #[allow(dead_code)]
    properties: Vec<String>,
    /// Issue ids the search must see as they are now, whatever the index lag.
    #[serde(default)]
    reconcile_issues: Vec<i64>,
}

pub(crate) async fn search_get(State(app): App, uri: Uri, Query(params): Params) -> Response {
    let max_results = match param(&params, "maxResults").map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return bad_request("The value of 'maxResults' is not a valid number."),
    };
    let body = SearchBody {
        jql: param(&params, "jql").unwrap_or_default().to_owned(),
        next_page_token: param(&params, "nextPageToken").map(str::to_owned),
        max_results,
        fields: param_list(&params, "fields")
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        expand: param(&params, "expand").map(str::to_owned),
        ..SearchBody::default()
    };
    search(&app, &uri, body)
}

pub(crate) async fn search_post(State(app): App, uri: Uri, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<SearchBody>(&body) {
        Ok(body) => search(&app, &uri, body),
        Err(error) => bad_request(&format!("Invalid request body: {error}.")),
    }
}

/// The issues a search sees, of those `among` names when given (ids, ascending: a search
/// whose JQL names its ids, [`crate::jql::Query::candidate_ids`], or one page of a
/// search): every stored one, except that while search lags (`Realism::search_lag_ms`)
/// an issue written within the lag is seen as it was before (one created within it not
/// at all, one deleted within it still), unless `reconcile` names it.
fn view_of<'a>(
    app: &AppState,
    store: &'a data::IssueStore,
    reconcile: &[i64],
    among: Option<&[u64]>,
) -> Vec<&'a IssueData> {
    let stored: Box<dyn Iterator<Item = &'a IssueData> + '_> = match among {
        Some(ids) => Box::new(ids.iter().filter_map(|id| store.by_id.get(id))),
        None => Box::new(store.by_id.values()),
    };
    let lag = app.realism.read().search_lag_ms as i64;
    if lag == 0 {
        return stored.collect();
    }
    let since = AppState::now_ms() - lag;
    let fresh = |id: u64| reconcile.contains(&(id as i64));
    let mut view: Vec<&IssueData> = Vec::new();
    for issue in stored {
        match store.unindexed.get(&issue.id) {
            Some((at, before)) if *at > since && !fresh(issue.id) => view.extend(before.as_ref()),
            _ if issue.created_ms > since && !fresh(issue.id) => {}
            _ => view.push(issue),
        }
    }
    // Deleted within the lag: still found.
    for (id, (at, before)) in &store.unindexed {
        if *at > since
            && !store.by_id.contains_key(id)
            && !fresh(*id)
            && among.is_none_or(|ids| ids.binary_search(id).is_ok())
        {
            view.extend(before.as_ref());
        }
    }
    view
}

/// The ids matching `jql` in query order, shared between the pages of one search while
/// the data does not change.
pub(crate) fn matching_ids(
    app: &AppState,
    jql: &str,
    reconcile: &[i64],
) -> Result<Arc<Vec<u64>>, String> {
    let version = app.store.read().version;
    let lagging = app.realism.read().search_lag_ms > 0;
    if !lagging
        && let Some((cached_version, ids)) = app.search_cache.lock().get(jql)
        && *cached_version == version
    {
        return Ok(ids.clone());
    }
    let indexed = app.realism.read().indexed_properties.clone();
    let mut query = jql::parse(jql, &app.tenant, AppState::now_ms(), &app.zone, &indexed)?;
    let mut store = app.store.write();
    query.resolve_ids(&|id| store.by_id.get(&id).map(|i| (i.project, i.number)));
    // Entries past the lag are indexed now.
    let since = AppState::now_ms() - app.realism.read().search_lag_ms as i64;
    store.unindexed.retain(|_, (at, _)| *at > since);
    let store = parking_lot::RwLockWriteGuard::downgrade(store);
    let among = query.candidate_ids();
    let mut issues: Vec<&IssueData> = view_of(app, &store, reconcile, among.as_deref())
        .into_iter()
        .filter(|issue| query.matches(issue, &app.tenant))
        .collect();
    issues.sort_by(|a, b| query.compare(a, b));
    let ids = Arc::new(issues.iter().map(|issue| issue.id).collect::<Vec<_>>());
    let mut cache = app.search_cache.lock();
    if cache.len() >= 64 {
        cache.clear();
    }
    cache.insert(jql.to_owned(), (store.version, ids.clone()));
    Ok(ids)
}

pub(crate) fn fingerprint(jql: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    jql.hash(&mut hasher);
    hasher.finish()
}

pub(crate) fn search(app: &AppState, uri: &Uri, body: SearchBody) -> Response {
    let fingerprint = fingerprint(&body.jql);
    let tokens = app.realism.read().page_tokens;
    // Where this page starts: the results (as they are now, or as a snapshot token kept
    // them) and the position in them.
    let (ids, offset) = match body.next_page_token.as_deref() {
        None => match matching_ids(app, &body.jql, &body.reconcile_issues) {
            Ok(ids) => (ids, 0),
            Err(message) => return bad_request(&message),
        },
        Some(token) => match decode_token(token, fingerprint) {
            Some(Token::Offset(offset)) => {
                match matching_ids(app, &body.jql, &body.reconcile_issues) {
                    Ok(ids) => (ids, offset),
                    Err(message) => return bad_request(&message),
                }
            }
            Some(Token::Snapshot { number, offset }) => {
                match app.search_snapshots.lock().get(number) {
                    Some(ids) => (ids, offset),
                    None => {
                        return bad_request(&format!(
                            "The nextPageToken '{token}' has expired: start the search again."
                        ));
                    }
                }
            }
            None => {
                return bad_request(&format!(
                    "The nextPageToken '{token}' is invalid or belongs to another query."
                ));
            }
        },
    };
    let selection = if body.fields.is_empty() {
        FieldSelection::id_only()
    } else {
        FieldSelection::parse(body.fields.iter().map(String::as_str))
    };
    let cap = if selection.is_id_only() { 5000 } else { 100 };
    let max_results = body.max_results.unwrap_or(50).clamp(1, cap) as usize;
    let expand = Expand::parse(body.expand.as_deref().unwrap_or_default().split(','));
    let next = offset + max_results;
    let next_page_token = (next < ids.len()).then(|| match tokens {
        crate::config::PageTokens::Offset => format!("{fingerprint:016x}{next:x}"),
        crate::config::PageTokens::Snapshot => {
            let number = match body.next_page_token.as_deref().and_then(|t| {
                match decode_token(t, fingerprint) {
                    Some(Token::Snapshot { number, .. }) => Some(number),
                    _ => None,
                }
            }) {
                Some(number) => number,
                None => app.search_snapshots.lock().keep(ids.clone()),
            };
            format!("{fingerprint:016x}s{number:x}-{next:x}")
        }
    });
    let store = app.store.read();
    let render = renderer(app, uri);
    let lagging = app.realism.read().search_lag_ms > 0;
    let page_ids: Vec<u64> = ids.iter().skip(offset).take(max_results).copied().collect();
    // While search lags, the page's issues as the index sees them: looked up among the
    // page's own ids, not the whole tenant's, for each page.
    let view: std::collections::HashMap<u64, &IssueData> = if lagging {
        let mut among = page_ids.clone();
        among.sort_unstable();
        view_of(app, &store, &body.reconcile_issues, Some(&among))
            .into_iter()
            .map(|issue| (issue.id, issue))
            .collect()
    } else {
        std::collections::HashMap::new()
    };
    let page: Vec<IssueJson<'_>> = page_ids
        .iter()
        .filter_map(|id| {
            if lagging {
                view.get(id).copied()
            } else {
                store.by_id.get(id)
            }
        })
        .map(|issue| render.issue(issue, &selection, expand))
        .collect();
    if selection.is_id_only() {
        app.stats.ids_listed(page.len() as u64);
    }
    let response = SearchOut {
        issues: page,
        is_last: next_page_token.is_none(),
        next_page_token,
    };
    json_response(StatusCode::OK, &response)
}

/// What a page token continues (see [`crate::config::PageTokens`]).
pub(crate) enum Token {
    /// A position in the results as they are now.
    Offset(usize),
    /// A position in a kept result list.
    Snapshot { number: u64, offset: usize },
}

/// Reads a page token of the query with this fingerprint: `<fingerprint><offset>` or
/// `<fingerprint>s<snapshot>-<offset>`, hexadecimal.
pub(crate) fn decode_token(token: &str, expected_fingerprint: u64) -> Option<Token> {
    if token.len() <= 16 || !token.is_char_boundary(16) {
        return None;
    }
    let (fingerprint, rest) = token.split_at(16);
    if u64::from_str_radix(fingerprint, 16).ok()? != expected_fingerprint {
        return None;
    }
    match rest.strip_prefix('s') {
        None => usize::from_str_radix(rest, 16).ok().map(Token::Offset),
        Some(rest) => {
            let (number, offset) = rest.split_once('-')?;
            Some(Token::Snapshot {
                number: u64::from_str_radix(number, 16).ok()?,
                offset: usize::from_str_radix(offset, 16).ok()?,
            })
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CountBody {
    #[serde(default)]
    jql: String,
}

pub(crate) async fn approximate_count(State(app): App, body: axum::body::Bytes) -> Response {
    let body: CountBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return bad_request(&format!("Invalid request body: {error}.")),
    };
    match matching_ids(&app, &body.jql, &[]) {
        Ok(ids) => json_response(StatusCode::OK, &json!({"count": ids.len()})),
        Err(message) => bad_request(&message),
    }
}

pub(crate) async fn search_removed() -> Response {
    json_error(StatusCode::GONE, SEARCH_REMOVED)
}

/// A page of the enhanced search.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchOut<'a> {
    issues: Vec<IssueJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    is_last: bool,
}

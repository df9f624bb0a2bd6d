//! `PageBean*`: the offset pages of Jira's list endpoints.

use serde_json::Value;

/// A `PageBean*`: `all` is the whole list, paged by `startAt`/`maxResults`.
pub(crate) fn page(
    base: &str,
    path: &str,
    start_at: usize,
    max_results: usize,
    all: Vec<Value>,
) -> Value {
    let total = all.len();
    let values: Vec<Value> = all.into_iter().skip(start_at).take(max_results).collect();
    page_bean(base, path, start_at, max_results, values, total)
}

/// A `PageBean*` of one page's `values` out of `total`.
pub(crate) fn page_bean(
    base: &str,
    path: &str,
    start_at: usize,
    max_results: usize,
    values: Vec<Value>,
    total: usize,
) -> Value {
    serde_json::to_value(PageBean::new(
        base,
        path,
        start_at,
        max_results,
        values,
        total,
    ))
    .unwrap_or_default()
}

/// A `PageBean*` that serialises its values as they are (borrowed, pre-rendered JSON is
/// written verbatim, never parsed back).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageBean<T> {
    #[serde(rename = "self")]
    self_url: String,
    max_results: usize,
    start_at: usize,
    total: usize,
    is_last: bool,
    values: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page: Option<String>,
}

impl<T> PageBean<T> {
    /// One page's `values` out of `total`, at `base` + `path`.
    pub(crate) fn new(
        base: &str,
        path: &str,
        start_at: usize,
        max_results: usize,
        values: Vec<T>,
        total: usize,
    ) -> Self {
        let is_last = start_at + values.len() >= total;
        let url = |start: usize| format!("{base}{path}?startAt={start}&maxResults={max_results}");
        PageBean {
            self_url: url(start_at),
            max_results,
            start_at,
            total,
            is_last,
            values,
            next_page: (!is_last).then(|| url(start_at + max_results)),
        }
    }
}

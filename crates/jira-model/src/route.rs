//! Which documented operation a path is: [`template_of`] matches a concrete path
//! (`/rest/api/2/issue/PROJ-1/transitions`) against the contract's path templates, and
//! [`ApiRequest::forwarded`] builds the request a proxy forwards, with the facts the layers
//! need (its template for buckets and metrics, whether it may be repeated, its class).

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::request::{ApiRequest, Idempotency, OperationClass};
use crate::route_table::TEMPLATES;

/// The template of a path no documented operation matches: every such request shares one
/// rate-limit bucket per method (the cautious choice for a path nobody described).
pub const UNDOCUMENTED_TEMPLATE: &str = "{undocumented}";

/// The documented template `path` (no query) is an instance of, if any: a literal segment
/// must match exactly and a `{placeholder}` matches one non-empty segment; where several
/// templates match (`/issue/bulkfetch` and `/issue/{issueIdOrKey}`), the one with more
/// literal segments wins. `/rest/api/latest/...` is Jira's v2 and matches as v2.
///
/// ```
/// use jira_model::template_of;
///
/// assert_eq!(template_of("/rest/api/3/issue/PROJ-1"), Some("/rest/api/3/issue/{issueIdOrKey}"));
/// assert_eq!(template_of("/rest/api/2/issue/bulkfetch"), Some("/rest/api/2/issue/bulkfetch"));
/// assert_eq!(
///     template_of("/rest/api/latest/issue/10001/transitions"),
///     Some("/rest/api/2/issue/{issueIdOrKey}/transitions")
/// );
/// assert_eq!(template_of("/rest/nothing/here"), None);
/// ```
pub fn template_of(path: &str) -> Option<&'static str> {
    let path = match path.strip_prefix("/rest/api/latest/") {
        Some(rest) => std::borrow::Cow::Owned(format!("/rest/api/2/{rest}")),
        None => std::borrow::Cow::Borrowed(path),
    };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(&'static str, usize)> = None;
    let bucket = table().get(segments.len())?;
    let named = segments
        .get(RESOURCE)
        .and_then(|resource| bucket.by_resource.get(*resource))
        .map_or(&[][..], Vec::as_slice);
    for (template, parts) in named.iter().chain(&bucket.open) {
        let Some(literals) = matches(parts, &segments) else {
            continue;
        };
        if best.is_none_or(|(_, most)| literals > most) {
            best = Some((template, literals));
        }
    }
    best.map(|(template, _)| template)
}

/// Templates split into segments once.
type Split = Vec<(&'static str, Vec<&'static str>)>;

/// The segment that names a path's resource (`issue` in `/rest/api/3/issue/{key}`: the
/// segments are `""`, `rest`, `api`, `3`, `issue`, …): templates are grouped by it, so a
/// path is matched against the few that share its resource, not every template.
const RESOURCE: usize = 4;

/// The templates of one length.
#[derive(Default)]
struct Bucket {
    /// Those whose resource segment is a literal, by it.
    by_resource: std::collections::HashMap<&'static str, Split>,
    /// Those that have no literal resource segment (shorter, or a placeholder there):
    /// tried for every path of the length.
    open: Split,
}

/// Every template of the contract and its `/rest/api/2` spelling (made once, for the
/// life of the process: v2 and v3 are one API), split and grouped by length, then by
/// resource.
fn table() -> &'static Vec<Bucket> {
    static TABLE: std::sync::OnceLock<Vec<Bucket>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let v2 = TEMPLATES.iter().filter_map(|template| {
            let rest = template.strip_prefix("/rest/api/3/")?;
            let v2: &'static str = Box::leak(format!("/rest/api/2/{rest}").into_boxed_str());
            Some(v2)
        });
        let mut table: Vec<Bucket> = Vec::new();
        for template in TEMPLATES.iter().copied().chain(v2) {
            let parts: Vec<&'static str> = template.split('/').collect();
            if table.len() <= parts.len() {
                table.resize_with(parts.len() + 1, Bucket::default);
            }
            let bucket = &mut table[parts.len()];
            match parts.get(RESOURCE).filter(|part| !part.starts_with('{')) {
                Some(resource) => bucket
                    .by_resource
                    .entry(resource)
                    .or_default()
                    .push((template, parts)),
                None => bucket.open.push((template, parts)),
            }
        }
        table
    })
}

/// The literal segments a template (split into `parts`) shares with `segments` when it
/// matches them (both of one length).
fn matches(parts: &[&str], segments: &[&str]) -> Option<usize> {
    let mut literals = 0;
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') && part.ends_with('}') {
            if segment.is_empty() {
                return None;
            }
        } else if part == segment {
            literals += 1;
        } else {
            return None;
        }
    }
    Some(literals)
}

impl ApiRequest {
    /// A request another client made, forwarded as it was sent (a proxy's): `path` and
    /// `query` as received, the body and `headers` passed on unchanged (the transport sends
    /// them, an `Authorization` among them taking the place of its own credentials).
    ///
    /// The template is the documented one ([`template_of`]) or [`UNDOCUMENTED_TEMPLATE`].
    /// Only reads may be repeated: GET, HEAD, OPTIONS and the POSTs that only read
    /// ([`crate::points::is_read`]); every other request, PUT and DELETE included, is
    /// non-idempotent here, since a forwarded body can do anything (`"update": {"comment":
    /// [{"add": …}]}` in a PUT adds a comment each time it is sent). A write to an issue's
    /// path names that issue ([`ApiRequest::issue_key`]) for the per-issue write windows.
    pub fn forwarded(
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<Bytes>,
        headers: HeaderMap,
    ) -> Self {
        let template = template_of(path).unwrap_or(UNDOCUMENTED_TEMPLATE);
        let reads = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
            || crate::points::is_read(&method, template);
        let class = if !reads {
            OperationClass::Write
        } else if template.contains("/search") {
            OperationClass::Search
        } else if template.contains("bulk") || template.ends_with("/list") {
            OperationClass::Bulk
        } else if method == Method::GET && !template.contains('{') {
            OperationClass::Metadata
        } else {
            OperationClass::Single
        };
        let mut request = ApiRequest::new(method.clone(), template, path)
            .with_class(class)
            .with_idempotency(if reads {
                Idempotency::Idempotent
            } else {
                Idempotency::NonIdempotent
            });
        request.query = query;
        request.body = body;
        request.headers = headers;
        request.estimated_points = crate::points::estimate(&method, template, 1);
        if !reads {
            request.issue_key = request.issue_in_path();
        }
        request
    }

    /// The issue (key or id, as the path spells it) when the path is an issue's or under
    /// it (`/rest/api/3/issue/PROJ-1/transitions`): what a write there changes.
    pub fn issue_in_path(&self) -> Option<String> {
        issue_in_path(self.path_template, &self.path)
    }
}

/// The issue a path under `/rest/api/{2,3}/issue/{issueIdOrKey}` names.
fn issue_in_path(template: &str, path: &str) -> Option<String> {
    let rest = template
        .strip_prefix("/rest/api/3/issue/{issueIdOrKey}")
        .or_else(|| template.strip_prefix("/rest/api/2/issue/{issueIdOrKey}"))?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    // The segment after `/issue/` in the path as sent (`latest` spelled as it came).
    path.split('/')
        .nth(5)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_win_over_placeholders_and_lengths_must_agree() {
        assert_eq!(
            template_of("/rest/api/3/issue/PROJ-1/comment/10000"),
            Some("/rest/api/3/issue/{issueIdOrKey}/comment/{id}")
        );
        assert_eq!(
            template_of("/rest/api/3/issue/createmeta"),
            Some("/rest/api/3/issue/createmeta")
        );
        assert_eq!(template_of("/rest/api/3/issue/"), Some("/rest/api/3/issue"));
        assert_eq!(template_of("/rest/api/3/issue//comment"), None);
        assert_eq!(template_of("/"), None);
    }

    #[test]
    fn every_template_is_found_from_a_path_of_its_shape() {
        // Fill each placeholder with a value no literal segment has: the path can only be
        // that template's, or one as literal at each of its literal segments (a template
        // the contract has twice, under two placeholder names).
        for template in TEMPLATES.iter().copied() {
            let path: Vec<String> = template
                .split('/')
                .map(|part| match part.starts_with('{') {
                    true => "X-1".to_owned(),
                    false => part.to_owned(),
                })
                .collect();
            let found =
                template_of(&path.join("/")).unwrap_or_else(|| panic!("{template} was not found"));
            let literals = |t: &str| t.split('/').filter(|p| !p.starts_with('{')).count();
            assert_eq!(literals(found), literals(template), "{template} → {found}");
            if let Some(rest) = path.join("/").strip_prefix("/rest/api/3/") {
                let v2 = template_of(&format!("/rest/api/2/{rest}"));
                assert!(
                    v2.is_some_and(|t| t.starts_with("/rest/api/2/")),
                    "{template}"
                );
            }
        }
    }

    #[test]
    fn forwarded_requests_repeat_only_reads() {
        let post = |path: &str| {
            ApiRequest::forwarded(Method::POST, path, Vec::new(), None, HeaderMap::new())
        };
        let search = post("/rest/api/3/search/jql");
        assert_eq!(search.idempotency, Idempotency::Idempotent);
        assert_eq!(search.class, OperationClass::Search);
        let transition = post("/rest/api/2/issue/PROJ-7/transitions");
        assert_eq!(transition.idempotency, Idempotency::NonIdempotent);
        assert_eq!(transition.issue_key.as_deref(), Some("PROJ-7"));
        let put = ApiRequest::forwarded(
            Method::PUT,
            "/rest/api/3/issue/PROJ-7",
            Vec::new(),
            None,
            HeaderMap::new(),
        );
        assert_eq!(put.idempotency, Idempotency::NonIdempotent);
        assert_eq!(put.endpoint, crate::Endpoint::UpdateIssue);
        let odd = ApiRequest::forwarded(
            Method::GET,
            "/rest/agile/1.0/board",
            Vec::new(),
            None,
            HeaderMap::new(),
        );
        assert_eq!(odd.path_template, UNDOCUMENTED_TEMPLATE);
        assert_eq!(odd.idempotency, Idempotency::Idempotent);
    }
}

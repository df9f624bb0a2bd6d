//! The forwarding handler: a caller's request, through the site's stack, back as Jira
//! answered it (or as the proxy's own failure in Jira's error shape).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use jira_cache::CACHE_HEADER;
use jira_client::Transport as _;
use jira_model::{ApiRequest, Endpoint, StreamSlot};
use sha2::{Digest as _, Sha256};

use crate::Shared;
use crate::answer::{Answer, hop_by_hop};
use crate::config::Credentials;
use crate::stats::Counters;

/// Time before the wire past which a request counts as held (`ProxyStats::waited`).
const HELD: Duration = Duration::from_millis(5);

/// Forwards one caller request.
pub(crate) async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    use tracing::Instrument as _;
    let span = tracing::info_span!(
        "jira_proxy.request",
        method = %request.method(),
        path = request.uri().path(),
    );
    forward_in_span(shared, request).instrument(span).await
}

async fn forward_in_span(shared: Arc<Shared>, request: Request) -> Response {
    let started = Instant::now();
    Counters::add(&shared.counters.requests, 1);
    let (parts, body) = request.into_parts();
    let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
    let base = own_base(&parts.headers);
    let (answer, coalesced, stream) = match handle(&shared, parts, body).await {
        Ok(outcome) => outcome,
        Err(answer) => (*answer, false, None),
    };
    let site = shared.client.base_url().trim_end_matches('/');
    let answer = match &base {
        Some(base) => answer.rebased(site, base),
        None => answer,
    };
    let counters = &shared.counters;
    if answer.headers.contains_key(CACHE_HEADER) {
        Counters::add(&counters.cache_hits, 1);
    }
    if coalesced {
        Counters::add(&counters.coalesced, 1);
    }
    if stream.is_some() {
        Counters::add(&counters.streamed, 1);
    }
    if let Some(held) = answer.held.filter(|held| *held >= HELD) {
        Counters::add(&counters.waited, 1);
        Counters::add(&counters.wait_ms, held.as_millis() as u64);
    }
    if answer.status == StatusCode::TOO_MANY_REQUESTS && !coalesced {
        Counters::add(&counters.passed_429, 1);
        if answer.from_site {
            Counters::add(&counters.upstream_429_passed, 1);
        }
    }
    tracing::info!(
        target: "jira_proxy::access",
        %method,
        path,
        status = answer.status.as_u16(),
        ms = started.elapsed().as_millis() as u64,
        cache = answer.headers.get(CACHE_HEADER).and_then(|v| v.to_str().ok()),
        coalesced,
        streamed = stream.is_some(),
    );
    answer.into_response(coalesced, stream)
}

/// What one request gets: its answer, whether it was shared with an identical one, and
/// the site's body left on the wire when the answer is a file.
type Outcome = (Answer, bool, Option<jira_model::BodyStream>);

/// The answer to one request.
async fn handle(
    shared: &Shared,
    parts: http::request::Parts,
    body: Body,
) -> Result<Outcome, Box<Answer>> {
    let authorization = credentials(shared, &parts.headers)?;
    let lane = shared
        .lanes
        .lane(authorization.as_ref())
        .await
        .map_err(|error| {
            Answer::failure(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the cache could not be opened for this caller: {error}"),
            )
        })?;
    let body = axum::body::to_bytes(body, shared.config.max_request_bytes)
        .await
        .map_err(|_| {
            Box::new(Answer::failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the request body is larger than {} bytes, the proxy's limit (ProxyConfig::max_request_bytes)",
                    shared.config.max_request_bytes
                ),
            ))
        })?;
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut headers = forwarded_headers(&parts.headers);
    if let Some(mut authorization) = authorization {
        authorization.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, authorization);
    }
    let no_cache = !shared.config.ignore_no_cache && asks_no_cache(&parts.headers);
    // HEAD goes to the site as GET: its answer's length must be that of the body this
    // proxy sends for GET (its links rewritten to the proxy's address), which only the
    // body tells; the server leaves the body out of a HEAD answer (RFC 9110 §9.3.2), and
    // a GET in the cache or in flight answers it too.
    let method = match parts.method {
        Method::HEAD => Method::GET,
        ref other => other.clone(),
    };
    let request = ApiRequest::forwarded(
        method,
        parts.uri.path(),
        query,
        (!body.is_empty()).then_some(body),
        headers,
    );
    let direct = shared.client.uncached();
    let reads = request.idempotency == jira_model::Idempotency::Idempotent
        && matches!(request.method, Method::GET | Method::HEAD | Method::POST);
    if !reads {
        let mut changed = jira_cache::invalidations(&request);
        if let Some(other) = request
            .issue_in_path()
            .and_then(|issue| shared.aliases.other(&issue))
        {
            changed.extend(jira_cache::issues_changed(&[&other]));
        }
        let creates = request.endpoint == Endpoint::CreateIssue;
        let answer = upstream(direct.send(request)).await;
        if creates && answer.status.is_success() {
            shared.aliases.learn(&answer.body);
        }
        if answer.status.is_success() {
            let removed = shared.lanes.invalidate(&changed).await;
            Counters::add(&shared.counters.invalidated, removed);
        }
        return Ok((answer, false, None));
    }
    // A file (an answer that is not JSON) goes back as its chunks come: the slot takes
    // its body off the wire. It is never shared: a caller that joined its flight sends
    // its own request.
    let slot = StreamSlot::new();
    let request = request.streaming(slot.clone());
    let again = request.clone();
    let search = matches!(request.endpoint, Endpoint::SearchGet | Endpoint::SearchPost);
    let cached = !no_cache && (shared.config.cache_searches || !search);
    let key = flight_key(&lane.tag, &request, &parts.headers);
    let issue = request.endpoint == Endpoint::GetIssue;
    let (answer, shared_answer) = shared
        .flights
        .run(key, || async {
            let mut answer = if cached {
                upstream(lane.read(direct, request)).await
            } else {
                upstream(direct.send(request)).await
            };
            answer.streamed = slot.is_filled();
            answer
        })
        .await;
    if shared_answer && answer.streamed {
        let answer = upstream(direct.send(again)).await;
        return Ok((answer, false, slot.take()));
    }
    // Only what the cache holds needs its other name to be invalidated by, and a read the
    // cache holds went through it (an answer read past the cache is not parsed again).
    if issue && cached && answer.status == StatusCode::OK {
        shared.aliases.learn(&answer.body);
    }
    Ok((answer, shared_answer, slot.take()))
}

/// The answer a trip through the stack gives, with the time the request was held before
/// the wire (its wait for the budget, for a slot, between retries) when it went there.
async fn upstream(
    send: impl std::future::Future<Output = Result<jira_model::ApiResponse, jira_transport::Error>>,
) -> Answer {
    let started = Instant::now();
    match send.await {
        Ok(response) => {
            let held = (!response.headers.contains_key(CACHE_HEADER))
                .then(|| started.elapsed().saturating_sub(response.elapsed));
            Answer::from_response(&response, held)
        }
        Err(error) => Answer::from_error(&error),
    }
}

/// The `Authorization` to send upstream: the caller's own when forwarding (`None`
/// without one), `None` (the client's credentials) when the proxy holds them and the
/// caller presented the local key; a 401 when it did not.
fn credentials(shared: &Shared, headers: &HeaderMap) -> Result<Option<HeaderValue>, Box<Answer>> {
    let presented = headers.get(header::AUTHORIZATION);
    match &shared.config.credentials {
        Credentials::Forward => Ok(presented.cloned()),
        Credentials::Held { local_key } => {
            let key = presented
                .and_then(crate::lanes::auth_of)
                .and_then(|auth| match auth {
                    jira_client::Auth::Bearer { token } => Some(token),
                    jira_client::Auth::Basic { api_token, .. } => Some(api_token),
                    jira_client::Auth::None => None,
                });
            let digest = |s: &str| Sha256::digest(s.as_bytes());
            if key.is_some_and(|key| digest(key.expose()) == digest(local_key.expose())) {
                return Ok(None);
            }
            Counters::add(&shared.counters.refused_credentials, 1);
            let mut answer = Answer::failure(
                StatusCode::UNAUTHORIZED,
                if presented.is_some() {
                    "this proxy holds the site's credentials and these are not its local key: present the local key (Authorization: Bearer <key>, or as the password of Basic auth), not your own credentials"
                } else {
                    "this proxy holds the site's credentials: present its local key (Authorization: Bearer <key>, or as the password of Basic auth)"
                },
            );
            answer.headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"jira-ops proxy\""),
            );
            Err(Box::new(answer))
        }
    }
}

/// The caller's headers that go upstream: all but hop-by-hop ones, its `Authorization`
/// (decided apart), the cache directives the proxy answers itself, and `Accept-Encoding`
/// (answers are read whole to count their points; the wire's compression is the
/// transport's business).
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut forwarded: HeaderMap = headers
        .iter()
        .filter(|(name, _)| {
            !hop_by_hop(name)
                && *name != header::AUTHORIZATION
                && *name != header::ACCEPT_ENCODING
                && *name != header::CACHE_CONTROL
                && *name != header::PRAGMA
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    forwarded.append(header::VIA, HeaderValue::from_static("1.1 jira-ops-proxy"));
    forwarded
}

/// The proxy's base URL as the caller reached it: `X-Forwarded-Proto` and
/// `X-Forwarded-Host` when a TLS terminator in front set them, else `http://` and `Host`.
fn own_base(headers: &HeaderMap) -> Option<String> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or(v).trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let host = text("x-forwarded-host").or_else(|| text("host"))?;
    let scheme = text("x-forwarded-proto").unwrap_or_else(|| "http".to_owned());
    Some(format!("{scheme}://{host}"))
}

/// Whether the caller asked for an answer from the site, not the cache.
fn asks_no_cache(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .chain(headers.get_all(header::PRAGMA).iter())
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|d| {
                matches!(
                    d.trim().to_ascii_lowercase().as_str(),
                    "no-cache" | "no-store" | "max-age=0"
                )
            })
        })
}

/// The identity of a read for single flight: who asks (the credential's digest), what
/// (method, path, query, a digest of the body) and in what form (`Accept`, `Range`).
fn flight_key(tag: &str, request: &ApiRequest, headers: &HeaderMap) -> String {
    let query: Vec<String> = request
        .query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let body = request
        .body
        .as_ref()
        .map(|b| {
            Sha256::digest(b)[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        })
        .unwrap_or_default();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (accept, range) = (text(header::ACCEPT), text(header::RANGE));
    format!(
        "{tag} {} {}?{} {body} {accept} {range}",
        request.method,
        request.path,
        query.join("&")
    )
}

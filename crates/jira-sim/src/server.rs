//! The HTTP side: the accept loop (which can reset a connection on purpose), the gate that
//! every request passes (auth, early-retry accounting, limits, faults, counters, headers),
//! and the running simulator's handle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use base64::Engine as _;

use crate::config::{Credential, Fault, FaultConfig, LimitConfig, SimConfig};
use crate::limits::{Arrival, Limiter, retry_after_secs};
use crate::state::{AppState, json_error};
use crate::stats::{Stats, StatsSnapshot};
use crate::{admin, api};

/// Resets the connection a request arrived on.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

/// The site's issues as they were at [`SimHandle::backup`].
pub struct Backup(crate::data::IssueStore);

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    /// The certificate served, when over TLS.
    certificate_pem: Option<String>,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl SimHandle {
    /// Generates the tenant and serves it on `127.0.0.1` at a free port.
    pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
        Self::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Generates the tenant and serves it at `addr`.
    pub async fn bind(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tenant, store) = crate::data::generate(&config, AppState::now_ms());
        let tls = if config.tls {
            Some(crate::tls::Tls::self_signed(addr)?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        let catalog = crate::render::Catalog::new(&base_url, &tenant);
        let zone = crate::render::caller_zone(&tenant, config.render_zone);
        let state = Arc::new(AppState {
            base_url,
            catalog,
            zone,
            tenant,
            store: RwLock::new(store),
            limiter: Limiter::new(config.limits.clone()),
            faults: RwLock::new(config.faults.clone()),
            realism: RwLock::new(config.realism.clone()),
            tasks: Mutex::default(),
            webhooks: RwLock::new(config.webhooks.clone()),
            webhook_sink: Arc::new(crate::outbox::Sink::new().map_err(std::io::Error::other)?),
            stats: Stats::default(),
            dice: Mutex::new(rand::SeedableRng::seed_from_u64(
                config.seed ^ 0x6661_756c_7473,
            )),
            config,
            search_cache: Mutex::default(),
            search_snapshots: Mutex::default(),
        });
        let router = api::routes()
            .merge(admin::routes())
            .layer(axum::middleware::from_fn_with_state(state.clone(), gate))
            .with_state(state.clone());
        let (stop, stopped) = oneshot::channel();
        let certificate_pem = tls.as_ref().map(|tls| tls.certificate_pem.clone());
        let acceptor = tls.map(|tls| tls.acceptor);
        let task = tokio::spawn(accept_loop(listener, router, acceptor, stopped));
        tracing::info!(%addr, scheme, "jira-sim listening");
        Ok(SimHandle {
            addr,
            certificate_pem,
            state,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The self-signed certificate it serves (PEM), when started with `tls`: what a client
    /// adds to its trusted roots.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// The site URL, e.g. `http://127.0.0.1:43121`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The first configured credential.
    pub fn credential(&self) -> &Credential {
        &self.state.config.credentials[0]
    }

    /// The first credential as `(email, api_token)`: what a client's Basic auth needs,
    /// without reaching into [`crate::Secret`].
    pub fn basic_auth(&self) -> (String, String) {
        let credential = self.credential();
        (
            credential.email.clone(),
            credential.api_token.expose().to_owned(),
        )
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.snapshot()
    }

    /// Zeroes the counters and forgets spent limits.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
        self.state.limiter.reset();
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, faults: FaultConfig) {
        *self.state.faults.write() = faults;
    }

    /// Replaces the limits (buckets restart full).
    pub fn set_limits(&self, limits: LimitConfig) {
        self.state.limiter.set_config(limits);
    }

    /// The realism switches in force.
    pub fn realism(&self) -> crate::config::Realism {
        self.state.realism.read().clone()
    }

    /// Replaces the realism switches (as `PUT /__sim/realism`).
    pub fn set_realism(&self, realism: crate::config::Realism) {
        *self.state.realism.write() = realism;
    }

    /// Issue keys of one project, in key order.
    pub fn issue_keys(&self, project_key: &str) -> Vec<String> {
        let Some(project) = self.state.tenant.project(project_key) else {
            return Vec::new();
        };
        let store = self.state.store.read();
        let mut issues: Vec<_> = store
            .by_id
            .values()
            .filter(|issue| issue.project == project)
            .map(|issue| (issue.number, issue.key.clone()))
            .collect();
        issues.sort();
        issues.into_iter().map(|(_, key)| key).collect()
    }

    /// Project keys, in order.
    pub fn project_keys(&self) -> Vec<String> {
        self.state
            .tenant
            .projects
            .iter()
            .map(|p| p.key.clone())
            .collect()
    }

    /// A copy of every issue, comment, worklog and link as they are now, for
    /// [`SimHandle::restore`].
    pub fn backup(&self) -> Backup {
        Backup(self.state.store.read().clone())
    }

    /// Puts the site back as it was at `backup`, as Atlassian's backup and restore (or a
    /// sandbox reset) does: issues created since are gone, issues changed since are as
    /// they were, with the `updated` they had then. Searches see it at once.
    pub fn restore(&self, backup: &Backup) {
        let mut store = self.state.store.write();
        // A version newer than any before: searches cached on either side are stale.
        let version = store.version.max(backup.0.version) + 1;
        *store = backup.0.clone();
        store.version = version;
        store.unindexed.clear();
    }

    /// Number of issues now stored.
    pub fn issue_count(&self) -> usize {
        self.state.store.read().by_id.len()
    }

    /// Stops serving and waits for the accept loop to end; open connections are dropped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `/rest/api/latest/...` is Jira's alias of version 2 (clients such as PyPI's `jira` use
/// it for some calls): served as `/rest/api/2/...`.
fn latest_is_v2<B>(request: &mut http::Request<B>) {
    let Some(rest) = request.uri().path().strip_prefix("/rest/api/latest/") else {
        return;
    };
    let mut path = format!("/rest/api/2/{rest}");
    if let Some(query) = request.uri().query() {
        path.push('?');
        path.push_str(query);
    }
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path) = path.parse() {
        parts.path_and_query = Some(path);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        connections.spawn(serve_connection(stream, router.clone(), tls.clone()));
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    // A second handle on the socket lets us set SO_LINGER to zero before closing, which
    // turns the close into a TCP reset: what a client sees when a load balancer drops it.
    let (stream, socket) = match stream
        .into_std()
        .and_then(|s| Ok((s.try_clone()?, s)))
        .and_then(|(dup, s)| Ok((tokio::net::TcpStream::from_std(s)?, dup)))
    {
        Ok(pair) => pair,
        Err(error) => {
            tracing::warn!(%error, "could not prepare connection");
            return;
        }
    };
    let kill = Arc::new(Notify::new());
    let connection_kill = ConnectionKill(kill.clone());
    let service =
        hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(connection_kill.clone());
            latest_is_v2(&mut request);
            router.clone().oneshot(request.map(Body::new))
        });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let io: Box<dyn Io> = match tls {
        None => Box::new(stream),
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(stream) => Box::new(stream),
            Err(error) => {
                tracing::debug!(%error, "TLS handshake failed");
                return;
            }
        },
    };
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = kill.notified() => {
            let _ = socket2::SockRef::from(&socket).set_linger(Some(Duration::ZERO));
        }
    }
}

/// A connection's byte stream: plain TCP or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// Every request but the admin API passes here.
async fn gate(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |m| m.as_str().to_owned());
    if template.starts_with("/__sim") {
        return next.run(request).await;
    }
    // Counted as called (v2 and v3 apart, as `/__sim/stats` reports them); limited as one
    // endpoint (Jira's limits do not tell the versions apart).
    let called = template;
    let template = called.replace("/rest/api/2/", "/rest/api/3/");
    let method = request.method().as_str().to_owned();
    app.stats.request();

    let Some(principal) = authenticate(&app.config, request.headers()) else {
        app.stats.unauthorized();
        app.stats.response(&method, &called, 401);
        return json_error(
            StatusCode::UNAUTHORIZED,
            "You are not authenticated. Authentication required to perform this operation.",
        );
    };
    let client = match request
        .headers()
        .get("x-sim-client")
        .and_then(|v| v.to_str().ok())
    {
        Some(tag) => format!("{principal}#{tag}"),
        None => principal,
    };
    if let Some(refused) = crate::permissions::refusal(&app, &method, &template) {
        app.stats.response(&method, &called, 403);
        return refused;
    }
    let write_to = issue_written(&app, &method, &template, request.uri().path());
    let grace = Duration::from_millis(app.config.early_retry_grace_ms);
    let arrival = app
        .limiter
        .arrival(&client, &method, &template, write_to, grace);
    match arrival {
        Arrival::Clear => {}
        Arrival::InFlight => app.stats.in_flight_during_wait(),
        Arrival::Early => {
            app.stats.early_retry();
            tracing::debug!(%client, %method, %template, "request arrived before its Retry-After");
        }
    }

    let faults = app.faults.read().clone();
    let mut delay = Duration::ZERO;
    let mut fate = None;
    {
        let mut rng = app.dice.lock();
        for rule in faults
            .rules
            .iter()
            .filter(|r| r.matches(&method, &template))
        {
            if !rng.random_bool(rule.probability.clamp(0.0, 1.0)) {
                continue;
            }
            match &rule.fault {
                Fault::Latency {
                    fixed_ms,
                    jitter_ms,
                } => {
                    delay += Duration::from_millis(fixed_ms + rng.random_range(0..=*jitter_ms));
                }
                other if fate.is_none() => fate = Some(other.clone()),
                _ => {}
            }
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let headroom = match app.limiter.admit(&method, &template, write_to) {
        Ok(headroom) => headroom,
        Err(denial) => {
            app.limiter
                .note_refusal(&client, &denial.scope, denial.retry_after);
            // A refused request was not served, so it costs no points.
            app.stats.rate_limited(denial.reason);
            if arrival != Arrival::Clear {
                app.stats.refused_during_wait();
            }
            app.stats.response(&method, &called, 429);
            return rate_limited(&denial, app.limiter.refusal_headers());
        }
    };
    if let Some(id) = write_to {
        app.note_write(id);
    }

    if let Some(fault) = fate {
        app.stats.fault(fault.name());
        match fault {
            Fault::Status { status } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                app.stats.response(&method, &called, status.as_u16());
                return json_error(status, "Internal server error (injected by jira-sim).");
            }
            Fault::Unavailable { retry_after_secs } => {
                let wait = Duration::from_secs(retry_after_secs);
                app.limiter
                    .note_refusal(&client, &format!("endpoint:{method} {template}"), wait);
                app.stats.response(&method, &called, 503);
                let mut response = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service unavailable, try again later (injected by jira-sim).",
                );
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after_secs));
                return response;
            }
            Fault::Reset => {
                app.stats.response(&method, &called, 0);
                if let Some(kill) = request.extensions().get::<ConnectionKill>() {
                    kill.0.notify_one();
                }
                return std::future::pending().await;
            }
            Fault::Hang { ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Fault::Malformed => {
                app.stats.response(&method, &called, 200);
                let mut response =
                    (StatusCode::OK, r#"{"issues": [{"id": "10001", "key": "#).into_response();
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json;charset=UTF-8"),
                );
                return response;
            }
            Fault::Oversized { bytes } => {
                app.stats.response(&method, &called, 200);
                return oversized(bytes);
            }
            Fault::LostResponse { status } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::GATEWAY_TIMEOUT);
                let response = next.run(request).await;
                let points = charged(&method, &template, &response);
                app.limiter.charge(points);
                app.stats.points(points);
                app.stats.response(&method, &called, status.as_u16());
                return json_error(
                    status,
                    "Gateway timeout (injected by jira-sim after the work was done).",
                );
            }
            Fault::Truncated => {
                let kill = request.extensions().get::<ConnectionKill>().cloned();
                let response = next.run(request).await;
                app.stats.response(&method, &called, 0);
                return truncate(response, kill).await;
            }
            Fault::Latency { .. } => {}
        }
    }

    let mut response = next.run(request).await;
    if called.starts_with("/rest/api/2/") {
        response = links_to_v2(&app.base_url, response).await;
    }
    let points = charged(&method, &template, &response);
    app.limiter.charge(points);
    app.stats.points(points);
    app.stats
        .response(&method, &called, response.status().as_u16());
    // Work-proportional latency: the bigger the answer, the longer it took to build.
    let work = app.realism.read().work_latency;
    if work != crate::config::WorkLatency::default() {
        let bytes = axum::body::HttpBody::size_hint(response.body())
            .exact()
            .unwrap_or(0);
        tokio::time::sleep(work.delay(bytes)).await;
    }
    add_headroom_headers(response.headers_mut(), &headroom, app.limiter.advertise());
    response
}

/// A v2 answer's links point at v2, as Jira's do (an issue's `self`, a page's `self`, a
/// user's): handlers render v3 links, so a JSON answer to a v2 call has
/// `{base}/rest/api/3/` turned into `{base}/rest/api/2/`. Clients that follow `self`
/// (PyPI's `jira` updates and deletes a resource at its `self`) stay on the version they
/// speak, whose rich text is a string, not a document. The two spellings are as long, so
/// the body keeps its length.
async fn links_to_v2(base: &str, response: Response) -> Response {
    let json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let (v3, v2) = (format!("{base}/rest/api/3/"), format!("{base}/rest/api/2/"));
    let body = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains(&v3) => Bytes::from(text.replace(&v3, &v2)),
        _ => bytes,
    };
    Response::from_parts(parts, Body::from(body))
}

/// What `response` to `method` on `template` costs against the quota, by the rule the
/// client charges by: jira-sim shares that rule with jira-ops (from jira-model), so the
/// points both count for a run are the same by construction; the rule itself follows
/// Atlassian's published model.
fn charged(method: &str, template: &str, response: &Response) -> u64 {
    let objects = response
        .extensions()
        .get::<crate::state::Objects>()
        .map_or(0, |o| o.0);
    let method = http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET);
    jira_model::points::charged(&method, template, response.status(), objects)
}

/// Who is calling: `email` for Basic auth, `bearer:<first 6 chars>` for a Bearer token.
fn authenticate(config: &SimConfig, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (email, token) = text.split_once(':')?;
        config
            .credentials
            .iter()
            .any(|c| c.email == email && c.api_token.expose() == token)
            .then(|| email.to_owned())
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let token = credentials.trim();
        config
            .bearer_tokens
            .iter()
            .any(|t| t.expose() == token)
            .then(|| format!("bearer:{}", token.chars().take(6).collect::<String>()))
    } else {
        None
    }
}

/// The issue a write targets, for per-issue limits: PUT/DELETE on an issue, POST of a
/// comment.
fn issue_written(app: &AppState, method: &str, template: &str, path: &str) -> Option<u64> {
    // Every write to one issue: an edit, a delete, a transition, a comment, a worklog, an
    // assignment, a property, a watcher (a changelog list is a read sent as POST).
    let is_write = matches!(method, "PUT" | "POST" | "DELETE")
        && template.starts_with("/rest/api/3/issue/{issueIdOrKey}")
        && !template.ends_with("/changelog/list");
    if !is_write {
        return None;
    }
    let rest = path.split("/issue/").nth(1)?;
    let id_or_key = rest.split('/').next()?;
    app.store.read().id_of(id_or_key)
}

fn rate_limited(denial: &crate::limits::Denial, format: crate::config::RefusalHeaders) -> Response {
    use crate::config::{ResetFormat, RetryAfterFormat};
    let seconds = retry_after_secs(denial.retry_after);
    let free_at = SystemTime::now() + Duration::from_secs(seconds);
    let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.");
    let headers = response.headers_mut();
    match format.retry_after {
        RetryAfterFormat::Seconds => {
            headers.insert("retry-after", HeaderValue::from(seconds));
        }
        RetryAfterFormat::HttpDate => {
            // An HTTP date has whole seconds: round up, never to before the instant.
            let at = free_at + Duration::from_millis(999);
            if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
                headers.insert("retry-after", value);
            }
        }
        RetryAfterFormat::Absent => {}
    }
    headers.insert("x-ratelimit-limit", HeaderValue::from(denial.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
    let reset = match format.reset {
        ResetFormat::Seconds => Some(crate::render::iso_seconds(free_at)),
        ResetFormat::Minute => Some(crate::render::iso_minute_ceiling(free_at)),
        ResetFormat::Absent => None,
    };
    if let Some(value) = reset.and_then(|r| HeaderValue::from_str(&r).ok()) {
        headers.insert("x-ratelimit-reset", value);
    }
    headers.insert("ratelimit-reason", HeaderValue::from_static(denial.reason));
    headers.insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
    response
}

fn add_headroom_headers(
    headers: &mut HeaderMap,
    headroom: &crate::limits::Headroom,
    advertise: bool,
) {
    if !advertise {
        return;
    }
    if let Some((limit, remaining)) = headroom.burst {
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    }
    if let Some((quota, remaining, reset_in, reason)) = headroom.quota {
        let name = if reason == "jira-quota-global-based" {
            "global-app-quota"
        } else {
            "tenant-quota"
        };
        if let Ok(value) = HeaderValue::from_str(&format!("\"{name}\";q={quota};w=3600")) {
            headers.insert("beta-ratelimit-policy", value);
        }
        let state = if (remaining as f64) < 0.2 * quota as f64 {
            format!("\"{name}\";r={remaining};t={reset_in}")
        } else {
            format!("\"{name}\";t={reset_in}")
        };
        if let Ok(value) = HeaderValue::from_str(&state) {
            headers.insert("beta-ratelimit", value);
        }
    }
    if headroom.burst.is_some() || headroom.quota.is_some() {
        headers.insert(
            "x-ratelimit-nearlimit",
            HeaderValue::from_static(if headroom.near_limit() {
                "true"
            } else {
                "false"
            }),
        );
    }
}

/// Sends the head and half the body, then resets the connection.
async fn truncate(response: Response, kill: Option<ConnectionKill>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    let full_length = bytes.len();
    let stream = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(
        futures_util::stream::once(async move {
            // Give hyper time to flush the first half before the reset.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(kill) = kill {
                kill.0.notify_one();
            }
            std::future::pending::<Result<Bytes, std::io::Error>>().await
        }),
    );
    let mut response = Response::from_parts(parts, Body::from_stream(stream));
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(full_length));
    response
}

use futures_util::StreamExt as _;

/// A 200 whose JSON body is `bytes` long, streamed in 64 KiB chunks with no
/// `Content-Length`: `{"issues":[],"padding":"xxx…"}`.
fn oversized(bytes: u64) -> Response {
    const CHUNK: usize = 64 * 1024;
    let head: &'static [u8] = br#"{"issues":[],"padding":""#;
    let tail: &'static [u8] = br#""}"#;
    let fill = bytes.saturating_sub((head.len() + tail.len()) as u64);
    let padding = Bytes::from(vec![b'x'; CHUNK]);
    let chunks = (0..fill.div_ceil(CHUNK as u64)).map(move |n| {
        let left = fill - n * CHUNK as u64;
        padding.slice(..(left.min(CHUNK as u64) as usize))
    });
    let body = std::iter::once(Bytes::from_static(head))
        .chain(chunks)
        .chain(std::iter::once(Bytes::from_static(tail)))
        .map(Ok::<_, std::convert::Infallible>);
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(body)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}

//! [`HttpTransport`]: one reqwest client per site, a bounded number of requests in flight,
//! and connect / read / total timeouts chosen by the request's operation class.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use http::HeaderValue;
use jira_model::{ApiRequest, ApiResponse, OperationClass};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::metrics::Instruments;
use crate::{Error, TimeoutPhase, Transport};

/// A secret string (an API token): never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself; call only where it must be sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How requests authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (anonymous access).
    None,
    /// An Atlassian account's email and API token, as HTTP Basic.
    Basic {
        /// The account email.
        email: String,
        /// The API token.
        api_token: Secret,
    },
    /// A personal access token or OAuth 2.0 access token, as `Authorization: Bearer`.
    Bearer {
        /// The token.
        token: Secret,
    },
}

impl Auth {
    /// HTTP Basic with an account's email and API token.
    pub fn basic(email: impl Into<String>, api_token: impl Into<String>) -> Self {
        Auth::Basic {
            email: email.into(),
            api_token: Secret::new(api_token),
        }
    }

    /// `Authorization: Bearer` with a personal access token or OAuth 2.0 access token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Auth::Bearer {
            token: Secret::new(token),
        }
    }
}

/// A duration for each operation class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerClass {
    /// One object (issue, project, myself).
    pub single: Duration,
    /// Metadata lists (fields, projects, users, comments).
    pub metadata: Duration,
    /// Search pages.
    pub search: Duration,
    /// Bulk fetch and bulk create.
    pub bulk: Duration,
    /// Single writes.
    pub write: Duration,
}

impl PerClass {
    /// The duration for `class`.
    pub fn get(&self, class: OperationClass) -> Duration {
        match class {
            OperationClass::Single => self.single,
            OperationClass::Metadata => self.metadata,
            OperationClass::Search => self.search,
            OperationClass::Bulk => self.bulk,
            OperationClass::Write => self.write,
        }
    }

    /// The deadlines a logical request gets by default, attempts and waits included: two
    /// minutes for a read of one object, metadata or a single write, five for a search
    /// page or a bulk call. [`RetryPolicy::with_default_deadlines`](crate::RetryPolicy)
    /// and jira-client's builder and settings read them from here.
    pub const DEFAULT_DEADLINES: PerClass = PerClass {
        single: Duration::from_secs(120),
        metadata: Duration::from_secs(120),
        search: Duration::from_secs(300),
        bulk: Duration::from_secs(300),
        write: Duration::from_secs(120),
    };

    /// The longest of the durations.
    pub fn longest(&self) -> Duration {
        [
            self.single,
            self.metadata,
            self.search,
            self.bulk,
            self.write,
        ]
        .into_iter()
        .max()
        .unwrap_or_default()
    }

    /// The same duration for every class.
    pub fn uniform(duration: Duration) -> Self {
        PerClass {
            single: duration,
            metadata: duration,
            search: duration,
            bulk: duration,
            write: duration,
        }
    }
}

/// Timeouts. Defaults follow the reference guide: single issue 10 s connect + 20 s read,
/// search 60 s read, bulk 120 s read.
///
/// How they apply to one attempt: a new connection must be made within `connect`; the
/// response head must arrive within `connect + read` of sending (the connection may have to
/// be made first, and reqwest does not say when it was); each later chunk of the body within
/// `read` of the previous one; and the whole exchange within `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (TCP and TLS).
    pub connect: Duration,
    /// Waiting for the response head, and between chunks of the body.
    pub read: PerClass,
    /// The whole exchange, connection included.
    pub total: PerClass,
}

impl Timeouts {
    /// The default timeouts scaled so the single-request read timeout is `read_single`,
    /// every other class keeping its ratio to it (search 3×, bulk 6×, ...), with `connect`
    /// for connections. Saturates instead of overflowing on absurd inputs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use jira_transport::Timeouts;
    /// let t = Timeouts::scaled(Duration::from_secs(10), Duration::from_secs(5));
    /// assert_eq!(t.read.single, Duration::from_secs(10));
    /// assert_eq!(t.read.search, Duration::from_secs(30));
    /// assert_eq!(t.total.bulk, Duration::from_secs(90));
    /// assert_eq!(t.connect, Duration::from_secs(5));
    /// ```
    pub fn scaled(read_single: Duration, connect: Duration) -> Self {
        let defaults = Timeouts::default();
        let factor = read_single.as_secs_f64() / defaults.read.single.as_secs_f64();
        let scale = |d: Duration| {
            Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
        };
        let per_class = |p: PerClass| PerClass {
            single: scale(p.single),
            metadata: scale(p.metadata),
            search: scale(p.search),
            bulk: scale(p.bulk),
            write: scale(p.write),
        };
        Timeouts {
            connect,
            read: PerClass {
                single: read_single,
                ..per_class(defaults.read)
            },
            total: per_class(defaults.total),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        Timeouts {
            connect: s(10),
            read: PerClass {
                single: s(20),
                metadata: s(30),
                search: s(60),
                bulk: s(120),
                write: s(30),
            },
            total: PerClass {
                single: s(30),
                metadata: s(60),
                search: s(90),
                bulk: s(180),
                write: s(60),
            },
        }
    }
}

/// Everything [`HttpTransport`] needs.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The site, e.g. `https://your-domain.atlassian.net`.
    pub base_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Requests in flight at most; callers beyond it wait for a slot. Also the pool's idle
    /// connections per host, so the pool matches the concurrency actually run.
    pub max_in_flight: usize,
    /// How long a caller waits for a slot before [`Error::PoolExhausted`].
    pub acquire_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub idle_timeout: Duration,
    /// Timeouts per operation class.
    pub timeouts: Timeouts,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Allows `http://` to hosts other than loopback. Off by default: credentials would
    /// cross the network in clear text.
    pub allow_insecure_http: bool,
    /// The largest response body read, in bytes ([`Error::BodyTooLarge`] past it): a
    /// misbehaving proxy or server cannot grow the process without bound.
    pub max_body_bytes: usize,
}

impl HttpConfig {
    /// Defaults for `base_url` with `auth`: 256 in flight, 30 s acquire timeout, 90 s idle
    /// timeout, the reference timeouts.
    pub fn new(base_url: impl Into<String>, auth: Auth) -> Self {
        HttpConfig {
            base_url: base_url.into(),
            auth,
            max_in_flight: 256,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            timeouts: Timeouts::default(),
            user_agent: format!("jira-ops/{} (jira-transport)", env!("CARGO_PKG_VERSION")),
            allow_insecure_http: false,
            max_body_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The bottom layer: sends an [`ApiRequest`] over HTTP and returns any answer as `Ok`.
#[derive(Clone)]
pub struct HttpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    base_url: String,
    authorization: Option<HeaderValue>,
    slots: Arc<Semaphore>,
    config: HttpConfig,
    instruments: Instruments,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// Builds the client; fails on a bad URL, a plain-http remote site, or a zero limit.
    pub fn new(config: HttpConfig) -> Result<Self, Error> {
        check_base_url(&config.base_url, config.allow_insecure_http)?;
        if config.max_in_flight == 0 {
            return Err(Error::Config(
                "max_in_flight is 0: no request could ever be sent (use at least 1)".into(),
            ));
        }
        // Redirects are answers like any other: a request the transport followed on its
        // own would reach the site unpaced and uncounted (Jira's attachment downloads
        // answer 303; the caller, or a proxy's caller, follows it as a request of its own).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(&config.user_agent)
            .connect_timeout(config.timeouts.connect)
            .pool_max_idle_per_host(config.max_in_flight)
            .pool_idle_timeout(config.idle_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|error| Error::Config(format!("cannot build the HTTP client: {error}")))?;
        let authorization = authorization(&config.auth)?;
        Ok(HttpTransport {
            inner: Arc::new(Inner {
                client,
                base_url: config.base_url.trim_end_matches('/').to_owned(),
                authorization,
                slots: Arc::new(Semaphore::new(config.max_in_flight)),
                instruments: Instruments::new(),
                config,
            }),
        })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.config.max_in_flight - self.inner.slots.available_permits()
    }

    async fn exchange(
        &self,
        request: &ApiRequest,
        slot: &mut Option<OwnedSemaphorePermit>,
        total: Duration,
    ) -> Result<ApiResponse, Error> {
        let inner = &self.inner;
        let timeouts = &inner.config.timeouts;
        let read = timeouts.read.get(request.class);
        // One timer at a time: each wait (the head, then each chunk of the body) ends at
        // its own phase's limit or at the whole request's, whichever is sooner, so the
        // total needs no timer of its own around them (a timer armed and cancelled on
        // every request is a measurable share of a fast site's round trip).
        let deadline = Instant::now() + total;
        // When a wait ends, the phase it timed and the limit the error names.
        let within = |limit: Duration, phase: TimeoutPhase, named: Duration| {
            let at = Instant::now() + limit;
            match at < deadline {
                true => (at, phase, named),
                false => (deadline, TimeoutPhase::Total, total),
            }
        };
        let mut builder = inner.client.request(
            request.method.clone(),
            format!("{}{}", inner.base_url, request.path),
        );
        // reqwest re-serialises the whole URL to add a query, even an empty one.
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        // A forwarded request's own headers go as they came; its `Authorization` and
        // `Content-Type` take the place of the transport's.
        if let Some(authorization) = &inner.authorization
            && !request.headers.contains_key(http::header::AUTHORIZATION)
        {
            builder = builder.header(http::header::AUTHORIZATION, authorization.clone());
        }
        if let Some(body) = &request.body {
            if !request.headers.contains_key(http::header::CONTENT_TYPE) {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            }
            builder = builder.body(body.clone());
        }
        if !request.headers.is_empty() {
            builder = builder.headers(request.headers.clone());
        }
        let started = Instant::now();
        let timeout = |phase, after| Error::Timeout {
            method: request.method.clone(),
            path: request.path.clone(),
            phase,
            after,
        };
        let head_budget = timeouts.connect.saturating_add(read);
        // The head's wait is named the read's (the connect's own limit is reqwest's).
        let (until, phase, after) = within(head_budget, TimeoutPhase::Read, read);
        let mut response = match tokio::time::timeout_at(until, builder.send()).await {
            Err(_) => return Err(timeout(phase, after)),
            Ok(Err(error)) => return Err(self.map_error(request, error)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        if let Some(stream_to) = &request.stream_to
            && status.is_success()
            && !jira_model::is_json(
                headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
            )
        {
            stream_to.put(body_stream(response, read, slot.take()));
            return Ok(ApiResponse::from_wire(
                request,
                status,
                headers,
                bytes::Bytes::new(),
                started.elapsed(),
            ));
        }
        let limit = self.inner.config.max_body_bytes;
        let too_large = || Error::BodyTooLarge {
            method: request.method.clone(),
            path: request.path.clone(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        // The chunks are kept as they come and joined once at the end: a buffer grown by
        // doubling held twice the body at each step (whether the allocator can grow it in
        // place decided if a body at the cap took 256 or 512 MiB).
        let mut chunks: Vec<bytes::Bytes> = Vec::new();
        let mut length = 0usize;
        loop {
            let (until, phase, after) = within(read, TimeoutPhase::Read, read);
            match tokio::time::timeout_at(until, response.chunk()).await {
                Err(_) => return Err(timeout(phase, after)),
                Ok(Err(error)) => return Err(self.map_error(request, error)),
                Ok(Ok(Some(chunk))) => {
                    if length + chunk.len() > limit {
                        return Err(too_large());
                    }
                    length += chunk.len();
                    chunks.push(chunk);
                }
                Ok(Ok(None)) => break,
            }
        }
        let body = match chunks.len() {
            0 => bytes::Bytes::new(),
            1 => chunks.pop().unwrap_or_default(),
            _ => {
                let mut body = BytesMut::with_capacity(length);
                for chunk in chunks.drain(..) {
                    body.extend_from_slice(&chunk);
                }
                body.freeze()
            }
        };
        Ok(ApiResponse::from_wire(
            request,
            status,
            headers,
            body,
            started.elapsed(),
        ))
    }

    fn map_error(&self, request: &ApiRequest, error: reqwest::Error) -> Error {
        if error.is_connect() {
            if error.is_timeout() {
                return Error::Timeout {
                    method: request.method.clone(),
                    path: request.path.clone(),
                    phase: TimeoutPhase::Connect,
                    after: self.inner.config.timeouts.connect,
                };
            }
            if let Some(detail) = tls_failure(&error) {
                return Error::Tls {
                    url: self.inner.base_url.clone(),
                    detail,
                };
            }
            return Error::Connect {
                url: self.inner.base_url.clone(),
                source: error.without_url(),
                proxy: proxy_from_env(&self.inner.base_url),
            };
        }
        Error::Io {
            method: request.method.clone(),
            path: request.path.clone(),
            source: error.without_url(),
        }
    }
}

/// What a TLS handshake that failed said, when that is why a connection failed: the
/// rustls error (a refused certificate, a server that does not speak TLS) inside the
/// I/O errors the connector wraps it in (`io::Error::source` skips a wrapped error, so
/// they are opened with `get_ref`).
fn tls_failure(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        source = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

impl Transport for HttpTransport {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let inner = &self.inner;
        let waiting = Instant::now();
        // A free slot is taken without arming the acquire timer (the common case).
        let slot = match inner.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                match tokio::time::timeout(
                    inner.config.acquire_timeout,
                    inner.slots.clone().acquire_owned(),
                )
                .await
                {
                    Ok(Ok(slot)) => slot,
                    // The semaphore is never closed; a closed one would mean shutdown.
                    Ok(Err(_)) | Err(_) => {
                        return Err(Error::PoolExhausted {
                            waited: waiting.elapsed(),
                            in_flight: inner.config.max_in_flight,
                        });
                    }
                }
            }
        };
        let total = inner.config.timeouts.total.get(request.class);
        let started = Instant::now();
        // A file streamed to its caller keeps the slot until its last chunk.
        let mut slot = Some(slot);
        let result = self.exchange(&request, &mut slot, total).await;
        let elapsed = started.elapsed();
        let status = result.as_ref().ok().map(|r| r.status.as_u16());
        inner.instruments.request(&request, status, elapsed);
        match &result {
            Ok(response) => tracing::debug!(
                method = %request.method,
                path = request.path_template,
                status = response.status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "jira attempt"
            ),
            Err(error) => tracing::debug!(
                method = %request.method,
                path = request.path_template,
                %error,
                elapsed_ms = elapsed.as_millis() as u64,
                "jira attempt failed"
            ),
        }
        result
    }
}

/// `response`'s body as its chunks come, each within `read` of the one before, holding
/// `slot` (the transport's place for one request in flight) until it ends or is dropped;
/// it ends after an error.
fn body_stream(
    response: reqwest::Response,
    read: Duration,
    slot: Option<OwnedSemaphorePermit>,
) -> jira_model::BodyStream {
    Box::pin(futures_util::stream::unfold(
        Some((response, slot)),
        move |state| async move {
            let (mut response, slot) = state?;
            match tokio::time::timeout(read, response.chunk()).await {
                Ok(Ok(Some(chunk))) => Some((Ok(chunk), Some((response, slot)))),
                Ok(Ok(None)) => None,
                Ok(Err(error)) => Some((Err(std::io::Error::other(error.without_url())), None)),
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no chunk of the body came within the read timeout ({read:?})"),
                    )),
                    None,
                )),
            }
        },
    ))
}

fn authorization(auth: &Auth) -> Result<Option<HeaderValue>, Error> {
    use base64::Engine as _;
    let value = match auth {
        Auth::None => return Ok(None),
        Auth::Basic { email, api_token } => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{email}:{}", api_token.expose()))
        ),
        Auth::Bearer { token } => format!("Bearer {}", token.expose()),
    };
    let mut header = HeaderValue::from_str(&value).map_err(|_| {
        Error::Config(
            "the credentials contain characters that cannot be sent in a header (check the email and token for line breaks)".into(),
        )
    })?;
    header.set_sensitive(true);
    Ok(Some(header))
}

/// Checks a site's base URL as [`HttpTransport::new`] does: a URL, `https://`, or
/// `http://` only to a loopback host (or with `allow_insecure_http`), since credentials
/// would otherwise cross the network in clear text, and no credentials in the URL itself
/// (logs, errors and config files would keep them). The error names the value, its
/// credentials masked, and the fix.
///
/// ```
/// use jira_transport::check_base_url;
///
/// assert!(check_base_url("https://acme.atlassian.net", false).is_ok());
/// assert!(check_base_url("http://127.0.0.1:8080", false).is_ok());
/// assert!(check_base_url("http://acme.atlassian.net", false).is_err());
/// assert!(check_base_url("ftp://acme.atlassian.net", false).is_err());
/// let refused = check_base_url("https://me:s3cret@acme.atlassian.net", false).unwrap_err();
/// assert!(!refused.to_string().contains("s3cret"));
/// ```
pub fn check_base_url(base_url: &str, allow_insecure_http: bool) -> Result<(), Error> {
    let shown = jira_model::redact_url(base_url);
    if shown != base_url {
        return Err(Error::Config(format!(
            "base URL {shown:?} holds credentials: write the site alone (https://your-domain.atlassian.net); the email and API token are given apart, never in the URL, where logs and shell history keep them"
        )));
    }
    let url = reqwest::Url::parse(base_url).map_err(|error| {
        Error::Config(format!(
            "base URL {base_url:?} is not a URL: {error} (expected e.g. https://your-domain.atlassian.net)"
        ))
    })?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(&url) => Ok(()),
        "http" => Err(Error::Config(format!(
            "base URL {base_url:?} uses plain http:// to a remote host, which would send the API token in clear text: use https:// (http:// is for this machine, e.g. a simulator)"
        ))),
        other => Err(Error::Config(format!(
            "base URL {base_url:?} has scheme {other:?} (use https://)"
        ))),
    }
}

/// The proxy the environment names for `base_url` (reqwest sends through it), as a note
/// for a connection that failed: which variable and where it points, its credentials left
/// out.
fn proxy_from_env(base_url: &str) -> Option<String> {
    let names: [&str; 4] = match base_url.starts_with("https:") {
        true => ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"],
        false => ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"],
    };
    names.iter().find_map(|name| {
        let value = std::env::var(name).ok()?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let (scheme, rest) = match value.split_once("://") {
            Some((scheme, rest)) => (format!("{scheme}://"), rest),
            None => (String::new(), value),
        };
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        Some(format!(
            "{name} is set ({scheme}{host}): the request went through that proxy unless NO_PROXY names this host"
        ))
    })
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

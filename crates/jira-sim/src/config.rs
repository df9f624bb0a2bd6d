//! Configuration of a simulated tenant: data set, credentials, limits and faults.
//!
//! Every struct here is serde-friendly, because the admin API (`/__sim/limits`,
//! `/__sim/faults`) reads and replaces limits and faults at run time as JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The most issues a tenant may hold. jira-sim keeps its tenant in memory, about 1.2 KiB
/// an issue (200,000 issues hold 240 MB, docs/jira-sim.md), so this is some 12 GiB;
/// past it, a typo (`--issues-per-project 20000000000`) would abort on allocation instead
/// of naming the flag.
pub const MAX_ISSUES: usize = 10_000_000;

/// The most users a tenant may hold: like [`MAX_ISSUES`], a bound that names the flag
/// before a typo reaches the allocator.
pub const MAX_USERS: usize = 100_000;

/// Everything a simulator is started with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of the generated tenant (the same seed gives the same data) and of the fault
    /// and webhook dice (the same requests in the same order meet the same faults).
    pub seed: u64,
    /// Number of projects.
    pub projects: usize,
    /// Issues generated in each project.
    pub issues_per_project: usize,
    /// Number of users.
    pub users: usize,
    /// Accepted Basic-auth credentials (email + API token).
    pub credentials: Vec<Credential>,
    /// Accepted Bearer tokens (PAT or OAuth access tokens).
    pub bearer_tokens: Vec<Secret>,
    /// Rate limits.
    pub limits: LimitConfig,
    /// Injected faults.
    pub faults: FaultConfig,
    /// A request that arrives this soon after a 429 or 503 was sent to the same client is
    /// taken to have been in flight already, not to ignore the `Retry-After`.
    pub early_retry_grace_ms: u64,
    /// The zone bodies render timestamps in and JQL date literals are read in: the
    /// caller's (`/myself`'s `timeZone`, as Jira Cloud does) or UTC.
    pub render_zone: RenderZone,
    /// Serve HTTPS with a self-signed certificate made at start (its PEM:
    /// `SimHandle::certificate_pem`); the base URL is then `https://`.
    pub tls: bool,
    /// How closely the tenant behaves like Jira Cloud beyond limits and faults.
    pub realism: Realism,
    /// Webhooks registered at start (also `PUT /__sim/webhooks`).
    pub webhooks: Vec<Webhook>,
}

/// A webhook: where jira-sim posts events, and the secret it signs them with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// An `http://` URL that receives a POST per event.
    pub url: String,
    /// The secret of `X-Hub-Signature: sha256=<HMAC-SHA256 of the body>`.
    pub secret: Secret,
    /// The events to send (`jira:issue_created`, `jira:issue_updated`,
    /// `jira:issue_deleted`, `comment_created`, `comment_updated`, `comment_deleted`);
    /// empty sends every one.
    #[serde(default)]
    pub events: Vec<String>,
}

/// Jira Cloud's behaviours that cost realism in tests when on, each with its default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Realism {
    /// `/worklog/updated` and `/worklog/deleted` leave out changes this recent, in
    /// milliseconds (Jira: the last minute).
    pub worklog_settle_ms: u64,
    /// Search sees a write this long after it (reads by key see it at once;
    /// `reconcileIssues` names issues a search must see fresh), as Jira documents its
    /// search to be eventually consistent; 0 (the default) makes search consistent.
    pub search_lag_ms: u64,
    /// Latency that grows with the work: `base_ms` plus `per_kib_ms` for every KiB of the
    /// answer (a page of 100 full issues is ~100 times the bytes of an id-only page).
    /// Off by default (tests and benches choose latency explicitly);
    /// [`WorkLatency::jira_cloud`] is Jira Cloud's order of magnitude.
    pub work_latency: WorkLatency,
    /// Issues an asynchronous bulk operation (`/bulk/issues/...`) processes a second.
    pub bulk_issues_per_sec: f64,
    /// The share of webhook deliveries sent twice (Jira delivers at least once).
    pub webhook_duplicate_rate: f64,
    /// The share of webhook deliveries sent late, after up to `webhook_late_ms`.
    pub webhook_late_rate: f64,
    /// How late a late delivery is at most, in milliseconds.
    pub webhook_late_ms: u64,
    /// When not 0, an issue's embedded `comment` field carries only its last this many
    /// comments (`startAt` = total − n), so a reader that pages on from the embedded
    /// page's length instead of its `startAt` skips comments and writes others twice.
    /// 0 (the default) embeds every comment from 0.
    pub embedded_comments_last: usize,
    /// What a search's `nextPageToken` continues from. Atlassian does not document it.
    pub page_tokens: PageTokens,
    /// The issue entity properties an app declared for JQL (Connect
    /// `jiraEntityProperties`, Forge `jira:entityProperty`): only these are searchable
    /// with `issue.property[KEY]...`. Empty by default, as on a site without such an app:
    /// a property an API-token client sets is stored and readable, and a JQL clause over
    /// it is refused as an unknown field
    /// (<https://developer.atlassian.com/platform/forge/manifest-reference/modules/jira-entity-property/>).
    pub indexed_properties: Vec<String>,
    /// Project permissions the caller lacks (`EDIT_ISSUES`, `TRANSITION_ISSUES`,
    /// `ASSIGN_ISSUES`, `ADD_COMMENTS`, `LINK_ISSUES`, `DELETE_ISSUES`, `CREATE_ISSUES`,
    /// `DELETE_ALL_COMMENTS`; docs/jira-sim.md): the writes that need one are
    /// answered 403 as Jira answers them, and `GET /mypermissions` says so. Empty by
    /// default: the caller may do everything.
    pub denied_permissions: Vec<String>,
    /// When set, a bulk read (`POST /issue/bulkfetch`, `POST /worklog/list`) answers the
    /// first this many of what it was asked for and leaves the rest out without a word,
    /// where Atlassian's reference refuses a request over its cap (400). A site whose
    /// reference reads "you can request up to 100 issues" may do either; a reader that
    /// takes what is missing for deleted loses the rest. `None` by default: the
    /// reference's caps and refusal.
    pub bulk_reads_answer_at_most: Option<usize>,
    /// When set, a page of `POST /changelog/bulkfetch` holds at most this many entries,
    /// however many `maxResults` asks for, and `nextPageToken` leads on to the rest:
    /// Atlassian's reference gives `maxResults` as a maximum, and a server may answer
    /// fewer. `None` by default: the pages hold what was asked, up to 10,000.
    pub changelog_page_at_most: Option<usize>,
}

/// What a search's `nextPageToken` stands for (Atlassian's docs do not say).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageTokens {
    /// The results as they were at the first page: later pages continue that list,
    /// whatever changed since (a cursor).
    #[default]
    Snapshot,
    /// A position in the results as they are when the next page is asked: an issue that
    /// leaves the results meanwhile shifts the later pages, so a reader that follows the
    /// tokens skips one it never saw.
    Offset,
}

impl Default for Realism {
    fn default() -> Self {
        Realism {
            worklog_settle_ms: 60_000,
            search_lag_ms: 0,
            work_latency: WorkLatency::default(),
            bulk_issues_per_sec: 200.0,
            webhook_duplicate_rate: 0.05,
            webhook_late_rate: 0.05,
            webhook_late_ms: 2_000,
            embedded_comments_last: 0,
            page_tokens: PageTokens::default(),
            indexed_properties: Vec::new(),
            denied_permissions: Vec::new(),
            bulk_reads_answer_at_most: None,
            changelog_page_at_most: None,
        }
    }
}

/// Latency proportional to the answer's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkLatency {
    /// Milliseconds every answer takes.
    pub base_ms: u64,
    /// Milliseconds per KiB of the answer's body.
    pub per_kib_ms: f64,
}

impl WorkLatency {
    /// Jira Cloud's order of magnitude as users report it (not measured here): about
    /// 150 ms for a small answer, about 2 s for a search page of 100 issues with every
    /// field (jira-sim renders one as ~690 KiB), ~0.3 s for the same page with three
    /// fields.
    pub fn jira_cloud() -> Self {
        WorkLatency {
            base_ms: 150,
            per_kib_ms: 2.5,
        }
    }

    /// How long an answer of `bytes` takes.
    pub fn delay(&self, bytes: u64) -> std::time::Duration {
        let ms = self.base_ms as f64 + self.per_kib_ms.max(0.0) * bytes as f64 / 1024.0;
        std::time::Duration::from_secs_f64((ms / 1000.0).min(600.0))
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            projects: 5,
            issues_per_project: 200,
            users: 50,
            credentials: vec![Credential::default()],
            bearer_tokens: Vec::new(),
            limits: LimitConfig::atlassian(),
            faults: FaultConfig::default(),
            early_retry_grace_ms: 100,
            render_zone: RenderZone::default(),
            tls: false,
            realism: Realism::default(),
            webhooks: Vec::new(),
        }
    }
}

/// Which zone jira-sim renders timestamps in and reads JQL date literals in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderZone {
    /// The calling user's zone (`GET /myself` → `timeZone`), as Jira Cloud does: a body
    /// says `2026-11-30T09:00:00.000+0100`, and `updated >= "2026-11-30 09:00"` means 09:00
    /// in that zone.
    #[default]
    User,
    /// UTC, whoever calls (`+0000` everywhere).
    Utc,
}

/// A secret string: serialised as itself (the admin API and config files need it) but
/// never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself; call only where it must be compared or sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An email and API token accepted with Basic auth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The account's email.
    pub email: String,
    /// The API token.
    pub api_token: Secret,
}

impl Default for Credential {
    fn default() -> Self {
        Credential {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        }
    }
}

/// The three limits of Jira Cloud, each switchable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitConfig {
    /// Per-second token buckets per endpoint template and method; `None` turns them off.
    pub burst: Option<BurstConfig>,
    /// The hourly points quota; `None` turns it off.
    pub quota: Option<QuotaConfig>,
    /// Per-issue write windows; `None` turns them off.
    pub per_issue_writes: Option<PerIssueConfig>,
    /// Whether successful responses carry `X-RateLimit-Limit`/`-Remaining`/`-NearLimit`.
    /// Off hides the limits until the first 429 (for clients that must discover them).
    pub advertise: bool,
    /// How many simulated seconds pass per real second for the hourly quota window: 3600
    /// makes an "hour" pass in one second. Burst and per-issue windows are not scaled; set
    /// their sizes directly.
    pub time_scale: f64,
    /// How a 429 says when to come back (strict servers say less than jira-sim's default).
    #[serde(default)]
    pub refusal: RefusalHeaders,
    /// The renew penalty of a strict server: a request that arrives while a wait it was
    /// told of is still running is refused and renews that wait (Atlassian warns that a
    /// retry may meet "the same or a longer Retry-After"). Off by default.
    #[serde(default)]
    pub renew_penalty: bool,
}

/// The headers of a 429 that say when to come back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefusalHeaders {
    /// `Retry-After`.
    pub retry_after: RetryAfterFormat,
    /// `X-RateLimit-Reset`.
    pub reset: ResetFormat,
}

/// How `Retry-After` is written on a 429.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAfterFormat {
    /// Whole seconds, rounded up (the default).
    #[default]
    Seconds,
    /// An HTTP date, at or after the instant the limit admits again.
    HttpDate,
    /// Not sent.
    Absent,
}

/// How `X-RateLimit-Reset` is written on a 429.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetFormat {
    /// An ISO 8601 instant at second precision (the default).
    #[default]
    Seconds,
    /// Atlassian's documented `yyyy-MM-ddTHH:mmZ`: the first minute boundary at or after
    /// the instant the limit admits again.
    Minute,
    /// Not sent.
    Absent,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self::atlassian()
    }
}

impl LimitConfig {
    /// Atlassian's documented defaults: burst GET/POST 100/s, PUT/DELETE 50/s with the
    /// `GET /issue/{id}` override of 150/s, a tenant quota of 65,000 points an hour, and
    /// per-issue writes of 20 per 2 s and 100 per 30 s.
    pub fn atlassian() -> Self {
        LimitConfig {
            burst: Some(BurstConfig::default()),
            quota: Some(QuotaConfig::default()),
            per_issue_writes: Some(PerIssueConfig::default()),
            advertise: true,
            time_scale: 1.0,
            refusal: RefusalHeaders::default(),
            renew_penalty: false,
        }
    }

    /// No limits at all (for throughput measurements). Limits added to it are advertised.
    pub fn off() -> Self {
        LimitConfig {
            burst: None,
            quota: None,
            per_issue_writes: None,
            advertise: true,
            time_scale: 1.0,
            refusal: RefusalHeaders::default(),
            renew_penalty: false,
        }
    }
}

/// Burst limits: requests per second per endpoint template × method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BurstConfig {
    /// GET requests per second.
    pub get: f64,
    /// POST requests per second.
    pub post: f64,
    /// PUT requests per second.
    pub put: f64,
    /// DELETE requests per second.
    pub delete: f64,
    /// Per-endpoint overrides, first match wins.
    pub overrides: Vec<BurstOverride>,
    /// The bucket's size, when it differs from one second of refill (a strict server may
    /// hold 20 tokens refilled at 50 a second); `None` is one second's worth.
    #[serde(default)]
    pub capacity: Option<f64>,
}

impl Default for BurstConfig {
    fn default() -> Self {
        BurstConfig {
            get: 100.0,
            post: 100.0,
            put: 50.0,
            delete: 50.0,
            overrides: vec![BurstOverride {
                method: "GET".into(),
                path_template: "/rest/api/3/issue/{issueIdOrKey}".into(),
                per_second: 150.0,
            }],
            capacity: None,
        }
    }
}

impl BurstConfig {
    /// The same rate for every method and no overrides.
    pub fn uniform(per_second: f64) -> Self {
        BurstConfig {
            get: per_second,
            post: per_second,
            put: per_second,
            delete: per_second,
            overrides: Vec::new(),
            capacity: None,
        }
    }

    /// A bucket of `capacity` tokens, whatever the refill rate.
    pub fn with_capacity(mut self, capacity: f64) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// The rate of one endpoint template (in its `/rest/api/3/` form) and method.
    pub fn rate_for(&self, method: &str, template: &str) -> f64 {
        if let Some(found) = self
            .overrides
            .iter()
            .find(|o| o.method.eq_ignore_ascii_case(method) && o.path_template == template)
        {
            return found.per_second;
        }
        match method {
            "GET" | "HEAD" | "OPTIONS" => self.get,
            "PUT" | "PATCH" => self.put,
            "DELETE" => self.delete,
            _ => self.post,
        }
    }
}

/// A burst rate for one endpoint and method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstOverride {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The v3 path template, e.g. `/rest/api/3/issue/{issueIdOrKey}`.
    pub path_template: String,
    /// Requests per second.
    pub per_second: f64,
}

/// Which hourly pool the quota models; it decides the `RateLimit-Reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuotaKind {
    /// Tier 2, per tenant: `jira-quota-tenant-based`.
    Tenant,
    /// Tier 1, the global app pool: `jira-quota-global-based`.
    Global,
}

/// The hourly points quota.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Points per (scaled) hour.
    pub points_per_hour: u64,
    /// Tenant or global pool.
    pub kind: QuotaKind,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            points_per_hour: 65_000,
            kind: QuotaKind::Tenant,
        }
    }
}

/// Per-issue write windows (sliding).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerIssueConfig {
    /// Length of the short window in milliseconds (Jira: 2 s).
    pub short_window_ms: u64,
    /// Writes allowed in the short window (Jira: 20).
    pub short_max: u32,
    /// Length of the long window in milliseconds (Jira: 30 s).
    pub long_window_ms: u64,
    /// Writes allowed in the long window (Jira: 100).
    pub long_max: u32,
}

impl Default for PerIssueConfig {
    fn default() -> Self {
        PerIssueConfig {
            short_window_ms: 2_000,
            short_max: 20,
            long_window_ms: 30_000,
            long_max: 100,
        }
    }
}

/// Injected faults: rules rolled for every request in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// The rules. Every matching `latency` rule adds its delay; of the others, the first
    /// whose dice roll hits decides the request's fate.
    pub rules: Vec<FaultRule>,
}

/// One fault, its probability, and optionally the endpoint it targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// What happens.
    pub fault: Fault,
    /// Chance per request, 0.0 to 1.0.
    pub probability: f64,
    /// Only requests to this v3 path template (e.g. `/rest/api/3/issue/{issueIdOrKey}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Only requests with this method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl FaultRule {
    /// A rule for every endpoint.
    pub fn new(fault: Fault, probability: f64) -> Self {
        FaultRule {
            fault,
            probability,
            endpoint: None,
            method: None,
        }
    }

    /// Restricts the rule to one v3 path template.
    pub fn on(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.to_owned());
        self
    }

    /// Restricts the rule to one method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    pub(crate) fn matches(&self, method: &str, template: &str) -> bool {
        self.endpoint.as_deref().is_none_or(|e| e == template)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// What a fault does to a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Answer with this status (500, 502, 503, 504, ...) and a Jira error body.
    Status {
        /// The status code.
        status: u16,
    },
    /// Do the work (a create is created, an edit applied), then answer this status instead
    /// of the real answer: a gateway that timed out after the server acted. A client that
    /// retries a non-idempotent request after this creates a duplicate.
    LostResponse {
        /// The status code sent instead of the real answer.
        status: u16,
    },
    /// Answer 503 with `Retry-After`.
    Unavailable {
        /// The `Retry-After` seconds.
        retry_after_secs: u64,
    },
    /// Close the connection with a TCP reset before answering.
    Reset,
    /// Delay the answer (added to other latency rules that match).
    Latency {
        /// Fixed delay in milliseconds.
        fixed_ms: u64,
        /// Uniform random extra delay, 0 to this many milliseconds.
        jitter_ms: u64,
    },
    /// Wait this long before answering: longer than any sane client timeout.
    Hang {
        /// How long, in milliseconds.
        ms: u64,
    },
    /// Send the headers and half the body, then reset the connection.
    Truncated,
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
    /// Answer 200 with a JSON body of this many bytes, streamed in chunks without a
    /// `Content-Length`, so a client learns its size only by reading it: a client without a
    /// body cap grows with it.
    Oversized {
        /// The body's length in bytes.
        bytes: u64,
    },
}

impl Fault {
    /// A short name, used in counters.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Status { .. } => "status",
            Fault::LostResponse { .. } => "lost_response",
            Fault::Unavailable { .. } => "unavailable",
            Fault::Reset => "reset",
            Fault::Latency { .. } => "latency",
            Fault::Hang { .. } => "hang",
            Fault::Truncated => "truncated",
            Fault::Malformed => "malformed",
            Fault::Oversized { .. } => "oversized",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let config = SimConfig {
            credentials: vec![Credential {
                email: "ann@example.com".into(),
                api_token: Secret::new("tok-123456"),
            }],
            bearer_tokens: vec![Secret::new("pat-987654")],
            ..SimConfig::default()
        };
        let debug = format!("{config:?}");
        assert!(debug.contains("ann@example.com"));
        assert!(
            !debug.contains("tok-123456") && !debug.contains("pat-987654"),
            "{debug}"
        );
    }

    #[test]
    fn burst_rates_by_method_and_override() {
        let burst = BurstConfig::default();
        assert_eq!(
            burst.rate_for("GET", "/rest/api/3/issue/{issueIdOrKey}"),
            150.0
        );
        assert_eq!(burst.rate_for("GET", "/rest/api/3/field"), 100.0);
        assert_eq!(
            burst.rate_for("PUT", "/rest/api/3/issue/{issueIdOrKey}"),
            50.0
        );
        assert_eq!(
            burst.rate_for("DELETE", "/rest/api/3/issue/{issueIdOrKey}"),
            50.0
        );
        assert_eq!(burst.rate_for("POST", "/rest/api/3/issue"), 100.0);
    }
}

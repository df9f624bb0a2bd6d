//! The command-line face of the simulator: [`ServeArgs`] (clap flags for the tenant, the
//! limits and the faults) shared by the `jira-sim` binary and `jira-ops sim serve`.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, bail};

use crate::{
    BurstConfig, Credential, Fault, FaultConfig, FaultRule, LimitConfig, PerIssueConfig,
    QuotaConfig, QuotaKind, RefusalHeaders, ResetFormat, RetryAfterFormat, Secret, SimConfig,
    SimHandle,
};

/// The API token jira-sim accepts unless told another (`--token`, `JIRA_SIM_TOKEN`).
pub const DEFAULT_TOKEN: &str = "sim-token";

/// The flags of a simulator served from the command line: the tenant, the limits, the
/// faults. `jira-sim` and `jira-ops sim serve` share them.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Seed of the generated tenant and of the fault dice (the same requests in the same
    /// order meet the same faults).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of projects.
    #[arg(long, default_value_t = 5)]
    pub projects: usize,
    /// Issues per project.
    #[arg(long, default_value_t = 200)]
    pub issues_per_project: usize,
    /// Number of users.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// Email accepted with Basic auth.
    #[arg(long, default_value = "sim@example.com")]
    pub email: String,
    /// API token accepted with Basic auth.
    #[arg(
        long,
        env = "JIRA_SIM_TOKEN",
        default_value = DEFAULT_TOKEN,
        hide_env_values = true
    )]
    pub token: String,
    /// A Bearer token to accept as well (repeatable).
    #[arg(long = "bearer", env = "JIRA_SIM_BEARER", hide_env_values = true)]
    pub bearer: Vec<String>,
    /// Turn every rate limit off.
    #[arg(long)]
    pub no_limits: bool,
    /// Burst limit for every method, requests per second (default: Atlassian's per-method
    /// defaults with the GET /issue/{id} override).
    #[arg(long)]
    pub burst: Option<f64>,
    /// Tokens a burst bucket holds (default: one second of --burst); a strict server may
    /// hold fewer than it refills a second.
    #[arg(long, value_name = "N")]
    pub burst_capacity: Option<f64>,
    /// Turn the burst limit off.
    #[arg(long)]
    pub no_burst: bool,
    /// How a 429's Retry-After is written: seconds, http-date, or none.
    #[arg(long, default_value = "seconds", value_name = "FORMAT")]
    pub retry_after_format: String,
    /// How a 429's X-RateLimit-Reset is written: seconds, minute (Atlassian's documented
    /// precision, rounded up), or none.
    #[arg(long, default_value = "seconds", value_name = "FORMAT")]
    pub reset_format: String,
    /// Refuse a request that arrives during a running wait and renew that wait (a strict
    /// server's penalty for clients that do not wait).
    #[arg(long)]
    pub renew_penalty: bool,
    /// Hourly points quota (0 turns it off).
    #[arg(long, default_value_t = 65_000)]
    pub quota: u64,
    /// Answer quota breaches as the global app pool rather than the tenant's.
    #[arg(long)]
    pub global_quota: bool,
    /// Turn the per-issue write limits off.
    #[arg(long)]
    pub no_per_issue: bool,
    /// Do not advertise X-RateLimit-* headers before a 429 (hidden limits).
    #[arg(long)]
    pub hide_limits: bool,
    /// Simulated seconds per real second for the hourly quota (3600: an hour a second).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// A fault rule, repeatable: `KIND@PROBABILITY[:ENDPOINT]` where KIND is
    /// `status:CODE`, `lost:CODE` (the work is done, then CODE is answered),
    /// `unavailable:SECS`, `reset`, `hang:MS`, `truncated`, `malformed`,
    /// `oversized:BYTES` (a 200 of that size, streamed without a length), or
    /// `latency:MS+JITTER` (probability defaults to 1 for latency).
    #[arg(long = "fault", value_name = "RULE")]
    pub faults: Vec<String>,
    /// A fixed latency added to every answer, in milliseconds, with up to half of it again
    /// as jitter (as `jira-ops demo --latency-ms`); `--fault 'latency:MS+JITTER'` sets
    /// both.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Latency that grows with the answer: `off`, `jira-cloud` (150 ms plus 2.5 ms per KiB:
    /// a search page of 100 issues with every field takes ~1.9 s, an id-only page ~0.15 s),
    /// or `BASE_MS+MS_PER_KIB`.
    #[arg(long, default_value = "off", value_name = "MODEL")]
    pub work_latency: String,
    /// Search sees a write this many milliseconds after it, as Jira's index lags (reads
    /// by key see it at once; `reconcileIssues` names issues to see fresh).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub search_lag_ms: u64,
    /// An issue entity property searchable with `issue.property[KEY]` in JQL, as when an
    /// app declared it for the index (repeat for several); without it, as on Jira Cloud,
    /// such a clause is refused as an unknown field.
    #[arg(long = "index-property", value_name = "KEY")]
    pub index_properties: Vec<String>,
    /// A project permission the caller lacks (`EDIT_ISSUES`, `TRANSITION_ISSUES`,
    /// `ASSIGN_ISSUES`, `ADD_COMMENTS`, `LINK_ISSUES`, `DELETE_ISSUES`, `CREATE_ISSUES`,
    /// `DELETE_ALL_COMMENTS`; repeat for several): its writes are answered 403 and
    /// `GET /mypermissions` says so.
    #[arg(long = "deny-permission", value_name = "KEY")]
    pub deny_permissions: Vec<String>,
    /// What a search's `nextPageToken` continues: `snapshot` (the results as they were at
    /// the first page) or `offset` (a position in the results as they are at the next
    /// page, so an issue leaving them shifts later pages). Atlassian does not document it.
    #[arg(long, default_value = "snapshot", value_name = "KIND")]
    pub page_tokens: String,
    /// The zone bodies render timestamps in and JQL date literals are read in: `user` (the
    /// caller's `/myself` time zone, as Jira Cloud does) or `utc`.
    #[arg(long, default_value = "user", value_name = "ZONE")]
    pub render_zone: String,
    /// `/worklog/updated` and `/deleted` leave out changes this recent (Jira: a minute).
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub worklog_settle_ms: u64,
    /// Issues an asynchronous bulk operation processes a second.
    #[arg(long, default_value_t = 200.0, value_name = "N")]
    pub bulk_issues_per_sec: f64,
    /// A webhook URL (http://) that receives every issue and comment event, repeatable.
    #[arg(long = "webhook", value_name = "URL")]
    pub webhooks: Vec<String>,
    /// The secret webhooks are signed with (`X-Hub-Signature: sha256=...`).
    #[arg(
        long,
        env = "JIRA_SIM_WEBHOOK_SECRET",
        default_value = "sim-webhook-secret",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub webhook_secret: String,
    /// Serve HTTPS with a self-signed certificate made at start (Jira Cloud speaks only
    /// https; some clients insist on it).
    #[arg(long)]
    pub tls: bool,
    /// Where to write the certificate (PEM) a client must trust, with --tls.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_cert_out: Option<std::path::PathBuf>,
}

/// Example command lines for `--help`, run as `program` (`jira-sim`, `jira-ops sim serve`).
pub fn examples(program: &str) -> String {
    format!(
        "Examples:
  {program} --port 8080
  {program} --port 0 --projects 20 --issues-per-project 5000 --no-limits
  {program} --latency-ms 20 --fault 'status:503@0.05'
  {program} --burst 50 --hide-limits
  {program} --burst 50 --burst-capacity 20 --hide-limits --reset-format minute --renew-penalty
  {program} --fault 'reset@0.01:/rest/api/3/issue/{{issueIdOrKey}}' --fault 'latency:20+10'
  {program} --port 8443 --tls --tls-cert-out sim.pem   (then: REQUESTS_CA_BUNDLE=sim.pem)

Sign in with --email and --token (sim@example.com / sim-token by default).
Admin API: GET /__sim/stats, POST /__sim/reset, GET|PUT /__sim/faults, GET|PUT /__sim/limits"
    )
}

impl ServeArgs {
    /// The simulator configuration these flags describe, or an error naming the flag.
    pub fn to_config(&self) -> anyhow::Result<SimConfig> {
        let args = self;
        let issues = args.projects.checked_mul(args.issues_per_project);
        if issues.is_none_or(|issues| issues > crate::MAX_ISSUES) {
            bail!(
                "--projects {} × --issues-per-project {} is more than the {} issues jira-sim can hold in memory: ask for fewer (e.g. --projects 20 --issues-per-project 5000)",
                args.projects,
                args.issues_per_project,
                crate::MAX_ISSUES
            );
        }
        if args.users > crate::MAX_USERS {
            bail!(
                "--users {} is more than the {} users jira-sim holds: ask for fewer (e.g. --users 500)",
                args.users,
                crate::MAX_USERS
            );
        }
        if !(args.time_scale > 0.0 && args.time_scale.is_finite()) {
            bail!(
                "--time-scale {} must be a positive number (e.g. 3600 for an hour a second)",
                args.time_scale
            );
        }
        let limits = if args.no_limits {
            LimitConfig::off()
        } else {
            LimitConfig {
                burst: match (args.no_burst, args.burst) {
                    (true, _) => None,
                    (false, Some(rate)) if rate > 0.0 => Some(BurstConfig::uniform(rate)),
                    (false, Some(rate)) => {
                        bail!("--burst {rate} must be positive (or use --no-burst)")
                    }
                    (false, None) => Some(BurstConfig::default()),
                }
                .map(|burst| match args.burst_capacity {
                    Some(capacity) => burst.with_capacity(capacity),
                    None => burst,
                }),
                quota: (args.quota > 0).then_some(QuotaConfig {
                    points_per_hour: args.quota,
                    kind: if args.global_quota {
                        QuotaKind::Global
                    } else {
                        QuotaKind::Tenant
                    },
                }),
                per_issue_writes: (!args.no_per_issue).then(PerIssueConfig::default),
                advertise: !args.hide_limits,
                time_scale: args.time_scale,
                refusal: RefusalHeaders {
                    retry_after: match args.retry_after_format.as_str() {
                        "seconds" => RetryAfterFormat::Seconds,
                        "http-date" => RetryAfterFormat::HttpDate,
                        "none" => RetryAfterFormat::Absent,
                        other => bail!(
                            "--retry-after-format {other:?} is not one of seconds, http-date, none"
                        ),
                    },
                    reset: match args.reset_format.as_str() {
                        "seconds" => ResetFormat::Seconds,
                        "minute" => ResetFormat::Minute,
                        "none" => ResetFormat::Absent,
                        other => {
                            bail!("--reset-format {other:?} is not one of seconds, minute, none")
                        }
                    },
                },
                renew_penalty: args.renew_penalty,
            }
        };
        if !(args.bulk_issues_per_sec > 0.0 && args.bulk_issues_per_sec.is_finite()) {
            bail!(
                "--bulk-issues-per-sec {} must be a positive number (e.g. 200)",
                args.bulk_issues_per_sec
            );
        }
        if let Some(capacity) = args.burst_capacity
            && !(capacity >= 1.0 && capacity.is_finite())
        {
            bail!("--burst-capacity {capacity} must be at least 1");
        }
        let mut rules = args
            .faults
            .iter()
            .map(|rule| parse_fault(rule))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if args.latency_ms > 0 {
            rules.push(FaultRule::new(
                Fault::Latency {
                    fixed_ms: args.latency_ms,
                    jitter_ms: args.latency_ms / 2,
                },
                1.0,
            ));
        }
        Ok(SimConfig {
            seed: args.seed,
            projects: args.projects,
            issues_per_project: args.issues_per_project,
            users: args.users,
            credentials: vec![Credential {
                email: args.email.clone(),
                api_token: Secret::new(args.token.clone()),
            }],
            bearer_tokens: args.bearer.iter().cloned().map(Secret::new).collect(),
            limits,
            faults: FaultConfig { rules },
            tls: args.tls,
            render_zone: match args.render_zone.to_ascii_lowercase().as_str() {
                "user" => crate::config::RenderZone::User,
                "utc" => crate::config::RenderZone::Utc,
                other => anyhow::bail!(
                    "--render-zone {other:?} is not a zone choice: use `user` (the caller's time zone) or `utc`"
                ),
            },
            realism: crate::config::Realism {
                worklog_settle_ms: args.worklog_settle_ms,
                search_lag_ms: args.search_lag_ms,
                work_latency: parse_work_latency(&args.work_latency)?,
                bulk_issues_per_sec: args.bulk_issues_per_sec,
                page_tokens: match args.page_tokens.to_ascii_lowercase().as_str() {
                    "snapshot" => crate::config::PageTokens::Snapshot,
                    "offset" => crate::config::PageTokens::Offset,
                    other => anyhow::bail!(
                        "--page-tokens {other:?} is not a token kind: use `snapshot` or `offset`"
                    ),
                },
                indexed_properties: args.index_properties.clone(),
                denied_permissions: args
                    .deny_permissions
                    .iter()
                    .map(|p| {
                        let key = p.trim().to_ascii_uppercase();
                        match crate::permissions::name(&key) {
                            Some(_) => Ok(key),
                            None => Err(anyhow::anyhow!(
                                "--deny-permission {p:?} is not a permission jira-sim knows: use one of {}",
                                crate::permissions::KEYS.join(", ")
                            )),
                        }
                    })
                    .collect::<anyhow::Result<_>>()?,
                ..crate::config::Realism::default()
            },
            webhooks: args
                .webhooks
                .iter()
                .map(|url| {
                    if url.starts_with("http://") {
                        Ok(crate::config::Webhook {
                            url: url.clone(),
                            secret: Secret::new(args.webhook_secret.clone()),
                            events: Vec::new(),
                        })
                    } else {
                        Err(anyhow::anyhow!(
                            "--webhook {url:?} must be an http:// URL (jira-sim posts without TLS)"
                        ))
                    }
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
            ..SimConfig::default()
        })
    }

    /// Binds `host:port`, prints where it serves, and serves until `shutdown` resolves.
    pub async fn serve_until(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let config = self.to_config()?;
        let addr = SocketAddr::new(self.host, self.port);
        let sim = SimHandle::bind(config, addr).await.with_context(|| {
            format!("cannot listen on {addr} (is the port in use? try --port 0)")
        })?;
        if let (Some(path), Some(pem)) = (&self.tls_cert_out, sim.certificate_pem()) {
            std::fs::write(path, pem).with_context(|| {
                format!(
                    "cannot write the certificate to {} (is the directory there and writable?)",
                    path.display()
                )
            })?;
        }
        // A closed stdout (a pipe whose reader went away) must not stop the server.
        // The default token is a test fixture and printed; one the caller chose is theirs.
        let token = if self.token == DEFAULT_TOKEN {
            DEFAULT_TOKEN
        } else {
            "(the token you gave with --token or JIRA_SIM_TOKEN)"
        };
        let banner = format!(
            "jira-sim serving {} issues at {}\ncredentials: {} / {token}; admin API: {}/__sim/stats\n",
            sim.issue_count(),
            sim.base_url(),
            sim.credential().email,
            sim.base_url()
        );
        let mut stdout = std::io::stdout();
        let _ = stdout
            .write_all(banner.as_bytes())
            .and_then(|()| stdout.flush());
        shutdown.await;
        sim.shutdown().await;
        Ok(())
    }
}

/// Parses `--work-latency`: `off`, `jira-cloud` or `BASE_MS+MS_PER_KIB`.
fn parse_work_latency(text: &str) -> anyhow::Result<crate::config::WorkLatency> {
    use crate::config::WorkLatency;
    match text {
        "off" => Ok(WorkLatency::default()),
        "jira-cloud" => Ok(WorkLatency::jira_cloud()),
        other => {
            let parsed = other.split_once('+').and_then(|(base, per)| {
                Some(WorkLatency {
                    base_ms: base.trim().parse().ok()?,
                    per_kib_ms: per
                        .trim()
                        .parse()
                        .ok()
                        .filter(|p: &f64| p.is_finite() && *p >= 0.0)?,
                })
            });
            parsed.ok_or_else(|| {
                anyhow::anyhow!(
                    "--work-latency {other:?} is not off, jira-cloud or BASE_MS+MS_PER_KIB (e.g. 150+4.5)"
                )
            })
        }
    }
}

/// Parses a `--fault` rule: `KIND@PROBABILITY[:ENDPOINT]`.
pub fn parse_fault(text: &str) -> anyhow::Result<FaultRule> {
    let usage = || {
        format!(
            "--fault {text:?} is not a fault rule (expected e.g. 'status:503@0.05', 'lost:504@0.1', 'reset@0.01:/rest/api/3/issue/{{issueIdOrKey}}' or 'latency:20+10')"
        )
    };
    let (kind, rest) = match text.split_once('@') {
        Some((kind, rest)) => (kind, Some(rest)),
        None => (text, None),
    };
    let (probability, endpoint) = match rest {
        None => (None, None),
        Some(rest) => match rest.split_once(':') {
            Some((p, endpoint)) => (Some(p), Some(endpoint.to_owned())),
            None => (Some(rest), None),
        },
    };
    let (name, argument) = kind.split_once(':').unwrap_or((kind, ""));
    let number = |value: &str| value.parse::<u64>().with_context(usage);
    let fault = match name {
        "status" => Fault::Status {
            status: argument.parse().with_context(usage)?,
        },
        "lost" => Fault::LostResponse {
            status: argument.parse().with_context(usage)?,
        },
        "unavailable" => Fault::Unavailable {
            retry_after_secs: number(argument)?,
        },
        "reset" => Fault::Reset,
        "hang" => Fault::Hang {
            ms: number(argument)?,
        },
        "truncated" => Fault::Truncated,
        "malformed" => Fault::Malformed,
        "oversized" => Fault::Oversized {
            bytes: number(argument)?,
        },
        "latency" => {
            let (fixed, jitter) = argument.split_once('+').unwrap_or((argument, "0"));
            Fault::Latency {
                fixed_ms: number(fixed)?,
                jitter_ms: number(jitter)?,
            }
        }
        _ => bail!(usage()),
    };
    let probability = match probability {
        Some(p) => p.parse::<f64>().with_context(usage)?,
        None if matches!(fault, Fault::Latency { .. }) => 1.0,
        None => bail!(usage()),
    };
    if !(0.0..=1.0).contains(&probability) {
        bail!("--fault {text:?}: probability {probability} is outside 0..1 (use e.g. 0.05 for 5%)");
    }
    Ok(FaultRule {
        fault,
        probability,
        endpoint,
        method: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_rules_parse() {
        let rule = parse_fault("status:503@0.05").unwrap();
        assert_eq!(rule.fault, Fault::Status { status: 503 });
        assert_eq!(rule.probability, 0.05);
        let rule = parse_fault("reset@0.01:/rest/api/3/issue/{issueIdOrKey}").unwrap();
        assert_eq!(
            rule.endpoint.as_deref(),
            Some("/rest/api/3/issue/{issueIdOrKey}")
        );
        let rule = parse_fault("latency:20+10").unwrap();
        assert_eq!(
            rule.fault,
            Fault::Latency {
                fixed_ms: 20,
                jitter_ms: 10
            }
        );
        assert_eq!(rule.probability, 1.0);
        assert!(parse_fault("reset").is_err());
        assert!(parse_fault("explode@0.1").is_err());
        assert!(
            parse_fault("status:503@2")
                .unwrap_err()
                .to_string()
                .contains("outside 0..1")
        );
    }
}

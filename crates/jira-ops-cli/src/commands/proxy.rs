//! `jira-ops proxy`: Jira's REST API served on a local port through the client's stack
//! (the `jira-proxy` crate does the work; this reads the options and prints the address).

use std::io::Write as _;
use std::time::Duration;

use jira_client::Secret;
use jira_proxy::{Credentials, Proxy, ProxyConfig};

use crate::cli::{Global, ProxyArgs};
use crate::config::CacheUse;
use crate::error::{CliError, CliResult, Code};

/// How long requests in flight may take to finish after SIGINT or SIGTERM.
const GRACE: Duration = crate::signals::GRACE;

pub async fn run(global: &Global, args: ProxyArgs) -> CliResult {
    let mut loaded = super::settings(global)?;
    if let Some(url) = &args.redis {
        let mut keys = vec!["rate_limit_store"];
        if loaded.settings.cache_store != "none" {
            keys.push("cache_store");
        }
        for key in keys {
            loaded
                .settings
                .set(key, url)
                .map_err(|e| CliError::usage(format!("--redis: {e}")))?;
        }
    }
    let secret_from = |variable: &str, what: &str| -> Result<Secret, CliError> {
        match std::env::var(variable) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim())),
            _ => Err(CliError::usage(format!(
                "{what}: the variable {variable} is not set or empty (export {variable}=... before starting the proxy)"
            ))),
        }
    };
    let (client, credentials) = if args.token_from_env {
        let local_key = secret_from(
            &args.local_key_env,
            "--token-from-env needs a local key for callers to present, so nothing on this machine uses the token unasked",
        )?;
        (
            loaded.client(CacheUse::Required).await?,
            Credentials::Held { local_key },
        )
    } else {
        if loaded.settings.api_token.is_some() && !global.quiet {
            crate::notes::say!(
                "jira-ops proxy: forwarding each caller's own credentials; the configured API token is not used (--token-from-env makes the proxy hold it)"
            );
        }
        (loaded.forwarding_client().await?, Credentials::Forward)
    };
    let webhook_secret = match &args.webhook_secret_env {
        Some(variable) => Some(secret_from(variable, "--webhook-secret-env")?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            CliError::usage(format!(
                "cannot listen on {} ({e}): is the port in use? try --listen 127.0.0.1:0",
                args.listen
            ))
        })?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() && matches!(credentials, Credentials::Forward) {
        crate::notes::say!(
            "jira-ops proxy: warning: listening on {addr}, not loopback: callers' credentials reach the proxy in clear text; put TLS in front of it or listen on 127.0.0.1"
        );
    }
    let site = client.base_url().to_owned();
    let cache = match client.cache() {
        Some(cache) => cache.store().describe(),
        None => "none".to_owned(),
    };
    let budget = client.budget_description().to_owned();
    let proxy = Proxy::new(
        client,
        ProxyConfig {
            credentials,
            cache_searches: args.cache_searches,
            ignore_no_cache: args.ignore_no_cache,
            webhook_secret,
            ..ProxyConfig::default()
        },
    );
    // A closed stdout (a pipe whose reader went away) must not stop the proxy.
    let banner = format!(
        "jira-ops proxy listening on http://{addr} for {site}\nbudget: {budget}; cache: {cache}; stats: http://{addr}{}\n",
        jira_proxy::STATS_PATH
    );
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    let served = jira_proxy::serve(proxy.clone(), listener, async {
        crate::signals::wait().await;
    });
    tokio::select! {
        result = served => result.map_err(|e| CliError::failure(format!("the proxy stopped: {e}")))?,
        () = async {
            crate::signals::wait().await;
            tokio::time::sleep(GRACE).await;
        } => crate::notes::say!(
            "jira-ops proxy: requests still in flight {} s after the signal were cut off",
            GRACE.as_secs()
        ),
    }
    let stats = proxy.stats();
    if !global.quiet {
        crate::notes::say!(
            "jira-ops proxy: stopped after {} requests: {} upstream, {} from the cache, {} coalesced, {} 429s absorbed, {} passed on",
            stats.requests,
            stats.upstream,
            stats.cache_hits,
            stats.coalesced,
            stats.absorbed_429,
            stats.passed_429
        );
    }
    proxy.client().close().await?;
    Ok(Code::Ok)
}

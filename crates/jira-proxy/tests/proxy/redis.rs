//! Two proxies on one Redis: one budget for the site, so callers of both together stay
//! under its limit (the pace itself is measured in `cargo xtask bench`).

use std::time::Duration;

use jira_client::{Auth, BudgetChoice, BurstLimits, LimitsConfig};
use jira_ops_tests::RedisServer;
use jira_proxy::ProxyConfig;
use jira_sim::{BurstConfig, LimitConfig};
use reqwest::Method;

use crate::{call, sim, start_proxy_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_on_one_redis_keep_their_callers_together_under_the_limit() {
    let redis = RedisServer::start();
    // 40 a second, not announced; both proxies are told the limit: each alone paces at
    // 40, so without the shared budget the two send 80 a second and the site refuses.
    let sim = sim(LimitConfig {
        burst: Some(BurstConfig::uniform(40.0).with_capacity(40.0)),
        advertise: false,
        ..LimitConfig::off()
    })
    .await;
    let limits = || LimitsConfig {
        burst: BurstLimits {
            get: 40.0,
            overrides: Vec::new(),
            ..BurstLimits::default()
        },
        learn_limits: false,
        max_wait: Duration::from_secs(60),
        ..LimitsConfig::default()
    };
    let budget = || BudgetChoice::Redis {
        url: redis.url.clone(),
        fallback: jira_client::Fallback::Fail,
    };
    let a = start_proxy_with(&sim, Auth::None, ProxyConfig::default(), limits(), budget()).await;
    let b = start_proxy_with(&sim, Auth::None, ProxyConfig::default(), limits(), budget()).await;
    let keys: Vec<String> = sim
        .project_keys()
        .iter()
        .flat_map(|p| sim.issue_keys(p))
        .collect();
    // 200 different reads (100 issues, a field set per proxy), none from a cache or a
    // flight: every one needs the budget.
    let callers = [(&a, "summary"), (&b, "status")]
        .into_iter()
        .flat_map(|(proxy, fields)| {
            let (keys, sim) = (&keys, &sim);
            (0..4).map(move |caller| {
                let requests: Vec<_> = (0..25)
                    .map(|i| {
                        let key = &keys[caller * 25 + i];
                        call(
                            proxy,
                            sim,
                            Method::GET,
                            &format!("/rest/api/3/issue/{key}?fields={fields}"),
                        )
                        .header("cache-control", "no-cache")
                    })
                    .collect();
                tokio::spawn(async move {
                    let mut ok = 0;
                    for request in requests {
                        ok += usize::from(request.send().await.unwrap().status() == 200);
                    }
                    ok
                })
            })
        })
        .collect::<Vec<_>>();
    let started = std::time::Instant::now();
    let mut ok = 0;
    for caller in callers {
        ok += caller.await.unwrap();
    }
    let wall = started.elapsed();
    assert_eq!(ok, 200);
    let site = sim.stats();
    assert_eq!(site.rate_limited, 0, "the proxies paced apart");
    assert_eq!(site.early_retries, 0);
    assert_eq!(
        a.stats().await.upstream + b.stats().await.upstream,
        site.requests
    );
    // 200 requests at 40 a second past a bucket of 40 take about 4 s: not the 2 s two
    // separate budgets would have taken.
    assert!(
        wall >= Duration::from_secs(3),
        "{wall:?}: the budget was not shared"
    );
}

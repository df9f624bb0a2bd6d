//! `RedisBudget` against a real redis-server: one budget for many workers.

use std::time::Duration;

use jira_ratelimit::{
    Budget, BurstDemand, Demand, Error, Fallback, Feedback, Grant, IssueWriteDemand, PointsDemand,
    RedisBudget,
};

use jira_ops_tests::RedisServer;

fn burst(rate: f64) -> Demand {
    Demand {
        burst: Some(BurstDemand {
            key: "burst:GET /rest/api/3/issue/{issueIdOrKey}".into(),
            rate,
            capacity: rate,
        }),
        scopes: vec![
            "site".into(),
            "burst:GET /rest/api/3/issue/{issueIdOrKey}".into(),
        ],
        ..Demand::default()
    }
}

async fn granted(budget: &RedisBudget, demand: &Demand, attempts: usize) -> usize {
    let mut count = 0;
    for _ in 0..attempts {
        if budget.acquire(demand).await.unwrap() == Grant::Granted {
            count += 1;
        }
    }
    count
}

#[tokio::test]
async fn workers_share_one_bucket_and_sites_do_not() {
    let redis = RedisServer::start();
    let a = RedisBudget::connect(&redis.url, "one.atlassian.net", Fallback::Fail)
        .await
        .unwrap();
    let b = RedisBudget::connect(&redis.url, "one.atlassian.net", Fallback::Fail)
        .await
        .unwrap();
    let other = RedisBudget::connect(&redis.url, "two.atlassian.net", Fallback::Fail)
        .await
        .unwrap();
    let demand = burst(10.0);
    // Ten tokens between both workers, whatever the split.
    let first = granted(&a, &demand, 6).await;
    let second = granted(&b, &demand, 10).await;
    assert_eq!(first + second, 10, "{first} + {second}");
    match b.acquire(&demand).await.unwrap() {
        Grant::RetryIn(wait) => assert!(wait <= Duration::from_millis(110), "{wait:?}"),
        Grant::Granted => panic!("the shared bucket is empty"),
    }
    // Another site has its own budget.
    assert_eq!(granted(&other, &demand, 10).await, 10);
    // And the bucket refills at its rate.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let refilled = granted(&a, &demand, 10).await;
    assert!((2..=4).contains(&refilled), "{refilled}");
}

#[tokio::test]
async fn one_workers_pause_holds_every_worker() {
    let redis = RedisServer::start();
    let a = RedisBudget::connect(&redis.url, "site", Fallback::Fail)
        .await
        .unwrap();
    let b = RedisBudget::connect(&redis.url, "site", Fallback::Fail)
        .await
        .unwrap();
    a.observe(&Feedback::Pause {
        scope: "site".into(),
        duration: Duration::from_millis(500),
    })
    .await
    .unwrap();
    match b.acquire(&burst(100.0)).await.unwrap() {
        Grant::RetryIn(wait) => {
            assert!(
                wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
                "{wait:?}"
            )
        }
        Grant::Granted => panic!("the pause must hold worker b"),
    }
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(b.acquire(&burst(100.0)).await.unwrap(), Grant::Granted);
}

#[tokio::test]
async fn issue_windows_points_and_remaining_live_in_redis() {
    let redis = RedisServer::start();
    let a = RedisBudget::connect(&redis.url, "site", Fallback::Fail)
        .await
        .unwrap();
    let b = RedisBudget::connect(&redis.url, "site", Fallback::Fail)
        .await
        .unwrap();
    let write = Demand {
        issue_write: Some(IssueWriteDemand {
            key: "issue:APO-1".into(),
            windows: vec![(Duration::from_secs(2), 5)],
        }),
        ..Demand::default()
    };
    assert_eq!(
        granted(&a, &write, 3).await + granted(&b, &write, 5).await,
        5
    );
    assert!(
        matches!(a.acquire(&write).await.unwrap(), Grant::RetryIn(w) if w <= Duration::from_secs(2))
    );

    let points = PointsDemand {
        cost: 10,
        quota: 30,
        window: Duration::from_secs(3600),
    };
    let spend = Demand {
        points: Some(points.clone()),
        ..Demand::default()
    };
    let spent = granted(&a, &spend, 5).await;
    assert!((3..=6).contains(&spent), "{spent}");
    if spent == 3 {
        assert!(matches!(
            b.acquire(&spend).await.unwrap(),
            Grant::RetryIn(_)
        ));
        b.observe(&Feedback::PointsCorrection { points, delta: -10 })
            .await
            .unwrap();
        assert_eq!(a.acquire(&spend).await.unwrap(), Grant::Granted);
    }

    let demand = burst(10.0);
    let Some(bucket) = demand.burst.clone() else {
        unreachable!()
    };
    a.observe(&Feedback::BurstRemaining {
        burst: bucket,
        remaining: 3.0,
    })
    .await
    .unwrap();
    assert_eq!(granted(&b, &demand, 10).await, 3);
}

#[tokio::test]
async fn an_unreachable_redis_fails_loudly_or_paces_to_the_local_share() {
    let mut redis = RedisServer::start();
    let failing = RedisBudget::connect(&redis.url, "site", Fallback::Fail)
        .await
        .unwrap();
    let sharing = RedisBudget::connect(&redis.url, "site", Fallback::LocalShare { workers: 4 })
        .await
        .unwrap();
    redis.stop();
    let error = failing.acquire(&burst(100.0)).await.unwrap_err();
    assert!(matches!(error, Error::Redis { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&redis.url) && message.contains("unreachable"),
        "{message}"
    );
    // A quarter of a 100-token bucket, never unlimited.
    assert_eq!(granted(&sharing, &burst(100.0), 100).await, 25);
    assert!(sharing.is_degraded());

    let dead = RedisBudget::connect(&redis.url, "site", Fallback::Fail)
        .await
        .unwrap_err();
    assert!(dead.to_string().contains("unreachable"), "{dead}");
    let password = RedisBudget::connect("redis://:hunter2@127.0.0.1:1/0", "site", Fallback::Fail)
        .await
        .unwrap_err();
    assert!(!password.to_string().contains("hunter2"), "{password}");
}

#[tokio::test]
async fn an_answer_survives_redis_failing_after_the_request_was_sent() {
    use jira_model::{ApiRequest, IssueUpdate};
    use jira_ratelimit::{LimitsConfig, RateLimited};
    use jira_sim::{BurstConfig, Fault, FaultConfig, FaultRule, LimitConfig, SimConfig, SimHandle};
    use jira_transport::{Auth, HttpConfig, HttpTransport, Secret, Transport};

    let mut redis = RedisServer::start();
    let sim = SimHandle::start(SimConfig {
        projects: 1,
        issues_per_project: 1,
        limits: LimitConfig {
            burst: Some(BurstConfig::uniform(100.0)),
            ..LimitConfig::off()
        },
        faults: FaultConfig {
            rules: vec![FaultRule::new(
                Fault::Latency {
                    fixed_ms: 400,
                    jitter_ms: 0,
                },
                1.0,
            )],
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let http = HttpTransport::new(HttpConfig::new(
        sim.base_url(),
        Auth::Basic {
            email: "sim@example.com".into(),
            api_token: Secret::new("sim-token"),
        },
    ))
    .unwrap();
    let budget = RedisBudget::connect(&redis.url, "site", Fallback::Fail)
        .await
        .unwrap();
    let jira = RateLimited::with_budget(http, LimitsConfig::default(), budget);
    let mut issue = IssueUpdate::default();
    issue
        .fields
        .insert("project".into(), serde_json::json!({"key": "APO"}));
    issue
        .fields
        .insert("issuetype".into(), serde_json::json!({"name": "Task"}));
    issue.fields.insert(
        "summary".into(),
        serde_json::json!("Created while Redis died"),
    );
    let create = jira.send(ApiRequest::create_issue(&issue).unwrap());
    // Redis dies once the create has reached the site (the budget granted it), while the
    // site is still working on it (400 ms of latency).
    let kill = async {
        while sim.stats().requests == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        redis.stop();
    };
    let (outcome, ()) = tokio::join!(create, kill);
    // The budget could not record the answer's rate-limit headers, but the issue was
    // created and the caller gets that answer, not an error that invites a second create.
    assert_eq!(outcome.unwrap().status, 201);
    assert_eq!(sim.stats().issues_created, 1);
}

//! Cache warmers: metadata first (fields, projects, users), then recent issues per project,
//! with jitter between stages instead of fixed sleeps. The transport's rate limiter keeps
//! them inside the budget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jira_batch::{SearchOptions, search_pages};
use jira_cache::{CacheStore, Category, JiraCache, issue_cache_key};
use jira_model::{ApiRequest, Field, ProjectPage, User};
use jira_transport::Transport;
use rand::Rng;

use crate::Error;

/// What to warm.
#[derive(Clone, Debug, PartialEq)]
pub struct WarmPlan {
    /// Field definitions.
    pub fields: bool,
    /// Every project (all pages).
    pub projects: bool,
    /// Users (first page of `users_limit`).
    pub users: bool,
    /// Users to fetch.
    pub users_limit: u32,
    /// Recent issues of these projects (`project = X AND updated >= -Nd ORDER BY updated
    /// DESC`); empty means every project found.
    pub issue_projects: Vec<String>,
    /// Whether to warm recent issues at all.
    pub issues: bool,
    /// How recent, in days.
    pub days: u32,
    /// At most this many issues per project.
    pub issues_per_project: usize,
    /// The fields cached with each issue: a later fetch of the same fields is served from
    /// the cache (default [`crate::DEFAULT_ISSUE_FIELDS`], what `fetch` asks for).
    pub issue_fields: Vec<String>,
    /// Up to this much random pause between stages.
    pub jitter: Duration,
}

impl Default for WarmPlan {
    fn default() -> Self {
        WarmPlan {
            fields: true,
            projects: true,
            users: true,
            users_limit: 1_000,
            issue_projects: Vec::new(),
            issues: true,
            days: 30,
            issues_per_project: 1_000,
            issue_fields: crate::default_issue_fields(),
            jitter: Duration::from_millis(200),
        }
    }
}

/// What one stage did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageReport {
    /// The stage (`fields`, `projects`, `users`, `issues PROJ`).
    pub stage: String,
    /// Items cached.
    pub items: usize,
    /// Bytes cached.
    pub bytes: usize,
    /// Requests sent.
    pub requests: usize,
    /// Points the requests cost, as the site charges them (`jira_model::points`).
    pub points: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// What a warm did, stage by stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WarmReport {
    /// The stages, in the order run.
    pub stages: Vec<StageReport>,
}

impl WarmReport {
    /// Items over all stages.
    pub fn items(&self) -> usize {
        self.stages.iter().map(|s| s.items).sum()
    }
    /// Bytes over all stages.
    pub fn bytes(&self) -> usize {
        self.stages.iter().map(|s| s.bytes).sum()
    }
    /// Requests over all stages.
    pub fn requests(&self) -> usize {
        self.stages.iter().map(|s| s.requests).sum()
    }
    /// Points over all stages, as the site charged them.
    pub fn points(&self) -> u64 {
        self.stages.iter().map(|s| s.points).sum()
    }
    /// Time over all stages.
    pub fn elapsed(&self) -> Duration {
        self.stages.iter().map(|s| s.elapsed).sum()
    }
}

async fn get_json<T: Transport, R: serde::de::DeserializeOwned>(
    transport: &T,
    request: ApiRequest,
    stage: &mut StageReport,
) -> Result<(R, Vec<u8>), Error> {
    stage.requests += 1;
    let (method, path) = (request.method.clone(), request.path.clone());
    let response = transport.send(request).await?;
    stage.points += response.points;
    let response = jira_transport::Error::from_response(&method, &path, response)?;
    Ok((response.json()?, response.body.to_vec()))
}

/// Warms `cache` through `transport` by `plan`, metadata first.
pub async fn warm<T: Transport + 'static, S: CacheStore>(
    transport: &Arc<T>,
    cache: &JiraCache<S>,
    plan: &WarmPlan,
) -> Result<WarmReport, Error> {
    warm_with_progress(transport, cache, plan, &|_, _| {}).await
}

/// [`warm`], calling `progress` with the stage running and the items cached so far (every
/// stage's) as they grow: after each page, and at each stage's end.
pub async fn warm_with_progress<T: Transport + 'static, S: CacheStore>(
    transport: &Arc<T>,
    cache: &JiraCache<S>,
    plan: &WarmPlan,
    progress: &(dyn Fn(&str, usize) + Sync),
) -> Result<WarmReport, Error> {
    let mut report = WarmReport::default();
    let tell = |report: &WarmReport, stage: &StageReport| {
        progress(&stage.stage, report.items() + stage.items);
    };
    let pause = || async {
        if !plan.jitter.is_zero() {
            let wait = rand::rng().random_range(Duration::ZERO..=plan.jitter);
            tokio::time::sleep(wait).await;
        }
    };
    if plan.fields {
        let started = Instant::now();
        let mut stage = StageReport {
            stage: "fields".into(),
            ..StageReport::default()
        };
        let (fields, bytes): (Vec<Field>, _) =
            get_json(&**transport, ApiRequest::fields(), &mut stage).await?;
        cache
            .set_raw(&Category::Field, "fields", &bytes, None)
            .await?;
        stage.items = fields.len();
        stage.bytes = bytes.len();
        stage.elapsed = started.elapsed();
        tell(&report, &stage);
        report.stages.push(stage);
        pause().await;
    }
    let mut project_keys = plan.issue_projects.clone();
    if plan.projects || (plan.issues && project_keys.is_empty()) {
        let started = Instant::now();
        let mut stage = StageReport {
            stage: "projects".into(),
            ..StageReport::default()
        };
        let mut start_at = 0;
        loop {
            let (page, bytes): (ProjectPage, _) = get_json(
                &**transport,
                ApiRequest::project_search(start_at, 100),
                &mut stage,
            )
            .await?;
            stage.bytes += bytes.len();
            for project in &page.values {
                let value = serde_json::to_vec(project).unwrap_or_default();
                cache
                    .set_raw(
                        &Category::Project,
                        &format!("project:{}", project.key),
                        &value,
                        None,
                    )
                    .await?;
                stage.items += 1;
                if plan.issue_projects.is_empty() {
                    project_keys.push(project.key.clone());
                }
            }
            tell(&report, &stage);
            start_at += page.values.len() as u64;
            if page.is_last || page.values.is_empty() {
                break;
            }
        }
        stage.elapsed = started.elapsed();
        tell(&report, &stage);
        report.stages.push(stage);
        pause().await;
    }
    if plan.users {
        let started = Instant::now();
        let mut stage = StageReport {
            stage: "users".into(),
            ..StageReport::default()
        };
        let (users, bytes): (Vec<User>, _) = get_json(
            &**transport,
            ApiRequest::users_search(0, plan.users_limit),
            &mut stage,
        )
        .await?;
        for user in &users {
            let value = serde_json::to_vec(user).unwrap_or_default();
            cache
                .set_raw(
                    &Category::User,
                    &format!("user:{}", user.account_id),
                    &value,
                    None,
                )
                .await?;
        }
        stage.items = users.len();
        stage.bytes = bytes.len();
        stage.elapsed = started.elapsed();
        tell(&report, &stage);
        report.stages.push(stage);
        pause().await;
    }
    if plan.issues {
        let fields: Vec<&str> = plan.issue_fields.iter().map(String::as_str).collect();
        let options = SearchOptions {
            fields: plan.issue_fields.clone(),
            page_size: jira_model::SEARCH_PAGE_MAX,
            prefetch: false,
            limit: None,
        };
        for project in &project_keys {
            let started = Instant::now();
            let mut stage = StageReport {
                stage: format!("issues {project}"),
                ..StageReport::default()
            };
            let jql = format!(
                "project = {project} AND updated >= -{}d ORDER BY updated DESC",
                plan.days
            );
            let mut pages = Box::pin(search_pages(transport.clone(), jql, options.clone()));
            'pages: while let Some(page) = pages.next().await {
                let page = page?;
                stage.requests += 1;
                stage.points += jira_model::points::charged(
                    &http::Method::POST,
                    "/rest/api/3/search/jql",
                    http::StatusCode::OK,
                    page.issues.len() as u64,
                );
                for issue in page.issues {
                    if stage.items >= plan.issues_per_project {
                        break 'pages;
                    }
                    let value = serde_json::to_vec(&issue).unwrap_or_default();
                    stage.bytes += value.len();
                    cache
                        .set_raw(
                            &Category::Issue,
                            &issue_cache_key(&issue.key, &fields, &[]),
                            &value,
                            None,
                        )
                        .await?;
                    stage.items += 1;
                }
                tell(&report, &stage);
            }
            stage.elapsed = started.elapsed();
            tell(&report, &stage);
            report.stages.push(stage);
            pause().await;
        }
    }
    Ok(report)
}

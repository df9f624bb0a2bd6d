//! Webhooks as Jira Cloud sends them: a POST per event (`jira:issue_created`,
//! `jira:issue_updated`, `jira:issue_deleted`, `comment_created`, `comment_updated`,
//! `comment_deleted`) to every registered URL, signed with
//! `X-Hub-Signature: sha256=<HMAC-SHA256 of the body with the webhook's secret>`, with an
//! `X-Atlassian-Webhook-Identifier` that stays the same when an event is delivered again.
//! Delivery is at least once: a failed POST (not 2xx) is retried with backoff (5 attempts),
//! a share of deliveries is sent twice and a share late (`Realism::webhook_*`), so a
//! receiver must deduplicate by identifier and must not rely on order.

use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use serde_json::json;

use crate::config::Webhook;
use crate::data::IssueData;
use crate::render::{Expand, FieldSelection, Renderer};
use crate::state::AppState;

/// What happened, for the event's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    IssueCreated,
    IssueUpdated,
    IssueDeleted,
    CommentCreated,
    CommentUpdated,
    CommentDeleted,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::IssueCreated => "jira:issue_created",
            Event::IssueUpdated => "jira:issue_updated",
            Event::IssueDeleted => "jira:issue_deleted",
            Event::CommentCreated => "comment_created",
            Event::CommentUpdated => "comment_updated",
            Event::CommentDeleted => "comment_deleted",
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Event::IssueCreated => "issue_created",
            Event::IssueUpdated => "issue_generic",
            Event::IssueDeleted => "issue_deleted",
            Event::CommentCreated => "issue_commented",
            Event::CommentUpdated => "issue_comment_edited",
            Event::CommentDeleted => "issue_comment_deleted",
        }
    }
}

/// Sends `event` about `issue` (and `comment`) to every webhook that wants it. Cheap when
/// none is registered; the deliveries run in the background.
pub(crate) fn emit(
    app: &AppState,
    event: Event,
    issue: &IssueData,
    comment: Option<&crate::data::CommentData>,
    with_changelog: bool,
) {
    let hooks: Vec<Webhook> = app
        .webhooks
        .read()
        .iter()
        .filter(|hook| hook.events.is_empty() || hook.events.iter().any(|e| e == event.name()))
        .cloned()
        .collect();
    if hooks.is_empty() {
        return;
    }
    let render = Renderer {
        base: &app.base_url,
        tenant: &app.tenant,
        catalog: &app.catalog,
        v2: false,
        zone: &app.zone,
        embedded_comments_last: 0,
    };
    let now = AppState::now_ms();
    let selection = FieldSelection::parse([
        "summary",
        "status",
        "issuetype",
        "project",
        "priority",
        "assignee",
        "reporter",
        "labels",
        "created",
        "updated",
        "resolution",
    ]);
    let mut body = json!({
        "timestamp": now,
        "webhookEvent": event.name(),
        "issue_event_type_name": event.type_name(),
        "user": render.user_value(crate::extract::caller_index(app)),
        "issue": serde_json::to_value(render.issue(issue, &selection, Expand::default()))
            .unwrap_or_default(),
    });
    if let Some(comment) = comment {
        body["comment"] = serde_json::to_value(render.comment(issue, comment)).unwrap_or_default();
    }
    if with_changelog && let Some(change) = issue.changes.last() {
        let mut changelog = crate::render::change_json(&render, change);
        if let Some(map) = changelog.as_object_mut() {
            // A webhook's changelog is `{id, items}`.
            map.retain(|key, _| key == "id" || key == "items");
        }
        body["changelog"] = changelog;
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let sequence = app.webhook_sink.sequence.fetch_add(1, Ordering::Relaxed) + 1;
    let identifier = format!("sim-{now:x}-{sequence:06}");
    let realism = app.realism.read().clone();
    for hook in hooks {
        let (twice, delay) = {
            let mut rng = app.dice.lock();
            let late = rng.random_bool(realism.webhook_late_rate.clamp(0.0, 1.0));
            let twice = rng.random_bool(realism.webhook_duplicate_rate.clamp(0.0, 1.0));
            let delay = if late {
                Duration::from_millis(rng.random_range(0..=realism.webhook_late_ms))
            } else {
                Duration::ZERO
            };
            (twice, delay)
        };
        let copies = if twice { 2 } else { 1 };
        for copy in 0..copies {
            let extra = Duration::from_millis(if copy == 0 { 0 } else { 20 });
            app.webhook_sink.schedule(
                hook.clone(),
                identifier.clone(),
                bytes.clone(),
                delay + extra,
            );
        }
    }
}

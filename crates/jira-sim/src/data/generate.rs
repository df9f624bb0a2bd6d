//! Generation from the seed: the tenant's users, projects and issues, and what an issue
//! derives from its seed when rendered (summary, paragraphs, history, worklogs).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use super::*;
use crate::config::SimConfig;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Bram", "Chen", "Dana", "Emeka", "Farah", "Gustav", "Hana", "Ivo", "Jun", "Kemal",
    "Lena", "Mateo", "Noor", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tomas",
];

const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Silva",
    "Kowalski",
    "Haddad",
    "Novak",
    "Ferreira",
    "Iyer",
    "Brennan",
    "Schulz",
    "Aydin",
    "Park",
    "Nilsen",
];

const PROJECT_WORDS: &[&str] = &[
    "Apollo", "Beacon", "Comet", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris",
    "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orbit", "Pioneer", "Quartz", "Raven",
    "Summit", "Tundra",
];

pub(crate) const VERBS: &[&str] = &[
    "Fix",
    "Add",
    "Remove",
    "Refactor",
    "Document",
    "Investigate",
    "Speed up",
    "Migrate",
    "Validate",
    "Retry",
    "Cache",
    "Paginate",
];

pub(crate) const OBJECTS: &[&str] = &[
    "login flow",
    "export job",
    "search index",
    "webhook handler",
    "billing report",
    "user settings page",
    "rate limiter",
    "audit log",
    "bulk import",
    "notification email",
    "project dashboard",
    "API token rotation",
    "attachment upload",
    "sprint board",
];

pub(crate) const DETAILS: &[&str] = &[
    "Customers see a timeout after 30 seconds when the page loads more than 500 rows.",
    "The nightly job fails intermittently with a 429 from the upstream service.",
    "Steps to reproduce: open the page, apply two filters, then sort by updated date.",
    "Expected the result to be cached for five minutes; it is fetched on every request.",
    "This blocks the quarterly migration; see the linked incident for the timeline.",
    "Logs show the connection pool is exhausted while 200 requests are in flight.",
    "Acceptance criteria: the change is covered by tests and documented in the runbook.",
    "Memory grows linearly with the number of results; the export should stream.",
];

/// Generates the tenant and its issues. `now_ms` anchors the dates: issues were created in
/// the two years before it and updated since.
pub(crate) fn generate(config: &SimConfig, now_ms: i64) -> (Tenant, IssueStore) {
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let users: Vec<UserData> = (0..config.users.max(1))
        .map(|index| {
            let first = FIRST_NAMES[index % FIRST_NAMES.len()];
            let last = LAST_NAMES[(index / FIRST_NAMES.len() + index * 7) % LAST_NAMES.len()];
            UserData {
                account_id: format!("5b10a2844c20165700ede{:03x}", index),
                display_name: format!("{first} {last}"),
                email: format!(
                    "{}.{}{}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    index
                ),
                active: rng.random_ratio(19, 20),
                time_zone: ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"][index % 4],
            }
        })
        .collect();

    let projects: Vec<ProjectData> = (0..config.projects)
        .map(|index| {
            let word = PROJECT_WORDS[index % PROJECT_WORDS.len()];
            let key = project_key(word, index);
            ProjectData {
                id: 10_000 + index as u64,
                name: format!(
                    "{word} {}",
                    ["Platform", "Service", "Portal", "Tools"][index % 4]
                ),
                description: format!("Work tracked for the {word} team."),
                lead: rng.random_range(0..users.len()),
                key,
            }
        })
        .collect();
    let project_by_key = projects
        .iter()
        .enumerate()
        .map(|(index, project)| (project.key.clone(), index))
        .collect();

    let mut store = IssueStore {
        next_number: vec![1; projects.len()],
        next_id: 10_000,
        next_comment_id: WRITTEN_IDS,
        next_written_id: WRITTEN_OTHER_IDS,
        ..IssueStore::default()
    };
    store
        .by_key
        .reserve(config.projects * config.issues_per_project);
    for project in 0..projects.len() {
        for _ in 0..config.issues_per_project {
            let created_ms = now_ms - rng.random_range(DAY_MS..730 * DAY_MS);
            let updated_ms = created_ms + rng.random_range(0..=(now_ms - created_ms));
            let label_bits: u8 = rng.random();
            let issue = IssueData {
                id: 0,
                project,
                number: 0,
                key: String::new(),
                seed: rng.random(),
                issue_type: rng.random_range(0..ISSUE_TYPES.len()),
                status: rng.random_range(0..STATUSES.len()),
                priority: rng.random_range(0..PRIORITIES.len()),
                assignee: rng
                    .random_ratio(4, 5)
                    .then(|| rng.random_range(0..users.len())),
                reporter: rng.random_range(0..users.len()),
                created_ms,
                updated_ms,
                generated_until_ms: updated_ms,
                labels: LABELS
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| label_bits & (1 << bit) != 0 && bit % 3 == 0)
                    .map(|(_, label)| (*label).to_owned())
                    .collect(),
                story_points: rng
                    .random_ratio(2, 3)
                    .then(|| [1, 2, 3, 5, 8, 13][rng.random_range(0..6)]),
                team: rng
                    .random_ratio(3, 4)
                    .then(|| rng.random_range(0..TEAMS.len())),
                severity: rng
                    .random_ratio(1, 3)
                    .then(|| rng.random_range(0..SEVERITIES.len())),
                summary: None,
                description: None,
                extra: Map::new(),
                generated_comments: rng.random_range(0..4),
                added_comments: Vec::new(),
                resolution: None,
                status_changed_ms: created_ms,
                generated_changes: history_length(&mut rng),
                changes: Vec::new(),
                generated_worklogs: rng.random_range(0..3),
                added_worklogs: Vec::new(),
                hidden_generated: Vec::new(),
                watchers: Vec::new(),
                links: Vec::new(),
                properties: std::collections::BTreeMap::new(),
                attachments: Vec::new(),
            };
            let id = insert_issue(&mut store, &projects, issue);
            let issue = store.by_id.get_mut(&id).expect("just inserted");
            long_tails(issue);
            if STATUSES[issue.status].2 == "done" {
                issue.resolution = Some(0);
            }
            let history = generated_history(issue, &users);
            if let Some(at) = history
                .iter()
                .rev()
                .find(|c| c.items.iter().any(|i| i.field_id == "status"))
            {
                issue.status_changed_ms = at.created_ms;
            }
            let worklogs = generated_worklogs(issue, users.len());
            for worklog in worklogs {
                store
                    .worklogs_by_update
                    .insert((worklog.updated_ms, worklog.id), id);
            }
        }
    }
    (
        Tenant {
            projects,
            users,
            project_by_key,
        },
        store,
    )
}

/// Generated comment and worklog ids of one issue: comments from `issue id × this`,
/// worklogs from the block's second half, so neither kind runs into the other.
pub(crate) const GENERATED_IDS_PER_ISSUE: u64 = 1_000;
/// Where an issue's generated worklog ids start within its block.
const GENERATED_WORKLOG_OFFSET: u64 = GENERATED_IDS_PER_ISSUE / 2;

/// Issues numbered this modulo [`LONG_TAIL_EVERY`] carry a long comment thread (100 to 300
/// comments, past several pages of 100), and those numbered [`LONG_WORKLOGS_AT`] 20 to 60
/// worklogs (past the issue's `worklog` field, which carries 20): every project of more
/// than 13 issues has both, so every paging path is exercised by small tenants too.
const LONG_TAIL_EVERY: u64 = 50;
/// See [`LONG_TAIL_EVERY`].
const LONG_COMMENTS_AT: u64 = 7;
/// See [`LONG_TAIL_EVERY`].
const LONG_WORKLOGS_AT: u64 = 13;

/// Gives the issues [`LONG_TAIL_EVERY`] picks their long comment thread or worklog list
/// (from the issue's seed, so the rest of the tenant is as before).
fn long_tails(issue: &mut IssueData) {
    match issue.number % LONG_TAIL_EVERY {
        LONG_COMMENTS_AT => issue.generated_comments = 100 + (issue.seed % 201) as u32,
        LONG_WORKLOGS_AT => issue.generated_worklogs = 20 + (issue.seed % 41) as u32,
        _ => {}
    }
}

/// The id of an issue's generated comment `n`.
pub(crate) fn generated_comment_id(issue_id: u64, n: u32) -> u64 {
    issue_id * GENERATED_IDS_PER_ISSUE + u64::from(n)
}

/// The id of an issue's generated worklog `n`.
pub(crate) fn generated_worklog_id(issue_id: u64, n: u32) -> u64 {
    issue_id * GENERATED_IDS_PER_ISSUE + GENERATED_WORKLOG_OFFSET + u64::from(n)
}

/// Which generated comment of `issue` `id` is, if it is one (hidden or not).
pub(crate) fn generated_comment_index(issue: &IssueData, id: u64) -> Option<u32> {
    let n = id.checked_sub(generated_comment_id(issue.id, 0))?;
    (n < u64::from(issue.generated_comments)).then_some(n as u32)
}

/// When the `n`th of `count` generated entries of `issue` happened: spread evenly between
/// its creation and the `updated` it was generated with (never moved by an edit).
fn generated_at(issue: &IssueData, n: u32, count: u32) -> i64 {
    let span = (issue.generated_until_ms - issue.created_ms).max(1);
    issue.created_ms + span * (i64::from(n) + 1) / (i64::from(count) + 1)
}

/// An issue's generated comment `n`, derived from its seed.
pub(crate) fn generated_comment(issue: &IssueData, n: u32, users: usize) -> CommentData {
    let paragraphs = generated_paragraphs(issue.seed, 100 + u64::from(n));
    let created = generated_at(issue, n, issue.generated_comments);
    CommentData {
        id: generated_comment_id(issue.id, n),
        author: (issue.seed as usize).wrapping_add(n as usize) % users.max(1),
        body: adf(&paragraphs[..1]),
        created_ms: created,
        updated_ms: created,
        properties: Default::default(),
    }
}

/// An issue's generated comments that no write hid, oldest first.
pub(crate) fn generated_comments(
    issue: &IssueData,
    users: usize,
) -> impl Iterator<Item = CommentData> + '_ {
    (0..issue.generated_comments)
        .map(move |n| generated_comment(issue, n, users))
        .filter(|c| !issue.hidden_generated.contains(&c.id))
}

/// How many history entries a generated issue has: most a handful, a long tail past 100.
fn history_length(rng: &mut SmallRng) -> u32 {
    match rng.random_range(0..100) {
        0..60 => rng.random_range(0..6),
        60..90 => rng.random_range(6..20),
        90..98 => rng.random_range(20..60),
        _ => rng.random_range(100..250),
    }
}

/// A generated issue's history, oldest first: status changes that end at its status,
/// priority changes that end at its priority, assignments ending at its assignee, labels.
pub(crate) fn generated_history(issue: &IssueData, users: &[UserData]) -> Vec<ChangeData> {
    let n = issue.generated_changes as usize;
    if n == 0 {
        return Vec::new();
    }
    let mut rng = issue_rng(issue.seed, 7);
    // 0 status, 1 priority, 2 assignee, 3 labels
    let mut kinds: Vec<u8> = (0..n).map(|_| rng.random_range(0..4)).collect();
    if issue.status != 0 && !kinds.contains(&0) {
        kinds[n - 1] = 0;
    }
    let last_of = |kind: u8| kinds.iter().rposition(|k| *k == kind);
    let (last_status, last_priority, last_assignee) = (last_of(0), last_of(1), last_of(2));
    let span = (issue.generated_until_ms - issue.created_ms).max(1);
    let mut status = 0usize;
    let mut priority = 2usize;
    let mut assignee: Option<usize> = None;

    let mut history = Vec::with_capacity(n);
    for (k, kind) in kinds.iter().enumerate() {
        let item = match kind {
            0 => {
                let next = if Some(k) == last_status {
                    issue.status
                } else {
                    (status + 1 + rng.random_range(0..STATUSES.len() - 1)) % STATUSES.len()
                };
                let item = ChangeItem::system(
                    "status",
                    "status",
                    (
                        Some(STATUSES[status].0.into()),
                        Some(STATUSES[status].1.into()),
                    ),
                    (Some(STATUSES[next].0.into()), Some(STATUSES[next].1.into())),
                );
                status = next;
                item
            }
            1 => {
                let next = if Some(k) == last_priority {
                    issue.priority
                } else {
                    rng.random_range(0..PRIORITIES.len())
                };
                let item = ChangeItem::system(
                    "priority",
                    "priority",
                    (
                        Some(PRIORITIES[priority].0.into()),
                        Some(PRIORITIES[priority].1.into()),
                    ),
                    (
                        Some(PRIORITIES[next].0.into()),
                        Some(PRIORITIES[next].1.into()),
                    ),
                );
                priority = next;
                item
            }
            2 => {
                let next = if Some(k) == last_assignee {
                    issue.assignee
                } else {
                    Some(rng.random_range(0..users.len().max(1)))
                };
                let item = ChangeItem::system(
                    "assignee",
                    "assignee",
                    user_pair(users, assignee),
                    user_pair(users, next),
                );
                assignee = next;
                item
            }
            _ => {
                let label = LABELS[rng.random_range(0..LABELS.len())];
                ChangeItem::system(
                    "labels",
                    "labels",
                    (None, Some(String::new())),
                    (None, Some(label.into())),
                )
            }
        };
        history.push(ChangeData {
            id: issue.id * 1_000 + k as u64,
            author: (issue.seed as usize).wrapping_add(k) % users.len().max(1),
            created_ms: issue.created_ms + span * (k as i64 + 1) / (n as i64 + 1),
            items: vec![item],
        });
    }
    history
}

/// A generated issue's worklogs (those not deleted or replaced are live).
pub(crate) fn generated_worklogs(issue: &IssueData, users: usize) -> Vec<WorklogData> {
    let mut rng = issue_rng(issue.seed, 11);
    (0..issue.generated_worklogs)
        .map(|n| {
            let started = generated_at(issue, n, issue.generated_worklogs);
            WorklogData {
                id: generated_worklog_id(issue.id, n),
                author: (issue.seed as usize).wrapping_add(n as usize * 3) % users.max(1),
                comment: Some(adf(&generated_paragraphs(issue.seed, 300 + n as u64)[..1])),
                started_ms: started,
                created_ms: started + 3_600_000,
                updated_ms: started + 3_600_000,
                seconds: [1_800, 3_600, 7_200, 14_400][rng.random_range(0..4)],
            }
        })
        .collect()
}

/// `APOLLO` → `APO`, made unique by the index past the word list (`APO2`).
fn project_key(word: &str, index: usize) -> String {
    let stem: String = word.chars().take(3).collect::<String>().to_uppercase();
    match index / PROJECT_WORDS.len() {
        0 => stem,
        round => format!("{stem}{}", round + 1),
    }
}

/// A deterministic generator for the parts derived from an issue's seed.
pub(crate) fn issue_rng(seed: u64, salt: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The generated summary of an issue.
pub(crate) fn generated_summary(seed: u64) -> String {
    let mut rng = issue_rng(seed, 1);
    format!(
        "{} {} for {}",
        VERBS[rng.random_range(0..VERBS.len())],
        OBJECTS[rng.random_range(0..OBJECTS.len())],
        [
            "EU customers",
            "the mobile app",
            "admins",
            "the v2 API",
            "large tenants"
        ][rng.random_range(0..5)]
    )
}

/// The generated paragraphs of an issue's description.
pub(crate) fn generated_paragraphs(seed: u64, salt: u64) -> Vec<String> {
    let mut rng = issue_rng(seed, salt);
    let paragraphs = rng.random_range(1..=3);
    (0..paragraphs)
        .map(|_| {
            let sentences = rng.random_range(2..=4);
            (0..sentences)
                .map(|_| DETAILS[rng.random_range(0..DETAILS.len())])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Wraps paragraphs in an Atlassian Document Format document.
pub(crate) fn adf(paragraphs: &[String]) -> Value {
    Value::Object(Map::from_iter([
        ("type".into(), "doc".into()),
        ("version".into(), 1.into()),
        (
            "content".into(),
            paragraphs
                .iter()
                .map(|text| {
                    serde_json::json!({
                        "type": "paragraph",
                        "content": [{"type": "text", "text": text}]
                    })
                })
                .collect(),
        ),
    ]))
}

/// The plain text of an ADF document (for `renderedFields`).
pub(crate) fn adf_text(doc: &Value) -> Vec<String> {
    let mut paragraphs = Vec::new();
    if let Some(content) = doc.get("content").and_then(Value::as_array) {
        for block in content {
            let text: String = block
                .get("content")
                .and_then(Value::as_array)
                .map(|inline| {
                    inline
                        .iter()
                        .filter_map(|node| node.get("text").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            paragraphs.push(text);
        }
    }
    paragraphs
}

//! The simulated tenant: projects, users, fields and issues, generated from a seed.
//!
//! Generation is cheap because an issue stores only compact facts (indices into word
//! lists, timestamps, a per-issue seed); its summary, description and comments are
//! derived from that seed when rendered. Writes store overrides next to those facts.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use crate::config::SimConfig;

pub(crate) const ISSUE_TYPES: &[(&str, &str)] = &[
    ("10001", "Task"),
    ("10002", "Bug"),
    ("10003", "Story"),
    ("10004", "Epic"),
];
pub(crate) const STATUSES: &[(&str, &str, &str)] = &[
    // (id, name, status category key)
    ("10000", "To Do", "new"),
    ("3", "In Progress", "indeterminate"),
    ("10001", "In Review", "indeterminate"),
    ("10002", "Done", "done"),
];
pub(crate) const PRIORITIES: &[(&str, &str)] = &[
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];
pub(crate) const RESOLUTIONS: &[(&str, &str, &str)] = &[
    // (id, name, description)
    ("10000", "Done", "Work has been completed on this issue."),
    ("10001", "Won't Do", "This issue won't be actioned."),
    (
        "10002",
        "Duplicate",
        "The problem is a duplicate of an existing issue.",
    ),
];
/// Every project's components (ids derived from the project's index).
pub(crate) const COMPONENTS: &[(&str, &str)] = &[
    ("Backend", "Services and storage."),
    ("Frontend", "The web application."),
    ("API", "The public REST API."),
];
/// Every project's versions: (name, released, release date).
pub(crate) const VERSIONS: &[(&str, bool, &str)] = &[
    ("1.0", true, "2025-03-01"),
    ("1.1", true, "2025-09-15"),
    ("2.0", false, "2026-06-30"),
    ("2.1", false, "2027-01-31"),
];
/// Issue link types: (id, name, inward, outward).
pub(crate) const LINK_TYPES: &[(&str, &str, &str, &str)] = &[
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
];
pub(crate) const LABELS: &[&str] = &[
    "backend",
    "frontend",
    "api",
    "performance",
    "security",
    "customer",
    "tech-debt",
    "ux",
];
pub(crate) const TEAMS: &[(&str, &str)] = &[
    ("10100", "Platform"),
    ("10101", "Payments"),
    ("10102", "Mobile"),
    ("10103", "Search"),
];
pub(crate) const SEVERITIES: &[(&str, &str)] = &[
    ("10200", "S1"),
    ("10201", "S2"),
    ("10202", "S3"),
    ("10203", "S4"),
];

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

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// A generated user.
#[derive(Clone, Debug)]
pub(crate) struct UserData {
    pub account_id: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub time_zone: &'static str,
}

/// A project.
#[derive(Clone, Debug)]
pub(crate) struct ProjectData {
    pub id: u64,
    pub key: String,
    pub name: String,
    pub lead: usize,
    pub description: String,
}

/// An added comment (generated ones are derived from the issue's seed).
#[derive(Clone, Debug)]
pub(crate) struct CommentData {
    pub id: u64,
    pub author: usize,
    pub body: Value,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Entity properties (`properties` on create, `/comment/{id}/properties/{key}`).
    pub properties: BTreeMap<String, Value>,
}

/// One end of an issue link as the issue sees it.
#[derive(Clone, Debug)]
pub(crate) struct LinkEnd {
    pub link: u64,
    /// Index into [`LINK_TYPES`].
    pub kind: usize,
    /// Whether the other issue is the outward one (this issue "blocks" it).
    pub other_is_outward: bool,
    pub other_id: u64,
    pub other_key: String,
}

/// One entry of an issue's history (`Changelog`): who changed what, when.
#[derive(Clone, Debug)]
pub(crate) struct ChangeData {
    pub id: u64,
    pub author: usize,
    pub created_ms: i64,
    pub items: Vec<ChangeItem>,
}

/// One field's change within a [`ChangeData`] (`ChangeDetails`).
#[derive(Clone, Debug)]
pub(crate) struct ChangeItem {
    pub field: String,
    pub field_id: String,
    pub custom: bool,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

impl ChangeItem {
    /// A change of a system field.
    pub fn system(
        field_id: &str,
        field: &str,
        from: (Option<String>, Option<String>),
        to: (Option<String>, Option<String>),
    ) -> Self {
        ChangeItem {
            field: field.to_owned(),
            field_id: field_id.to_owned(),
            custom: false,
            from: from.0,
            from_string: from.1,
            to: to.0,
            to_string: to.1,
        }
    }
}

/// A worklog (generated ones are derived from the issue's seed).
#[derive(Clone, Debug)]
pub(crate) struct WorklogData {
    pub id: u64,
    pub author: usize,
    pub comment: Option<Value>,
    pub started_ms: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub seconds: u64,
}

/// An issue link.
#[derive(Clone, Debug)]
pub(crate) struct LinkData {
    pub id: u64,
    /// Index into [`LINK_TYPES`].
    pub kind: usize,
    pub inward: u64,
    pub outward: u64,
}

/// Ids at or above this are of comments, worklogs and history entries written while the
/// simulator runs; below it, generated ones (derived from the issue id).
pub(crate) const WRITTEN_IDS: u64 = 10_000_000_000;

/// One issue's compact facts plus what writes changed.
#[derive(Clone, Debug)]
pub(crate) struct IssueData {
    pub id: u64,
    pub project: usize,
    pub number: u64,
    pub key: String,
    pub seed: u64,
    pub issue_type: usize,
    pub status: usize,
    pub priority: usize,
    pub assignee: Option<usize>,
    pub reporter: usize,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub labels: Vec<String>,
    pub story_points: Option<u32>,
    pub team: Option<usize>,
    pub severity: Option<usize>,
    /// `Some` once a write set the summary.
    pub summary: Option<String>,
    /// `Some` once a write set the description.
    pub description: Option<Value>,
    /// Fields set by writes that the generator does not model.
    pub extra: Map<String, Value>,
    pub generated_comments: u32,
    pub added_comments: Vec<CommentData>,
    /// Index into [`RESOLUTIONS`], set while the status is done.
    pub resolution: Option<usize>,
    /// When the status category last changed.
    pub status_changed_ms: i64,
    /// How many generated history entries the issue has (derived on render).
    pub generated_changes: u32,
    /// History entries written while the simulator runs.
    pub changes: Vec<ChangeData>,
    pub generated_worklogs: u32,
    pub added_worklogs: Vec<WorklogData>,
    /// Generated comments and worklogs deleted, or replaced by an edited copy in
    /// `added_comments` / `added_worklogs` (which keep their id).
    pub hidden_generated: Vec<u64>,
    pub watchers: Vec<usize>,
    pub links: Vec<LinkEnd>,
    /// Entity properties (`properties` on create, `/issue/{key}/properties/{name}`).
    pub properties: std::collections::BTreeMap<String, Value>,
}

/// Issues, indexed by id and by key, with a version that changes on every write.
#[derive(Debug, Default)]
pub(crate) struct IssueStore {
    pub by_id: BTreeMap<u64, IssueData>,
    pub by_key: HashMap<String, u64>,
    pub next_number: Vec<u64>,
    pub next_id: u64,
    pub next_comment_id: u64,
    pub version: u64,
    /// Ids for written history entries, worklogs and links.
    pub next_written_id: u64,
    pub links: BTreeMap<u64, LinkData>,
    /// Owners of written comments and worklogs: id → issue id.
    pub owners: HashMap<u64, u64>,
    /// Every live worklog by (updated, id) → issue id, for `/worklog/updated`.
    pub worklogs_by_update: BTreeMap<(i64, u64), u64>,
    /// Deleted worklogs by (deleted at, id), for `/worklog/deleted`.
    pub deleted_worklogs: BTreeMap<(i64, u64), ()>,
    /// Issues written within the search lag: when the window began and the issue as it
    /// was then (`None`: it did not exist), which is what search still sees.
    pub unindexed: HashMap<u64, (i64, Option<IssueData>)>,
}

impl IssueStore {
    /// Finds an issue by key (`PROJ-1`, case-insensitive like Jira) or numeric id.
    pub fn find(&self, id_or_key: &str) -> Option<&IssueData> {
        self.id_of(id_or_key).and_then(|id| self.by_id.get(&id))
    }

    /// Resolves an id or key to the issue id.
    pub fn id_of(&self, id_or_key: &str) -> Option<u64> {
        if let Ok(id) = id_or_key.parse::<u64>() {
            return self.by_id.contains_key(&id).then_some(id);
        }
        self.by_key
            .get(id_or_key)
            .or_else(|| self.by_key.get(&id_or_key.to_ascii_uppercase()))
            .copied()
    }
}

/// The generated, immutable part of the tenant.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub projects: Vec<ProjectData>,
    pub users: Vec<UserData>,
    pub project_by_key: HashMap<String, usize>,
}

impl Tenant {
    /// Finds a project by key (case-insensitive) or id.
    pub fn project(&self, id_or_key: &str) -> Option<usize> {
        if let Ok(id) = id_or_key.parse::<u64>() {
            return self.projects.iter().position(|p| p.id == id);
        }
        self.project_by_key
            .get(&id_or_key.to_ascii_uppercase())
            .copied()
    }
}

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
        next_written_id: WRITTEN_IDS,
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
            };
            let id = insert_issue(&mut store, &projects, issue);
            let issue = store.by_id.get_mut(&id).expect("just inserted");
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

/// Gives the issue the next id and the project's next key, and stores it.
pub(crate) fn insert_issue(
    store: &mut IssueStore,
    projects: &[ProjectData],
    mut issue: IssueData,
) -> u64 {
    let id = store.next_id;
    store.next_id += 1;
    let number = store.next_number[issue.project];
    store.next_number[issue.project] += 1;
    issue.id = id;
    issue.number = number;
    issue.key = format!("{}-{}", projects[issue.project].key, number);
    store.by_key.insert(issue.key.clone(), id);
    store.by_id.insert(id, issue);
    store.version += 1;
    id
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
    let span = (issue.updated_ms - issue.created_ms).max(1);
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

/// A history item's side for a user: account id and display name (none when unassigned).
pub(crate) fn user_pair(
    users: &[UserData],
    user: Option<usize>,
) -> (Option<String>, Option<String>) {
    match user.and_then(|u| users.get(u)) {
        Some(user) => (
            Some(user.account_id.clone()),
            Some(user.display_name.clone()),
        ),
        None => (None, None),
    }
}

/// The whole history of an issue, oldest first: generated, then written.
pub(crate) fn history(issue: &IssueData, users: &[UserData]) -> Vec<ChangeData> {
    let mut all = generated_history(issue, users);
    all.extend(issue.changes.iter().cloned());
    all
}

/// A generated issue's worklogs (those not deleted or replaced are live).
pub(crate) fn generated_worklogs(issue: &IssueData, users: usize) -> Vec<WorklogData> {
    let mut rng = issue_rng(issue.seed, 11);
    let span = (issue.updated_ms - issue.created_ms).max(1);
    (0..issue.generated_worklogs)
        .map(|n| {
            let started =
                issue.created_ms + span * (n as i64 + 1) / (issue.generated_worklogs as i64 + 1);
            WorklogData {
                id: issue.id * 10 + n as u64,
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

/// Every live worklog of an issue: generated (unless hidden), then written.
pub(crate) fn worklogs(issue: &IssueData, users: usize) -> Vec<WorklogData> {
    let mut all: Vec<WorklogData> = generated_worklogs(issue, users)
        .into_iter()
        .filter(|w| !issue.hidden_generated.contains(&w.id))
        .collect();
    all.extend(issue.added_worklogs.iter().cloned());
    all.sort_by_key(|w| (w.started_ms, w.id));
    all
}

/// The id of the issue that owns a comment or worklog id.
pub(crate) fn owner_of(store: &IssueStore, id: u64) -> Option<u64> {
    if id >= WRITTEN_IDS {
        store.owners.get(&id).copied()
    } else {
        Some(id / 10).filter(|issue| store.by_id.contains_key(issue))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_tenant() {
        let config = SimConfig {
            projects: 3,
            issues_per_project: 50,
            ..SimConfig::default()
        };
        let (tenant_a, store_a) = generate(&config, 1_700_000_000_000);
        let (tenant_b, store_b) = generate(&config, 1_700_000_000_000);
        assert_eq!(store_a.by_id.len(), 150);
        assert_eq!(tenant_a.projects[2].key, tenant_b.projects[2].key);
        let a = &store_a.by_id[&10_077];
        let b = &store_b.by_id[&10_077];
        assert_eq!(
            (a.seed, &a.key, a.created_ms),
            (b.seed, &b.key, b.created_ms)
        );
        assert_eq!(generated_summary(a.seed), generated_summary(b.seed));
        assert!(a.created_ms <= a.updated_ms && a.updated_ms <= 1_700_000_000_000);
    }

    #[test]
    fn keys_are_unique_past_the_word_list() {
        let config = SimConfig {
            projects: 45,
            issues_per_project: 1,
            ..SimConfig::default()
        };
        let (tenant, store) = generate(&config, 1_700_000_000_000);
        assert_eq!(tenant.project_by_key.len(), 45);
        assert_eq!(store.by_key.len(), 45);
        assert_eq!(tenant.project("apo"), Some(0));
        assert_eq!(tenant.project("APO2"), Some(20));
        assert_eq!(store.find("apo-1").map(|i| i.id), Some(10_000));
        assert_eq!(store.find("10000").map(|i| i.key.as_str()), Some("APO-1"));
        assert!(store.find("NOPE-1").is_none());
    }
}

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
}

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
        next_comment_id: 100_000,
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
                properties: std::collections::BTreeMap::new(),
            };
            insert_issue(&mut store, &projects, issue);
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

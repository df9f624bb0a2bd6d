//! The simulated tenant: projects, users, fields and issues, generated from a seed.
//!
//! Generation is cheap because an issue stores only compact facts (indices into word
//! lists, timestamps, a per-issue seed); its summary, description and comments are
//! derived from that seed when rendered. Writes store overrides next to those facts.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

mod generate;
mod workflow;

pub(crate) use workflow::{TRANSITIONS, Transition, available};

pub(crate) use generate::{
    GENERATED_IDS_PER_ISSUE, adf, adf_text, generate, generated_comment, generated_comment_index,
    generated_comments, generated_history, generated_paragraphs, generated_summary,
    generated_worklogs,
};

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
/// Jira's status categories: (id, key, colour name, name), as every Jira Cloud site has them.
pub(crate) const STATUS_CATEGORIES: &[(u64, &str, &str, &str)] = &[
    (1, "undefined", "medium-gray", "No Category"),
    (2, "new", "blue-gray", "To Do"),
    (4, "indeterminate", "yellow", "In Progress"),
    (3, "done", "green", "Done"),
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

/// The id of a project's component `index` (into [`COMPONENTS`]).
pub(crate) fn component_id(project: usize, index: usize) -> u64 {
    10_000 + project as u64 * 10 + index as u64
}

/// The id of a project's version `index` (into [`VERSIONS`]).
pub(crate) fn version_id(project: usize, index: usize) -> u64 {
    10_000 + project as u64 * 10 + index as u64
}

/// The components of an issue (indices into [`COMPONENTS`]): none or one, from its seed.
pub(crate) fn issue_components(issue: &IssueData) -> Vec<usize> {
    let pick = (issue.seed >> 8) as usize % (COMPONENTS.len() + 1);
    (pick < COMPONENTS.len())
        .then_some(pick)
        .into_iter()
        .collect()
}

/// The fix versions of an issue (indices into [`VERSIONS`]): a released one for a done
/// issue, from its seed; none otherwise.
pub(crate) fn issue_fix_versions(issue: &IssueData) -> Vec<usize> {
    let released: Vec<usize> = (0..VERSIONS.len()).filter(|v| VERSIONS[*v].1).collect();
    if STATUSES[issue.status].2 != "done" || released.is_empty() {
        return Vec::new();
    }
    vec![released[(issue.seed >> 16) as usize % released.len()]]
}

/// Ids at or above this are of comments, worklogs and history entries written while the
/// simulator runs; below it, generated ones (derived from the issue id: see
/// [`generated_comment_id`] and [`generated_worklog_id`]). Written comments take ids from
/// here up, written worklogs, history entries and links from [`WRITTEN_OTHER_IDS`] up, so
/// a comment and a worklog never share an id (Jira's ids are unique per kind; the owner
/// map and the hidden lists hold both).
pub(crate) const WRITTEN_IDS: u64 = 10_000_000_000;

/// Where written worklogs, history entries and links take their ids from.
pub(crate) const WRITTEN_OTHER_IDS: u64 = 2 * WRITTEN_IDS;

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
    /// The `updated` the issue was generated with: generated history, comments and
    /// worklogs are spread between `created_ms` and this, so an edit (which moves
    /// `updated_ms`) does not move them.
    pub generated_until_ms: i64,
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
    /// Files uploaded to the issue, oldest first.
    pub attachments: Vec<AttachmentData>,
}

/// A file attached to an issue (`POST /issue/{key}/attachments`).
#[derive(Clone, Debug)]
pub(crate) struct AttachmentData {
    pub id: u64,
    pub filename: String,
    pub mime_type: String,
    /// Index into the tenant's users: who uploaded it.
    pub author: usize,
    pub created_ms: i64,
    pub content: bytes::Bytes,
}

/// Issues, indexed by id and by key, with a version that changes on every write.
#[derive(Clone, Debug, Default)]
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
        Some(id / GENERATED_IDS_PER_ISSUE).filter(|issue| store.by_id.contains_key(issue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;

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

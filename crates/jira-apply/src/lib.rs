//! Writes to Jira Cloud applied exactly once: the write journal, exactly-once bulk
//! creates ([`create_issues_once`]) and change files ([`apply`]), behind `jira-ops create`
//! and `jira-ops apply`, on top of [`jira_client::JiraClient`].
//!
//! # Design
//!
//! A change file holds one [`Operation`] a line (JSON Lines). The whole file is read and
//! checked ([`parse_changes`]) before anything is sent; a bad line is an error naming it.
//!
//! **Order and pace.** Operations on one issue run one after the other in file order;
//! different issues run side by side (`max_concurrent` issues at a time). Every write names
//! its issue, so the rate-limit layer keeps each issue inside Jira's per-issue write
//! windows, and the per-method burst buckets pace PUT, POST and DELETE.
//!
//! **Exactly once.** Every line has a content key (what it does, and which occurrence of
//! that it is in the file; not where it stands) in the write [`journal`], so a re-run of
//! an edited file sends only the lines that are new or changed. A line's intent is
//! durable before the request goes and its outcome after. A line known done is not sent
//! again. A line whose outcome is unknown
//! (sent, answer lost, or a run killed in flight) is resolved before anything is sent
//! again: idempotent operations (field updates, labels, assignments) are sent again; a
//! transition is checked against the issue's status; a delete against the issue's
//! existence; the others carry a marker that a lookup finds: comments and created issues
//! the entity property [`IDEMPOTENCY_PROPERTY`] holding the key, links the link itself.
//! Jira Cloud does not index such a property for JQL (only an app's declared ones), so a
//! lost create is found by what Jira does index (its project, `created` since the intent,
//! `reporter = currentUser()`) and confirmed by the property read back; since Jira's search
//! lags its writes, one not found is looked for again until its intent is
//! `BatchConfig::search_settle` old (30 s), and only then sent again.
//!
//! A write is done only when the answer is Jira's for it (`line::jira_said_done`): a
//! 2xx with a proxy's HTML page or an empty body where Jira sends JSON is unknown.
//!
//! **Bulk operations.** When at least [`BULK_MIN_LINES`] lines make the same change
//! (a delete, labels added or removed, a transition without fields, an assignment, or an
//! update setting the same priority, summary, description, assignee, labels or number
//! fields) to issues no other line touches, they go through Jira's asynchronous bulk
//! operations (`/bulk/issues/delete`, `/bulk/issues/fields`, `/bulk/issues/transition`, up
//! to [`jira_model::BULK_OPERATION_MAX_ISSUES`] issues a task, its progress polled)
//! instead of a request each; the task's per-issue results are mapped back to the lines.
//! They are idempotent, so a task whose outcome was lost is submitted again (a transition
//! checked against the status first). A submission the site declines as a whole (a site
//! without bulk operations, an account without the "Make bulk changes" permission) did
//! nothing: the group's lines are then written one by one.
//!
//! **Transitions by name** resolve through the issue's available transitions (by the
//! transition's name, the status it leads to, or its id), cached per project, issue type
//! and status; a transition not available from the issue's status is refused on its line
//! with the ones that are.
//!
//! **Checks before the first write.** A run reads every issue it names once, in bulk
//! fetches, and makes the dry run's checks from it and a few cached reads (permissions,
//! edit screens, accounts, link types, transitions and their screens): a line the site
//! would refuse is refused unsent.
//!
//! **Runs and revert.** Each apply of a file is a [run](runs) named in every journal
//! record it writes (`jira-ops journal list | show | forget`). Before its first write a
//! run keeps what each line will change ([`undo::Undo`]: field values before and after,
//! the comment, link or issue made); [`revert_plan`] turns a run back into lines that set
//! each value back in reverse order (a status walked back through the workflow), leaving
//! what another hand changed since, applied as a run of its own.
//!
//! # Where things are
//!
//! `change` (the file's operations and their checks), `outcome` (a line's result),
//! `plan` (the least time the limits allow), `run` (one run: its first reads, lines
//! grouped by issue), `line` (one line's write and the resolution of a lost answer),
//! `transition` (by name, and walks), `bulk` (asynchronous bulk tasks), `dry_run`,
//! `precheck` (the dry run's checks before the first write), `undo` and `revert`,
//! `runs`, `writer` (the journal's group commit), `journal` (the file), `once`
//! (exactly-once creates).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), jira_apply::Error> {
//! use std::sync::{Arc, Mutex};
//! use jira_apply::{Journal, parse_changes};
//! use jira_client::JiraClient;
//!
//! let client = JiraClient::builder("https://your-domain.atlassian.net")
//!     .basic_auth("me@example.com", std::env::var("JIRA_API_TOKEN").unwrap_or_default())
//!     .build()
//!     .await?;
//! let changes = parse_changes(r#"{"op": "comment", "issue": "PROJ-1", "body": "Checked."}"#)
//!     .expect("a valid change file");
//! let journal = Arc::new(Mutex::new(Journal::open("journal.jsonl".as_ref())?));
//! let report = jira_apply::apply(&client, &changes, journal, &|| false, &|_| {}).await?;
//! assert!(report.all_succeeded());
//! # Ok(())
//! # }
//! ```

mod bulk;
mod change;
mod dry_run;
mod error;
pub mod journal;
mod line;
mod once;
mod outcome;
mod plan;
mod precheck;
pub mod revert;
mod run;
pub mod runs;
mod transition;
pub mod undo;
mod writer;

use std::sync::{Arc, Mutex};

use jira_client::JiraClient;

pub use bulk::{BULK_MIN_LINES, bulk_groups, bulk_groups_with};
pub use change::{Change, LineError, Operation, parse_changes, parse_creates};
pub use dry_run::DryLine;
pub use error::Error;
pub use journal::{IDEMPOTENCY_PROPERTY, Journal, JournalError, JournalRecord, WriteState};
pub use once::OnceCreated;
pub use outcome::{ApplyReport, LineResult, Outcome};
pub use plan::{ApplyPlan, plan, plan_at_default_limits};

/// The write jobs of one client: what each module's methods run on.
pub(crate) struct Writes<'c> {
    pub(crate) client: &'c JiraClient,
}

/// Applies `changes` (from [`parse_changes`]) exactly once, however often this runs and
/// however a run ends (see the crate docs); `stop` is asked before each line: once it says
/// so, lines not started are `NotSent` and those in flight finish. `progress` is called
/// with each line's result as it ends. One result per line, in file order; an error only
/// when the journal cannot be written (then nothing more is sent).
pub async fn apply(
    client: &JiraClient,
    changes: &[Change],
    journal: Arc<Mutex<Journal>>,
    stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(&LineResult) + Sync),
) -> Result<ApplyReport, Error> {
    Ok(Writes { client }
        .apply(changes, journal, stop, progress)
        .await?)
}

/// [`apply`] as part of `run` ([`runs::start`]): the lines' content keys carry the run's
/// id, so a run asked for again applies each line once more, exactly once within it.
pub async fn apply_run(
    client: &JiraClient,
    changes: &[Change],
    journal: Arc<Mutex<Journal>>,
    run: &runs::Run,
    stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(&LineResult) + Sync),
) -> Result<ApplyReport, Error> {
    Ok(Writes { client }
        .apply_as(&run.own_job(), changes, journal, stop, progress)
        .await?)
}

/// The lines that revert the run whose lines' records are `lines`
/// ([`runs::lines`]): each field set back, in reverse file order, what another hand
/// changed since left alone unless `force`, what the run created deleted only with
/// `delete_created` ([`revert`]). Reads the site; writes nothing. Apply the result as a
/// run of its own ([`runs::start`] with job `revert`, then [`apply_run`]).
pub async fn revert_plan(
    client: &JiraClient,
    lines: &[JournalRecord],
    delete_created: bool,
    force: bool,
) -> Result<revert::RevertPlan, Error> {
    Writes { client }
        .revert_changes(lines, delete_created, force)
        .await
        .map_err(Error::Read)
}

/// [`create_issues_once`] as part of `run` ([`runs::start`] with job `create`): a run
/// asked for again creates each input once more, exactly once within it.
pub async fn create_issues_once_in(
    client: &JiraClient,
    inputs: Vec<(usize, jira_model::IssueUpdate)>,
    journal: &Mutex<Journal>,
    run: &runs::Run,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Result<OnceCreated, jira_client::CreateError>>, Error> {
    Ok(Writes { client }
        .create_issues_once_as(&run.job("create"), inputs, journal, stop)
        .await?)
}

/// What each line of `changes` would change, read from the site (`--dry-run`); nothing
/// is written.
pub async fn apply_dry_run(client: &JiraClient, changes: &[Change]) -> Vec<DryLine> {
    Writes { client }.apply_dry_run(changes).await
}

/// Creates `inputs` (each with the number the caller knows it by, e.g. its line) so that
/// each is created once however often this runs and however a run ends: the journal
/// records each chunk's intent (synced) before it is sent and its outcomes after; an input
/// known done is not sent again; one whose outcome was lost is looked for on the site
/// (candidates by project, creation time and reporter, confirmed by the idempotency
/// property every create carries; again until search has settled) and created only if it
/// is not found.
/// `stop` is asked before each chunk: once it says so, the chunks not yet sent are
/// `NotSent` and those in flight finish. One result per input, in input order; an error
/// only when the journal cannot be written (then nothing more is sent).
pub async fn create_issues_once(
    client: &JiraClient,
    inputs: Vec<(usize, jira_model::IssueUpdate)>,
    journal: &Mutex<Journal>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Result<OnceCreated, jira_client::CreateError>>, Error> {
    Ok(Writes { client }
        .create_issues_once(inputs, journal, stop)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::comment_adf;
    use serde_json::{Map, json};

    #[test]
    fn every_bad_line_is_named_with_its_fix() {
        let text = r#"{"op":"update","issue":"APO-1","fields":{"summary":"x"}}
# a comment line
not json
{"op":"frobnicate","issue":"APO-1"}
{"op":"transition","issue":"apo 1","to":"Done"}
{"op":"label","issue":"APO-2"}
{"op":"comment","issue":"APO-2","body":""}
{"op":"update","issue":"APO-3","fields":{"summary":"y"},"extra":1}

{"op":"create","fields":{"project":{"key":"APO"}}}"#;
        let errors = parse_changes(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 10]);
        assert!(errors[0].message.contains("not JSON"));
        assert!(errors[1].message.contains("unknown op \"frobnicate\""));
        assert!(errors[2].message.contains("not an issue key"));
        assert!(errors[3].message.contains("give \"add\" or \"remove\""));
        assert!(errors[4].message.contains("comment \"body\""));
        assert!(errors[5].message.contains("extra"), "{}", errors[5].message);
        assert!(errors[6].message.contains("issuetype"));
    }

    #[test]
    fn key_names_the_issue_as_jira_and_our_output_spell_it() {
        let by_key = parse_changes(r#"{"op":"comment","key":"APO-1","body":"x"}"#).unwrap();
        let by_issue = parse_changes(r#"{"op":"comment","issue":"APO-1","body":"x"}"#).unwrap();
        assert_eq!(by_key[0].op, by_issue[0].op);
        assert_eq!(by_key[0].op.issue(), Some("APO-1"));
    }

    #[test]
    fn good_lines_parse_with_their_numbers() {
        let text = "{\"op\":\"transition\",\"issue\":\"APO-1\",\"to\":\"Done\",\"fields\":{\"resolution\":{\"name\":\"Done\"}}}\n\n{\"op\":\"link\",\"type\":\"Blocks\",\"inward\":\"APO-1\",\"outward\":\"BEA-2\"}\n{\"op\":\"assign\",\"issue\":\"10001\",\"account_id\":null}";
        let changes = parse_changes(text).unwrap();
        assert_eq!(
            changes.iter().map(|c| c.line).collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert_eq!(changes[1].op.issue(), Some("APO-1"));
        assert!(changes[2].op.idempotent());
        assert!(!changes[1].op.idempotent());
    }

    #[test]
    fn the_plan_is_bound_by_the_slowest_method_or_the_busiest_issue() {
        let line = |n: usize, op: Operation| Change { line: n, op };
        let mut changes: Vec<Change> = (0..100)
            .map(|n| {
                line(
                    n,
                    Operation::Update {
                        issue: format!("APO-{n}"),
                        fields: Map::from_iter([("summary".to_owned(), json!(format!("x{n}")))]),
                        update: Map::new(),
                    },
                )
            })
            .collect();
        let rate = |method: &str| if method == "PUT" { 50.0 } else { 100.0 };
        // The same summary on 100 issues is one bulk edit; different ones a PUT each.
        let mut same = changes.clone();
        for change in &mut same {
            if let Operation::Update { fields, .. } = &mut change.op {
                fields.insert("summary".into(), json!("x"));
            }
        }
        let bulk = plan(&same, &rate);
        assert_eq!((bulk.bulk_lines, bulk.bulk_tasks), (100, 1), "{bulk:?}");
        assert!(bulk.writes.is_empty(), "{bulk:?}");
        let spread = plan(&changes, &rate);
        assert_eq!(spread.writes["PUT"], 100);
        assert!((spread.seconds - 2.0).abs() < 1e-9, "{spread:?}");
        for n in 0..250 {
            changes.push(line(
                n,
                Operation::Comment {
                    issue: "APO-1".into(),
                    body: json!("hi"),
                },
            ));
        }
        let busy = plan(&changes, &rate);
        assert_eq!(busy.most_on_one_issue, 251);
        // 251 writes: two full windows of 100 per 30 s behind them.
        assert!((busy.seconds - 60.0).abs() < 1e-9, "{busy:?}");
        assert!(busy.bound_by.contains("one issue"));
    }

    #[test]
    fn plain_text_comments_become_adf_paragraphs() {
        let adf = comment_adf(&json!("first line\nsecond\n\nnext paragraph"));
        assert!(jira_model::adf::is_adf(&adf));
        assert_eq!(adf["content"].as_array().unwrap().len(), 2);
        // The text view shows a line break as a space and a paragraph per line.
        assert_eq!(
            jira_model::adf::to_text(&adf).trim(),
            "first line second\nnext paragraph"
        );
    }
}

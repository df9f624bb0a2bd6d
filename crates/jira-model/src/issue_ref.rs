//! What may name an issue: a Jira key (`PROJ-123`) or a numeric id (`10001`).

use std::fmt;

/// The longest issue reference accepted (Jira's project keys are at most 255 characters).
pub const ISSUE_REF_MAX_LEN: usize = 255;

/// Why a text is not an issue key or id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRefError {
    /// The text, shortened to 40 characters for messages.
    pub shown: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl fmt::Display for IssueRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an issue key or id ({}; e.g. PROJ-123 or 10001)",
            self.shown, self.why
        )
    }
}

impl std::error::Error for IssueRefError {}

/// Checks that `text` names an issue: a project key (a letter, then letters, digits or
/// `_`) and a positive number joined by `-`, or a positive numeric id. Case is not
/// checked, as Jira accepts `proj-1`.
///
/// ```
/// use jira_model::check_issue_ref;
/// assert!(check_issue_ref("PROJ-123").is_ok());
/// assert!(check_issue_ref("10001").is_ok());
/// assert!(check_issue_ref("PROJ-").is_err());
/// assert!(check_issue_ref("../../etc").is_err());
/// assert!(check_issue_ref("A-1,A-2").is_err());
/// ```
pub fn check_issue_ref(text: &str) -> Result<(), IssueRefError> {
    let fail = |why| {
        let mut shown: String = text.chars().take(40).collect();
        if text.chars().count() > 40 {
            shown.push('…');
        }
        Err(IssueRefError { shown, why })
    };
    if text.is_empty() {
        return fail("it is empty");
    }
    if text.len() > ISSUE_REF_MAX_LEN {
        return fail("it is longer than 255 characters");
    }
    let positive = |digits: &str| {
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    };
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return if positive(text) {
            Ok(())
        } else {
            fail("an id is a positive number")
        };
    }
    let Some((project, number)) = text.rsplit_once('-') else {
        return fail("a key is a project key, '-' and a number");
    };
    let mut chars = project.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return fail("a project key is a letter, then letters, digits or '_'");
    }
    if !positive(number) {
        return fail("the issue number is missing or not a positive number");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ids_and_what_is_neither() {
        for good in ["PROJ-1", "proj-42", "A_B2-10", "10001", "X-999999"] {
            assert!(check_issue_ref(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("APO-", "number"),
            ("-1", "project key"),
            ("../../etc", "project key"),
            ("APO-2,APO-3", "project key"),
            ("APO-0", "number"),
            ("0", "positive"),
            ("2APO-1", "project key"),
            ("", "empty"),
            ("A B-1", "project key"),
        ] {
            let error = check_issue_ref(bad).unwrap_err();
            assert!(error.to_string().contains(why), "{bad}: {error}");
        }
        let long = format!("A-{}", "1".repeat(300));
        let error = check_issue_ref(&long).unwrap_err();
        assert!(
            error.to_string().len() < 200,
            "the message does not echo it whole"
        );
    }
}

//! Attachments as Jira describes them (`Attachment`: the upload's answer and the issue's
//! `attachment` field).

use serde_json::{Value, json};

use super::Renderer;
use crate::data::{AttachmentData, IssueData};

impl Renderer<'_> {
    /// One attachment, its links under the API version the caller used.
    pub fn attachment(&self, attachment: &AttachmentData) -> Value {
        let version = if self.v2 { "2" } else { "3" };
        json!({
            "self": format!("{}/rest/api/{version}/attachment/{}", self.base, attachment.id),
            "id": attachment.id.to_string(),
            "filename": attachment.filename,
            "author": self.user_value(attachment.author),
            "created": self.time(attachment.created_ms),
            "size": attachment.content.len(),
            "mimeType": attachment.mime_type,
            "content": format!(
                "{}/rest/api/{version}/attachment/content/{}",
                self.base, attachment.id
            ),
        })
    }

    /// The issue's `attachment` field: what it holds, oldest first.
    pub fn attachments(&self, issue: &IssueData) -> Value {
        issue
            .attachments
            .iter()
            .map(|a| self.attachment(a))
            .collect()
    }
}

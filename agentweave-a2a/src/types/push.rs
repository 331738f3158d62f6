//! Push notification (webhook) configuration.

use serde::{Deserialize, Serialize};

/// Credentials the agent sends with each webhook call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// HTTP authentication scheme, e.g. `Bearer` (case-insensitive).
    pub scheme: String,
    /// The credentials for that scheme.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credentials: String,
}

/// A webhook registered for a task's updates.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskPushNotificationConfig {
    /// Tenant routing value (empty means unset).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// Configuration id (server-assigned when empty on creation).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The task.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// Webhook URL.
    pub url: String,
    /// A token echoed to the webhook so it can check the call is expected.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Credentials sent in the `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationInfo>,
}

// Tokens and credentials are secrets: keep them out of logs.
impl std::fmt::Debug for TaskPushNotificationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskPushNotificationConfig")
            .field("id", &self.id)
            .field("task_id", &self.task_id)
            .field("url", &self.url)
            .field("token", &if self.token.is_empty() { "" } else { "<redacted>" })
            .field("authentication", &self.authentication.as_ref().map(|a| &a.scheme))
            .finish()
    }
}

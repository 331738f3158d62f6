//! Request and response objects of each A2A method.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::message::Message;
use super::push::TaskPushNotificationConfig;
use super::task::{Task, TaskState};
use super::timestamp::Timestamp;

/// Reads a ProtoJSON `int32`: a JSON number or a decimal string, in range.
pub(crate) fn opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not a 32-bit integer"))),
        Some(Value::String(s)) => s
            .parse::<i32>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("`{s}` is not a 32-bit integer"))),
        Some(other) => Err(D::Error::custom(format!("expected an integer, got {other}"))),
    }
}

fn plain_i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    opt_i32(d).map(Option::unwrap_or_default)
}

/// How a `SendMessage` should be processed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageConfiguration {
    /// Media types the client accepts in responses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "accepted_output_modes")]
    pub accepted_output_modes: Vec<String>,
    /// A webhook to register for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_push_notification_config")]
    pub task_push_notification_config: Option<TaskPushNotificationConfig>,
    /// How much history to return.
    #[serde(default, deserialize_with = "opt_i32", skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// Return as soon as the task exists instead of waiting for a terminal or interrupted state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[serde(alias = "return_immediately")]
    pub return_immediately: bool,
}

/// `SendMessage` / `SendStreamingMessage` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The message.
    pub message: Message,
    /// Processing options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<SendMessageConfiguration>,
    /// Request metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// `GetTask` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTaskRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The task id.
    pub id: String,
    /// How much history to return.
    #[serde(default, deserialize_with = "opt_i32", skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
}

/// `ListTasks` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// Only tasks of this context.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// Only tasks in this state (`TASK_STATE_UNSPECIFIED` means any).
    #[serde(default, skip_serializing_if = "is_unspecified")]
    pub status: TaskState,
    /// Page size (1..=100; server default when unset).
    #[serde(default, deserialize_with = "opt_i32", skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_size")]
    pub page_size: Option<i32>,
    /// Cursor from a previous response.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "page_token")]
    pub page_token: String,
    /// How much history to return per task.
    #[serde(default, deserialize_with = "opt_i32", skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// Only tasks whose status changed after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "status_timestamp_after")]
    pub status_timestamp_after: Option<Timestamp>,
    /// Include artifacts (default false: the field is then omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "include_artifacts")]
    pub include_artifacts: Option<bool>,
}

fn is_unspecified(s: &TaskState) -> bool {
    *s == TaskState::Unspecified
}

/// `ListTasks` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksResponse {
    /// The page.
    pub tasks: Vec<Task>,
    /// Cursor of the next page; empty on the last page (always present).
    #[serde(alias = "next_page_token")]
    pub next_page_token: String,
    /// The page size applied.
    #[serde(deserialize_with = "plain_i32")]
    #[serde(alias = "page_size")]
    pub page_size: i32,
    /// Number of matching tasks across all pages.
    #[serde(deserialize_with = "plain_i32")]
    #[serde(alias = "total_size")]
    pub total_size: i32,
}

/// `CancelTask` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelTaskRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The task id.
    pub id: String,
    /// Request metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// `SubscribeToTask` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeToTaskRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The task id.
    pub id: String,
}

/// `GetTaskPushNotificationConfig` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTaskPushNotificationConfigRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The task id.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The configuration id.
    pub id: String,
}

/// `DeleteTaskPushNotificationConfig` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteTaskPushNotificationConfigRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The task id.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The configuration id.
    pub id: String,
}

/// `ListTaskPushNotificationConfigs` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTaskPushNotificationConfigsRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The task id.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// Page size (server default when 0).
    #[serde(default, deserialize_with = "plain_i32", skip_serializing_if = "is_zero")]
    #[serde(alias = "page_size")]
    pub page_size: i32,
    /// Cursor from a previous response.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "page_token")]
    pub page_token: String,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// `ListTaskPushNotificationConfigs` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTaskPushNotificationConfigsResponse {
    /// The configurations.
    #[serde(default)]
    pub configs: Vec<TaskPushNotificationConfig>,
    /// Cursor of the next page (empty on the last page).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "next_page_token")]
    pub next_page_token: String,
}

/// `GetExtendedAgentCard` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetExtendedAgentCardRequest {
    /// Tenant routing value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
}

//! Tasks, their status, artifacts and the streaming events that update them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::message::Message;
use super::part::Part;
use super::proto_enum::proto_enum;
use super::timestamp::Timestamp;

proto_enum! {
    /// Lifecycle state of a task.
    pub enum TaskState {
        /// Unknown; never a valid state for a stored task.
        #[default]
        Unspecified = ("TASK_STATE_UNSPECIFIED", 0),
        /// Acknowledged, not started.
        Submitted = ("TASK_STATE_SUBMITTED", 1),
        /// Being processed.
        Working = ("TASK_STATE_WORKING", 2),
        /// Finished successfully (terminal).
        Completed = ("TASK_STATE_COMPLETED", 3),
        /// Finished with an error (terminal).
        Failed = ("TASK_STATE_FAILED", 4),
        /// Canceled before completion (terminal).
        Canceled = ("TASK_STATE_CANCELED", 5),
        /// Waiting for more input from the client (interrupted).
        InputRequired = ("TASK_STATE_INPUT_REQUIRED", 6),
        /// The agent declined the task (terminal).
        Rejected = ("TASK_STATE_REJECTED", 7),
        /// Waiting for authorization (interrupted).
        AuthRequired = ("TASK_STATE_AUTH_REQUIRED", 8),
    }
}

impl TaskState {
    /// Terminal states are final: no transition leaves them.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled | Self::Rejected)
    }

    /// Interrupted states wait for the client; a blocking send returns on them.
    pub fn is_interrupted(self) -> bool {
        matches!(self, Self::InputRequired | Self::AuthRequired)
    }
}

/// The status of a task: its state, an optional message and when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// The state.
    pub state: TaskState,
    /// A message explaining the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// When the status was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

impl TaskStatus {
    /// A status in `state`, stamped now.
    pub fn new(state: TaskState) -> Self {
        Self { state, message: None, timestamp: Some(Timestamp::now()) }
    }

    /// Attaches a message.
    #[must_use]
    pub fn with_message(mut self, message: Message) -> Self {
        self.message = Some(message);
        self
    }
}

/// An output of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Unique within the task.
    #[serde(alias = "artifact_id")]
    pub artifact_id: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Content, at least one part.
    pub parts: Vec<Part>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Extension URIs that contributed to this artifact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

impl Artifact {
    /// An artifact with a fresh UUID and the given parts.
    pub fn new(parts: Vec<Part>) -> Self {
        Self {
            artifact_id: uuid::Uuid::new_v4().to_string(),
            name: String::new(),
            description: String::new(),
            parts,
            metadata: None,
            extensions: Vec::new(),
        }
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.artifact_id = id.into();
        self
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

/// The core unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Server-generated identifier.
    pub id: String,
    /// Conversation the task belongs to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// Current status.
    pub status: TaskStatus,
    /// Outputs so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// Messages exchanged during the task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Message>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl Task {
    /// Keeps only the last `n` history messages (`historyLength` semantics: `0` drops all).
    pub fn truncate_history(&mut self, n: Option<i32>) {
        if let Some(n) = n {
            let keep = usize::try_from(n.max(0)).unwrap_or(0);
            let len = self.history.len();
            if len > keep {
                self.history.drain(..len - keep);
            }
        }
    }
}

/// A task's status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatusUpdateEvent {
    /// The task.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The task's context.
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// The new status.
    pub status: TaskStatus,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// An artifact was produced or extended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskArtifactUpdateEvent {
    /// The task.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The task's context.
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// The artifact (or the chunk being appended).
    pub artifact: Artifact,
    /// Append these parts to the artifact with the same id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub append: bool,
    /// This is the last chunk of the artifact.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[serde(alias = "last_chunk")]
    pub last_chunk: bool,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// One item of a stream (and the body of a push notification).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum StreamResponse {
    /// A task snapshot (always first for task streams).
    Task(Task),
    /// A direct message (the only item of a message stream).
    Message(Message),
    /// A status change.
    #[serde(alias = "status_update")]
    StatusUpdate(TaskStatusUpdateEvent),
    /// An artifact change.
    #[serde(alias = "artifact_update")]
    ArtifactUpdate(TaskArtifactUpdateEvent),
}

impl StreamResponse {
    /// The task this item concerns, if any.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Self::Task(t) => Some(&t.id),
            Self::Message(m) if !m.task_id.is_empty() => Some(&m.task_id),
            Self::Message(_) => None,
            Self::StatusUpdate(e) => Some(&e.task_id),
            Self::ArtifactUpdate(e) => Some(&e.task_id),
        }
    }

    /// True when the stream must close after this item: a message, or a terminal or
    /// interrupted state.
    pub fn ends_stream(&self) -> bool {
        match self {
            Self::Message(_) => true,
            Self::Task(t) => t.status.state.is_terminal() || t.status.state.is_interrupted(),
            Self::StatusUpdate(e) => {
                e.status.state.is_terminal() || e.status.state.is_interrupted()
            }
            Self::ArtifactUpdate(_) => false,
        }
    }
}

/// The result of `SendMessage`: a task or a direct message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum SendMessageResponse {
    /// The task tracking the work.
    Task(Task),
    /// A direct reply.
    Message(Message),
}

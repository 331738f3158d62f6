//! `Message` and `Role`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::part::Part;
use super::proto_enum::proto_enum;

proto_enum! {
    /// Who sent a message.
    pub enum Role {
        /// Not set; refused where a role is required.
        #[default]
        Unspecified = ("ROLE_UNSPECIFIED", 0),
        /// From the client to the server.
        User = ("ROLE_USER", 1),
        /// From the server to the client.
        Agent = ("ROLE_AGENT", 2),
    }
}

/// One unit of communication between client and server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Identifier chosen by the message's creator.
    #[serde(alias = "message_id")]
    pub message_id: String,
    /// Conversation the message belongs to (empty means unset).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// Task the message belongs to (empty means unset).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The sender.
    pub role: Role,
    /// The content; at least one part.
    pub parts: Vec<Part>,
    /// Free-form metadata (AgentWeave puts the capability name here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Extension URIs that contributed to this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Other tasks this message refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "reference_task_ids")]
    pub reference_task_ids: Vec<String>,
}

impl Message {
    /// A message with the given role, id and parts and nothing else set.
    pub fn new(role: Role, message_id: impl Into<String>, parts: Vec<Part>) -> Self {
        Self {
            message_id: message_id.into(),
            context_id: String::new(),
            task_id: String::new(),
            role,
            parts,
            metadata: None,
            extensions: Vec::new(),
            reference_task_ids: Vec::new(),
        }
    }

    /// A user message with a fresh UUID.
    pub fn user(parts: Vec<Part>) -> Self {
        Self::new(Role::User, uuid::Uuid::new_v4().to_string(), parts)
    }

    /// An agent message with a fresh UUID.
    pub fn agent(parts: Vec<Part>) -> Self {
        Self::new(Role::Agent, uuid::Uuid::new_v4().to_string(), parts)
    }

    /// Sets the context id.
    #[must_use]
    pub fn in_context(mut self, context_id: impl Into<String>) -> Self {
        self.context_id = context_id.into();
        self
    }

    /// Sets the task id.
    #[must_use]
    pub fn for_task(mut self, task_id: impl Into<String>) -> Self {
        self.task_id = task_id.into();
        self
    }

    /// The text of all text parts joined (convenient for tests and logs).
    pub fn text(&self) -> String {
        self.parts.iter().filter_map(Part::as_text).collect::<Vec<_>>().join("")
    }
}

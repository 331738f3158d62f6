//! The A2A 1.0 operations, named as on the JSON-RPC wire.

use std::fmt;

/// One A2A operation. Used for routing and passed to the authorization hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum A2aMethod {
    /// `SendMessage`
    SendMessage,
    /// `SendStreamingMessage`
    SendStreamingMessage,
    /// `GetTask`
    GetTask,
    /// `ListTasks`
    ListTasks,
    /// `CancelTask`
    CancelTask,
    /// `SubscribeToTask`
    SubscribeToTask,
    /// `CreateTaskPushNotificationConfig`
    CreateTaskPushNotificationConfig,
    /// `GetTaskPushNotificationConfig`
    GetTaskPushNotificationConfig,
    /// `ListTaskPushNotificationConfigs`
    ListTaskPushNotificationConfigs,
    /// `DeleteTaskPushNotificationConfig`
    DeleteTaskPushNotificationConfig,
    /// `GetExtendedAgentCard`
    GetExtendedAgentCard,
}

impl A2aMethod {
    /// Every method.
    pub const ALL: &'static [A2aMethod] = &[
        Self::SendMessage,
        Self::SendStreamingMessage,
        Self::GetTask,
        Self::ListTasks,
        Self::CancelTask,
        Self::SubscribeToTask,
        Self::CreateTaskPushNotificationConfig,
        Self::GetTaskPushNotificationConfig,
        Self::ListTaskPushNotificationConfigs,
        Self::DeleteTaskPushNotificationConfig,
        Self::GetExtendedAgentCard,
    ];

    /// The JSON-RPC method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendMessage => "SendMessage",
            Self::SendStreamingMessage => "SendStreamingMessage",
            Self::GetTask => "GetTask",
            Self::ListTasks => "ListTasks",
            Self::CancelTask => "CancelTask",
            Self::SubscribeToTask => "SubscribeToTask",
            Self::CreateTaskPushNotificationConfig => "CreateTaskPushNotificationConfig",
            Self::GetTaskPushNotificationConfig => "GetTaskPushNotificationConfig",
            Self::ListTaskPushNotificationConfigs => "ListTaskPushNotificationConfigs",
            Self::DeleteTaskPushNotificationConfig => "DeleteTaskPushNotificationConfig",
            Self::GetExtendedAgentCard => "GetExtendedAgentCard",
        }
    }

    /// Looks a method up by its JSON-RPC name (case-sensitive, as JSON-RPC is).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == name)
    }

    /// True for the methods answered with an SSE stream.
    pub fn is_streaming(self) -> bool {
        matches!(self, Self::SendStreamingMessage | Self::SubscribeToTask)
    }
}

impl fmt::Display for A2aMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

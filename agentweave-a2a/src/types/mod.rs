//! The A2A 1.0 data model (`lf.a2a.v1`) with the ProtoJSON mapping: camelCase fields, enum
//! names such as `TASK_STATE_COMPLETED`, default values omitted, `bytes` as base64,
//! timestamps as RFC 3339 in UTC, unknown fields ignored.

mod card;
mod message;
mod part;
mod proto_enum;
mod push;
mod requests;
mod task;
mod timestamp;

pub use card::*;
pub use message::{Message, Role};
pub use part::{Part, PartContent};
pub use push::{AuthenticationInfo, TaskPushNotificationConfig};
pub use requests::*;
pub use task::{
    Artifact, SendMessageResponse, StreamResponse, Task, TaskArtifactUpdateEvent, TaskState,
    TaskStatus, TaskStatusUpdateEvent,
};
pub use timestamp::{Timestamp, TimestampError};

//! Request builders and response readers shared by the client suites (ours against our
//! server, and ours against the Python SDK's server), so that both assert the same shapes.

use agentweave_a2a::ErrorKind;
use agentweave_a2a::client::ClientError;
use agentweave_a2a::types::{
    Message, Part, SendMessageRequest, SendMessageResponse, StreamResponse, Task, TaskState,
};

/// A user text message whose id starts with `prefix` (the test executors pick their behaviour
/// from it).
pub fn send(prefix: &str, text: &str) -> SendMessageRequest {
    let mut message = Message::user(vec![Part::text(text)]);
    message.message_id = format!("{prefix}-{}", message.message_id);
    SendMessageRequest { tenant: String::new(), message, configuration: None, metadata: None }
}

/// The task of a send response; any other answer fails the test.
pub fn task_of(response: SendMessageResponse) -> Task {
    match response {
        SendMessageResponse::Task(t) => t,
        other => panic!("expected a task, got {other:?}"),
    }
}

/// The task state a stream item reports, if it reports one.
pub fn state_of(item: &StreamResponse) -> Option<TaskState> {
    match item {
        StreamResponse::Task(t) => Some(t.status.state),
        StreamResponse::StatusUpdate(e) => Some(e.status.state),
        _ => None,
    }
}

/// The A2A error kind of a remote error; any other error fails the test.
pub fn remote_kind(e: &ClientError) -> ErrorKind {
    e.remote().map(|r| r.kind).unwrap_or_else(|| panic!("expected a remote error, got {e:?}"))
}

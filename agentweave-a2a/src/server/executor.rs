//! The agent's business logic plugs in here.

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};

use super::identity::CallerIdentity;
use crate::types::{Artifact, Message, SendMessageConfiguration, Task, TaskState};

/// Everything an executor needs about one incoming message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestContext {
    /// The caller, as authenticated by the transport.
    pub caller: CallerIdentity,
    /// The message received (its `taskId`/`contextId` already filled in).
    pub message: Message,
    /// The task id (new or continued).
    pub task_id: String,
    /// The context id.
    pub context_id: String,
    /// The existing task when the message continues one.
    pub task: Option<Task>,
    /// The request configuration.
    pub configuration: Option<SendMessageConfiguration>,
    /// Extension URIs the client opted into (`A2A-Extensions`).
    pub extensions: Vec<String>,
    pub(crate) cancel: watch::Receiver<bool>,
}

impl RequestContext {
    /// True once the task has been canceled; long-running executors should poll this or
    /// await [`RequestContext::cancelled`] and stop.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves when the task is canceled.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.clone();
        // An Err means the server dropped the sender: the task is gone, treat as canceled.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// An update emitted by an executor.
#[derive(Debug, Clone)]
pub(crate) enum ExecutorEvent {
    Message(Message),
    Status { state: TaskState, message: Option<Message> },
    Artifact { artifact: Artifact, append: bool, last_chunk: bool },
}

/// The executor's event sink was closed: the task ended or the server shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the task's event sink is closed")]
pub struct SinkClosed;

/// Where an executor reports progress. Events are applied in order through the task state
/// machine; an event the state machine refuses (e.g. after the task was canceled) is dropped
/// and logged. The sink may be cloned and kept after `execute` returns for background work;
/// the task's event processing ends when every clone is dropped.
#[derive(Debug, Clone)]
pub struct EventSink {
    pub(crate) tx: mpsc::Sender<ExecutorEvent>,
    task_id: String,
    context_id: String,
}

impl EventSink {
    pub(crate) fn new(
        tx: mpsc::Sender<ExecutorEvent>,
        task_id: String,
        context_id: String,
    ) -> Self {
        Self { tx, task_id, context_id }
    }

    /// The task id.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The context id.
    pub fn context_id(&self) -> &str {
        &self.context_id
    }

    async fn send(&self, ev: ExecutorEvent) -> Result<(), SinkClosed> {
        self.tx.send(ev).await.map_err(|_| SinkClosed)
    }

    /// Replies with a message instead of a task. Only valid as the first and only event for
    /// a new task; no task is stored.
    pub async fn reply(&self, message: Message) -> Result<(), SinkClosed> {
        self.send(ExecutorEvent::Message(message)).await
    }

    /// Moves the task to `state` with an optional status message.
    pub async fn status(
        &self,
        state: TaskState,
        message: Option<Message>,
    ) -> Result<(), SinkClosed> {
        self.send(ExecutorEvent::Status { state, message }).await
    }

    /// Marks the task as working.
    pub async fn working(&self) -> Result<(), SinkClosed> {
        self.status(TaskState::Working, None).await
    }

    /// Completes the task.
    pub async fn complete(&self, message: Option<Message>) -> Result<(), SinkClosed> {
        self.status(TaskState::Completed, message).await
    }

    /// Fails the task.
    pub async fn fail(&self, message: Option<Message>) -> Result<(), SinkClosed> {
        self.status(TaskState::Failed, message).await
    }

    /// Rejects the task.
    pub async fn reject(&self, message: Option<Message>) -> Result<(), SinkClosed> {
        self.status(TaskState::Rejected, message).await
    }

    /// Asks the client for more input.
    pub async fn input_required(&self, message: Option<Message>) -> Result<(), SinkClosed> {
        self.status(TaskState::InputRequired, message).await
    }

    /// Adds an artifact (or, with `append`, extends the one with the same id).
    pub async fn artifact(
        &self,
        artifact: Artifact,
        append: bool,
        last_chunk: bool,
    ) -> Result<(), SinkClosed> {
        self.send(ExecutorEvent::Artifact { artifact, append, last_chunk }).await
    }

    /// An agent message bound to this task and context, with a fresh id.
    pub fn agent_message(&self, parts: Vec<crate::types::Part>) -> Message {
        Message::agent(parts).for_task(self.task_id.clone()).in_context(self.context_id.clone())
    }
}

/// The executor failed; the task is marked failed with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExecutorError(pub String);

/// The code that does an agent's work.
///
/// ```
/// use agentweave_a2a::server::{AgentExecutor, EventSink, ExecutorError, RequestContext};
/// use agentweave_a2a::types::Part;
/// use futures::future::BoxFuture;
///
/// struct Echo;
/// impl AgentExecutor for Echo {
///     fn execute(&self, ctx: RequestContext, sink: EventSink) -> BoxFuture<'static, Result<(), ExecutorError>> {
///         Box::pin(async move {
///             let reply = sink.agent_message(vec![Part::text(ctx.message.text())]);
///             sink.complete(Some(reply)).await.map_err(|e| ExecutorError(e.to_string()))
///         })
///     }
/// }
/// ```
pub trait AgentExecutor: Send + Sync + 'static {
    /// Handles one message. Report progress through `sink`; return `Err` to fail the task.
    fn execute(
        &self,
        ctx: RequestContext,
        sink: EventSink,
    ) -> BoxFuture<'static, Result<(), ExecutorError>>;

    /// Called when a task is canceled, after the server has already moved it to canceled
    /// and signalled [`RequestContext::cancelled`]. Release resources here. Default: nothing.
    fn on_cancel(&self, _task_id: &str) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
}

//! Capabilities: what an agent offers, and the handler that does the work.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use agentweave_a2a::server::{EventSink, SinkClosed};
use agentweave_a2a::types::{Artifact, Part, TaskState};
use agentweave_guard::PayloadType;
use agentweave_identity::SpiffeId;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::ops::trace::TraceContext;

/// What a handler knows about one request. Everything here was established by the pipeline
/// before the handler runs: the caller was proven by mTLS and allowed by policy, and a guarded
/// payload passed the guard.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RequestContext {
    /// The caller's SPIFFE ID, from the TLS session (never from the message).
    pub caller: SpiffeId,
    /// The capability invoked.
    pub capability: String,
    /// The A2A task id of this request.
    pub task_id: String,
    /// The A2A context id.
    pub context_id: String,
    /// The payload (the message's data part).
    pub payload: Value,
    /// The W3C trace id (32 lowercase hex): the caller's when its request carried a valid
    /// `traceparent` header, otherwise a new trace's. Logs and audit records of this request
    /// carry the same id.
    pub trace_id: String,
    /// The full trace context of this request (its own span id, the caller's span). It is also
    /// [`TraceContext::current`] while the handler runs, so that a `SecureAgent::call` made from
    /// the handler continues the trace; wrap work moved to another task in
    /// [`TraceContext::scope`] to keep it there.
    pub trace: TraceContext,
    /// Where the handler may report progress while it works; a streamed call
    /// ([`SecureAgent::call_stream`](crate::agent::SecureAgent::call_stream)) sees each report
    /// as it happens.
    pub progress: Progress,
}

/// A handler's channel to report progress before its result: `working` status updates and
/// artifacts of the request's A2A task. Reports are optional and cost nothing when unused; a
/// blocking caller sees only the result, a streaming caller sees every report in order. Do not
/// put secrets in them: the caller sees them.
#[derive(Clone, Debug)]
pub struct Progress {
    sink: Option<EventSink>,
}

impl Progress {
    pub(crate) fn new(sink: EventSink) -> Self {
        Self { sink: Some(sink) }
    }

    /// A channel that reports nowhere (a handler run outside an agent, in a unit test).
    pub fn detached() -> Self {
        Self { sink: None }
    }

    /// Reports that the handler is working, with `update` (any JSON) as a data part of the
    /// status message. Fails once the task has ended (canceled, or the agent is stopping).
    pub async fn working(&self, update: Value) -> Result<(), HandlerError> {
        let Some(sink) = &self.sink else { return Ok(()) };
        let message = sink.agent_message(vec![Part::data(update)]);
        sink.status(TaskState::Working, Some(message)).await.map_err(ended)
    }

    /// Adds an artifact named `name` holding `data` (any JSON) as one data part. Fails once the
    /// task has ended.
    pub async fn artifact(&self, name: &str, data: Value) -> Result<(), HandlerError> {
        let Some(sink) = &self.sink else { return Ok(()) };
        let artifact = Artifact::new(vec![Part::data(data)]).with_name(name);
        sink.artifact(artifact, false, true).await.map_err(ended)
    }
}

fn ended(_: SinkClosed) -> HandlerError {
    HandlerError::new("the task has ended; progress can no longer be reported")
}

/// A handler's failure, reported to the caller as a failed task with this message. Do not put
/// secrets in it: the caller sees it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

impl HandlerError {
    /// A failure with a message for the caller.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The boxed handler function.
pub(crate) type HandlerFn =
    Arc<dyn Fn(RequestContext) -> BoxFuture<'static, Result<Value, HandlerError>> + Send + Sync>;

/// One capability: a name (the policy action and the agent card skill id), a description, media
/// types, an optional guard payload type, and the handler.
///
/// ```
/// use agentweave::agent::{Capability, HandlerError};
/// use agentweave_guard::PayloadType;
///
/// let pay = Capability::new("invoice.pay", |ctx| async move {
///     Ok::<_, HandlerError>(serde_json::json!({"paid": true, "by": ctx.caller.to_string()}))
/// })
/// .description("Pays a verified invoice")
/// .guard_payload(PayloadType::FinancialTransaction);
/// assert_eq!(pay.name(), "invoice.pay");
/// ```
#[derive(Clone)]
pub struct Capability {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) input_modes: Vec<String>,
    pub(crate) output_modes: Vec<String>,
    pub(crate) payload_type: Option<PayloadType>,
    pub(crate) handler: HandlerFn,
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capability")
            .field("name", &self.name)
            .field("payload_type", &self.payload_type)
            .finish_non_exhaustive()
    }
}

impl Capability {
    /// A capability named `name` handled by `handler`. Media types default to
    /// `application/json` both ways; no guard runs unless [`Capability::guard_payload`] is set.
    pub fn new<F, Fut>(name: impl Into<String>, handler: F) -> Self
    where
        F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            description: String::new(),
            input_modes: vec!["application/json".into()],
            output_modes: vec!["application/json".into()],
            payload_type: None,
            handler: Arc::new(move |ctx| Box::pin(handler(ctx))),
        }
    }

    /// The agent card description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Accepted input media types.
    #[must_use]
    pub fn input_modes(mut self, modes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.input_modes = modes.into_iter().map(Into::into).collect();
        self
    }

    /// Produced output media types.
    #[must_use]
    pub fn output_modes(mut self, modes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.output_modes = modes.into_iter().map(Into::into).collect();
        self
    }

    /// Runs the guard on every payload of this capability, as `payload_type`. Only a verdict that
    /// verified the content (`forwarded` or `heuristic_pass`) lets the handler run; `blocked`,
    /// `rejected` and `unverifiable` all refuse (fail closed). Payload types without an engine
    /// (`general`, `data_query`) are refused when the agent is built, since they could never pass.
    #[must_use]
    pub fn guard_payload(mut self, payload_type: PayloadType) -> Self {
        self.payload_type = Some(payload_type);
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The guard payload type, if any.
    pub fn payload_type(&self) -> Option<PayloadType> {
        self.payload_type
    }
}

/// Whether the guard has an engine that can verify `payload_type`.
pub(crate) fn guardable(payload_type: PayloadType) -> bool {
    matches!(
        payload_type,
        PayloadType::FinancialTransaction
            | PayloadType::LogicAssertion
            | PayloadType::CodeExecution
    )
}

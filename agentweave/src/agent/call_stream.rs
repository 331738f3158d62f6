//! The caller side of a streamed call: `call_stream(target, capability, payload)` → the same
//! outbound policy as `call` (denied ⇒ no network traffic) → A2A `SendStreamingMessage` over the
//! transport pinned to the target's SPIFFE ID → the task's events as they happen, ending with the
//! same typed outcome as `call`.
//!
//! The callee runs the same inbound pipeline for a streaming send as for a blocking one (the
//! `Authorizer` hook with the capability as action, the guard, the handler, the attestation,
//! the audit records): only the answer differs. An inbound denial, or any other protocol error,
//! is answered before the stream opens and comes back from [`SecureAgent::call_stream`] itself.
//!
//! Events, in the order the callee emits them:
//!
//! | A2A item | [`StreamEvent`] |
//! | --- | --- |
//! | the task snapshot (first, `SUBMITTED`) | [`StreamEvent::Task`] |
//! | a non-final status change (`WORKING`, with a handler's [`Progress`](super::Progress) report) | [`StreamEvent::Status`] |
//! | an artifact added by the handler | [`StreamEvent::Artifact`] |
//! | the final status `COMPLETED` | [`StreamEvent::Completed`] with the [`CallOutcome`] |
//! | a final `REJECTED` by the guard, `FAILED`, `CANCELED`, an interrupted state | the stream's last item is the `Err` `call` would return |
//!
//! Everything the peer sends is checked: one task per stream (an event about another task is a
//! protocol error), bounded events (4 MiB), a stream that stops before a final state is a
//! fault, and a silence of [`CALL_STREAM_IDLE_TIMEOUT`] ends it with [`CallError::Timeout`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use agentweave_a2a::client::{A2aStream, ClientConfig, ClientError, jsonrpc_stream};
use agentweave_a2a::types::{
    SendMessageRequest, StreamResponse, Task, TaskArtifactUpdateEvent, TaskStatus,
    TaskStatusUpdateEvent,
};
use agentweave_a2a::{A2aMethod, ErrorKind};
use agentweave_identity::SpiffeId;
use agentweave_transport::SendOptions;
use futures::Stream;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::call::{CallOutcome, settle, transport_error};
use super::error::CallError;
use super::secure_agent::SecureAgent;
use super::wire::{Accept, jsonrpc_request, request_message};
use crate::ops::labels::{OUTBOUND_LOCAL, outbound_index};
use crate::ops::metrics::Metrics;
use crate::ops::trace::TraceContext;

/// How long a streamed call waits for the callee's next event before it fails with
/// [`CallError::Timeout`]. A handler that works longer than this in silence should report
/// progress ([`Progress::working`](super::Progress::working)).
pub const CALL_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Largest single event read from the callee (the bound `call` puts on a whole answer).
const MAX_EVENT_BYTES: usize = 4 << 20;

/// One event of a streamed call.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum StreamEvent {
    /// The task the callee created for the call (the first event; state `SUBMITTED`).
    Task(Task),
    /// A status change before the end: `WORKING`, with the handler's progress report as the
    /// status message's data part when it reported one.
    Status(TaskStatusUpdateEvent),
    /// An artifact the handler added or extended.
    Artifact(TaskArtifactUpdateEvent),
    /// The task completed: the outcome [`SecureAgent::call`] would have returned, including the
    /// guard verdict to verify with [`SecureAgent::verify_attestation`]. Always the last event.
    Completed(CallOutcome),
}

/// The events of one streamed call (a [`Stream`] of `Result<StreamEvent, CallError>`). It ends
/// after [`StreamEvent::Completed`] or after the first `Err`; dropping it early closes the
/// connection's stream (the callee's task runs on) and counts the call as a local failure.
#[must_use = "a stream does nothing unless polled"]
pub struct CallStream {
    events: A2aStream,
    target: SpiffeId,
    capability: String,
    payload: Value,
    trace_id: String,
    task_id: Option<String>,
    span: tracing::Span,
    record: Record,
}

impl std::fmt::Debug for CallStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallStream")
            .field("target", &self.target)
            .field("capability", &self.capability)
            .field("task_id", &self.task_id)
            .field("trace_id", &self.trace_id)
            .field("finished", &self.record.done())
            .finish_non_exhaustive()
    }
}

/// Books the call in the outbound metrics exactly once: when the stream ends, or when it is
/// dropped unfinished.
struct Record {
    metrics: Option<Arc<Metrics>>,
    started: Instant,
}

impl Record {
    fn done(&self) -> bool {
        self.metrics.is_none()
    }

    /// Books the outcome `index` (of [`outbound_index`]); later calls do nothing.
    fn finish(&mut self, index: usize) {
        if let Some(metrics) = self.metrics.take() {
            metrics.outbound(index, self.started.elapsed());
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if !self.done() {
            // Abandoned by the caller before the end: a local outcome, not the peer's.
            self.finish(OUTBOUND_LOCAL);
        }
    }
}

impl CallStream {
    /// The agent called.
    pub fn target(&self) -> &SpiffeId {
        &self.target
    }

    /// The W3C trace id of the call (the callee's handler sees the same id).
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The callee's task, once its first event arrived.
    pub fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }

    /// Reads the stream to its end and returns the final outcome (what [`SecureAgent::call`]
    /// returns), skipping the intermediate events.
    pub async fn finish(mut self) -> Result<CallOutcome, CallError> {
        use futures::StreamExt as _;
        while let Some(event) = self.next().await {
            if let StreamEvent::Completed(outcome) = event? {
                return Ok(outcome);
            }
        }
        Err(self.protocol("the stream ended without a final event"))
    }

    fn protocol(&self, detail: &str) -> CallError {
        CallError::Protocol { target: self.target.clone(), detail: detail.into() }
    }

    /// Turns one A2A item into an event, or into the call's final result.
    fn interpret(&mut self, item: StreamResponse) -> Result<StreamEvent, CallError> {
        let task_id = match &item {
            StreamResponse::Message(_) => {
                return Err(self.protocol("the agent answered with a message instead of a task"));
            }
            other => other.task_id().unwrap_or_default(),
        };
        match &self.task_id {
            Some(known) if known != task_id => {
                return Err(self.protocol(&format!(
                    "an event about task {task_id:?} arrived on the stream of task {known:?}"
                )));
            }
            Some(_) => {}
            None => self.task_id = Some(task_id.to_owned()),
        }
        let last = item.ends_stream();
        match item {
            StreamResponse::Task(task) if last => self.settle(task.id, task.status),
            StreamResponse::StatusUpdate(e) if last => self.settle(e.task_id, e.status),
            StreamResponse::Task(task) => Ok(StreamEvent::Task(task)),
            StreamResponse::StatusUpdate(e) => Ok(StreamEvent::Status(e)),
            StreamResponse::ArtifactUpdate(e) => Ok(StreamEvent::Artifact(e)),
            _ => Err(self.protocol("the agent sent an item of an unknown kind")),
        }
    }

    fn settle(&self, task_id: String, status: TaskStatus) -> Result<StreamEvent, CallError> {
        settle(
            &self.target,
            &self.capability,
            self.payload.clone(),
            self.trace_id.clone(),
            task_id,
            status,
        )
        .map(StreamEvent::Completed)
    }
}

impl Stream for CallStream {
    type Item = Result<StreamEvent, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.record.done() {
            return Poll::Ready(None);
        }
        let span = this.span.clone();
        let _entered = span.enter();
        let item = match this.events.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                Err(this.protocol("the stream ended before the task reached a final state"))
            }
            Poll::Ready(Some(Err(e))) => Err(client_error(&this.target, e)),
            Poll::Ready(Some(Ok(item))) => this.interpret(item),
        };
        let last = !matches!(
            item,
            Ok(StreamEvent::Task(_) | StreamEvent::Status(_) | StreamEvent::Artifact(_))
        );
        if last {
            this.record.finish(outbound_index(&item));
        }
        Poll::Ready(Some(item))
    }
}

impl SecureAgent {
    /// Calls `capability` on `target` with `payload` and streams the task's events.
    ///
    /// The guarantees of [`SecureAgent::call`] hold: our outbound policy decides first (audited;
    /// a denial is [`CallError::Denied`] with no network traffic), the request goes over mTLS to
    /// the target's endpoint from the peer map and the handshake must prove exactly `target`,
    /// the request carries the W3C `traceparent`, it is sent once, and the call is counted in
    /// `agentweave_outbound_calls_total` when the stream ends. Refusals and faults that happen
    /// before the stream opens (the target's policy, an unreachable peer, an open circuit, a
    /// timeout) are returned here; those that end the task (a guard block, a failed handler)
    /// are the stream's last item. The last successful item is [`StreamEvent::Completed`].
    pub async fn call_stream(
        &self,
        target: &SpiffeId,
        capability: &str,
        payload: Value,
    ) -> Result<CallStream, CallError> {
        let started = Instant::now();
        let current = TraceContext::current();
        let trace = current.map_or_else(TraceContext::root, |c| c.child());
        let span = tracing::info_span!(
            "agentweave.call_stream",
            trace_id = %trace.trace_id,
            span_id = %trace.span_id,
            peer = %target,
        );
        if current.is_none() {
            crate::ops::otlp::adopt(&span, &trace);
        }
        let opened =
            self.open_stream(target, capability, payload.clone(), trace).instrument(span.clone());
        let mut record = Record { metrics: Some(self.inner.metrics.clone()), started };
        match opened.await {
            Ok(events) => Ok(CallStream {
                events,
                target: target.clone(),
                capability: capability.to_owned(),
                payload,
                trace_id: trace.trace_id.to_string(),
                task_id: None,
                span,
                record,
            }),
            Err(error) => {
                let failed: Result<CallStream, CallError> = Err(error);
                record.finish(outbound_index(&failed));
                failed
            }
        }
    }

    async fn open_stream(
        &self,
        target: &SpiffeId,
        capability: &str,
        payload: Value,
        trace: TraceContext,
    ) -> Result<A2aStream, CallError> {
        let peer = self.peer(target)?;
        let trace_id = trace.trace_id.to_string();
        let message = request_message(capability, payload, &trace_id);
        let method = A2aMethod::SendStreamingMessage;
        self.authorize_outbound(
            target,
            capability,
            method.as_str(),
            &message.message_id,
            &trace_id,
        )
        .await?;
        let params = SendMessageRequest {
            tenant: String::new(),
            message,
            configuration: None,
            metadata: None,
        };
        let id = uuid::Uuid::new_v4().as_u64_pair().0;
        let request = jsonrpc_request(
            method.as_str(),
            &Value::from(id),
            &params,
            &trace.traceparent(),
            Accept::EventStream,
        )
        .map_err(|detail| CallError::Local { target: target.clone(), detail })?;
        // Sent once, like a blocking send: it has side effects.
        let response = self
            .inner
            .transport
            .send(&peer, request, SendOptions::default())
            .await
            .map_err(|e| transport_error(target, e))?;
        let config = ClientConfig {
            max_response_bytes: MAX_EVENT_BYTES,
            max_sse_event_bytes: MAX_EVENT_BYTES,
            stream_idle_timeout: Some(CALL_STREAM_IDLE_TIMEOUT),
            ..ClientConfig::default()
        };
        jsonrpc_stream(method, response, id, &config).await.map_err(|e| client_error(target, e))
    }
}

/// The typed error of a fault the A2A client reports, as `call` would type it.
fn client_error(target: &SpiffeId, error: ClientError) -> CallError {
    let target = target.clone();
    match error {
        ClientError::Transport(e) => transport_error(&target, e),
        ClientError::Remote(e) if e.kind == ErrorKind::PermissionDenied => {
            CallError::RemoteDenied { target, message: e.message }
        }
        ClientError::Remote(e) => {
            CallError::Remote { target, code: e.kind.jsonrpc_code(), message: e.message }
        }
        ClientError::UnknownRemoteError { code, message, .. } => {
            CallError::Remote { target, code, message }
        }
        ClientError::StreamIdle { after } => {
            CallError::Timeout { target, detail: format!("no stream event within {after:?}") }
        }
        e => CallError::Protocol { target, detail: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentweave_a2a::types::{Message, Part, TaskState};

    type Item = Result<StreamResponse, ClientError>;

    fn task(id: &str) -> StreamResponse {
        StreamResponse::Task(Task {
            id: id.into(),
            context_id: "c".into(),
            status: TaskStatus::new(TaskState::Submitted),
            artifacts: Vec::new(),
            history: Vec::new(),
            metadata: None,
        })
    }

    fn status(id: &str, state: TaskState, data: Option<Value>) -> StreamResponse {
        let mut status = TaskStatus::new(state);
        if let Some(data) = data {
            status = status.with_message(Message::agent(vec![Part::data(data)]));
        }
        StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
            task_id: id.into(),
            context_id: "c".into(),
            status,
            metadata: None,
        })
    }

    /// A stream over `items` as a peer would send them, and the metrics it books into.
    fn stream(items: Vec<Item>) -> (CallStream, prometheus_client::registry::Registry) {
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry));
        let target = SpiffeId::parse("spiffe://example.org/agent/peer").unwrap();
        let stream = CallStream {
            events: Box::pin(futures::stream::iter(items)),
            target,
            capability: "cap".into(),
            payload: Value::Null,
            trace_id: "t".into(),
            task_id: None,
            span: tracing::Span::none(),
            record: Record { metrics: Some(metrics), started: Instant::now() },
        };
        (stream, registry)
    }

    fn outcome_count(registry: &prometheus_client::registry::Registry, outcome: &str) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        let series = format!("agentweave_outbound_calls_total{{outcome=\"{outcome}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&series)).unwrap_or("absent").to_owned()
    }

    #[tokio::test]
    async fn what_the_peer_streams_is_checked_and_the_call_booked_once() {
        use futures::StreamExt as _;
        let done = || status("t1", TaskState::Completed, Some(serde_json::json!({"ok": 1})));
        // (what the peer streams, what the last item says, the outbound outcome label)
        let cases: Vec<(Vec<Item>, &str, &str)> = vec![
            (vec![Ok(task("t1")), Ok(done()), Ok(task("t1"))], "completed", "ok"),
            (
                vec![Ok(task("t1")), Ok(status("t2", TaskState::Working, None))],
                "on the stream of task",
                "protocol_error",
            ),
            (
                vec![Ok(StreamResponse::Message(Message::agent(vec![Part::text("hi")])))],
                "instead of a task",
                "protocol_error",
            ),
            (vec![Ok(task("t1"))], "ended before", "protocol_error"),
            (
                vec![Ok(task("t1")), Ok(status("t1", TaskState::Completed, None))],
                "no data part",
                "protocol_error",
            ),
            (
                vec![Ok(status("t1", TaskState::InputRequired, None))],
                "INPUT_REQUIRED",
                "task_failed",
            ),
            (vec![Ok(status("t1", TaskState::Canceled, None))], "CANCELED", "task_failed"),
            (
                vec![Err(ClientError::StreamIdle { after: Duration::from_secs(1) })],
                "timed out",
                "timeout",
            ),
            (
                vec![Err(ClientError::MalformedStream { detail: "cut".into() })],
                "cut",
                "protocol_error",
            ),
        ];
        for (items, want, outcome) in cases {
            let (stream, registry) = stream(items);
            let items: Vec<_> = stream.collect().await;
            let last = match items.last() {
                Some(Ok(StreamEvent::Completed(_))) => "completed".to_owned(),
                Some(Err(e)) => e.to_string(),
                other => format!("{other:?}"),
            };
            assert!(last.contains(want), "{want}: {last}");
            // Nothing is read after the last item, and the call is counted once, by outcome.
            let finals = items.iter().filter(|i| !matches!(i, Ok(StreamEvent::Task(_)))).count();
            assert_eq!(finals, 1, "{want}: {items:?}");
            assert_eq!(outcome_count(&registry, outcome), "1", "{want}");
        }
        // A stream dropped before its end is counted as a local failure.
        let (unfinished, registry) = stream(vec![Ok(task("t1"))]);
        drop(unfinished);
        assert_eq!(outcome_count(&registry, "local_error"), "1");
    }
}

//! The callee side after authorization: capability lookup → guard (declared payload types) →
//! handler → result with the verdict and its attestation → task state. Runs as
//! `agentweave-a2a`'s [`AgentExecutor`].
//!
//! Outcomes, as the caller sees them (the task is returned by `SendMessage`):
//!
//! | situation | task state | status message |
//! | --- | --- | --- |
//! | handler returned a value | `COMPLETED` | data part = the value; metadata [`VERDICT_KEY`] when guarded |
//! | guard did not verify the payload | `REJECTED` | text = the reason; metadata [`VERDICT_KEY`] with `reason_code` |
//! | unknown capability, no data part | `REJECTED` | text = the reason |
//! | handler returned an error | `FAILED` | text = the handler's message |
//!
//! A streaming send (`SendStreamingMessage`) runs the same steps; its caller sees the task
//! (`SUBMITTED`), each [`Progress`] report as a `WORKING` update or an artifact, then the row
//! above as the final status update.
//!
//! A guard refusal is a `REJECTED` task rather than a JSON-RPC error because the A2A executor
//! hook cannot answer with a protocol error; the verdict (signed when the guard signs it) travels
//! in the status message, where the caller turns it into `CallError::GuardBlocked`.

use std::collections::HashMap;
use std::sync::Arc;

use agentweave_a2a::server::{
    AgentExecutor, EventSink, ExecutorError, RequestContext as A2aContext,
};
use agentweave_a2a::types::{Message, Part};
use agentweave_guard::Pipeline;
use agentweave_identity::SpiffeId;
use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::audit::{Auditor, FacadeRecord, now_rfc3339};
use super::capability::{Capability, Progress, RequestContext};
use super::guard_stage;
use super::observe::{RequestState, current_request};
use super::wire::{CAPABILITY_KEY, VERDICT_KEY, VerdictSummary, first_data, metadata_str};
use crate::ops::labels::{InboundOutcome, reason_class_index, verdict_index};
use crate::ops::metrics::Metrics;
use crate::ops::trace::TraceContext;

/// The facade's [`AgentExecutor`].
pub(crate) struct PipelineExecutor {
    pub(crate) local_id: SpiffeId,
    pub(crate) capabilities: Arc<HashMap<String, Capability>>,
    pub(crate) guard: Option<Arc<Pipeline>>,
    pub(crate) auditor: Auditor,
    pub(crate) metrics: Arc<Metrics>,
}

impl AgentExecutor for PipelineExecutor {
    fn execute(
        &self,
        ctx: A2aContext,
        sink: EventSink,
    ) -> BoxFuture<'static, Result<(), ExecutorError>> {
        // Called in the inbound request's task (the returned future runs on another one), so
        // the request's trace and metrics state are picked up here.
        let observed = current_request();
        let trace = observed.as_ref().map_or_else(TraceContext::root, |s| s.trace);
        let run = Run {
            local_id: self.local_id.clone(),
            capabilities: self.capabilities.clone(),
            guard: self.guard.clone(),
            auditor: self.auditor.clone(),
            metrics: self.metrics.clone(),
            observed,
            trace,
        };
        let span = tracing::info_span!(
            "agentweave.execute",
            trace_id = %trace.trace_id,
            span_id = %trace.span_id,
        );
        Box::pin(tracing::Instrument::instrument(run.execute(ctx, sink), span))
    }
}

struct Run {
    local_id: SpiffeId,
    capabilities: Arc<HashMap<String, Capability>>,
    guard: Option<Arc<Pipeline>>,
    auditor: Auditor,
    metrics: Arc<Metrics>,
    observed: Option<Arc<RequestState>>,
    trace: TraceContext,
}

fn closed(e: agentweave_a2a::server::SinkClosed) -> ExecutorError {
    ExecutorError(e.to_string())
}

async fn reject(
    sink: &EventSink,
    reason: &str,
    verdict: Option<&VerdictSummary>,
) -> Result<(), ExecutorError> {
    let mut message = sink.agent_message(vec![Part::text(reason)]);
    if let Some(verdict) = verdict {
        message.metadata = Some(verdict_metadata(verdict));
    }
    sink.reject(Some(message)).await.map_err(closed)
}

fn verdict_metadata(verdict: &VerdictSummary) -> Map<String, Value> {
    let mut metadata = Map::new();
    if let Ok(value) = serde_json::to_value(verdict) {
        metadata.insert(VERDICT_KEY.to_owned(), value);
    }
    metadata
}

impl Run {
    /// Notes how the request ends, before the answer is produced (so the inbound metrics of a
    /// blocking send see it).
    fn ended(&self, outcome: InboundOutcome) {
        if let Some(state) = &self.observed {
            state.set_outcome(outcome);
        }
    }

    async fn execute(self, ctx: A2aContext, sink: EventSink) -> Result<(), ExecutorError> {
        // Every early refusal below is a rejection; later outcomes overwrite it.
        self.ended(InboundOutcome::Rejected);
        let Some(caller) = ctx.caller.spiffe_id().cloned() else {
            return reject(&sink, "the caller has no SPIFFE ID", None).await;
        };
        let message: &Message = &ctx.message;
        let trace_id = self.trace.trace_id.to_string();
        let Some(name) = metadata_str(message, CAPABILITY_KEY) else {
            return reject(
                &sink,
                &format!("the message names no capability (metadata key {CAPABILITY_KEY})"),
                None,
            )
            .await;
        };
        let Some(capability) = self.capabilities.get(name) else {
            return reject(&sink, &format!("this agent has no capability {name:?}"), None).await;
        };
        let Some(payload) = first_data(message).cloned() else {
            return reject(&sink, "the message carries no data part (the payload)", None).await;
        };
        let verdict = match capability.payload_type {
            None => None,
            Some(payload_type) => {
                let Some(guard) = self.guard.clone() else {
                    // The builder refuses this combination; fail closed if it ever happens.
                    return reject(&sink, "the guard is not configured", None).await;
                };
                let (caller_id, callee_id, body) =
                    (caller.clone(), self.local_id.clone(), payload.clone());
                // A guard fault fails the task.
                self.ended(InboundOutcome::Failed);
                let verdict = tokio::task::spawn_blocking(move || {
                    guard_stage::check(&guard, &caller_id, &callee_id, payload_type, &body)
                })
                .await
                .map_err(|e| ExecutorError(format!("the guard stopped unexpectedly: {e}")))?
                .map_err(|e| {
                    tracing::error!(error = %e, "guard fault");
                    ExecutorError("the guard could not verify the payload".into())
                })?;
                self.ended(InboundOutcome::Rejected);
                let summary = guard_stage::summary(&verdict, payload_type);
                let allowed = guard_stage::passes(verdict.status);
                self.metrics
                    .guard(verdict_index(verdict.status), reason_class_index(&verdict.reason_code));
                let audited = self
                    .auditor
                    .record(&FacadeRecord {
                        time: now_rfc3339(),
                        event: "guard",
                        caller: caller.as_str(),
                        callee: self.local_id.as_str(),
                        capability: Some(name),
                        a2a_method: None,
                        task_id: Some(&ctx.task_id),
                        trace_id: Some(&trace_id),
                        allowed,
                        reason: verdict.reason.as_deref().unwrap_or(""),
                        verdict: Some(verdict.status.as_str()),
                        reason_code: Some(&verdict.reason_code),
                        audit_trace_id: Some(&verdict.audit_trace_id),
                    })
                    .await;
                if !audited {
                    return reject(&sink, "the guard verdict could not be audited", None).await;
                }
                if !allowed {
                    self.ended(InboundOutcome::GuardBlocked);
                    let reason = verdict.reason.clone().unwrap_or_else(|| {
                        format!("the guard did not verify the payload ({})", verdict.reason_code)
                    });
                    return reject(&sink, &reason, Some(&summary)).await;
                }
                Some(summary)
            }
        };
        let request = RequestContext {
            caller,
            capability: name.to_owned(),
            task_id: ctx.task_id.clone(),
            context_id: ctx.context_id.clone(),
            payload,
            trace_id,
            trace: self.trace,
            progress: Progress::new(sink.clone()),
        };
        let handled = self.trace.scope((capability.handler)(request)).await;
        self.ended(if handled.is_ok() {
            InboundOutcome::Completed
        } else {
            InboundOutcome::Failed
        });
        match handled {
            Ok(value) => {
                let mut reply = sink.agent_message(vec![Part::data(value)]);
                if let Some(verdict) = &verdict {
                    reply.metadata = Some(verdict_metadata(verdict));
                }
                sink.complete(Some(reply)).await.map_err(closed)
            }
            Err(error) => {
                let reply = sink.agent_message(vec![Part::text(error.0)]);
                sink.fail(Some(reply)).await.map_err(closed)
            }
        }
    }
}

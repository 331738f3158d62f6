//! Operations: what an operator needs to run an agent.
//!
//! * Metrics: a registry per agent, recorded at each pipeline step with pre-resolved handles,
//!   served at `/metrics` in the OpenMetrics text format (also `SecureAgent::metrics_text`).
//!   Label values come from closed sets only (A2A method names, outcomes, verdicts, reason
//!   classes, configured peers): nothing a peer sends becomes a label.
//!
//!   | metric | type | labels |
//!   | --- | --- | --- |
//!   | `agentweave_inbound_requests_total` | counter | `method`, `outcome` |
//!   | `agentweave_inbound_request_duration_seconds` | histogram | `method` |
//!   | `agentweave_policy_decisions_total` | counter | `direction`, `decision` |
//!   | `agentweave_policy_faults_total` | counter | `direction` |
//!   | `agentweave_task_ownership_refusals_total` | counter | |
//!   | `agentweave_guard_verdicts_total` | counter | `verdict`, `reason_class` |
//!   | `agentweave_outbound_calls_total` | counter | `outcome` |
//!   | `agentweave_outbound_call_duration_seconds` | histogram | `result` |
//!   | `agentweave_server_tls_handshakes_total` | counter | `result` |
//!   | `agentweave_client_tls_handshakes_total` | counter | `result` |
//!   | `agentweave_transport_requests_total`, `_retries_total`, `_circuit_rejections_total` | counter | |
//!   | `agentweave_pool_connections_opened_total` | counter | |
//!   | `agentweave_pool_idle_connections` | gauge | `peer` |
//!   | `agentweave_circuit_breaker_state` | gauge | `peer` (0 closed, 1 half-open, 2 open) |
//!   | `agentweave_ready` | gauge | |
//!
//! * Health: `/health/live` and `/health/ready` ([`Readiness`]; the rules are in [`health`]).
//! * The ops server: a separate plain-TCP port serving only those three paths
//!   (`SecureAgentBuilder::operations_listen`); every other path is 404.
//! * Trace context: [`trace`] (W3C `traceparent` across agent calls).
//! * With the `otlp` feature, `otlp::install` (or `otlp::layer`) exports spans to an
//!   OpenTelemetry collector over OTLP/HTTP.

pub(crate) mod collector;
pub mod health;
pub(crate) mod labels;
pub(crate) mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
pub(crate) mod server;
pub mod trace;

/// Without the `otlp` feature there is no OpenTelemetry layer to parent spans for.
#[cfg(not(feature = "otlp"))]
pub(crate) mod otlp {
    /// Does nothing (the `otlp` feature is off).
    pub(crate) fn adopt(_span: &tracing::Span, _trace: &super::trace::TraceContext) {}
}

pub use health::{Check, Readiness};
pub use server::METRICS_CONTENT_TYPE;
pub use trace::{SpanId, TraceContext, TraceId, TraceParent};

//! Errors of building and starting an agent, and the typed outcome of a failed call.

use std::time::Duration;

use agentweave_identity::SpiffeId;

/// Why an agent could not be built or started. Every variant names what was wrong.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A required part was not given to the builder.
    #[error("the agent cannot start without {0}")]
    Missing(&'static str),
    /// The identity provider's SVID names another workload.
    #[error("identity mismatch: the SVID names {actual}, the agent is configured as {expected}")]
    IdentityMismatch {
        /// The configured SPIFFE ID.
        expected: SpiffeId,
        /// The SVID's SPIFFE ID.
        actual: SpiffeId,
    },
    /// The SVID is outside its validity window.
    #[error("the SVID of {0} is expired or not yet valid")]
    SvidNotValid(SpiffeId),
    /// The policy enforcer decides for another agent.
    #[error("the policy enforcer is built for {actual}, the agent is {expected}")]
    PolicyMismatch {
        /// The configured SPIFFE ID.
        expected: SpiffeId,
        /// The enforcer's local ID.
        actual: SpiffeId,
    },
    /// Two capabilities share a name, or a name is empty.
    #[error("invalid capability {name:?}: {reason}")]
    Capability {
        /// The name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The guard could not be set up, or a capability needs a guard the agent does not have.
    #[error("guard: {0}")]
    Guard(String),
    /// An identity provider failed.
    #[error("identity: {0}")]
    Identity(#[from] agentweave_identity::IdentityError),
    /// A policy engine or the audit log failed to start.
    #[error("authorization: {0}")]
    Authz(#[from] agentweave_authz::AuthzError),
    /// The listener or the client could not be set up.
    #[error("transport: {0}")]
    Transport(#[from] agentweave_transport::TransportError),
    /// The A2A server could not be built.
    #[error("A2A server: {0}")]
    A2a(String),
    /// The ops port (health and metrics) could not be bound.
    #[error("cannot bind the operations port {addr}: {source}")]
    Operations {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A configuration value cannot be used (`key` is its path in the config file).
    #[error("config key {key}: {message}")]
    Config {
        /// The key path.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Why a call did not produce a result. Refusals (policy, guard) are variants like the faults,
/// so a caller handles every outcome in one `match`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Our own outbound policy refused the call; nothing was sent.
    #[error("outbound call to {target} denied by policy: {reason}")]
    Denied {
        /// The target.
        target: SpiffeId,
        /// The policy's reason.
        reason: String,
    },
    /// The target's policy refused the call (A2A PermissionDenied).
    #[error("{target} refused the call: {message}")]
    RemoteDenied {
        /// The target.
        target: SpiffeId,
        /// The target's message.
        message: String,
    },
    /// The target's guard refused the payload; the handler did not run.
    #[error("{target} guard blocked the payload ({reason_code})")]
    GuardBlocked {
        /// The target.
        target: SpiffeId,
        /// The verdict's machine-readable reason, e.g. `finance.mismatch`.
        reason_code: String,
        /// The verdict, including its attestation when signed.
        verdict: Box<crate::agent::VerdictSummary>,
    },
    /// No endpoint is known for the target (not in the peer map).
    #[error("no endpoint is known for {0}")]
    UnknownPeer(SpiffeId),
    /// The target could not be reached (refused connection, lost connection, pool exhausted).
    #[error("{target} is unreachable: {detail}")]
    Unreachable {
        /// The target.
        target: SpiffeId,
        /// What failed.
        detail: String,
    },
    /// The target did not prove the expected identity (or refused ours) in the TLS handshake.
    #[error("TLS handshake with {target} refused: {detail}")]
    Handshake {
        /// The target.
        target: SpiffeId,
        /// The rule that failed.
        detail: String,
    },
    /// The target's circuit breaker is open: the call failed at once, without network traffic.
    #[error("circuit open for {target}; next probe in {retry_after:?}")]
    CircuitOpen {
        /// The target.
        target: SpiffeId,
        /// Time until a probe is let through.
        retry_after: Duration,
    },
    /// Connecting or waiting for the answer took too long.
    #[error("call to {target} timed out: {detail}")]
    Timeout {
        /// The target.
        target: SpiffeId,
        /// Which bound was hit.
        detail: String,
    },
    /// The target answered with an A2A / JSON-RPC error.
    #[error("{target} answered error {code}: {message}")]
    Remote {
        /// The target.
        target: SpiffeId,
        /// The JSON-RPC error code.
        code: i64,
        /// The error message.
        message: String,
    },
    /// The target accepted the call but the task ended without a result.
    #[error("{target} task {task_id} ended {state}: {message}")]
    TaskFailed {
        /// The target.
        target: SpiffeId,
        /// The task.
        task_id: String,
        /// The final state (`TASK_STATE_FAILED`, `TASK_STATE_REJECTED`, …).
        state: String,
        /// The agent's message.
        message: String,
    },
    /// The answer is not what an AgentWeave agent sends.
    #[error("invalid answer from {target}: {detail}")]
    Protocol {
        /// The target.
        target: SpiffeId,
        /// What was wrong.
        detail: String,
    },
    /// A local fault (the transport could not be used, the result could not be decoded).
    #[error("call to {target} failed locally: {detail}")]
    Local {
        /// The target.
        target: SpiffeId,
        /// What failed.
        detail: String,
    },
}

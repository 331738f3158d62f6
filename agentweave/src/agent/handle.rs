//! [`AgentHandle`]: a weak reference to a running agent, so that a handler can call other agents
//! through the agent that runs it (the `forward` handler), without keeping the agent alive.

use std::sync::{Arc, Weak};

use agentweave_identity::SpiffeId;
use serde_json::Value;

use super::call::CallOutcome;
use super::call_stream::CallStream;
use super::error::CallError;
use super::secure_agent::{Inner, SecureAgent};

/// A handle on a running [`SecureAgent`] for outbound calls. It is weak: once the agent is
/// stopped, calls fail with [`CallError::Local`] instead of reviving it. Cheap to clone.
#[derive(Clone)]
pub struct AgentHandle {
    inner: Weak<Inner>,
}

impl std::fmt::Debug for AgentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running = self.inner.strong_count() > 0;
        f.debug_struct("AgentHandle").field("running", &running).finish()
    }
}

impl SecureAgent {
    /// A weak handle for calling out from inside this agent's own handlers.
    pub fn handle(&self) -> AgentHandle {
        AgentHandle { inner: Arc::downgrade(&self.inner) }
    }
}

impl AgentHandle {
    /// [`SecureAgent::call`] on the agent, with the same outbound policy, transport and typed
    /// result.
    pub async fn call(
        &self,
        target: &SpiffeId,
        capability: &str,
        payload: Value,
    ) -> Result<CallOutcome, CallError> {
        let Some(inner) = self.inner.upgrade() else {
            return Err(CallError::Local {
                target: target.clone(),
                detail: "the calling agent has stopped".into(),
            });
        };
        SecureAgent::view(inner).call(target, capability, payload).await
    }

    /// [`SecureAgent::call_stream`] on the agent, with the same outbound policy, transport and
    /// typed events.
    pub async fn call_stream(
        &self,
        target: &SpiffeId,
        capability: &str,
        payload: Value,
    ) -> Result<CallStream, CallError> {
        let Some(inner) = self.inner.upgrade() else {
            return Err(CallError::Local {
                target: target.clone(),
                detail: "the calling agent has stopped".into(),
            });
        };
        SecureAgent::view(inner).call_stream(target, capability, payload).await
    }
}

//! `kind: forward`: calls a capability of another agent through the agent that runs this
//! handler, so the forwarded call gets the same outbound policy check, mTLS pinned to the target
//! identity, and typed errors as any other call.

use agentweave_identity::SpiffeId;

use super::AgentSlot;
use crate::agent::{CallError, Capability, HandlerError};

/// A capability `name` that forwards its payload to `capability` on `target` and answers with
/// the target's output.
///
/// The caller of this agent learns why a forward failed in outline (refused, blocked,
/// unreachable), not the downstream policy's reasons: those are logged here instead.
pub fn capability(name: &str, slot: AgentSlot, target: SpiffeId, capability: String) -> Capability {
    Capability::new(name, move |ctx| {
        let slot = slot.clone();
        let target = target.clone();
        let capability = capability.clone();
        async move {
            let Some(agent) = slot.handle() else {
                return Err(HandlerError::new("the agent is not started yet"));
            };
            match agent.call(&target, &capability, ctx.payload).await {
                Ok(outcome) => Ok(outcome.output),
                Err(error) => {
                    tracing::warn!(%target, capability, %error, "forwarded call failed");
                    Err(HandlerError::new(describe(&target, &error)))
                }
            }
        }
    })
}

/// What the original caller is told about a failed forward.
fn describe(target: &SpiffeId, error: &CallError) -> String {
    match error {
        CallError::Denied { .. } => format!("forwarding to {target} is not allowed by policy"),
        CallError::RemoteDenied { .. } => format!("{target} refused the forwarded call"),
        CallError::GuardBlocked { reason_code, .. } => {
            format!("{target} guard blocked the forwarded payload ({reason_code})")
        }
        CallError::CircuitOpen { .. } => format!("{target} is unavailable (circuit open)"),
        CallError::Timeout { .. } => format!("the forwarded call to {target} timed out"),
        CallError::Unreachable { .. } | CallError::Handshake { .. } => {
            format!("{target} is unreachable")
        }
        _ => format!("the forwarded call to {target} failed"),
    }
}

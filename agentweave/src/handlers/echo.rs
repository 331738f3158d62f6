//! `kind: echo`: answers what it was sent and who sent it. A smoke test of the whole pipeline
//! (identity, policy, guard, attestation, audit) that needs no business code.

use serde_json::json;

use crate::agent::{Capability, HandlerError};

/// A capability `name` answering `{"capability": name, "caller": SPIFFE ID, "input": payload}`.
pub fn capability(name: &str) -> Capability {
    Capability::new(name, |ctx| async move {
        Ok::<_, HandlerError>(json!({
            "capability": ctx.capability,
            "caller": ctx.caller.as_str(),
            "input": ctx.payload,
        }))
    })
}

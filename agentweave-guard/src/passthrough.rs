//! The passthrough engine: for payload types nothing can verify.

use agentweave_attest::json::Object;

use crate::engine::{EngineError, EngineOutcome, EngineStatus, GuardEngine};

/// Reports every payload as unverifiable (never signed), exactly as the reference.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassthroughEngine;

impl GuardEngine for PassthroughEngine {
    fn name(&self) -> &'static str {
        "passthrough"
    }

    fn evaluate(&self, _payload: &Object<'_>) -> Result<EngineOutcome, EngineError> {
        Ok(EngineOutcome::new(
            EngineStatus::Unverifiable,
            "passthrough.unverifiable",
            Some("No verification engine available for this payload type".into()),
        ))
    }
}

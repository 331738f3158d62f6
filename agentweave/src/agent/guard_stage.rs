//! The guard stage: a capability's payload, as an `AgentMessage` from the caller to us, through
//! the guard pipeline, with the verdict audited.

use std::sync::Arc;

use agentweave_attest::{Attestor, AttestorConfig, Es256Attestor, SigningKey};
use agentweave_guard::{
    GuardError, PayloadType, Pipeline, PipelineConfig, TrustBoundary, TrustConfig, VerdictStatus,
    VerificationVerdict,
};
use agentweave_identity::SpiffeId;
use serde_json::Value;

use super::error::AgentError;
use super::wire::VerdictSummary;

/// Per sender and receiver pair, messages a minute the guard's own rate limit lets through.
/// Callers are already authenticated by mTLS and allowed by policy before the guard runs, so this
/// limit only bounds how much signing work one peer can cause; it is far above normal traffic.
pub const GUARD_RATE_PER_MINUTE: u32 = 600_000;

/// A guard pipeline for an agent: an ES256 attestor whose issuer is the agent's SPIFFE ID (so a
/// caller knows whose JWKS verifies it), a trust boundary that admits any sender (mTLS and policy
/// already decided who may call) with [`GUARD_RATE_PER_MINUTE`], and `config`.
///
/// `key` signs attestations; `None` generates one (its public key is published in the agent
/// card, and attestations then do not outlive the process).
pub fn agent_guard(
    local_id: &SpiffeId,
    config: PipelineConfig,
    key: Option<SigningKey>,
) -> Result<Arc<Pipeline>, AgentError> {
    let issuer = local_id.to_string();
    let key = match key {
        Some(key) => key,
        None => SigningKey::generate(&issuer)
            .map_err(|e| AgentError::Guard(format!("cannot generate the attestation key: {e}")))?,
    };
    let attestor: Arc<dyn Attestor> = Arc::new(
        Es256Attestor::new(AttestorConfig { issuer, ..AttestorConfig::default() }, key)
            .map_err(|e| AgentError::Guard(format!("cannot build the attestor: {e}")))?,
    );
    let trust = Arc::new(TrustBoundary::new(TrustConfig {
        default_allow: true,
        max_requests_per_minute: GUARD_RATE_PER_MINUTE,
        ..TrustConfig::default()
    }));
    Pipeline::new(config, trust, attestor)
        .map(Arc::new)
        .map_err(|e| AgentError::Guard(format!("cannot build the guard pipeline: {e}")))
}

/// Runs the guard on `payload` sent by `caller` to `callee`.
pub(crate) fn check(
    pipeline: &Pipeline,
    caller: &SpiffeId,
    callee: &SpiffeId,
    payload_type: PayloadType,
    payload: &Value,
) -> Result<VerificationVerdict, GuardError> {
    let message = serde_json::json!({
        "sender_agent_id": caller.as_str(),
        "receiver_agent_id": callee.as_str(),
        "payload_type": payload_type.as_str(),
        "payload": payload,
    });
    // Serializing a `Value` cannot fail (string keys only); an empty body would be rejected.
    let body = serde_json::to_vec(&message).unwrap_or_default();
    pipeline.intercept_json(&body)
}

/// Whether a verdict lets the handler run: only content that was checked and found correct.
pub(crate) fn passes(status: VerdictStatus) -> bool {
    matches!(status, VerdictStatus::Forwarded | VerdictStatus::HeuristicPass)
}

/// The summary sent back to the caller.
pub(crate) fn summary(verdict: &VerificationVerdict, payload_type: PayloadType) -> VerdictSummary {
    VerdictSummary {
        status: verdict.status.as_str().to_owned(),
        reason_code: verdict.reason_code.clone(),
        reason: verdict.reason.clone(),
        audit_trace_id: verdict.audit_trace_id.clone(),
        engine: verdict.engine_used.clone(),
        payload_type: payload_type.as_str().to_owned(),
        attestation: verdict.attestation_jwt.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finance_payloads_pass_or_block_with_signed_verdicts() {
        let me = SpiffeId::parse("spiffe://t.org/agent/payments").unwrap();
        let caller = SpiffeId::parse("spiffe://t.org/agent/orchestrator").unwrap();
        let guard = agent_guard(&me, PipelineConfig::default(), None).unwrap();
        let good = serde_json::json!({"data": {"claimed_total": 300, "line_items": [{"amount": 100}, {"amount": 200}]}});
        let bad =
            serde_json::json!({"data": {"claimed_total": 999.99, "line_items": [{"amount": 150}]}});
        let not_object = serde_json::json!([1, 2]);
        let cases = [
            (&good, VerdictStatus::Forwarded, "finance.verified", true),
            (&bad, VerdictStatus::Blocked, "finance.mismatch", true),
            (&not_object, VerdictStatus::Rejected, "schema.payload", false),
        ];
        for (payload, status, code, signed) in cases {
            let v =
                check(&guard, &caller, &me, PayloadType::FinancialTransaction, payload).unwrap();
            assert_eq!(v.status, status, "{payload}");
            assert_eq!(v.reason_code, code, "{payload}");
            assert_eq!(v.attestation_jwt.is_some(), signed, "{payload}");
            assert_eq!(passes(v.status), status == VerdictStatus::Forwarded);
        }
        assert_eq!(guard.attestor().issuer(), me.as_str());
    }
}

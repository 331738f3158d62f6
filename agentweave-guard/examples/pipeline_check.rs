//! Checks a few messages through the guard pipeline and prints the verdicts.
//!
//! Run: `cargo run -p agentweave-guard --example pipeline_check`

use std::sync::Arc;

use agentweave_attest::{Attestor, AttestorConfig, Es256Attestor, SigningKey};
use agentweave_guard::{Pipeline, PipelineConfig, TrustBoundary, TrustConfig, TrustEntry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = AttestorConfig::default();
    let attestor =
        Arc::new(Es256Attestor::new(config.clone(), SigningKey::generate(&config.issuer)?)?);
    let trust = Arc::new(TrustBoundary::new(TrustConfig::default()));
    trust.trust_agent(TrustEntry::new("procurement-agent"))?;
    trust.block_agent("rogue-agent")?;
    let pipeline =
        Pipeline::new(PipelineConfig::default(), trust, attestor.clone() as Arc<dyn Attestor>)?;

    let messages = [
        (
            "correct total",
            "procurement-agent",
            "financial_transaction",
            r#"{"data": {"claimed_total": "150.00", "line_items": [{"amount": "100.00"}, {"amount": "25.00", "quantity": 2}]}}"#,
        ),
        (
            "hallucinated total",
            "procurement-agent",
            "financial_transaction",
            r#"{"data": {"claimed_total": 999.99, "line_items": [{"amount": 150}]}}"#,
        ),
        (
            "contradiction",
            "procurement-agent",
            "logic_assertion",
            r#"{"assertions": [{"claim": "budget_approved"}, {"claim": "budget_approved is false"}]}"#,
        ),
        (
            "dangerous code",
            "procurement-agent",
            "code_execution",
            r#"{"code": "import os\nos.system('id')"}"#,
        ),
        ("blocked sender (case variant)", "Rogue-Agent", "general", r#"{"note": "hi"}"#),
        ("general payload", "procurement-agent", "general", r#"{"note": "hi"}"#),
    ];
    for (what, sender, payload_type, payload) in messages {
        let body = format!(
            r#"{{"sender_agent_id": "{sender}", "receiver_agent_id": "treasury-agent", "payload_type": "{payload_type}", "payload": {payload}}}"#
        );
        let v = pipeline.intercept_json(body.as_bytes())?;
        println!(
            "{what:<32} {:<14} {:<16} {:<26} signed={}",
            v.status.as_str(),
            v.engine_used.as_deref().unwrap_or("-"),
            v.reason_code,
            v.attestation_jwt.is_some()
        );
    }
    println!("JWKS: {}", serde_json::to_string(&attestor.jwks())?);
    Ok(())
}

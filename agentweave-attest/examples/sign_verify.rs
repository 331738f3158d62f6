//! Generate a key, sign a verdict, publish the JWKS, verify the token, and show that a
//! replay and a detached payload are refused.
//!
//! Run: `cargo run -p agentweave-attest --example sign_verify`

use agentweave_attest::json::{ParseOptions, parse};
use agentweave_attest::{
    Attestor, AttestorConfig, Canonicalization, Es256Attestor, Expected, SigningKey, Subject,
    Verifier, VerifierConfig,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config =
        AttestorConfig { canonicalization: Canonicalization::Jcs, ..AttestorConfig::default() };
    let key = SigningKey::generate(&config.issuer)?;
    println!("key id: {}", key.kid());
    let attestor = Es256Attestor::new(config, key)?;

    let payload = parse(r#"{"data": {"claimed_total": "150.00"}}"#, ParseOptions::default())?;
    let attestation = attestor.attest(&Subject {
        payload: &payload,
        verdict: "forwarded",
        engine: "finance_guard",
        sender: "procurement-agent",
        receiver: "treasury-agent",
        payload_type: "financial_transaction",
        message_timestamp: None,
        session_id: None,
        trace_id: "a2a_example",
    })?;
    println!("sub: {}", attestation.payload_hash);
    println!("token: {}", attestation.token);
    println!("jwks: {}", serde_json::to_string(&attestor.jwks())?);

    let mut verifier = Verifier::new(VerifierConfig::default());
    verifier.trust_jwks(attestor.issuer(), None, &attestor.jwks())?;
    let expected = Expected {
        sender: "procurement-agent",
        receiver: "treasury-agent",
        payload: &payload,
        payload_type: Some("financial_transaction"),
        session_id: None,
    };
    let claims = verifier.verify(&attestation.token, &expected)?;
    println!("verified: verdict={} engine={}", claims.qwed_a2a.verdict, claims.qwed_a2a.engine);
    match verifier.verify(&attestation.token, &expected) {
        Err(e) => println!("second use refused: {e}"),
        Ok(_) => return Err("replay was accepted".into()),
    }
    let other = parse(r#"{"data": {"claimed_total": "999.99"}}"#, ParseOptions::default())?;
    let detached = Expected { payload: &other, ..expected };
    match verifier.verify(&attestation.token, &detached) {
        Err(e) => println!("other payload refused: {e}"),
        Ok(_) => return Err("detached attestation was accepted".into()),
    }
    Ok(())
}

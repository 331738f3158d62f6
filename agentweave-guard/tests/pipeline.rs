//! Pipeline behaviour beyond the corpus: every stricter rule with its attack refused.

use std::sync::Arc;

use agentweave_attest::json::{ParseOptions, parse};
use agentweave_attest::{
    Attestor, AttestorConfig, Canonicalization, Es256Attestor, Expected, SigningKey, Verifier,
    VerifierConfig,
};
use agentweave_guard::{
    GuardError, InterceptorConfig, Pipeline, PipelineConfig, RejectionSigning, TrustBoundary,
    TrustConfig, TrustEntry, VerdictStatus,
};

fn attestor(canon: Canonicalization) -> Arc<Es256Attestor> {
    let config = AttestorConfig { canonicalization: canon, ..AttestorConfig::default() };
    Arc::new(
        Es256Attestor::new(config.clone(), SigningKey::generate(&config.issuer).unwrap()).unwrap(),
    )
}

fn pipeline_with(
    config: PipelineConfig,
    canon: Canonicalization,
) -> (Pipeline, Arc<Es256Attestor>) {
    let trust = Arc::new(TrustBoundary::new(TrustConfig::default()));
    trust.trust_agent(TrustEntry::new("procurement-agent")).unwrap();
    let a = attestor(canon);
    (Pipeline::new(config, trust, a.clone() as Arc<dyn Attestor>).unwrap(), a)
}

fn pipeline() -> Pipeline {
    pipeline_with(PipelineConfig::default(), Canonicalization::Jcs).0
}

fn msg(payload_type: &str, payload: &str) -> String {
    format!(
        r#"{{"sender_agent_id": "procurement-agent", "receiver_agent_id": "treasury-agent", "payload_type": "{payload_type}", "payload": {payload}}}"#
    )
}

#[test]
fn schema_rejections() {
    let p = pipeline();
    let big = format!(r#"{{"blob": "{}"}}"#, "A".repeat(1 << 20));
    let deep = format!(r#"{{"x": {}1{}}}"#, "[".repeat(1100), "]".repeat(1100));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cases: Vec<(String, &str)> = vec![
        (msg("financial_transaction", r#"{"data": {"claimed_total": 999, "claimed_total": 150, "line_items": [{"amount": 150}]}}"#), "schema.payload"),
        (r#"{"sender_agent_id": "a", "sender_agent_id": "procurement-agent", "receiver_agent_id": "t", "payload": {}}"#.into(), "schema.<root>"),
        (msg("general", &big), "schema.<root>"),
        (msg("general", &deep), "schema.<root>"),
        (msg("general", "[1]"), "schema.payload"),
        (msg("General", "{}"), "schema.payload_type"),
        (msg("general", "{}").replace("procurement-agent", "procurement\u{200b}-agent"), "schema.sender_agent_id"),
        (msg("general", "{}").replace("treasury-agent", "   "), "schema.receiver_agent_id"),
        (msg("general", "{}").replace("treasury-agent", "treasury\u{202e}"), "schema.receiver_agent_id"),
        (msg("general", r#"{"x": 1}, "timestamp": 0"#), "schema.timestamp"),
        (msg("general", &format!(r#"{{"x": 1}}, "timestamp": {}"#, now + 3600)), "schema.timestamp"),
        (msg("general", &format!(r#"{{"x": 1}}, "timestamp": {now}"#)), "passthrough.unverifiable"),
        ("[1]".into(), "schema.<root>"),
        ("{".into(), "schema.<root>"),
    ];
    for (body, want) in cases {
        let v = p.intercept_json(body.as_bytes()).unwrap();
        assert_eq!(v.reason_code, want, "{}", &body[..body.len().min(200)]);
        if want.starts_with("schema.") {
            assert_eq!(v.status, VerdictStatus::Rejected);
            assert!(v.attestation_jwt.is_none());
            assert!(v.engine_used.is_none());
        }
    }
}

#[test]
fn signed_verdicts_verify_and_bind_the_message() {
    let (p, a) = pipeline_with(PipelineConfig::default(), Canonicalization::Jcs);
    let payload_text = r#"{"data": {"claimed_total": "150.00", "line_items": [{"amount": "100"}, {"amount": "50"}]}}"#;
    let v = p.intercept_json(msg("financial_transaction", payload_text).as_bytes()).unwrap();
    assert_eq!(v.status, VerdictStatus::Forwarded);
    let token = v.attestation_jwt.unwrap();
    let mut verifier = Verifier::new(VerifierConfig::default());
    verifier.trust_jwks(a.issuer(), None, &a.jwks()).unwrap();
    let payload = parse(payload_text, ParseOptions::default()).unwrap();
    let mut e = Expected {
        sender: "procurement-agent",
        receiver: "treasury-agent",
        payload: &payload,
        payload_type: Some("general"),
        session_id: None,
    };
    // Same bytes under another payload type: refused (the reference binds no type).
    assert!(verifier.verify(&token, &e).is_err());
    e.payload_type = Some("financial_transaction");
    let claims = verifier.verify(&token, &e).unwrap();
    assert_eq!(claims.jti, v.audit_trace_id);
    assert_eq!(claims.qwed_a2a.verdict, "forwarded");
    assert_eq!(claims.qwed_a2a.engine, "finance_guard");
}

#[test]
fn untrusted_flood_does_not_cost_a_signature_each() {
    let config = PipelineConfig {
        rejection_signing: RejectionSigning::Budget { burst: 5, per_second: 0 },
        ..PipelineConfig::default()
    };
    let (p, _) = pipeline_with(config, Canonicalization::Jcs);
    let body = msg("general", "{}").replace("procurement-agent", "stranger");
    let signed = (0..50)
        .map(|_| p.intercept_json(body.as_bytes()).unwrap())
        .inspect(|v| {
            assert_eq!(v.status, VerdictStatus::Blocked);
            assert_eq!(v.reason_code, "trust.not_allowlisted");
        })
        .filter(|v| v.attestation_jwt.is_some())
        .count();
    assert_eq!(signed, 5);
    let config =
        PipelineConfig { rejection_signing: RejectionSigning::Never, ..PipelineConfig::default() };
    let (p, _) = pipeline_with(config, Canonicalization::Jcs);
    assert!(p.intercept_json(body.as_bytes()).unwrap().attestation_jwt.is_none());
    // Trust state does not grow with the flood.
    assert_eq!(p.trust().bucket_count(), 0);
}

#[test]
fn engine_errors_never_sign_a_pass() {
    let bodies = [
        msg("code_execution", r#"{"code": 123}"#),
        msg(
            "financial_transaction",
            r#"{"data": {"claimed_total": 1, "line_items": [{"amount": "1e999999", "quantity": 10}]}}"#,
        ),
    ];
    for block_on_error in [true, false] {
        let config = PipelineConfig {
            interceptor: InterceptorConfig { block_on_error, ..InterceptorConfig::default() },
            ..PipelineConfig::default()
        };
        let (p, _) = pipeline_with(config, Canonicalization::Jcs);
        for b in &bodies {
            let v = p.intercept_json(b.as_bytes()).unwrap();
            assert_eq!(v.reason_code, "engine_error");
            assert_eq!(v.engine_used.as_deref(), Some("error_handler"));
            if block_on_error {
                assert_eq!(v.status, VerdictStatus::Blocked);
                assert!(v.attestation_jwt.is_some());
            } else {
                assert_eq!(v.status, VerdictStatus::Unverifiable);
                assert!(v.attestation_jwt.is_none());
            }
        }
    }
}

#[test]
fn supplied_trace_id_cannot_be_reused_for_a_signature() {
    let p = pipeline();
    let signed = msg(
        "financial_transaction",
        r#"{"data": {"claimed_total": 1, "line_items": [{"amount": 1}]}}"#,
    );
    let unsigned = msg("general", "{}");
    // Unsigned verdicts do not consume the id.
    p.intercept_json_with_trace_id(unsigned.as_bytes(), "t-1").unwrap();
    p.intercept_json_with_trace_id(unsigned.as_bytes(), "t-1").unwrap();
    p.intercept_json_with_trace_id(signed.as_bytes(), "t-1").unwrap();
    assert!(matches!(
        p.intercept_json_with_trace_id(signed.as_bytes(), "t-1"),
        Err(GuardError::DuplicateTraceId(_))
    ));
}

#[test]
fn non_finite_payload_is_never_signed_under_jcs() {
    let p = pipeline();
    // Accepted by the reader (Python peers send it), refused by finance, never signed.
    let v = p
        .intercept_json(
            msg(
                "financial_transaction",
                r#"{"data": {"claimed_total": 1, "line_items": [{"amount": NaN}]}}"#,
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(v.reason_code, "finance.line_item_nonfinite");
    assert!(v.attestation_jwt.is_none());
    // A signed verdict over a payload RFC 8785 cannot express fails closed.
    let r = p.intercept_json(msg("code_execution", r#"{"code": null, "x": Infinity}"#).as_bytes());
    assert!(matches!(r, Err(GuardError::Attestation(_))));
    // With the strict reader setting it is a schema rejection.
    let mut config = PipelineConfig::default();
    config.schema.accept_non_finite_tokens = false;
    let (p, _) = pipeline_with(config, Canonicalization::Jcs);
    let v = p.intercept_json(msg("general", r#"{"x": NaN}"#).as_bytes()).unwrap();
    assert_eq!(v.status, VerdictStatus::Rejected);
}

#[test]
fn disabled_engines_fall_back_to_passthrough() {
    let config = PipelineConfig {
        interceptor: InterceptorConfig {
            enable_financial_verification: false,
            enable_logic_verification: false,
            enable_code_verification: false,
            block_on_error: true,
        },
        ..PipelineConfig::default()
    };
    let (p, _) = pipeline_with(config, Canonicalization::Jcs);
    for (t, payload) in [
        ("financial_transaction", r#"{"data": {}}"#),
        ("logic_assertion", r#"{"assertions": []}"#),
        ("code_execution", r#"{"code": "eval('1')"}"#),
    ] {
        let v = p.intercept_json(msg(t, payload).as_bytes()).unwrap();
        assert_eq!(v.engine_used.as_deref(), Some("passthrough"), "{t}");
        assert_eq!(v.status, VerdictStatus::Unverifiable);
        assert!(v.attestation_jwt.is_none());
    }
}

#[test]
fn verdict_json_keeps_reference_field_names() {
    let v = pipeline().intercept_json(msg("general", "{}").as_bytes()).unwrap();
    let j = serde_json::to_value(&v).unwrap();
    for k in [
        "status",
        "reason",
        "audit_trace_id",
        "attestation_jwt",
        "engine_used",
        "verified_at",
        "details",
        "reason_code",
    ] {
        assert!(j.get(k).is_some(), "{k}");
    }
    assert_eq!(j["status"], "unverifiable");
    assert!(j["audit_trace_id"].as_str().unwrap().starts_with("a2a_"));
}

/// Trace ids are `a2a_`, a per-pipeline 64-bit prefix and a counter, each as 16
/// lowercase hex digits.
#[test]
fn trace_ids_are_prefix_and_counter_in_hex() {
    let p = pipeline();
    let (a, b) = (p.new_trace_id(), p.new_trace_id());
    for id in [&a, &b] {
        assert_eq!(id.len(), 36, "{id}");
        assert!(id.starts_with("a2a_"), "{id}");
        assert!(id[4..].bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{id}");
    }
    assert_eq!(a[4..20], b[4..20]);
    let counter = |id: &str| u64::from_str_radix(&id[20..], 16).unwrap();
    assert_eq!(counter(&b), counter(&a) + 1);
    assert_eq!(format!("a2a_{}{:016x}", &a[4..20], counter(&a)), a);
}

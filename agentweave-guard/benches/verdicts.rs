//! Verdicts per second for each engine, signing included, beside a bare ring ES256
//! signature measured in the same run (the floor any signed verdict pays).
//!
//! Targets (issue 5): a signed finance verdict of 10 line items at ≥ 85% of the bare-sign
//! rate; passthrough above one million verdicts a second.

use std::hint::black_box;
use std::sync::Arc;

use agentweave_attest::{Attestor, AttestorConfig, Es256Attestor, SigningKey};
use agentweave_guard::{
    Pipeline, PipelineConfig, TrustBoundary, TrustConfig, TrustEntry, parse_message,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

fn body(payload_type: &str, payload: &str) -> Vec<u8> {
    format!(
        r#"{{"sender_agent_id": "procurement-agent", "receiver_agent_id": "treasury-agent", "payload_type": "{payload_type}", "payload": {payload}}}"#
    )
    .into_bytes()
}

fn finance_10() -> String {
    let items: Vec<String> = (1..=10)
        .map(|i| format!(r#"{{"description": "item {i}", "amount": "{i}.25", "quantity": {i}}}"#))
        .collect();
    // Σ i·(i + 0.25) for i = 1..10 = 385 + 13.75
    format!(
        r#"{{"data": {{"claimed_total": "398.75", "currency": "USD", "line_items": [{}]}}}}"#,
        items.join(", ")
    )
}

fn bench(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
    let config = AttestorConfig::default();
    let key = SigningKey::from_pkcs8_der(doc.as_ref(), &config.issuer).unwrap();
    let attestor: Arc<dyn Attestor> = Arc::new(Es256Attestor::new(config, key).unwrap());
    let trust = Arc::new(TrustBoundary::new(TrustConfig {
        max_requests_per_minute: u32::MAX,
        ..TrustConfig::default()
    }));
    trust.trust_agent(TrustEntry::new("procurement-agent")).unwrap();
    let pipeline = Pipeline::new(PipelineConfig::default(), trust, attestor).unwrap();

    let cases = [
        ("finance_10_items_signed", body("financial_transaction", &finance_10())),
        (
            "logic_signed",
            body(
                "logic_assertion",
                r#"{"assertions": [{"claim": "budget_approved"}, {"claim": "vendor_verified", "negated": true}]}"#,
            ),
        ),
        (
            "code_signed",
            body("code_execution", r#"{"code": "import math\nresult = math.sqrt(16)"}"#),
        ),
        ("passthrough_unsigned", body("general", r#"{"note": "hello"}"#)),
    ];
    for (name, b) in &cases {
        let v = pipeline.intercept_json(b).unwrap();
        assert!(name.contains("unsigned") || v.attestation_jwt.is_some(), "{name}: {v:?}");
    }
    // The bare signature signs as many bytes as the finance verdict's JWS signing input
    // (`header.claims`): SHA-256 of the input is part of ES256 either way, so a shorter
    // message would flatter the baseline and a longer one the pipeline.
    let finance_jwt = pipeline.intercept_json(&cases[0].1).unwrap().attestation_jwt.unwrap();
    let signing_input_len = finance_jwt.rfind('.').unwrap();

    let mut g = c.benchmark_group("verdicts");
    g.throughput(Throughput::Elements(1));
    let msg = vec![7u8; signing_input_len];
    g.bench_function("bare_ring_es256_sign", |b| {
        b.iter(|| pair.sign(&rng, black_box(&msg)).unwrap())
    });
    for (name, b) in &cases {
        g.bench_function(*name, |bench| {
            bench.iter(|| pipeline.intercept_json(black_box(b)).unwrap())
        });
    }
    // Passthrough for an already-parsed message (the cost of the guard itself, without
    // JSON parsing of the body).
    let parsed = parse_message(
        &cases[3].1,
        &PipelineConfig::default().schema,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    g.bench_function("passthrough_parsed_message", |bench| {
        bench.iter(|| pipeline.intercept(black_box(&parsed)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

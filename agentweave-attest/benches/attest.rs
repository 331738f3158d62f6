//! Signing and verification cost, beside a bare ring ES256 signature in the same run.

use std::hint::black_box;

use agentweave_attest::json::{ParseOptions, parse};
use agentweave_attest::{
    Attestor, AttestorConfig, Canonicalization, Es256Attestor, Expected, SigningKey, Subject,
    Verifier, VerifierConfig,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

fn bench(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
    let msg = [7u8; 300];
    let payload = parse(
        r#"{"data": {"claimed_total": "150.00", "line_items": [{"amount": "100.00"}, {"amount": "50.00"}]}}"#,
        ParseOptions::default(),
    )
    .unwrap();

    let mut g = c.benchmark_group("attest");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bare_ring_es256_sign", |b| {
        b.iter(|| pair.sign(&rng, black_box(&msg)).unwrap())
    });
    for canon in [Canonicalization::Jcs, Canonicalization::PythonJson] {
        let config = AttestorConfig { canonicalization: canon, ..AttestorConfig::default() };
        let key = SigningKey::from_pkcs8_der(doc.as_ref(), &config.issuer).unwrap();
        let attestor = Es256Attestor::new(config, key).unwrap();
        let mut n = 0u64;
        g.bench_function(format!("attest_{}", canon.as_str()), |b| {
            b.iter(|| {
                n += 1;
                let jti = format!("a2a_{n}");
                attestor
                    .attest(&Subject {
                        payload: black_box(&payload),
                        verdict: "forwarded",
                        engine: "finance_guard",
                        sender: "procurement-agent",
                        receiver: "treasury-agent",
                        payload_type: "financial_transaction",
                        message_timestamp: None,
                        session_id: None,
                        trace_id: &jti,
                    })
                    .unwrap()
            })
        });
        if canon == Canonicalization::Jcs {
            let mut verifier = Verifier::new(VerifierConfig {
                max_replay_entries: usize::MAX,
                ..Default::default()
            });
            verifier.trust_jwks(attestor.issuer(), None, &attestor.jwks()).unwrap();
            let expected = Expected {
                sender: "procurement-agent",
                receiver: "treasury-agent",
                payload: &payload,
                payload_type: None,
                session_id: None,
            };
            let tokens: Vec<String> = (0..20_000)
                .map(|i| {
                    let jti = format!("v_{i}");
                    attestor
                        .attest(&Subject {
                            payload: &payload,
                            verdict: "forwarded",
                            engine: "finance_guard",
                            sender: "procurement-agent",
                            receiver: "treasury-agent",
                            payload_type: "financial_transaction",
                            message_timestamp: None,
                            session_id: None,
                            trace_id: &jti,
                        })
                        .unwrap()
                        .token
                })
                .collect();
            let mut i = 0usize;
            // Each token verifies once (replay protection refuses repeats), so cycle
            // through fresh ones and count refusals as well: both cost a full check.
            g.bench_function("verify_jcs", |b| {
                b.iter(|| {
                    i = (i + 1) % tokens.len();
                    let _ = black_box(verifier.verify(&tokens[i], &expected));
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Behaviour of signing and verification, including every refusal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentweave_attest::json::{Json, ParseOptions, parse};
use agentweave_attest::{
    Attestor, AttestorConfig, Canonicalization, Clock, Es256Attestor, Expected, SigningKey,
    Subject, Verifier, VerifierConfig, VerifyError,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn clock(at: &Arc<AtomicU64>) -> Clock {
    let at = at.clone();
    Arc::new(move || Some(at.load(Ordering::SeqCst)))
}

fn payload(t: &str) -> Json<'_> {
    parse(t, ParseOptions::default()).unwrap()
}

fn subject<'a>(p: &'a Json<'a>, jti: &'a str) -> Subject<'a> {
    Subject {
        payload: p,
        verdict: "forwarded",
        engine: "finance_guard",
        sender: "alice",
        receiver: "bob",
        payload_type: "financial_transaction",
        message_timestamp: Some("2026-01-01T00:00:00Z"),
        session_id: None,
        trace_id: jti,
    }
}

fn expected<'a>(p: &'a Json<'a>) -> Expected<'a> {
    Expected {
        sender: "alice",
        receiver: "bob",
        payload: p,
        payload_type: Some("financial_transaction"),
        session_id: None,
    }
}

struct Rig {
    now: Arc<AtomicU64>,
    attestor: Es256Attestor,
    verifier: Verifier,
}

fn rig(canon: Canonicalization) -> Rig {
    let now = Arc::new(AtomicU64::new(1_800_000_000));
    let config = AttestorConfig { canonicalization: canon, ..AttestorConfig::default() };
    let key = SigningKey::generate(&config.issuer).unwrap();
    let attestor = Es256Attestor::new(config, key).unwrap().with_clock(clock(&now));
    let mut verifier = Verifier::new(VerifierConfig::default()).with_clock(clock(&now));
    verifier.trust_jwks(attestor.issuer(), Some("local"), &attestor.jwks()).unwrap();
    Rig { now, attestor, verifier }
}

#[test]
fn token_shape_matches_the_reference() {
    let r = rig(Canonicalization::PythonJson);
    let p = payload(r#"{"data": {"claimed_total": 150.0}}"#);
    let a = r.attestor.attest(&subject(&p, "a2a_1")).unwrap();
    let parts: Vec<&str> = a.token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(
        header,
        format!(r#"{{"alg":"ES256","kid":"{}","typ":"qwed-a2a-attestation+jwt"}}"#, a.kid)
    );
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "did:qwed:a2a:local");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 300);
    assert_eq!(claims["jti"], "a2a_1");
    assert_eq!(claims["qwed_a2a"]["payload_type"], "financial_transaction");
    assert_eq!(claims["qwed_a2a"]["canon"], "python-json");
    assert_eq!(claims["sub"], a.payload_hash);
}

/// The token-only signing path (what the guard uses) makes the same kind of token as
/// `attest`: it verifies, binds the same payload hash, and is refused when replayed.
#[test]
fn attest_token_matches_attest() {
    for canon in [Canonicalization::Jcs, Canonicalization::PythonJson] {
        let r = rig(canon);
        let p = payload(r#"{"b": "é\n", "a": [1, 2.5, {"z": null, "y": true}]}"#);
        let full = r.attestor.attest(&subject(&p, "a2a_full")).unwrap();
        let token = r.attestor.attest_token(&subject(&p, "a2a_short")).unwrap();
        let claims = |t: &str| -> serde_json::Value {
            let part = t.split('.').nth(1).unwrap();
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        assert_eq!(claims(&token)["sub"], full.payload_hash);
        assert_eq!(claims(&token)["jti"], "a2a_short");
        r.verifier.verify(&token, &expected(&p)).unwrap();
        assert!(matches!(r.verifier.verify(&token, &expected(&p)), Err(VerifyError::Replay(_))));
        r.verifier.verify(&full.token, &expected(&p)).unwrap();
    }
}

#[test]
fn verifies_then_refuses_replay() {
    for canon in [Canonicalization::Jcs, Canonicalization::PythonJson] {
        let r = rig(canon);
        let p = payload(r#"{"x": [1, 2.5, "é"]}"#);
        let t = r.attestor.attest(&subject(&p, "a2a_2")).unwrap().token;
        r.verifier.verify(&t, &expected(&p)).unwrap();
        assert_eq!(
            r.verifier.verify(&t, &expected(&p)),
            Err(VerifyError::Replay("did:qwed:a2a:local\0a2a_2".into()))
        );
    }
}

#[test]
fn refusals() {
    let r = rig(Canonicalization::Jcs);
    let p = payload(r#"{"x": 1}"#);
    let other = payload(r#"{"x": 2}"#);
    let fresh = |jti: &str| r.attestor.attest(&subject(&p, jti)).unwrap().token;

    // Detached: same token, different payload.
    assert_eq!(r.verifier.verify(&fresh("1"), &expected(&other)), Err(VerifyError::PayloadHash));
    // Wrong sender / receiver / payload type.
    let mut e = expected(&p);
    e.sender = "mallory";
    assert!(matches!(
        r.verifier.verify(&fresh("2"), &e),
        Err(VerifyError::Mismatch { claim: "qwed_a2a.sender", .. })
    ));
    let mut e = expected(&p);
    e.receiver = "eve";
    assert!(matches!(
        r.verifier.verify(&fresh("3"), &e),
        Err(VerifyError::Mismatch { claim: "qwed_a2a.receiver", .. })
    ));
    let mut e = expected(&p);
    e.payload_type = Some("general");
    assert!(matches!(
        r.verifier.verify(&fresh("4"), &e),
        Err(VerifyError::Mismatch { claim: "qwed_a2a.payload_type", .. })
    ));
    // Tampered claims: signature fails.
    let t = fresh("5");
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap())
        .unwrap()
        .replace("forwarded", "blocked__");
    parts[1] = URL_SAFE_NO_PAD.encode(claims);
    assert_eq!(r.verifier.verify(&parts.join("."), &expected(&p)), Err(VerifyError::BadSignature));
    // alg none / HS256 refused before any key lookup.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"x"}"#);
    let forged = format!("{none_header}.{}.", parts[1]);
    assert_eq!(
        r.verifier.verify(&forged, &expected(&p)),
        Err(VerifyError::Algorithm("none".into()))
    );
    // Unknown key.
    let other_key = SigningKey::generate("did:qwed:a2a:local").unwrap();
    let rogue = Es256Attestor::new(AttestorConfig::default(), other_key).unwrap();
    let rt = rogue.attest(&subject(&p, "6")).unwrap().token;
    assert!(matches!(r.verifier.verify(&rt, &expected(&p)), Err(VerifyError::UnknownKey(_))));
    // Malformed.
    assert!(matches!(r.verifier.verify("a.b", &expected(&p)), Err(VerifyError::Malformed(_))));
    assert!(matches!(r.verifier.verify("a.b.c.d", &expected(&p)), Err(VerifyError::Malformed(_))));
    // Expired beyond leeway; accepted within leeway.
    let t = fresh("7");
    r.now.fetch_add(300 + 30 + 1, Ordering::SeqCst);
    assert!(matches!(r.verifier.verify(&t, &expected(&p)), Err(VerifyError::Expired { .. })));
    let t = fresh("8");
    r.now.fetch_add(300 + 29, Ordering::SeqCst);
    r.verifier.verify(&t, &expected(&p)).unwrap();
}

#[test]
fn issuer_must_own_the_key() {
    let r = rig(Canonicalization::Jcs);
    let p = payload("{}");
    let mut v = Verifier::new(VerifierConfig::default()).with_clock(clock(&r.now));
    v.trust_jwks("did:other", None, &r.attestor.jwks()).unwrap();
    let t = r.attestor.attest(&subject(&p, "1")).unwrap().token;
    assert!(matches!(v.verify(&t, &expected(&p)), Err(VerifyError::Issuer { .. })));
    // Deployment binding.
    let mut v = Verifier::new(VerifierConfig::default()).with_clock(clock(&r.now));
    v.trust_jwks("did:qwed:a2a:local", Some("prod"), &r.attestor.jwks()).unwrap();
    assert!(matches!(
        v.verify(&t, &expected(&p)),
        Err(VerifyError::Mismatch { claim: "qwed_a2a.deployment_id", .. })
    ));
}

#[test]
fn rotation_keeps_old_tokens_valid() {
    let r = rig(Canonicalization::Jcs);
    let p = payload("{}");
    let old = r.attestor.attest(&subject(&p, "old")).unwrap();
    r.attestor.rotate(SigningKey::generate("did:qwed:a2a:local").unwrap()).unwrap();
    let new = r.attestor.attest(&subject(&p, "new")).unwrap();
    assert_ne!(old.kid, new.kid);
    assert_eq!(r.attestor.jwks().keys.len(), 2);
    let mut v = Verifier::new(VerifierConfig::default()).with_clock(clock(&r.now));
    v.trust_jwks("did:qwed:a2a:local", None, &r.attestor.jwks()).unwrap();
    v.verify(&old.token, &expected(&p)).unwrap();
    v.verify(&new.token, &expected(&p)).unwrap();
    r.attestor.retire(&old.kid);
    assert_eq!(r.attestor.jwks().keys.len(), 1);
    // The active key cannot be retired.
    r.attestor.retire(&new.kid);
    assert_eq!(r.attestor.jwks().keys.len(), 1);
}

#[test]
fn jcs_refuses_non_finite_payloads() {
    let r = rig(Canonicalization::Jcs);
    let p = parse(r#"{"x": NaN}"#, ParseOptions { max_depth: 8, allow_non_finite_tokens: true })
        .unwrap();
    assert!(r.attestor.attest(&subject(&p, "n")).is_err());
}

#[test]
fn a_verifier_with_more_keys_shares_replay_memory_and_keeps_old_keys() {
    let r = rig(Canonicalization::Jcs);
    let p = payload("{}");
    // A second signer for the same issuer: a restarted peer, or another replica.
    let now = r.now.clone();
    let other = Es256Attestor::new(
        AttestorConfig::default(),
        SigningKey::generate("did:qwed:a2a:local").unwrap(),
    )
    .unwrap()
    .with_clock(clock(&now));
    let first = r.attestor.attest(&subject(&p, "first")).unwrap().token;
    let second = other.attest(&subject(&p, "second")).unwrap().token;
    r.verifier.verify(&first, &expected(&p)).unwrap();
    assert!(matches!(r.verifier.verify(&second, &expected(&p)), Err(VerifyError::UnknownKey(_))));
    let kid = other.jwks().keys[0].kid.clone();
    assert!(!r.verifier.trusts_kid(&kid));

    let more =
        r.verifier.with_more_keys("did:qwed:a2a:local", Some("local"), &other.jwks()).unwrap();
    assert!(more.trusts_kid(&kid));
    more.verify(&second, &expected(&p)).unwrap();
    // Replays are refused across both: what the first accepted, the second refuses, and back.
    assert!(matches!(more.verify(&first, &expected(&p)), Err(VerifyError::Replay(_))));
    let again = r.attestor.attest(&subject(&p, "again")).unwrap().token;
    more.verify(&again, &expected(&p)).unwrap();
    assert!(matches!(r.verifier.verify(&again, &expected(&p)), Err(VerifyError::Replay(_))));
    // The issuer binding of the new keys is enforced as for trust_jwks.
    let foreign = r.verifier.with_more_keys("did:other", None, &other.jwks()).unwrap();
    let third = other.attest(&subject(&p, "third")).unwrap().token;
    assert!(matches!(foreign.verify(&third, &expected(&p)), Err(VerifyError::Issuer { .. })));
}

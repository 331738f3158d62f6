//! Our attestations checked by an independent verifier: Python PyJWT with our JWKS.
//!
//! Creates (once) a venv at `<repo>/.venv-interop` with `pyjwt` and `cryptography`.
//! Skipped, with the reason printed, only when `python3` is absent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use agentweave_attest::json::{Json, ParseOptions, parse, raw_members};
use agentweave_attest::{
    Attestor, AttestorConfig, Canonicalization, Es256Attestor, SigningKey, Subject,
};

const CHECKER: &str = r#"
import hashlib, json, sys
import jwt
doc = json.load(open(sys.argv[1]))
keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(doc["jwks"]).keys}
ok = 0
for case in doc["cases"]:
    token = case["token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["typ"] == "qwed-a2a-attestation+jwt", header
    claims = jwt.decode(token, keys[header["kid"]].key, algorithms=["ES256"], issuer=doc["issuer"],
                        options={"require": ["exp", "iat", "iss", "sub", "jti"]})
    assert claims["jti"] == case["jti"], (claims, case["jti"])
    if case["canon"] == "python-json":
        payload = json.loads(case["input"])["payload"]
        h = "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        assert claims["sub"] == h, (case["jti"], claims["sub"], h)
        if case.get("reference_hash"):
            assert claims["sub"] == case["reference_hash"], case["jti"]
    ok += 1
for token in doc["tampered"]:
    header = jwt.get_unverified_header(token)
    try:
        jwt.decode(token, keys[header["kid"]].key, algorithms=["ES256"], issuer=doc["issuer"])
    except jwt.InvalidSignatureError:
        continue
    sys.exit("tampered token accepted")
print("OK", ok)
"#;

fn python() -> Option<PathBuf> {
    let found = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from("python3"))
}

fn venv(repo: &Path) -> PathBuf {
    let dir = repo.join(".venv-interop");
    let py = dir.join("bin/python");
    if !py.exists() {
        let st = Command::new("python3").args(["-m", "venv"]).arg(&dir).status().unwrap();
        assert!(st.success(), "python3 -m venv {} failed", dir.display());
    }
    let has = Command::new(&py)
        .args(["-c", "import jwt, cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        let st = Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "pyjwt>=2.8", "cryptography"])
            .status()
            .unwrap();
        assert!(st.success(), "pip install pyjwt cryptography failed (PyPI reachable?)");
    }
    py
}

fn lenient(t: &str) -> Json<'_> {
    parse(t, ParseOptions { max_depth: 4096, allow_non_finite_tokens: true }).unwrap()
}

#[test]
fn pyjwt_verifies_our_attestations() {
    if python().is_none() {
        println!("SKIPPED: python3 not found; the PyJWT interop check needs it");
        return;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = venv(manifest.parent().unwrap());
    let corpus = std::fs::read_to_string(manifest.join("../../shared/guard-corpus/public.jsonl"))
        .expect("guard corpus at ../../shared/guard-corpus/public.jsonl");

    let issuer = "did:qwed:a2a:local";
    let mk = |canon| {
        let config = AttestorConfig { canonicalization: canon, ..AttestorConfig::default() };
        Es256Attestor::new(config, SigningKey::generate(issuer).unwrap()).unwrap()
    };
    let python_json = Arc::new(mk(Canonicalization::PythonJson));
    let jcs = Arc::new(mk(Canonicalization::Jcs));
    let mut cases = Vec::new();
    let mut tampered = Vec::new();
    let mut n = 0;
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let m = raw_members(line, 4096).unwrap();
        let get = |k: &str| m.iter().find(|(key, _)| key == k).map(|(_, v)| *v).unwrap();
        let input_text = get("input");
        let input = lenient(input_text);
        let Some(payload) = input.as_object().and_then(|o| o.get("payload")) else { continue };
        if !matches!(payload, Json::Object(_)) {
            continue;
        }
        let reference = lenient(get("reference"));
        let reference_hash = reference
            .as_object()
            .unwrap()
            .get("payload_hash")
            .and_then(Json::as_str)
            .map(str::to_owned);
        for (canon, attestor) in [("python-json", &python_json), ("jcs", &jcs)] {
            if canon == "jcs" && payload.contains_non_finite() {
                continue;
            }
            // Only lines with a reference hash, plus every 5th line, keep the run short.
            if reference_hash.is_none() && n % 5 != 0 {
                continue;
            }
            n += 1;
            let jti = format!("a2a_interop_{n}");
            let a = attestor
                .attest(&Subject {
                    payload,
                    verdict: "forwarded",
                    engine: "finance_guard",
                    sender: "procurement-agent",
                    receiver: "treasury-agent",
                    payload_type: "financial_transaction",
                    message_timestamp: None,
                    session_id: None,
                    trace_id: &jti,
                })
                .unwrap();
            if n % 17 == 0 {
                let mut t = a.token.clone().into_bytes();
                let i = t.iter().position(|b| *b == b'.').unwrap() + 5;
                t[i] = if t[i] == b'A' { b'B' } else { b'A' };
                tampered.push(String::from_utf8(t).unwrap());
            }
            cases.push(serde_json::json!({
                "token": a.token, "jti": jti, "canon": canon, "input": input_text,
                "reference_hash": if canon == "python-json" { reference_hash.clone() } else { None },
            }));
        }
    }
    // Rotation: a token from the old key still verifies with the published set.
    let old = python_json
        .attest(&Subject {
            payload: &lenient("{}"),
            verdict: "blocked",
            engine: "trust_boundary",
            sender: "a",
            receiver: "b",
            payload_type: "general",
            message_timestamp: None,
            session_id: None,
            trace_id: "a2a_rotated",
        })
        .unwrap();
    python_json.rotate(SigningKey::generate(issuer).unwrap()).unwrap();
    cases
        .push(serde_json::json!({"token": old.token, "jti": "a2a_rotated", "canon": "python-json",
        "input": r#"{"payload": {}}"#, "reference_hash": null}));
    let mut jwks = python_json.jwks();
    jwks.keys.extend(jcs.jwks().keys);
    assert_eq!(jwks.keys.len(), 3);

    let dir = std::env::temp_dir().join(format!("agentweave-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("cases.json");
    std::fs::write(
        &doc,
        serde_json::to_vec(&serde_json::json!({
            "issuer": issuer, "jwks": jwks, "cases": cases, "tampered": tampered,
        }))
        .unwrap(),
    )
    .unwrap();
    let script = dir.join("check.py");
    std::fs::write(&script, CHECKER).unwrap();
    let out = Command::new(&py).arg(&script).arg(&doc).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyJWT check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), format!("OK {}", cases.len()));
    assert!(!tampered.is_empty());
}

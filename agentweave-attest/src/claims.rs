//! The JWT header and claims of an attestation.

use serde::{Deserialize, Serialize};

use crate::json::write::write_string;

/// The `typ` header value of an attestation, as the reference writes it.
pub const TOKEN_TYPE: &str = "qwed-a2a-attestation+jwt";

/// Version of the `qwed_a2a` claim block.
pub const CLAIMS_VERSION: &str = "1.0";

/// JOSE header (members in the order PyJWT writes them: sorted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    /// Always `ES256`.
    pub alg: String,
    /// Key id of the signing key.
    #[serde(default)]
    pub kid: Option<String>,
    /// [`TOKEN_TYPE`].
    #[serde(default)]
    pub typ: Option<String>,
}

/// The registered claims plus the verdict block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer (e.g. `did:qwed:a2a:local`).
    pub iss: String,
    /// `sha256:<hex>` of the canonical payload.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// Token id: the audit trace id of the verdict.
    pub jti: String,
    /// What was decided about which message.
    pub qwed_a2a: VerdictClaims,
}

/// The verdict block (`qwed_a2a`). The reference's members come first; `payload_type`,
/// `message_timestamp` and `canon` are our additions: without them an attestation for
/// one payload type could be replayed as one for another type with the same bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerdictClaims {
    /// [`CLAIMS_VERSION`].
    pub version: String,
    /// `forwarded`, `blocked`, `heuristic_pass`, ….
    pub verdict: String,
    /// Engine that decided.
    pub engine: String,
    /// Sender agent id (normalised).
    pub sender: String,
    /// Receiver agent id (normalised).
    pub receiver: String,
    /// Deployment id of the issuer.
    pub deployment_id: String,
    /// Session id, when the caller has one.
    pub session_id: Option<String>,
    /// The message's payload type.
    #[serde(default)]
    pub payload_type: Option<String>,
    /// The message's timestamp (RFC 3339, UTC).
    #[serde(default)]
    pub message_timestamp: Option<String>,
    /// Canonicalization used for `sub` (`jcs` or `python-json`).
    #[serde(default)]
    pub canon: Option<String>,
}

/// Writes the claims JSON of one attestation without a serializer.
///
/// The text is byte for byte what `serde_json` writes for [`Claims`] (member order,
/// `null` for absent options, the same string escapes; a test compares the two). The
/// parts fixed by the attestor's configuration (issuer, deployment, canonicalization)
/// are escaped once, when the attestor is built, instead of on every signature.
#[derive(Debug, Clone)]
pub(crate) struct ClaimsWriter {
    /// `{"iss":<issuer>,"sub":`
    head: String,
    /// `,"deployment_id":<deployment>,"session_id":`
    deployment: String,
    /// `,"canon":<canon>}}`
    tail: String,
}

/// The per-signature members of the claims.
pub(crate) struct ClaimValues<'a> {
    pub(crate) sub: &'a str,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: &'a str,
    pub(crate) verdict: &'a str,
    pub(crate) engine: &'a str,
    pub(crate) sender: &'a str,
    pub(crate) receiver: &'a str,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) payload_type: &'a str,
    pub(crate) message_timestamp: Option<&'a str>,
}

impl ClaimsWriter {
    pub(crate) fn new(issuer: &str, deployment_id: &str, canon: &str) -> Self {
        let mut head = String::from("{\"iss\":");
        write_string(issuer, &mut head);
        head.push_str(",\"sub\":");
        let mut deployment = String::from(",\"deployment_id\":");
        write_string(deployment_id, &mut deployment);
        deployment.push_str(",\"session_id\":");
        let mut tail = String::from(",\"canon\":");
        write_string(canon, &mut tail);
        tail.push_str("}}");
        Self { head, deployment, tail }
    }

    /// Appends the claims JSON to `out`.
    pub(crate) fn write(&self, v: &ClaimValues<'_>, out: &mut String) {
        out.push_str(&self.head);
        write_string(v.sub, out);
        out.push_str(",\"iat\":");
        push_u64(v.iat, out);
        out.push_str(",\"exp\":");
        push_u64(v.exp, out);
        out.push_str(",\"jti\":");
        write_string(v.jti, out);
        out.push_str(",\"qwed_a2a\":{\"version\":");
        write_string(CLAIMS_VERSION, out);
        out.push_str(",\"verdict\":");
        write_string(v.verdict, out);
        out.push_str(",\"engine\":");
        write_string(v.engine, out);
        out.push_str(",\"sender\":");
        write_string(v.sender, out);
        out.push_str(",\"receiver\":");
        write_string(v.receiver, out);
        out.push_str(&self.deployment);
        push_opt(v.session_id, out);
        out.push_str(",\"payload_type\":");
        write_string(v.payload_type, out);
        out.push_str(",\"message_timestamp\":");
        push_opt(v.message_timestamp, out);
        out.push_str(&self.tail);
    }
}

fn push_opt(v: Option<&str>, out: &mut String) {
    match v {
        Some(s) => write_string(s, out),
        None => out.push_str("null"),
    }
}

fn push_u64(mut n: u64, out: &mut String) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            // `n % 10` is below 10, so the cast cannot truncate.
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(buf.get(i..).and_then(|d| std::str::from_utf8(d).ok()).unwrap_or("0"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written encoder against `serde_json` on [`Claims`], with escapes,
    /// non-ASCII text, absent and present options and extreme integers.
    #[test]
    fn writer_matches_serde_json() {
        let odd = "q\"uo\\te\n\u{1}\u{1f}\u{7f} é😀 </script>";
        /// issuer, deployment, iat, exp, session id, message timestamp
        type Case<'a> = (&'a str, &'a str, u64, u64, Option<&'a str>, Option<&'a str>);
        let cases: &[Case<'_>] = &[
            ("did:qwed:a2a:local", "local", 1_700_000_000, 1_700_000_300, None, None),
            (odd, odd, 0, u64::MAX, Some(odd), Some("2026-01-01T00:00:00Z")),
            ("", "", 9, 10, Some(""), Some("")),
        ];
        for (issuer, deployment, iat, exp, session, ts) in cases {
            for canon in ["jcs", "python-json"] {
                let w = ClaimsWriter::new(issuer, deployment, canon);
                let v = ClaimValues {
                    sub: "sha256:00ff",
                    iat: *iat,
                    exp: *exp,
                    jti: odd,
                    verdict: "forwarded",
                    engine: "finance_guard",
                    sender: odd,
                    receiver: "treasury-agent",
                    session_id: *session,
                    payload_type: "financial_transaction",
                    message_timestamp: *ts,
                };
                let mut ours = String::new();
                w.write(&v, &mut ours);
                let serde = Claims {
                    iss: (*issuer).into(),
                    sub: v.sub.into(),
                    iat: *iat,
                    exp: *exp,
                    jti: v.jti.into(),
                    qwed_a2a: VerdictClaims {
                        version: CLAIMS_VERSION.into(),
                        verdict: v.verdict.into(),
                        engine: v.engine.into(),
                        sender: v.sender.into(),
                        receiver: v.receiver.into(),
                        deployment_id: (*deployment).into(),
                        session_id: session.map(Into::into),
                        payload_type: Some(v.payload_type.into()),
                        message_timestamp: ts.map(Into::into),
                        canon: Some(canon.into()),
                    },
                };
                assert_eq!(ours, serde_json::to_string(&serde).unwrap(), "{issuer:?} {canon}");
            }
        }
    }
}

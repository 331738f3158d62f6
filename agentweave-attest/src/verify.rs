//! [`Verifier`]: checks attestations from ourselves or trusted peers.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

use crate::canonical::Canonicalization;
use crate::claims::{CLAIMS_VERSION, Claims, Header, TOKEN_TYPE};
use crate::clock::{Clock, system_clock};
use crate::error::{KeyError, VerifyError};
use crate::json::Json;
use crate::keys::Jwks;
use crate::replay::ReplayCache;

/// Settings of a [`Verifier`].
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Clock skew tolerated on `exp` and `iat`, seconds.
    pub leeway_secs: u64,
    /// Longest accepted `exp - iat`; bounds how long replay state must be kept.
    pub max_validity_secs: u64,
    /// Upper bound of remembered token ids (beyond it verification fails closed).
    pub max_replay_entries: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self { leeway_secs: 30, max_validity_secs: 3_600, max_replay_entries: 1 << 20 }
    }
}

/// What the verifier expects the attestation to be about.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// Sender agent id.
    pub sender: &'a str,
    /// Receiver agent id.
    pub receiver: &'a str,
    /// The payload the attestation must be bound to.
    pub payload: &'a Json<'a>,
    /// Payload type, when the consumer knows it (checked if given).
    pub payload_type: Option<&'a str>,
    /// Session id, when the consumer has one (checked if given).
    pub session_id: Option<&'a str>,
}

#[derive(Clone)]
struct TrustedKey {
    issuer: String,
    deployment_id: Option<String>,
    /// Uncompressed point, decoded once from the JWK.
    point: Vec<u8>,
}

/// Verifies signature, issuer, lifetime, bindings and replay of attestations.
pub struct Verifier {
    keys: HashMap<String, TrustedKey>,
    config: VerifierConfig,
    /// Shared with the verifiers [`Verifier::with_more_keys`] derives, so that learning a new
    /// key never forgets which tokens were already accepted.
    replay: Arc<ReplayCache>,
    clock: Clock,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("kids", &self.keys.keys().collect::<Vec<_>>()).finish()
    }
}

impl Verifier {
    /// A verifier that trusts no key yet.
    pub fn new(config: VerifierConfig) -> Self {
        let replay = Arc::new(ReplayCache::new(30, config.max_replay_entries));
        Self { keys: HashMap::new(), config, replay, clock: system_clock() }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Trusts every key of `jwks` as belonging to `issuer` (and, if given, to that
    /// deployment). Keys are looked up by `kid`, which is how rotation works.
    pub fn trust_jwks(
        &mut self,
        issuer: &str,
        deployment_id: Option<&str>,
        jwks: &Jwks,
    ) -> Result<(), KeyError> {
        for jwk in &jwks.keys {
            let point = jwk.to_point()?;
            self.keys.insert(
                jwk.kid.clone(),
                TrustedKey {
                    issuer: issuer.into(),
                    deployment_id: deployment_id.map(str::to_owned),
                    point,
                },
            );
        }
        Ok(())
    }

    /// A verifier that trusts everything this one does plus every key of `jwks` (as
    /// [`Verifier::trust_jwks`] would), and shares this one's replay memory: a token either of
    /// them accepted is refused by both. This is how a holder of a shared (`Arc`) verifier picks
    /// up a peer's new key (after a restart, or from another replica) without opening a replay
    /// window.
    pub fn with_more_keys(
        &self,
        issuer: &str,
        deployment_id: Option<&str>,
        jwks: &Jwks,
    ) -> Result<Verifier, KeyError> {
        let mut next = Verifier {
            keys: self.keys.clone(),
            config: self.config.clone(),
            replay: Arc::clone(&self.replay),
            clock: Arc::clone(&self.clock),
        };
        next.trust_jwks(issuer, deployment_id, jwks)?;
        Ok(next)
    }

    /// Whether a key with this `kid` is trusted.
    pub fn trusts_kid(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Number of remembered token ids.
    pub fn replay_entries(&self) -> usize {
        self.replay.len()
    }

    /// Verifies `token` against `expected`; on success the id is remembered so the same
    /// token is refused next time.
    pub fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Claims, VerifyError> {
        let mut parts = token.split('.');
        let (Some(h64), Some(c64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed("expected three dot-separated parts".into()));
        };
        let decode = |what: &str, s: &str| {
            URL_SAFE_NO_PAD.decode(s).map_err(|e| VerifyError::Malformed(format!("{what}: {e}")))
        };
        let header: Header = serde_json::from_slice(&decode("header", h64)?)
            .map_err(|e| VerifyError::Malformed(format!("header: {e}")))?;
        if header.alg != "ES256" {
            return Err(VerifyError::Algorithm(header.alg));
        }
        if let Some(typ) = &header.typ
            && typ != TOKEN_TYPE
        {
            return Err(VerifyError::TokenType(typ.clone()));
        }
        let kid = header.kid.unwrap_or_default();
        let key = self.keys.get(&kid).ok_or_else(|| VerifyError::UnknownKey(kid.clone()))?;
        let sig = decode("signature", s64)?;
        let signed_len = h64.len() + 1 + c64.len();
        let signed =
            token.get(..signed_len).ok_or_else(|| VerifyError::Malformed("length".into()))?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point)
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| VerifyError::BadSignature)?;
        let claims: Claims = serde_json::from_slice(&decode("claims", c64)?)
            .map_err(|e| VerifyError::Malformed(format!("claims: {e}")))?;
        if claims.iss != key.issuer {
            return Err(VerifyError::Issuer {
                found: claims.iss,
                expected: key.issuer.clone(),
                kid,
            });
        }
        let now = (self.clock)().ok_or(VerifyError::Clock)?;
        let leeway = self.config.leeway_secs;
        if now > claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired { exp: claims.exp, now, leeway });
        }
        if claims.iat > now.saturating_add(leeway) {
            return Err(VerifyError::IssuedInFuture { iat: claims.iat, now });
        }
        if claims.exp.saturating_sub(claims.iat) > self.config.max_validity_secs
            || claims.exp < claims.iat
        {
            return Err(mismatch(
                "exp",
                format!("<= iat + {}", self.config.max_validity_secs),
                claims.exp.to_string(),
            ));
        }
        let b = &claims.qwed_a2a;
        if b.version != CLAIMS_VERSION {
            return Err(mismatch("qwed_a2a.version", CLAIMS_VERSION.into(), b.version.clone()));
        }
        if let Some(dep) = &key.deployment_id
            && &b.deployment_id != dep
        {
            return Err(mismatch("qwed_a2a.deployment_id", dep.clone(), b.deployment_id.clone()));
        }
        if b.sender != expected.sender {
            return Err(mismatch("qwed_a2a.sender", expected.sender.into(), b.sender.clone()));
        }
        if b.receiver != expected.receiver {
            return Err(mismatch(
                "qwed_a2a.receiver",
                expected.receiver.into(),
                b.receiver.clone(),
            ));
        }
        if let Some(pt) = expected.payload_type
            && b.payload_type.as_deref() != Some(pt)
        {
            return Err(mismatch(
                "qwed_a2a.payload_type",
                pt.into(),
                b.payload_type.clone().unwrap_or_default(),
            ));
        }
        if let Some(sid) = expected.session_id
            && b.session_id.as_deref() != Some(sid)
        {
            return Err(mismatch(
                "qwed_a2a.session_id",
                sid.into(),
                b.session_id.clone().unwrap_or_default(),
            ));
        }
        // Tokens without `canon` come from the Python reference, which hashes python-json.
        let canon_name = b.canon.as_deref().unwrap_or("python-json");
        let canon = Canonicalization::from_name(canon_name).ok_or_else(|| {
            mismatch("qwed_a2a.canon", "jcs|python-json".into(), canon_name.into())
        })?;
        let hash = canon
            .payload_hash(expected.payload)
            .map_err(|e| VerifyError::Canonical(e.to_string()))?;
        if hash != claims.sub {
            return Err(VerifyError::PayloadHash);
        }
        let replay_key = format!("{}\0{}", claims.iss, claims.jti);
        self.replay.check_and_insert(&replay_key, claims.exp.saturating_add(leeway), now)?;
        Ok(claims)
    }
}

fn mismatch(claim: &'static str, expected: String, found: String) -> VerifyError {
    VerifyError::Mismatch { claim, expected, found }
}

//! [`Es256Attestor`]: the ring-backed [`Attestor`].

use std::cell::Cell;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;

use crate::canonical::{Canonicalization, HashText};
use crate::claims::{ClaimValues, ClaimsWriter, Header, TOKEN_TYPE};
use crate::clock::{Clock, system_clock};
use crate::error::AttestError;
use crate::keys::{Jwks, SigningKey};
use crate::{Attestation, Attestor, Subject};

/// The reference's default issuer.
pub const DEFAULT_ISSUER: &str = "did:qwed:a2a:local";

/// Settings of an [`Es256Attestor`].
#[derive(Debug, Clone)]
pub struct AttestorConfig {
    /// `iss` claim; also the prefix of key ids.
    pub issuer: String,
    /// `deployment_id` in the verdict block.
    pub deployment_id: String,
    /// Lifetime of a token (`exp - iat`), seconds. The reference uses 300.
    pub validity_secs: u64,
    /// How the payload is canonicalized for `sub`.
    pub canonicalization: Canonicalization,
}

impl Default for AttestorConfig {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.into(),
            deployment_id: "local".into(),
            validity_secs: 300,
            canonicalization: Canonicalization::Jcs,
        }
    }
}

struct ActiveKey {
    key: SigningKey,
    /// base64url of the header, computed once per key.
    header_b64: String,
}

/// Issues ES256 compact-JWS attestations with a cached parsed key.
///
/// Rotation: [`Es256Attestor::rotate`] makes a new key active and keeps publishing the old
/// public keys in [`Attestor::jwks`] so tokens signed before the switch still verify.
pub struct Es256Attestor {
    config: AttestorConfig,
    active: RwLock<Arc<ActiveKey>>,
    published: RwLock<Jwks>,
    /// The static parts of the claims, escaped once.
    claims: ClaimsWriter,
    rng: SystemRandom,
    clock: Clock,
}

impl std::fmt::Debug for Es256Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es256Attestor").field("config", &self.config).finish_non_exhaustive()
    }
}

fn active_key(key: SigningKey) -> Result<ActiveKey, AttestError> {
    let header =
        Header { alg: "ES256".into(), kid: Some(key.kid().into()), typ: Some(TOKEN_TYPE.into()) };
    let json = serde_json::to_vec(&header).map_err(|e| AttestError::Serialize(e.to_string()))?;
    Ok(ActiveKey { key, header_b64: URL_SAFE_NO_PAD.encode(json) })
}

impl Es256Attestor {
    /// An attestor signing with `key` (whose kid should have been derived for `config.issuer`).
    pub fn new(config: AttestorConfig, key: SigningKey) -> Result<Self, AttestError> {
        let jwks = Jwks { keys: vec![key.jwk()] };
        let claims = ClaimsWriter::new(
            &config.issuer,
            &config.deployment_id,
            config.canonicalization.as_str(),
        );
        Ok(Self {
            claims,
            config,
            active: RwLock::new(Arc::new(active_key(key)?)),
            published: RwLock::new(jwks),
            rng: SystemRandom::new(),
            clock: system_clock(),
        })
    }

    /// Replaces the clock (tests of expiry).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Makes `key` the signing key; earlier public keys stay in the JWKS.
    pub fn rotate(&self, key: SigningKey) -> Result<(), AttestError> {
        let jwk = key.jwk();
        let next = Arc::new(active_key(key)?);
        if let Ok(mut p) = self.published.write() {
            p.keys.retain(|k| k.kid != jwk.kid);
            p.keys.insert(0, jwk);
        }
        if let Ok(mut a) = self.active.write() {
            *a = next;
        }
        Ok(())
    }

    /// Removes a retired key from the JWKS (after all its tokens expired).
    pub fn retire(&self, kid: &str) {
        let active_kid = self.active.read().map(|a| a.key.kid().to_owned()).unwrap_or_default();
        if kid == active_kid {
            return;
        }
        if let Ok(mut p) = self.published.write() {
            p.keys.retain(|k| k.kid != kid);
        }
    }

    /// The settings.
    pub fn config(&self) -> &AttestorConfig {
        &self.config
    }
}

/// Largest claims buffer kept between signatures; a bigger one (long ids) is released so
/// one odd message does not pin its memory in every thread.
const SCRATCH_KEEP: usize = 16 * 1024;

thread_local! {
    /// Per-thread buffer for the claims JSON of one token: the text is base64-encoded
    /// into the token right away, so one buffer per thread serves every signature
    /// instead of one allocation per signature.
    static CLAIMS_SCRATCH: Cell<String> = const { Cell::new(String::new()) };
}

/// Takes the thread's claims buffer (empty), or a new one if it is in use or gone (the
/// thread is shutting down).
fn take_scratch() -> String {
    let mut buf = CLAIMS_SCRATCH.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    buf
}

/// Gives the buffer back for the next signature on this thread.
fn return_scratch(buf: String) {
    if buf.capacity() <= SCRATCH_KEEP {
        // Fails only while the thread shuts down; the buffer is then simply dropped.
        let _ = CLAIMS_SCRATCH.try_with(|c| c.set(buf));
    }
}

/// A signed token and the values bound into it.
struct Signed {
    token: String,
    sub: HashText,
    iat: u64,
    exp: u64,
}

impl Es256Attestor {
    fn sign(&self, s: &Subject<'_>, active: &ActiveKey) -> Result<Signed, AttestError> {
        let sub = self.config.canonicalization.payload_hash_text(s.payload)?;
        let iat = (self.clock)().ok_or(AttestError::Clock)?;
        let exp = iat.saturating_add(self.config.validity_secs);
        let mut json = take_scratch();
        self.claims.write(
            &ClaimValues {
                sub: sub.as_str(),
                iat,
                exp,
                jti: s.trace_id,
                verdict: s.verdict,
                engine: s.engine,
                sender: s.sender,
                receiver: s.receiver,
                session_id: s.session_id,
                payload_type: s.payload_type,
                message_timestamp: s.message_timestamp,
            },
            &mut json,
        );
        // base64 grows by 4/3; the signature adds 86 characters and two dots.
        let mut token =
            String::with_capacity(active.header_b64.len() + json.len().div_ceil(3) * 4 + 96);
        token.push_str(&active.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(json.as_bytes(), &mut token);
        return_scratch(json);
        let sig = active
            .key
            .pair()
            .sign(&self.rng, token.as_bytes())
            .map_err(|_| AttestError::Signing)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut token);
        Ok(Signed { token, sub, iat, exp })
    }
}

impl Attestor for Es256Attestor {
    fn attest(&self, s: &Subject<'_>) -> Result<Attestation, AttestError> {
        let active = self.active.read().map_err(|_| AttestError::Signing)?;
        let Signed { token, sub, iat, exp } = self.sign(s, &active)?;
        Ok(Attestation {
            token,
            payload_hash: sub.as_str().to_owned(),
            kid: active.key.kid().to_owned(),
            iat,
            exp,
        })
    }

    fn attest_token(&self, s: &Subject<'_>) -> Result<String, AttestError> {
        // The read guard is held while signing (instead of cloning the `Arc`): a
        // rotation waits for the signatures in flight, which take microseconds.
        let active = self.active.read().map_err(|_| AttestError::Signing)?;
        self.sign(s, &active).map(|signed| signed.token)
    }

    fn jwks(&self) -> Jwks {
        self.published.read().map(|p| p.clone()).unwrap_or_default()
    }

    fn issuer(&self) -> &str {
        &self.config.issuer
    }

    fn canonicalization(&self) -> Canonicalization {
        self.config.canonicalization
    }
}

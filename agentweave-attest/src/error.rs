//! Error types of this crate.

use thiserror::Error;

/// Why a JSON document was refused by the strict reader.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON.
    #[error("invalid JSON at byte {offset}: {message}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        message: String,
    },
    /// An object holds the same key twice.
    #[error("duplicate key {key:?} in JSON object")]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// The top-level member the duplicate sits in (`None` when it is top-level itself).
        top_level_field: Option<String>,
    },
    /// Nesting goes deeper than allowed.
    #[error("JSON nesting deeper than {max_depth} levels")]
    TooDeep {
        /// The configured limit.
        max_depth: usize,
    },
    /// A `NaN`/`Infinity` token where only RFC 8259 numbers are accepted.
    #[error("non-finite number token at byte {offset} (NaN/Infinity are not JSON)")]
    NonFiniteToken {
        /// Byte offset of the token.
        offset: usize,
    },
    /// A `\u` escape encodes half of a surrogate pair.
    #[error("lone UTF-16 surrogate escape at byte {offset}")]
    LoneSurrogate {
        /// Byte offset of the escape.
        offset: usize,
    },
}

/// Faults while canonicalizing a payload.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonicalError {
    /// RFC 8785 has no representation for NaN or infinities.
    #[error("number {0} has no RFC 8785 (JCS) representation")]
    NonFiniteNumber(String),
}

/// Faults with key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM text has no `PRIVATE KEY` (PKCS#8) block.
    #[error("no PKCS#8 'PRIVATE KEY' PEM block found ({0})")]
    NotPkcs8Pem(&'static str),
    /// The PEM body is not valid base64.
    #[error("PEM body is not valid base64: {0}")]
    PemBase64(String),
    /// ring refused the key (wrong curve, malformed DER, missing public key …).
    #[error("key rejected: {0}")]
    Rejected(String),
    /// A JWK is not an EC P-256 signing key.
    #[error("JWK field {field}: {problem}")]
    BadJwk {
        /// The JWK member at fault.
        field: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// Randomness was unavailable.
    #[error("system random number generator failed")]
    Rng,
}

/// Faults while issuing an attestation (a fault is never a verdict: fail closed).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The payload could not be canonicalized.
    #[error("cannot canonicalize payload: {0}")]
    Canonical(#[from] CanonicalError),
    /// The signature operation failed.
    #[error("ECDSA signing failed")]
    Signing,
    /// The system clock is before 1970.
    #[error("system clock is before the Unix epoch")]
    Clock,
    /// Claims could not be serialized.
    #[error("cannot serialize claims: {0}")]
    Serialize(String),
}

/// Why an attestation was not accepted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not three base64url parts, or a part does not decode.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Header `alg` is not ES256.
    #[error("unsupported algorithm {0:?} (only ES256 is accepted)")]
    Algorithm(String),
    /// Header `typ` is not the attestation type.
    #[error("unexpected token type {0:?}")]
    TokenType(String),
    /// No trusted key carries the header's `kid`.
    #[error("unknown key id {0:?}")]
    UnknownKey(String),
    /// The ECDSA signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// The issuer is not the one registered for the key.
    #[error("issuer {found:?} does not own key {kid:?} (expected {expected:?})")]
    Issuer {
        /// Issuer in the claims.
        found: String,
        /// Issuer registered with the key.
        expected: String,
        /// The key id.
        kid: String,
    },
    /// The token has expired (beyond the leeway).
    #[error("attestation has expired (exp {exp}, now {now}, leeway {leeway}s)")]
    Expired {
        /// Expiry claim.
        exp: u64,
        /// Verifier clock.
        now: u64,
        /// Accepted leeway in seconds.
        leeway: u64,
    },
    /// The token claims to be issued in the future (beyond the leeway).
    #[error("attestation issued in the future (iat {iat}, now {now})")]
    IssuedInFuture {
        /// Issued-at claim.
        iat: u64,
        /// Verifier clock.
        now: u64,
    },
    /// A claim differs from what the verifier expected.
    #[error("claim {claim} mismatch: expected {expected:?}, found {found:?}")]
    Mismatch {
        /// The claim name.
        claim: &'static str,
        /// Expected value.
        expected: String,
        /// Value in the token.
        found: String,
    },
    /// The payload hash does not match: the attestation is detached from this payload.
    #[error("payload hash mismatch: detached attestation rejected")]
    PayloadHash,
    /// The payload cannot be canonicalized the way the token says.
    #[error("cannot canonicalize payload: {0}")]
    Canonical(String),
    /// The `jti` was already accepted once.
    #[error("replay detected: jti {0:?} already seen")]
    Replay(String),
    /// The replay cache is full of unexpired entries: refuse rather than forget.
    #[error("replay cache full ({0} unexpired entries); refusing to verify")]
    ReplayCacheFull(usize),
    /// The verifier clock is before 1970.
    #[error("system clock is before the Unix epoch")]
    Clock,
}

//! Signed attestations for AgentWeave verdicts.
//!
//! A verdict about a message (forwarded, blocked, …) is only useful to a third party if
//! it cannot be forged or moved to another message. This crate signs verdicts as ES256
//! compact JWS (the claims of the qwed-a2a reference, plus payload type and message
//! timestamp), binds them to the payload by a canonical hash (`sub`), publishes keys as
//! JWKS, and verifies tokens with issuer, lifetime, binding and replay checks.
//!
//! It is a leaf crate: pure computation over ring, no I/O and no server machinery.
//!
//! ```
//! use agentweave_attest::{Attestor, AttestorConfig, Es256Attestor, Expected, SigningKey,
//!     Subject, Verifier, VerifierConfig, json};
//!
//! let config = AttestorConfig::default();
//! let key = SigningKey::generate(&config.issuer)?;
//! let attestor = Es256Attestor::new(config, key)?;
//! let payload = json::parse(r#"{"amount": "1.00"}"#, json::ParseOptions::default())?;
//! let token = attestor.attest(&Subject {
//!     payload: &payload, verdict: "forwarded", engine: "finance_guard",
//!     sender: "a", receiver: "b", payload_type: "financial_transaction",
//!     message_timestamp: None, session_id: None, trace_id: "a2a_1",
//! })?.token;
//!
//! let mut verifier = Verifier::new(VerifierConfig::default());
//! verifier.trust_jwks(attestor.issuer(), None, &attestor.jwks())?;
//! let expected = Expected { sender: "a", receiver: "b", payload: &payload,
//!     payload_type: Some("financial_transaction"), session_id: None };
//! assert!(verifier.verify(&token, &expected).is_ok());
//! assert!(verifier.verify(&token, &expected).is_err()); // replay refused
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]
#![warn(missing_docs)]

mod canonical;
mod claims;
mod clock;
mod error;
pub mod json;
mod keys;
mod replay;
mod signer;
mod verify;

pub use canonical::{Canonicalization, ecmascript_number, python_float_repr};
pub use claims::{CLAIMS_VERSION, Claims, Header, TOKEN_TYPE, VerdictClaims};
pub use clock::{Clock, system_clock};
pub use error::{AttestError, CanonicalError, JsonError, KeyError, VerifyError};
pub use keys::{Jwk, Jwks, SigningKey, key_id, p256_spki_der};
pub use replay::ReplayCache;
pub use signer::{AttestorConfig, DEFAULT_ISSUER, Es256Attestor};
pub use verify::{Expected, Verifier, VerifierConfig};

/// What an attestation is about: one verdict on one message.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The message payload (hashed into `sub`).
    pub payload: &'a json::Json<'a>,
    /// Verdict status (`forwarded`, `blocked`, …).
    pub verdict: &'a str,
    /// Engine that decided.
    pub engine: &'a str,
    /// Sender agent id.
    pub sender: &'a str,
    /// Receiver agent id.
    pub receiver: &'a str,
    /// Payload type of the message.
    pub payload_type: &'a str,
    /// Message timestamp (RFC 3339), when the message had one.
    pub message_timestamp: Option<&'a str>,
    /// Session id, when there is one.
    pub session_id: Option<&'a str>,
    /// Audit trace id, used as `jti`.
    pub trace_id: &'a str,
}

/// A signed attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// Compact JWS.
    pub token: String,
    /// The `sub` claim (`sha256:<hex>`).
    pub payload_hash: String,
    /// Key id that signed.
    pub kid: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expiry (Unix seconds).
    pub exp: u64,
}

/// Something that signs verdicts. Object safe: pick the implementation at run time as
/// `Arc<dyn Attestor>` (for example an HSM-backed signer instead of [`Es256Attestor`]).
///
/// ```
/// use agentweave_attest::{Attestation, AttestError, Attestor, Canonicalization, Jwks, Subject};
///
/// /// Refuses to sign anything: for a deployment that must never emit attestations.
/// struct Refuse;
/// impl Attestor for Refuse {
///     fn attest(&self, _: &Subject<'_>) -> Result<Attestation, AttestError> {
///         Err(AttestError::Signing)
///     }
///     fn jwks(&self) -> Jwks { Jwks::default() }
///     fn issuer(&self) -> &str { "did:example:none" }
///     fn canonicalization(&self) -> Canonicalization { Canonicalization::Jcs }
/// }
/// let a: std::sync::Arc<dyn Attestor> = std::sync::Arc::new(Refuse);
/// assert!(a.jwks().keys.is_empty());
/// ```
pub trait Attestor: Send + Sync {
    /// Signs one verdict. A fault is an `Err`: callers must fail closed, never return an
    /// unsigned verdict in place of a signed one.
    fn attest(&self, subject: &Subject<'_>) -> Result<Attestation, AttestError>;
    /// Signs one verdict and returns only the compact JWS (what a verdict carries).
    ///
    /// The default takes [`Attestation::token`] from [`Attestor::attest`]; an
    /// implementation may override it to skip building the other fields, which costs
    /// allocations on every signed verdict.
    fn attest_token(&self, subject: &Subject<'_>) -> Result<String, AttestError> {
        self.attest(subject).map(|a| a.token)
    }
    /// Public keys that verify this attestor's tokens (current and not yet retired).
    fn jwks(&self) -> Jwks;
    /// The `iss` claim this attestor writes.
    fn issuer(&self) -> &str;
    /// How `sub` is computed.
    fn canonicalization(&self) -> Canonicalization;
}

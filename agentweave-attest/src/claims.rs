//! The JWT header and claims of an attestation.

use serde::{Deserialize, Serialize};

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

/// Borrowed twin of [`Claims`] used when signing (no per-signature string copies).
#[derive(Serialize)]
pub(crate) struct ClaimsRef<'a> {
    pub(crate) iss: &'a str,
    pub(crate) sub: &'a str,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: &'a str,
    pub(crate) qwed_a2a: VerdictClaimsRef<'a>,
}

#[derive(Serialize)]
pub(crate) struct VerdictClaimsRef<'a> {
    pub(crate) version: &'a str,
    pub(crate) verdict: &'a str,
    pub(crate) engine: &'a str,
    pub(crate) sender: &'a str,
    pub(crate) receiver: &'a str,
    pub(crate) deployment_id: &'a str,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) payload_type: &'a str,
    pub(crate) message_timestamp: Option<&'a str>,
    pub(crate) canon: &'a str,
}

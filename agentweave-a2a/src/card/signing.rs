//! Agent card signatures: a detached JWS (RFC 7515) over the RFC 8785 canonical card with the
//! `signatures` field removed (spec section 8.4).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::jcs::{JcsError, canonicalize};
use crate::types::{AgentCard, AgentCardSignature};

/// Produces JWS signatures. Implement it over an HSM, a KMS or a file key; the crate ships
/// [`Es256CardSigner`] (ring, P-256).
///
/// ```
/// use agentweave_a2a::card::{CardSigner, SignError};
/// struct MySigner;
/// impl CardSigner for MySigner {
///     fn algorithm(&self) -> &str { "ES256" }
///     fn key_id(&self) -> &str { "key-1" }
///     fn sign(&self, _signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
///         Err(SignError::Backend("no key loaded".into()))
///     }
/// }
/// ```
pub trait CardSigner: Send + Sync {
    /// The JWS `alg`, e.g. `ES256`.
    fn algorithm(&self) -> &str;
    /// The JWS `kid` clients use to find the public key.
    fn key_id(&self) -> &str;
    /// Optional `jku`: where the JWKS holding the key is published.
    fn jwks_url(&self) -> Option<&str> {
        None
    }
    /// Signs the JWS signing input (`BASE64URL(header) '.' BASE64URL(payload)`).
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Verifies JWS signatures for one key.
pub trait CardVerifier: Send + Sync {
    /// True when `signature` over `signing_input` is valid for the key `kid` with `alg`.
    /// Unknown keys and algorithms return false (fail closed).
    fn verify(&self, alg: &str, kid: &str, signing_input: &[u8], signature: &[u8]) -> bool;
}

/// Signing or verification could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The card could not be canonicalized.
    #[error("agent card cannot be canonicalized: {0}")]
    Canonical(#[from] JcsError),
    /// The card could not be serialized.
    #[error("agent card cannot be serialized: {0}")]
    Serialize(String),
    /// The key backend failed.
    #[error("signing backend failed: {0}")]
    Backend(String),
    /// A key could not be loaded.
    #[error("signing key rejected: {0}")]
    Key(String),
}

/// The canonical signing payload of a card: RFC 8785 JSON without `signatures`. Default values
/// are already absent because the card's serializer omits them (spec section 8.4.1).
pub fn canonical_payload(card: &AgentCard) -> Result<String, SignError> {
    let mut value = serde_json::to_value(card).map_err(|e| SignError::Serialize(e.to_string()))?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("signatures");
    }
    Ok(canonicalize(&value)?)
}

/// Signs `card` and appends the signature to `card.signatures` (existing signatures are kept,
/// which supports key rotation).
pub fn sign_card(card: &mut AgentCard, signer: &dyn CardSigner) -> Result<(), SignError> {
    let payload = canonical_payload(card)?;
    let mut header = Map::new();
    header.insert("alg".into(), json!(signer.algorithm()));
    header.insert("typ".into(), json!("JOSE"));
    header.insert("kid".into(), json!(signer.key_id()));
    if let Some(jku) = signer.jwks_url() {
        header.insert("jku".into(), json!(jku));
    }
    let header_json = serde_json::to_vec(&Value::Object(header))
        .map_err(|e| SignError::Serialize(e.to_string()))?;
    let protected = URL_SAFE_NO_PAD.encode(header_json);
    let input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload.as_bytes()));
    let sig = signer.sign(input.as_bytes())?;
    card.signatures.push(AgentCardSignature {
        protected,
        signature: URL_SAFE_NO_PAD.encode(sig),
        header: None,
    });
    Ok(())
}

/// Result of checking a card's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardVerification {
    /// At least one signature verified; the `kid` that did.
    Verified {
        /// The key id.
        kid: String,
    },
    /// The card carries no signature.
    Unsigned,
    /// Signatures are present and none verified (tampered card or unknown key).
    Invalid,
}

/// Checks a card's signatures: valid when at least one verifies (spec section 8.4.3).
pub fn verify_card(
    card: &AgentCard,
    verifier: &dyn CardVerifier,
) -> Result<CardVerification, SignError> {
    if card.signatures.is_empty() {
        return Ok(CardVerification::Unsigned);
    }
    let payload = URL_SAFE_NO_PAD.encode(canonical_payload(card)?.as_bytes());
    for sig in &card.signatures {
        let Ok(header_bytes) = URL_SAFE_NO_PAD.decode(&sig.protected) else { continue };
        let Ok(header) = serde_json::from_slice::<Map<String, Value>>(&header_bytes) else {
            continue;
        };
        let (Some(alg), Some(kid)) =
            (header.get("alg").and_then(Value::as_str), header.get("kid").and_then(Value::as_str))
        else {
            continue;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(&sig.signature) else { continue };
        let input = format!("{}.{payload}", sig.protected);
        if verifier.verify(alg, kid, input.as_bytes(), &signature) {
            return Ok(CardVerification::Verified { kid: kid.to_owned() });
        }
    }
    Ok(CardVerification::Invalid)
}

/// ES256 (ECDSA P-256, SHA-256, fixed-size signature) signer on ring.
pub struct Es256CardSigner {
    key: ring::signature::EcdsaKeyPair,
    kid: String,
    jku: Option<String>,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for Es256CardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es256CardSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Es256CardSigner {
    /// Loads a PKCS#8 (DER) P-256 private key.
    pub fn from_pkcs8(pkcs8: &[u8], kid: impl Into<String>) -> Result<Self, SignError> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &rng,
        )
        .map_err(|e| SignError::Key(format!("not a PKCS#8 P-256 key: {e}")))?;
        Ok(Self { key, kid: kid.into(), jku: None, rng })
    }

    /// Generates a fresh key (returns the signer and its PKCS#8 bytes for storage).
    pub fn generate(kid: impl Into<String>) -> Result<(Self, Vec<u8>), SignError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .map_err(|e| SignError::Key(format!("key generation failed: {e}")))?;
        let bytes = doc.as_ref().to_vec();
        Ok((Self::from_pkcs8(&bytes, kid)?, bytes))
    }

    /// Sets the `jku` header.
    #[must_use]
    pub fn with_jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jku = Some(url.into());
        self
    }

    /// The uncompressed SEC1 public key (for building a verifier or a JWK).
    pub fn public_key(&self) -> Vec<u8> {
        use ring::signature::KeyPair as _;
        self.key.public_key().as_ref().to_vec()
    }
}

impl CardSigner for Es256CardSigner {
    fn algorithm(&self) -> &str {
        "ES256"
    }
    fn key_id(&self) -> &str {
        &self.kid
    }
    fn jwks_url(&self) -> Option<&str> {
        self.jku.as_deref()
    }
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key
            .sign(&self.rng, signing_input)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| SignError::Backend(format!("ECDSA signing failed: {e}")))
    }
}

/// ES256 verifier for a fixed set of (kid, SEC1 public key) pairs.
#[derive(Debug, Clone, Default)]
pub struct Es256CardVerifier {
    keys: Vec<(String, Vec<u8>)>,
}

impl Es256CardVerifier {
    /// Trusts `public_key` (uncompressed SEC1) under `kid`.
    #[must_use]
    pub fn with_key(mut self, kid: impl Into<String>, public_key: Vec<u8>) -> Self {
        self.keys.push((kid.into(), public_key));
        self
    }
}

impl CardVerifier for Es256CardVerifier {
    fn verify(&self, alg: &str, kid: &str, signing_input: &[u8], signature: &[u8]) -> bool {
        if alg != "ES256" {
            return false;
        }
        self.keys.iter().filter(|(k, _)| k == kid).any(|(_, pk)| {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, pk)
                .verify(signing_input, signature)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AgentCapabilities, AgentInterface};

    fn card() -> AgentCard {
        AgentCard {
            name: "Example Agent".into(),
            description: String::new(),
            supported_interfaces: vec![AgentInterface {
                url: "https://a.example/a2a".into(),
                protocol_binding: "JSONRPC".into(),
                tenant: String::new(),
                protocol_version: "1.0".into(),
            }],
            provider: None,
            version: "1.0.0".into(),
            documentation_url: None,
            capabilities: AgentCapabilities {
                streaming: Some(false),
                push_notifications: Some(false),
                ..Default::default()
            },
            security_schemes: Default::default(),
            security_requirements: vec![],
            default_input_modes: vec!["text/plain".into()],
            default_output_modes: vec!["text/plain".into()],
            skills: vec![],
            signatures: vec![],
            icon_url: None,
        }
    }

    #[test]
    fn canonical_payload_keeps_required_and_explicit_optionals() {
        let p = canonical_payload(&card()).unwrap();
        assert!(p.starts_with(r#"{"capabilities":{"pushNotifications":false,"streaming":false},"defaultInputModes""#), "{p}");
        assert!(p.contains(r#""description":"""#));
        assert!(p.contains(r#""skills":[]"#));
        assert!(!p.contains("signatures"));
    }

    #[test]
    fn sign_then_verify_and_detect_tampering() {
        let (signer, _) = Es256CardSigner::generate("key-1").unwrap();
        let verifier = Es256CardVerifier::default().with_key("key-1", signer.public_key());
        let mut c = card();
        assert_eq!(verify_card(&c, &verifier).unwrap(), CardVerification::Unsigned);
        sign_card(&mut c, &signer).unwrap();
        assert_eq!(
            verify_card(&c, &verifier).unwrap(),
            CardVerification::Verified { kid: "key-1".into() }
        );
        // Round trip through JSON keeps the signature valid.
        let back: AgentCard = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert!(matches!(
            verify_card(&back, &verifier).unwrap(),
            CardVerification::Verified { .. }
        ));

        let mut tampered = c.clone();
        tampered.supported_interfaces[0].url = "https://evil.example/a2a".into();
        assert_eq!(verify_card(&tampered, &verifier).unwrap(), CardVerification::Invalid);

        let (other, _) = Es256CardSigner::generate("key-1").unwrap();
        let wrong_key = Es256CardVerifier::default().with_key("key-1", other.public_key());
        assert_eq!(verify_card(&c, &wrong_key).unwrap(), CardVerification::Invalid);

        let mut alg_swap = c.clone();
        alg_swap.signatures[0].protected =
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JOSE","kid":"key-1"}"#);
        assert_eq!(verify_card(&alg_swap, &verifier).unwrap(), CardVerification::Invalid);
    }
}

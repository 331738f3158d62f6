//! ES256 keys: generation, PKCS#8 PEM, key ids, JWK/JWKS.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};

use crate::error::KeyError;

/// DER prefix of a P-256 SubjectPublicKeyInfo before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The DER SubjectPublicKeyInfo of an uncompressed P-256 point.
pub fn p256_spki_der(point: &[u8]) -> Vec<u8> {
    let mut der = Vec::with_capacity(P256_SPKI_PREFIX.len() + point.len());
    der.extend_from_slice(&P256_SPKI_PREFIX);
    der.extend_from_slice(point);
    der
}

/// The reference's key id: `<issuer>#key-<first 16 hex of SHA-256(DER SPKI)>`.
///
/// Derived from the public key so that a verifier can recompute it and two keys can never
/// share an id by accident.
pub fn key_id(issuer: &str, point: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, &p256_spki_der(point));
    let hex = hex::encode(d.as_ref());
    format!("{issuer}#key-{}", hex.get(..16).unwrap_or(&hex))
}

/// A P-256 private key, parsed once (ring parsing costs more than a signature's hashing,
/// so keys are never re-parsed per signature).
pub struct SigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key whose id is derived for `issuer`.
    pub fn generate(issuer: &str) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Rng)?;
        Self::from_pkcs8_der(doc.as_ref(), issuer)
    }

    /// Loads a PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8], issuer: &str) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        let kid = key_id(issuer, pair.public_key().as_ref());
        Ok(Self { pair, pkcs8: der.to_vec(), kid })
    }

    /// Loads a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM document, as written by
    /// `openssl genpkey` or Python `cryptography` (the reference's `QWED_A2A_SIGNING_KEY_PEM`).
    pub fn from_pkcs8_pem(pem: &str, issuer: &str) -> Result<Self, KeyError> {
        if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            return Err(KeyError::NotPkcs8Pem(
                "SEC1 'EC PRIVATE KEY' given; convert with openssl pkcs8 -topk8",
            ));
        }
        let begin = "-----BEGIN PRIVATE KEY-----";
        let end = "-----END PRIVATE KEY-----";
        let start =
            pem.find(begin).ok_or(KeyError::NotPkcs8Pem("missing BEGIN line"))? + begin.len();
        let stop = pem
            .get(start..)
            .and_then(|rest| rest.find(end))
            .ok_or(KeyError::NotPkcs8Pem("missing END line"))?;
        let body: String = pem
            .get(start..start + stop)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD.decode(body).map_err(|e| KeyError::PemBase64(e.to_string()))?;
        Self::from_pkcs8_der(&der, issuer)
    }

    /// The key as PKCS#8 PEM (to persist a generated key).
    pub fn to_pkcs8_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.pkcs8);
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        out
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The uncompressed public point (`0x04 || x || y`).
    pub fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> Jwk {
        Jwk::from_point(self.public_point(), &self.kid)
    }

    pub(crate) fn pair(&self) -> &EcdsaKeyPair {
        &self.pair
    }
}

/// An EC P-256 public JSON Web Key (RFC 7517/7518) as the reference publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `EC`.
    pub kty: String,
    /// Always `P-256`.
    pub crv: String,
    /// base64url x coordinate (32 bytes).
    pub x: String,
    /// base64url y coordinate (32 bytes).
    pub y: String,
    /// Key id.
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `ES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

impl Jwk {
    fn from_point(point: &[u8], kid: &str) -> Self {
        let x = point.get(1..33).unwrap_or(&[]);
        let y = point.get(33..65).unwrap_or(&[]);
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
            kid: kid.into(),
            use_: Some("sig".into()),
            alg: Some("ES256".into()),
        }
    }

    /// The uncompressed point, after checking that this is an ES256 signing key.
    pub fn to_point(&self) -> Result<Vec<u8>, KeyError> {
        let bad = |field, problem: &str| KeyError::BadJwk { field, problem: problem.into() };
        if self.kty != "EC" {
            return Err(bad("kty", "must be EC"));
        }
        if self.crv != "P-256" {
            return Err(bad("crv", "must be P-256"));
        }
        if self.alg.as_deref().is_some_and(|a| a != "ES256") {
            return Err(bad("alg", "must be ES256"));
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(bad("use", "must be sig"));
        }
        let coord = |field, s: &str| -> Result<Vec<u8>, KeyError> {
            let v = URL_SAFE_NO_PAD.decode(s).map_err(|e| bad(field, &e.to_string()))?;
            if v.len() != 32 {
                return Err(bad(field, "must be 32 bytes"));
            }
            Ok(v)
        };
        let mut point = vec![0x04];
        point.extend(coord("x", &self.x)?);
        point.extend(coord("y", &self.y)?);
        Ok(point)
    }
}

/// A JWK Set (`{"keys": [...]}`), the document served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_kid() {
        let k = SigningKey::generate("did:example").unwrap();
        let pem = k.to_pkcs8_pem();
        let k2 = SigningKey::from_pkcs8_pem(&pem, "did:example").unwrap();
        assert_eq!(k.kid(), k2.kid());
        assert!(k.kid().starts_with("did:example#key-"));
        assert_eq!(k.kid().len(), "did:example#key-".len() + 16);
        assert!(!format!("{k:?}").contains("BEGIN"));
    }

    #[test]
    fn rejects_bad_pem() {
        let cases = [
            ("no pem here", "BEGIN"),
            ("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----", "SEC1"),
            ("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----", "base64"),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "rejected"),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n", "END"),
        ];
        for (pem, want) in cases {
            let err = SigningKey::from_pkcs8_pem(pem, "i").unwrap_err().to_string();
            assert!(err.contains(want), "{pem}: {err}");
        }
    }

    #[test]
    fn jwk_round_trip_and_validation() {
        let k = SigningKey::generate("i").unwrap();
        let jwk = k.jwk();
        assert_eq!(jwk.to_point().unwrap(), k.public_point());
        let mut bad = jwk.clone();
        bad.crv = "P-384".into();
        assert!(bad.to_point().is_err());
        let mut bad = jwk.clone();
        bad.alg = Some("RS256".into());
        assert!(bad.to_point().is_err());
        let mut bad = jwk;
        bad.x = "AAAA".into();
        assert!(bad.to_point().is_err());
    }
}

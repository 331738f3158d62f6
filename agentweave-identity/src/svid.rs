//! X.509-SVIDs: a certificate chain whose leaf names exactly one SPIFFE ID, and its private key.
//!
//! [`X509Svid::from_der`] is the one door every SVID passes through, whichever provider fetched it,
//! so the X.509-SVID rules are enforced in one place: one URI SAN that is a SPIFFE ID with a path,
//! a leaf that is not a CA, a validity window that contains "now", and a private key that belongs
//! to the leaf's public key.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::der;
use crate::id::{SpiffeId, SpiffeIdError};

/// Why certificate material is not a usable SVID or bundle.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SvidError {
    /// No certificate at all.
    #[error("the certificate chain is empty")]
    EmptyChain,
    /// Concatenated DER that does not split into certificates.
    #[error("certificate #{index} of the DER chain is malformed (bad ASN.1 SEQUENCE header)")]
    MalformedDer {
        /// Position of the bad certificate in the chain, from 0.
        index: usize,
    },
    /// A certificate that X.509 parsing refused.
    #[error("certificate #{index} cannot be parsed: {reason}")]
    BadCertificate {
        /// Position in the chain, from 0.
        index: usize,
        /// The parser's reason.
        reason: String,
    },
    /// PEM input without the expected blocks.
    #[error("PEM input: {0}")]
    Pem(String),
    /// The leaf has no URI SAN.
    #[error("the leaf certificate has no URI SAN, so it names no SPIFFE ID")]
    NoUriSan,
    /// The leaf has several URI SANs (the X.509-SVID spec allows exactly one).
    #[error("the leaf certificate has {count} URI SANs; an X.509-SVID has exactly one")]
    MultipleUriSans {
        /// How many.
        count: usize,
    },
    /// The URI SAN is not a valid SPIFFE ID.
    #[error("the leaf's URI SAN {uri:?} is not a SPIFFE ID: {reason}")]
    NotSpiffeUri {
        /// The URI as found.
        uri: String,
        /// Which SPIFFE ID rule it breaks.
        reason: SpiffeIdError,
    },
    /// The leaf names a bare trust domain (`spiffe://example.org`), which only CAs may.
    #[error("the leaf's SPIFFE ID {id} has no path; leaf SVIDs must name a workload")]
    LeafIdWithoutPath {
        /// The ID.
        id: String,
    },
    /// The leaf is a CA certificate (BasicConstraints CA:true) or may sign certificates.
    #[error(
        "the leaf certificate is a CA certificate (CA:true or keyCertSign); a CA cannot be used as an SVID"
    )]
    LeafIsCa,
    /// The leaf's validity has ended.
    #[error("the SVID expired at {not_after} (unix seconds); now is {now}")]
    Expired {
        /// Expiry, unix seconds.
        not_after: i64,
        /// The time checked against, unix seconds.
        now: i64,
    },
    /// The leaf's validity has not started.
    #[error("the SVID is not valid before {not_before} (unix seconds); now is {now}")]
    NotYetValid {
        /// Start of validity, unix seconds.
        not_before: i64,
        /// The time checked against, unix seconds.
        now: i64,
    },
    /// The private key does not belong to the leaf's public key.
    #[error("the private key does not match the leaf certificate's public key")]
    KeyMismatch,
    /// The private key is not a PKCS#8 key of a supported algorithm.
    #[error(
        "the private key is not a PKCS#8 ECDSA P-256/P-384, Ed25519 or RSA key that ring can load"
    )]
    UnsupportedKey,
}

/// An X.509-SVID: the workload's certificate chain (leaf first) and private key.
///
/// Construct it with [`X509Svid::from_der`] or [`X509Svid::from_pem`]; a value that exists passed
/// every rule of the module documentation at the time it was built.
pub struct X509Svid {
    spiffe_id: SpiffeId,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
    not_before: i64,
    not_after: i64,
    serial_hex: String,
}

impl X509Svid {
    /// Builds an SVID from DER certificates (leaf first) and a PKCS#8 DER private key, checking it
    /// against the current time.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        pkcs8_key: &[u8],
    ) -> Result<Self, SvidError> {
        Self::from_der_at(chain, pkcs8_key, SystemTime::now())
    }

    /// As [`X509Svid::from_der`], with the validity window checked at `now`.
    pub fn from_der_at(
        chain: Vec<CertificateDer<'static>>,
        pkcs8_key: &[u8],
        now: SystemTime,
    ) -> Result<Self, SvidError> {
        let leaf_der = chain.first().ok_or(SvidError::EmptyChain)?;
        let leaf = parse_certificate(leaf_der, 0)?;
        for (index, cert) in chain.iter().enumerate().skip(1) {
            parse_certificate(cert, index)?;
        }
        let spiffe_id = leaf_rules(&leaf)?;
        let not_before = leaf.validity().not_before.timestamp();
        let not_after = leaf.validity().not_after.timestamp();
        let now = unix_seconds(now);
        if now < not_before {
            return Err(SvidError::NotYetValid { not_before, now });
        }
        if now > not_after {
            return Err(SvidError::Expired { not_after, now });
        }
        check_key_matches(pkcs8_key, &leaf.public_key().subject_public_key.data)?;
        let serial_hex = hex_lower(leaf.raw_serial());
        Ok(Self {
            spiffe_id,
            chain,
            key: PrivatePkcs8KeyDer::from(pkcs8_key.to_vec()),
            not_before,
            not_after,
            serial_hex,
        })
    }

    /// Builds an SVID from the Workload API encoding: concatenated DER certificates and a PKCS#8
    /// DER key.
    pub fn from_concatenated_der(chain: &[u8], pkcs8_key: &[u8]) -> Result<Self, SvidError> {
        Self::from_der(der::split_concatenated_der(chain)?, pkcs8_key)
    }

    /// Builds an SVID from PEM: a chain of `CERTIFICATE` blocks (leaf first) and a PKCS#8
    /// `PRIVATE KEY` block.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, SvidError> {
        Self::from_der(der::certs_from_pem(chain_pem)?, &der::pkcs8_key_from_pem(key_pem)?)
    }

    /// The SPIFFE ID named by the leaf.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The leaf certificate.
    #[allow(clippy::indexing_slicing)] // invariant: `from_der_at` refuses an empty chain
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The private key, in the form rustls takes.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// The PKCS#8 DER bytes of the private key (the Workload API's encoding).
    pub fn private_key_pkcs8_der(&self) -> &[u8] {
        self.key.secret_pkcs8_der()
    }

    /// Start of the leaf's validity.
    pub fn not_before(&self) -> SystemTime {
        from_unix_seconds(self.not_before)
    }

    /// End of the leaf's validity.
    pub fn not_after(&self) -> SystemTime {
        from_unix_seconds(self.not_after)
    }

    /// The leaf's serial number as lowercase hex: two SVIDs of one ID differ here after rotation.
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }

    /// True while `now` lies within the leaf's validity window.
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        let now = unix_seconds(now);
        self.not_before <= now && now <= self.not_after
    }

    /// The chain as PEM `CERTIFICATE` blocks, leaf first (the format [`X509Svid::from_pem`] reads).
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| der::pem_encode("CERTIFICATE", c.as_ref())).collect()
    }

    /// The private key as a PKCS#8 `PRIVATE KEY` PEM block. Handle with care: it is the secret.
    pub fn private_key_pem(&self) -> String {
        der::pem_encode("PRIVATE KEY", self.key.secret_pkcs8_der())
    }

    /// The chain as concatenated DER (the Workload API's `x509_svid` field).
    pub fn chain_concatenated_der(&self) -> Vec<u8> {
        self.chain.iter().flat_map(|c| c.as_ref().iter().copied()).collect()
    }
}

impl Clone for X509Svid {
    fn clone(&self) -> Self {
        Self {
            spiffe_id: self.spiffe_id.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            not_before: self.not_before,
            not_after: self.not_after,
            serial_hex: self.serial_hex.clone(),
        }
    }
}

impl fmt::Debug for X509Svid {
    // The private key is deliberately left out so that logs never carry it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X509Svid")
            .field("spiffe_id", &self.spiffe_id)
            .field("serial", &self.serial_hex)
            .field("chain_len", &self.chain.len())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// The SPIFFE ID of a leaf certificate shaped like an X.509-SVID leaf: exactly one URI SAN, a
/// SPIFFE ID with a path, and not a CA. Validity, chain and key are not checked here: this is the
/// structural part that a TLS verifier applies to a peer's certificate (which comes without its
/// key) before choosing the bundle to verify the chain against.
pub fn leaf_spiffe_id(leaf: &CertificateDer<'_>) -> Result<SpiffeId, SvidError> {
    leaf_rules(&parse_certificate(leaf, 0)?)
}

fn leaf_rules(leaf: &X509Certificate<'_>) -> Result<SpiffeId, SvidError> {
    let spiffe_id = single_spiffe_uri(leaf)?;
    if spiffe_id.path().is_empty() {
        return Err(SvidError::LeafIdWithoutPath { id: spiffe_id.to_string() });
    }
    if is_ca(leaf) {
        return Err(SvidError::LeafIsCa);
    }
    Ok(spiffe_id)
}

pub(crate) fn parse_certificate<'a>(
    der: &'a CertificateDer<'_>,
    index: usize,
) -> Result<X509Certificate<'a>, SvidError> {
    match X509Certificate::from_der(der.as_ref()) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(SvidError::BadCertificate {
            index,
            reason: "trailing bytes after the certificate".into(),
        }),
        Err(e) => Err(SvidError::BadCertificate { index, reason: e.to_string() }),
    }
}

/// The one URI SAN of a certificate, parsed as a SPIFFE ID.
pub(crate) fn single_spiffe_uri(cert: &X509Certificate<'_>) -> Result<SpiffeId, SvidError> {
    let san = cert.subject_alternative_name().map_err(|e| SvidError::BadCertificate {
        index: 0,
        reason: format!("SAN extension: {e}"),
    })?;
    let uris: Vec<&str> = san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::URI(uri) => Some(*uri),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    match uris.as_slice() {
        [] => Err(SvidError::NoUriSan),
        [uri] => SpiffeId::parse(uri)
            .map_err(|reason| SvidError::NotSpiffeUri { uri: (*uri).to_owned(), reason }),
        more => Err(SvidError::MultipleUriSans { count: more.len() }),
    }
}

/// CA:true, or a key usage that allows signing certificates, marks a CA. An unparseable
/// extension counts as CA so that the caller refuses the certificate (fail closed).
fn is_ca(cert: &X509Certificate<'_>) -> bool {
    let ca_flag = match cert.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca,
        Ok(None) => false,
        Err(_) => true,
    };
    let signs_certs = match cert.key_usage() {
        Ok(Some(ku)) => ku.value.key_cert_sign() || ku.value.crl_sign(),
        Ok(None) => false,
        Err(_) => true,
    };
    ca_flag || signs_certs
}

/// Loads `pkcs8` with ring under each supported algorithm and compares its public key with the
/// certificate's subjectPublicKey bits (for EC the uncompressed point, for Ed25519 the raw key, for
/// RSA the RSAPublicKey DER: in each case exactly what ring reports).
fn check_key_matches(pkcs8: &[u8], spki_bits: &[u8]) -> Result<(), SvidError> {
    use ring::signature::{self, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let public: Option<Vec<u8>> =
        [&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &signature::ECDSA_P384_SHA384_ASN1_SIGNING]
            .into_iter()
            .find_map(|alg| signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng).ok())
            .map(|k| k.public_key().as_ref().to_vec())
            .or_else(|| {
                signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                    .ok()
                    .map(|k| k.public_key().as_ref().to_vec())
            })
            .or_else(|| {
                signature::RsaKeyPair::from_pkcs8(pkcs8)
                    .ok()
                    .map(|k| k.public_key().as_ref().to_vec())
            });
    match public {
        None => Err(SvidError::UnsupportedKey),
        Some(public) if public == spki_bits => Ok(()),
        Some(_) => Err(SvidError::KeyMismatch),
    }
}

pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn from_unix_seconds(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

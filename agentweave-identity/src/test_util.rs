//! Forged certificates for negative tests (feature `test-util`): the malformed SVIDs every
//! verifier in the workspace must refuse. Never enable this feature in production builds.

use std::time::SystemTime;

use rustls_pki_types::CertificateDer;

use crate::dev::DevIssuer;
use crate::dev::issuer_internals::{leaf_params, new_key, uri_san};
use crate::error::IdentityError;

/// What to get wrong in a forged leaf.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    /// URI SANs to put in the leaf (zero, one, several, non-spiffe…).
    pub uris: Vec<String>,
    /// Mark the leaf CA:true with keyCertSign.
    pub is_ca: bool,
    /// Validity start.
    pub not_before: SystemTime,
    /// Validity end.
    pub not_after: SystemTime,
    /// Return a private key that does not belong to the certificate.
    pub mismatched_key: bool,
}

impl LeafSpec {
    /// A well-formed leaf for `uri`, valid for the next hour; change fields to break it.
    pub fn valid(uri: &str) -> Self {
        let now = SystemTime::now();
        Self {
            uris: vec![uri.to_owned()],
            is_ca: false,
            not_before: now - std::time::Duration::from_secs(60),
            not_after: now + std::time::Duration::from_secs(3600),
            mismatched_key: false,
        }
    }
}

/// A forged leaf: raw material that may well be refused by [`crate::X509Svid::from_der`].
#[derive(Clone, Debug)]
pub struct ForgedLeaf {
    /// The certificate chain (the leaf only).
    pub chain: Vec<CertificateDer<'static>>,
    /// The PKCS#8 DER private key.
    pub pkcs8_key: Vec<u8>,
}

/// Signs a leaf built from `spec` with `issuer`'s CA.
pub fn forge_leaf(issuer: &DevIssuer, spec: &LeafSpec) -> Result<ForgedLeaf, IdentityError> {
    let placeholder = crate::SpiffeId::from_parts(issuer.trust_domain(), "/forged")?;
    let mut params = leaf_params(&placeholder, issuer.config())?;
    params.subject_alt_names = spec.uris.iter().map(|u| uri_san(u)).collect::<Result<_, _>>()?;
    if spec.is_ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages =
            vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    }
    params.not_before = spec.not_before.into();
    params.not_after = spec.not_after.into();
    let key = new_key()?;
    let cert = issuer.sign_raw(&params, &key)?;
    let pkcs8_key =
        if spec.mismatched_key { new_key()?.serialize_der() } else { key.serialize_der() };
    Ok(ForgedLeaf { chain: vec![cert], pkcs8_key })
}

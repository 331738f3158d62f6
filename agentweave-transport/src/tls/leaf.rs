//! The X.509-SVID rules for a peer's leaf certificate, checked before its chain is verified (the
//! leaf's SPIFFE ID picks the bundle to verify against).
//!
//! The identity crate enforces the same rules on our own SVIDs (with their private key); a peer's
//! certificate comes without one, so the structural rules are applied here on the parsed leaf.
//! Validity and chain are left to webpki.

use agentweave_identity::rustls_pki_types::CertificateDer;
use agentweave_identity::{SpiffeId, SvidError};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::error::HandshakeRefusal;

/// The SPIFFE ID of a peer's leaf, if the leaf is shaped like an X.509-SVID leaf: exactly one URI
/// SAN, a SPIFFE ID with a path, and not a CA.
pub(crate) fn peer_spiffe_id(leaf: &CertificateDer<'_>) -> Result<SpiffeId, HandshakeRefusal> {
    let cert = match X509Certificate::from_der(leaf.as_ref()) {
        Ok(([], cert)) => cert,
        Ok(_) => {
            return Err(invalid(SvidError::BadCertificate {
                index: 0,
                reason: "trailing bytes after the certificate".into(),
            }));
        }
        Err(e) => {
            return Err(invalid(SvidError::BadCertificate { index: 0, reason: e.to_string() }));
        }
    };
    let id = single_spiffe_uri(&cert)?;
    if id.path().is_empty() {
        return Err(invalid(SvidError::LeafIdWithoutPath { id: id.to_string() }));
    }
    if is_ca(&cert) {
        return Err(invalid(SvidError::LeafIsCa));
    }
    Ok(id)
}

fn invalid(e: SvidError) -> HandshakeRefusal {
    HandshakeRefusal::InvalidSvid(e)
}

fn single_spiffe_uri(cert: &X509Certificate<'_>) -> Result<SpiffeId, HandshakeRefusal> {
    let san = cert.subject_alternative_name().map_err(|e| {
        invalid(SvidError::BadCertificate { index: 0, reason: format!("SAN extension: {e}") })
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
        [] => Err(invalid(SvidError::NoUriSan)),
        [uri] => SpiffeId::parse(uri)
            .map_err(|reason| invalid(SvidError::NotSpiffeUri { uri: (*uri).to_owned(), reason })),
        more => Err(invalid(SvidError::MultipleUriSans { count: more.len() })),
    }
}

/// CA:true, or a key usage allowing certificate or CRL signing, marks a CA. An extension that does
/// not parse counts as CA, so the leaf is refused (fail closed).
fn is_ca(cert: &X509Certificate<'_>) -> bool {
    let ca_flag = match cert.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca,
        Ok(None) => false,
        Err(_) => true,
    };
    let signs = match cert.key_usage() {
        Ok(Some(ku)) => ku.value.key_cert_sign() || ku.value.crl_sign(),
        Ok(None) => false,
        Err(_) => true,
    };
    ca_flag || signs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_as_a_bad_certificate() {
        for bytes in [&b""[..], b"\x30\x03\x02\x01\x01", b"not a certificate at all"] {
            let r = peer_spiffe_id(&CertificateDer::from(bytes.to_vec()));
            assert!(
                matches!(r, Err(HandshakeRefusal::InvalidSvid(SvidError::BadCertificate { .. }))),
                "{r:?}"
            );
        }
    }
}

//! The X.509-SVID rules for a peer's leaf certificate, checked before its chain is verified (the
//! leaf's SPIFFE ID picks the bundle to verify against).
//!
//! The rules themselves live in the identity crate ([`agentweave_identity::leaf_spiffe_id`]), the
//! same code that checks our own SVIDs, so a peer and we are held to one definition. Validity and
//! chain are left to webpki.

use agentweave_identity::SpiffeId;
use agentweave_identity::rustls_pki_types::CertificateDer;

use crate::error::HandshakeRefusal;

/// The SPIFFE ID of a peer's leaf, if the leaf is shaped like an X.509-SVID leaf: exactly one URI
/// SAN, a SPIFFE ID with a path, and not a CA.
pub(crate) fn peer_spiffe_id(leaf: &CertificateDer<'_>) -> Result<SpiffeId, HandshakeRefusal> {
    agentweave_identity::leaf_spiffe_id(leaf).map_err(HandshakeRefusal::InvalidSvid)
}

#[cfg(test)]
mod tests {
    use agentweave_identity::SvidError;

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

//! rustls certificate verifiers that authenticate peers by SPIFFE ID instead of host name.
//!
//! Both sides apply the same steps, in this order:
//! 1. the leaf is shaped like an X.509-SVID (exactly one URI SAN, a SPIFFE ID with a path, not a
//!    CA) — [`super::leaf`];
//! 2. the leaf's trust domain has a bundle in the current snapshot (our own or a federated one);
//! 3. webpki verifies the chain against that bundle only: signatures, validity now, and the
//!    clientAuth/serverAuth EKU;
//! 4. the SPIFFE ID satisfies the expectation (always on the client; on the server when a client
//!    policy is configured).
//!
//! A refusal travels through rustls as `CertificateError::Other` carrying the
//! [`HandshakeRefusal`], so the side that refused can report the exact rule.

use std::sync::Arc;

use agentweave_identity::rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error as TlsError, OtherError,
    SignatureScheme,
};

use super::leaf::peer_spiffe_id;
use super::trust::{PeerRole, TrustCache};
use crate::error::HandshakeRefusal;
use crate::peer::ExpectedPeer;

/// Wraps a refusal so that it survives the trip through rustls.
pub(crate) fn refuse(reason: HandshakeRefusal) -> TlsError {
    TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(reason))))
}

fn verify_peer(
    trust: &TrustCache,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
    role: PeerRole,
    expected: Option<&ExpectedPeer>,
) -> Result<(), TlsError> {
    let id = peer_spiffe_id(end_entity).map_err(refuse)?;
    trust.verify_chain(&id, end_entity, intermediates, now, role).map_err(refuse)?;
    if let Some(expected) = expected
        && !expected.matches(&id)
    {
        return Err(refuse(HandshakeRefusal::PeerMismatch {
            expected: expected.to_string(),
            presented: id,
        }));
    }
    Ok(())
}

/// Server side: requires and verifies the client's X.509-SVID.
#[derive(Debug)]
pub(crate) struct SpiffeClientVerifier {
    trust: Arc<TrustCache>,
    /// `None`: any SPIFFE ID of a trusted trust domain (authorization decides the rest).
    allowed: Option<ExpectedPeer>,
}

impl SpiffeClientVerifier {
    pub(crate) fn new(trust: Arc<TrustCache>, allowed: Option<ExpectedPeer>) -> Self {
        Self { trust, allowed }
    }
}

impl ClientCertVerifier for SpiffeClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Clients hold one SVID; hinting CA names would only leak the bundle set.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, TlsError> {
        verify_peer(
            &self.trust,
            end_entity,
            intermediates,
            now,
            PeerRole::Client,
            self.allowed.as_ref(),
        )?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.trust.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.trust.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.algorithms().supported_schemes()
    }
}

/// Client side: verifies the server's X.509-SVID and that it proves the expected identity.
#[derive(Debug)]
pub(crate) struct SpiffeServerVerifier {
    trust: Arc<TrustCache>,
    expected: ExpectedPeer,
}

impl SpiffeServerVerifier {
    pub(crate) fn new(trust: Arc<TrustCache>, expected: ExpectedPeer) -> Self {
        Self { trust, expected }
    }
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        // SPIFFE authenticates by URI SAN; the host we dialled is not part of the identity.
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        verify_peer(
            &self.trust,
            end_entity,
            intermediates,
            now,
            PeerRole::Server,
            Some(&self.expected),
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.trust.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.trust.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.algorithms().supported_schemes()
    }
}

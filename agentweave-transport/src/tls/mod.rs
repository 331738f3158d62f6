//! rustls configuration for SPIFFE mutual TLS: the ring provider, the protocol version policy, and
//! [`SpiffeTls`], which builds server and client configs that read the current identity on every
//! handshake.
//!
//! Session resumption is disabled on both sides: a resumed session skips certificate verification,
//! so a peer whose SVID expired or whose trust domain was removed from the bundle set could resume
//! an old session. Every connection is a full handshake verified against the bundles in force, and
//! the client's connection pool makes that cost rare.

mod classify;
mod leaf;
mod resolver;
mod trust;
mod verifier;

use std::sync::{Arc, OnceLock};

use agentweave_identity::rustls_pki_types::CertificateDer;
use agentweave_identity::{IdentityProvider, SpiffeId};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::NoServerSessionStorage;
use rustls::{ClientConfig, ServerConfig, SupportedProtocolVersion};

pub(crate) use classify::classify_io;
pub(crate) use leaf::peer_spiffe_id;
use resolver::SvidResolver;
use trust::TrustCache;
use verifier::{SpiffeClientVerifier, SpiffeServerVerifier};

use crate::error::{HandshakeRefusal, TransportError};
use crate::peer::ExpectedPeer;

/// ALPN identifier of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN identifier of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The one crypto provider of the workspace: ring, chosen explicitly so that rustls never falls
/// back to a process default (and aws-lc-rs stays out of the build).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// Which TLS versions to speak. There is no option below TLS 1.2 (rustls has none either).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.3 only (the default): peers offering only TLS 1.2 are refused.
    #[default]
    Tls13Only,
    /// TLS 1.3 preferred, TLS 1.2 accepted (for peers that cannot do 1.3). A warning is logged
    /// whenever a config is built with this.
    AllowTls12,
}

impl TlsVersions {
    fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
        static BOTH: &[&SupportedProtocolVersion] =
            &[&rustls::version::TLS13, &rustls::version::TLS12];
        match self {
            Self::Tls13Only => TLS13,
            Self::AllowTls12 => {
                tracing::warn!(
                    "TLS 1.2 is enabled for mTLS; TLS 1.3 is the default and should be restored once every peer supports it"
                );
                BOTH
            }
        }
    }
}

/// Which HTTP versions the client offers by ALPN (the server always accepts both).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpVersions {
    /// Offer HTTP/2 and HTTP/1.1; the server picks (the default).
    #[default]
    Auto,
    /// Offer HTTP/1.1 only.
    Http1Only,
    /// Offer HTTP/2 only.
    Http2Only,
}

impl HttpVersions {
    fn alpn(self) -> Vec<Vec<u8>> {
        match self {
            Self::Auto => vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()],
            Self::Http1Only => vec![ALPN_HTTP11.to_vec()],
            Self::Http2Only => vec![ALPN_H2.to_vec()],
        }
    }
}

/// Builds rustls configs whose certificate and trust come from an [`IdentityProvider`] at each
/// handshake. One value serves any number of configs and shares their caches (one parsed key per
/// SVID, one webpki verifier per trust bundle).
#[derive(Clone, Debug)]
pub struct SpiffeTls {
    provider: Arc<CryptoProvider>,
    resolver: Arc<SvidResolver>,
    trust: Arc<TrustCache>,
    versions: TlsVersions,
}

impl SpiffeTls {
    /// Follows `identity`'s snapshots.
    pub fn new(identity: &dyn IdentityProvider, versions: TlsVersions) -> Self {
        let provider = crypto_provider();
        Self {
            resolver: Arc::new(SvidResolver::new(identity.watch(), provider.clone())),
            trust: Arc::new(TrustCache::new(identity.watch(), provider.clone())),
            provider,
            versions,
        }
    }

    /// A server config that requires a client X.509-SVID from a trusted trust domain and, when
    /// `allowed_clients` is set, one matching it. ALPN: `h2`, `http/1.1`.
    pub fn server_config(
        &self,
        allowed_clients: Option<ExpectedPeer>,
    ) -> Result<Arc<ServerConfig>, TransportError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(self.versions.versions())
            .map_err(|e| TransportError::Config(format!("TLS versions: {e}")))?
            .with_client_cert_verifier(Arc::new(SpiffeClientVerifier::new(
                self.trust.clone(),
                allowed_clients,
            )))
            .with_cert_resolver(self.resolver.clone());
        config.alpn_protocols = HttpVersions::Auto.alpn();
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }

    /// A client config that presents our SVID and refuses any server that does not prove an
    /// identity matching `expected`.
    pub fn client_config(
        &self,
        expected: ExpectedPeer,
        http: HttpVersions,
    ) -> Result<Arc<ClientConfig>, TransportError> {
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(self.versions.versions())
            .map_err(|e| TransportError::Config(format!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SpiffeServerVerifier::new(
                self.trust.clone(),
                expected,
            )))
            .with_client_cert_resolver(self.resolver.clone());
        config.alpn_protocols = http.alpn();
        config.resumption = Resumption::disabled();
        Ok(Arc::new(config))
    }
}

/// The SPIFFE ID of a verified peer, from the certificates rustls kept after the handshake.
pub fn verified_peer_id(
    peer_certificates: Option<&[CertificateDer<'static>]>,
) -> Result<SpiffeId, HandshakeRefusal> {
    let leaf = peer_certificates
        .and_then(|certs| certs.first())
        .ok_or(HandshakeRefusal::NoPeerCertificate)?;
    peer_spiffe_id(leaf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_ring_and_never_offers_below_tls12() {
        let provider = crypto_provider();
        assert!(
            provider.cipher_suites.iter().all(|s| {
                let v = s.version().version;
                v == rustls::ProtocolVersion::TLSv1_3 || v == rustls::ProtocolVersion::TLSv1_2
            }),
            "only TLS 1.2/1.3 suites"
        );
        let ring = rustls::crypto::ring::default_provider();
        assert_eq!(provider.cipher_suites.len(), ring.cipher_suites.len());
        assert_eq!(TlsVersions::default().versions().len(), 1, "1.3 only by default");
        assert_eq!(TlsVersions::default().versions()[0].version, rustls::ProtocolVersion::TLSv1_3);
    }
}

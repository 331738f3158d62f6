//! Hands rustls the current SVID on every handshake, so that a rotation applies to the next
//! connection without rebuilding any config; connections already open keep the key they were made
//! with.

use std::sync::{Arc, Mutex, PoisonError};

use agentweave_identity::{IdentitySnapshot, X509Svid};
use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

/// Resolves our certificate from the identity provider's current snapshot. The rustls
/// `CertifiedKey` (which holds the parsed signing key) is built once per SVID serial and reused.
pub(crate) struct SvidResolver {
    identity: watch::Receiver<Arc<IdentitySnapshot>>,
    provider: Arc<CryptoProvider>,
    cached: Mutex<Option<(Arc<X509Svid>, Arc<CertifiedKey>)>>,
}

impl std::fmt::Debug for SvidResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SvidResolver").finish_non_exhaustive()
    }
}

impl SvidResolver {
    pub(crate) fn new(
        identity: watch::Receiver<Arc<IdentitySnapshot>>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self { identity, provider, cached: Mutex::new(None) }
    }

    /// The certified key of the SVID in force now; `None` (the handshake then fails and the
    /// peer sees no certificate) only if our own key cannot be loaded, which is logged.
    pub(crate) fn current(&self) -> Option<Arc<CertifiedKey>> {
        let svid = self.identity.borrow().svid.clone();
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((held, key)) = cached.as_ref()
            && (Arc::ptr_eq(held, &svid)
                || (held.serial_hex() == svid.serial_hex() && held.spiffe_id() == svid.spiffe_id()))
        {
            return Some(key.clone());
        }
        match self.provider.key_provider.load_private_key(svid.private_key()) {
            Ok(signing_key) => {
                let key = Arc::new(CertifiedKey::new(svid.chain().to_vec(), signing_key));
                tracing::debug!(spiffe_id = %svid.spiffe_id(), serial = svid.serial_hex(),
                    "TLS now presents a new SVID");
                *cached = Some((svid, key.clone()));
                Some(key)
            }
            Err(error) => {
                tracing::error!(spiffe_id = %svid.spiffe_id(), %error,
                    "our SVID's private key cannot be loaded by the TLS provider");
                None
            }
        }
    }
}

impl ResolvesServerCert for SvidResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

impl ResolvesClientCert for SvidResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.current()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

//! Per-trust-domain chain verification against the bundles of the current identity snapshot.
//!
//! A peer is verified against the bundle of its OWN trust domain (named by its leaf's URI SAN),
//! never against the union of every bundle: a CA of a federated domain cannot vouch for IDs of
//! ours. The webpki state built from a bundle is cached and reused until the bundle changes, so a
//! handshake does not re-parse trust anchors.
//!
//! Servers are verified with `verify_server_cert_signed_by_trust_anchor` rather than
//! `WebPkiServerVerifier`, because the latter insists on a DNS/IP name check that SPIFFE does not
//! use; chain, signatures, validity and the serverAuth EKU are still webpki's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use agentweave_identity::rustls_pki_types::{CertificateDer, UnixTime};
use agentweave_identity::{IdentitySnapshot, SpiffeId, SvidError, TrustBundle, TrustDomain};
use rustls::RootCertStore;
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{CertificateError, Error as TlsError};
use tokio::sync::watch;

use crate::error::HandshakeRefusal;

/// The webpki state for one bundle.
#[derive(Clone)]
struct Anchors {
    bundle: Arc<TrustBundle>,
    roots: Arc<RootCertStore>,
    client_verifier: Arc<dyn ClientCertVerifier>,
}

/// Verifies peer chains against the current bundles of an identity provider.
pub(crate) struct TrustCache {
    identity: watch::Receiver<Arc<IdentitySnapshot>>,
    provider: Arc<CryptoProvider>,
    anchors: Mutex<HashMap<TrustDomain, Anchors>>,
}

impl std::fmt::Debug for TrustCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustCache").finish_non_exhaustive()
    }
}

/// Which side of the handshake the peer is on (decides the EKU webpki requires).
#[derive(Clone, Copy, Debug)]
pub(crate) enum PeerRole {
    /// The peer is a client: its leaf must carry clientAuth.
    Client,
    /// The peer is a server: its leaf must carry serverAuth.
    Server,
}

impl TrustCache {
    pub(crate) fn new(
        identity: watch::Receiver<Arc<IdentitySnapshot>>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self { identity, provider, anchors: Mutex::new(HashMap::new()) }
    }

    /// The signature algorithms handshake signatures are checked with (both verifiers).
    pub(crate) fn algorithms(&self) -> &rustls::crypto::WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }

    /// Verifies `end_entity` (whose leaf names `id`) and `intermediates` against the bundle of
    /// `id`'s trust domain: signatures, validity at `now`, and the EKU for `role`.
    pub(crate) fn verify_chain(
        &self,
        id: &SpiffeId,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        role: PeerRole,
    ) -> Result<(), HandshakeRefusal> {
        let anchors = self.anchors_for(&id.trust_domain())?;
        let result = match role {
            PeerRole::Client => anchors
                .client_verifier
                .verify_client_cert(end_entity, intermediates, now)
                .map(|_| ()),
            PeerRole::Server => ParsedCertificate::try_from(end_entity).and_then(|parsed| {
                verify_server_cert_signed_by_trust_anchor(
                    &parsed,
                    &anchors.roots,
                    intermediates,
                    now,
                    self.provider.signature_verification_algorithms.all,
                )
            }),
        };
        result.map_err(|e| chain_refusal(id, e))
    }

    fn anchors_for(&self, td: &TrustDomain) -> Result<Anchors, HandshakeRefusal> {
        let snapshot = self.identity.borrow().clone();
        let bundle = snapshot.bundles.bundle_for(td).ok_or_else(|| {
            HandshakeRefusal::TrustDomainNotTrusted { trust_domain: td.to_string() }
        })?;
        let mut cache = self.anchors.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = cache.get(td)
            && (Arc::ptr_eq(&cached.bundle, bundle) || cached.bundle == *bundle)
        {
            return Ok(cached.clone());
        }
        let built = self.build(bundle)?;
        // Forget domains that are no longer trusted, so the cache never outgrows the bundle set.
        cache.retain(|domain, _| snapshot.bundles.bundle_for(domain).is_some());
        cache.insert(td.clone(), built.clone());
        tracing::debug!(trust_domain = %td, "built verifier for trust bundle");
        Ok(built)
    }

    fn build(&self, bundle: &Arc<TrustBundle>) -> Result<Anchors, HandshakeRefusal> {
        let mut roots = RootCertStore::empty();
        for authority in bundle.authorities() {
            if let Err(error) = roots.add(authority.clone()) {
                tracing::warn!(trust_domain = %bundle.trust_domain(), %error,
                    "skipping a bundle authority webpki cannot use as a trust anchor");
            }
        }
        if roots.is_empty() {
            return Err(HandshakeRefusal::TrustDomainNotTrusted {
                trust_domain: format!(
                    "{} (its bundle has no usable authority)",
                    bundle.trust_domain()
                ),
            });
        }
        let roots = Arc::new(roots);
        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), self.provider.clone())
                .build()
                .map_err(|e| HandshakeRefusal::Tls { detail: format!("client verifier: {e}") })?;
        Ok(Anchors { bundle: bundle.clone(), roots, client_verifier })
    }
}

/// Maps a webpki verdict to the refusal that names the rule.
fn chain_refusal(id: &SpiffeId, error: TlsError) -> HandshakeRefusal {
    let spiffe_id = id.to_string();
    match error {
        TlsError::InvalidCertificate(cert) => match cert {
            // A bad signature in chain building means an authority of the bundle with the issuer's
            // name did not sign the certificate: a rogue CA that copied the name.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                HandshakeRefusal::UntrustedIssuer { spiffe_id }
            }
            CertificateError::ExpiredContext { time, not_after } => {
                HandshakeRefusal::InvalidSvid(SvidError::Expired {
                    not_after: secs(not_after),
                    now: secs(time),
                })
            }
            CertificateError::NotValidYetContext { time, not_before } => {
                HandshakeRefusal::InvalidSvid(SvidError::NotYetValid {
                    not_before: secs(not_before),
                    now: secs(time),
                })
            }
            CertificateError::Expired => {
                HandshakeRefusal::InvalidSvid(SvidError::Expired { not_after: 0, now: 0 })
            }
            CertificateError::NotValidYet => {
                HandshakeRefusal::InvalidSvid(SvidError::NotYetValid { not_before: 0, now: 0 })
            }
            other => {
                HandshakeRefusal::CertificateRejected { spiffe_id, detail: format!("{other:?}") }
            }
        },
        other => HandshakeRefusal::CertificateRejected { spiffe_id, detail: other.to_string() },
    }
}

fn secs(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

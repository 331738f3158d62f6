//! The dev issuer: an in-process CA that issues short-lived X.509-SVIDs to registered SPIFFE IDs
//! and renews them at half-life, so that everything runs without SPIRE.
//!
//! How this differs from a real deployment: SPIRE *attests* a workload (by its process, container
//! or Kubernetes service account) before it hands out an SVID, and registration entries map those
//! selectors to SPIFFE IDs. The dev issuer trusts whoever asks: registration is by SPIFFE ID alone,
//! and each [`super::DevWorkloadApiServer`] socket serves the identities it was started with. Its CA
//! key lives in memory and is gone when the process ends. Use it for development, tests and the
//! quickstart; production configuration refuses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::bundle::{TrustBundle, TrustBundleSet};
use crate::error::IdentityError;
use crate::id::{SpiffeId, TrustDomain};
use crate::svid::X509Svid;

/// How long SVIDs and the CA live.
#[derive(Clone, Debug)]
pub struct DevIssuerConfig {
    /// Lifetime of each SVID. Default: one hour, SPIRE's default X.509-SVID TTL. Renewal happens
    /// at half of it.
    pub svid_ttl: Duration,
    /// Lifetime of the CA certificate. Default: 30 days.
    pub ca_ttl: Duration,
    /// How far `not_before` is set in the past, to tolerate clock skew between processes.
    /// Default: 30 seconds.
    pub backdate: Duration,
}

impl Default for DevIssuerConfig {
    fn default() -> Self {
        Self {
            svid_ttl: Duration::from_secs(3600),
            ca_ttl: Duration::from_secs(30 * 24 * 3600),
            backdate: Duration::from_secs(30),
        }
    }
}

struct Registration {
    sender: watch::Sender<Arc<X509Svid>>,
    renew_at: Instant,
}

/// An in-process certificate authority for one trust domain. See the module documentation.
pub struct DevIssuer {
    trust_domain: TrustDomain,
    config: DevIssuerConfig,
    ca: Issuer<'static, KeyPair>,
    bundle: TrustBundle,
    registrations: Mutex<HashMap<SpiffeId, Registration>>,
    bundles: watch::Sender<Arc<TrustBundleSet>>,
    /// Wakes the renewal task when a registration changes its schedule. `notify_one` keeps a
    /// permit when the task is busy, so no wake-up is lost.
    wake: Arc<Notify>,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("trust_domain", &self.trust_domain)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Creates the CA and starts the renewal task on the current tokio runtime.
    pub fn start(
        trust_domain: TrustDomain,
        config: DevIssuerConfig,
    ) -> Result<Arc<Self>, IdentityError> {
        let issuer = Arc::new(Self::new(trust_domain, config)?);
        tokio::spawn(renewal_loop(Arc::downgrade(&issuer)));
        Ok(issuer)
    }

    fn new(trust_domain: TrustDomain, config: DevIssuerConfig) -> Result<Self, IdentityError> {
        let key = new_key()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "AgentWeave dev issuer");
        dn.push(DnType::CommonName, format!("{trust_domain} dev CA"));
        params.distinguished_name = dn;
        params.subject_alt_names = vec![uri_san(&trust_domain.id_string())?];
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = SystemTime::now();
        params.not_before = (now - config.backdate).into();
        params.not_after = (now + config.ca_ttl).into();
        params.serial_number = Some(random_serial()?);
        params.use_authority_key_identifier_extension = false;
        let ca_cert = params.self_signed(&key).map_err(issuer_error)?;
        let bundle = TrustBundle::from_der(trust_domain.clone(), vec![ca_cert.der().clone()])?;
        let bundles = watch::Sender::new(Arc::new(TrustBundleSet::from_iter([bundle.clone()])));
        Ok(Self {
            trust_domain,
            config,
            ca: Issuer::new(params, key),
            bundle,
            registrations: Mutex::new(HashMap::new()),
            bundles,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The trust domain this CA vouches for.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The configuration in force.
    pub fn config(&self) -> &DevIssuerConfig {
        &self.config
    }

    /// This CA's own bundle (its certificate).
    pub fn bundle(&self) -> &TrustBundle {
        &self.bundle
    }

    /// Every bundle a workload of this issuer should trust: ours and the federated ones. The
    /// receiver wakes when a federated bundle is added.
    pub fn bundles(&self) -> watch::Receiver<Arc<TrustBundleSet>> {
        self.bundles.subscribe()
    }

    /// Trusts another trust domain's bundle (federation). Replaces an earlier bundle of that domain;
    /// our own domain's bundle cannot be replaced this way.
    pub fn federate_with(&self, bundle: TrustBundle) -> Result<(), IdentityError> {
        if bundle.trust_domain() == &self.trust_domain {
            return Err(IdentityError::Issuer(format!(
                "cannot federate with our own trust domain {}",
                self.trust_domain
            )));
        }
        self.bundles.send_modify(|set| Arc::make_mut(set).insert(bundle));
        Ok(())
    }

    /// Registers `id` (which must belong to this trust domain) and returns a receiver of its
    /// current SVID, renewed at half-life. Registering an ID twice returns the same stream.
    pub fn register(&self, id: &SpiffeId) -> Result<watch::Receiver<Arc<X509Svid>>, IdentityError> {
        if let Some(existing) = self.lock().get(id) {
            return Ok(existing.sender.subscribe());
        }
        let svid = self.issue(id)?;
        let mut registrations = self.lock();
        let registration = registrations.entry(id.clone()).or_insert_with(|| Registration {
            sender: watch::Sender::new(Arc::new(svid)),
            renew_at: Instant::now() + self.config.svid_ttl / 2,
        });
        let receiver = registration.sender.subscribe();
        drop(registrations);
        self.wake.notify_one();
        Ok(receiver)
    }

    /// Forces a renewal of `id`'s SVID now (a new key and serial, the same SPIFFE ID).
    pub fn rotate(&self, id: &SpiffeId) -> Result<(), IdentityError> {
        let svid = self.issue(id)?;
        let mut registrations = self.lock();
        let registration = registrations
            .get_mut(id)
            .ok_or_else(|| IdentityError::Issuer(format!("{id} is not registered")))?;
        registration.sender.send_replace(Arc::new(svid));
        registration.renew_at = Instant::now() + self.config.svid_ttl / 2;
        Ok(())
    }

    /// Forces a renewal of every registered SVID.
    pub fn rotate_all(&self) -> Result<(), IdentityError> {
        let ids: Vec<SpiffeId> = self.lock().keys().cloned().collect();
        ids.iter().try_for_each(|id| self.rotate(id))
    }

    /// Issues a one-off SVID for `id` without registering it.
    pub fn issue(&self, id: &SpiffeId) -> Result<X509Svid, IdentityError> {
        if !id.is_member_of(&self.trust_domain) {
            return Err(IdentityError::Issuer(format!(
                "{id} is not in this issuer's trust domain {}",
                self.trust_domain
            )));
        }
        let key = new_key()?;
        let params = leaf_params(id, &self.config)?;
        let cert = params.signed_by(&key, &self.ca).map_err(issuer_error)?;
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        Ok(X509Svid::from_der(chain, &key.serialize_der())?)
    }

    /// Signs a leaf certificate from arbitrary parameters. Only the test utilities use this, to
    /// forge the malformed SVIDs our verifiers must refuse.
    #[cfg(feature = "test-util")]
    pub(crate) fn sign_raw(
        &self,
        params: &CertificateParams,
        key: &KeyPair,
    ) -> Result<CertificateDer<'static>, IdentityError> {
        let cert = params.signed_by(key, &self.ca).map_err(issuer_error)?;
        Ok(CertificateDer::from(cert.der().to_vec()))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SpiffeId, Registration>> {
        // A panic while holding this lock cannot leave the map inconsistent (every update is a
        // single insert or replace), so a poisoned lock is still safe to use.
        self.registrations.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Renews every registration that is due and returns the next due time.
    fn renew_due(&self) -> Option<Instant> {
        let now = Instant::now();
        let due: Vec<SpiffeId> = self
            .lock()
            .iter()
            .filter(|(_, r)| r.renew_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Err(error) = self.rotate(&id) {
                tracing::error!(%id, %error, "dev issuer could not renew an SVID");
            } else {
                tracing::debug!(%id, "dev issuer renewed an SVID at half-life");
            }
        }
        self.lock().values().map(|r| r.renew_at).min()
    }
}

/// Renews SVIDs at half-life until the issuer is dropped.
async fn renewal_loop(issuer: Weak<DevIssuer>) {
    loop {
        let Some(strong) = issuer.upgrade() else { return };
        let next = strong.renew_due();
        let wake = strong.wake.clone();
        drop(strong);
        // Wake at the next renewal, on a schedule change, or at least every 5 s to notice that the
        // issuer was dropped.
        let idle_check = Instant::now() + Duration::from_secs(5);
        let deadline = next.map_or(idle_check, |at| at.min(idle_check));
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = wake.notified() => {}
        }
    }
}

pub(crate) fn leaf_params(
    id: &SpiffeId,
    config: &DevIssuerConfig,
) -> Result<CertificateParams, IdentityError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "AgentWeave dev SVID");
    params.distinguished_name = dn;
    params.subject_alt_names = vec![uri_san(id.as_str())?];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Both, or TLS stacks refuse the SVID on one side of mTLS (design.md, "Known traps").
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let now = SystemTime::now();
    params.not_before = (now - config.backdate).into();
    params.not_after = (now + config.svid_ttl).into();
    params.serial_number = Some(random_serial()?);
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

pub(crate) fn uri_san(uri: &str) -> Result<SanType, IdentityError> {
    let ia5 = rcgen::string::Ia5String::try_from(uri).map_err(issuer_error)?;
    Ok(SanType::URI(ia5))
}

pub(crate) fn new_key() -> Result<KeyPair, IdentityError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(issuer_error)
}

/// A random positive 16-byte serial (RFC 5280 allows up to 20 octets; the top bit is cleared so
/// that the DER INTEGER stays positive).
fn random_serial() -> Result<SerialNumber, IdentityError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IdentityError::Issuer("the system random generator failed".into()))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

pub(crate) fn issuer_error(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Issuer(e.to_string())
}

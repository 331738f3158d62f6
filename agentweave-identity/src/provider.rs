//! The `IdentityProvider` trait: where this workload's SVID and trust bundles come from.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;

use crate::bundle::{TrustBundle, TrustBundleSet};
use crate::id::{SpiffeId, TrustDomain};
use crate::svid::X509Svid;

/// Everything a TLS stack needs at one moment: our SVID and the bundles we trust.
///
/// Providers publish a new snapshot on every rotation; consumers take the current one per
/// handshake, so a rotation applies to the next connection without a restart while connections
/// already open keep the material they were made with.
#[derive(Clone, Debug)]
pub struct IdentitySnapshot {
    /// This workload's SVID.
    pub svid: Arc<X509Svid>,
    /// Bundles for our trust domain and every federated one.
    pub bundles: Arc<TrustBundleSet>,
}

impl IdentitySnapshot {
    /// Pairs an SVID with bundles; the bundle set must contain the SVID's own trust domain, or no
    /// peer of our domain could ever be verified.
    pub fn new(svid: X509Svid, bundles: TrustBundleSet) -> Result<Self, crate::IdentityError> {
        let own = svid.spiffe_id().trust_domain();
        if bundles.bundle_for(&own).is_none() {
            return Err(crate::IdentityError::MissingOwnBundle { trust_domain: own.to_string() });
        }
        Ok(Self { svid: Arc::new(svid), bundles: Arc::new(bundles) })
    }

    /// True while the SVID is within its validity window (readiness probes use this).
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        self.svid.is_valid_at(now)
    }
}

/// A source of workload identity: the SVID this workload presents and the bundles it trusts.
///
/// Implementations are constructed asynchronously and only return once they hold a valid
/// identity, so every method here is cheap and never blocks: the TLS layer calls [`current`]
/// on each handshake.
///
/// # Implementing
///
/// Keep a [`tokio::sync::watch`] channel of snapshots, publish on rotation, and hand out
/// receivers. [`IdentityPublisher`] does exactly that:
///
/// ```
/// use std::sync::Arc;
/// use agentweave_identity::{IdentityProvider, IdentityPublisher, IdentitySnapshot};
///
/// /// An identity fixed at construction (a test double, or a workload with an external rotator).
/// #[derive(Debug)]
/// struct FixedIdentity(IdentityPublisher);
///
/// impl IdentityProvider for FixedIdentity {
///     fn watch(&self) -> tokio::sync::watch::Receiver<Arc<IdentitySnapshot>> {
///         self.0.subscribe()
///     }
/// }
/// ```
///
/// [`current`]: IdentityProvider::current
pub trait IdentityProvider: Send + Sync + fmt::Debug + 'static {
    /// A receiver that always holds the current snapshot and wakes on every rotation.
    fn watch(&self) -> watch::Receiver<Arc<IdentitySnapshot>>;

    /// The snapshot in force now.
    fn current(&self) -> Arc<IdentitySnapshot> {
        self.watch().borrow().clone()
    }

    /// This workload's SPIFFE ID (from the current SVID).
    fn spiffe_id(&self) -> SpiffeId {
        self.current().svid.spiffe_id().clone()
    }

    /// The current SVID.
    fn svid(&self) -> Arc<X509Svid> {
        self.current().svid.clone()
    }

    /// The bundle for `trust_domain`, if we trust it.
    fn bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<TrustBundle>> {
        self.current().bundles.bundle_for(trust_domain).cloned()
    }
}

/// The sending side of a provider's snapshot channel, shared by our providers.
#[derive(Debug)]
pub struct IdentityPublisher {
    sender: watch::Sender<Arc<IdentitySnapshot>>,
}

impl IdentityPublisher {
    /// Starts publishing with an initial snapshot.
    pub fn new(initial: IdentitySnapshot) -> Self {
        Self { sender: watch::Sender::new(Arc::new(initial)) }
    }

    /// Publishes a rotation to every receiver.
    pub fn publish(&self, snapshot: IdentitySnapshot) {
        self.sender.send_replace(Arc::new(snapshot));
    }

    /// A new receiver of snapshots.
    pub fn subscribe(&self) -> watch::Receiver<Arc<IdentitySnapshot>> {
        self.sender.subscribe()
    }

    /// The snapshot in force now.
    pub fn current(&self) -> Arc<IdentitySnapshot> {
        self.sender.borrow().clone()
    }
}

impl<P: IdentityProvider + ?Sized> IdentityProvider for Arc<P> {
    fn watch(&self) -> watch::Receiver<Arc<IdentitySnapshot>> {
        (**self).watch()
    }
    fn current(&self) -> Arc<IdentitySnapshot> {
        (**self).current()
    }
}

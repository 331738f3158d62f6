//! Test doubles (feature `test-util`): an in-process identity provider fed by a
//! [`DevIssuer`], without a Workload API socket. Never enable this feature in production builds.

use std::sync::Arc;

pub use crate::accept_any_server::AcceptAnyServer;
pub use crate::stock_tls::stock_mtls_configs;

use agentweave_identity::dev::DevIssuer;
use agentweave_identity::{
    IdentityError, IdentityProvider, IdentityPublisher, IdentitySnapshot, SpiffeId, TrustBundleSet,
    X509Svid,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// An [`IdentityProvider`] that follows one registered ID of a [`DevIssuer`]: it publishes every
/// renewal (at half-life, or forced with [`DevIdentity::rotate`]) and every change of the issuer's
/// bundle set (federation).
#[derive(Debug)]
pub struct DevIdentity {
    issuer: Arc<DevIssuer>,
    id: SpiffeId,
    publisher: Arc<IdentityPublisher>,
    svids: watch::Receiver<Arc<X509Svid>>,
    bundles: watch::Receiver<Arc<TrustBundleSet>>,
    follower: JoinHandle<()>,
}

impl DevIdentity {
    /// Registers `id` with `issuer` and starts following it (needs a tokio runtime).
    pub fn start(issuer: &Arc<DevIssuer>, id: &SpiffeId) -> Result<Arc<Self>, IdentityError> {
        let svids = issuer.register(id)?;
        let bundles = issuer.bundles();
        let publisher = Arc::new(IdentityPublisher::new(snapshot(&svids, &bundles)?));
        let follower =
            tokio::spawn(follow(svids.clone(), bundles.clone(), Arc::downgrade(&publisher)));
        Ok(Arc::new(Self {
            issuer: issuer.clone(),
            id: id.clone(),
            publisher,
            svids,
            bundles,
            follower,
        }))
    }

    /// Renews the SVID now and publishes it before returning (a new key and serial, same ID).
    pub fn rotate(&self) -> Result<(), IdentityError> {
        self.issuer.rotate(&self.id)?;
        self.publish_now()
    }

    /// Publishes the issuer's current SVID and bundles now (the follower task would shortly).
    pub fn publish_now(&self) -> Result<(), IdentityError> {
        self.publisher.publish(snapshot(&self.svids, &self.bundles)?);
        Ok(())
    }

    /// The issuer behind this identity.
    pub fn issuer(&self) -> &Arc<DevIssuer> {
        &self.issuer
    }
}

impl IdentityProvider for DevIdentity {
    fn watch(&self) -> watch::Receiver<Arc<IdentitySnapshot>> {
        self.publisher.subscribe()
    }
}

impl Drop for DevIdentity {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

fn snapshot(
    svids: &watch::Receiver<Arc<X509Svid>>,
    bundles: &watch::Receiver<Arc<TrustBundleSet>>,
) -> Result<IdentitySnapshot, IdentityError> {
    let svid = X509Svid::clone(&svids.borrow());
    let bundles = TrustBundleSet::clone(&bundles.borrow());
    IdentitySnapshot::new(svid, bundles)
}

async fn follow(
    mut svids: watch::Receiver<Arc<X509Svid>>,
    mut bundles: watch::Receiver<Arc<TrustBundleSet>>,
    publisher: std::sync::Weak<IdentityPublisher>,
) {
    loop {
        tokio::select! {
            changed = svids.changed() => if changed.is_err() { return },
            changed = bundles.changed() => if changed.is_err() { return },
        }
        let Some(publisher) = publisher.upgrade() else { return };
        match snapshot(&svids, &bundles) {
            Ok(s) => publisher.publish(s),
            Err(error) => tracing::error!(%error, "dev identity: cannot publish the renewed SVID"),
        }
    }
}

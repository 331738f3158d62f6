//! `WorkloadApiProvider`: identity from a SPIFFE Workload API (a SPIRE agent in production, the
//! dev server otherwise) through the `spiffe` crate's `X509Source`.

use std::sync::Arc;
use std::time::Duration;

use spiffe::X509Source;
use tokio::sync::watch;

use crate::bundle::{TrustBundle, TrustBundleSet};
use crate::error::IdentityError;
use crate::id::TrustDomain;
use crate::provider::{IdentityProvider, IdentityPublisher, IdentitySnapshot};
use crate::svid::{SvidError, X509Svid};

/// The environment variable SPIFFE clients read the Workload API endpoint from.
pub const ENDPOINT_ENV: &str = "SPIFFE_ENDPOINT_SOCKET";

/// How to reach the Workload API.
#[derive(Clone, Debug)]
pub struct WorkloadApiConfig {
    /// The endpoint (`unix:///run/spire/sockets/agent.sock`, `unix:/tmp/x.sock` or
    /// `tcp://127.0.0.1:8081`). `None` reads [`ENDPOINT_ENV`].
    pub endpoint: Option<String>,
    /// How long to wait for the first SVID before giving up. Default: 10 seconds. Without a bound
    /// a missing agent would hang start-up forever (design.md, "Known traps").
    pub initial_sync_timeout: Duration,
}

impl Default for WorkloadApiConfig {
    fn default() -> Self {
        Self { endpoint: None, initial_sync_timeout: Duration::from_secs(10) }
    }
}

/// Identity streamed from a SPIFFE Workload API; updates are pushed by the server (no polling)
/// and republished to [`IdentityProvider::watch`] receivers.
#[derive(Debug)]
pub struct WorkloadApiProvider {
    endpoint: String,
    source: X509Source,
    publisher: Arc<IdentityPublisher>,
    updates: tokio::task::JoinHandle<()>,
}

impl WorkloadApiProvider {
    /// Connects and waits (at most `initial_sync_timeout`) for the first valid SVID.
    pub async fn connect(config: WorkloadApiConfig) -> Result<Self, IdentityError> {
        let endpoint = match config.endpoint {
            Some(endpoint) => endpoint,
            // Reading the environment is the documented SPIFFE convention for this one variable.
            None => std::env::var(ENDPOINT_ENV).map_err(|_| IdentityError::NoEndpoint)?,
        };
        let unavailable = |detail: String| IdentityError::WorkloadApiUnavailable {
            endpoint: endpoint.clone(),
            timeout_ms: config.initial_sync_timeout.as_millis(),
            detail,
        };
        let source = X509Source::builder()
            .endpoint(&endpoint)
            .initial_sync_timeout(config.initial_sync_timeout)
            .build()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let snapshot = snapshot_from(&source, &endpoint)?;
        let publisher = Arc::new(IdentityPublisher::new(snapshot));
        let updates =
            tokio::spawn(follow_updates(source.clone(), publisher.clone(), endpoint.clone()));
        tracing::info!(%endpoint, spiffe_id = %publisher.current().svid.spiffe_id(), "identity from the SPIFFE Workload API");
        Ok(Self { endpoint, source, publisher, updates })
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops following updates and closes the connection. Later snapshots are not published; the
    /// last one stays readable.
    pub async fn shutdown(&self) {
        self.updates.abort();
        self.source.shutdown().await;
    }
}

impl IdentityProvider for WorkloadApiProvider {
    fn watch(&self) -> watch::Receiver<Arc<IdentitySnapshot>> {
        self.publisher.subscribe()
    }
    fn current(&self) -> Arc<IdentitySnapshot> {
        self.publisher.current()
    }
}

/// Republishes every update of the source; an invalid update is logged and the previous identity
/// stays in force (its own expiry still bounds how long).
async fn follow_updates(source: X509Source, publisher: Arc<IdentityPublisher>, endpoint: String) {
    let mut updates = source.updated();
    while updates.changed().await.is_ok() {
        match snapshot_from(&source, &endpoint) {
            Ok(snapshot) => {
                tracing::info!(%endpoint, serial = snapshot.svid.serial_hex(), "SVID rotated");
                publisher.publish(snapshot);
            }
            Err(error) => {
                tracing::error!(%endpoint, %error, "ignoring an invalid SVID update from the Workload API");
            }
        }
    }
    tracing::debug!(%endpoint, "Workload API update stream closed");
}

fn snapshot_from(source: &X509Source, endpoint: &str) -> Result<IdentitySnapshot, IdentityError> {
    let invalid = |source: SvidError| IdentityError::InvalidSvidFromWorkloadApi {
        endpoint: endpoint.to_owned(),
        source,
    };
    let context = source.x509_context().map_err(|e| IdentityError::WorkloadApiUnavailable {
        endpoint: endpoint.to_owned(),
        timeout_ms: 0,
        detail: e.to_string(),
    })?;
    let svid = context.default_svid().ok_or(invalid(SvidError::EmptyChain))?;
    let chain = svid.cert_chain().iter().map(|c| c.as_bytes().to_vec().into()).collect();
    let svid = X509Svid::from_der(chain, svid.private_key().as_bytes()).map_err(invalid)?;
    let mut bundles = TrustBundleSet::new();
    for (td, bundle) in context.bundle_set().iter() {
        let td = TrustDomain::new(td.as_str())?;
        let authorities =
            bundle.authorities().iter().map(|c| c.as_bytes().to_vec().into()).collect();
        bundles.insert(TrustBundle::from_der(td, authorities).map_err(invalid)?);
    }
    IdentitySnapshot::new(svid, bundles)
}

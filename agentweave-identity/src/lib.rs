//! Workload identity for AgentWeave: SPIFFE IDs, X.509-SVIDs, trust bundles, and the
//! [`IdentityProvider`] trait with three implementations.
//!
//! | provider | where identity comes from | use |
//! | --- | --- | --- |
//! | [`WorkloadApiProvider`] | a SPIFFE Workload API (SPIRE agent socket, `SPIFFE_ENDPOINT_SOCKET`) | production |
//! | [`StaticProvider`] | PEM files rotated by something else (cert-manager) | production without SPIRE |
//! | [`dev::DevIssuer`] + [`dev::DevWorkloadApiServer`] | an in-process CA serving the real Workload API | development, tests, the quickstart |
//!
//! Every SVID, whichever provider brought it, passes [`X509Svid::from_der`], which enforces the
//! X.509-SVID rules; every ID passes [`SpiffeId::parse`], which enforces the SPIFFE ID rules.
//!
//! ```no_run
//! # async fn run() -> Result<(), agentweave_identity::IdentityError> {
//! use agentweave_identity::{IdentityProvider, WorkloadApiConfig, WorkloadApiProvider};
//! let provider = WorkloadApiProvider::connect(WorkloadApiConfig::default()).await?;
//! println!("I am {}", provider.spiffe_id());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod bundle;
mod der;
pub mod dev;
mod error;
pub mod id;
mod provider;
mod static_files;
mod svid;
#[cfg(feature = "test-util")]
pub mod test_util;
mod workload_api;

pub use bundle::{TrustBundle, TrustBundleSet};
pub use error::IdentityError;
pub use id::{AgentId, SpiffeId, SpiffeIdError, TrustDomain};
pub use provider::{IdentityProvider, IdentityPublisher, IdentitySnapshot};
pub use static_files::{StaticFilesConfig, StaticProvider};
pub use svid::{SvidError, X509Svid, leaf_spiffe_id};
pub use workload_api::{ENDPOINT_ENV, WorkloadApiConfig, WorkloadApiProvider};

/// Re-exported so that users of [`X509Svid::chain`] and [`X509Svid::private_key`] need not add
/// the crate themselves.
pub use rustls_pki_types;

//! Development identity: an in-process CA and a server for the real SPIFFE Workload API, the
//! embedded default that lets agents run without SPIRE.

mod issuer;
#[cfg(feature = "test-util")]
pub(crate) mod issuer_internals {
    pub(crate) use super::issuer::{leaf_params, new_key, uri_san};
}
mod proto;
mod workload_api_server;

pub use issuer::{DevIssuer, DevIssuerConfig};
pub use workload_api_server::DevWorkloadApiServer;

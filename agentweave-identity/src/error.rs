//! Faults of identity providers.

use std::path::PathBuf;

use crate::id::SpiffeIdError;
use crate::svid::SvidError;

/// Why a provider could not produce or refresh an identity.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No Workload API endpoint was configured and `SPIFFE_ENDPOINT_SOCKET` is unset.
    #[error(
        "no SPIFFE Workload API endpoint: set SPIFFE_ENDPOINT_SOCKET (e.g. unix:///run/spire/sockets/agent.sock) or configure the endpoint"
    )]
    NoEndpoint,
    /// The Workload API did not deliver an identity in time.
    #[error(
        "no SPIFFE Workload API at {endpoint} answered with an X.509-SVID within {timeout_ms} ms: is the SPIRE agent running, and is this workload registered? ({detail})"
    )]
    WorkloadApiUnavailable {
        /// The endpoint tried.
        endpoint: String,
        /// The initial sync bound.
        timeout_ms: u128,
        /// The client's own error text.
        detail: String,
    },
    /// The Workload API delivered material that is not a valid SVID.
    #[error("the Workload API at {endpoint} sent an invalid SVID: {source}")]
    InvalidSvidFromWorkloadApi {
        /// The endpoint.
        endpoint: String,
        /// What is wrong with it.
        #[source]
        source: SvidError,
    },
    /// An SVID or bundle that breaks the X.509-SVID rules.
    #[error(transparent)]
    Svid(#[from] SvidError),
    /// A SPIFFE ID that breaks the SPIFFE ID rules.
    #[error(transparent)]
    SpiffeId(#[from] SpiffeIdError),
    /// The bundle set lacks our own trust domain.
    #[error("no trust bundle for this workload's own trust domain {trust_domain}")]
    MissingOwnBundle {
        /// Our trust domain.
        trust_domain: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file held invalid material.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        #[source]
        source: SvidError,
    },
    /// The dev issuer could not issue a certificate.
    #[error("dev issuer: {0}")]
    Issuer(String),
    /// The dev Workload API server could not start.
    #[error("dev Workload API server on {path}: {detail}")]
    Server {
        /// The socket path.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

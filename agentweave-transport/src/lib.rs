//! Mutual TLS between AgentWeave agents, with peers authenticated by SPIFFE ID.
//!
//! * [`tls::SpiffeTls`] builds rustls (ring provider) configs whose certificate and trust bundles
//!   come from an [`IdentityProvider`] on every handshake, so SVID rotation needs no restart.
//!   Peers are verified against the bundle of their own trust domain and must carry a well-formed
//!   X.509-SVID; there is no host name logic anywhere.
//! * [`MtlsServer`] serves any hyper or tower HTTP service over that TLS (HTTP/1.1 and HTTP/2),
//!   handing each request the caller's proven [`PeerIdentity`] as a request extension, with a
//!   graceful shutdown.
//! * [`Transport`] is the client-side contract the protocol layer calls; [`MtlsTransport`]
//!   implements it with a connection pool keyed by endpoint *and* expected identity, timeouts,
//!   retries with exponential backoff and full jitter for requests marked safe to retry, and a
//!   circuit breaker per peer.
//!
//! ```no_run
//! # async fn run(identity: std::sync::Arc<dyn agentweave_identity::IdentityProvider>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use agentweave_identity::SpiffeId;
//! use agentweave_transport::{
//!     Endpoint, ExpectedPeer, MtlsTransport, Peer, SendOptions, Transport, TransportConfig,
//! };
//!
//! let transport = MtlsTransport::new(&*identity, TransportConfig::default())?;
//! let peer = Peer::new(
//!     Endpoint::parse("search.internal:8443")?,
//!     ExpectedPeer::exact(SpiffeId::parse("spiffe://example.org/agent/search")?),
//! );
//! let request = http::Request::get("/.well-known/agent-card.json").body(bytes::Bytes::new())?;
//! let response = transport.send(&peer, request, SendOptions::safe_to_retry()).await?;
//! println!("{}", response.status());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

#[cfg(feature = "test-util")]
mod accept_any_server;
mod body;
mod client;
mod error;
mod peer;
mod server;
#[cfg(feature = "test-util")]
mod stock_tls;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod tls;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use body::ResponseBody;
pub use client::{
    BreakerConfig, CircuitState, MtlsTransport, PoolConfig, RetryConfig, TransportConfig,
    TransportStats,
};
pub use error::{HandshakeRefusal, TransportError};
pub use peer::{Endpoint, ExpectedPeer, Peer, PeerIdentity, PeerPredicate};
pub use server::{MtlsServer, ServerConfig, ServerHandle, ServerStats};
pub use tls::{HttpVersions, TlsVersions};

/// Re-exported so that implementers of [`Transport`] use the same `http` types.
pub use http;

pub use agentweave_identity::IdentityProvider;

/// A boxed, sendable future (what [`Transport`] methods return, so the trait stays object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether a request may be sent more than once.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retry {
    /// Send at most once (the default): a request with side effects must not be repeated.
    #[default]
    Never,
    /// The request is idempotent or otherwise safe to repeat: transient faults (connect failure
    /// or timeout, request timeout, a lost connection, a 502/503/504 answer) are retried with
    /// exponential backoff and full jitter.
    SafeToRetry,
}

/// Per-request options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Whether retries are allowed.
    pub retry: Retry,
    /// Overrides the configured request timeout (time until the response head arrives).
    pub timeout: Option<Duration>,
}

impl SendOptions {
    /// Options for a request that may be retried.
    pub fn safe_to_retry() -> Self {
        Self { retry: Retry::SafeToRetry, timeout: None }
    }

    /// The same options with another request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Sends HTTP requests to peers that must prove a SPIFFE identity.
///
/// The request body is in memory (so that a retry can resend it); the response body streams. The
/// response carries the server's proven identity as a [`PeerIdentity`] extension. Implementations
/// must fail closed: a peer that does not prove `peer.expected` never receives the request.
///
/// # Implementing
///
/// ```
/// use agentweave_transport::{BoxFuture, Peer, ResponseBody, SendOptions, Transport, TransportError};
/// use agentweave_transport::http::{Request, Response};
///
/// /// A transport that answers every request itself (a test double for the layers above).
/// #[derive(Debug)]
/// struct Canned;
///
/// impl Transport for Canned {
///     fn send<'a>(
///         &'a self,
///         _peer: &'a Peer,
///         _request: Request<bytes::Bytes>,
///         _options: SendOptions,
///     ) -> BoxFuture<'a, Result<Response<ResponseBody>, TransportError>> {
///         Box::pin(async { Ok(Response::new(ResponseBody::from_bytes("ok"))) })
///     }
/// }
///
/// let _object: std::sync::Arc<dyn Transport> = std::sync::Arc::new(Canned);
/// ```
pub trait Transport: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `request` to `peer`. The request URI's path and query are used; its scheme and
    /// authority are replaced by the peer's endpoint.
    fn send<'a>(
        &'a self,
        peer: &'a Peer,
        request: http::Request<bytes::Bytes>,
        options: SendOptions,
    ) -> BoxFuture<'a, Result<http::Response<ResponseBody>, TransportError>>;
}

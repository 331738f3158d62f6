//! Typed faults of the transport and the reasons a TLS handshake is refused.

use std::time::Duration;

use agentweave_identity::{SpiffeId, SvidError};

/// Why a TLS handshake was refused, by us or by the peer.
///
/// Our verifiers produce the first group of variants; they travel through rustls inside
/// `CertificateError::Other` and are recovered intact on the side that refused, so logs and errors
/// name the exact rule that was broken.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeRefusal {
    /// The client presented no certificate (the server requires one).
    #[error("the peer presented no certificate; mutual TLS requires an X.509-SVID")]
    NoPeerCertificate,
    /// The peer's leaf breaks an X.509-SVID rule (no or several URI SANs, a non-SPIFFE URI, a CA
    /// as leaf) or is outside its validity window.
    #[error("the peer's certificate is not a valid X.509-SVID: {0}")]
    InvalidSvid(SvidError),
    /// The peer's SPIFFE ID belongs to a trust domain we hold no bundle for (not federated).
    #[error("the peer's trust domain {trust_domain} is not trusted (no bundle; not federated)")]
    TrustDomainNotTrusted {
        /// The peer's trust domain.
        trust_domain: String,
    },
    /// The chain does not lead to an authority of the bundle of the peer's trust domain.
    #[error(
        "the certificate of {spiffe_id} is not signed by an authority of its trust domain's bundle"
    )]
    UntrustedIssuer {
        /// The SPIFFE ID the leaf claims.
        spiffe_id: String,
    },
    /// Chain verification failed for another reason (bad signature, missing serverAuth/clientAuth
    /// EKU, unsupported algorithm, bad encoding).
    #[error("the certificate of {spiffe_id} was rejected: {detail}")]
    CertificateRejected {
        /// The SPIFFE ID the leaf claims.
        spiffe_id: String,
        /// The verifier's reason.
        detail: String,
    },
    /// The peer proved an identity, but not the one expected.
    #[error("peer identity mismatch: expected {expected}, the peer presented {presented}")]
    PeerMismatch {
        /// What the caller (or the server's client policy) expected.
        expected: String,
        /// The SPIFFE ID the peer proved.
        presented: SpiffeId,
    },
    /// No protocol version in common (e.g. a TLS 1.2-only peer while TLS 1.3 is required).
    #[error("no TLS protocol version in common with the peer: {detail}")]
    ProtocolVersion {
        /// rustls's reason.
        detail: String,
    },
    /// The bytes received are not TLS (e.g. plain HTTP sent to the TLS port).
    #[error("the peer did not speak TLS: {detail}")]
    NotTls {
        /// rustls's reason.
        detail: String,
    },
    /// The peer refused our side of the handshake and told us with an alert.
    #[error("the peer refused the handshake with TLS alert {alert}")]
    PeerAlert {
        /// The alert description (e.g. `BadCertificate`, `CertificateRequired`, `UnknownCA`).
        alert: String,
    },
    /// Our own SVID could not be loaded into the TLS stack.
    #[error("our SVID cannot be used for TLS: {detail}")]
    LocalIdentity {
        /// What failed.
        detail: String,
    },
    /// Any other TLS failure.
    #[error("TLS handshake failed: {detail}")]
    Tls {
        /// rustls's or the socket's reason.
        detail: String,
    },
}

/// A fault of the transport. A refused handshake is a fault here (the call did not happen);
/// authorization denials live in the policy layer.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The TLS handshake with `endpoint` was refused; `reason` names the rule.
    #[error("TLS handshake with {endpoint} refused: {reason}")]
    HandshakeRefused {
        /// The peer's address.
        endpoint: String,
        /// Why.
        reason: HandshakeRefusal,
    },
    /// TCP connect plus TLS handshake did not finish in time.
    #[error("connecting to {endpoint} timed out after {after:?}")]
    ConnectTimeout {
        /// The peer's address.
        endpoint: String,
        /// The configured bound.
        after: Duration,
    },
    /// The response head did not arrive in time.
    #[error("request to {endpoint} timed out after {after:?}")]
    RequestTimeout {
        /// The peer's address.
        endpoint: String,
        /// The configured bound.
        after: Duration,
    },
    /// The peer's circuit breaker is open: the call was refused without touching the network.
    #[error("circuit breaker for {endpoint} is open; next probe in {retry_after:?}")]
    CircuitOpen {
        /// The peer's address.
        endpoint: String,
        /// Time until the breaker lets a probe through (zero while a probe is in flight).
        retry_after: Duration,
    },
    /// The peer could not be reached (DNS, connection refused, network unreachable).
    #[error("{endpoint} is unreachable: {source}")]
    Unreachable {
        /// The peer's address.
        endpoint: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The connection failed while the request or response was in flight.
    #[error("connection to {endpoint} failed: {detail}")]
    Connection {
        /// The peer's address.
        endpoint: String,
        /// hyper's or the socket's reason.
        detail: String,
    },
    /// Reading the streamed response body failed.
    #[error("reading the response body failed: {detail}")]
    Body {
        /// hyper's reason.
        detail: String,
    },
    /// No pooled connection became free within the connect timeout (every connection allowed for
    /// the peer, or in all, is busy).
    #[error("no connection to {endpoint} became available within {after:?} (pool limits reached)")]
    PoolExhausted {
        /// The peer's address.
        endpoint: String,
        /// How long we waited.
        after: Duration,
    },
    /// The request cannot be sent as given.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An endpoint string that is not `host:port` or `https://host:port`.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The input.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration value that cannot work.
    #[error("invalid transport configuration: {0}")]
    Config(String),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Constructed outside a tokio runtime.
    #[error("the transport needs a tokio runtime (construct it inside one)")]
    NoRuntime,
}

impl TransportError {
    /// True for faults that may go away on their own and are worth another attempt (when the
    /// request is marked safe to retry). Refused handshakes, open circuits and invalid input are
    /// not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::ConnectTimeout { .. }
                | Self::RequestTimeout { .. }
                | Self::Unreachable { .. }
                | Self::Connection { .. }
                | Self::PoolExhausted { .. }
        )
    }

    /// True for faults that say something about the peer's health (they count against its
    /// circuit breaker). Local faults and the breaker's own refusals do not.
    pub fn counts_against_peer(&self) -> bool {
        matches!(
            self,
            Self::HandshakeRefused { .. }
                | Self::ConnectTimeout { .. }
                | Self::RequestTimeout { .. }
                | Self::Unreachable { .. }
                | Self::Connection { .. }
        )
    }

    /// The refusal, when this is a refused handshake.
    pub fn handshake_refusal(&self) -> Option<&HandshakeRefusal> {
        match self {
            Self::HandshakeRefused { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

//! What can go wrong on the client side, each fault typed so that callers can tell a refused
//! identity from a protocol error the agent sent from a server that broke the protocol.

use std::time::Duration;

use agentweave_transport::TransportError;
use serde_json::Value;

use crate::error::A2aError;

/// A fault of an A2A call made by [`super::A2aClient`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The transport could not deliver the request or read the response (refused handshake,
    /// timeout, open circuit, lost connection…).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The agent answered with an A2A or JSON-RPC error it is allowed to send (TaskNotFound,
    /// InvalidParams, VersionNotSupported…); `ErrorInfo` metadata and `BadRequest` field
    /// violations are kept in the [`A2aError`].
    #[error("the agent answered with an error: {0}")]
    Remote(A2aError),
    /// The agent answered with an error whose code or reason this crate does not know.
    #[error("the agent answered with unknown error code {code}: {message}")]
    UnknownRemoteError {
        /// The JSON-RPC code, or the HTTP status on the HTTP+JSON binding.
        code: i64,
        /// The agent's message (truncated).
        message: String,
        /// The error's `data` / `details` as sent.
        details: Vec<Value>,
    },
    /// An HTTP status that is neither a success nor an A2A error body.
    #[error("unexpected HTTP status {status}: {body}")]
    HttpStatus {
        /// The status.
        status: u16,
        /// The start of the body, lossily decoded.
        body: String,
    },
    /// The response body exceeds [`super::ClientConfig::max_response_bytes`] (or the card
    /// limit); reading stopped at the limit.
    #[error("the response body exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The limit that was reached.
        limit: usize,
    },
    /// One server-sent event exceeds [`super::ClientConfig::max_sse_event_bytes`].
    #[error("a server-sent event exceeds the limit of {limit} bytes")]
    SseEventTooLarge {
        /// The limit that was reached.
        limit: usize,
    },
    /// The response is not what the protocol allows: not JSON, the wrong shape, the wrong
    /// content type, a JSON-RPC envelope without `result` or `error`.
    #[error("malformed response: {detail}")]
    MalformedResponse {
        /// What was wrong.
        detail: String,
    },
    /// A JSON-RPC response answered another request id than the one sent.
    #[error("JSON-RPC response id mismatch: sent {sent}, received {received}")]
    ResponseIdMismatch {
        /// The id we sent.
        sent: u64,
        /// The id received (JSON, truncated).
        received: String,
    },
    /// The event stream broke the SSE framing (invalid UTF-8, ended inside an event).
    #[error("malformed event stream: {detail}")]
    MalformedStream {
        /// What was wrong.
        detail: String,
    },
    /// No event arrived on a stream within [`super::ClientConfig::stream_idle_timeout`].
    #[error("no stream event within {after:?}")]
    StreamIdle {
        /// The configured bound.
        after: Duration,
    },
    /// The agent card offers no interface this client can use (binding and protocol 1.0).
    #[error("the agent card offers no usable interface (wanted {wanted}; offered {offered})")]
    NoCompatibleInterface {
        /// The bindings this client is configured to use, in order.
        wanted: String,
        /// What the card offers (`binding@version`).
        offered: String,
    },
    /// The card's SPIFFE ID extension names another identity than the one the transport
    /// verified in the mTLS handshake: the card was served by (or for) someone else.
    #[error("the agent card claims SPIFFE ID {claimed} but the peer proved {verified}")]
    CardIdentityMismatch {
        /// The ID the card claims.
        claimed: String,
        /// The ID proven in the handshake.
        verified: String,
    },
    /// The card claims a SPIFFE ID but the response carried no verified peer identity, so
    /// the claim cannot be checked (a transport without mTLS). Refused: fail closed.
    #[error(
        "the agent card claims SPIFFE ID {claimed} but the transport verified no peer identity"
    )]
    CardIdentityUnverified {
        /// The ID the card claims.
        claimed: String,
    },
    /// The card claims a SPIFFE ID that the caller's expectation of the peer excludes.
    #[error("the agent card claims SPIFFE ID {claimed}, which is not the expected peer {expected}")]
    CardIdentityUnexpected {
        /// The ID the card claims.
        claimed: String,
        /// The caller's expectation.
        expected: String,
    },
    /// The card's SPIFFE ID extension does not hold a valid SPIFFE ID.
    #[error("the agent card's SPIFFE ID extension holds an invalid ID {value:?}: {reason}")]
    InvalidCardSpiffeId {
        /// The value (truncated).
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The request could not be built (an interface URL or parameter that does not fit in an
    /// HTTP request).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl ClientError {
    /// The A2A error the agent sent, if this is one.
    pub fn remote(&self) -> Option<&A2aError> {
        match self {
            Self::Remote(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Self::MalformedResponse { detail: detail.into() }
    }
}

/// At most `max` characters of `s`, for error messages built from peer input.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

//! The Agent2Agent (A2A) protocol, version 1.0, for AgentWeave.
//!
//! - [`types`]: every message of `lf.a2a.v1` with the ProtoJSON mapping.
//! - [`jsonrpc`], [`server`]: the JSON-RPC 2.0 and HTTP+JSON bindings with SSE streaming,
//!   served by [`server::A2aServer`], an axum service generic over an
//!   [`server::AgentExecutor`], with a task store, the task state machine, push notifications
//!   behind an SSRF guard and a per-request authorization hook.
//! - [`card`]: the agent card endpoint (ETag, Cache-Control) and JWS card signatures over the
//!   RFC 8785 canonical form.
//!
//! - [`client`]: the A2A client over the transport layer's `Transport` trait: card discovery
//!   with the card's SPIFFE ID checked against the mTLS peer and pinned, binding selection,
//!   every method of 1.0, SSE parsed incrementally, bounded bodies, typed errors.
//!
//! The AgentWeave extension publishing the agent's SPIFFE ID is
//! [`types::SPIFFE_ID_EXTENSION_URI`]. The gRPC binding is not part of this crate yet.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod card;
pub mod client;
pub mod error;
pub mod jsonrpc;
pub mod limits;
mod method;
pub mod server;
pub mod sse;
pub mod types;
pub mod version;

pub use error::{A2aError, ErrorKind};
pub use method::A2aMethod;

//! Authorization for AgentWeave: every inbound and outbound agent call is decided by policy,
//! default deny, and every decision is audited.
//!
//! * [`PolicyEnforcer`] is the one trait the rest of the SDK calls, usable as
//!   `Arc<dyn PolicyEnforcer>` so configuration picks the provider at run time.
//! * [`rego::RegoEnforcer`] evaluates Rego in-process with regorus (files or folders, hot reload,
//!   optional decision cache); [`opa::OpaHttpEnforcer`] asks an OPA sidecar over its REST API;
//!   [`danger::AllowAllEnforcer`] allows everything and exists for development only.
//! * [`audit::AuditedEnforcer`] wraps any enforcer and writes one JSON line per decision.
//! * [`starter`] ships a policy library; [`cases`] runs tables of expected decisions against a
//!   policy set (what `agentweave authz test` runs).
//!
//! The policy input is the same for both providers and both directions (see [`PolicyInput`]):
//!
//! ```json
//! {"direction": "inbound", "caller_spiffe_id": "spiffe://a.org/agent/x",
//!  "callee_spiffe_id": "spiffe://a.org/agent/y", "caller_trust_domain": "a.org",
//!  "callee_trust_domain": "a.org", "action": "search.query",
//!  "context": {"a2a_method": "SendMessage", "capability": "search.query",
//!              "task_id": "t-1", "message_id": "m-1"}}
//! ```
//!
//! A denial is a value ([`AuthzDecision`] with `allowed == false`), and so is an engine fault: the
//! enforcers never return `Err` from a check, so no caller can mistake a failed check for a pass.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]
#![warn(missing_docs)]

pub mod audit;
mod cache;
pub mod cases;
pub mod danger;
mod decision;
mod enforcer;
mod error;
mod input;
mod input_mask;
pub mod opa;
pub mod rego;
mod rego_keys;
pub mod starter;

pub use cache::CacheConfig;
pub use decision::{AuditId, AuthzDecision, DecisionSource};
pub use enforcer::{DecisionFuture, PolicyEnforcer};
pub use error::AuthzError;
pub use input::{AuthzContext, Direction, PolicyInput};

/// Re-exported so callers need not depend on the identity crate for the ID types in signatures.
pub use agentweave_identity::{SpiffeId, TrustDomain};

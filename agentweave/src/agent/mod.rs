//! `SecureAgent`: an agent whose every call is identified, encrypted, authorized, checked and
//! audited.
//!
//! One request, end to end (each step is one module here):
//!
//! ```text
//! caller: SecureAgent::call(target, capability, payload)            call.rs
//!   → PolicyEnforcer::check_outbound (audited; denied ⇒ nothing sent)
//!   → A2A SendMessage: capability in metadata `agentweave/capability`,  wire.rs
//!     payload as a data part, over the mTLS transport pinned to target
//! callee: mTLS accept → trace context (`traceparent`), request metrics  observe.rs
//!   → PeerIdentity → CallerIdentity                                   caller_identity.rs
//!   → A2A routing → Authorizer hook on EVERY method (action =         authorizer.rs
//!     capability for sends, method name otherwise; task ownership)
//!   → guard on declared payload types (audited)                       executor.rs, guard_stage.rs
//!   → handler(RequestContext)                                         capability.rs
//!   → result + verdict + attestation in the status message metadata `agentweave/verdict`
//! caller: typed CallOutcome or CallError; SecureAgent::verify_attestation checks the
//!   signature with the JWKS the callee publishes in its agent card    card.rs
//! caller, streamed: SecureAgent::call_stream → the same outbound steps  call_stream.rs
//!   with SendStreamingMessage → the task's events, then the same outcome (the callee's
//!   pipeline is the same; a handler's `Progress` reports become working/artifact events)
//! ```
//!
//! Every policy decision is audited by the wrapped enforcer; the facade adds a record for each
//! guard verdict and each task-ownership refusal (see `audit.rs`'s record shape).

mod audit;
mod authorizer;
mod call;
mod call_stream;
mod caller_identity;
mod capability;
mod card;
mod error;
mod executor;
mod from_config;
mod guard_stage;
mod handle;
mod observe;
mod secure_agent;
mod wire;

pub use call::{AttestationError, CallOutcome};
pub use call_stream::{CALL_STREAM_IDLE_TIMEOUT, CallStream, StreamEvent};
pub use capability::{Capability, HandlerError, Progress, RequestContext};
pub use card::{ATTESTATION_EXTENSION_URI, attestation_keys};
pub use error::{AgentError, CallError};
pub use from_config::POLICY_POLL_INTERVAL;
pub use guard_stage::{GUARD_RATE_PER_MINUTE, agent_guard};
pub use handle::AgentHandle;
pub use secure_agent::{SecureAgent, SecureAgentBuilder};
pub use wire::{CAPABILITY_KEY, TRACE_ID_KEY, VERDICT_KEY, VerdictSummary};

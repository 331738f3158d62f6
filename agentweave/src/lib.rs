//! AgentWeave: secure agent-to-agent communication. This facade crate ties the layers together.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod agent;
pub mod cli;
pub mod config;
pub mod handlers;
pub mod ops;

pub use agent::{
    AgentError, CallError, CallOutcome, Capability, HandlerError, RequestContext, SecureAgent,
};
pub use config::{AgentConfig, ConfigError};

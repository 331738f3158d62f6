//! AgentWeave: secure agent-to-agent communication. This facade crate ties the layers together.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod cli;
pub mod config;

pub use config::{AgentConfig, ConfigError};

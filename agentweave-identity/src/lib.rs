//! Workload identity for AgentWeave.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod id;

pub use id::{AgentId, SpiffeId, SpiffeIdError, TrustDomain};

//! Message verification guard for AgentWeave.
#![warn(missing_docs)]

pub mod code;

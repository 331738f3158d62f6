//! Message verification guard for AgentWeave.
//!
//! Every message between agents can be checked for content that is wrong (totals that
//! do not add up, contradictory claims, dangerous code) and every verdict is signed
//! (see `agentweave-attest`). The stages:
//!
//! 1. schema ([`parse_message`]): strict JSON (duplicate keys refused, size and depth
//!    limits), ids validated and NFC-normalised, timestamp freshness;
//! 2. trust ([`TrustBoundary`]): block lists, scopes, allowlist, rate limits;
//! 3. routing to a [`GuardEngine`] by payload type: finance, logic, code, passthrough;
//! 4. attestation of the verdict (never for `unverifiable` or `rejected`);
//! 5. the [`VerificationVerdict`], with an audit trace id and a machine `reason_code`.
//!
//! ```
//! use std::sync::Arc;
//! use agentweave_attest::{AttestorConfig, Es256Attestor, SigningKey};
//! use agentweave_guard::{Pipeline, PipelineConfig, TrustBoundary, TrustConfig, TrustEntry, VerdictStatus};
//!
//! let key = SigningKey::generate("did:qwed:a2a:local")?;
//! let attestor = Arc::new(Es256Attestor::new(AttestorConfig::default(), key)?);
//! let trust = Arc::new(TrustBoundary::new(TrustConfig::default()));
//! trust.trust_agent(TrustEntry::new("procurement-agent"))?;
//! let pipeline = Pipeline::new(PipelineConfig::default(), trust, attestor)?;
//! let body = br#"{"sender_agent_id": "procurement-agent", "receiver_agent_id": "treasury-agent",
//!   "payload_type": "financial_transaction",
//!   "payload": {"data": {"claimed_total": 999.99, "line_items": [{"amount": 150}]}}}"#;
//! let verdict = pipeline.intercept_json(body)?;
//! assert_eq!(verdict.status, VerdictStatus::Blocked);
//! assert_eq!(verdict.reason_code, "finance.mismatch");
//! assert!(verdict.attestation_jwt.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]
#![warn(missing_docs)]

pub mod code;
mod code_engine;
mod engine;
mod error;
mod finance;
mod ids;
mod logic;
mod message;
mod passthrough;
mod pipeline;
pub mod replay;
mod timestamp;
mod trust;
mod verdict;

pub use code_engine::{CodeConfig, CodeEngine};
pub use engine::{EngineError, EngineOutcome, EngineStatus, GuardEngine};
pub use error::GuardError;
pub use finance::{FinanceConfig, FinanceEngine, SignPolicy};
pub use ids::{MAX_ID_CHARS, block_key, is_forbidden_id_char};
pub use logic::{LogicEngine, normalize_claim};
pub use message::{
    AgentMessage, PayloadType, SchemaConfig, SchemaRejection, parse_message, validate_message,
};
pub use passthrough::PassthroughEngine;
pub use pipeline::{InterceptorConfig, Pipeline, PipelineConfig, RejectionSigning};
pub use trust::{
    TrustBoundary, TrustConfig, TrustDenial, TrustEntry, TrustError, TrustRule, redact,
};
pub use verdict::{VerdictStatus, VerificationVerdict};

//! The `GuardEngine` trait and what an engine returns.

use agentweave_attest::json::Object;

/// The outcome class of an engine run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineStatus {
    /// The content was checked and is correct (verdict `forwarded`, signed).
    Verified,
    /// The content was checked and is wrong or dangerous (verdict `blocked`, signed).
    Failed,
    /// The content could not be checked (verdict `unverifiable`, never signed).
    Unverifiable,
    /// Nothing dangerous found by a heuristic (verdict `heuristic_pass`, signed).
    HeuristicPass,
}

/// What an engine decided.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOutcome {
    /// The class.
    pub status: EngineStatus,
    /// Stable machine code, e.g. `finance.mismatch`.
    pub reason_code: &'static str,
    /// Human-readable reason (`None` when verified without remark).
    pub reason: Option<String>,
    /// Engine-specific details (JSON object).
    pub details: Option<serde_json::Value>,
}

impl EngineOutcome {
    /// Shorthand constructor.
    pub fn new(status: EngineStatus, reason_code: &'static str, reason: Option<String>) -> Self {
        Self { status, reason_code, reason, details: None }
    }

    /// Adds details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// An engine fault (not a verdict): the pipeline turns it into an `engine_error`
/// verdict (blocked, or unverifiable when `block_on_error` is off), never a pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(pub String);

/// A content verifier for one payload type. Object safe: use as `Arc<dyn GuardEngine>`.
///
/// ```
/// use agentweave_guard::{EngineError, EngineOutcome, EngineStatus, GuardEngine};
/// use agentweave_attest::json::{Json, Object};
///
/// /// Blocks any payload that carries a `"forbidden"` key.
/// struct NoForbidden;
/// impl GuardEngine for NoForbidden {
///     fn name(&self) -> &'static str { "no_forbidden" }
///     fn evaluate(&self, payload: &Object<'_>) -> Result<EngineOutcome, EngineError> {
///         Ok(if payload.contains_key("forbidden") {
///             EngineOutcome::new(EngineStatus::Failed, "custom.forbidden", Some("forbidden key".into()))
///         } else {
///             EngineOutcome::new(EngineStatus::Verified, "custom.ok", None)
///         })
///     }
/// }
/// let e: std::sync::Arc<dyn GuardEngine> = std::sync::Arc::new(NoForbidden);
/// assert_eq!(e.evaluate(&Object::new()).unwrap().status, EngineStatus::Verified);
/// ```
pub trait GuardEngine: Send + Sync {
    /// The name reported as `engine_used` (e.g. `finance_guard`).
    fn name(&self) -> &'static str;
    /// Checks one payload.
    fn evaluate(&self, payload: &Object<'_>) -> Result<EngineOutcome, EngineError>;
}

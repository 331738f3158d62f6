//! Insecure providers for development only. Nothing here may be used in production: the facade
//! refuses these in a production configuration, and constructing one logs a warning.

use std::sync::Arc;

use agentweave_identity::SpiffeId;

use crate::decision::{AuditId, AuthzDecision, DecisionSource};
use crate::enforcer::{DecisionFuture, PolicyEnforcer};
use crate::input::PolicyInput;

/// The policy ID every allow-all decision carries, so audit readers can find them.
pub const ALLOW_ALL_POLICY_ID: &str = "danger:allow-all";

/// Allows every request without evaluating any policy (development only).
///
/// Decisions are still returned as values and still audited when wrapped in
/// [`crate::audit::AuditedEnforcer`]; their source is [`DecisionSource::Danger`].
#[derive(Debug)]
pub struct AllowAllEnforcer {
    local_id: SpiffeId,
    policy_id: Arc<str>,
    reason: Arc<str>,
}

impl AllowAllEnforcer {
    /// Builds the enforcer and logs a warning that authorization is disabled.
    pub fn new(local_id: SpiffeId) -> Self {
        tracing::warn!(
            local_id = %local_id,
            "AllowAllEnforcer constructed: authorization is DISABLED, every call is allowed; \
             development only"
        );
        Self {
            local_id,
            policy_id: Arc::from(ALLOW_ALL_POLICY_ID),
            reason: Arc::from("danger: allow-all enforcer (development only)"),
        }
    }
}

impl PolicyEnforcer for AllowAllEnforcer {
    fn local_id(&self) -> &SpiffeId {
        &self.local_id
    }

    fn decide<'a>(&'a self, _input: &'a PolicyInput) -> DecisionFuture<'a> {
        let decision = AuthzDecision {
            allowed: true,
            reason: self.reason.clone(),
            audit_id: AuditId::next(),
            policy_id: self.policy_id.clone(),
            source: DecisionSource::Danger,
        };
        Box::pin(std::future::ready(decision))
    }
}

//! Liveness and readiness.
//!
//! * Live: the process serves (the ops server answering is the proof).
//! * Ready: every check below passes. A load balancer or orchestrator stops sending traffic as
//!   soon as one fails:
//!
//! | check | passes when |
//! | --- | --- |
//! | `identity` | the provider's snapshot is open (its source still publishes), the SVID names this agent, and it is within its validity window now |
//! | `policy` | a policy enforcer built for this agent is in force (start refuses without one; a policy that fails to reload never replaces the one in force) |
//! | `shutdown` | the agent is not stopping |
//!
//! Details name the rule that failed and nothing else (no certificates, keys or peer data).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use agentweave_authz::PolicyEnforcer;
use agentweave_identity::{IdentityProvider, SpiffeId};
use serde::Serialize;

/// One readiness check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// `identity`, `policy` or `shutdown`.
    pub name: &'static str,
    /// Whether it passes.
    pub ok: bool,
    /// Why it fails (absent when it passes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

/// The readiness of an agent, as `/health/ready` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Readiness {
    /// True when every check passes.
    pub ready: bool,
    /// Every check, passing or not.
    pub checks: Vec<Check>,
}

impl Readiness {
    /// The checks that fail.
    pub fn failing(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// What readiness is computed from; shared by the agent and its ops server.
pub(crate) struct HealthState {
    spiffe_id: SpiffeId,
    identity: Arc<dyn IdentityProvider>,
    policy: Arc<dyn PolicyEnforcer>,
    stopping: AtomicBool,
}

impl std::fmt::Debug for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthState")
            .field("spiffe_id", &self.spiffe_id)
            .field("stopping", &self.stopping)
            .finish_non_exhaustive()
    }
}

impl HealthState {
    pub(crate) fn new(
        spiffe_id: SpiffeId,
        identity: Arc<dyn IdentityProvider>,
        policy: Arc<dyn PolicyEnforcer>,
    ) -> Self {
        Self { spiffe_id, identity, policy, stopping: AtomicBool::new(false) }
    }

    /// Marks the agent as stopping: from now on it is not ready.
    pub(crate) fn mark_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Evaluates every check now.
    pub(crate) fn readiness(&self) -> Readiness {
        self.readiness_at(SystemTime::now())
    }

    fn readiness_at(&self, now: SystemTime) -> Readiness {
        let check = |name, failure: Option<&'static str>| Check {
            name,
            ok: failure.is_none(),
            detail: failure,
        };
        let checks = vec![
            check("identity", self.identity_failure(now)),
            check("policy", self.policy_failure()),
            check(
                "shutdown",
                self.stopping.load(Ordering::SeqCst).then_some("the agent is shutting down"),
            ),
        ];
        Readiness { ready: checks.iter().all(|c| c.ok), checks }
    }

    fn identity_failure(&self, now: SystemTime) -> Option<&'static str> {
        let watch = self.identity.watch();
        if watch.has_changed().is_err() {
            return Some("the identity source is closed: no SVID will be renewed");
        }
        let snapshot = watch.borrow().clone();
        if snapshot.svid.spiffe_id() != &self.spiffe_id {
            return Some("the SVID names another workload than this agent");
        }
        if !snapshot.is_fresh(now) {
            return Some("the SVID is expired or not yet valid");
        }
        None
    }

    fn policy_failure(&self) -> Option<&'static str> {
        (self.policy.local_id() != &self.spiffe_id)
            .then_some("the policy in force is not built for this agent")
    }
}

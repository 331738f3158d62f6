//! The [`PolicyEnforcer`] trait.

use std::future::Future;
use std::pin::Pin;

use agentweave_identity::SpiffeId;

use crate::decision::AuthzDecision;
use crate::input::{AuthzContext, Direction, PolicyInput};

/// The future a check returns: boxed, `Send`, borrowing the enforcer and the input.
///
/// Why a boxed future rather than `async fn` in the trait: a native `async fn` in a trait is not
/// dyn-compatible, and `Arc<dyn PolicyEnforcer>` is how configuration picks a provider at run
/// time. A boxed future is what the `async-trait` crate would generate; writing it by hand keeps the
/// signature visible in the docs and costs no proc-macro dependency. The box is one small
/// allocation (tens of nanoseconds) against a decision of microseconds.
pub type DecisionFuture<'a> = Pin<Box<dyn Future<Output = AuthzDecision> + Send + 'a>>;

/// Decides whether an agent call may proceed.
///
/// Implementations receive one [`PolicyInput`] shape for both directions. Checks return a
/// decision, never an error: a provider that cannot decide (engine fault, sidecar down, malformed
/// answer) returns a denial whose reason names the fault (fail closed).
///
/// An enforcer is built knowing the local agent's own SPIFFE ID ([`PolicyEnforcer::local_id`]):
/// for an inbound call that is the callee, so the transport layer only has to pass the peer ID it
/// verified in the TLS handshake and cannot forget or forge the callee.
///
/// # Implementing
///
/// ```
/// use agentweave_authz::{AuthzDecision, AuditId, DecisionFuture, DecisionSource, PolicyEnforcer,
///                        PolicyInput, SpiffeId};
/// use std::sync::Arc;
///
/// /// Allows callers of the local trust domain only.
/// struct SameDomainOnly { me: SpiffeId }
///
/// impl PolicyEnforcer for SameDomainOnly {
///     fn local_id(&self) -> &SpiffeId { &self.me }
///     fn decide<'a>(&'a self, input: &'a PolicyInput) -> DecisionFuture<'a> {
///         Box::pin(async move {
///             let allowed = input.caller().trust_domain_name() == input.callee().trust_domain_name();
///             AuthzDecision {
///                 allowed,
///                 reason: Arc::from(if allowed { "same trust domain" } else { "foreign caller" }),
///                 audit_id: AuditId::next(),
///                 policy_id: Arc::from("same-domain-only"),
///                 source: DecisionSource::Policy,
///             }
///         })
///     }
/// }
///
/// # tokio_test_block_on(async {
/// let me = SpiffeId::parse("spiffe://a.org/agent/me").unwrap();
/// let enforcer: Arc<dyn PolicyEnforcer> = Arc::new(SameDomainOnly { me });
/// let peer = SpiffeId::parse("spiffe://b.org/agent/x").unwrap();
/// let decision = enforcer.check_inbound(&peer, "ping", Default::default()).await;
/// assert!(!decision.allowed);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub trait PolicyEnforcer: Send + Sync {
    /// The local agent's SPIFFE ID: the callee of inbound checks.
    fn local_id(&self) -> &SpiffeId;

    /// Decides one input. Both `check_*` methods end here.
    fn decide<'a>(&'a self, input: &'a PolicyInput) -> DecisionFuture<'a>;

    /// May `caller` (the peer verified by mTLS) perform `action` on the local agent?
    fn check_inbound<'a>(
        &'a self,
        caller: &SpiffeId,
        action: &str,
        context: AuthzContext,
    ) -> DecisionFuture<'a> {
        let input = PolicyInput::new(
            Direction::Inbound,
            caller.clone(),
            self.local_id().clone(),
            action,
            context,
        );
        Box::pin(async move { self.decide(&input).await })
    }

    /// May `caller` (normally the local agent) perform `action` on `callee`? Decided before any
    /// network traffic.
    fn check_outbound<'a>(
        &'a self,
        caller: &SpiffeId,
        callee: &SpiffeId,
        action: &str,
        context: AuthzContext,
    ) -> DecisionFuture<'a> {
        let input =
            PolicyInput::new(Direction::Outbound, caller.clone(), callee.clone(), action, context);
        Box::pin(async move { self.decide(&input).await })
    }
}

impl<T: PolicyEnforcer + ?Sized> PolicyEnforcer for std::sync::Arc<T> {
    fn local_id(&self) -> &SpiffeId {
        (**self).local_id()
    }

    fn decide<'a>(&'a self, input: &'a PolicyInput) -> DecisionFuture<'a> {
        (**self).decide(input)
    }
}

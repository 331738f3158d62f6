//! The per-request authorization hook.

use futures::future::BoxFuture;

use super::identity::CallerIdentity;
use crate::method::A2aMethod;
use crate::types::Message;

/// What is being attempted, passed to the [`Authorizer`] for every A2A method call.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AuthzRequest<'a> {
    /// The caller.
    pub caller: &'a CallerIdentity,
    /// The method.
    pub method: A2aMethod,
    /// The task concerned, when the method names one.
    pub task_id: Option<&'a str>,
    /// The identity that created that task, when it exists.
    pub task_owner: Option<&'a CallerIdentity>,
    /// The message being sent (send methods).
    pub message: Option<&'a Message>,
}

/// The hook's answer. A denial is a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthzDecision {
    /// Go ahead.
    Allow,
    /// Refuse, with a reason for the audit trail (not sent to the caller for task-scoped
    /// methods, which answer TaskNotFound so as not to reveal the task exists).
    Deny {
        /// Why.
        reason: String,
    },
}

/// The hook could not decide (e.g. a policy engine is unreachable). The server fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("authorization could not be evaluated: {0}")]
pub struct AuthzFault(pub String);

/// Decides whether a caller may perform a method, called on every request.
///
/// The AgentWeave facade implements it over its policy engine. Implementations must be
/// usable as `Arc<dyn Authorizer>`:
///
/// ```
/// use agentweave_a2a::server::{Authorizer, AuthzDecision, AuthzFault, AuthzRequest};
/// use futures::future::BoxFuture;
///
/// struct DenyCancels;
/// impl Authorizer for DenyCancels {
///     fn authorize<'a>(&'a self, req: AuthzRequest<'a>) -> BoxFuture<'a, Result<AuthzDecision, AuthzFault>> {
///         Box::pin(async move {
///             Ok(if req.method == agentweave_a2a::A2aMethod::CancelTask {
///                 AuthzDecision::Deny { reason: "cancels are not allowed".into() }
///             } else {
///                 AuthzDecision::Allow
///             })
///         })
///     }
/// }
/// ```
pub trait Authorizer: Send + Sync {
    /// Decides one request.
    fn authorize<'a>(
        &'a self,
        request: AuthzRequest<'a>,
    ) -> BoxFuture<'a, Result<AuthzDecision, AuthzFault>>;

    /// Whether `ListTasks` may return tasks created by others. Default: no, callers list only
    /// their own tasks.
    fn list_all_tasks(&self, _caller: &CallerIdentity) -> bool {
        false
    }
}

/// Default policy: every method is allowed, but a task is visible (get, list, cancel,
/// subscribe, continue, push configs) only to the identity that created it.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnerOnly;

impl Authorizer for OwnerOnly {
    fn authorize<'a>(
        &'a self,
        request: AuthzRequest<'a>,
    ) -> BoxFuture<'a, Result<AuthzDecision, AuthzFault>> {
        let decision = match request.task_owner {
            Some(owner) if owner != request.caller => AuthzDecision::Deny {
                reason: format!("task is owned by {owner}, not by {}", request.caller),
            },
            _ => AuthzDecision::Allow,
        };
        Box::pin(std::future::ready(Ok(decision)))
    }
}

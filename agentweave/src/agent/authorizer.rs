//! Inbound authorization of every A2A method: `agentweave-a2a`'s [`Authorizer`] hook over the
//! agent's [`PolicyEnforcer`].
//!
//! * The action is the capability name (message metadata [`CAPABILITY_KEY`]) for sends that
//!   carry one, and the A2A method name otherwise (`GetTask`, `CancelTask`, `ListTasks`, …).
//! * Task ownership is checked first and is not delegated to policy: a task created by another
//!   identity is refused (the server then answers TaskNotFound, so its existence does not leak).
//!   The refusal is audited as an `ownership` record; policy decisions are audited by the wrapped
//!   enforcer. Each request thus leaves exactly one record for the decision that settled it.
//! * A caller without a SPIFFE ID is refused (the mTLS listener always provides one).

use std::sync::Arc;

use agentweave_a2a::A2aMethod;
use agentweave_a2a::server::{Authorizer, AuthzDecision, AuthzFault, AuthzRequest, CallerIdentity};
use agentweave_a2a::types::Message;
use agentweave_authz::{AuthzContext, PolicyEnforcer};
use futures::future::BoxFuture;

use super::audit::{Auditor, FacadeRecord, now_rfc3339};
use super::observe::current_request;
use super::wire::{CAPABILITY_KEY, metadata_str};
use crate::ops::labels::InboundOutcome;
use crate::ops::metrics::{Direction, Metrics};

/// The facade's [`Authorizer`].
pub(crate) struct PolicyAuthorizer {
    pub(crate) enforcer: Arc<dyn PolicyEnforcer>,
    pub(crate) auditor: Auditor,
    pub(crate) metrics: Arc<Metrics>,
}

impl Authorizer for PolicyAuthorizer {
    fn authorize<'a>(
        &'a self,
        request: AuthzRequest<'a>,
    ) -> BoxFuture<'a, Result<AuthzDecision, AuthzFault>> {
        let call = Call {
            caller: request.caller,
            method: request.method,
            task_id: request.task_id,
            task_owner: request.task_owner,
            message: request.message,
        };
        Box::pin(async move { Ok(self.decide(call).await) })
    }
}

/// The fields of an [`AuthzRequest`] the decision uses.
#[derive(Clone, Copy, Debug)]
struct Call<'a> {
    caller: &'a CallerIdentity,
    method: A2aMethod,
    task_id: Option<&'a str>,
    task_owner: Option<&'a CallerIdentity>,
    message: Option<&'a Message>,
}

impl PolicyAuthorizer {
    async fn decide(&self, request: Call<'_>) -> AuthzDecision {
        // The inbound request this decision is about (absent only outside the mTLS listener).
        let observed = current_request();
        let refuse = |reason: String| {
            if let Some(state) = &observed {
                state.set_outcome(InboundOutcome::Denied);
            }
            AuthzDecision::Deny { reason }
        };
        let method = request.method;
        if let Some(state) = &observed {
            state.set_method(method);
        }
        let Some(caller) = request.caller.spiffe_id() else {
            return refuse("the caller has no SPIFFE ID".into());
        };
        let capability = request.message.and_then(|m| metadata_str(m, CAPABILITY_KEY));
        let trace_id = observed.as_ref().map(|s| s.trace.trace_id.to_string());
        let trace_id = trace_id.as_deref();
        if let Some(owner) = request.task_owner
            && owner != request.caller
        {
            self.metrics.ownership_refusal();
            let reason = format!("task is owned by {owner}");
            let audited = self
                .auditor
                .record(&FacadeRecord {
                    time: now_rfc3339(),
                    event: "ownership",
                    caller: caller.as_str(),
                    callee: self.enforcer.local_id().as_str(),
                    capability,
                    a2a_method: Some(method.as_str()),
                    task_id: request.task_id,
                    trace_id,
                    allowed: false,
                    reason: &reason,
                    verdict: None,
                    reason_code: None,
                    audit_trace_id: None,
                })
                .await;
            if !audited {
                tracing::warn!("ownership refusal could not be audited");
            }
            return refuse(reason);
        }
        let action = match (method, capability) {
            (A2aMethod::SendMessage | A2aMethod::SendStreamingMessage, Some(capability)) => {
                capability
            }
            _ => method.as_str(),
        };
        let mut context = AuthzContext::for_method(method.as_str());
        if let Some(capability) = capability {
            context = context.with_capability(capability);
        }
        if let Some(task_id) = request.task_id {
            context = context.with_task_id(task_id);
        }
        if let Some(message) = request.message {
            context = context.with_message_id(&message.message_id);
        }
        if let Some(trace_id) = trace_id {
            context = context.with_trace_id(trace_id);
        }
        let decision = self.enforcer.check_inbound(caller, action, context).await;
        self.metrics.policy(Direction::Inbound, decision.allowed, decision.source);
        if decision.allowed { AuthzDecision::Allow } else { refuse(decision.reason.to_string()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentweave_a2a::types::Part;
    use agentweave_authz::{
        AuditId, AuthzDecision as Decision, DecisionFuture, DecisionSource, PolicyInput, SpiffeId,
    };
    use std::sync::Mutex;

    /// Records the inputs it sees and allows only the actions listed.
    struct Recorder {
        me: SpiffeId,
        allow: Vec<&'static str>,
        seen: Mutex<Vec<(String, String, Option<String>)>>,
    }

    impl PolicyEnforcer for Recorder {
        fn local_id(&self) -> &SpiffeId {
            &self.me
        }
        fn decide<'a>(&'a self, input: &'a PolicyInput) -> DecisionFuture<'a> {
            let allowed = self.allow.contains(&input.action());
            self.seen.lock().unwrap().push((
                input.caller().to_string(),
                input.action().to_owned(),
                input.context().capability.clone(),
            ));
            Box::pin(std::future::ready(Decision {
                allowed,
                reason: Arc::from("test"),
                audit_id: AuditId::next(),
                policy_id: Arc::from("test"),
                source: DecisionSource::Policy,
            }))
        }
    }

    fn authorizer(allow: Vec<&'static str>) -> (PolicyAuthorizer, Arc<Recorder>) {
        let recorder = Arc::new(Recorder {
            me: SpiffeId::parse("spiffe://t.org/agent/me").unwrap(),
            allow,
            seen: Mutex::new(Vec::new()),
        });
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry));
        (PolicyAuthorizer { enforcer: recorder.clone(), auditor: Auditor(None), metrics }, recorder)
    }

    fn spiffe(id: &str) -> CallerIdentity {
        CallerIdentity::Spiffe(SpiffeId::parse(id).unwrap())
    }

    fn call<'a>(
        caller: &'a CallerIdentity,
        method: A2aMethod,
        task_id: Option<&'a str>,
        task_owner: Option<&'a CallerIdentity>,
        message: Option<&'a Message>,
    ) -> Call<'a> {
        Call { caller, method, task_id, task_owner, message }
    }

    fn send_with(capability: Option<&str>) -> Message {
        match capability {
            Some(c) => super::super::wire::request_message(c, serde_json::json!({}), "x"),
            None => Message::user(vec![Part::text("hi")]),
        }
    }

    #[tokio::test]
    async fn actions_are_capabilities_for_sends_and_methods_otherwise() {
        let (authz, recorder) = authorizer(vec!["search.query", "GetTask"]);
        let alice = spiffe("spiffe://t.org/agent/alice");
        let with_cap = send_with(Some("search.query"));
        let without_cap = send_with(None);
        let cases: [(A2aMethod, Option<&Message>, &str, bool); 5] = [
            (A2aMethod::SendMessage, Some(&with_cap), "search.query", true),
            (A2aMethod::SendStreamingMessage, Some(&with_cap), "search.query", true),
            (A2aMethod::SendMessage, Some(&without_cap), "SendMessage", false),
            (A2aMethod::GetTask, None, "GetTask", true),
            (A2aMethod::CancelTask, None, "CancelTask", false),
        ];
        for (method, message, action, allowed) in cases {
            let request = call(&alice, method, None, None, message);
            let decision = authz.decide(request).await;
            assert_eq!(decision == AuthzDecision::Allow, allowed, "{method}");
            let seen = recorder.seen.lock().unwrap().pop().unwrap();
            assert_eq!(seen.1, action, "{method}");
            assert_eq!(seen.0, "spiffe://t.org/agent/alice");
        }
    }

    #[tokio::test]
    async fn foreign_tasks_and_anonymous_callers_are_refused_before_policy() {
        let (authz, recorder) = authorizer(vec!["GetTask", "CancelTask"]);
        let alice = spiffe("spiffe://t.org/agent/alice");
        let mallory = spiffe("spiffe://t.org/agent/mallory");
        for method in [A2aMethod::GetTask, A2aMethod::CancelTask, A2aMethod::SubscribeToTask] {
            let request = call(&mallory, method, Some("t1"), Some(&alice), None);
            assert!(matches!(authz.decide(request).await, AuthzDecision::Deny { .. }));
        }
        let anonymous = CallerIdentity::Anonymous;
        let request = call(&anonymous, A2aMethod::GetTask, None, None, None);
        assert!(matches!(authz.decide(request).await, AuthzDecision::Deny { .. }));
        assert!(recorder.seen.lock().unwrap().is_empty(), "policy must not have been asked");
        let own = call(&alice, A2aMethod::GetTask, Some("t1"), Some(&alice), None);
        assert_eq!(authz.decide(own).await, AuthzDecision::Allow);
    }
}

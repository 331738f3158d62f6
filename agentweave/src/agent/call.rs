//! The caller side: `call(target, capability, payload)` → outbound policy (denied ⇒ no network
//! traffic) → `SendMessage` over the transport, which verifies the target's SPIFFE ID in the
//! handshake → typed outcome; and verification of the callee's attestation.

use agentweave_a2a::ErrorKind;
use agentweave_a2a::card::AGENT_CARD_PATH;
use agentweave_a2a::types::{AgentCard, Message, SendMessageResponse, TaskState, TaskStatus};
use agentweave_attest::{Claims, Expected, Verifier, VerifyError, json};
use agentweave_authz::AuthzContext;
use agentweave_identity::SpiffeId;
use agentweave_transport::{Endpoint, ExpectedPeer, Peer, SendOptions, TransportError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::card::attestation_keys;
use super::error::CallError;
use super::secure_agent::{SecureAgent, verifier_config};
use super::wire::{
    Exchange, ExchangeFault, VERDICT_KEY, VerdictSummary, first_data, request_message, send_message,
};
use crate::ops::labels::outbound_index;
use crate::ops::metrics::Direction;
use crate::ops::trace::TraceContext;
use tracing::Instrument as _;

/// A successful call.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CallOutcome {
    /// The agent called.
    pub target: SpiffeId,
    /// The capability invoked.
    pub capability: String,
    /// The A2A task on the target (readable only by us).
    pub task_id: String,
    /// The handler's result.
    pub output: Value,
    /// The guard verdict, when the capability is guarded; its attestation can be checked with
    /// [`SecureAgent::verify_attestation`].
    pub verdict: Option<VerdictSummary>,
    /// The payload sent (what the attestation is bound to).
    pub payload: Value,
    /// The W3C trace id of the call (the handler's trace when called from a handler, a new
    /// trace otherwise); the callee's handler sees the same id.
    pub trace_id: String,
}

impl CallOutcome {
    /// The result decoded as `T`.
    pub fn output_as<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        serde_json::from_value(self.output.clone()).map_err(|e| CallError::Protocol {
            target: self.target.clone(),
            detail: format!("the result does not have the expected shape: {e}"),
        })
    }
}

/// Why an attestation could not be verified.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    /// The call carried no signed verdict.
    #[error("the call to {0} carried no attestation")]
    Missing(SpiffeId),
    /// The peer's keys could not be obtained or are unusable.
    #[error("keys of {target}: {detail}")]
    Keys {
        /// The peer.
        target: SpiffeId,
        /// What went wrong.
        detail: String,
    },
    /// The token failed verification (signature, issuer, binding, expiry or replay).
    #[error("attestation of {target} refused: {source}")]
    Invalid {
        /// The peer.
        target: SpiffeId,
        /// The verifier's reason.
        #[source]
        source: VerifyError,
    },
}

impl SecureAgent {
    pub(super) fn peer(&self, target: &SpiffeId) -> Result<Peer, CallError> {
        let endpoint =
            self.inner.peers.get(target).ok_or_else(|| CallError::UnknownPeer(target.clone()))?;
        Ok(peer_for(target, endpoint, self.inner.danger_any_peer_id))
    }

    /// Calls `capability` on `target` with `payload`.
    ///
    /// Our own policy decides first (`check_outbound`, audited); a denial returns
    /// [`CallError::Denied`] without any network traffic. Otherwise an A2A `SendMessage` goes to
    /// the target's endpoint from the peer map over mTLS, and the handshake must prove exactly
    /// `target`. The message is sent once (never retried: it has side effects).
    ///
    /// The request carries a W3C `traceparent` header: a new span in the current trace
    /// ([`TraceContext::current`], set while a handler runs), or a new trace. Each call is
    /// counted in `agentweave_outbound_calls_total` by outcome and timed.
    pub async fn call(
        &self,
        target: &SpiffeId,
        capability: &str,
        payload: Value,
    ) -> Result<CallOutcome, CallError> {
        let started = tokio::time::Instant::now();
        let current = TraceContext::current();
        let trace = current.map_or_else(TraceContext::root, |c| c.child());
        let span = tracing::info_span!(
            "agentweave.call",
            trace_id = %trace.trace_id,
            span_id = %trace.span_id,
            peer = %target,
        );
        if current.is_none() {
            // A new trace: exported spans (feature `otlp`) carry its id. Within a handler the
            // span already descends from the inbound request's.
            crate::ops::otlp::adopt(&span, &trace);
        }
        let result = self.call_traced(target, capability, payload, trace).instrument(span).await;
        self.inner.metrics.outbound(outbound_index(&result), started.elapsed());
        result
    }

    async fn call_traced(
        &self,
        target: &SpiffeId,
        capability: &str,
        payload: Value,
        trace: TraceContext,
    ) -> Result<CallOutcome, CallError> {
        let peer = self.peer(target)?;
        let trace_id = trace.trace_id.to_string();
        let message = request_message(capability, payload.clone(), &trace_id);
        self.authorize_outbound(target, capability, "SendMessage", &message.message_id, &trace_id)
            .await?;
        let traceparent = trace.traceparent();
        let exchange = send_message(
            &*self.inner.transport,
            &peer,
            message,
            &traceparent,
            SendOptions::default(),
        )
        .await;
        let response = match exchange {
            Ok(Exchange::Result(response)) => *response,
            Ok(Exchange::Error { code, message }) => {
                return Err(if code == ErrorKind::PermissionDenied.jsonrpc_code() {
                    CallError::RemoteDenied { target: target.clone(), message }
                } else {
                    CallError::Remote { target: target.clone(), code, message }
                });
            }
            Err(ExchangeFault::Transport(error)) => return Err(transport_error(target, error)),
            Err(ExchangeFault::Protocol(detail)) => {
                return Err(CallError::Protocol { target: target.clone(), detail });
            }
        };
        outcome(target, capability, payload, trace_id, response)
    }

    /// Our own outbound policy on `capability` of `target` (audited by the enforcer, counted in
    /// the policy metrics): a denial is [`CallError::Denied`], and the caller sends nothing.
    pub(super) async fn authorize_outbound(
        &self,
        target: &SpiffeId,
        capability: &str,
        a2a_method: &str,
        message_id: &str,
        trace_id: &str,
    ) -> Result<(), CallError> {
        let context = AuthzContext::for_method(a2a_method)
            .with_capability(capability)
            .with_message_id(message_id)
            .with_trace_id(trace_id);
        let decision = self
            .inner
            .enforcer
            .check_outbound(&self.inner.spiffe_id, target, capability, context)
            .await;
        self.inner.metrics.policy(Direction::Outbound, decision.allowed, decision.source);
        if !decision.allowed {
            return Err(CallError::Denied {
                target: target.clone(),
                reason: decision.reason.to_string(),
            });
        }
        Ok(())
    }

    /// Fetches `target`'s agent card over mTLS (the handshake must prove `target`) and checks
    /// that the card declares the same SPIFFE ID.
    pub async fn fetch_card(&self, target: &SpiffeId) -> Result<AgentCard, CallError> {
        let peer = self.peer(target)?;
        let request = http::Request::get(AGENT_CARD_PATH)
            .body(bytes::Bytes::new())
            .map_err(|e| CallError::Local { target: target.clone(), detail: e.to_string() })?;
        let response = self
            .inner
            .transport
            .send(&peer, request, SendOptions::safe_to_retry())
            .await
            .map_err(|e| transport_error(target, e))?;
        let status = response.status();
        let body =
            response.into_body().collect_bytes().await.map_err(|e| transport_error(target, e))?;
        if !status.is_success() {
            return Err(CallError::Protocol {
                target: target.clone(),
                detail: format!("agent card answered HTTP {status}"),
            });
        }
        let card: AgentCard = serde_json::from_slice(&body).map_err(|e| CallError::Protocol {
            target: target.clone(),
            detail: format!("agent card is not valid: {e}"),
        })?;
        if card.spiffe_id() != Some(target.as_str()) {
            return Err(CallError::Protocol {
                target: target.clone(),
                detail: format!(
                    "agent card declares SPIFFE ID {:?}, not the peer's",
                    card.spiffe_id()
                ),
            });
        }
        Ok(card)
    }

    /// Verifies the attestation of a guarded call: signed by the target's key, issued by the
    /// target, about our message to it (sender = us, receiver = target, payload hash, payload
    /// type), unexpired and not seen before. The keys come from the target's agent card, fetched
    /// over mTLS on first use and kept; a token naming a key we do not know (the peer restarted
    /// with a new key, or another replica answered) makes us fetch the card once more.
    pub async fn verify_attestation(
        &self,
        outcome: &CallOutcome,
    ) -> Result<Claims, AttestationError> {
        let target = &outcome.target;
        let verdict = outcome.verdict.as_ref();
        let token = verdict
            .and_then(|v| v.attestation.as_deref())
            .ok_or_else(|| AttestationError::Missing(target.clone()))?;
        self.verify_token(target, token, &outcome.payload, verdict.map(|v| v.payload_type.as_str()))
            .await
    }

    /// Verifies an attestation `token` from `target` about `payload` that we sent to it.
    pub async fn verify_token(
        &self,
        target: &SpiffeId,
        token: &str,
        payload: &Value,
        payload_type: Option<&str>,
    ) -> Result<Claims, AttestationError> {
        let keys_error = |detail: String| AttestationError::Keys { target: target.clone(), detail };
        let (verifier, fresh) = match self.inner.verifier(target) {
            Some(v) => (v, false),
            None => {
                let verifier = self.verifier_from_card(target, None).await?;
                (self.inner.set_verifier(target.clone(), verifier), true)
            }
        };
        let text = serde_json::to_string(payload).map_err(|e| keys_error(e.to_string()))?;
        let payload = json::parse(&text, json::ParseOptions::default())
            .map_err(|e| keys_error(format!("payload cannot be canonicalized: {e}")))?;
        let expected = Expected {
            sender: self.inner.spiffe_id.as_str(),
            receiver: target.as_str(),
            payload: &payload,
            payload_type,
            session_id: None,
        };
        let result = match verifier.verify(token, &expected) {
            // Keys we fetched before, and the token names another: the peer restarted with a new
            // key, or another replica answered. Fetch its card once more (over mTLS, from the
            // same proven identity) and learn its keys, keeping the replay memory.
            Err(VerifyError::UnknownKey(_)) if !fresh => {
                let refreshed = self.verifier_from_card(target, Some(&verifier)).await?;
                self.inner.set_verifier(target.clone(), refreshed).verify(token, &expected)
            }
            other => other,
        };
        result.map_err(|source| AttestationError::Invalid { target: target.clone(), source })
    }

    /// A verifier for `target`'s attestation keys as its card (fetched now) publishes them:
    /// a new one, or `base` plus the card's keys (sharing `base`'s replay memory).
    async fn verifier_from_card(
        &self,
        target: &SpiffeId,
        base: Option<&Verifier>,
    ) -> Result<Verifier, AttestationError> {
        let keys_error = |detail: String| AttestationError::Keys { target: target.clone(), detail };
        let card = self.fetch_card(target).await.map_err(|e| keys_error(e.to_string()))?;
        let (issuer, jwks) = attestation_keys(&card)
            .ok_or_else(|| keys_error("the agent card publishes no attestation keys".into()))?;
        if issuer != target.as_str() {
            return Err(keys_error(format!(
                "the agent card names issuer {issuer:?}, not the peer"
            )));
        }
        match base {
            Some(base) => base.with_more_keys(&issuer, None, &jwks),
            None => {
                let mut verifier = Verifier::new(verifier_config());
                verifier.trust_jwks(&issuer, None, &jwks).map(|()| verifier)
            }
        }
        .map_err(|e| keys_error(e.to_string()))
    }
}

/// The transport peer for `target` at `endpoint`: exactly `target` must answer, unless the agent
/// was built with `danger_accept_any_peer_id`. The pool and breaker are keyed by this value.
pub(crate) fn peer_for(target: &SpiffeId, endpoint: &Endpoint, danger_any_peer_id: bool) -> Peer {
    let expected = if danger_any_peer_id {
        ExpectedPeer::member_of(target.trust_domain())
    } else {
        ExpectedPeer::exact(target.clone())
    };
    Peer::new(endpoint.clone(), expected)
}

pub(super) fn transport_error(target: &SpiffeId, error: TransportError) -> CallError {
    let target = target.clone();
    match error {
        TransportError::CircuitOpen { retry_after, .. } => {
            CallError::CircuitOpen { target, retry_after }
        }
        e @ (TransportError::ConnectTimeout { .. } | TransportError::RequestTimeout { .. }) => {
            CallError::Timeout { target, detail: e.to_string() }
        }
        TransportError::HandshakeRefused { reason, .. } => {
            CallError::Handshake { target, detail: reason.to_string() }
        }
        e @ (TransportError::Unreachable { .. }
        | TransportError::Connection { .. }
        | TransportError::PoolExhausted { .. }
        | TransportError::Body { .. }) => CallError::Unreachable { target, detail: e.to_string() },
        e => CallError::Local { target, detail: e.to_string() },
    }
}

fn verdict_of(message: Option<&Message>) -> Option<VerdictSummary> {
    let value = message?.metadata.as_ref()?.get(VERDICT_KEY)?;
    serde_json::from_value(value.clone()).ok()
}

fn outcome(
    target: &SpiffeId,
    capability: &str,
    payload: Value,
    trace_id: String,
    response: SendMessageResponse,
) -> Result<CallOutcome, CallError> {
    let protocol =
        |detail: &str| CallError::Protocol { target: target.clone(), detail: detail.into() };
    let task = match response {
        SendMessageResponse::Task(task) => task,
        SendMessageResponse::Message(_) => {
            return Err(protocol("the agent answered with a message instead of a task"));
        }
        _ => return Err(protocol("unknown SendMessage response")),
    };
    settle(target, capability, payload, trace_id, task.id, task.status)
}

/// The outcome of a call whose task `task_id` ended in `status` (the answer of `SendMessage`, or
/// the last event of a stream).
pub(super) fn settle(
    target: &SpiffeId,
    capability: &str,
    payload: Value,
    trace_id: String,
    task_id: String,
    status: TaskStatus,
) -> Result<CallOutcome, CallError> {
    let protocol =
        |detail: &str| CallError::Protocol { target: target.clone(), detail: detail.into() };
    let status_message = status.message.as_ref();
    let verdict = verdict_of(status_message);
    match (status.state, verdict) {
        (TaskState::Completed, verdict) => {
            let output = status_message
                .and_then(first_data)
                .cloned()
                .ok_or_else(|| protocol("the completed task carries no data part"))?;
            Ok(CallOutcome {
                target: target.clone(),
                capability: capability.to_owned(),
                task_id,
                output,
                verdict,
                payload,
                trace_id,
            })
        }
        (TaskState::Rejected, Some(verdict)) => Err(CallError::GuardBlocked {
            target: target.clone(),
            reason_code: verdict.reason_code.clone(),
            verdict: Box::new(verdict),
        }),
        (state, _) => Err(CallError::TaskFailed {
            target: target.clone(),
            task_id,
            state: state.to_string(),
            message: status_message.map(Message::text).unwrap_or_default(),
        }),
    }
}

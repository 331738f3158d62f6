//! The policy input: one shape for both directions and both providers (design.md, "Contracts").

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use agentweave_identity::SpiffeId;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

/// Which side of a call is being decided.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A peer calls the local agent; the callee is the local agent.
    Inbound,
    /// The local agent calls a peer; decided before any network traffic.
    Outbound,
}

impl Direction {
    /// The wire name, `"inbound"` or `"outbound"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the request is about, beyond who and which action: the `context` object of the input.
///
/// The named fields are the ones the SDK fills; `extra` carries any further string facts an
/// application wants policies to see (flattened into the same object). `trace_id` is deliberately
/// *not* part of the policy input: it differs on every request, so keying decisions on it would
/// make them uncacheable and let a caller steer policy with a header it chooses. It is recorded in
/// the audit line only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthzContext {
    /// The A2A method (`SendMessage`, `GetTask`, `CancelTask`, …).
    pub a2a_method: Option<String>,
    /// The capability named in the message metadata, for sends.
    pub capability: Option<String>,
    /// The task the request refers to, when there is one.
    pub task_id: Option<String>,
    /// The message ID, when the request carries a message.
    pub message_id: Option<String>,
    /// Further facts for policy, as `context.<key>`; keys must not collide with the named fields.
    #[serde(flatten)]
    pub extra: BTreeMap<String, String>,
    /// The distributed trace ID (W3C `traceparent` trace-id), for the audit record only.
    #[serde(skip)]
    pub trace_id: Option<String>,
}

impl AuthzContext {
    /// A context for an A2A method, with no other facts.
    pub fn for_method(a2a_method: &str) -> Self {
        Self { a2a_method: Some(a2a_method.to_owned()), ..Self::default() }
    }

    /// Sets the capability.
    #[must_use]
    pub fn with_capability(mut self, capability: &str) -> Self {
        self.capability = Some(capability.to_owned());
        self
    }

    /// Sets the task ID.
    #[must_use]
    pub fn with_task_id(mut self, task_id: &str) -> Self {
        self.task_id = Some(task_id.to_owned());
        self
    }

    /// Sets the message ID.
    #[must_use]
    pub fn with_message_id(mut self, message_id: &str) -> Self {
        self.message_id = Some(message_id.to_owned());
        self
    }

    /// Sets the trace ID recorded in the audit line.
    #[must_use]
    pub fn with_trace_id(mut self, trace_id: &str) -> Self {
        self.trace_id = Some(trace_id.to_owned());
        self
    }

    /// Adds an application fact, visible to policy as `input.context.<key>`.
    #[must_use]
    pub fn with_extra(mut self, key: &str, value: &str) -> Self {
        self.extra.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Hashes everything policy sees (all but `trace_id`).
    fn hash_policy_view<H: Hasher>(&self, state: &mut H) {
        self.a2a_method.hash(state);
        self.capability.hash(state);
        self.task_id.hash(state);
        self.message_id.hash(state);
        self.extra.hash(state);
    }

    /// Equality of everything policy sees (all but `trace_id`).
    fn eq_policy_view(&self, other: &Self) -> bool {
        self.a2a_method == other.a2a_method
            && self.capability == other.capability
            && self.task_id == other.task_id
            && self.message_id == other.message_id
            && self.extra == other.extra
    }
}

impl Serialize for AuthzContext {
    /// Absent named fields are omitted (policies test them with `object.get` or `in`), and an
    /// `extra` key that collides with a named field is dropped rather than allowed to override
    /// what the SDK established.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const NAMED: [&str; 4] = ["a2a_method", "capability", "task_id", "message_id"];
        let mut map = serializer.serialize_map(None)?;
        let named = [&self.a2a_method, &self.capability, &self.task_id, &self.message_id];
        for (key, value) in NAMED.iter().zip(named) {
            if let Some(value) = value {
                map.serialize_entry(key, value)?;
            }
        }
        for (key, value) in &self.extra {
            if !NAMED.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// The document handed to policy as `input`.
///
/// The trust domains are derived from the IDs when serialising, so they can never disagree with
/// them. For inbound checks the callee is the local agent (the enforcer knows its own ID); for
/// outbound checks the caller is.
#[derive(Debug, Clone)]
pub struct PolicyInput {
    direction: Direction,
    caller: SpiffeId,
    callee: SpiffeId,
    action: String,
    context: AuthzContext,
}

impl PolicyInput {
    /// Builds an input.
    pub fn new(
        direction: Direction,
        caller: SpiffeId,
        callee: SpiffeId,
        action: impl Into<String>,
        context: AuthzContext,
    ) -> Self {
        Self { direction, caller, callee, action: action.into(), context }
    }

    /// Which side of the call is decided.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Who calls.
    pub fn caller(&self) -> &SpiffeId {
        &self.caller
    }

    /// Who is called.
    pub fn callee(&self) -> &SpiffeId {
        &self.callee
    }

    /// The action (capability name or A2A method) being authorized.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The request context.
    pub fn context(&self) -> &AuthzContext {
        &self.context
    }

    /// The input as a JSON value, exactly what a provider sends to policy.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "direction": self.direction,
            "caller_spiffe_id": self.caller.as_str(),
            "callee_spiffe_id": self.callee.as_str(),
            "caller_trust_domain": self.caller.trust_domain_name(),
            "callee_trust_domain": self.callee.trust_domain_name(),
            "action": self.action,
            "context": self.context,
        })
    }

    /// The input as a regorus value, built directly (no JSON text round trip on the hot path).
    ///
    /// The field names and direction strings are this thread's shared values ([`RegoKeys`]):
    /// cloning them is a reference count increment where `Value::from(&str)` allocates, and a
    /// decision builds nine keys. Only the caller's own strings (IDs, action, context) are
    /// allocated per call.
    pub(crate) fn to_rego_value(&self) -> regorus::Value {
        use regorus::Value;
        REGO_KEYS.with(|keys| {
            let mut context = Value::new_object();
            if let Ok(object) = context.as_object_mut() {
                let named = [
                    (&keys.a2a_method, &self.context.a2a_method),
                    (&keys.capability, &self.context.capability),
                    (&keys.task_id, &self.context.task_id),
                    (&keys.message_id, &self.context.message_id),
                ];
                for (key, value) in named {
                    if let Some(value) = value {
                        object.insert(key.clone(), Value::from(value.as_str()));
                    }
                }
                for (key, value) in &self.context.extra {
                    let key = Value::from(key.as_str());
                    if object.get(&key).is_none() {
                        object.insert(key, Value::from(value.as_str()));
                    }
                }
            }
            let direction = match self.direction {
                Direction::Inbound => &keys.inbound,
                Direction::Outbound => &keys.outbound,
            };
            let mut input = Value::new_object();
            if let Ok(object) = input.as_object_mut() {
                let fields = [
                    (&keys.direction, direction.clone()),
                    (&keys.caller_spiffe_id, Value::from(self.caller.as_str())),
                    (&keys.callee_spiffe_id, Value::from(self.callee.as_str())),
                    (&keys.caller_trust_domain, Value::from(self.caller.trust_domain_name())),
                    (&keys.callee_trust_domain, Value::from(self.callee.trust_domain_name())),
                    (&keys.action, Value::from(self.action.as_str())),
                    (&keys.context, context),
                ];
                for (key, value) in fields {
                    object.insert(key.clone(), value);
                }
            }
            input
        })
    }

    /// Drops the trace ID (what the cache stores: it is no part of the key).
    pub(crate) fn clear_trace_id(&mut self) {
        self.context.trace_id = None;
    }

    #[cfg(test)]
    pub(crate) fn context_mut(&mut self) -> &mut AuthzContext {
        &mut self.context
    }

    /// Hash of everything policy sees: the decision cache key.
    pub(crate) fn hash_policy_view<H: Hasher>(&self, state: &mut H) {
        self.direction.hash(state);
        self.caller.hash(state);
        self.callee.hash(state);
        self.action.hash(state);
        self.context.hash_policy_view(state);
    }

    /// Equality of everything policy sees: confirms a cache hit is not a hash collision.
    pub(crate) fn eq_policy_view(&self, other: &Self) -> bool {
        self.direction == other.direction
            && self.caller == other.caller
            && self.callee == other.callee
            && self.action == other.action
            && self.context.eq_policy_view(&other.context)
    }
}

impl Serialize for PolicyInput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(7))?;
        map.serialize_entry("direction", &self.direction)?;
        map.serialize_entry("caller_spiffe_id", self.caller.as_str())?;
        map.serialize_entry("callee_spiffe_id", self.callee.as_str())?;
        map.serialize_entry("caller_trust_domain", self.caller.trust_domain_name())?;
        map.serialize_entry("callee_trust_domain", self.callee.trust_domain_name())?;
        map.serialize_entry("action", &self.action)?;
        map.serialize_entry("context", &self.context)?;
        map.end()
    }
}

/// The constant strings of a policy input as regorus values, made once per thread (a thread's
/// own copies: clones from several threads never contend on one reference count).
struct RegoKeys {
    direction: regorus::Value,
    caller_spiffe_id: regorus::Value,
    callee_spiffe_id: regorus::Value,
    caller_trust_domain: regorus::Value,
    callee_trust_domain: regorus::Value,
    action: regorus::Value,
    context: regorus::Value,
    a2a_method: regorus::Value,
    capability: regorus::Value,
    task_id: regorus::Value,
    message_id: regorus::Value,
    inbound: regorus::Value,
    outbound: regorus::Value,
}

thread_local! {
    static REGO_KEYS: RegoKeys = {
        use regorus::Value;
        RegoKeys {
            direction: Value::from("direction"),
            caller_spiffe_id: Value::from("caller_spiffe_id"),
            callee_spiffe_id: Value::from("callee_spiffe_id"),
            caller_trust_domain: Value::from("caller_trust_domain"),
            callee_trust_domain: Value::from("callee_trust_domain"),
            action: Value::from("action"),
            context: Value::from("context"),
            a2a_method: Value::from("a2a_method"),
            capability: Value::from("capability"),
            task_id: Value::from("task_id"),
            message_id: Value::from("message_id"),
            inbound: Value::from(Direction::Inbound.as_str()),
            outbound: Value::from(Direction::Outbound.as_str()),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SpiffeId {
        SpiffeId::parse(s).unwrap()
    }

    fn sample() -> PolicyInput {
        PolicyInput::new(
            Direction::Inbound,
            id("spiffe://a.org/agent/x"),
            id("spiffe://b.org/agent/y/prod"),
            "search.query",
            AuthzContext::for_method("SendMessage")
                .with_capability("search.query")
                .with_message_id("m-1")
                .with_trace_id("trace-1")
                .with_extra("tenant", "acme")
                .with_extra("capability", "forged"),
        )
    }

    #[test]
    fn input_matches_the_contract_exactly() {
        let expected = serde_json::json!({
            "direction": "inbound",
            "caller_spiffe_id": "spiffe://a.org/agent/x",
            "callee_spiffe_id": "spiffe://b.org/agent/y/prod",
            "caller_trust_domain": "a.org",
            "callee_trust_domain": "b.org",
            "action": "search.query",
            "context": {"a2a_method": "SendMessage", "capability": "search.query",
                        "message_id": "m-1", "tenant": "acme"},
        });
        let input = sample();
        assert_eq!(input.to_json(), expected);
        assert_eq!(serde_json::to_value(&input).unwrap(), expected);
        let rego = input.to_rego_value();
        assert_eq!(rego, regorus::Value::from(expected));
    }

    #[test]
    fn extra_cannot_override_a_named_field_and_trace_id_is_not_policy_input() {
        let json = sample().to_json();
        assert_eq!(json["context"]["capability"], "search.query");
        assert!(json["context"].get("trace_id").is_none());
        let rego = sample().to_rego_value();
        let text = rego.to_json_str().unwrap();
        assert!(!text.contains("forged") && !text.contains("trace-1"), "{text}");
    }

    #[test]
    fn policy_view_ignores_only_the_trace_id() {
        let a = sample();
        let mut b = sample();
        b.context.trace_id = Some("other".into());
        assert!(a.eq_policy_view(&b));
        let mut c = sample();
        c.context.task_id = Some("t".into());
        assert!(!a.eq_policy_view(&c));
        let mut d = sample();
        d.direction = Direction::Outbound;
        assert!(!a.eq_policy_view(&d));
    }
}

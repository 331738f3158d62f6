//! The policy input: one shape for both directions and both providers (design.md, "Contracts").

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use agentweave_identity::SpiffeId;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use crate::input_mask::{CONTEXT_NAMED, ExtraKeys, Field, InputMask};
use crate::rego_keys::{self, RegoKeys};

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

    /// The input as a regorus value, built directly (no JSON text round trip on the hot path),
    /// with only the fields in `mask`: those the policy version can read (a field it cannot
    /// read changes no decision, and building it costs time on every decision).
    ///
    /// The field names and direction strings are this thread's shared values (`rego_keys`); only
    /// the caller's own strings (IDs, action, context) are allocated per call.
    pub(crate) fn to_rego_value(&self, mask: &InputMask) -> regorus::Value {
        use regorus::Value;
        rego_keys::with(|keys| {
            let mut input = Value::new_object();
            let Ok(object) = input.as_object_mut() else { return input };
            let direction = match self.direction {
                Direction::Inbound => &keys.inbound,
                Direction::Outbound => &keys.outbound,
            };
            let caller = &self.caller;
            let callee = &self.callee;
            let strings = [
                (Field::CallerSpiffeId, &keys.caller_spiffe_id, caller.as_str()),
                (Field::CalleeSpiffeId, &keys.callee_spiffe_id, callee.as_str()),
                (Field::CallerTrustDomain, &keys.caller_trust_domain, caller.trust_domain_name()),
                (Field::CalleeTrustDomain, &keys.callee_trust_domain, callee.trust_domain_name()),
                (Field::Action, &keys.action, self.action.as_str()),
            ];
            if mask.has(Field::Direction) {
                object.insert(keys.direction.clone(), direction.clone());
            }
            for (field, key, value) in strings {
                if mask.has(field) {
                    object.insert(key.clone(), Value::from(value));
                }
            }
            if mask.reads_context() {
                object.insert(keys.context.clone(), self.context_value(keys, mask));
            }
            input
        })
    }

    /// The `context` object with the fields in `mask`.
    fn context_value(&self, keys: &RegoKeys, mask: &InputMask) -> regorus::Value {
        use regorus::Value;
        let mut context = Value::new_object();
        let Ok(object) = context.as_object_mut() else { return context };
        let named = [
            (Field::A2aMethod, &keys.a2a_method, &self.context.a2a_method),
            (Field::Capability, &keys.capability, &self.context.capability),
            (Field::TaskId, &keys.task_id, &self.context.task_id),
            (Field::MessageId, &keys.message_id, &self.context.message_id),
        ];
        for (field, key, value) in named {
            if let Some(value) = value
                && mask.has(field)
            {
                object.insert(key.clone(), Value::from(value.as_str()));
            }
        }
        for (key, value) in &self.context.extra {
            // A key named like an SDK field never overrides it, masked out or not.
            if mask.extra().has(key) && !CONTEXT_NAMED.iter().any(|(name, _)| name == key) {
                object.insert(Value::from(key.as_str()), Value::from(value.as_str()));
            }
        }
        context
    }

    /// Drops the trace ID (what the cache stores: it is no part of the key).
    pub(crate) fn clear_trace_id(&mut self) {
        self.context.trace_id = None;
    }

    #[cfg(test)]
    pub(crate) fn context_mut(&mut self) -> &mut AuthzContext {
        &mut self.context
    }

    /// Hash of the fields in `mask`: the decision cache key (the trace ID is never part of it).
    pub(crate) fn hash_view<H: Hasher>(&self, mask: &InputMask, state: &mut H) {
        for (field, value) in self.masked_strings(mask) {
            (field as u16).hash(state);
            value.hash(state);
        }
        if mask.has(Field::Direction) {
            self.direction.hash(state);
        }
        match mask.extra() {
            ExtraKeys::None => {}
            ExtraKeys::All => self.context.extra.hash(state),
            ExtraKeys::Only(keys) => {
                for key in keys {
                    self.context.extra.get(key).hash(state);
                }
            }
        }
    }

    /// Equality of the fields in `mask`: confirms a cache hit is not a hash collision.
    pub(crate) fn eq_view(&self, other: &Self, mask: &InputMask) -> bool {
        let extra_equal = match mask.extra() {
            ExtraKeys::None => true,
            ExtraKeys::All => self.context.extra == other.context.extra,
            ExtraKeys::Only(keys) => {
                keys.iter().all(|key| self.context.extra.get(key) == other.context.extra.get(key))
            }
        };
        extra_equal
            && (!mask.has(Field::Direction) || self.direction == other.direction)
            && self.masked_strings(mask).eq(other.masked_strings(mask))
    }

    /// The string fields in `mask`, in a fixed order (absent context fields as `None`). A trust
    /// domain is compared on its own only when its ID is not in the mask (the ID determines it).
    fn masked_strings<'a>(
        &'a self,
        mask: &'a InputMask,
    ) -> impl Iterator<Item = (Field, Option<&'a str>)> + 'a {
        let caller_td = !mask.has(Field::CallerSpiffeId) && mask.has(Field::CallerTrustDomain);
        let callee_td = !mask.has(Field::CalleeSpiffeId) && mask.has(Field::CalleeTrustDomain);
        let context = &self.context;
        [
            (Field::CallerSpiffeId, Some(self.caller.as_str())),
            (Field::CalleeSpiffeId, Some(self.callee.as_str())),
            (Field::Action, Some(self.action.as_str())),
            (Field::A2aMethod, context.a2a_method.as_deref()),
            (Field::Capability, context.capability.as_deref()),
            (Field::TaskId, context.task_id.as_deref()),
            (Field::MessageId, context.message_id.as_deref()),
        ]
        .into_iter()
        .filter(|(field, _)| mask.has(*field))
        .chain(caller_td.then(|| (Field::CallerTrustDomain, Some(self.caller.trust_domain_name()))))
        .chain(callee_td.then(|| (Field::CalleeTrustDomain, Some(self.callee.trust_domain_name()))))
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
        let rego = input.to_rego_value(&InputMask::ALL);
        assert_eq!(rego, regorus::Value::from(expected));
    }

    #[test]
    fn extra_cannot_override_a_named_field_and_trace_id_is_not_policy_input() {
        let json = sample().to_json();
        assert_eq!(json["context"]["capability"], "search.query");
        assert!(json["context"].get("trace_id").is_none());
        let rego = sample().to_rego_value(&InputMask::ALL);
        let text = rego.to_json_str().unwrap();
        assert!(!text.contains("forged") && !text.contains("trace-1"), "{text}");
    }

    fn mask(paths: &[&str]) -> InputMask {
        let paths: Vec<Vec<String>> =
            paths.iter().map(|p| p.split('.').map(str::to_owned).collect()).collect();
        InputMask::from_paths(paths.iter().map(Vec::as_slice))
    }

    fn hash(input: &PolicyInput, mask: &InputMask) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        input.hash_view(mask, &mut hasher);
        hasher.finish()
    }

    #[test]
    fn the_full_view_ignores_only_the_trace_id() {
        let all = InputMask::ALL;
        let a = sample();
        let mut b = sample();
        b.context.trace_id = Some("other".into());
        assert!(a.eq_view(&b, &all) && hash(&a, &all) == hash(&b, &all));
        let mut c = sample();
        c.context.task_id = Some("t".into());
        assert!(!a.eq_view(&c, &all));
        let mut d = sample();
        d.direction = Direction::Outbound;
        assert!(!a.eq_view(&d, &all));
        let mut e = sample();
        e.context.extra.insert("region".into(), "eu".into());
        assert!(!a.eq_view(&e, &all));
    }

    #[test]
    fn a_masked_input_has_exactly_the_masked_fields() {
        let cases: &[(&[&str], serde_json::Value)] = &[
            (&["action"], serde_json::json!({"action": "search.query"})),
            (
                &["direction", "caller_trust_domain", "callee_spiffe_id"],
                serde_json::json!({"direction": "inbound", "caller_trust_domain": "a.org",
                                   "callee_spiffe_id": "spiffe://b.org/agent/y/prod"}),
            ),
            (
                &["context.capability", "context.task_id"],
                serde_json::json!({"context": {"capability": "search.query"}}),
            ),
            // The extra key named like an SDK field stays out although `capability` is masked
            // out: it could otherwise stand in for the real one.
            (
                &["context.tenant", "context.capability_x"],
                serde_json::json!({"context": {"tenant": "acme"}}),
            ),
            (&["unknown"], serde_json::json!({})),
        ];
        for (paths, expected) in cases {
            let rego = sample().to_rego_value(&mask(paths));
            assert_eq!(rego, regorus::Value::from(expected.clone()), "{paths:?}");
        }
        let mut forged = sample();
        forged.context.capability = None;
        let rego = forged.to_rego_value(&mask(&["context"]));
        assert!(
            !rego.to_json_str().unwrap().contains("forged"),
            "an extra key never names an SDK field"
        );
    }

    #[test]
    fn a_masked_view_differs_exactly_when_a_masked_field_differs() {
        let m = mask(&["action", "caller_trust_domain", "context.capability", "context.tenant"]);
        let base = sample();
        // (what changes, the change, whether the masked view must differ)
        type Change = (&'static str, fn(&mut PolicyInput), bool);
        let changes: &[Change] = &[
            ("message id", |i| i.context.message_id = Some("m-2".into()), false),
            ("task id", |i| i.context.task_id = Some("t-9".into()), false),
            (
                "other extra key",
                |i| {
                    i.context.extra.insert("region".into(), "eu".into());
                },
                false,
            ),
            ("direction", |i| i.direction = Direction::Outbound, false),
            ("callee", |i| i.callee = SpiffeId::parse("spiffe://b.org/agent/z").unwrap(), false),
            (
                "caller in the same trust domain",
                |i| i.caller = SpiffeId::parse("spiffe://a.org/agent/w").unwrap(),
                false,
            ),
            (
                "caller in another trust domain",
                |i| i.caller = SpiffeId::parse("spiffe://c.org/agent/x").unwrap(),
                true,
            ),
            ("action", |i| i.action = "search.other".into(), true),
            ("capability", |i| i.context.capability = Some("other".into()), true),
            ("capability removed", |i| i.context.capability = None, true),
            (
                "masked extra key",
                |i| {
                    i.context.extra.insert("tenant".into(), "other".into());
                },
                true,
            ),
        ];
        for (name, change, differs) in changes {
            let mut other = sample();
            change(&mut other);
            assert_eq!(!base.eq_view(&other, &m), *differs, "{name}");
            if !differs {
                assert_eq!(hash(&base, &m), hash(&other, &m), "{name}: equal views hash alike");
            }
        }
    }
}

//! The constant strings the enforcer exchanges with regorus (input field names, direction
//! values, result field names), made once per thread.
//!
//! Why: `regorus::Value::from("action")` allocates; cloning a prepared value is a reference count
//! increment, and a decision builds up to nine input keys and reads two result keys. Each thread
//! has its own copies, so clones from several threads never contend on one reference count.

use regorus::Value;

use crate::input::Direction;

pub(crate) struct RegoKeys {
    pub(crate) direction: Value,
    pub(crate) caller_spiffe_id: Value,
    pub(crate) callee_spiffe_id: Value,
    pub(crate) caller_trust_domain: Value,
    pub(crate) callee_trust_domain: Value,
    pub(crate) action: Value,
    pub(crate) context: Value,
    pub(crate) a2a_method: Value,
    pub(crate) capability: Value,
    pub(crate) task_id: Value,
    pub(crate) message_id: Value,
    pub(crate) inbound: Value,
    pub(crate) outbound: Value,
    /// `allow` of a `{allow, reason}` result.
    pub(crate) allow: Value,
    /// `reason` of a `{allow, reason}` result.
    pub(crate) reason: Value,
}

thread_local! {
    static REGO_KEYS: RegoKeys = RegoKeys {
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
        allow: Value::from("allow"),
        reason: Value::from("reason"),
    };
}

/// Runs `f` with this thread's keys.
pub(crate) fn with<R>(f: impl FnOnce(&RegoKeys) -> R) -> R {
    REGO_KEYS.with(f)
}

//! The decision value and how a policy result becomes one.

use std::fmt;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Where a decision came from; recorded in the audit line.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSource {
    /// Policy was evaluated for this request.
    Policy,
    /// A cached result of an identical earlier input under the same policy version.
    Cache,
    /// The engine, the sidecar or the audit sink failed: the request is denied (fail closed).
    Fault,
    /// A development-only provider allowed it without looking (see [`crate::danger`]).
    Danger,
}

/// The outcome of one authorization check.
///
/// A denial is a value, never an `Err`: callers branch on [`AuthzDecision::allowed`] and nothing
/// else. Faults are denials too, with the fault in `reason` and [`DecisionSource::Fault`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthzDecision {
    /// True only when policy explicitly allowed the request.
    pub allowed: bool,
    /// Why: the policy's reason, or the fault that caused the denial.
    pub reason: Arc<str>,
    /// Unique ID of this decision, the key of its audit line.
    pub audit_id: AuditId,
    /// Which policy version decided (a content hash for Rego, the query path for OPA).
    pub policy_id: Arc<str>,
    /// Where the decision came from.
    pub source: DecisionSource,
}

impl AuthzDecision {
    /// A fault: deny, with the fault as the reason.
    pub fn fault(reason: impl Into<Arc<str>>, policy_id: Arc<str>) -> Self {
        Self {
            allowed: false,
            reason: reason.into(),
            audit_id: AuditId::next(),
            policy_id,
            source: DecisionSource::Fault,
        }
    }
}

/// A process-unique decision ID: `<random 64-bit process prefix>-<counter>` in hex.
///
/// Cheaper than a UUID per decision (no entropy per call, which matters on the cache-hit path) and
/// still unique across processes with overwhelming probability and ordered within one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditId {
    prefix: u64,
    sequence: u64,
}

impl AuditId {
    /// The next ID of this process.
    pub fn next() -> Self {
        static SEQUENCE: AtomicU64 = AtomicU64::new(1);
        Self { prefix: process_prefix(), sequence: SEQUENCE.fetch_add(1, Ordering::Relaxed) }
    }
}

impl fmt::Display for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:016x}", self.prefix, self.sequence)
    }
}

impl fmt::Debug for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditId({self})")
    }
}

impl Serialize for AuditId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A random prefix drawn once per process from the standard library's hasher seed (which the OS
/// seeds with fresh entropy), mixed with the start time and process ID.
fn process_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    *PREFIX.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(now.as_nanos());
        }
        hasher.finish()
    })
}

/// Turns an entrypoint's value into `(allowed, reason)`.
///
/// Accepted shapes (design.md): an object `{"allow": <bool>, "reason": <string>?}` or a bare
/// boolean. Anything else (undefined, a string, `allow` not a boolean, a non-string reason) is
/// malformed and yields `Err`, which callers turn into a fault denial.
pub(crate) fn interpret_json(value: &serde_json::Value) -> Result<(bool, Arc<str>), String> {
    match value {
        serde_json::Value::Bool(allowed) => Ok((*allowed, bare_reason(*allowed))),
        serde_json::Value::Object(map) => {
            let allowed = match map.get("allow") {
                Some(serde_json::Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(format!("\"allow\" is {}, not a boolean", json_kind(other)));
                }
                None => return Err("result object has no \"allow\" field".to_owned()),
            };
            let reason = match map.get("reason") {
                None | Some(serde_json::Value::Null) => bare_reason(allowed),
                Some(serde_json::Value::String(s)) => Arc::from(s.as_str()),
                Some(other) => {
                    return Err(format!("\"reason\" is {}, not a string", json_kind(other)));
                }
            };
            Ok((allowed, reason))
        }
        other => Err(format!("result is {}, not an object or a boolean", json_kind(other))),
    }
}

/// The same as [`interpret_json`] for a regorus value (no conversion on the hot path).
pub(crate) fn interpret_rego(value: &regorus::Value) -> Result<(bool, Arc<str>), String> {
    use regorus::Value;
    match value {
        Value::Undefined => Err("entrypoint is undefined for this input".to_owned()),
        Value::Bool(allowed) => Ok((*allowed, bare_reason(*allowed))),
        Value::Object(map) => crate::rego_keys::with(|keys| {
            let allowed = match map.get(&keys.allow) {
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(format!("\"allow\" is {}, not a boolean", rego_kind(other)));
                }
                None => return Err("result object has no \"allow\" field".to_owned()),
            };
            let reason = match map.get(&keys.reason) {
                None | Some(Value::Null) => bare_reason(allowed),
                // regorus' strings are `Arc<str>` (its `arc` feature): shared, not copied.
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(format!("\"reason\" is {}, not a string", rego_kind(other)));
                }
            };
            Ok((allowed, reason))
        }),
        other => Err(format!("result is {}, not an object or a boolean", rego_kind(other))),
    }
}

fn bare_reason(allowed: bool) -> Arc<str> {
    static ALLOWED: OnceLock<Arc<str>> = OnceLock::new();
    static DENIED: OnceLock<Arc<str>> = OnceLock::new();
    if allowed {
        ALLOWED.get_or_init(|| Arc::from("policy allowed (no reason given)")).clone()
    } else {
        DENIED.get_or_init(|| Arc::from("policy denied (no reason given)")).clone()
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn rego_kind(value: &regorus::Value) -> &'static str {
    use regorus::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Set(_) => "a set",
        Value::Object(_) => "an object",
        Value::Undefined => "undefined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_shapes() {
        type Expected = Result<(bool, &'static str), &'static str>;
        let table: Vec<(serde_json::Value, Expected)> = vec![
            (json!(true), Ok((true, "policy allowed (no reason given)"))),
            (json!(false), Ok((false, "policy denied (no reason given)"))),
            (json!({"allow": true, "reason": "ok"}), Ok((true, "ok"))),
            (json!({"allow": false}), Ok((false, "policy denied (no reason given)"))),
            (json!({"allow": "true"}), Err("\"allow\" is a string, not a boolean")),
            (json!({"allow": 1}), Err("\"allow\" is a number, not a boolean")),
            (json!({"reason": "x"}), Err("result object has no \"allow\" field")),
            (json!({"allow": true, "reason": 3}), Err("\"reason\" is a number, not a string")),
            (json!("allow"), Err("result is a string, not an object or a boolean")),
            (json!([true]), Err("result is an array, not an object or a boolean")),
            (json!(null), Err("result is null, not an object or a boolean")),
        ];
        for (value, expected) in table {
            let got = interpret_json(&value);
            let got_rego = interpret_rego(&regorus::Value::from(value.clone()));
            let norm = |r: Result<(bool, Arc<str>), String>| {
                r.map(|(a, s)| (a, s.to_string())).map_err(|e| e.to_string())
            };
            let expected = expected.map(|(a, s)| (a, s.to_owned())).map_err(str::to_owned);
            assert_eq!(norm(got), expected, "{value}");
            assert_eq!(norm(got_rego), expected, "{value} (regorus)");
        }
        assert!(interpret_rego(&regorus::Value::Undefined).is_err());
    }

    #[test]
    fn audit_ids_are_unique_and_well_formed() {
        let a = AuditId::next();
        let b = AuditId::next();
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), 33, "{text}");
        assert_eq!(text.as_bytes()[16], b'-');
    }
}

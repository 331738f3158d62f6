//! Bounded label values. Every label value the facade records comes from one of the closed sets
//! here (each a `&'static str`), never from text a peer sent: a peer cannot grow the number of
//! series, and a label value cannot carry its data into the metrics. Anything not in a set is
//! counted under `other`.

use agentweave_a2a::A2aMethod;
use agentweave_guard::VerdictStatus;

use crate::agent::CallError;

/// The `method` label of inbound requests: every A2A method, the agent card, or `other`
/// (a request that never reached an A2A method: malformed, not found, refused before routing).
pub(crate) const METHODS: [&str; 13] = [
    "SendMessage",
    "SendStreamingMessage",
    "GetTask",
    "ListTasks",
    "CancelTask",
    "SubscribeToTask",
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig",
    "GetExtendedAgentCard",
    "agent_card",
    "other",
];

/// Index of `agent_card` in [`METHODS`].
pub(crate) const METHOD_CARD: u8 = 11;
/// Index of `other` in [`METHODS`].
pub(crate) const METHOD_OTHER: u8 = 12;

/// The index of an A2A method in [`METHODS`]; a method this build does not know is `other`.
pub(crate) fn method_index(method: A2aMethod) -> u8 {
    METHODS.iter().position(|m| *m == method.as_str()).map_or(METHOD_OTHER, |i| i as u8)
}

/// How an inbound request ended (the `outcome` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum InboundOutcome {
    /// Answered, with no finer outcome known when the answer left (JSON-RPC errors travel with
    /// HTTP 200 and count here; a stream counts when it starts).
    Answered = 0,
    /// Refused by the authorizer: policy, task ownership, or no SPIFFE ID.
    Denied = 1,
    /// A send whose handler returned a result.
    Completed = 2,
    /// A send whose handler failed.
    Failed = 3,
    /// A send refused before the handler: unknown capability, no payload.
    Rejected = 4,
    /// A send whose payload the guard did not verify.
    GuardBlocked = 5,
    /// An HTTP error status (400 and above).
    HttpError = 6,
}

/// The `outcome` label values of inbound requests, by [`InboundOutcome`] discriminant.
pub(crate) const INBOUND_OUTCOMES: [&str; 7] =
    ["answered", "denied", "completed", "failed", "rejected", "guard_blocked", "http_error"];

impl InboundOutcome {
    /// From a stored discriminant; unknown values are `answered`.
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Denied,
            2 => Self::Completed,
            3 => Self::Failed,
            4 => Self::Rejected,
            5 => Self::GuardBlocked,
            6 => Self::HttpError,
            _ => Self::Answered,
        }
    }
}

/// The `direction` label of policy decisions.
pub(crate) const DIRECTIONS: [&str; 2] = ["inbound", "outbound"];

/// The `decision` label of policy decisions.
pub(crate) const DECISIONS: [&str; 2] = ["allow", "deny"];

/// The `verdict` label: every guard verdict status.
pub(crate) const VERDICTS: [&str; 6] =
    ["forwarded", "heuristic_pass", "blocked", "unverifiable", "rejected", "error"];

/// The index of a verdict status in [`VERDICTS`] (an unknown future status counts as `error`).
pub(crate) fn verdict_index(status: VerdictStatus) -> usize {
    VERDICTS.iter().position(|v| *v == status.as_str()).unwrap_or(VERDICTS.len() - 1)
}

/// The `reason_class` label: the engine or stage a guard reason code comes from (its prefix).
pub(crate) const REASON_CLASSES: [&str; 8] =
    ["finance", "logic", "code", "trust", "schema", "passthrough", "engine", "other"];

/// The class of a guard reason code (`finance.mismatch` → `finance`); unknown → `other`.
pub(crate) fn reason_class_index(reason_code: &str) -> usize {
    let head = reason_code.split('.').next().unwrap_or("");
    let head = if head.starts_with("engine") { "engine" } else { head };
    REASON_CLASSES.iter().position(|c| *c == head).unwrap_or(REASON_CLASSES.len() - 1)
}

/// The `outcome` label of outbound calls, by [`outbound_index`].
pub(crate) const OUTBOUND_OUTCOMES: [&str; 13] = [
    "ok",
    "denied",
    "unknown_peer",
    "remote_denied",
    "guard_blocked",
    "unreachable",
    "handshake_failed",
    "circuit_open",
    "timeout",
    "remote_error",
    "task_failed",
    "protocol_error",
    "local_error",
];

/// The index of `local_error` in [`OUTBOUND_OUTCOMES`]: also how a call stream the caller
/// dropped before its end is booked.
pub(crate) const OUTBOUND_LOCAL: usize = 12;

/// The outcome of a call as an index in [`OUTBOUND_OUTCOMES`].
pub(crate) fn outbound_index<T>(result: &Result<T, CallError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(CallError::Denied { .. }) => 1,
        Err(CallError::UnknownPeer(_)) => 2,
        Err(CallError::RemoteDenied { .. }) => 3,
        Err(CallError::GuardBlocked { .. }) => 4,
        Err(CallError::Unreachable { .. }) => 5,
        Err(CallError::Handshake { .. }) => 6,
        Err(CallError::CircuitOpen { .. }) => 7,
        Err(CallError::Timeout { .. }) => 8,
        Err(CallError::Remote { .. }) => 9,
        Err(CallError::TaskFailed { .. }) => 10,
        Err(CallError::Protocol { .. }) => 11,
        Err(CallError::Local { .. }) => OUTBOUND_LOCAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_a2a_method_has_its_own_label() {
        for method in A2aMethod::ALL {
            let i = method_index(*method);
            assert_eq!(METHODS[usize::from(i)], method.as_str());
        }
        assert_eq!(METHODS[usize::from(METHOD_CARD)], "agent_card");
        assert_eq!(METHODS[usize::from(METHOD_OTHER)], "other");
        for (i, name) in INBOUND_OUTCOMES.iter().enumerate() {
            let outcome = InboundOutcome::from_u8(i as u8);
            assert_eq!(INBOUND_OUTCOMES[outcome as usize], *name);
        }
    }

    #[test]
    fn the_local_outcome_index_names_local_error() {
        assert_eq!(OUTBOUND_OUTCOMES[OUTBOUND_LOCAL], "local_error");
    }

    #[test]
    fn reason_codes_map_to_a_closed_set_of_classes() {
        let cases = [
            ("finance.mismatch", "finance"),
            ("logic.contradiction", "logic"),
            ("code.ast_threat", "code"),
            ("trust.rate_limited", "trust"),
            ("schema.payload", "schema"),
            ("passthrough.unverifiable", "passthrough"),
            ("engine_error", "engine"),
            ("", "other"),
            ("finance", "finance"),
            ("attacker-chosen text\n{}", "other"),
        ];
        for (code, class) in cases {
            assert_eq!(REASON_CLASSES[reason_class_index(code)], class, "{code:?}");
        }
        for status in [
            VerdictStatus::Forwarded,
            VerdictStatus::Blocked,
            VerdictStatus::Unverifiable,
            VerdictStatus::HeuristicPass,
            VerdictStatus::Rejected,
            VerdictStatus::Error,
        ] {
            assert_eq!(VERDICTS[verdict_index(status)], status.as_str());
        }
    }
}

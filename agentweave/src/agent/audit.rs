//! Audit records for the decisions the facade makes itself (guard verdicts, task ownership),
//! written to the same log as the policy decisions so one file tells the whole story.
//!
//! Policy decisions are audited by `agentweave_authz::audit::AuditedEnforcer` (its records have no
//! `event` field). The facade's records carry `"event": "guard"` or `"event": "ownership"`:
//!
//! ```json
//! {"time":"…","event":"guard","caller":"spiffe://…","callee":"spiffe://…","capability":"invoice.pay",
//!  "task_id":"…","trace_id":"…","allowed":false,"verdict":"blocked","reason_code":"finance.mismatch",
//!  "audit_trace_id":"a2a_…"}
//! ```

use agentweave_authz::audit::AuditLog;
use serde::Serialize;

/// One facade decision.
#[derive(Debug, Serialize)]
pub(crate) struct FacadeRecord<'a> {
    pub(crate) time: String,
    pub(crate) event: &'static str,
    pub(crate) caller: &'a str,
    pub(crate) callee: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) capability: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) a2a_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trace_id: Option<&'a str>,
    pub(crate) allowed: bool,
    pub(crate) reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) verdict: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) audit_trace_id: Option<&'a str>,
}

/// The facade's handle on the audit log; `None` only when built with `danger_no_audit`.
#[derive(Clone, Debug)]
pub(crate) struct Auditor(pub(crate) Option<AuditLog>);

impl Auditor {
    /// Writes one record. Returns false when the record could not be queued: the caller must then
    /// refuse the request (an unaudited allow never leaves the facade).
    pub(crate) async fn record(&self, record: &FacadeRecord<'_>) -> bool {
        let Some(log) = &self.0 else { return true };
        let line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "audit record could not be encoded");
                return false;
            }
        };
        match log.submit(line).await {
            Ok(()) => true,
            Err(why) => {
                tracing::error!(reason = %why, event = record.event, "facade decision not audited");
                false
            }
        }
    }

    /// Waits until every queued record reached the sink.
    pub(crate) async fn flush(&self) {
        if let Some(log) = &self.0
            && let Err(why) = log.flush().await
        {
            tracing::error!(reason = %why, "audit log could not be flushed");
        }
    }
}

/// Now as RFC 3339 UTC (the authz records' format).
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

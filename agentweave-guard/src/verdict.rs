//! `VerificationVerdict`: the reference's verdict JSON plus `reason_code`.

use serde::Serialize;

/// Outcome of the pipeline for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VerdictStatus {
    /// Verified correct; signed.
    Forwarded,
    /// Refused (trust, content or engine fault); signed unless a configured budget for
    /// unsigned trust refusals applies.
    Blocked,
    /// Could not be verified; never signed.
    Unverifiable,
    /// A heuristic found nothing dangerous; signed.
    HeuristicPass,
    /// The message failed the schema stage; never signed.
    Rejected,
    /// A fault of the guard itself (e.g. signing failed); never signed.
    Error,
}

impl VerdictStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictStatus::Forwarded => "forwarded",
            VerdictStatus::Blocked => "blocked",
            VerdictStatus::Unverifiable => "unverifiable",
            VerdictStatus::HeuristicPass => "heuristic_pass",
            VerdictStatus::Rejected => "rejected",
            VerdictStatus::Error => "error",
        }
    }
}

/// The verdict returned for a message (field names as the reference, plus `reason_code`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerificationVerdict {
    /// Outcome.
    pub status: VerdictStatus,
    /// Human-readable reason.
    pub reason: Option<String>,
    /// Audit trace id (also the attestation's `jti`).
    pub audit_trace_id: String,
    /// ES256 compact JWS, when signed.
    pub attestation_jwt: Option<String>,
    /// Which stage decided: an engine name, `trust_boundary` or `error_handler`
    /// (`None` for schema rejections).
    pub engine_used: Option<String>,
    /// When the verdict was made (RFC 3339, UTC).
    pub verified_at: String,
    /// Engine details.
    pub details: Option<serde_json::Value>,
    /// Stable machine code of the reason (`schema.<field>`, `trust.<rule>`,
    /// `finance.<check>`, `logic.<check>`, `code.<check>`, `passthrough.unverifiable`,
    /// `engine_error`).
    pub reason_code: String,
}

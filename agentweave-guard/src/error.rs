//! Faults of the guard (never verdicts).

use thiserror::Error;

/// A fault that stops the pipeline. The caller must fail closed: there is no verdict.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The verdict had to be signed and signing failed; an unsigned verdict is never
    /// returned in place of a signed one.
    #[error("failed to sign attestation; refusing to return an unsigned verdict: {0}")]
    Attestation(#[from] agentweave_attest::AttestError),
    /// A caller-supplied trace id was already used for a signed verdict (it is the `jti`).
    #[error("trace id {0:?} was already used for a signed verdict")]
    DuplicateTraceId(String),
    /// Too many caller-supplied trace ids are remembered.
    #[error("too many caller-supplied trace ids remembered; refusing")]
    TraceIdCacheFull,
    /// The system random number generator failed.
    #[error("system random number generator failed")]
    Rng,
}

impl GuardError {
    /// Stable machine code for the fault.
    pub fn reason_code(&self) -> &'static str {
        match self {
            GuardError::Attestation(_) => "attestation_error",
            GuardError::DuplicateTraceId(_) => "duplicate_trace_id",
            GuardError::TraceIdCacheFull => "trace_id_cache_full",
            GuardError::Rng => "rng_error",
        }
    }
}

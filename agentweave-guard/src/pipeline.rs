//! The pipeline: schema → trust → engine routing → attestation → verdict.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use agentweave_attest::{Attestor, ReplayCache, Subject};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::code_engine::CodeEngine;
use crate::engine::{EngineOutcome, EngineStatus, GuardEngine};
use crate::error::GuardError;
use crate::finance::FinanceEngine;
use crate::logic::LogicEngine;
use crate::message::{AgentMessage, PayloadType, SchemaConfig, SchemaRejection, parse_message};
use crate::passthrough::PassthroughEngine;
use crate::timestamp::format_rfc3339;
use crate::trust::{TrustBoundary, TrustDenial, redact};
use crate::verdict::{VerdictStatus, VerificationVerdict};

/// Engine switches and error handling (the reference's `InterceptorConfig`).
#[derive(Debug, Clone)]
pub struct InterceptorConfig {
    /// Route `financial_transaction` to the finance engine (else passthrough).
    pub enable_financial_verification: bool,
    /// Route `logic_assertion` to the logic engine (else passthrough).
    pub enable_logic_verification: bool,
    /// Route `code_execution` to the code engine (else passthrough).
    pub enable_code_verification: bool,
    /// An engine fault blocks the message (signed). With `false` the message is
    /// `unverifiable` and unsigned; the reference instead signs `forwarded` for content
    /// nothing checked, which this crate never does.
    pub block_on_error: bool,
}

impl Default for InterceptorConfig {
    fn default() -> Self {
        Self {
            enable_financial_verification: true,
            enable_logic_verification: true,
            enable_code_verification: true,
            block_on_error: true,
        }
    }
}

/// Whether trust-boundary refusals are signed.
///
/// Each signature costs tens of microseconds; signing every refusal of an untrusted flood
/// lets anyone spend the guard's CPU. A budget signs refusals up to a rate and leaves the
/// rest unsigned (still `blocked`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum RejectionSigning {
    /// Sign every refusal (the reference's behaviour).
    Always,
    /// Sign refusals while a token bucket (`burst`, refilled at `per_second`) has tokens.
    Budget {
        /// Bucket size.
        burst: u32,
        /// Refill per second.
        per_second: u32,
    },
    /// Never sign refusals.
    Never,
}

/// Settings of a [`Pipeline`].
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Schema limits.
    pub schema: SchemaConfig,
    /// Engine switches.
    pub interceptor: InterceptorConfig,
    /// Signing of trust refusals.
    pub rejection_signing: RejectionSigning,
    /// Most caller-supplied trace ids remembered (to refuse reuse as `jti`).
    pub max_supplied_trace_ids: usize,
    /// How long a supplied trace id is remembered, seconds (at least the token lifetime).
    pub trace_id_memory_secs: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            schema: SchemaConfig::default(),
            interceptor: InterceptorConfig::default(),
            rejection_signing: RejectionSigning::Budget { burst: 100, per_second: 20 },
            max_supplied_trace_ids: 1 << 20,
            trace_id_memory_secs: 300,
        }
    }
}

#[derive(Debug)]
struct Budget {
    tokens: f64,
    last: Instant,
}

/// The verification pipeline. Cheap to share (`&self`, thread-safe).
pub struct Pipeline {
    config: PipelineConfig,
    trust: Arc<TrustBoundary>,
    attestor: Arc<dyn Attestor>,
    finance: Arc<dyn GuardEngine>,
    logic: Arc<dyn GuardEngine>,
    code: Arc<dyn GuardEngine>,
    passthrough: Arc<dyn GuardEngine>,
    budget: Mutex<Budget>,
    supplied_ids: ReplayCache,
    /// Random per-pipeline prefix of trace ids (64 bits from the system RNG) …
    trace_prefix: u64,
    /// … and a counter: ids are unique without a system call per message.
    trace_counter: AtomicU64,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("config", &self.config).finish_non_exhaustive()
    }
}

const TRUST_ENGINE: &str = "trust_boundary";
const ERROR_ENGINE: &str = "error_handler";

impl Pipeline {
    /// A pipeline with the built-in engines.
    ///
    /// Fails only if the system random number generator is unavailable.
    pub fn new(
        config: PipelineConfig,
        trust: Arc<TrustBoundary>,
        attestor: Arc<dyn Attestor>,
    ) -> Result<Self, GuardError> {
        let mut prefix = [0u8; 8];
        SystemRandom::new().fill(&mut prefix).map_err(|_| GuardError::Rng)?;
        let burst = match config.rejection_signing {
            RejectionSigning::Budget { burst, .. } => f64::from(burst),
            _ => 0.0,
        };
        let supplied_ids = ReplayCache::new(30, config.max_supplied_trace_ids);
        Ok(Self {
            config,
            trust,
            attestor,
            finance: Arc::new(FinanceEngine::default()),
            logic: Arc::new(LogicEngine),
            code: Arc::new(CodeEngine::default()),
            passthrough: Arc::new(PassthroughEngine),
            budget: Mutex::new(Budget { tokens: burst, last: Instant::now() }),
            supplied_ids,
            trace_prefix: u64::from_be_bytes(prefix),
            trace_counter: AtomicU64::new(0),
        })
    }

    /// Replaces the finance engine (e.g. with another sign policy).
    pub fn with_finance_engine(mut self, engine: Arc<dyn GuardEngine>) -> Self {
        self.finance = engine;
        self
    }

    /// Replaces the logic engine.
    pub fn with_logic_engine(mut self, engine: Arc<dyn GuardEngine>) -> Self {
        self.logic = engine;
        self
    }

    /// Replaces the code engine.
    pub fn with_code_engine(mut self, engine: Arc<dyn GuardEngine>) -> Self {
        self.code = engine;
        self
    }

    /// The trust boundary (to change trust at run time).
    pub fn trust(&self) -> &TrustBoundary {
        &self.trust
    }

    /// The attestor (for its JWKS).
    pub fn attestor(&self) -> &Arc<dyn Attestor> {
        &self.attestor
    }

    /// A fresh trace id: `a2a_`, this pipeline's random 64-bit prefix and a counter, in
    /// hex. Unique (it is the attestation's `jti`); not secret, and need not be.
    pub fn new_trace_id(&self) -> String {
        let n = self.trace_counter.fetch_add(1, Ordering::Relaxed);
        // Same text as `format!("a2a_{:016x}{n:016x}")`, without the formatting machinery
        // (this runs once per message).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = *b"a2a_00000000000000000000000000000000";
        let digits = u128::from(self.trace_prefix) << 64 | u128::from(n);
        for (i, slot) in id.iter_mut().skip(4).enumerate() {
            // The masked nibble is below 16, so the cast and the index are in range.
            let nibble = ((digits >> (124 - 4 * i)) & 0xf) as usize;
            *slot = HEX.get(nibble).copied().unwrap_or(b'0');
        }
        id.iter().copied().map(char::from).collect()
    }

    /// Checks a message body (JSON bytes, as received over HTTP).
    pub fn intercept_json(&self, body: &[u8]) -> Result<VerificationVerdict, GuardError> {
        let trace = self.new_trace_id();
        self.run_json(body, trace, false)
    }

    /// [`Pipeline::intercept_json`] with a caller-chosen trace id. The id becomes the
    /// attestation's `jti`, so reusing it for a second signed verdict is refused.
    pub fn intercept_json_with_trace_id(
        &self,
        body: &[u8],
        trace_id: &str,
    ) -> Result<VerificationVerdict, GuardError> {
        self.run_json(body, trace_id.to_owned(), true)
    }

    /// Checks an already-validated message.
    pub fn intercept(&self, message: &AgentMessage<'_>) -> Result<VerificationVerdict, GuardError> {
        let trace = self.new_trace_id();
        self.run(message, trace, false, OffsetDateTime::now_utc())
    }

    fn run_json(
        &self,
        body: &[u8],
        trace: String,
        supplied: bool,
    ) -> Result<VerificationVerdict, GuardError> {
        // One clock reading serves the freshness check and the verdict's time (they
        // are microseconds apart).
        let now = OffsetDateTime::now_utc();
        match parse_message(body, &self.config.schema, now) {
            Ok(msg) => self.run(&msg, trace, supplied, now),
            Err(rejection) => Ok(rejected(rejection, trace, now)),
        }
    }

    fn engine_for(&self, t: PayloadType) -> &Arc<dyn GuardEngine> {
        let i = &self.config.interceptor;
        match t {
            PayloadType::FinancialTransaction if i.enable_financial_verification => &self.finance,
            PayloadType::LogicAssertion if i.enable_logic_verification => &self.logic,
            PayloadType::CodeExecution if i.enable_code_verification => &self.code,
            _ => &self.passthrough,
        }
    }

    fn take_rejection_budget(&self) -> bool {
        match self.config.rejection_signing {
            RejectionSigning::Always => true,
            RejectionSigning::Never => false,
            RejectionSigning::Budget { burst, per_second } => {
                let mut b = match self.budget.lock() {
                    Ok(b) => b,
                    Err(p) => p.into_inner(),
                };
                let now = Instant::now();
                let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
                b.tokens = (b.tokens + elapsed * f64::from(per_second)).min(f64::from(burst));
                b.last = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    true
                } else {
                    false
                }
            }
        }
    }

    fn run(
        &self,
        msg: &AgentMessage<'_>,
        trace: String,
        supplied: bool,
        now: OffsetDateTime,
    ) -> Result<VerificationVerdict, GuardError> {
        let sender = msg.sender_agent_id.as_ref();
        if let Err(TrustDenial { rule, reason }) =
            self.trust.evaluate(sender, &msg.receiver_agent_id, msg.payload_type)
        {
            let sign = self.take_rejection_budget();
            if !sign {
                tracing::debug!(
                    reason_code = rule.reason_code(),
                    "trust refusal left unsigned (signing budget)"
                );
            }
            let draft = Draft {
                status: VerdictStatus::Blocked,
                engine: TRUST_ENGINE,
                reason: Some(format!("Trust boundary violation: {reason}")),
                details: None,
                reason_code: rule.reason_code(),
            };
            return self.finish(msg, draft, trace, supplied, sign, now);
        }
        let engine = self.engine_for(msg.payload_type);
        let empty = agentweave_attest::json::Object::new();
        let payload = msg.payload_object().unwrap_or(&empty);
        let draft = match engine.evaluate(payload) {
            Ok(outcome) => draft_for(engine.name(), sender, outcome),
            Err(e) => {
                tracing::warn!(engine = engine.name(), error = %e, "verification engine error");
                Draft {
                    status: if self.config.interceptor.block_on_error {
                        VerdictStatus::Blocked
                    } else {
                        VerdictStatus::Unverifiable
                    },
                    engine: ERROR_ENGINE,
                    reason: Some(format!("Verification engine error: {e}")),
                    details: None,
                    reason_code: "engine_error",
                }
            }
        };
        let sign = draft.status != VerdictStatus::Unverifiable;
        self.finish(msg, draft, trace, supplied, sign, now)
    }

    fn finish(
        &self,
        msg: &AgentMessage<'_>,
        d: Draft,
        trace: String,
        supplied: bool,
        sign: bool,
        now: OffsetDateTime,
    ) -> Result<VerificationVerdict, GuardError> {
        let jwt = if sign {
            if supplied {
                let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
                self.supplied_ids
                    .check_and_insert(
                        &trace,
                        secs.saturating_add(self.config.trace_id_memory_secs),
                        secs,
                    )
                    .map_err(|e| match e {
                        agentweave_attest::VerifyError::Replay(_) => {
                            GuardError::DuplicateTraceId(trace.clone())
                        }
                        _ => GuardError::TraceIdCacheFull,
                    })?;
            }
            let ts = msg.timestamp_rfc3339();
            let token = self.attestor.attest_token(&Subject {
                payload: &msg.payload,
                verdict: d.status.as_str(),
                engine: d.engine,
                sender: &msg.sender_agent_id,
                receiver: &msg.receiver_agent_id,
                payload_type: msg.payload_type.as_str(),
                message_timestamp: ts.as_deref(),
                session_id: None,
                trace_id: &trace,
            })?;
            Some(token)
        } else {
            None
        };
        Ok(VerificationVerdict {
            status: d.status,
            reason: d.reason,
            audit_trace_id: trace,
            attestation_jwt: jwt,
            engine_used: Some(d.engine.to_owned()),
            verified_at: format_rfc3339(now),
            details: d.details,
            reason_code: d.reason_code.to_owned(),
        })
    }
}

struct Draft {
    status: VerdictStatus,
    engine: &'static str,
    reason: Option<String>,
    details: Option<serde_json::Value>,
    reason_code: &'static str,
}

fn rejected(r: SchemaRejection, trace: String, now: OffsetDateTime) -> VerificationVerdict {
    VerificationVerdict {
        status: VerdictStatus::Rejected,
        reason: Some(format!("{}: {}", r.field, r.message)),
        audit_trace_id: trace,
        attestation_jwt: None,
        engine_used: None,
        verified_at: format_rfc3339(now),
        details: None,
        reason_code: r.reason_code(),
    }
}

fn draft_for(engine: &'static str, sender: &str, o: EngineOutcome) -> Draft {
    let (status, reason) = match o.status {
        EngineStatus::Verified => (VerdictStatus::Forwarded, o.reason),
        EngineStatus::Failed => (
            VerdictStatus::Blocked,
            Some(format!(
                "QWED BLOCKED A2A TRANSFER: {} from {}.",
                o.reason.unwrap_or_default(),
                redact(sender)
            )),
        ),
        EngineStatus::Unverifiable => (VerdictStatus::Unverifiable, o.reason),
        EngineStatus::HeuristicPass => (VerdictStatus::HeuristicPass, o.reason),
    };
    Draft { status, engine, reason, details: o.details, reason_code: o.reason_code }
}

//! Corpus replay: runs corpus lines (the format of `guard-corpus/public.jsonl`) through a
//! fresh pipeline each and reports `{id, verdict, engine, reason_code, jwt}` per line.
//!
//! Used by the `agentweave-guard-replay` binary and by the corpus test; kept in the
//! library so the `agentweave` CLI can offer it as `agentweave guard replay`.
//!
//! The `input` member is handed to the pipeline as its exact source text (so duplicate
//! keys, number spellings and sizes are what was recorded).

use std::collections::HashSet;
use std::sync::Arc;

use agentweave_attest::Attestor;
use agentweave_attest::json::{Json, ParseOptions, parse, raw_members, write_compact};
use serde::Serialize;

use crate::pipeline::{InterceptorConfig, Pipeline, PipelineConfig};
use crate::trust::{TrustBoundary, TrustConfig, TrustEntry};

/// One replayed line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayResult {
    /// Case id.
    pub id: String,
    /// Verdict status of the last message (or `error` for a fault).
    pub verdict: String,
    /// Engine that decided (`null` for schema rejections and faults).
    pub engine: Option<String>,
    /// Reason code.
    pub reason_code: Option<String>,
    /// Whether the verdict carried an attestation.
    pub jwt: bool,
    /// The attestation's `sub` (payload hash), when signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_hash: Option<String>,
    /// For `repeat` > 1: run-length list of `[verdict, count]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Vec<(String, usize)>>,
    /// Fault text, when `verdict` is `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a corpus line could not be replayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The line is not a JSON object of the corpus format.
    #[error("corpus line is malformed: {0}")]
    Malformed(String),
    /// The trust configuration of the line is invalid.
    #[error("trust_config: {0}")]
    Trust(String),
}

const MAX_LINE_DEPTH: usize = 4096;

fn lenient(text: &str) -> Result<Json<'_>, ReplayError> {
    parse(text, ParseOptions { max_depth: MAX_LINE_DEPTH, allow_non_finite_tokens: true })
        .map_err(|e| ReplayError::Malformed(e.to_string()))
}

fn trust_from(cfg: Option<&Json<'_>>) -> Result<TrustBoundary, ReplayError> {
    let empty = agentweave_attest::json::Object::new();
    let cfg = match cfg {
        None | Some(Json::Null) => &empty,
        Some(Json::Object(o)) => o,
        Some(_) => return Err(ReplayError::Trust("must be an object".into())),
    };
    let bad = |m: &str| ReplayError::Trust(m.to_owned());
    let mut config = TrustConfig::default();
    if let Some(v) = cfg.get("default_allow") {
        config.default_allow = matches!(v, Json::Bool(true));
    }
    if let Some(Json::Number(n)) = cfg.get("max_requests_per_minute") {
        config.max_requests_per_minute =
            n.as_str().parse().map_err(|_| bad("max_requests_per_minute"))?;
    }
    let boundary = TrustBoundary::new(config);
    let strings = |v: &Json<'_>| -> Option<HashSet<String>> {
        match v {
            Json::Array(a) => {
                Some(a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            }
            _ => None,
        }
    };
    if let Some(Json::Array(items)) = cfg.get("trusted") {
        for item in items {
            let entry = match item {
                Json::String(id) => TrustEntry::new(id),
                Json::Object(o) => {
                    let id = o
                        .get("agent_id")
                        .and_then(Json::as_str)
                        .ok_or_else(|| bad("trusted entry without agent_id"))?;
                    let mut e = TrustEntry::new(id);
                    e.allowed_receivers = o.get("allowed_receivers").and_then(strings);
                    e.allowed_payload_types = o.get("allowed_payload_types").and_then(strings);
                    e.valid_until = match o.get("valid_until") {
                        Some(Json::Number(n)) => Some(n.to_f64()),
                        _ => None,
                    };
                    e
                }
                _ => return Err(bad("trusted entries must be strings or objects")),
            };
            // As the reference's loader: a bad entry is skipped (and logged), not fatal;
            // an id the schema would refuse can never be trusted.
            if let Err(e) = boundary.trust_agent(entry) {
                tracing::warn!(error = %e, "skipping trust entry");
            }
        }
    }
    if let Some(Json::Array(items)) = cfg.get("blocked") {
        for id in items.iter().filter_map(Json::as_str) {
            if let Err(e) = boundary.block_agent(id) {
                tracing::warn!(error = %e, "skipping block entry");
            }
        }
    }
    if let Some(Json::Array(pairs)) = cfg.get("blocked_pairs") {
        for pair in pairs {
            if let Json::Array(p) = pair
                && let [Json::String(s), Json::String(r)] = p.as_slice()
            {
                if let Err(e) = boundary.block_pair(s, r) {
                    tracing::warn!(error = %e, "skipping pair block");
                }
            } else {
                return Err(bad("blocked_pairs entries must be [sender, receiver]"));
            }
        }
    }
    Ok(boundary)
}

fn interceptor_from(cfg: Option<&Json<'_>>) -> InterceptorConfig {
    let mut i = InterceptorConfig::default();
    if let Some(Json::Object(o)) = cfg {
        let flag = |k: &str, d: bool| match o.get(k) {
            Some(Json::Bool(b)) => *b,
            _ => d,
        };
        i.enable_financial_verification = flag("enable_financial_verification", true);
        i.enable_logic_verification = flag("enable_logic_verification", true);
        i.enable_code_verification = flag("enable_code_verification", true);
        i.block_on_error = flag("block_on_error", true);
    }
    i
}

fn payload_hash(token: &str) -> Option<String> {
    use base64::Engine as _;
    let claims =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&claims).ok()?;
    v.get("sub")?.as_str().map(str::to_owned)
}

/// Replays one corpus line with a fresh trust boundary and pipeline (sharing `attestor`).
pub fn replay_line(
    line: &str,
    attestor: &Arc<dyn Attestor>,
    base: &PipelineConfig,
) -> Result<ReplayResult, ReplayError> {
    let members =
        raw_members(line, MAX_LINE_DEPTH).map_err(|e| ReplayError::Malformed(e.to_string()))?;
    let raw = |k: &str| members.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    let id = match raw("id").map(lenient).transpose()? {
        Some(Json::String(s)) => s,
        _ => return Err(ReplayError::Malformed("missing string 'id'".into())),
    };
    let input = raw("input").ok_or_else(|| ReplayError::Malformed("missing 'input'".into()))?;
    let trust = trust_from(raw("trust_config").map(lenient).transpose()?.as_ref())?;
    let mut config = base.clone();
    config.interceptor =
        interceptor_from(raw("interceptor_config").map(lenient).transpose()?.as_ref());
    let repeat = match raw("repeat").map(lenient).transpose()? {
        Some(Json::Number(n)) => {
            n.as_str().parse::<usize>().map_err(|_| ReplayError::Malformed("repeat".into()))?
        }
        _ => 1,
    }
    .max(1);
    let same_trace =
        matches!(raw("same_trace_id").map(lenient).transpose()?, Some(Json::Bool(true)));
    let pipeline = Pipeline::new(config, Arc::new(trust), attestor.clone())
        .map_err(|e| ReplayError::Malformed(e.to_string()))?;

    if let Some(Json::Array(prelude)) = raw("prelude").map(lenient).transpose()? {
        for msg in prelude {
            let mut body = String::new();
            write_compact(&msg, &mut body);
            // Prelude verdicts only shape state (rate buckets); faults there are ignored.
            let _ = pipeline.intercept_json(body.as_bytes());
        }
    }

    let fixed_trace = format!("a2a_replay_{id}");
    let mut sequence: Vec<(String, usize)> = Vec::new();
    let mut last = None;
    for _ in 0..repeat {
        let outcome = if same_trace {
            pipeline.intercept_json_with_trace_id(input.as_bytes(), &fixed_trace)
        } else {
            pipeline.intercept_json(input.as_bytes())
        };
        let result = match outcome {
            Ok(v) => ReplayResult {
                id: id.to_string(),
                verdict: v.status.as_str().to_owned(),
                engine: v.engine_used.clone(),
                reason_code: Some(v.reason_code.clone()),
                jwt: v.attestation_jwt.is_some(),
                payload_hash: v.attestation_jwt.as_deref().and_then(payload_hash),
                sequence: None,
                error: None,
            },
            Err(e) => ReplayResult {
                id: id.to_string(),
                verdict: "error".into(),
                engine: None,
                reason_code: Some(e.reason_code().to_owned()),
                jwt: false,
                payload_hash: None,
                sequence: None,
                error: Some(e.to_string()),
            },
        };
        match sequence.last_mut() {
            Some((v, n)) if *v == result.verdict => *n += 1,
            _ => sequence.push((result.verdict.clone(), 1)),
        }
        last = Some(result);
    }
    let mut result = last.ok_or_else(|| ReplayError::Malformed("nothing replayed".into()))?;
    if repeat > 1 {
        result.sequence = Some(sequence);
    }
    Ok(result)
}

/// Replays every non-blank line of `input` with a fresh ES256 key (hashing the payload with
/// `canonicalization`) and writes one JSON result per line to `output`; returns how many lines
/// were replayed. This is the whole of `agentweave-guard-replay` and `agentweave guard replay`.
pub fn replay_stream(
    input: impl std::io::BufRead,
    mut output: impl std::io::Write,
    canonicalization: agentweave_attest::Canonicalization,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    use agentweave_attest::{AttestorConfig, Es256Attestor, SigningKey};
    let config = AttestorConfig { canonicalization, ..AttestorConfig::default() };
    let key = SigningKey::generate(&config.issuer)?;
    let attestor: Arc<dyn Attestor> = Arc::new(Es256Attestor::new(config, key)?);
    let base = PipelineConfig::default();
    let mut count = 0;
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result = replay_line_or_error(&line, &attestor, &base);
        serde_json::to_writer(&mut output, &result)?;
        output.write_all(b"\n")?;
        count += 1;
    }
    output.flush()?;
    Ok(count)
}

/// Replays a line, turning a malformed line into an `error` result (for line-oriented
/// tools that must emit one output per input line).
pub fn replay_line_or_error(
    line: &str,
    attestor: &Arc<dyn Attestor>,
    base: &PipelineConfig,
) -> ReplayResult {
    replay_line(line, attestor, base).unwrap_or_else(|e| ReplayResult {
        id: raw_members(line, MAX_LINE_DEPTH)
            .ok()
            .and_then(|m| m.into_iter().find(|(k, _)| k == "id").and_then(|(_, v)| lenient(v).ok()))
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        verdict: "error".into(),
        engine: None,
        reason_code: Some("replay.bad_line".into()),
        jwt: false,
        payload_hash: None,
        sequence: None,
        error: Some(e.to_string()),
    })
}

//! The code engine wrapper: payload handling and verdict mapping around the Python
//! source analyzer in [`crate::code`].
//!
//! Stricter than the reference about what counts as "no code": a payload without a
//! `code` key is unverifiable (unsigned), because its content was never analyzed (the
//! reference signs a heuristic pass for `{"script": "import os; os.system(...)"}`).
//! An explicit `null` or `""` is a signed `code.empty` pass (there is nothing to run).
//! Any other non-string `code` is an engine fault, and so is source above the size
//! limit or too complex for the analyzer: fail closed.

use agentweave_attest::json::{Json, Object};
use serde_json::json;

use crate::code::{CodeOutcome, analyze_python};
use crate::engine::{EngineError, EngineOutcome, EngineStatus, GuardEngine};

/// Settings of the code engine.
#[derive(Debug, Clone)]
pub struct CodeConfig {
    /// Largest source accepted, in bytes (larger is an engine error, not a pass).
    pub max_source_bytes: usize,
}

impl Default for CodeConfig {
    fn default() -> Self {
        Self { max_source_bytes: 64 * 1024 }
    }
}

/// The code engine (`code_guard`).
#[derive(Debug, Clone, Default)]
pub struct CodeEngine {
    config: CodeConfig,
}

impl CodeEngine {
    /// An engine with these settings.
    pub fn new(config: CodeConfig) -> Self {
        Self { config }
    }
}

const CLEAN_REASON: &str = "AST and pattern analysis found no known dangerous constructs; \
this is a heuristic result, not a proof that the code is safe";

impl GuardEngine for CodeEngine {
    fn name(&self) -> &'static str {
        "code_guard"
    }

    fn evaluate(&self, payload: &Object<'_>) -> Result<EngineOutcome, EngineError> {
        let source = match payload.get("code") {
            None => {
                return Ok(EngineOutcome::new(
                    EngineStatus::Unverifiable,
                    "code.empty",
                    Some("payload has no 'code' field; nothing was analyzed".into()),
                ));
            }
            Some(Json::Null) => "",
            Some(Json::String(s)) => s.as_ref(),
            Some(other) => {
                return Err(EngineError(format!(
                    "payload.code must be a string, found {}",
                    other.type_name()
                )));
            }
        };
        if source.is_empty() {
            return Ok(EngineOutcome::new(
                EngineStatus::HeuristicPass,
                "code.empty",
                Some("No code to analyze".into()),
            ));
        }
        if source.len() > self.config.max_source_bytes {
            return Err(EngineError(format!(
                "payload.code is {} bytes, at most {} are analyzed",
                source.len(),
                self.config.max_source_bytes
            )));
        }
        let report = analyze_python(source);
        let analysis = report.analysis.as_str();
        let threats = report.threats;
        Ok(match report.outcome {
            CodeOutcome::Clean => EngineOutcome::new(
                EngineStatus::HeuristicPass,
                "code.clean",
                Some(CLEAN_REASON.into()),
            )
            .with_details(json!({ "threats": [], "analysis": analysis })),
            CodeOutcome::AstThreat => EngineOutcome::new(
                EngineStatus::Failed,
                "code.ast_threat",
                Some(format!(
                    "Dangerous constructs detected via AST analysis: {}",
                    threats.join(", ")
                )),
            )
            .with_details(json!({ "threats": threats, "analysis": analysis })),
            CodeOutcome::RegexThreat => EngineOutcome::new(
                EngineStatus::Failed,
                "code.regex_threat",
                Some(format!(
                    "Suspicious patterns detected via heuristic scan: {}",
                    threats.join(", ")
                )),
            )
            .with_details(json!({ "threats": threats, "analysis": analysis })),
            CodeOutcome::Unparseable { message } => EngineOutcome::new(
                EngineStatus::Failed,
                "code.unparseable",
                Some(format!("Code failed AST parsing — cannot verify: {message}")),
            )
            .with_details(json!({ "threats": threats, "analysis": analysis })),
            CodeOutcome::TooComplex { message } => {
                return Err(EngineError(format!("code too complex to analyze: {message}")));
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(EngineError(
                    "code analyzer returned an outcome this engine does not know".into(),
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentweave_attest::json::{ParseOptions, parse};

    fn run(engine: &CodeEngine, payload: &str) -> Result<EngineOutcome, EngineError> {
        let v = parse(payload, ParseOptions::default()).unwrap();
        engine.evaluate(v.as_object().unwrap())
    }

    #[test]
    fn payload_handling() {
        let e = CodeEngine::default();
        let missing = run(&e, r#"{"script": "import os; os.system('id')"}"#).unwrap();
        assert_eq!(
            (missing.status, missing.reason_code),
            (EngineStatus::Unverifiable, "code.empty")
        );
        for empty in [r#"{"code": null}"#, r#"{"code": ""}"#] {
            let o = run(&e, empty).unwrap();
            assert_eq!(
                (o.status, o.reason_code),
                (EngineStatus::HeuristicPass, "code.empty"),
                "{empty}"
            );
        }
        for bad in [
            r#"{"code": 123}"#,
            r#"{"code": false}"#,
            r#"{"code": []}"#,
            r#"{"code": {}}"#,
            r#"{"code": ["x"]}"#,
        ] {
            assert!(run(&e, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn oversized_source_is_an_error_not_a_pass() {
        let e = CodeEngine::new(CodeConfig { max_source_bytes: 16 });
        assert!(run(&e, r#"{"code": "x = 1 + 1 + 1 + 1 + 1"}"#).is_err());
        assert!(run(&e, r#"{"code": "x = 1"}"#).is_ok());
    }
}

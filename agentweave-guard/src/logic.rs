//! The logic engine: is a claim both asserted and negated?
//!
//! Claims are compared after normalisation: NFKC, lower case, invisible characters
//! removed, whitespace collapsed. Simple textual negation is understood (`not p`,
//! `!p`, `¬p`, `it is not the case that p`, `p is false`, `p is not true`, `p = false`),
//! and a positive claim `p and q` asserts both parts. `negated` must be a boolean
//! (`true`/`false`, or the integers 0/1; absent, `null` and `""` mean not negated);
//! strings like `"false"` are refused instead of being read with Python truthiness.
//! All entries are read: a contradiction among valid entries is reported even if a
//! later entry is malformed (the reference lets junk hide it).

use std::collections::BTreeSet;

use agentweave_attest::json::{Json, NumberKind, Object};
use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use crate::engine::{EngineError, EngineOutcome, EngineStatus, GuardEngine};
use crate::ids::is_forbidden_id_char;

/// The logic engine (`logic_guard`).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogicEngine;

/// Normalises a claim for comparison (see the module documentation).
pub fn normalize_claim(claim: &str) -> String {
    let folded: String = claim
        .nfkc()
        .filter(|c| !is_forbidden_id_char(*c) || c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

const NEG_PREFIXES: &[&str] =
    &["it is not the case that ", "it is false that ", "not ", "!", "¬", "~"];
const NEG_SUFFIXES: &[&str] =
    &[" is not true", " is false", " is untrue", " == false", " = false", "==false", "=false"];
const POS_SUFFIXES: &[&str] = &[" is true", " == true", " = true", "==true", "=true"];

/// Splits a normalised claim into its core proposition and polarity (`true` = negated).
fn polarity(mut claim: &str) -> (String, bool) {
    let mut negated = false;
    loop {
        let before = claim;
        for p in NEG_PREFIXES {
            if let Some(rest) = claim.strip_prefix(p) {
                claim = rest.trim_start();
                negated = !negated;
            }
        }
        for s in NEG_SUFFIXES {
            if let Some(rest) = claim.strip_suffix(s) {
                claim = rest.trim_end();
                negated = !negated;
            }
        }
        for s in POS_SUFFIXES {
            if let Some(rest) = claim.strip_suffix(s) {
                claim = rest.trim_end();
            }
        }
        if claim == before || claim.is_empty() {
            return (claim.to_owned(), negated);
        }
    }
}

enum Negated {
    Yes,
    No,
    Invalid(String),
}

fn read_negated(v: Option<&Json<'_>>) -> Negated {
    match v {
        None | Some(Json::Null) => Negated::No,
        Some(Json::Bool(b)) => {
            if *b {
                Negated::Yes
            } else {
                Negated::No
            }
        }
        Some(Json::String(s)) if s.is_empty() => Negated::No,
        Some(Json::Number(n))
            if n.kind() == NumberKind::Integer && matches!(n.as_str(), "0" | "-0" | "1") =>
        {
            if n.as_str() == "1" { Negated::Yes } else { Negated::No }
        }
        Some(other) => Negated::Invalid(format!("negated must be a boolean, found {other}")),
    }
}

fn unverifiable(code: &'static str, reason: String) -> EngineOutcome {
    EngineOutcome::new(EngineStatus::Unverifiable, code, Some(reason))
}

impl GuardEngine for LogicEngine {
    fn name(&self) -> &'static str {
        "logic_guard"
    }

    fn evaluate(&self, payload: &Object<'_>) -> Result<EngineOutcome, EngineError> {
        let entries = match payload.get("assertions") {
            None => &[][..],
            Some(Json::Array(a)) => a.as_slice(),
            Some(other) => {
                return Ok(unverifiable(
                    "logic.assertions_not_list",
                    format!("assertions must be a list, found {}", other.type_name()),
                ));
            }
        };
        if entries.is_empty() {
            return Ok(unverifiable("logic.assertions_empty", "assertions is empty".into()));
        }
        let mut positive = BTreeSet::new();
        let mut negative = BTreeSet::new();
        let mut first_problem: Option<EngineOutcome> = None;
        for (i, entry) in entries.iter().enumerate() {
            let problem = |code, reason| Some(unverifiable(code, reason));
            let Json::Object(entry) = entry else {
                first_problem = first_problem.or_else(|| {
                    problem(
                        "logic.assertion_not_mapping",
                        format!("assertions[{i}] must be an object"),
                    )
                });
                continue;
            };
            let claim = match entry.get("claim") {
                Some(Json::String(s)) if !normalize_claim(s).is_empty() => normalize_claim(s),
                _ => {
                    first_problem = first_problem.or_else(|| {
                        problem(
                            "logic.claim_invalid",
                            format!("assertions[{i}].claim must be a non-blank string"),
                        )
                    });
                    continue;
                }
            };
            let flag = match read_negated(entry.get("negated")) {
                Negated::Yes => true,
                Negated::No => false,
                Negated::Invalid(m) => {
                    first_problem = first_problem.or_else(|| {
                        problem("logic.negated_invalid", format!("assertions[{i}]: {m}"))
                    });
                    continue;
                }
            };
            let conjuncts: Vec<&str> = if flag {
                vec![claim.as_str()]
            } else {
                claim.split(" and ").map(str::trim).collect()
            };
            for c in conjuncts {
                let (core, textual_neg) = polarity(c);
                if core.is_empty() {
                    continue;
                }
                if flag ^ textual_neg {
                    negative.insert(core);
                } else {
                    positive.insert(core);
                }
            }
        }
        let contradictions: Vec<&String> = positive.intersection(&negative).collect();
        if !contradictions.is_empty() {
            return Ok(EngineOutcome::new(
                EngineStatus::Failed,
                "logic.contradiction",
                Some(format!("Logical contradiction detected: claims both asserted and negated: {contradictions:?}")),
            )
            .with_details(json!({ "contradictions": contradictions })));
        }
        if let Some(p) = first_problem {
            return Ok(p);
        }
        Ok(EngineOutcome::new(EngineStatus::Verified, "logic.consistent", None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentweave_attest::json::{ParseOptions, parse};

    fn code(assertions: &str) -> &'static str {
        let text = format!(r#"{{"assertions": {assertions}}}"#);
        let v = parse(&text, ParseOptions::default()).unwrap();
        LogicEngine.evaluate(v.as_object().unwrap()).unwrap().reason_code
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            (r#"[{"claim": "a"}, {"claim": "b", "negated": true}]"#, "logic.consistent"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": true}]"#, "logic.contradiction"),
            (r#"[{"claim": "P"}, {"claim": "p", "negated": true}]"#, "logic.contradiction"),
            (
                r#"[{"claim": "café"}, {"claim": "cafe\u0301", "negated": true}]"#,
                "logic.contradiction",
            ),
            (r#"[{"claim": "p\u200b"}, {"claim": "p", "negated": true}]"#, "logic.contradiction"),
            (r#"[{"claim": "ｐ"}, {"claim": "p", "negated": true}]"#, "logic.contradiction"),
            (r#"[{"claim": "p\n"}, {"claim": "p", "negated": true}]"#, "logic.contradiction"),
            (
                r#"[{"claim": "budget_approved"}, {"claim": "budget_approved is false"}]"#,
                "logic.contradiction",
            ),
            (r#"[{"claim": "p"}, {"claim": "not p"}]"#, "logic.contradiction"),
            (r#"[{"claim": "p and not p"}]"#, "logic.contradiction"),
            (r#"[{"claim": "not p", "negated": true}, {"claim": "p"}]"#, "logic.consistent"),
            (r#"[{"claim": "p is true"}, {"claim": "p", "negated": true}]"#, "logic.contradiction"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": 1}]"#, "logic.contradiction"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": 0}]"#, "logic.consistent"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": ""}]"#, "logic.consistent"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": "false"}]"#, "logic.negated_invalid"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": "no"}]"#, "logic.negated_invalid"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": [1]}]"#, "logic.negated_invalid"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": 2}]"#, "logic.negated_invalid"),
            (r#"[{"claim": "p"}, {"claim": "p", "negated": true}, "junk"]"#, "logic.contradiction"),
            (r#"[{"claim": "p"}, "junk"]"#, "logic.assertion_not_mapping"),
            (r#"[{"claim": "p"}, {"claim": 7, "negated": true}]"#, "logic.claim_invalid"),
            (r#"[{"claim": ""}]"#, "logic.claim_invalid"),
            (r#"[{"claim": "   "}]"#, "logic.claim_invalid"),
            (r#"[{"claim": "\u200b"}]"#, "logic.claim_invalid"),
            (r#"[{"negated": true}]"#, "logic.claim_invalid"),
            (r#"[{"claim": null}]"#, "logic.claim_invalid"),
            (r#"[{"claim": ["p"]}]"#, "logic.claim_invalid"),
            (r#"[{"claim": "p"}, {"claim": "p"}]"#, "logic.consistent"),
            ("[]", "logic.assertions_empty"),
            ("null", "logic.assertions_not_list"),
            (r#"{"claim": "p"}"#, "logic.assertions_not_list"),
            (r#""p""#, "logic.assertions_not_list"),
        ];
        for (a, want) in cases {
            assert_eq!(code(a), *want, "{a}");
        }
        let v = parse(r#"{"claims": []}"#, ParseOptions::default()).unwrap();
        assert_eq!(
            LogicEngine.evaluate(v.as_object().unwrap()).unwrap().reason_code,
            "logic.assertions_empty"
        );
    }

    #[test]
    fn contradictions_sorted() {
        let v = parse(
            r#"{"assertions": [{"claim": "zeta"}, {"claim": "alpha"}, {"claim": "zeta", "negated": true}, {"claim": "alpha", "negated": true}]}"#,
            ParseOptions::default(),
        )
        .unwrap();
        let out = LogicEngine.evaluate(v.as_object().unwrap()).unwrap();
        assert_eq!(out.details.unwrap()["contradictions"], serde_json::json!(["alpha", "zeta"]));
    }
}

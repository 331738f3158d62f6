//! Tables of expected decisions run against a policy set (what `agentweave authz test` runs).
//!
//! A case file is JSON (format documented in the crate README):
//!
//! ```json
//! {
//!   "description": "role matrix",
//!   "policies": ["../core.rego", "../role_matrix.rego"],
//!   "data": ["../data.json"],
//!   "entrypoint": "data.agentweave.authz.decision",
//!   "cases": [
//!     {"name": "reader may query",
//!      "input": {"direction": "inbound", "caller_spiffe_id": "spiffe://a.org/agent/search", "…": "…"},
//!      "expect": {"allow": true, "reason_contains": "role reader"}}
//!   ]
//! }
//! ```
//!
//! Paths are relative to the case file; `entrypoint` defaults to
//! [`crate::rego::DEFAULT_ENTRYPOINT`]. `input` is handed to policy verbatim (so a case can test a
//! malformed input). `expect.fault: true` expects the evaluation itself to fail (a fault, which an
//! enforcer turns into a denial); otherwise a fault fails the case.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::AuthzError;
use crate::rego::{DEFAULT_ENTRYPOINT, DataSource, PolicySet, PolicySource};

/// A parsed case file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What the table covers.
    #[serde(default)]
    pub description: Option<String>,
    /// Rego files or folders, relative to the case file.
    pub policies: Vec<PathBuf>,
    /// Data JSON files or folders, relative to the case file.
    #[serde(default)]
    pub data: Vec<PathBuf>,
    /// The rule to evaluate.
    #[serde(default)]
    pub entrypoint: Option<String>,
    /// The table.
    pub cases: Vec<Case>,
}

/// One row: an input and the decision expected for it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Shown in failure reports; unique names make reports readable.
    pub name: String,
    /// The policy input, verbatim.
    pub input: serde_json::Value,
    /// The expected decision.
    pub expect: Expectation,
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Whether the request must be allowed.
    pub allow: bool,
    /// A substring the reason must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_contains: Option<String>,
    /// True when the evaluation is expected to fail (and so deny).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fault: bool,
}

/// What policy actually said for a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A decision.
    Decided {
        /// Allowed?
        allow: bool,
        /// The reason.
        reason: String,
    },
    /// The evaluation failed; the text says how.
    Fault(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decided { allow: true, reason } => write!(f, "allow ({reason})"),
            Self::Decided { allow: false, reason } => write!(f, "deny ({reason})"),
            Self::Fault(fault) => write!(f, "fault: {fault}"),
        }
    }
}

/// A case whose outcome did not match.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFailure {
    /// The case's name.
    pub name: String,
    /// Its position in the table (0-based).
    pub index: usize,
    /// The input, for the report.
    pub input: serde_json::Value,
    /// What was expected.
    pub expected: Expectation,
    /// What happened.
    pub got: Outcome,
}

/// The result of running a table.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReport {
    /// Where the table came from, when it was a file.
    pub source: Option<PathBuf>,
    /// The policy version the table ran against.
    pub policy_id: String,
    /// How many cases ran.
    pub total: usize,
    /// The cases that did not match, in table order.
    pub failures: Vec<CaseFailure>,
}

impl CaseReport {
    /// True when every case matched.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for CaseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = self.source.as_ref().map(|p| p.display().to_string());
        let source = source.as_deref().unwrap_or("(inline table)");
        writeln!(
            f,
            "{source}: {}/{} cases passed (policy {})",
            self.total - self.failures.len(),
            self.total,
            self.policy_id
        )?;
        for failure in &self.failures {
            let e = &failure.expected;
            let mut expected = String::from(if e.fault {
                "fault"
            } else if e.allow {
                "allow"
            } else {
                "deny"
            });
            if let Some(needle) = &e.reason_contains {
                expected.push_str(&format!(" with reason containing {needle:?}"));
            }
            writeln!(f, "  FAIL #{} {:?}", failure.index, failure.name)?;
            writeln!(f, "    expected: {expected}")?;
            writeln!(f, "    got:      {}", failure.got)?;
            writeln!(f, "    input:    {}", failure.input)?;
        }
        Ok(())
    }
}

impl CaseFile {
    /// Reads and parses a case file.
    pub fn load(path: &Path) -> Result<CaseFile, AuthzError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| AuthzError::Io { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses case-file text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<CaseFile, AuthzError> {
        let file: CaseFile = serde_json::from_str(text)
            .map_err(|e| AuthzError::CaseFile { path: path.to_owned(), message: e.to_string() })?;
        if file.policies.is_empty() {
            return Err(AuthzError::CaseFile {
                path: path.to_owned(),
                message: "\"policies\" lists no file or folder".into(),
            });
        }
        Ok(file)
    }

    /// Loads the policy set the file names, resolving paths against `base_dir` (the file's
    /// folder).
    pub fn policy_set(&self, base_dir: &Path) -> Result<PolicySet, AuthzError> {
        let policies: Vec<PolicySource> = self
            .policies
            .iter()
            .map(|p| {
                let path = base_dir.join(p);
                if path.is_dir() { PolicySource::Dir(path) } else { PolicySource::File(path) }
            })
            .collect();
        let data: Vec<DataSource> = self
            .data
            .iter()
            .map(|p| {
                let path = base_dir.join(p);
                if path.is_dir() { DataSource::Dir(path) } else { DataSource::File(path) }
            })
            .collect();
        let entrypoint = self.entrypoint.as_deref().unwrap_or(DEFAULT_ENTRYPOINT);
        PolicySet::load(&policies, &data, entrypoint)
    }
}

/// Runs `cases` against `set`.
pub fn run_cases(set: &PolicySet, cases: &[Case]) -> CaseReport {
    let mut failures = Vec::new();
    let mut evaluator = set.evaluator();
    for (index, case) in cases.iter().enumerate() {
        let got = match evaluator.evaluate_json(&case.input) {
            Ok((allow, reason)) => Outcome::Decided { allow, reason: reason.to_string() },
            Err(fault) => Outcome::Fault(fault),
        };
        let matches = match (&got, &case.expect) {
            (Outcome::Fault(_), expect) => expect.fault,
            (Outcome::Decided { allow, reason }, expect) => {
                !expect.fault
                    && *allow == expect.allow
                    && expect.reason_contains.as_ref().is_none_or(|needle| reason.contains(needle))
            }
        };
        if !matches {
            failures.push(CaseFailure {
                name: case.name.clone(),
                index,
                input: case.input.clone(),
                expected: case.expect.clone(),
                got,
            });
        }
    }
    CaseReport { source: None, policy_id: set.policy_id().to_owned(), total: cases.len(), failures }
}

/// Loads a case file, its policy set, and runs its table. `Err` means the file or its policies
/// could not be loaded; failing cases are in the report.
pub fn run_case_file(path: &Path) -> Result<CaseReport, AuthzError> {
    let file = CaseFile::load(path)?;
    let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
    let set = file.policy_set(base_dir)?;
    let mut report = run_cases(&set, &file.cases);
    report.source = Some(path.to_owned());
    Ok(report)
}

//! Loading and compiling a set of Rego modules and data documents into one prepared engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::backend::{Backend, Prepared, VmProgram, automatic, timer};
use super::reads::{InputFields, InputReads};
use crate::decision::interpret_rego;
use crate::error::AuthzError;

/// The entrypoint used unless configured: the rule `decision` of package `agentweave.authz`.
pub const DEFAULT_ENTRYPOINT: &str = "data.agentweave.authz.decision";

/// The default wall-clock limit of one evaluation: a runaway policy is a fault, not a hang.
pub const DEFAULT_EVAL_TIME_LIMIT: Duration = Duration::from_millis(100);

/// Where Rego modules come from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// One `.rego` file.
    File(PathBuf),
    /// Every `*.rego` file under a folder, recursively, in path order; `*_test.rego` files are
    /// skipped (they hold OPA unit tests, not policy), and so is every entry whose name starts
    /// with `.` (a Kubernetes ConfigMap mount's `..data` and `..<timestamp>` would otherwise load
    /// each module twice).
    Dir(PathBuf),
    /// A module held in memory (for example one of the [`crate::starter`] modules).
    Inline {
        /// The module name shown in errors.
        name: String,
        /// The Rego source.
        rego: String,
    },
}

/// Where data documents come from. Every document is deep-merged at the root of `data`
/// (so a document `{"agentweave": {"roles": …}}` is `data.agentweave.roles`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// One JSON file.
    File(PathBuf),
    /// Every `*.json` file under a folder, recursively, in path order, skipping entries whose
    /// name starts with `.` (as [`PolicySource::Dir`]).
    Dir(PathBuf),
    /// A document held in memory.
    Inline {
        /// The document name shown in errors.
        name: String,
        /// The document.
        json: serde_json::Value,
    },
}

/// The text of every module and document, read once: what a reload compares and compiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sources {
    policies: Vec<(String, String)>,
    data: Vec<(String, String)>,
}

impl Sources {
    /// Reads every source. Folders are listed afresh, so files added or removed are picked up.
    pub(crate) fn read(
        policies: &[PolicySource],
        data: &[DataSource],
    ) -> Result<Sources, AuthzError> {
        let mut out = Sources { policies: Vec::new(), data: Vec::new() };
        for source in policies {
            match source {
                PolicySource::File(path) => out.policies.push(read_named(path)?),
                PolicySource::Dir(dir) => {
                    for path in list_files(dir, "rego")? {
                        let is_test = path
                            .file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.ends_with("_test.rego"));
                        if !is_test {
                            out.policies.push(read_named(&path)?);
                        }
                    }
                }
                PolicySource::Inline { name, rego } => {
                    out.policies.push((name.clone(), rego.clone()))
                }
            }
        }
        for source in data {
            match source {
                DataSource::File(path) => out.data.push(read_named(path)?),
                DataSource::Dir(dir) => {
                    for path in list_files(dir, "json")? {
                        out.data.push(read_named(&path)?);
                    }
                }
                DataSource::Inline { name, json } => {
                    out.data.push((name.clone(), json.to_string()))
                }
            }
        }
        Ok(out)
    }

    /// A content hash over the modules, documents and entrypoint: the policy version's name.
    fn fingerprint(&self, entrypoint: &str) -> String {
        let mut hash = Sha256::new();
        let mut feed = |tag: &str, name: &str, text: &str| {
            for part in [tag, name, text] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part.as_bytes());
            }
        };
        feed("entrypoint", "", entrypoint);
        for (name, text) in &self.policies {
            feed("policy", name, text);
        }
        for (name, text) in &self.data {
            feed("data", name, text);
        }
        let digest = hash.finalize();
        format!("rego:sha256:{}", hex::encode(digest.get(..12).unwrap_or_default()))
    }
}

fn read_named(path: &Path) -> Result<(String, String), AuthzError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| AuthzError::Io { path: path.to_owned(), source })?;
    Ok((path.display().to_string(), text))
}

/// Every file with `extension` under `dir`, recursively, sorted by path.
///
/// Entries whose name starts with `.` are skipped, files and folders alike. Why: a Kubernetes
/// ConfigMap volume holds each key twice, as `<key>` (a symlink through `..data`) and inside a
/// hidden `..<timestamp>` folder that `..data` points to; descending into those would load every
/// module twice (and two definitions of one rule). Editors' and tools' hidden files (`.#x.rego`
/// locks, `.git`) are not policy either.
fn list_files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, AuthzError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|source| AuthzError::Io { path: current.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| AuthzError::Io { path: current.clone(), source })?;
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|source| AuthzError::Io { path: path.clone(), source })?;
            if kind.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A compiled, prepared policy version: Rego modules plus data, checked against its entrypoint.
///
/// Immutable once built; a reload builds a new one and swaps it in. Each thread evaluates on its
/// own evaluator made from it (regorus evaluates through `&mut self`): a VM loaded
/// with the compiled program when the policy compiles for regorus' VM (see [`Backend`]), else a
/// clone of the prepared interpreter engine (cheap: reference-counted modules and data).
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub(crate) engine: regorus::Engine,
    /// The policy compiled for regorus' VM; `None` when the VM compiler refuses it.
    pub(crate) vm: Option<Arc<VmProgram>>,
    pub(crate) entrypoint: String,
    pub(crate) policy_id: Arc<str>,
    /// Process-unique version number: keys per-thread engines and cache entries.
    pub(crate) version: u64,
    pub(crate) sources: Sources,
    /// What the modules can read of the input, and whether decisions may be cached.
    pub(crate) reads: InputReads,
}

impl PolicySet {
    /// Loads and compiles `policies` and `data`, and checks that `entrypoint` exists and
    /// evaluates without error on an empty input. The evaluator is chosen as an enforcer with no
    /// configured [`Backend`] chooses it.
    pub fn load(
        policies: &[PolicySource],
        data: &[DataSource],
        entrypoint: &str,
    ) -> Result<PolicySet, AuthzError> {
        let sources = Sources::read(policies, data)?;
        Self::compile(sources, entrypoint, Some(DEFAULT_EVAL_TIME_LIMIT), None)
    }

    /// Compiles `sources`; `backend` forces an evaluator (`None`: see [`automatic`]).
    pub(crate) fn compile(
        sources: Sources,
        entrypoint: &str,
        time_limit: Option<Duration>,
        backend: Option<Backend>,
    ) -> Result<PolicySet, AuthzError> {
        static VERSION: AtomicU64 = AtomicU64::new(1);
        if sources.policies.is_empty() {
            return Err(AuthzError::Entrypoint {
                entrypoint: entrypoint.to_owned(),
                message: "no Rego module was loaded (default deny needs a policy too)".into(),
            });
        }
        if !entrypoint.starts_with("data.") {
            return Err(AuthzError::Config {
                field: "entrypoint",
                message: format!("{entrypoint:?} must be a rule path starting with \"data.\""),
            });
        }
        let mut engine = regorus::Engine::new();
        if let Some(limit) = time_limit {
            engine.set_execution_timer_config(timer(limit));
        }
        for (name, text) in &sources.policies {
            engine
                .add_policy(name.clone(), text.clone())
                .map_err(|e| AuthzError::Compile { name: name.clone(), message: e.to_string() })?;
        }
        for (name, text) in &sources.data {
            let value = regorus::Value::from_json_str(text)
                .map_err(|e| AuthzError::Data { name: name.clone(), message: e.to_string() })?;
            if !matches!(value, regorus::Value::Object(_)) {
                return Err(AuthzError::Data {
                    name: name.clone(),
                    message: "a data document must be a JSON object".into(),
                });
            }
            engine
                .add_data(value)
                .map_err(|e| AuthzError::Data { name: name.clone(), message: e.to_string() })?;
        }
        // Prepares the engine (analysis, scheduling) once, so every clone starts prepared, and
        // surfaces errors regorus reports only at first evaluation (unknown functions, conflicts,
        // a missing entrypoint).
        engine.set_input(regorus::Value::new_object());
        let on_empty =
            engine.eval_rule(entrypoint.to_owned()).map_err(|e| AuthzError::Entrypoint {
                entrypoint: entrypoint.to_owned(),
                message: format!("does not evaluate on an empty input: {e}"),
            })?;
        let policy_id: Arc<str> = Arc::from(sources.fingerprint(entrypoint));
        let wanted = backend
            .unwrap_or_else(|| automatic(sources.policies.iter().map(|(_, text)| text.as_str())));
        let vm = match wanted {
            Backend::Interpreter => None,
            Backend::Vm => match VmProgram::compile(&engine, entrypoint, time_limit, &on_empty) {
                Ok(program) => Some(Arc::new(program)),
                // Asked for explicitly: say why it cannot be had rather than run slower.
                Err(message) if backend.is_some() => {
                    return Err(AuthzError::Entrypoint {
                        entrypoint: entrypoint.to_owned(),
                        message,
                    });
                }
                Err(reason) => {
                    tracing::warn!(
                        policy_id = %policy_id,
                        reason = %reason,
                        "Rego policy evaluated by the regorus interpreter (slower than its VM)"
                    );
                    None
                }
            },
        };
        let reads = InputReads::scan(
            sources.policies.iter().map(|(name, text)| (name.as_str(), text.as_str())),
        );
        Ok(PolicySet {
            reads,
            engine,
            vm,
            entrypoint: entrypoint.to_owned(),
            policy_id,
            version: VERSION.fetch_add(1, Ordering::Relaxed),
            sources,
        })
    }

    /// The policy version's ID: a content hash of modules, data and entrypoint.
    pub fn policy_id(&self) -> &str {
        &self.policy_id
    }

    /// The rule evaluated for each decision.
    pub fn entrypoint(&self) -> &str {
        &self.entrypoint
    }

    /// Which regorus evaluator decides with this version.
    pub fn backend(&self) -> Backend {
        if self.vm.is_some() { Backend::Vm } else { Backend::Interpreter }
    }

    /// The input fields this version's modules can read (what the in-process enforcer hands
    /// regorus and keys its cache on).
    pub fn input_fields(&self) -> &InputFields {
        &self.reads.fields
    }

    /// Why this version's decisions are never cached (a module calls a builtin whose answer
    /// changes over time, or a module could not be scanned); `None` when they may be.
    pub fn uncacheable_reason(&self) -> Option<&str> {
        self.reads.uncacheable.as_deref()
    }

    /// The names of the loaded modules, in load order.
    pub fn module_names(&self) -> impl Iterator<Item = &str> {
        self.sources.policies.iter().map(|(name, _)| name.as_str())
    }

    /// Evaluates the entrypoint on an arbitrary JSON input, on a fresh evaluator. For many
    /// evaluations use [`PolicySet::evaluator`], which keeps one.
    pub fn evaluate_json(&self, input: &serde_json::Value) -> Result<(bool, Arc<str>), String> {
        self.evaluator().evaluate_json(input)
    }

    /// A private evaluator for repeated evaluations on one thread (the case runner and tools;
    /// enforcers keep one per thread themselves).
    pub fn evaluator(&self) -> Evaluator {
        Evaluator {
            prepared: self.prepare(),
            vm: self.vm.clone(),
            engine: self.engine.clone(),
            entrypoint: self.entrypoint.clone(),
        }
    }

    /// A private evaluator of this version for one thread.
    pub(crate) fn prepare(&self) -> Prepared {
        Prepared::new(self.vm.as_deref(), &self.engine)
    }
}

/// A private evaluator of a policy version, reused across evaluations (regorus evaluates through
/// `&mut self`, so an evaluator belongs to one thread at a time). It evaluates exactly as the
/// enforcers do (same [`Backend`]).
#[derive(Debug)]
pub struct Evaluator {
    prepared: Prepared,
    vm: Option<Arc<VmProgram>>,
    engine: regorus::Engine,
    entrypoint: String,
}

impl Clone for Evaluator {
    /// A new evaluator of the same version (VM state is per evaluator, never shared).
    fn clone(&self) -> Self {
        Evaluator {
            prepared: Prepared::new(self.vm.as_deref(), &self.engine),
            vm: self.vm.clone(),
            engine: self.engine.clone(),
            entrypoint: self.entrypoint.clone(),
        }
    }
}

impl Evaluator {
    /// Evaluates the entrypoint on an arbitrary JSON input. `Err` describes a fault: an
    /// evaluation error or a result of the wrong shape.
    pub fn evaluate_json(&mut self, input: &serde_json::Value) -> Result<(bool, Arc<str>), String> {
        let value = self
            .prepared
            .evaluate(regorus::Value::from(input.clone()), &self.entrypoint)
            .map_err(|e| format!("evaluation of {} failed: {e}", self.entrypoint))?;
        interpret_rego(&value).map_err(|e| format!("{}: {e}", self.entrypoint))
    }

    /// Which regorus evaluator this is.
    pub fn backend(&self) -> Backend {
        self.prepared.backend()
    }
}

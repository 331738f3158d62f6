//! In-process Rego with regorus: [`RegoEnforcer`].
//!
//! The hot path takes no lock: the current [`PolicySet`] is read through an atomic pointer
//! (`arc-swap`), and each thread evaluates on its own evaluator of that version (a regorus VM
//! loaded with the compiled program, or a clone of the prepared interpreter engine: see
//! [`Backend`]), kept in a thread-local slot tagged with the policy version (regorus evaluates
//! through `&mut self`, so a shared evaluator would need a global mutex). A reload compiles the new version off to the side and
//! swaps the pointer: a decision uses exactly one version from start to end, never a mix.

mod backend;
#[cfg(test)]
mod backend_tests;
#[cfg(test)]
mod masked_input_tests;
mod policy_set;
mod reads;
#[cfg(test)]
mod starter_equivalence_tests;
mod watch;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentweave_identity::SpiffeId;
use arc_swap::ArcSwap;

pub use backend::Backend;
pub use policy_set::{
    DEFAULT_ENTRYPOINT, DEFAULT_EVAL_TIME_LIMIT, DataSource, Evaluator, PolicySet, PolicySource,
};
pub use reads::InputFields;
pub use watch::WatchHandle;

use crate::cache::{CacheConfig, Cached, DecisionCache};
use crate::decision::{AuditId, AuthzDecision, DecisionSource, interpret_rego};
use crate::enforcer::{DecisionFuture, PolicyEnforcer};
use crate::error::AuthzError;
use crate::input::PolicyInput;
use backend::Prepared;
use policy_set::Sources;

/// How to build a [`RegoEnforcer`].
#[derive(Debug, Clone)]
pub struct RegoConfig {
    local_id: SpiffeId,
    policies: Vec<PolicySource>,
    data: Vec<DataSource>,
    entrypoint: String,
    cache: Option<CacheConfig>,
    eval_time_limit: Option<Duration>,
    backend: Option<Backend>,
}

impl RegoConfig {
    /// A configuration for the agent `local_id` with no policy yet, the default entrypoint
    /// ([`DEFAULT_ENTRYPOINT`]), the decision cache on ([`CacheConfig::default`]) and a
    /// [`DEFAULT_EVAL_TIME_LIMIT`] per evaluation.
    ///
    /// Why the cache is on by default here (and off for OPA): in-process it is exact. It keys on
    /// every input field the policy version can read and on the version itself, a reload empties
    /// it, a version calling a builtin whose answer changes by itself is never cached, and faults
    /// are never cached; so a hit is the decision the policy in force would make, only faster.
    /// Hits are audited as such (`source: cache`).
    pub fn new(local_id: SpiffeId) -> Self {
        Self {
            local_id,
            policies: Vec::new(),
            data: Vec::new(),
            entrypoint: DEFAULT_ENTRYPOINT.to_owned(),
            cache: Some(CacheConfig::default()),
            eval_time_limit: Some(DEFAULT_EVAL_TIME_LIMIT),
            backend: None,
        }
    }

    /// Forces the regorus evaluator. Unset, the VM is used when every module is a shipped
    /// starter module and the interpreter otherwise ([`Backend`] says why). Forcing
    /// [`Backend::Vm`] on your own policies makes them several times faster but turns a conflict
    /// between rule definitions into an undefined rule rather than a faulting error: check that
    /// your rules cannot conflict first. A policy the VM cannot compile is then an error.
    #[must_use]
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Adds a policy source (file, folder or inline module).
    #[must_use]
    pub fn policy(mut self, source: PolicySource) -> Self {
        self.policies.push(source);
        self
    }

    /// Adds a data source (file, folder or inline document).
    #[must_use]
    pub fn data(mut self, source: DataSource) -> Self {
        self.data.push(source);
        self
    }

    /// Sets the rule evaluated per decision, e.g. `data.mycorp.authz.allow`.
    #[must_use]
    pub fn entrypoint(mut self, entrypoint: &str) -> Self {
        self.entrypoint = entrypoint.to_owned();
        self
    }

    /// Sets the decision cache's size and time to live (it is on by default: see
    /// [`RegoConfig::new`]).
    #[must_use]
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Turns the decision cache off: every decision evaluates the policy (to measure it, or to
    /// see every evaluation in a profile).
    #[must_use]
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Sets (or with `None` removes) the wall-clock limit of one evaluation; exceeding it is a
    /// fault and denies.
    #[must_use]
    pub fn eval_time_limit(mut self, limit: Option<Duration>) -> Self {
        self.eval_time_limit = limit;
        self
    }
}

/// What [`RegoEnforcer::reload`] did.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The sources are byte-identical to the policy in force; nothing was compiled.
    Unchanged,
    /// A new policy version is in force.
    Swapped {
        /// Its ID.
        policy_id: String,
    },
}

/// Counters and the last reload error, for health endpoints and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoStatus {
    /// The policy version in force.
    pub policy_id: String,
    /// Reloads that put a new version in force.
    pub reloads: u64,
    /// Reloads refused (the previous version stayed in force).
    pub failed_reloads: u64,
    /// Why the most recent reload failed; cleared once the sources load again (or are back to
    /// those in force).
    pub last_reload_error: Option<String>,
    /// Decisions that were faults (evaluation error, malformed or undefined result).
    pub faults: u64,
    /// Decisions served from the cache.
    pub cache_hits: u64,
    /// Decisions evaluated.
    pub evaluations: u64,
    /// The input fields the version in force can read: what regorus is given and the cache
    /// keys on (so a field outside it never makes a miss).
    pub input_fields: InputFields,
    /// Why the version in force is never served from the cache, when it is not.
    pub uncacheable: Option<String>,
}

#[derive(Debug)]
struct Inner {
    /// Process-unique ID of this enforcer: keys the per-thread engine slots.
    uid: u64,
    local_id: SpiffeId,
    policies: Vec<PolicySource>,
    data: Vec<DataSource>,
    entrypoint: String,
    eval_time_limit: Option<Duration>,
    backend: Option<Backend>,
    current: ArcSwap<PolicySet>,
    cache: Option<DecisionCache>,
    /// Serialises reloads (never taken by a check).
    reload_lock: Mutex<Option<String>>,
    reloads: AtomicU64,
    failed_reloads: AtomicU64,
    faults: AtomicU64,
    cache_hits: AtomicU64,
    evaluations: AtomicU64,
}

/// Decides with Rego evaluated in-process by regorus. Cloning is cheap and shares the policy.
#[derive(Debug, Clone)]
pub struct RegoEnforcer {
    inner: Arc<Inner>,
}

impl RegoEnforcer {
    /// Loads and compiles the configured policy. A policy that does not compile is an error
    /// here: there is no previous version to fall back to.
    pub fn new(config: RegoConfig) -> Result<Self, AuthzError> {
        static UID: AtomicU64 = AtomicU64::new(1);
        if let Some(cache) = &config.cache {
            cache.validate()?;
        }
        let sources = Sources::read(&config.policies, &config.data)?;
        let set = PolicySet::compile(
            sources,
            &config.entrypoint,
            config.eval_time_limit,
            config.backend,
        )?;
        tracing::info!(
            policy_id = %set.policy_id,
            entrypoint = %set.entrypoint,
            backend = ?set.backend(),
            input_fields = ?set.reads.fields,
            "Rego policy loaded"
        );
        warn_if_uncacheable(config.cache.is_some(), &set);
        Ok(Self {
            inner: Arc::new(Inner {
                uid: UID.fetch_add(1, Ordering::Relaxed),
                local_id: config.local_id,
                policies: config.policies,
                data: config.data,
                entrypoint: config.entrypoint,
                eval_time_limit: config.eval_time_limit,
                backend: config.backend,
                current: ArcSwap::from_pointee(set),
                cache: config.cache.map(DecisionCache::new),
                reload_lock: Mutex::new(None),
                reloads: AtomicU64::new(0),
                failed_reloads: AtomicU64::new(0),
                faults: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
                evaluations: AtomicU64::new(0),
            }),
        })
    }

    /// Re-reads every source; if anything changed, compiles it and swaps it in atomically.
    ///
    /// On failure the version in force stays in force, the error is logged, counted and kept in
    /// [`RegoStatus::last_reload_error`], and returned.
    pub fn reload(&self) -> Result<ReloadOutcome, AuthzError> {
        let inner = &self.inner;
        let mut last_error = inner.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let attempt = Sources::read(&inner.policies, &inner.data).and_then(|sources| {
            if sources == inner.current.load().sources {
                return Ok(None);
            }
            PolicySet::compile(sources, &inner.entrypoint, inner.eval_time_limit, inner.backend)
                .map(Some)
        });
        match attempt {
            Ok(None) => {
                // The sources are those in force again: nothing is wrong any more.
                *last_error = None;
                Ok(ReloadOutcome::Unchanged)
            }
            Ok(Some(set)) => {
                let policy_id = set.policy_id.to_string();
                let input_fields = set.reads.fields.clone();
                warn_if_uncacheable(inner.cache.is_some(), &set);
                inner.current.store(Arc::new(set));
                if let Some(cache) = &inner.cache {
                    cache.clear();
                }
                inner.reloads.fetch_add(1, Ordering::Relaxed);
                *last_error = None;
                tracing::info!(policy_id = %policy_id, ?input_fields, "Rego policy reloaded");
                Ok(ReloadOutcome::Swapped { policy_id })
            }
            Err(error) => {
                inner.failed_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    error = %error,
                    policy_id = %inner.current.load().policy_id,
                    "Rego policy reload refused; the previous policy stays in force"
                );
                *last_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// Polls the sources every `interval` on a background thread and reloads on change (see
    /// [`RegoEnforcer::reload`]). Polling, not OS file events: it works the same on every
    /// platform, on network file systems and with the symlink swaps Kubernetes config maps do.
    /// Watching stops when the handle is dropped. `Err` when the thread cannot be started.
    pub fn watch(&self, interval: Duration) -> Result<WatchHandle, AuthzError> {
        watch::spawn(self.clone(), interval)
    }

    /// The policy version in force.
    pub fn policy_id(&self) -> String {
        self.inner.current.load().policy_id.to_string()
    }

    /// Which regorus evaluator the policy version in force uses.
    pub fn backend(&self) -> Backend {
        self.inner.current.load().backend()
    }

    /// Counters and the last reload error.
    pub fn status(&self) -> RegoStatus {
        let inner = &self.inner;
        let last_reload_error = inner.reload_lock.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let set = inner.current.load();
        RegoStatus {
            policy_id: set.policy_id.to_string(),
            reloads: inner.reloads.load(Ordering::Relaxed),
            failed_reloads: inner.failed_reloads.load(Ordering::Relaxed),
            last_reload_error,
            faults: inner.faults.load(Ordering::Relaxed),
            cache_hits: inner.cache_hits.load(Ordering::Relaxed),
            evaluations: inner.evaluations.load(Ordering::Relaxed),
            input_fields: set.reads.fields.clone(),
            uncacheable: set.reads.uncacheable.clone(),
        }
    }

    /// Decides synchronously (the work is CPU-bound and short; the async trait method wraps it).
    pub fn decide_now(&self, input: &PolicyInput) -> AuthzDecision {
        let inner = &self.inner;
        let set = inner.current.load();
        // The fields this version can read, and whether it may be cached, belong to the version:
        // loaded together, they can never describe another version than the one evaluated.
        let mask = &set.reads.mask;
        let cache = inner.cache.as_ref().filter(|_| set.reads.uncacheable.is_none());
        if let Some(cache) = cache
            && let Some(hit) = cache.get(input, set.version, mask)
        {
            inner.cache_hits.fetch_add(1, Ordering::Relaxed);
            return AuthzDecision {
                allowed: hit.allowed,
                reason: hit.reason,
                audit_id: AuditId::next(),
                policy_id: hit.policy_id,
                source: DecisionSource::Cache,
            };
        }
        inner.evaluations.fetch_add(1, Ordering::Relaxed);
        let result = with_prepared(inner.uid, &set, |prepared| {
            prepared.evaluate(input.to_rego_value(mask), &set.entrypoint)
        });
        let outcome = match result {
            Ok(value) => interpret_rego(&value)
                .map_err(|e| format!("policy result of {} is malformed: {e}", set.entrypoint)),
            Err(e) => Err(format!("Rego evaluation of {} failed: {e}", set.entrypoint)),
        };
        match outcome {
            Ok((allowed, reason)) => {
                if let Some(cache) = cache {
                    let cached = Cached {
                        allowed,
                        reason: reason.clone(),
                        policy_id: set.policy_id.clone(),
                    };
                    cache.insert(input, set.version, mask, cached);
                }
                AuthzDecision {
                    allowed,
                    reason,
                    audit_id: AuditId::next(),
                    policy_id: set.policy_id.clone(),
                    source: DecisionSource::Policy,
                }
            }
            Err(fault) => {
                inner.faults.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(fault = %fault, policy_id = %set.policy_id, "authorization fault: denied");
                AuthzDecision::fault(fault, set.policy_id.clone())
            }
        }
    }
}

impl PolicyEnforcer for RegoEnforcer {
    fn local_id(&self) -> &SpiffeId {
        &self.inner.local_id
    }

    fn decide<'a>(&'a self, input: &'a PolicyInput) -> DecisionFuture<'a> {
        Box::pin(std::future::ready(self.decide_now(input)))
    }
}

/// Says once per loaded version why a configured cache will not serve it.
fn warn_if_uncacheable(cache_configured: bool, set: &PolicySet) {
    if let Some(reason) = set.reads.uncacheable.as_deref().filter(|_| cache_configured) {
        tracing::warn!(
            policy_id = %set.policy_id,
            reason,
            "decision cache configured but not used for this policy version"
        );
    }
}

/// How many enforcers' evaluators one thread keeps; beyond that the oldest slot is reused.
const ENGINE_SLOTS: usize = 8;

/// One per-thread slot: (enforcer uid, policy version, that version's evaluator).
type Slot = (u64, u64, Prepared);

thread_local! {
    static ENGINES: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's evaluator for (`owner`, `set.version`), preparing one on first use
/// and replacing the slot when the version changed (a reload).
fn with_prepared<R>(owner: u64, set: &PolicySet, f: impl FnOnce(&mut Prepared) -> R) -> R {
    ENGINES.with(|cell| {
        let Ok(mut slots) = cell.try_borrow_mut() else {
            // Re-entered from inside an evaluation (not possible with regorus today): use a
            // private evaluator rather than fail.
            return f(&mut set.prepare());
        };
        let position = slots.iter().position(|(uid, _, _)| *uid == owner);
        let slot = match position {
            Some(index) => index,
            None => {
                if slots.len() >= ENGINE_SLOTS {
                    slots.remove(0);
                }
                slots.push((owner, set.version, set.prepare()));
                slots.len() - 1
            }
        };
        match slots.get_mut(slot) {
            Some(entry) => {
                if entry.1 != set.version {
                    *entry = (owner, set.version, set.prepare());
                }
                f(&mut entry.2)
            }
            None => f(&mut set.prepare()),
        }
    })
}

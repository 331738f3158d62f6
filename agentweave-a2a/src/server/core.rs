//! Binding-independent request handling: every A2A method's semantics live here, so the
//! JSON-RPC and HTTP+JSON bindings cannot drift apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::stream::BoxStream;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::authz::{Authorizer, AuthzDecision, AuthzRequest};
use super::executor::AgentExecutor;
use super::identity::CallerIdentity;
use super::push::{PushConfigs, PushPolicy};
use super::store::{StoreError, TaskRecord, TaskStore};
use crate::error::{A2aError, ErrorKind};
use crate::method::A2aMethod;
use crate::types::{AgentCard, Message, StreamResponse};

/// Capacity of a task's event broadcast; a subscriber that falls further behind receives a
/// fresh task snapshot instead of the missed events. The channel allocates and initialises all
/// its slots when a send creates the task, so this is paid on every `SendMessage`: 32 covers
/// the handful of events of a typical run (256 cost about 3% of a call on the e2e bench).
pub(crate) const LIVE_CAPACITY: usize = 32;

/// Who is calling and what they opted into, for one request.
#[derive(Debug, Clone)]
pub(crate) struct CallContext {
    /// The caller.
    pub(crate) caller: CallerIdentity,
    /// Extension URIs from `A2A-Extensions`.
    pub(crate) extensions: Vec<String>,
}

/// The result of a method.
pub(crate) enum Reply {
    /// A JSON result.
    Value(Value),
    /// A JSON result already encoded: the send methods encode their typed answer directly,
    /// without building (and then encoding and dropping) a `Value` tree of the whole task.
    Encoded(Vec<u8>),
    /// A stream of items (SSE on HTTP bindings).
    Stream(BoxStream<'static, StreamResponse>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Self::Encoded(b) => {
                f.debug_tuple("Encoded").field(&String::from_utf8_lossy(b)).finish()
            }
            Self::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum LiveEvent {
    /// An item for the task's subscribers, shared: every receiver of the broadcast gets a
    /// reference and copies the item only if it keeps it (a blocking send only looks at most).
    Item(Arc<StreamResponse>),
    /// The current executor run ended (all its event sinks dropped).
    RunEnded,
}

/// Per-task live state: the event broadcast and the cancellation signal.
pub(crate) struct Live {
    pub(crate) tx: broadcast::Sender<LiveEvent>,
    pub(crate) cancel: watch::Sender<bool>,
    pub(crate) running: std::sync::atomic::AtomicBool,
}

/// Settings of the request handler.
#[derive(Debug, Clone)]
pub(crate) struct CoreConfig {
    pub(crate) card: AgentCard,
    pub(crate) extended_card: Option<AgentCard>,
    pub(crate) push: PushPolicy,
    pub(crate) blocking_timeout: Duration,
}

pub(crate) struct Core {
    pub(crate) executor: Arc<dyn AgentExecutor>,
    pub(crate) store: Arc<dyn TaskStore>,
    pub(crate) authz: Arc<dyn Authorizer>,
    pub(crate) cfg: CoreConfig,
    pub(crate) live: Mutex<HashMap<String, Arc<Live>>>,
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    pub(crate) push_configs: PushConfigs,
    pub(crate) push_queues: Mutex<HashMap<String, tokio::sync::mpsc::Sender<StreamResponse>>>,
}

pub(crate) fn store_err(e: StoreError) -> A2aError {
    tracing::error!(error = %e, "task store failure");
    A2aError::internal(format!("task store unavailable: {e}"))
}

pub(crate) fn parse_params<T: DeserializeOwned>(params: Value) -> Result<T, A2aError> {
    serde_json::from_value(params).map_err(|e| {
        A2aError::new(ErrorKind::InvalidParams, format!("invalid params: {e}"))
            .with_violation("params", e.to_string())
    })
}

impl Core {
    pub(crate) fn new(
        executor: Arc<dyn AgentExecutor>,
        store: Arc<dyn TaskStore>,
        authz: Arc<dyn Authorizer>,
        cfg: CoreConfig,
    ) -> Self {
        Self {
            executor,
            store,
            authz,
            cfg,
            live: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            push_configs: PushConfigs::default(),
            push_queues: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn streaming_enabled(&self) -> bool {
        self.cfg.card.capabilities.streaming == Some(true)
    }

    pub(crate) fn push_enabled(&self) -> bool {
        self.cfg.card.capabilities.push_notifications == Some(true)
    }

    /// The per-task write lock: all read-modify-write cycles of one task go through it, so
    /// executor events, cancellation and follow-up messages apply in a single order.
    pub(crate) fn task_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(l) = locks.get(id).and_then(Weak::upgrade) {
            return l;
        }
        if locks.len() > 1024 {
            locks.retain(|_, w| w.strong_count() > 0);
        }
        let l = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(id.to_owned(), Arc::downgrade(&l));
        l
    }

    pub(crate) fn live_get(&self, id: &str) -> Option<Arc<Live>> {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(id).cloned()
    }

    pub(crate) fn live_get_or_create(&self, id: &str) -> Arc<Live> {
        let mut map = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(l) = map.get(id) {
            return l.clone();
        }
        if map.len() > 1024 {
            map.retain(|_, l| {
                l.tx.receiver_count() > 0 || l.running.load(std::sync::atomic::Ordering::Acquire)
            });
        }
        let (tx, _) = broadcast::channel(LIVE_CAPACITY);
        let (cancel, _) = watch::channel(false);
        let l = Arc::new(Live { tx, cancel, running: std::sync::atomic::AtomicBool::new(false) });
        map.insert(id.to_owned(), l.clone());
        l
    }

    /// Drops the live entry when nothing uses it any more.
    pub(crate) fn live_release(&self, id: &str) {
        let mut map = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(l) = map.get(id)
            && l.tx.receiver_count() == 0
            && !l.running.load(std::sync::atomic::Ordering::Acquire)
        {
            map.remove(id);
        }
    }

    /// Runs the authorization hook; a fault fails closed.
    pub(crate) async fn authorize(
        &self,
        call: &CallContext,
        method: A2aMethod,
        task_id: Option<&str>,
        owner: Option<&CallerIdentity>,
        message: Option<&Message>,
    ) -> Result<AuthzDecision, A2aError> {
        let req =
            AuthzRequest { caller: &call.caller, method, task_id, task_owner: owner, message };
        match self.authz.authorize(req).await {
            Ok(d) => {
                if let AuthzDecision::Deny { reason } = &d {
                    tracing::info!(caller = %call.caller, %method, task = task_id.unwrap_or(""), %reason, "A2A call denied");
                }
                Ok(d)
            }
            Err(fault) => {
                tracing::error!(caller = %call.caller, %method, error = %fault, "authorization fault; denying");
                Err(A2aError::internal("authorization could not be evaluated"))
            }
        }
    }

    /// Authorizes a method that names no task; a denial is PermissionDenied.
    pub(crate) async fn authorize_method(
        &self,
        call: &CallContext,
        method: A2aMethod,
    ) -> Result<(), A2aError> {
        match self.authorize(call, method, None, None, None).await? {
            AuthzDecision::Allow => Ok(()),
            AuthzDecision::Deny { .. } => Err(A2aError::new(
                ErrorKind::PermissionDenied,
                format!("caller is not allowed to call {method}"),
            )),
        }
    }

    /// Loads a task the caller may access. Missing and forbidden tasks both answer
    /// TaskNotFound, so a caller cannot learn that someone else's task exists. The hook is
    /// called in both cases so every request is seen by it.
    pub(crate) async fn load_authorized(
        &self,
        call: &CallContext,
        method: A2aMethod,
        task_id: &str,
        message: Option<&Message>,
    ) -> Result<TaskRecord, A2aError> {
        let record = self.store.load(task_id).await.map_err(store_err)?;
        let decision = self
            .authorize(call, method, Some(task_id), record.as_ref().map(|r| &r.owner), message)
            .await?;
        match (record, decision) {
            (Some(r), AuthzDecision::Allow) => Ok(r),
            _ => Err(A2aError::task_not_found(task_id)),
        }
    }
}

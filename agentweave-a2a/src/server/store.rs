//! Task persistence: the [`TaskStore`] trait and a bounded in-memory implementation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::identity::CallerIdentity;
use crate::types::{Task, TaskState, Timestamp};

/// Default time a task is kept after its last update: one hour.
pub const DEFAULT_TASK_TTL: Duration = Duration::from_secs(3600);
/// Default maximum number of tasks held in memory.
pub const DEFAULT_MAX_TASKS: usize = 10_000;

/// A stored task and who created it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// The task.
    pub task: Task,
    /// The identity that created it (the default authorization policy compares against it).
    pub owner: CallerIdentity,
}

/// Filters for listing tasks.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TaskQuery {
    /// Only tasks of this owner (`None`: all owners).
    pub owner: Option<CallerIdentity>,
    /// Only this context.
    pub context_id: Option<String>,
    /// Only this state.
    pub state: Option<TaskState>,
    /// Only tasks whose status timestamp is later than this.
    pub updated_after: Option<Timestamp>,
}

/// The store failed or is full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store holds its maximum number of live tasks and none could be evicted.
    #[error("task store is full ({0} tasks, none terminal or expired)")]
    Full(usize),
    /// A backend fault.
    #[error("task store failure: {0}")]
    Backend(String),
}

/// Where tasks live. Writes to one task are serialized by the server, so implementations
/// need not handle concurrent writers of the same task.
pub trait TaskStore: Send + Sync {
    /// Loads a task.
    fn load(&self, id: &str) -> BoxFuture<'_, Result<Option<TaskRecord>, StoreError>>;
    /// Inserts or replaces a task.
    fn save(&self, record: TaskRecord) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Every matching task, most recently updated first (status timestamp descending, then id
    /// ascending, a total order the server's paging cursors rely on).
    fn list(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, StoreError>>;
}

struct Entry {
    record: TaskRecord,
    touched: Instant,
}

/// An in-memory store bounded in size and age.
///
/// Tasks expire `ttl` after their last update. When `max_tasks` is reached, expired tasks are
/// purged, then the least recently updated terminal task is evicted; if every task is live,
/// new tasks are refused with [`StoreError::Full`] rather than dropping work in progress.
pub struct InMemoryTaskStore {
    inner: Mutex<HashMap<String, Entry>>,
    ttl: Duration,
    max_tasks: usize,
}

impl std::fmt::Debug for InMemoryTaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryTaskStore")
            .field("ttl", &self.ttl)
            .field("max_tasks", &self.max_tasks)
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryTaskStore {
    fn default() -> Self {
        Self::new(DEFAULT_TASK_TTL, DEFAULT_MAX_TASKS)
    }
}

impl InMemoryTaskStore {
    /// A store with the given limits (`max_tasks` of at least 1).
    pub fn new(ttl: Duration, max_tasks: usize) -> Self {
        Self { inner: Mutex::new(HashMap::new()), ttl, max_tasks: max_tasks.max(1) }
    }

    /// Number of tasks currently held (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means another thread panicked mid-operation; the map itself
        // is always left consistent by our single-statement mutations.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.touched) > self.ttl
    }

    fn save_sync(&self, record: TaskRecord) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut map = self.lock();
        if !map.contains_key(&record.task.id) && map.len() >= self.max_tasks {
            map.retain(|_, e| now.duration_since(e.touched) <= self.ttl);
            if map.len() >= self.max_tasks {
                // Evict the oldest terminal tasks in a batch (1/16 of capacity) so that a
                // store at capacity pays the O(n) scan once per batch, not once per insert.
                let mut terminal: Vec<(Instant, String)> = map
                    .iter()
                    .filter(|(_, e)| e.record.task.status.state.is_terminal())
                    .map(|(k, e)| (e.touched, k.clone()))
                    .collect();
                if terminal.is_empty() {
                    return Err(StoreError::Full(map.len()));
                }
                let batch = (self.max_tasks / 16).max(1).min(terminal.len());
                terminal.select_nth_unstable_by_key(batch - 1, |(t, _)| *t);
                for (_, k) in terminal.into_iter().take(batch) {
                    map.remove(&k);
                }
            }
        }
        map.insert(record.task.id.clone(), Entry { record, touched: now });
        Ok(())
    }

    fn load_sync(&self, id: &str) -> Option<TaskRecord> {
        let now = Instant::now();
        let mut map = self.lock();
        match map.get(id) {
            Some(e) if self.expired(e, now) => {
                map.remove(id);
                None
            }
            Some(e) => Some(e.record.clone()),
            None => None,
        }
    }

    fn list_sync(&self, q: &TaskQuery) -> Vec<TaskRecord> {
        let now = Instant::now();
        let map = self.lock();
        let mut out: Vec<TaskRecord> = map
            .values()
            .filter(|e| !self.expired(e, now))
            .map(|e| &e.record)
            .filter(|r| q.owner.as_ref().is_none_or(|o| *o == r.owner))
            .filter(|r| q.context_id.as_deref().is_none_or(|c| c == r.task.context_id))
            .filter(|r| q.state.is_none_or(|s| s == r.task.status.state))
            .filter(|r| {
                q.updated_after
                    .is_none_or(|after| r.task.status.timestamp.is_some_and(|t| t > after))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            let ta = a.task.status.timestamp.map(|t| t.unix_millis());
            let tb = b.task.status.timestamp.map(|t| t.unix_millis());
            tb.cmp(&ta).then_with(|| a.task.id.cmp(&b.task.id))
        });
        out
    }
}

impl TaskStore for InMemoryTaskStore {
    fn load(&self, id: &str) -> BoxFuture<'_, Result<Option<TaskRecord>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.load_sync(id))))
    }

    fn save(&self, record: TaskRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(std::future::ready(self.save_sync(record)))
    }

    fn list(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, StoreError>> {
        Box::pin(std::future::ready(Ok(self.list_sync(&query))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TaskStatus;

    fn rec(id: &str, state: TaskState) -> TaskRecord {
        TaskRecord {
            task: Task {
                id: id.into(),
                context_id: "c".into(),
                status: TaskStatus::new(state),
                artifacts: vec![],
                history: vec![],
                metadata: None,
            },
            owner: CallerIdentity::Anonymous,
        }
    }

    #[tokio::test]
    async fn bounded_evicts_terminal_then_refuses() {
        let s = InMemoryTaskStore::new(Duration::from_secs(60), 2);
        s.save(rec("a", TaskState::Completed)).await.unwrap();
        s.save(rec("b", TaskState::Working)).await.unwrap();
        s.save(rec("c", TaskState::Working)).await.unwrap();
        assert!(s.load("a").await.unwrap().is_none(), "terminal task evicted first");
        assert_eq!(s.save(rec("d", TaskState::Working)).await, Err(StoreError::Full(2)));
        // Updating an existing task is always possible.
        s.save(rec("b", TaskState::Completed)).await.unwrap();
    }

    #[tokio::test]
    async fn expired_tasks_vanish() {
        let s = InMemoryTaskStore::new(Duration::ZERO, 10);
        s.save(rec("a", TaskState::Working)).await.unwrap();
        std::thread::sleep(Duration::from_millis(2));
        assert!(s.load("a").await.unwrap().is_none());
        assert!(s.list(TaskQuery::default()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn list_filters_by_owner_context_and_state() {
        let s = InMemoryTaskStore::default();
        let mut mine = rec("m", TaskState::Working);
        mine.owner = CallerIdentity::Named("me".into());
        s.save(mine).await.unwrap();
        s.save(rec("x", TaskState::Completed)).await.unwrap();
        let q = TaskQuery { owner: Some(CallerIdentity::Named("me".into())), ..Default::default() };
        let got = s.list(q).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].task.id, "m");
        let q = TaskQuery { state: Some(TaskState::Completed), ..Default::default() };
        assert_eq!(s.list(q).await.unwrap()[0].task.id, "x");
        let q = TaskQuery { context_id: Some("other".into()), ..Default::default() };
        assert!(s.list(q).await.unwrap().is_empty());
    }
}

//! GetTask, ListTasks, CancelTask, SubscribeToTask and GetExtendedAgentCard.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt as _;
use futures::stream::BoxStream;

use super::core::{CallContext, Core, LiveEvent, store_err};
use super::send::live_stream;
use super::store::TaskQuery;
use crate::error::{A2aError, ErrorKind};
use crate::method::A2aMethod;
use crate::types::{
    AgentCard, CancelTaskRequest, GetTaskRequest, ListTasksRequest, ListTasksResponse,
    StreamResponse, SubscribeToTaskRequest, Task, TaskState, TaskStatus, TaskStatusUpdateEvent,
};

/// Default `ListTasks` page size.
pub const DEFAULT_PAGE_SIZE: i32 = 50;
/// Largest `ListTasks` page size.
pub const MAX_PAGE_SIZE: i32 = 100;

fn encode_cursor(task: &Task) -> String {
    let ts = task.status.timestamp.map(|t| t.unix_millis()).unwrap_or(i128::MIN);
    URL_SAFE_NO_PAD.encode(format!("{ts}|{}", task.id))
}

fn decode_cursor(token: &str) -> Result<(i128, String), A2aError> {
    let bad = || A2aError::invalid_params("pageToken", "not a token returned by this server");
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.to_owned()))
}

fn subscription_ends(item: &StreamResponse) -> bool {
    match item {
        StreamResponse::Task(t) => t.status.state.is_terminal(),
        StreamResponse::StatusUpdate(e) => e.status.state.is_terminal(),
        _ => false,
    }
}

impl Core {
    pub(crate) async fn get_task(
        &self,
        call: &CallContext,
        req: GetTaskRequest,
    ) -> Result<Task, A2aError> {
        if req.history_length.is_some_and(|h| h < 0) {
            return Err(A2aError::invalid_params("historyLength", "must not be negative"));
        }
        let mut task = self.load_authorized(call, A2aMethod::GetTask, &req.id, None).await?.task;
        task.truncate_history(req.history_length);
        Ok(task)
    }

    pub(crate) async fn list_tasks(
        &self,
        call: &CallContext,
        req: ListTasksRequest,
    ) -> Result<ListTasksResponse, A2aError> {
        let page_size = req.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(A2aError::invalid_params(
                "pageSize",
                format!("must be between 1 and {MAX_PAGE_SIZE} inclusive, got {page_size}"),
            ));
        }
        if req.history_length.is_some_and(|h| h < 0) {
            return Err(A2aError::invalid_params("historyLength", "must not be negative"));
        }
        let cursor =
            if req.page_token.is_empty() { None } else { Some(decode_cursor(&req.page_token)?) };
        self.authorize_method(call, A2aMethod::ListTasks).await?;
        let owner =
            if self.authz.list_all_tasks(&call.caller) { None } else { Some(call.caller.clone()) };
        let query = TaskQuery {
            owner,
            context_id: (!req.context_id.is_empty()).then(|| req.context_id.clone()),
            state: (req.status != TaskState::Unspecified).then_some(req.status),
            updated_after: req.status_timestamp_after,
        };
        let all = self.store.list(query).await.map_err(store_err)?;
        let total = i32::try_from(all.len()).unwrap_or(i32::MAX);
        let start = match &cursor {
            None => 0,
            Some((ts, id)) => all
                .iter()
                .position(|r| {
                    let t = r.task.status.timestamp.map(|t| t.unix_millis()).unwrap_or(i128::MIN);
                    t < *ts || (t == *ts && r.task.id > *id)
                })
                .unwrap_or(all.len()),
        };
        let take = usize::try_from(page_size).unwrap_or(50);
        let include_artifacts = req.include_artifacts.unwrap_or(false);
        let page: Vec<Task> = all
            .iter()
            .skip(start)
            .take(take)
            .map(|r| {
                let mut t = r.task.clone();
                t.truncate_history(req.history_length);
                if !include_artifacts {
                    t.artifacts.clear();
                }
                t
            })
            .collect();
        let next_page_token = match page.last() {
            Some(last) if start + page.len() < all.len() => encode_cursor(last),
            _ => String::new(),
        };
        Ok(ListTasksResponse { tasks: page, next_page_token, page_size, total_size: total })
    }

    pub(crate) async fn cancel_task(
        self: &Arc<Self>,
        call: &CallContext,
        req: CancelTaskRequest,
    ) -> Result<Task, A2aError> {
        let lock = self.task_lock(&req.id);
        let guard = lock.lock().await;
        let mut rec = self.load_authorized(call, A2aMethod::CancelTask, &req.id, None).await?;
        let state = rec.task.status.state;
        if state.is_terminal() {
            return Err(A2aError::new(
                ErrorKind::TaskNotCancelable,
                format!("task `{}` is already {state} and cannot be canceled", req.id),
            )
            .with_meta("taskId", req.id.clone())
            .with_meta("state", state.as_str()));
        }
        rec.task.status = TaskStatus::new(TaskState::Canceled);
        let task = rec.task.clone();
        self.store.save(rec).await.map_err(store_err)?;
        let item = StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
            task_id: task.id.clone(),
            context_id: task.context_id.clone(),
            status: task.status.clone(),
            metadata: None,
        });
        self.notify_push(&item);
        if let Some(live) = self.live_get(&task.id) {
            let _ = live.tx.send(LiveEvent::Item(Arc::new(item)));
            live.cancel.send_replace(true);
        }
        drop(guard);
        tokio::spawn(self.executor.on_cancel(&task.id));
        Ok(task)
    }

    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        call: &CallContext,
        req: SubscribeToTaskRequest,
    ) -> Result<BoxStream<'static, StreamResponse>, A2aError> {
        if !self.streaming_enabled() {
            return Err(A2aError::unsupported("streaming is not supported by this agent"));
        }
        // Snapshot and subscription under the task lock: no event can fall between them.
        let lock = self.task_lock(&req.id);
        let guard = lock.lock().await;
        let rec = self.load_authorized(call, A2aMethod::SubscribeToTask, &req.id, None).await?;
        if rec.task.status.state.is_terminal() {
            return Err(A2aError::unsupported(format!(
                "task `{}` is in terminal state {}; nothing to subscribe to",
                req.id, rec.task.status.state
            ))
            .with_meta("taskId", req.id.clone()));
        }
        let rx = self.live_get_or_create(&req.id).tx.subscribe();
        drop(guard);
        let first = futures::stream::once(std::future::ready(StreamResponse::Task(rec.task)));
        let rest = live_stream(self.clone(), req.id, rx, subscription_ends, false);
        Ok(first.chain(rest).boxed())
    }

    pub(crate) async fn extended_card(&self, call: &CallContext) -> Result<AgentCard, A2aError> {
        self.authorize_method(call, A2aMethod::GetExtendedAgentCard).await?;
        if self.cfg.card.capabilities.extended_agent_card != Some(true) {
            return Err(A2aError::unsupported("this agent does not offer an extended agent card"));
        }
        self.cfg.extended_card.clone().ok_or_else(|| {
            A2aError::new(
                ErrorKind::ExtendedAgentCardNotConfigured,
                "the extended agent card is declared but not configured",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let t = Task {
            id: "abc".into(),
            context_id: String::new(),
            status: TaskStatus::new(TaskState::Working),
            artifacts: vec![],
            history: vec![],
            metadata: None,
        };
        let (ts, id) = decode_cursor(&encode_cursor(&t)).unwrap();
        assert_eq!(id, "abc");
        assert_eq!(Some(ts), t.status.timestamp.map(|x| x.unix_millis()));
        for bad in ["!!", "bm9waXBl", ""] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}

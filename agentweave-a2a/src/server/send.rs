//! SendMessage and SendStreamingMessage: validation, executor runs and event processing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::sync::{broadcast, mpsc};

use super::core::{CallContext, Core, LiveEvent, store_err};
use super::executor::{EventSink, ExecutorEvent, RequestContext};
use super::lifecycle::check_transition;
use super::push::{deliver, notification_body};
use super::store::TaskRecord;
use crate::error::{A2aError, ErrorKind};
use crate::method::A2aMethod;
use crate::types::{
    Artifact, Message, Role, SendMessageRequest, SendMessageResponse, StreamResponse, Task,
    TaskArtifactUpdateEvent, TaskState, TaskStatus, TaskStatusUpdateEvent,
};

/// Capacity of the executor → processor queue (back-pressure on chatty executors).
const EVENT_QUEUE: usize = 64;

/// How a send waits for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendMode {
    Blocking,
    ReturnImmediately,
    Streaming,
}

pub(crate) enum SendOutcome {
    Reply(Box<SendMessageResponse>),
    Stream(BoxStream<'static, StreamResponse>),
}

fn media_type_accepted(modes: &[String], media_type: &str) -> bool {
    if media_type.is_empty() || modes.is_empty() {
        return true;
    }
    let essence = |m: &str| m.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let want = essence(media_type);
    let (want_type, _) = want.split_once('/').unwrap_or((want.as_str(), ""));
    modes.iter().map(|m| essence(m)).any(|m| {
        m == want
            || m == "*/*"
            || m == want_type
            || m.strip_suffix("/*").is_some_and(|t| t == want_type)
    })
}

impl Core {
    fn validate_send(&self, call: &CallContext, req: &SendMessageRequest) -> Result<(), A2aError> {
        let m = &req.message;
        if m.message_id.trim().is_empty() {
            return Err(A2aError::invalid_params("message.messageId", "must not be empty"));
        }
        if m.role != Role::User {
            return Err(A2aError::invalid_params(
                "message.role",
                format!("a client message must have role ROLE_USER, got {}", m.role),
            ));
        }
        if m.parts.is_empty() {
            return Err(A2aError::invalid_params("message.parts", "at least one part is required"));
        }
        if let Some(cfg) = &req.configuration
            && cfg.history_length.is_some_and(|h| h < 0)
        {
            return Err(A2aError::invalid_params(
                "configuration.historyLength",
                "must not be negative",
            ));
        }
        for (i, p) in m.parts.iter().enumerate() {
            if !media_type_accepted(&self.cfg.card.default_input_modes, &p.media_type) {
                return Err(A2aError::new(
                    ErrorKind::ContentTypeNotSupported,
                    format!(
                        "message.parts[{i}].mediaType `{}` is not accepted by this agent",
                        p.media_type
                    ),
                )
                .with_meta("mediaType", p.media_type.clone()));
            }
        }
        for ext in self.cfg.card.capabilities.extensions.iter().filter(|e| e.required) {
            if !call.extensions.contains(&ext.uri) {
                return Err(A2aError::new(
                    ErrorKind::ExtensionSupportRequired,
                    format!("extension `{}` is required; declare it in A2A-Extensions", ext.uri),
                )
                .with_meta("extension", ext.uri.clone()));
            }
        }
        Ok(())
    }

    /// Handles both send methods.
    pub(crate) async fn send(
        self: &Arc<Self>,
        call: &CallContext,
        req: SendMessageRequest,
        mode: SendMode,
    ) -> Result<SendOutcome, A2aError> {
        let method = if mode == SendMode::Streaming {
            if !self.streaming_enabled() {
                return Err(A2aError::unsupported("streaming is not supported by this agent"));
            }
            A2aMethod::SendStreamingMessage
        } else {
            A2aMethod::SendMessage
        };
        self.validate_send(call, &req)?;
        let push_config =
            req.configuration.as_ref().and_then(|c| c.task_push_notification_config.clone());
        if push_config.is_some() && !self.push_enabled() {
            return Err(A2aError::new(
                ErrorKind::PushNotificationNotSupported,
                "push notifications are not supported by this agent",
            ));
        }
        let history_length = req.configuration.as_ref().and_then(|c| c.history_length);
        let mode = if mode == SendMode::Blocking
            && req.configuration.as_ref().is_some_and(|c| c.return_immediately)
        {
            SendMode::ReturnImmediately
        } else {
            mode
        };
        let mut message = req.message;

        // Resolve the task: continue an existing one or mint a new one.
        let (task_id, context_id, existing, lock_guard) = if message.task_id.is_empty() {
            match self.authorize(call, method, None, None, Some(&message)).await? {
                super::authz::AuthzDecision::Allow => {}
                super::authz::AuthzDecision::Deny { .. } => {
                    return Err(A2aError::new(
                        ErrorKind::PermissionDenied,
                        format!("caller is not allowed to call {method}"),
                    ));
                }
            }
            let ctx = if message.context_id.is_empty() {
                uuid::Uuid::new_v4().to_string()
            } else {
                message.context_id.clone()
            };
            (uuid::Uuid::new_v4().to_string(), ctx, None, None)
        } else {
            let tid = message.task_id.clone();
            let lock = self.task_lock(&tid);
            let guard = lock.clone().lock_owned().await;
            let rec = self.load_authorized(call, method, &tid, Some(&message)).await?;
            if rec.task.status.state.is_terminal() {
                return Err(A2aError::unsupported(format!(
                    "task `{tid}` is in terminal state {} and accepts no further messages",
                    rec.task.status.state
                ))
                .with_meta("taskId", tid));
            }
            if !message.context_id.is_empty() && message.context_id != rec.task.context_id {
                return Err(A2aError::invalid_params(
                    "message.contextId",
                    format!("`{}` does not match the context of task `{tid}`", message.context_id),
                ));
            }
            let ctx = rec.task.context_id.clone();
            (tid, ctx, Some(rec), Some(guard))
        };
        message.task_id = task_id.clone();
        message.context_id = context_id.clone();

        if let Some(mut cfg) = push_config {
            cfg.task_id = task_id.clone();
            self.register_push_config(cfg).await?;
        }

        let live = self.live_get_or_create(&task_id);
        if live.running.swap(true, Ordering::AcqRel) {
            return Err(A2aError::unsupported(format!(
                "task `{task_id}` is still processing a previous message"
            ))
            .with_meta("taskId", task_id));
        }
        let rx = live.tx.subscribe();

        // A continued task records the new message and announces its snapshot first.
        let existing_task = match existing {
            Some(mut rec) => {
                rec.task.history.push(message.clone());
                let snapshot = rec.task.clone();
                if let Err(e) = self.store.save(rec).await {
                    live.running.store(false, Ordering::Release);
                    return Err(store_err(e));
                }
                let _ =
                    live.tx.send(LiveEvent::Item(Arc::new(StreamResponse::Task(snapshot.clone()))));
                Some(snapshot)
            }
            None => None,
        };
        drop(lock_guard);

        let (tx, events) = mpsc::channel(EVENT_QUEUE);
        let sink = EventSink::new(tx, task_id.clone(), context_id.clone());
        let ctx = RequestContext {
            caller: call.caller.clone(),
            message: message.clone(),
            task_id: task_id.clone(),
            context_id: context_id.clone(),
            task: existing_task.clone(),
            configuration: req.configuration,
            extensions: call.extensions.clone(),
            cancel: live.cancel.subscribe(),
        };
        let run = tokio::spawn(self.executor.execute(ctx, sink));
        let proc = Processor {
            core: self.clone(),
            live: live.clone(),
            task_id: task_id.clone(),
            context_id,
            owner: call.caller.clone(),
            user_message: message,
            created: existing_task.is_some(),
            replied: false,
            terminal: false,
        };
        tokio::spawn(proc.run(events, run));

        match mode {
            SendMode::Streaming => Ok(SendOutcome::Stream(self.clone().send_stream(task_id, rx))),
            SendMode::Blocking | SendMode::ReturnImmediately => self
                .wait_reply(&task_id, rx, mode, history_length)
                .await
                .map(|r| SendOutcome::Reply(Box::new(r))),
        }
    }

    async fn wait_reply(
        &self,
        task_id: &str,
        mut rx: broadcast::Receiver<LiveEvent>,
        mode: SendMode,
        history_length: Option<i32>,
    ) -> Result<SendMessageResponse, A2aError> {
        let wait = async {
            loop {
                match rx.recv().await {
                    Ok(LiveEvent::Item(item)) => {
                        if let StreamResponse::Message(_) = &*item {
                            if let StreamResponse::Message(m) = Arc::unwrap_or_clone(item) {
                                return Some(m);
                            }
                        } else if mode == SendMode::ReturnImmediately || item_ends_send(&item) {
                            return None;
                        }
                    }
                    Ok(LiveEvent::RunEnded) | Err(broadcast::error::RecvError::Closed) => {
                        return None;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                }
            }
        };
        let message = tokio::time::timeout(self.cfg.blocking_timeout, wait).await.ok().flatten();
        if let Some(m) = message {
            return Ok(SendMessageResponse::Message(m));
        }
        let rec = self.store.load(task_id).await.map_err(store_err)?;
        let mut task = rec.map(|r| r.task).ok_or_else(|| {
            A2aError::new(
                ErrorKind::InvalidAgentResponse,
                "the agent produced neither a task nor a message",
            )
        })?;
        task.truncate_history(history_length);
        Ok(SendMessageResponse::Task(task))
    }

    fn send_stream(
        self: Arc<Self>,
        task_id: String,
        rx: broadcast::Receiver<LiveEvent>,
    ) -> BoxStream<'static, StreamResponse> {
        live_stream(self, task_id, rx, item_ends_send, true).boxed()
    }

    /// Queues an item for the task's webhooks (in order, on one worker per task).
    pub(crate) fn notify_push(self: &Arc<Self>, item: &StreamResponse) {
        let Some(task_id) = item.task_id().map(str::to_owned) else { return };
        if self.push_configs.list(&task_id).is_empty() {
            return;
        }
        let final_item =
            matches!(item, StreamResponse::StatusUpdate(e) if e.status.state.is_terminal());
        let mut queues = self.push_queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let sender = queues
            .entry(task_id.clone())
            .or_insert_with(|| {
                let (tx, mut rx) = mpsc::channel::<StreamResponse>(256);
                let core = self.clone();
                let tid = task_id.clone();
                tokio::spawn(async move {
                    while let Some(item) = rx.recv().await {
                        let Some(body) = notification_body(&item) else { continue };
                        for cfg in core.push_configs.list(&tid) {
                            if let Err(e) = deliver(&cfg, body.clone(), &core.cfg.push).await {
                                tracing::warn!(task = %tid, url = %cfg.url, error = %e, "push notification dropped");
                            }
                        }
                    }
                });
                tx
            })
            .clone();
        if sender.try_send(item.clone()).is_err() {
            tracing::warn!(task = %task_id, "push queue full; notification dropped");
        }
        if final_item {
            queues.remove(&task_id);
        }
    }
}

/// A send stream closes after a message or when the task reaches a terminal or interrupted
/// state (a task snapshot only closes it when terminal).
fn item_ends_send(item: &StreamResponse) -> bool {
    match item {
        StreamResponse::Message(_) => true,
        StreamResponse::Task(t) => t.status.state.is_terminal(),
        StreamResponse::StatusUpdate(e) => {
            e.status.state.is_terminal() || e.status.state.is_interrupted()
        }
        _ => false,
    }
}

/// Streams a task's live events until `ends` says stop, the run ends, or the channel closes.
/// A lagging receiver gets a fresh snapshot from the store in place of the missed events.
pub(crate) fn live_stream(
    core: Arc<Core>,
    task_id: String,
    rx: broadcast::Receiver<LiveEvent>,
    ends: fn(&StreamResponse) -> bool,
    end_with_run: bool,
) -> impl futures::Stream<Item = StreamResponse> + Send + 'static {
    futures::stream::unfold(Some((core, task_id, rx)), move |state| async move {
        let (core, task_id, mut rx) = state?;
        loop {
            match rx.recv().await {
                Ok(LiveEvent::Item(item)) => {
                    let item = Arc::unwrap_or_clone(item);
                    let next = if ends(&item) { None } else { Some((core, task_id, rx)) };
                    return Some((item, next));
                }
                Ok(LiveEvent::RunEnded) => {
                    // A send stream ends with its run; subscribers keep waiting for the task.
                    if end_with_run {
                        return None;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(task = %task_id, missed = n, "stream lagged; sending a snapshot");
                    if let Ok(Some(rec)) = core.store.load(&task_id).await {
                        let item = StreamResponse::Task(rec.task);
                        let next = if ends(&item) { None } else { Some((core, task_id, rx)) };
                        return Some((item, next));
                    }
                }
            }
        }
    })
}

/// Applies one executor run's events to its task, in order.
struct Processor {
    core: Arc<Core>,
    live: Arc<super::core::Live>,
    task_id: String,
    context_id: String,
    owner: super::identity::CallerIdentity,
    user_message: Message,
    created: bool,
    replied: bool,
    /// This run stored a terminal state: nothing can change the task any more, so the end of
    /// the run needs no second look at it.
    terminal: bool,
}

impl Processor {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<ExecutorEvent>,
        run: tokio::task::JoinHandle<Result<(), super::executor::ExecutorError>>,
    ) {
        while let Some(ev) = events.recv().await {
            self.apply(ev).await;
        }
        let failure = match run.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("the agent failed: {e}")),
            Err(e) => {
                tracing::error!(task = %self.task_id, error = %e, "executor panicked or was aborted");
                Some("the agent failed unexpectedly".to_owned())
            }
        };
        self.finish(failure).await;
        self.live.running.store(false, Ordering::Release);
        let _ = self.live.tx.send(LiveEvent::RunEnded);
        self.core.live_release(&self.task_id);
    }

    /// Ends the run: a task left neither terminal nor interrupted is failed, since nothing
    /// can update it any more.
    async fn finish(&mut self, failure: Option<String>) {
        if self.replied || self.terminal {
            return;
        }
        let lock = self.core.task_lock(&self.task_id);
        let _g = lock.lock().await;
        let current = match self.load().await {
            Some(t) => Some(t.status.state),
            None => None,
        };
        let needs_fail = match current {
            None => true,
            Some(s) => !(s.is_terminal() || (s.is_interrupted() && failure.is_none())),
        };
        if needs_fail {
            let text =
                failure.unwrap_or_else(|| "the agent ended without a final task state".to_owned());
            let msg = Message::agent(vec![crate::types::Part::text(text)])
                .for_task(self.task_id.clone())
                .in_context(self.context_id.clone());
            self.apply_locked(ExecutorEvent::Status {
                state: TaskState::Failed,
                message: Some(msg),
            })
            .await;
        }
    }

    async fn load(&self) -> Option<Task> {
        match self.core.store.load(&self.task_id).await {
            Ok(r) => r.map(|r| r.task),
            Err(e) => {
                tracing::error!(task = %self.task_id, error = %e, "task store failure");
                None
            }
        }
    }

    async fn apply(&mut self, ev: ExecutorEvent) {
        let lock = self.core.task_lock(&self.task_id);
        let _g = lock.lock().await;
        self.apply_locked(ev).await;
    }

    fn publish(&self, item: StreamResponse) {
        self.core.notify_push(&item);
        let _ = self.live.tx.send(LiveEvent::Item(Arc::new(item)));
    }

    async fn save(&self, task: &Task) -> bool {
        let rec = TaskRecord { task: task.clone(), owner: self.owner.clone() };
        match self.core.store.save(rec).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(task = %self.task_id, error = %e, "task update not stored");
                false
            }
        }
    }

    async fn apply_locked(&mut self, ev: ExecutorEvent) {
        if self.replied {
            tracing::warn!(task = %self.task_id, "event after a direct message reply ignored");
            return;
        }
        if let ExecutorEvent::Message(mut m) = ev {
            if self.created {
                tracing::warn!(task = %self.task_id, "direct reply on an existing task ignored; use a status message");
                return;
            }
            m.role = Role::Agent;
            if m.context_id.is_empty() {
                m.context_id = self.context_id.clone();
            }
            self.replied = true;
            self.publish(StreamResponse::Message(m));
            return;
        }
        let mut task = if self.created {
            match self.load().await {
                Some(t) => t,
                None => return,
            }
        } else {
            let t = Task {
                id: self.task_id.clone(),
                context_id: self.context_id.clone(),
                status: TaskStatus::new(TaskState::Submitted),
                artifacts: Vec::new(),
                history: vec![self.user_message.clone()],
                metadata: None,
            };
            if !self.save(&t).await {
                return;
            }
            self.created = true;
            self.publish(StreamResponse::Task(t.clone()));
            t
        };
        match ev {
            ExecutorEvent::Status { state, message } => {
                if let Err(e) = check_transition(task.status.state, state) {
                    tracing::warn!(task = %self.task_id, error = %e, "status update refused");
                    return;
                }
                let message = message.map(|mut m| {
                    m.task_id = self.task_id.clone();
                    m.context_id = self.context_id.clone();
                    m
                });
                if let Some(m) = &message {
                    task.history.push(m.clone());
                }
                task.status =
                    TaskStatus { state, message, timestamp: Some(crate::types::Timestamp::now()) };
                if self.save(&task).await {
                    self.terminal = state.is_terminal();
                    self.publish(StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
                        task_id: self.task_id.clone(),
                        context_id: self.context_id.clone(),
                        status: task.status.clone(),
                        metadata: None,
                    }));
                }
            }
            ExecutorEvent::Artifact { artifact, append, last_chunk } => {
                if task.status.state.is_terminal() {
                    tracing::warn!(task = %self.task_id, "artifact after terminal state ignored");
                    return;
                }
                merge_artifact(&mut task.artifacts, artifact.clone(), append);
                if self.save(&task).await {
                    self.publish(StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
                        task_id: self.task_id.clone(),
                        context_id: self.context_id.clone(),
                        artifact,
                        append,
                        last_chunk,
                        metadata: None,
                    }));
                }
            }
            ExecutorEvent::Message(_) => {}
        }
    }
}

fn merge_artifact(artifacts: &mut Vec<Artifact>, artifact: Artifact, append: bool) {
    match artifacts.iter_mut().find(|a| a.artifact_id == artifact.artifact_id) {
        Some(existing) if append => existing.parts.extend(artifact.parts),
        Some(existing) => *existing = artifact,
        None => artifacts.push(artifact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Part;

    #[test]
    fn media_type_matching() {
        let modes = vec!["text/plain".to_owned(), "image/*".to_owned()];
        let cases = [
            ("", true),
            ("text/plain", true),
            ("text/plain; charset=utf-8", true),
            ("TEXT/PLAIN", true),
            ("image/png", true),
            ("application/pdf", false),
            ("text/html", false),
        ];
        for (mt, ok) in cases {
            assert_eq!(media_type_accepted(&modes, mt), ok, "{mt}");
        }
        assert!(media_type_accepted(&["text".to_owned()], "text/plain"));
        assert!(media_type_accepted(&[], "application/pdf"));
    }

    #[test]
    fn artifacts_append_or_replace() {
        let mut list = vec![];
        merge_artifact(&mut list, Artifact::new(vec![Part::text("a")]).with_id("x"), true);
        merge_artifact(&mut list, Artifact::new(vec![Part::text("b")]).with_id("x"), true);
        assert_eq!(list[0].parts.len(), 2);
        merge_artifact(&mut list, Artifact::new(vec![Part::text("c")]).with_id("x"), false);
        assert_eq!(list[0].parts, vec![Part::text("c")]);
    }
}

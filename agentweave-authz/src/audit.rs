//! Audit: one JSON line per decision, cache hits and faults included.
//!
//! [`AuditedEnforcer`] wraps any [`PolicyEnforcer`], so every provider is audited the same way.
//! Lines are serialised on the deciding thread and handed over a bounded queue to one writer
//! thread per [`AuditLog`], which batches them into the sink (stdout, an append-only file, or any
//! writer) and flushes as configured.
//!
//! The writer does not wake for every record: after the first record of a batch arrives it
//! waits [`AuditConfig::batch_window`] (1 ms by default) so that the records of concurrent
//! decisions arrive meanwhile, then writes them in one system call. Deciders thus queue a record
//! without a cross-thread wake-up in the common case, and a busy agent pays one wake-up and one
//! `write` per window rather than per decision. A record reaches the sink at most one window
//! later than without batching, and [`AuditLog::flush`] returns at most one window later;
//! [`FlushPolicy::EveryRecord`] has no window (each record is written and flushed as it
//! arrives). The window only delays records in memory, as the queue always did: `Wait` and
//! `Deny` behave as before, and a queue of [`AuditConfig::queue_capacity`] records does not fill
//! within a window at any realistic decision rate.
//!
//! No record is dropped silently. When the queue is full or the sink fails, the configured
//! [`OnAuditFailure`] applies: `Wait` holds the decision until the record is queued
//! (backpressure; a failing sink is retried with backoff, the record is never discarded), `Deny`
//! turns the decision into a denial at once. Either way a counter in [`AuditStats`] says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agentweave_identity::SpiffeId;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::decision::{AuditId, AuthzDecision, DecisionSource};
use crate::enforcer::{DecisionFuture, PolicyEnforcer};
use crate::error::AuthzError;
use crate::input::{Direction, PolicyInput};

/// One audit line.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    /// RFC 3339 UTC time of the decision.
    pub time: String,
    /// The decision's ID.
    pub audit_id: &'a AuditId,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The caller's SPIFFE ID.
    pub caller: &'a SpiffeId,
    /// The callee's SPIFFE ID.
    pub callee: &'a SpiffeId,
    /// The action decided.
    pub action: &'a str,
    /// The A2A method, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a2a_method: Option<&'a str>,
    /// Allowed?
    pub allowed: bool,
    /// Why.
    pub reason: &'a str,
    /// The policy version.
    pub policy_id: &'a str,
    /// Policy, cache, fault or danger.
    pub source: DecisionSource,
    /// How long the decision took, in nanoseconds (integers keep the field exact).
    pub latency_ns: u64,
    /// The trace ID, when the request carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<&'a str>,
}

impl<'a> AuditRecord<'a> {
    /// The record of `decision` on `input`, taken `latency` to decide.
    pub fn new(input: &'a PolicyInput, decision: &'a AuthzDecision, latency: Duration) -> Self {
        let time = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| String::from("unknown"));
        Self {
            time,
            audit_id: &decision.audit_id,
            direction: input.direction(),
            caller: input.caller(),
            callee: input.callee(),
            action: input.action(),
            a2a_method: input.context().a2a_method.as_deref(),
            allowed: decision.allowed,
            reason: &decision.reason,
            policy_id: &decision.policy_id,
            source: decision.source,
            latency_ns: u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX),
            trace_id: input.context().trace_id.as_deref(),
        }
    }
}

/// Where audit lines go.
#[non_exhaustive]
pub enum AuditSink {
    /// Standard output (a log collector picks it up).
    Stdout,
    /// A file opened for append (created if missing); never truncated.
    File(PathBuf),
    /// Any writer (tests, custom transports).
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdout => f.write_str("Stdout"),
            Self::File(path) => write!(f, "File({})", path.display()),
            Self::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// When the writer flushes the sink.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// After every line: nothing is lost on a crash; slowest.
    EveryRecord,
    /// Whenever the queue runs empty (a burst is written, then flushed): the default.
    WhenIdle,
    /// At most this long after a line was written (and when the queue runs empty after it).
    Interval(Duration),
}

/// What a decision does when its record cannot be queued or the sink is failing.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAuditFailure {
    /// Wait until the record is queued (backpressure). The default.
    Wait,
    /// Deny the request at once.
    Deny,
}

/// Audit settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// Records queued between deciders and the writer.
    pub queue_capacity: usize,
    /// How long the writer lets records gather after the first record of a batch arrives,
    /// before it writes the batch (ignored with [`FlushPolicy::EveryRecord`]). Zero writes each
    /// wake-up's records at once (one wake-up per record under light load). At most
    /// [`MAX_BATCH_WINDOW`]. Default: 1 ms.
    pub batch_window: Duration,
    /// When to flush.
    pub flush: FlushPolicy,
    /// Full queue or failing sink.
    pub on_failure: OnAuditFailure,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 8192,
            batch_window: Duration::from_millis(1),
            flush: FlushPolicy::WhenIdle,
            on_failure: OnAuditFailure::Wait,
        }
    }
}

/// Upper bound of [`AuditConfig::batch_window`]: a longer window would hold records (and
/// [`AuditLog::flush`] callers) back for no measurable gain.
pub const MAX_BATCH_WINDOW: Duration = Duration::from_millis(100);

/// Audit counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStats {
    /// Lines written to the sink.
    pub written: u64,
    /// Decisions that waited for queue space (backpressure).
    pub waited: u64,
    /// Decisions denied because their record could not be queued (`Deny` mode or writer gone).
    pub denied_unaudited: u64,
    /// Sink write or flush errors (each retried).
    pub sink_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    waited: AtomicU64,
    denied_unaudited: AtomicU64,
    sink_errors: AtomicU64,
    /// Set while the sink is failing, cleared by the next successful write.
    failing: AtomicBool,
}

enum Message {
    Line(String),
    Flush(oneshot::Sender<()>),
}

/// A running audit log: a bounded queue and its writer thread. Cloning shares it.
///
/// The writer thread exits once every clone is dropped, after writing what is queued. Call
/// [`AuditLog::flush`] before shutdown to be sure everything reached the sink.
#[derive(Debug, Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Message>,
    counters: Arc<Counters>,
    on_failure: OnAuditFailure,
}

/// Why a record could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditUnavailable {
    /// The queue is full (the sink cannot keep up).
    #[error("audit queue full")]
    Saturated,
    /// The sink is failing.
    #[error("audit sink failing")]
    SinkFailing,
    /// The writer thread is gone.
    #[error("audit writer stopped")]
    Stopped,
}

impl AuditLog {
    /// Opens `sink` and starts the writer thread.
    pub fn start(sink: AuditSink, config: AuditConfig) -> Result<AuditLog, AuthzError> {
        if config.queue_capacity == 0 {
            return Err(AuthzError::Config {
                field: "audit.queue_capacity",
                message: "must be at least 1".into(),
            });
        }
        if config.batch_window > MAX_BATCH_WINDOW {
            return Err(AuthzError::Config {
                field: "audit.batch_window",
                message: format!(
                    "{:?} is longer than the {MAX_BATCH_WINDOW:?} maximum",
                    config.batch_window
                ),
            });
        }
        let (writer, label): (Box<dyn Write + Send>, String) = match sink {
            AuditSink::Stdout => (Box::new(std::io::stdout()), "stdout".into()),
            AuditSink::File(path) => (Box::new(open_append(&path)?), path.display().to_string()),
            AuditSink::Writer(writer) => (writer, "custom writer".into()),
        };
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("agentweave-audit".into())
            .spawn(move || write_loop(receiver, writer, config, &thread_counters, &label))
            .map_err(|source| AuthzError::Spawn { what: "audit writer", source })?;
        Ok(AuditLog { queue, counters, on_failure: config.on_failure })
    }

    /// Queues one line (without its newline) under the configured failure behaviour.
    pub async fn submit(&self, line: String) -> Result<(), AuditUnavailable> {
        let result = match self.on_failure {
            OnAuditFailure::Deny => {
                if self.counters.failing.load(Ordering::Acquire) {
                    Err(AuditUnavailable::SinkFailing)
                } else {
                    self.queue.try_send(Message::Line(line)).map_err(|e| match e {
                        mpsc::error::TrySendError::Full(_) => AuditUnavailable::Saturated,
                        mpsc::error::TrySendError::Closed(_) => AuditUnavailable::Stopped,
                    })
                }
            }
            OnAuditFailure::Wait => match self.queue.try_send(Message::Line(line)) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(message)) => {
                    self.counters.waited.fetch_add(1, Ordering::Relaxed);
                    self.queue.send(message).await.map_err(|_| AuditUnavailable::Stopped)
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(AuditUnavailable::Stopped),
            },
        };
        if result.is_err() {
            self.counters.denied_unaudited.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Waits until every line queued before this call is written and the sink flushed.
    pub async fn flush(&self) -> Result<(), AuditUnavailable> {
        let (done, wait) = oneshot::channel();
        self.queue.send(Message::Flush(done)).await.map_err(|_| AuditUnavailable::Stopped)?;
        wait.await.map_err(|_| AuditUnavailable::Stopped)
    }

    /// The counters.
    pub fn stats(&self) -> AuditStats {
        let c = &self.counters;
        AuditStats {
            written: c.written.load(Ordering::Relaxed),
            waited: c.waited.load(Ordering::Relaxed),
            denied_unaudited: c.denied_unaudited.load(Ordering::Relaxed),
            sink_errors: c.sink_errors.load(Ordering::Relaxed),
        }
    }
}

fn open_append(path: &Path) -> Result<std::fs::File, AuthzError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| AuthzError::AuditSink { path: path.to_owned(), source })
}

/// Writes `bytes` until it succeeds, backing off while the sink fails: a record is never dropped.
fn write_retrying(
    writer: &mut dyn Write,
    bytes: &[u8],
    flush: bool,
    counters: &Counters,
    label: &str,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let result =
            writer.write_all(bytes).and_then(|()| if flush { writer.flush() } else { Ok(()) });
        match result {
            Ok(()) => {
                counters.failing.store(false, Ordering::Release);
                return;
            }
            Err(error) => {
                counters.sink_errors.fetch_add(1, Ordering::Relaxed);
                if !counters.failing.swap(true, Ordering::AcqRel) {
                    tracing::error!(sink = %label, error = %error, "audit sink failing; retrying, records are held");
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The lines queued for one write, and how many there are: they are booked as written only once
/// the write is done, so the counter never runs ahead of the sink.
struct Batch {
    bytes: Vec<u8>,
    lines: u64,
}

impl Batch {
    fn push(&mut self, line: &str) {
        self.bytes.extend_from_slice(line.as_bytes());
        self.bytes.push(b'\n');
        self.lines += 1;
    }

    /// Writes the batch (flushing the sink too when `flush`), books its lines and empties it.
    fn write_out(&mut self, writer: &mut dyn Write, flush: bool, counters: &Counters, label: &str) {
        write_retrying(writer, &self.bytes, flush, counters, label);
        counters.written.fetch_add(self.lines, Ordering::Relaxed);
        self.bytes.clear();
        self.lines = 0;
    }
}

fn write_loop(
    mut receiver: mpsc::Receiver<Message>,
    mut writer: Box<dyn Write + Send>,
    config: AuditConfig,
    counters: &Counters,
    label: &str,
) {
    let policy = config.flush;
    // While the writer sleeps out the window it is not waiting on the queue, so deciders queue
    // their records without waking it.
    let window =
        if policy == FlushPolicy::EveryRecord { Duration::ZERO } else { config.batch_window };
    const BATCH_BYTES: usize = 64 * 1024;
    let mut batch = Batch { bytes: Vec::with_capacity(BATCH_BYTES * 2), lines: 0 };
    let mut unflushed_since: Option<Instant> = None;
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        // Block for the next message, except while an interval flush is pending: then poll, so
        // the flush happens on time even if no further record arrives.
        let first = match (policy, unflushed_since) {
            (FlushPolicy::Interval(every), Some(since)) => {
                let elapsed = since.elapsed();
                if elapsed >= every {
                    write_retrying(writer.as_mut(), &[], true, counters, label);
                    unflushed_since = None;
                    continue;
                }
                match receiver.try_recv() {
                    Ok(message) => message,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep((every - elapsed).min(Duration::from_millis(5)));
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            }
            _ => match receiver.blocking_recv() {
                Some(message @ Message::Line(_)) if !window.is_zero() => {
                    std::thread::sleep(window);
                    message
                }
                Some(message) => message,
                None => break,
            },
        };
        let mut next = Some(first);
        // Drain what is queued now, in batches, so a burst costs few system calls.
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    batch.push(&line);
                    let every_record = policy == FlushPolicy::EveryRecord;
                    if every_record || batch.bytes.len() >= BATCH_BYTES {
                        batch.write_out(writer.as_mut(), every_record, counters, label);
                        if !every_record {
                            unflushed_since.get_or_insert_with(Instant::now);
                        }
                    }
                }
                Message::Flush(done) => waiters.push(done),
            }
            next = receiver.try_recv().ok();
        }
        // The queue is empty: write the rest of the batch.
        if !batch.bytes.is_empty() {
            batch.write_out(writer.as_mut(), false, counters, label);
            unflushed_since.get_or_insert_with(Instant::now);
        }
        let due = match policy {
            FlushPolicy::EveryRecord | FlushPolicy::WhenIdle => unflushed_since.is_some(),
            FlushPolicy::Interval(every) => unflushed_since.is_some_and(|t| t.elapsed() >= every),
        };
        if due || !waiters.is_empty() {
            write_retrying(writer.as_mut(), &[], true, counters, label);
            unflushed_since = None;
            for waiter in waiters.drain(..) {
                let _receiver_gone = waiter.send(());
            }
        }
    }
    if unflushed_since.is_some() {
        write_retrying(writer.as_mut(), &[], true, counters, label);
    }
}

/// Wraps any enforcer and audits each of its decisions.
///
/// If the record cannot be queued (see [`OnAuditFailure`]), the decision becomes a denial whose
/// reason says so: an unaudited allow never leaves this layer.
#[derive(Debug, Clone)]
pub struct AuditedEnforcer<E> {
    inner: E,
    log: AuditLog,
}

impl<E: PolicyEnforcer> AuditedEnforcer<E> {
    /// Audits `inner` into `log`.
    pub fn new(inner: E, log: AuditLog) -> Self {
        Self { inner, log }
    }

    /// The wrapped enforcer.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// The audit log.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }
}

impl<E: PolicyEnforcer> PolicyEnforcer for AuditedEnforcer<E> {
    fn local_id(&self) -> &SpiffeId {
        self.inner.local_id()
    }

    fn decide<'a>(&'a self, input: &'a PolicyInput) -> DecisionFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let decision = self.inner.decide(input).await;
            let latency = started.elapsed();
            let line = match serde_json::to_string(&AuditRecord::new(input, &decision, latency)) {
                Ok(line) => line,
                Err(error) => {
                    return AuthzDecision::fault(
                        format!("audit record could not be encoded ({error}); denied"),
                        decision.policy_id,
                    );
                }
            };
            match self.log.submit(line).await {
                Ok(()) => decision,
                Err(why) => {
                    tracing::error!(audit_id = %decision.audit_id, reason = %why, "decision not audited: denied");
                    AuthzDecision {
                        allowed: false,
                        reason: Arc::from(format!(
                            "{why}: denied because the decision could not be audited"
                        )),
                        audit_id: decision.audit_id,
                        policy_id: decision.policy_id,
                        source: DecisionSource::Fault,
                    }
                }
            }
        })
    }
}

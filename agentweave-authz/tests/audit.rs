//! Audit completeness and failure behaviour.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use agentweave_authz::audit::{
    AuditConfig, AuditLog, AuditSink, AuditedEnforcer, FlushPolicy, OnAuditFailure,
};
use agentweave_authz::danger::AllowAllEnforcer;
use agentweave_authz::rego::{RegoConfig, RegoEnforcer};
use agentweave_authz::{
    AuthzContext, CacheConfig, DecisionSource, PolicyEnforcer, SpiffeId, starter,
};

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

#[test]
fn one_hundred_thousand_concurrent_decisions_give_exactly_as_many_parseable_lines() {
    const TOTAL: usize = 100_000;
    const TASKS: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let log = AuditLog::start(AuditSink::File(path.clone()), AuditConfig::default()).unwrap();
        let enforcer = Arc::new(AuditedEnforcer::new(
            AllowAllEnforcer::new(id("spiffe://a.org/agent/me")),
            log.clone(),
        ));
        let caller = id("spiffe://a.org/agent/caller");
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (enforcer, caller) = (enforcer.clone(), caller.clone());
                tokio::spawn(async move {
                    for i in (t..TOTAL).step_by(TASKS) {
                        let ctx = AuthzContext::for_method("SendMessage")
                            .with_trace_id(&format!("trace-{i}"));
                        let d = enforcer.check_inbound(&caller, "act", ctx).await;
                        assert!(d.allowed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        log.flush().await.unwrap();
        let stats = log.stats();
        assert_eq!(stats.written, TOTAL as u64);
        assert_eq!(stats.denied_unaudited, 0);
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let mut ids = HashSet::new();
    let mut traces = HashSet::new();
    let mut lines = 0;
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in
            ["time", "direction", "caller", "callee", "action", "reason", "policy_id", "latency_ns"]
        {
            assert!(record.get(field).is_some(), "{field} missing in {line}");
        }
        assert_eq!(record["allowed"], true);
        assert_eq!(record["source"], "danger");
        assert!(ids.insert(record["audit_id"].as_str().unwrap().to_owned()), "duplicate audit id");
        traces.insert(record["trace_id"].as_str().unwrap().to_owned());
        lines += 1;
    }
    assert_eq!(lines, TOTAL);
    assert_eq!(traces.len(), TOTAL, "every decision's own trace id");
}

#[tokio::test]
async fn cache_hits_and_denials_are_audited_with_the_decision_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut config = RegoConfig::new(id("spiffe://corp.example/agent/index"))
        .data(starter::example_data().unwrap())
        .cache(CacheConfig::default());
    for p in starter::all_policies() {
        config = config.policy(p);
    }
    let log = AuditLog::start(
        AuditSink::File(path.clone()),
        AuditConfig { flush: FlushPolicy::EveryRecord, ..AuditConfig::default() },
    )
    .unwrap();
    let enforcer = AuditedEnforcer::new(RegoEnforcer::new(config).unwrap(), log.clone());
    let search = id("spiffe://corp.example/agent/search");
    let a = enforcer
        .check_inbound(&search, "search.query", AuthzContext::for_method("SendMessage"))
        .await;
    let b = enforcer
        .check_inbound(&search, "search.query", AuthzContext::for_method("SendMessage"))
        .await;
    let c = enforcer
        .check_outbound(
            &search,
            &id("spiffe://corp.example/agent/ledger"),
            "ledger.post",
            AuthzContext::default(),
        )
        .await;
    assert_eq!((a.source, b.source), (DecisionSource::Policy, DecisionSource::Cache));
    log.flush().await.unwrap();
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    for (record, decision) in records.iter().zip([&a, &b, &c]) {
        assert_eq!(record["audit_id"], decision.audit_id.to_string());
        assert_eq!(record["allowed"], decision.allowed);
        assert_eq!(record["reason"], &*decision.reason);
        assert_eq!(record["policy_id"], &*decision.policy_id);
    }
    assert_eq!(records[1]["source"], "cache");
    assert_eq!(records[2]["direction"], "outbound");
    assert_eq!(records[2]["callee"], "spiffe://corp.example/agent/ledger");
    assert_eq!(records[2]["allowed"], false);
    assert_eq!(records[0]["a2a_method"], "SendMessage");
    assert!(records[0].get("trace_id").is_none());
}

/// A sink that fails while `broken` is set, and records what it was given.
#[derive(Clone, Default)]
struct FlakySink {
    broken: Arc<AtomicBool>,
    written: Arc<Mutex<Vec<u8>>>,
    attempts: Arc<AtomicUsize>,
}

impl Write for FlakySink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.broken.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("disk on fire"));
        }
        self.written.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            Err(std::io::Error::other("disk on fire"))
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_mode_denies_when_the_sink_fails_and_counts_it() {
    let sink = FlakySink::default();
    sink.broken.store(true, Ordering::SeqCst);
    let log = AuditLog::start(
        AuditSink::Writer(Box::new(sink.clone())),
        AuditConfig {
            queue_capacity: 4,
            flush: FlushPolicy::EveryRecord,
            on_failure: OnAuditFailure::Deny,
            ..AuditConfig::default()
        },
    )
    .unwrap();
    let enforcer =
        AuditedEnforcer::new(AllowAllEnforcer::new(id("spiffe://a.org/agent/me")), log.clone());
    let caller = id("spiffe://a.org/agent/x");
    // The first record is queued, then the writer starts failing; soon decisions are denied.
    let mut denied = 0;
    for _ in 0..200 {
        let d = enforcer.check_inbound(&caller, "act", AuthzContext::default()).await;
        if !d.allowed {
            assert_eq!(d.source, DecisionSource::Fault);
            assert!(d.reason.contains("could not be audited"), "{}", d.reason);
            denied += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(denied > 100, "denied {denied}");
    let stats = log.stats();
    assert_eq!(stats.denied_unaudited, denied);
    assert!(stats.sink_errors > 0);
    // Heal the sink: the queued records are written, none lost, and decisions flow again.
    sink.broken.store(false, Ordering::SeqCst);
    log.flush().await.unwrap();
    let allowed_before = 200 - denied;
    let lines =
        String::from_utf8(sink.written.lock().unwrap().clone()).unwrap().lines().count() as u64;
    assert_eq!(lines, allowed_before, "every allowed decision was written");
    assert!(enforcer.check_inbound(&caller, "act", AuthzContext::default()).await.allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_mode_applies_backpressure_and_loses_nothing() {
    let sink = FlakySink::default();
    sink.broken.store(true, Ordering::SeqCst);
    let log = AuditLog::start(
        AuditSink::Writer(Box::new(sink.clone())),
        AuditConfig {
            queue_capacity: 8,
            flush: FlushPolicy::WhenIdle,
            on_failure: OnAuditFailure::Wait,
            ..AuditConfig::default()
        },
    )
    .unwrap();
    let enforcer = Arc::new(AuditedEnforcer::new(
        AllowAllEnforcer::new(id("spiffe://a.org/agent/me")),
        log.clone(),
    ));
    let caller = id("spiffe://a.org/agent/x");
    let running: Vec<_> = (0..100)
        .map(|_| {
            let (enforcer, caller) = (enforcer.clone(), caller.clone());
            tokio::spawn(async move {
                enforcer.check_inbound(&caller, "act", AuthzContext::default()).await
            })
        })
        .collect();
    // While the sink is broken, the queue fills and decisions wait.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(running.iter().any(|t| !t.is_finished()), "some decisions must be held back");
    assert!(log.stats().waited > 0);
    sink.broken.store(false, Ordering::SeqCst);
    for t in running {
        assert!(t.await.unwrap().allowed);
    }
    log.flush().await.unwrap();
    let lines = String::from_utf8(sink.written.lock().unwrap().clone()).unwrap().lines().count();
    assert_eq!(lines, 100);
    assert_eq!(log.stats().denied_unaudited, 0);
}

#[tokio::test]
async fn interval_flush_writes_without_further_traffic_and_stdout_sink_works() {
    let sink = FlakySink::default();
    let log = AuditLog::start(
        AuditSink::Writer(Box::new(sink.clone())),
        AuditConfig {
            flush: FlushPolicy::Interval(std::time::Duration::from_millis(20)),
            ..AuditConfig::default()
        },
    )
    .unwrap();
    log.submit("{\"a\":1}".into()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(&*sink.written.lock().unwrap(), b"{\"a\":1}\n");
    let stdout = AuditLog::start(AuditSink::Stdout, AuditConfig::default()).unwrap();
    stdout.submit("{\"audit\":\"stdout smoke\"}".into()).await.unwrap();
    stdout.flush().await.unwrap();
    assert_eq!(stdout.stats().written, 1);
    assert!(
        AuditLog::start(AuditSink::File("/nonexistent/dir/a.jsonl".into()), AuditConfig::default())
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/dir/a.jsonl")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_window_gathers_records_into_few_writes_and_loses_none() {
    const RECORDS: usize = 50;
    let window = std::time::Duration::from_millis(50);
    // (flush policy, whether records may share a write)
    for (flush, batched) in [(FlushPolicy::WhenIdle, true), (FlushPolicy::EveryRecord, false)] {
        let sink = FlakySink::default();
        let log = AuditLog::start(
            AuditSink::Writer(Box::new(sink.clone())),
            AuditConfig { batch_window: window, flush, ..AuditConfig::default() },
        )
        .unwrap();
        for i in 0..RECORDS {
            log.submit(format!("{{\"n\":{i}}}")).await.unwrap();
        }
        // A flush returns once everything queued before it is in the sink.
        log.flush().await.unwrap();
        let text = String::from_utf8(sink.written.lock().unwrap().clone()).unwrap();
        let numbers: Vec<usize> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["n"].as_u64().unwrap())
            .map(|n| usize::try_from(n).unwrap())
            .collect();
        assert_eq!(numbers, (0..RECORDS).collect::<Vec<_>>(), "{flush:?}: all, in order");
        assert_eq!(log.stats().written, RECORDS as u64);
        let writes = sink.attempts.load(Ordering::SeqCst);
        if batched {
            assert!(writes < RECORDS / 2, "{flush:?}: {writes} writes for {RECORDS} records");
        } else {
            assert_eq!(writes, RECORDS, "{flush:?}: one write per record");
        }
    }
}

#[test]
fn a_batch_window_above_the_maximum_is_refused_with_its_key() {
    let config = AuditConfig {
        batch_window: agentweave_authz::audit::MAX_BATCH_WINDOW * 2,
        ..AuditConfig::default()
    };
    let error = AuditLog::start(AuditSink::Writer(Box::new(FlakySink::default())), config)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("audit.batch_window"), "{error}");
}

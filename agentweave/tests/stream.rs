//! Streamed calls end to end over real sockets: `SecureAgent::call_stream` (A2A
//! `SendStreamingMessage`) with dev identities, mTLS, inline Rego policy, the guard and audit.

mod support;
use support::{Fixture, audit, id, policy};

use std::sync::atomic::Ordering;
use std::time::Duration;

use agentweave::agent::{
    CallError, CallStream, Capability, HandlerError, SecureAgent, StreamEvent, agent_guard,
};
use agentweave_a2a::types::{Part, TaskState};
use agentweave_guard::{PayloadType, PipelineConfig};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{BreakerConfig, Endpoint, TransportConfig};
use futures::StreamExt as _;
use serde_json::{Value, json};

/// The grants of this file's agents (see `support::grants_policy`).
const GRANTS: &str = r#"
  ["outbound", "orchestrator", "payments", "invoice.pay"],
  ["inbound",  "orchestrator", "payments", "invoice.pay"],
  ["outbound", "orchestrator", "worker",   "report.build"],
  ["inbound",  "orchestrator", "worker",   "report.build"],
  ["outbound", "orchestrator", "worker",   "report.fail"],
  ["inbound",  "orchestrator", "worker",   "report.fail"],
  ["outbound", "orchestrator", "worker",   "report.secret"],
  ["outbound", "orchestrator", "down",     "report.build"],
"#;

impl Fixture {
    /// `worker`: `report.build` reports progress twice and an artifact before its result;
    /// `report.fail` fails; `report.secret` is not granted inbound.
    async fn worker(&self) -> SecureAgent {
        let me = id("worker");
        let handled = self.handled.clone();
        let build = Capability::new("report.build", move |ctx| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                ctx.progress.working(json!({"step": 1, "of": 2})).await?;
                ctx.progress.artifact("draft", json!({"rows": 3})).await?;
                ctx.progress.working(json!({"step": 2, "of": 2})).await?;
                Ok::<_, HandlerError>(json!({"report": "done", "trace": ctx.trace_id}))
            }
        });
        let handled = self.handled.clone();
        let fail = Capability::new("report.fail", move |_ctx| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                Err::<Value, _>(HandlerError::new("no data for that period"))
            }
        });
        let handled = self.handled.clone();
        let secret = Capability::new("report.secret", move |_ctx| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                Ok::<_, HandlerError>(json!({}))
            }
        });
        SecureAgent::builder(me.clone(), "worker")
            .identity(DevIdentity::start(&self.issuer, &me).unwrap())
            .policy(policy(&me, GRANTS))
            .audit(audit(&self.audit_path()))
            .capability(build)
            .capability(fail)
            .capability(secret)
            .start()
            .await
            .unwrap()
    }

    async fn payments(&self) -> SecureAgent {
        let me = id("payments");
        let handled = self.handled.clone();
        let pay = Capability::new("invoice.pay", move |_ctx| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                Ok::<_, HandlerError>(json!({"paid": true}))
            }
        })
        .guard_payload(PayloadType::FinancialTransaction);
        SecureAgent::builder(me.clone(), "payments")
            .identity(DevIdentity::start(&self.issuer, &me).unwrap())
            .policy(policy(&me, GRANTS))
            .audit(audit(&self.audit_path()))
            .guard(agent_guard(&me, PipelineConfig::default(), None).unwrap())
            .capability(pay)
            .start()
            .await
            .unwrap()
    }

    async fn orchestrator(&self, peers: &[(&str, Endpoint)]) -> SecureAgent {
        let me = id("orchestrator");
        let transport = TransportConfig {
            connect_timeout: Duration::from_secs(2),
            breaker: BreakerConfig::with(1, Duration::from_secs(60), 1),
            ..TransportConfig::default()
        };
        let mut builder = SecureAgent::builder(me.clone(), "orchestrator")
            .identity(DevIdentity::start(&self.issuer, &me).unwrap())
            .policy(policy(&me, GRANTS))
            .audit(audit(&self.audit_path()))
            .transport_config(transport);
        for (name, endpoint) in peers {
            builder = builder.peer(id(name), endpoint.clone());
        }
        builder.start().await.unwrap()
    }
}

fn invoice(total: f64) -> Value {
    json!({"data": {"claimed_total": total, "line_items": [{"amount": 100}, {"amount": 200}]}})
}

/// Every item of a stream, until it ends.
async fn drain(stream: CallStream) -> Vec<Result<StreamEvent, CallError>> {
    stream.collect().await
}

/// A short name for an event, with its state or progress.
fn describe(event: &Result<StreamEvent, CallError>) -> String {
    let data = |parts: &[Part]| parts.iter().find_map(Part::as_data).cloned();
    match event {
        Ok(StreamEvent::Task(task)) => format!("task {}", task.status.state),
        Ok(StreamEvent::Status(update)) => {
            let progress = update.status.message.as_ref().and_then(|m| data(&m.parts));
            format!("status {} {}", update.status.state, progress.unwrap_or_default())
        }
        Ok(StreamEvent::Artifact(update)) => {
            format!("artifact {} {}", update.artifact.name, data(&update.artifact.parts).unwrap())
        }
        Ok(StreamEvent::Completed(outcome)) => format!("completed {}", outcome.output["report"]),
        Ok(other) => format!("other {other:?}"),
        Err(error) => format!("error {error}"),
    }
}

fn unused_port() -> Endpoint {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Endpoint::new("127.0.0.1", listener.local_addr().unwrap().port()).unwrap()
}

#[tokio::test]
async fn a_streamed_call_yields_every_event_in_order_then_the_result() {
    let f = Fixture::new();
    let worker = f.worker().await;
    let orchestrator = f.orchestrator(&[("worker", worker.endpoint().unwrap())]).await;

    // The same stream through the agent and through a handler's weak handle.
    for via_handle in [false, true] {
        let stream = if via_handle {
            orchestrator.handle().call_stream(&id("worker"), "report.build", json!({})).await
        } else {
            orchestrator.call_stream(&id("worker"), "report.build", json!({})).await
        };
        let stream = stream.unwrap();
        let trace_id = stream.trace_id().to_owned();
        let events = drain(stream).await;
        let seen: Vec<String> = events.iter().map(describe).collect();
        assert_eq!(
            seen,
            [
                "task TASK_STATE_SUBMITTED",
                r#"status TASK_STATE_WORKING {"of":2,"step":1}"#,
                r#"artifact draft {"rows":3}"#,
                r#"status TASK_STATE_WORKING {"of":2,"step":2}"#,
                r#"completed "done""#,
            ],
            "via handle: {via_handle}"
        );
        let Some(Ok(StreamEvent::Completed(outcome))) = events.last() else { panic!("no result") };
        // One task throughout, the handler's trace is the caller's, no verdict unguarded.
        for event in &events {
            let task_id = match event {
                Ok(StreamEvent::Task(t)) => t.id.clone(),
                Ok(StreamEvent::Status(e)) => e.task_id.clone(),
                Ok(StreamEvent::Artifact(e)) => e.task_id.clone(),
                Ok(StreamEvent::Completed(o)) => o.task_id.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(task_id, outcome.task_id);
        }
        assert_eq!(outcome.output["trace"], trace_id.as_str());
        assert_eq!(outcome.trace_id, trace_id);
        assert!(outcome.verdict.is_none());
    }
    // A blocking call to the same capability sees only the result.
    let outcome = orchestrator.call(&id("worker"), "report.build", json!({})).await.unwrap();
    assert_eq!(outcome.output["report"], "done");
    assert_eq!(f.handled.load(Ordering::SeqCst), 3);

    // A streamed call leaves the records a call leaves; the inbound one names the method.
    orchestrator.stop().await;
    worker.stop().await;
    let lines = f.audit_lines();
    let count = |direction: &str, method: &str| {
        lines
            .iter()
            .filter(|l| {
                l["direction"] == direction
                    && l["action"] == "report.build"
                    && l["allowed"] == true
                    && l["a2a_method"] == method
            })
            .count()
    };
    assert_eq!(count("outbound", "SendStreamingMessage"), 2, "{lines:?}");
    assert_eq!(count("inbound", "SendStreamingMessage"), 2, "{lines:?}");
    assert_eq!(count("outbound", "SendMessage"), 1, "{lines:?}");
    assert_eq!(count("inbound", "SendMessage"), 1, "{lines:?}");
    assert_eq!(lines.len(), 6, "{lines:?}");
}

/// How a refused or failed stream must end.
#[derive(Debug)]
enum Want {
    /// Our policy: an `Err` from `call_stream`, nothing sent.
    Denied,
    /// The target's policy: an `Err` from `call_stream`, before any event.
    RemoteDenied,
    /// The task was created and the stream's last item is this error.
    EndsWith(&'static str),
    /// The peer cannot be reached: an `Err` from `call_stream`.
    Unreachable,
}

#[tokio::test]
async fn refused_and_failed_streams_are_typed_and_never_reach_the_handler_when_refused() {
    let f = Fixture::new();
    let worker = f.worker().await;
    let payments = f.payments().await;
    let orchestrator = f
        .orchestrator(&[
            ("worker", worker.endpoint().unwrap()),
            ("payments", payments.endpoint().unwrap()),
            ("down", unused_port()),
        ])
        .await;
    let cases: [(&str, &str, Value, Want, usize); 6] = [
        ("worker", "report.delete", json!({}), Want::Denied, 0),
        ("worker", "report.secret", json!({}), Want::RemoteDenied, 0),
        ("payments", "invoice.pay", invoice(999.99), Want::EndsWith("guard finance.mismatch"), 0),
        ("payments", "invoice.pay", json!([1]), Want::EndsWith("guard schema.payload"), 0),
        ("worker", "report.fail", json!({}), Want::EndsWith("failed TASK_STATE_FAILED"), 1),
        ("down", "report.build", json!({}), Want::Unreachable, 0),
    ];
    for (target, capability, payload, want, handled) in cases {
        let before = f.handled.load(Ordering::SeqCst);
        let connections = worker.server_stats().connections_accepted
            + payments.server_stats().connections_accepted;
        let requests = orchestrator.transport_stats().unwrap().requests;
        let opened = orchestrator.call_stream(&id(target), capability, payload).await;
        let case = format!("{target} {capability} {want:?}");
        match (&want, opened) {
            (Want::Denied, Err(CallError::Denied { reason, .. })) => {
                assert_eq!(reason, "default deny", "{case}");
                // Nothing left this process: no connection accepted, no request sent.
                let after = worker.server_stats().connections_accepted
                    + payments.server_stats().connections_accepted;
                assert_eq!(after, connections, "{case}");
                assert_eq!(orchestrator.transport_stats().unwrap().requests, requests, "{case}");
            }
            (Want::RemoteDenied, Err(CallError::RemoteDenied { .. })) => {}
            (Want::Unreachable, Err(CallError::Unreachable { .. })) => {}
            (Want::EndsWith(end), Ok(stream)) => {
                let events = drain(stream).await;
                assert!(
                    matches!(events.first(), Some(Ok(StreamEvent::Task(t))) if t.status.state == TaskState::Submitted),
                    "{case}: {events:?}"
                );
                let last = match events.last() {
                    Some(Err(CallError::GuardBlocked { reason_code, verdict, .. })) => {
                        // A blocked verdict is signed; a schema rejection never is.
                        let signed = reason_code == "finance.mismatch";
                        assert_eq!(verdict.attestation.is_some(), signed, "{case}");
                        format!("guard {reason_code}")
                    }
                    Some(Err(CallError::TaskFailed { state, message, .. })) => {
                        assert_eq!(message, "no data for that period", "{case}");
                        format!("failed {state}")
                    }
                    other => format!("{other:?}"),
                };
                assert_eq!(last, *end, "{case}");
                assert!(
                    events.iter().all(|e| !matches!(e, Ok(StreamEvent::Completed(_)))),
                    "{case}"
                );
            }
            (_, got) => panic!("{case}: got {got:?}"),
        }
        assert_eq!(f.handled.load(Ordering::SeqCst) - before, handled, "{case}");
    }
    // The peer that is down opened its breaker (threshold 1): the next stream fails fast.
    let error = orchestrator.call_stream(&id("down"), "report.build", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::CircuitOpen { .. }), "{error:?}");
    orchestrator.stop().await;
    worker.stop().await;
    payments.stop().await;

    // Each refusal left its record: the inbound deny on worker, the guard blocks on payments.
    let lines = f.audit_lines();
    let has = |pred: &dyn Fn(&Value) -> bool| lines.iter().filter(|l| pred(l)).count();
    assert_eq!(
        has(&|l| l["direction"] == "outbound"
            && l["action"] == "report.delete"
            && l["allowed"] == false),
        1
    );
    assert_eq!(
        has(&|l| l["direction"] == "inbound"
            && l["action"] == "report.secret"
            && l["allowed"] == false
            && l["a2a_method"] == "SendStreamingMessage"),
        1
    );
    assert_eq!(has(&|l| l["event"] == "guard" && l["allowed"] == false), 2);
}

#[tokio::test]
async fn a_streamed_guarded_call_ends_with_a_verifiable_attestation() {
    let f = Fixture::new();
    let payments = f.payments().await;
    let orchestrator = f.orchestrator(&[("payments", payments.endpoint().unwrap())]).await;
    let stream =
        orchestrator.call_stream(&id("payments"), "invoice.pay", invoice(300.0)).await.unwrap();
    let outcome = stream.finish().await.unwrap();
    assert_eq!(outcome.output, json!({"paid": true}));
    let verdict = outcome.verdict.clone().unwrap();
    assert_eq!(
        (verdict.status.as_str(), verdict.reason_code.as_str()),
        ("forwarded", "finance.verified")
    );
    let claims = orchestrator.verify_attestation(&outcome).await.unwrap();
    assert_eq!(claims.iss, "spiffe://example.org/agent/payments");
    // The same token again is a replay; bound to another payload it fails its hash.
    assert!(orchestrator.verify_attestation(&outcome).await.is_err());
    let mut forged = orchestrator
        .call_stream(&id("payments"), "invoice.pay", invoice(300.0))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    forged.payload = invoice(301.0);
    assert!(orchestrator.verify_attestation(&forged).await.is_err());
    orchestrator.stop().await;
    payments.stop().await;
    let lines = f.audit_lines();
    let guard = lines.iter().filter(|l| l["event"] == "guard" && l["allowed"] == true).count();
    assert_eq!(guard, 2, "{lines:?}");
}

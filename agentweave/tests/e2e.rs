//! End to end over real sockets: dev identities, mTLS, inline Rego policy, the guard, A2A tasks.

mod support;
use support::{Fixture, audit, id, policy};

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agentweave::agent::{
    AgentError, CallError, Capability, HandlerError, SecureAgent, agent_guard,
};
use agentweave_guard::{PayloadType, PipelineConfig};
use agentweave_identity::{IdentityProvider, SpiffeId};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    BreakerConfig, Endpoint, ExpectedPeer, MtlsTransport, Peer, SendOptions, Transport,
    TransportConfig,
};
use serde_json::{Value, json};

/// The grants of this file's agents (see `support::grants_policy`).
const GRANTS: &str = r#"
  ["outbound", "orchestrator", "payments", "invoice.pay"],
  ["inbound",  "orchestrator", "payments", "invoice.pay"],
  ["inbound",  "orchestrator", "payments", "GetTask"],
  ["inbound",  "orchestrator", "payments", "CancelTask"],
  ["inbound",  "mallory",      "payments", "GetTask"],
  ["inbound",  "mallory",      "payments", "CancelTask"],
  ["outbound", "orchestrator", "search",   "search.query"],
  ["inbound",  "orchestrator", "search",   "search.query"],
  ["outbound", "orchestrator", "search",   "search.admin"],
  ["outbound", "orchestrator", "down",     "search.query"],
"#;

impl Fixture {
    async fn payments(&self) -> SecureAgent {
        self.payments_at("127.0.0.1:0".parse().unwrap()).await
    }

    /// Payments listening on `addr`; each start generates a new attestation key (no
    /// `guard.signing_key`), as a restarted or another replica would.
    async fn payments_at(&self, addr: std::net::SocketAddr) -> SecureAgent {
        let me = id("payments");
        let handled = self.handled.clone();
        let pay = Capability::new("invoice.pay", move |ctx| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                Ok::<_, HandlerError>(
                    json!({"paid": true, "caller": ctx.caller.to_string(), "task": ctx.task_id}),
                )
            }
        })
        .description("Pays a verified invoice")
        .guard_payload(PayloadType::FinancialTransaction);
        SecureAgent::builder(me.clone(), "payments")
            .identity(DevIdentity::start(&self.issuer, &me).unwrap())
            .policy(policy(&me, GRANTS))
            .audit(audit(&self.audit_path()))
            .guard(agent_guard(&me, PipelineConfig::default(), None).unwrap())
            .capability(pay)
            .listen(addr)
            .start()
            .await
            .unwrap()
    }

    /// Payments, and an orchestrator whose peer map points at it (default transport).
    async fn payments_with_caller(&self) -> (SecureAgent, SecureAgent) {
        let payments = self.payments().await;
        let peers = [("payments", payments.endpoint().unwrap())];
        let orchestrator = self.orchestrator(&peers, TransportConfig::default()).await;
        (payments, orchestrator)
    }

    async fn search(&self) -> SecureAgent {
        let me = id("search");
        let handled = self.handled.clone();
        let count = move |_ctx| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                Ok::<_, HandlerError>(json!({"results": ["a", "b"]}))
            }
        };
        SecureAgent::builder(me.clone(), "search")
            .identity(DevIdentity::start(&self.issuer, &me).unwrap())
            .policy(policy(&me, GRANTS))
            .audit(audit(&self.audit_path()))
            .capability(Capability::new("search.query", count.clone()))
            .capability(Capability::new("search.admin", count))
            .start()
            .await
            .unwrap()
    }

    async fn orchestrator(
        &self,
        peers: &[(&str, Endpoint)],
        transport: TransportConfig,
    ) -> SecureAgent {
        let me = id("orchestrator");
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

#[tokio::test]
async fn allowed_call_is_guarded_attested_and_audited() {
    let f = Fixture::new();
    let (payments, orchestrator) = f.payments_with_caller().await;

    let outcome = orchestrator.call(&id("payments"), "invoice.pay", invoice(300.0)).await.unwrap();
    assert_eq!(outcome.output["caller"], "spiffe://example.org/agent/orchestrator");
    assert_eq!(outcome.output["task"], outcome.task_id.as_str());
    let verdict = outcome.verdict.clone().unwrap();
    assert_eq!(
        (verdict.status.as_str(), verdict.reason_code.as_str()),
        ("forwarded", "finance.verified")
    );
    assert_eq!(f.handled.load(Ordering::SeqCst), 1);

    let claims = orchestrator.verify_attestation(&outcome).await.unwrap();
    assert_eq!(claims.iss, "spiffe://example.org/agent/payments");
    // The same token twice is a replay; a token bound to another payload fails its hash.
    assert!(orchestrator.verify_attestation(&outcome).await.is_err());
    let mut forged = outcome.clone();
    forged.payload = invoice(301.0);
    forged.verdict = Some(verdict);
    assert!(orchestrator.verify_attestation(&forged).await.is_err());

    orchestrator.stop().await;
    payments.stop().await;
    let audit = std::fs::read_to_string(f.audit_path()).unwrap();
    let lines: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let has = |pred: &dyn Fn(&Value) -> bool| lines.iter().any(pred);
    assert!(has(&|l| l["direction"] == "outbound"
        && l["action"] == "invoice.pay"
        && l["allowed"] == true));
    assert!(has(&|l| l["direction"] == "inbound"
        && l["action"] == "invoice.pay"
        && l["allowed"] == true));
    assert!(has(&|l| l["event"] == "guard" && l["reason_code"] == "finance.verified"));
}

#[tokio::test]
async fn a_restarted_peer_with_a_new_key_is_verified_after_one_card_refresh() {
    let f = Fixture::new();
    let payments = f.payments().await;
    let addr = payments.local_addr();
    let orchestrator = f
        .orchestrator(&[("payments", payments.endpoint().unwrap())], TransportConfig::default())
        .await;
    let before = orchestrator.call(&id("payments"), "invoice.pay", invoice(300.0)).await.unwrap();
    orchestrator.verify_attestation(&before).await.unwrap();
    payments.stop().await;

    // Same SPIFFE ID and port, new signing key: the caller's cached keys do not know it.
    let payments = f.payments_at(addr).await;
    let mut after = None;
    for _ in 0..20 {
        // The pooled connection to the stopped server may fail once; a fresh one follows.
        match orchestrator.call(&id("payments"), "invoice.pay", invoice(300.0)).await {
            Ok(outcome) => {
                after = Some(outcome);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let after = after.expect("calls reach the restarted payments");
    let claims = orchestrator.verify_attestation(&after).await.unwrap();
    assert_eq!(claims.iss, "spiffe://example.org/agent/payments");
    // The refreshed keys keep the replay memory: both tokens are now refused.
    assert!(orchestrator.verify_attestation(&after).await.is_err());
    assert!(orchestrator.verify_attestation(&before).await.is_err());
    orchestrator.stop().await;
    payments.stop().await;
}

#[tokio::test]
async fn guard_block_never_reaches_the_handler() {
    let f = Fixture::new();
    let (payments, orchestrator) = f.payments_with_caller().await;
    let error =
        orchestrator.call(&id("payments"), "invoice.pay", invoice(999.99)).await.unwrap_err();
    let CallError::GuardBlocked { reason_code, verdict, .. } = error else { panic!("{error:?}") };
    assert_eq!(reason_code, "finance.mismatch");
    assert_eq!(verdict.status, "blocked");
    assert!(verdict.attestation.is_some(), "blocked verdicts are signed");
    assert_eq!(f.handled.load(Ordering::SeqCst), 0);
    // A payload that is not an object is rejected by the guard's schema stage.
    let error = orchestrator.call(&id("payments"), "invoice.pay", json!([1])).await.unwrap_err();
    assert!(
        matches!(error, CallError::GuardBlocked { ref reason_code, .. } if reason_code == "schema.payload"),
        "{error:?}"
    );
    assert_eq!(f.handled.load(Ordering::SeqCst), 0);
    orchestrator.stop().await;
    payments.stop().await;
}

#[tokio::test]
async fn outbound_denial_sends_nothing() {
    let f = Fixture::new();
    let (payments, orchestrator) = f.payments_with_caller().await;
    let error =
        orchestrator.call(&id("payments"), "invoice.refund", invoice(300.0)).await.unwrap_err();
    assert!(
        matches!(error, CallError::Denied { ref reason, .. } if reason == "default deny"),
        "{error:?}"
    );
    assert_eq!(payments.server_stats().connections_accepted, 0);
    assert_eq!(orchestrator.transport_stats().unwrap().requests, 0);
    // A target not in the peer map is refused before anything else.
    let error = orchestrator.call(&id("search"), "search.query", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::UnknownPeer(_)), "{error:?}");
    orchestrator.stop().await;
    payments.stop().await;
}

#[tokio::test]
async fn inbound_denial_is_permission_denied() {
    let f = Fixture::new();
    let search = f.search().await;
    let orchestrator =
        f.orchestrator(&[("search", search.endpoint().unwrap())], TransportConfig::default()).await;
    let ok = orchestrator.call(&id("search"), "search.query", json!({"q": "x"})).await.unwrap();
    assert_eq!(ok.output, json!({"results": ["a", "b"]}));
    assert!(ok.verdict.is_none());
    let error = orchestrator.call(&id("search"), "search.admin", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::RemoteDenied { .. }), "{error:?}");
    assert_eq!(f.handled.load(Ordering::SeqCst), 1);
    orchestrator.stop().await;
    search.stop().await;
}

async fn rpc(transport: &MtlsTransport, peer: &Peer, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let request = http::Request::post("/")
        .header("content-type", "application/json")
        .header("A2A-Version", "1.0")
        .body(bytes::Bytes::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let response = transport.send(peer, request, SendOptions::default()).await.unwrap();
    serde_json::from_slice(&response.into_body().collect_bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn tasks_are_visible_only_to_their_creator() {
    let f = Fixture::new();
    let (payments, orchestrator) = f.payments_with_caller().await;
    let outcome = orchestrator.call(&id("payments"), "invoice.pay", invoice(300.0)).await.unwrap();
    let peer = Peer::new(payments.endpoint().unwrap(), ExpectedPeer::exact(id("payments")));
    let params = json!({"id": outcome.task_id});

    let owner =
        MtlsTransport::new(&*orchestrator.identity().clone(), TransportConfig::default()).unwrap();
    let got = rpc(&owner, &peer, "GetTask", params.clone()).await;
    assert_eq!(got["result"]["id"], outcome.task_id.as_str(), "{got}");

    let mallory_id = DevIdentity::start(&f.issuer, &id("mallory")).unwrap();
    let mallory = MtlsTransport::new(&*mallory_id, TransportConfig::default()).unwrap();
    // SubscribeToTask too, now that agents serve streams: ownership is checked first.
    for method in ["GetTask", "CancelTask", "SubscribeToTask"] {
        let answer = rpc(&mallory, &peer, method, params.clone()).await;
        assert_eq!(answer["error"]["code"], -32001, "{method}: {answer}");
    }
    orchestrator.stop().await;
    payments.stop().await;
    let audit = std::fs::read_to_string(f.audit_path()).unwrap();
    assert!(audit.lines().any(|l| l.contains("\"event\":\"ownership\"") && l.contains("mallory")));
}

#[tokio::test]
async fn a_peer_that_is_down_opens_the_breaker() {
    let f = Fixture::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let down = Endpoint::new("127.0.0.1", port).unwrap();
    let transport = TransportConfig {
        connect_timeout: Duration::from_secs(2),
        breaker: BreakerConfig::with(2, Duration::from_secs(60), 1),
        ..TransportConfig::default()
    };
    let orchestrator = f.orchestrator(&[("down", down)], transport).await;
    for _ in 0..2 {
        let error = orchestrator.call(&id("down"), "search.query", json!({})).await.unwrap_err();
        assert!(matches!(error, CallError::Unreachable { .. }), "{error:?}");
    }
    let error = orchestrator.call(&id("down"), "search.query", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::CircuitOpen { .. }), "{error:?}");
    assert_eq!(orchestrator.transport_stats().unwrap().circuit_rejections, 1);
    orchestrator.stop().await;
}

#[tokio::test]
async fn start_refuses_what_would_weaken_security() {
    let f = Fixture::new();
    let me = id("payments");
    let identity: Arc<dyn IdentityProvider> = DevIdentity::start(&f.issuer, &me).unwrap();
    let other = id("other");
    let guarded = || {
        Capability::new("pay", |_| async { Ok::<_, HandlerError>(json!({})) })
            .guard_payload(PayloadType::FinancialTransaction)
    };
    let base = |as_id: &SpiffeId| {
        SecureAgent::builder(as_id.clone(), "x").identity(identity.clone()).danger_no_audit()
    };
    let cases: Vec<(&str, agentweave::agent::SecureAgentBuilder)> = vec![
        ("identity mismatch", base(&other).policy(policy(&other, GRANTS))),
        ("no policy", base(&me)),
        ("policy for another agent", base(&me).policy(policy(&other, GRANTS))),
        (
            "guarded capability without guard",
            base(&me).policy(policy(&me, GRANTS)).capability(guarded()),
        ),
        (
            "payload type without engine",
            base(&me)
                .policy(policy(&me, GRANTS))
                .guard(agent_guard(&me, PipelineConfig::default(), None).unwrap())
                .capability(guarded().guard_payload(PayloadType::General)),
        ),
        (
            "duplicate capability",
            base(&me)
                .policy(policy(&me, GRANTS))
                .capability(Capability::new("a", |_| async { Ok::<_, HandlerError>(json!({})) }))
                .capability(Capability::new("a", |_| async { Ok::<_, HandlerError>(json!({})) })),
        ),
        (
            "no audit decision",
            SecureAgent::builder(me.clone(), "x")
                .identity(identity.clone())
                .policy(policy(&me, GRANTS)),
        ),
    ];
    for (name, builder) in cases {
        let result = builder.start().await;
        let error = result.err().unwrap_or_else(|| panic!("{name}: started"));
        let expected = match name {
            "identity mismatch" => matches!(error, AgentError::IdentityMismatch { .. }),
            "no policy" | "no audit decision" => matches!(error, AgentError::Missing(_)),
            "policy for another agent" => matches!(error, AgentError::PolicyMismatch { .. }),
            "guarded capability without guard" => matches!(error, AgentError::Guard(_)),
            _ => matches!(error, AgentError::Capability { .. }),
        };
        assert!(expected, "{name}: {error}");
    }
}

#[tokio::test]
async fn from_config_wires_dev_identity_rego_and_file_audit() {
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.rego");
    std::fs::write(&policy_path, support::grants_policy(GRANTS)).unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let socket = dir.path().join("dev.sock");
    let yaml = format!(
        "environment: development\n\
         agent: {{name: payments, spiffe_id: spiffe://example.org/agent/payments}}\n\
         identity: {{provider: dev, socket: {}}}\n\
         server: {{listen: 127.0.0.1:0}}\n\
         authz: {{provider: rego, policies: [{}], hot_reload: false}}\n\
         audit: {{sink: file, path: {}}}\n",
        socket.display(),
        policy_path.display(),
        audit_path.display()
    );
    let config = agentweave::AgentConfig::from_yaml_with_env(&yaml, &Default::default()).unwrap();
    let pay =
        Capability::new("invoice.pay", |_| async { Ok::<_, HandlerError>(json!({"paid": true})) })
            .guard_payload(PayloadType::FinancialTransaction);
    let agent = SecureAgent::from_config(&config, vec![pay]).await.unwrap();
    assert_eq!(agent.spiffe_id(), &id("payments"));
    assert_eq!(agent.card().spiffe_id(), Some("spiffe://example.org/agent/payments"));
    assert!(agentweave::agent::attestation_keys(agent.card()).is_some());
    assert_eq!(agent.card().skills[0].id, "invoice.pay");
    agent.stop().await;
    assert!(!socket.exists(), "the dev Workload API socket is removed on stop");
}

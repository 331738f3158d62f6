//! Operations over real sockets: the plain-HTTP ops port (health, metrics), metrics that move by
//! exact amounts with the pipeline, readiness that follows identity and shutdown, and W3C trace
//! context carried across agents over mTLS.

mod support;
use support::{id, issuer, policy};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agentweave::agent::{CallError, Capability, HandlerError, SecureAgent, agent_guard};
use agentweave::ops::TraceContext;
use agentweave_guard::{PayloadType, PipelineConfig};
use agentweave_identity::dev::DevIssuer;
use agentweave_identity::test_util::{LeafSpec, forge_leaf};
use agentweave_identity::{
    IdentityProvider, IdentityPublisher, IdentitySnapshot, SpiffeId, TrustBundleSet, X509Svid,
};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    BreakerConfig, Endpoint, ExpectedPeer, MtlsTransport, Peer, SendOptions, Transport,
    TransportConfig,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// The grants of this file's agents (see `support::grants_policy`).
const GRANTS: &str = r#"
  ["outbound", "orchestrator", "search",   "search.query"],
  ["inbound",  "orchestrator", "search",   "search.query"],
  ["outbound", "orchestrator", "search",   "search.admin"],
  ["outbound", "orchestrator", "payments", "invoice.pay"],
  ["inbound",  "orchestrator", "payments", "invoice.pay"],
  ["outbound", "orchestrator", "down",     "search.query"],
  ["outbound", "orchestrator", "relay",    "relay.ask"],
  ["inbound",  "orchestrator", "relay",    "relay.ask"],
  ["outbound", "relay",        "search",   "search.query"],
  ["inbound",  "relay",        "search",   "search.query"],
  ["inbound",  "tester",       "search",   "search.query"],
"#;

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A handler that answers with the trace id it saw.
fn traced(name: &str) -> Capability {
    Capability::new(name, |ctx| async move {
        Ok::<_, HandlerError>(
            json!({"trace_id": ctx.trace_id, "span_id": ctx.trace.span_id.to_string()}),
        )
    })
}

async fn agent(
    issuer: &Arc<DevIssuer>,
    name: &str,
    capabilities: Vec<Capability>,
    peers: &[(&str, Endpoint)],
    transport: TransportConfig,
) -> SecureAgent {
    let me = id(name);
    let mut builder = SecureAgent::builder(me.clone(), name)
        .identity(DevIdentity::start(issuer, &me).unwrap())
        .policy(policy(&me, GRANTS))
        .danger_no_audit()
        .transport_config(transport)
        .operations_listen(any_port());
    if capabilities.iter().any(|c| c.payload_type().is_some()) {
        builder = builder.guard(agent_guard(&me, PipelineConfig::default(), None).unwrap());
    }
    for c in capabilities {
        builder = builder.capability(c);
    }
    for (peer, endpoint) in peers {
        builder = builder.peer(id(peer), endpoint.clone());
    }
    builder.start().await.unwrap()
}

/// One plain HTTP/1.1 request; returns the status and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: ops\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path, "").await
}

/// The samples of a metrics page: `name{labels}` → value. Fails on a line that is not a
/// comment, `# EOF` or a sample.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        assert!(series.starts_with("agentweave_"), "{line}");
        assert!(samples.insert(series.to_owned(), value).is_none(), "duplicate {series}");
    }
    samples
}

async fn scrape(agent: &SecureAgent) -> HashMap<String, f64> {
    let (status, body) = get(agent.ops_addr().unwrap(), "/metrics").await;
    assert_eq!(status, 200);
    parse_metrics(&body)
}

/// `after - before` for each series named, as `series → delta`.
fn deltas(
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    series: &[&str],
) -> Vec<(String, f64)> {
    series
        .iter()
        .map(|s| {
            let a = after.get(*s).unwrap_or_else(|| panic!("no series {s}"));
            let b = before.get(*s).copied().unwrap_or(0.0);
            ((*s).to_owned(), a - b)
        })
        .collect()
}

fn assert_deltas(
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    expected: &[(&str, f64)],
) {
    let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    let got = deltas(before, after, &names);
    for ((name, want), (_, delta)) in expected.iter().zip(got) {
        assert_eq!(delta, *want, "{name}");
    }
}

/// Everything but the series that legitimately move on their own (readiness, durations).
fn unchanged(before: &HashMap<String, f64>, after: &HashMap<String, f64>) {
    for (series, value) in before {
        assert_eq!(after.get(series), Some(value), "{series} moved");
    }
}

#[tokio::test]
async fn metrics_move_by_exact_deltas_with_each_outcome() {
    let issuer = issuer();
    let search = agent(
        &issuer,
        "search",
        vec![traced("search.query"), traced("search.admin")],
        &[],
        TransportConfig::default(),
    )
    .await;
    let pay =
        Capability::new("invoice.pay", |_| async { Ok::<_, HandlerError>(json!({"paid": true})) })
            .guard_payload(PayloadType::FinancialTransaction);
    let payments = agent(&issuer, "payments", vec![pay], &[], TransportConfig::default()).await;
    let down_port =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let orchestrator = agent(
        &issuer,
        "orchestrator",
        vec![],
        &[
            ("search", search.endpoint().unwrap()),
            ("payments", payments.endpoint().unwrap()),
            ("down", Endpoint::new("127.0.0.1", down_port).unwrap()),
        ],
        TransportConfig {
            connect_timeout: Duration::from_secs(2),
            breaker: BreakerConfig::with(1, Duration::from_secs(600), 1),
            ..TransportConfig::default()
        },
    )
    .await;
    let out = |o: &str| format!("agentweave_outbound_calls_total{{outcome=\"{o}\"}}");
    let inbound = |m: &str, o: &str| {
        format!("agentweave_inbound_requests_total{{method=\"{m}\",outcome=\"{o}\"}}")
    };
    let policy = |d: &str, c: &str| {
        format!("agentweave_policy_decisions_total{{direction=\"{d}\",decision=\"{c}\"}}")
    };
    let breaker = |p: &str| {
        format!("agentweave_circuit_breaker_state{{peer=\"spiffe://example.org/agent/{p}\"}}")
    };

    // An allowed call: one outbound allow, one TLS handshake each side, one completed send.
    let (o0, s0) = (scrape(&orchestrator).await, scrape(&search).await);
    orchestrator.call(&id("search"), "search.query", json!({"q": 1})).await.unwrap();
    let (o1, s1) = (scrape(&orchestrator).await, scrape(&search).await);
    assert_deltas(
        &o0,
        &o1,
        &[
            (&out("ok"), 1.0),
            (&policy("outbound", "allow"), 1.0),
            ("agentweave_outbound_call_duration_seconds_count{result=\"ok\"}", 1.0),
            ("agentweave_client_tls_handshakes_total{result=\"completed\"}", 1.0),
            ("agentweave_transport_requests_total", 1.0),
            ("agentweave_pool_connections_opened_total", 1.0),
            (&breaker("search"), 0.0),
        ],
    );
    assert_eq!(o1[&breaker("search")], 0.0);
    assert_deltas(
        &s0,
        &s1,
        &[
            (&inbound("SendMessage", "completed"), 1.0),
            (&policy("inbound", "allow"), 1.0),
            ("agentweave_inbound_request_duration_seconds_count{method=\"SendMessage\"}", 1.0),
            ("agentweave_server_tls_handshakes_total{result=\"accepted\"}", 1.0),
        ],
    );

    // Denied by our own policy: counted on our side; the callee sees nothing at all.
    let error = orchestrator.call(&id("search"), "search.delete", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::Denied { .. }), "{error:?}");
    let (o2, s2) = (scrape(&orchestrator).await, scrape(&search).await);
    assert_deltas(
        &o1,
        &o2,
        &[
            (&out("denied"), 1.0),
            (&out("ok"), 0.0),
            (&policy("outbound", "deny"), 1.0),
            ("agentweave_outbound_call_duration_seconds_count{result=\"error\"}", 1.0),
            ("agentweave_transport_requests_total", 0.0),
        ],
    );
    unchanged(&s1, &s2);

    // Denied by the callee's policy: an inbound deny there, a remote denial here.
    let error = orchestrator.call(&id("search"), "search.admin", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::RemoteDenied { .. }), "{error:?}");
    let (o3, s3) = (scrape(&orchestrator).await, scrape(&search).await);
    assert_deltas(&o2, &o3, &[(&out("remote_denied"), 1.0), (&policy("outbound", "allow"), 1.0)]);
    assert_deltas(
        &s2,
        &s3,
        &[
            (&inbound("SendMessage", "denied"), 1.0),
            (&inbound("SendMessage", "completed"), 0.0),
            (&policy("inbound", "deny"), 1.0),
            (&policy("inbound", "allow"), 0.0),
            // The pooled connection is reused: no new handshake.
            ("agentweave_server_tls_handshakes_total{result=\"accepted\"}", 0.0),
        ],
    );

    // The guard: one verified invoice, one blocked.
    let p0 = scrape(&payments).await;
    let good =
        json!({"data": {"claimed_total": 300, "line_items": [{"amount": 100}, {"amount": 200}]}});
    let bad = json!({"data": {"claimed_total": 999, "line_items": [{"amount": 100}]}});
    orchestrator.call(&id("payments"), "invoice.pay", good).await.unwrap();
    let error = orchestrator.call(&id("payments"), "invoice.pay", bad).await.unwrap_err();
    assert!(matches!(error, CallError::GuardBlocked { .. }), "{error:?}");
    let (o4, p1) = (scrape(&orchestrator).await, scrape(&payments).await);
    assert_deltas(&o3, &o4, &[(&out("ok"), 1.0), (&out("guard_blocked"), 1.0)]);
    assert_deltas(
        &p0,
        &p1,
        &[
            (
                "agentweave_guard_verdicts_total{verdict=\"forwarded\",reason_class=\"finance\"}",
                1.0,
            ),
            ("agentweave_guard_verdicts_total{verdict=\"blocked\",reason_class=\"finance\"}", 1.0),
            (&inbound("SendMessage", "completed"), 1.0),
            (&inbound("SendMessage", "guard_blocked"), 1.0),
        ],
    );

    // A peer that is down: unreachable once, which opens its circuit (threshold 1), then the
    // breaker refuses without traffic.
    let error = orchestrator.call(&id("down"), "search.query", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::Unreachable { .. }), "{error:?}");
    let error = orchestrator.call(&id("down"), "search.query", json!({})).await.unwrap_err();
    assert!(matches!(error, CallError::CircuitOpen { .. }), "{error:?}");
    let o5 = scrape(&orchestrator).await;
    assert_deltas(
        &o4,
        &o5,
        &[
            (&out("unreachable"), 1.0),
            (&out("circuit_open"), 1.0),
            ("agentweave_transport_circuit_rejections_total", 1.0),
        ],
    );
    assert_eq!(o5[&breaker("down")], 2.0);
    assert_eq!(o5[&breaker("search")], 0.0);
    assert_eq!(o5["agentweave_ready"], 1.0);

    // The agent card fetch is labelled as such, never by its path.
    let s4 = scrape(&search).await;
    let tester = DevIdentity::start(&issuer, &id("tester")).unwrap();
    let client = MtlsTransport::new(&*tester, TransportConfig::default()).unwrap();
    let peer = Peer::new(search.endpoint().unwrap(), ExpectedPeer::exact(id("search")));
    for path in ["/.well-known/agent-card.json", "/metrics", "/nothing/here"] {
        let request = http::Request::get(path).body(bytes::Bytes::new()).unwrap();
        let response = client.send(&peer, request, SendOptions::default()).await.unwrap();
        let status = response.status();
        assert_eq!(status.is_success(), path.contains("agent-card"), "{path}: {status}");
    }
    let s5 = scrape(&search).await;
    assert_deltas(
        &s4,
        &s5,
        &[(&inbound("agent_card", "answered"), 1.0), (&inbound("other", "http_error"), 2.0)],
    );

    orchestrator.stop().await;
    search.stop().await;
    payments.stop().await;
}

#[tokio::test]
async fn the_ops_port_serves_health_and_metrics_only() {
    let issuer = issuer();
    let search =
        agent(&issuer, "search", vec![traced("search.query")], &[], TransportConfig::default())
            .await;
    let ops = search.ops_addr().unwrap();
    assert_ne!(ops, search.local_addr());
    let (status, body) = get(ops, "/health/live").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"live"}"#));
    let (status, body) = get(ops, "/health/ready").await;
    assert_eq!(status, 200);
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ready"], true);
    let names: Vec<&str> =
        report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["identity", "policy", "shutdown"]);

    let send = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {
        "messageId": "m1", "role": "ROLE_USER", "parts": [{"data": {}}],
        "metadata": {"agentweave/capability": "search.query"}}}})
    .to_string();
    let before = scrape(&search).await;
    for (method, path, body, expected) in [
        ("GET", "/", "", 404),
        ("POST", "/", send.as_str(), 404),
        ("POST", "/message:send", send.as_str(), 404),
        ("GET", "/.well-known/agent-card.json", "", 404),
        ("GET", "/tasks/t1", "", 404),
        ("GET", "/health", "", 404),
        ("GET", "/metrics/extra", "", 404),
        ("GET", "/health/ready/", "", 404),
        ("POST", "/metrics", "", 405),
        ("DELETE", "/health/live", "", 405),
    ] {
        let (status, answer) = http(ops, method, path, body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        assert!(!answer.contains("jsonrpc") && !answer.contains("spiffe"), "{path}: {answer}");
    }
    // Nothing reached the A2A pipeline.
    let after = scrape(&search).await;
    unchanged(&before, &after);
    // TLS on the ops port is not spoken: a ClientHello gets no handshake.
    let mut stream = tokio::net::TcpStream::connect(ops).await.unwrap();
    stream.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]).await.unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply).await;
    assert!(reply.first() != Some(&0x16), "no TLS handshake record from the ops port");
    search.stop().await;
    assert!(tokio::net::TcpStream::connect(ops).await.is_err(), "the ops port closes on stop");
}

/// An identity provider the test drives: publish any snapshot, or close the source.
#[derive(Debug)]
struct Controlled {
    publisher: Mutex<Option<IdentityPublisher>>,
    receiver: watch::Receiver<Arc<IdentitySnapshot>>,
}

impl Controlled {
    fn new(initial: IdentitySnapshot) -> Arc<Self> {
        let publisher = IdentityPublisher::new(initial);
        let receiver = publisher.subscribe();
        Arc::new(Self { publisher: Mutex::new(Some(publisher)), receiver })
    }

    fn publish(&self, snapshot: IdentitySnapshot) {
        self.publisher.lock().unwrap().as_ref().unwrap().publish(snapshot);
    }

    fn close(&self) {
        self.publisher.lock().unwrap().take();
    }
}

impl IdentityProvider for Controlled {
    fn watch(&self) -> watch::Receiver<Arc<IdentitySnapshot>> {
        self.receiver.clone()
    }
}

fn bundles(issuer: &DevIssuer) -> TrustBundleSet {
    TrustBundleSet::clone(&issuer.bundles().borrow())
}

/// An SVID for `me` that expired an hour ago (parsed as of its own validity window).
fn expired_svid(issuer: &DevIssuer, me: &SpiffeId) -> X509Svid {
    let now = SystemTime::now();
    let spec = LeafSpec {
        not_before: now - Duration::from_secs(7200),
        not_after: now - Duration::from_secs(3600),
        ..LeafSpec::valid(me.as_str())
    };
    let leaf = forge_leaf(issuer, &spec).unwrap();
    X509Svid::from_der_at(leaf.chain, &leaf.pkcs8_key, now - Duration::from_secs(5400)).unwrap()
}

async fn ready(agent: &SecureAgent) -> (u16, Value) {
    let (status, body) = get(agent.ops_addr().unwrap(), "/health/ready").await;
    (status, serde_json::from_str(&body).unwrap())
}

fn failing(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["detail"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn readiness_follows_the_identity() {
    let issuer = issuer();
    let me = id("search");
    let valid = || IdentitySnapshot::new(issuer.issue(&me).unwrap(), bundles(&issuer)).unwrap();
    let identity = Controlled::new(valid());
    let agent = SecureAgent::builder(me.clone(), "search")
        .identity(identity.clone())
        .policy(policy(&me, GRANTS))
        .danger_no_audit()
        .operations_listen(any_port())
        .start()
        .await
        .unwrap();
    let ops = agent.ops_addr().unwrap();
    assert_eq!(ready(&agent).await.0, 200);

    let expired = IdentitySnapshot::new(expired_svid(&issuer, &me), bundles(&issuer)).unwrap();
    let other =
        IdentitySnapshot::new(issuer.issue(&id("other")).unwrap(), bundles(&issuer)).unwrap();
    let cases = [
        (Some(expired), Some("the SVID is expired or not yet valid")),
        (Some(valid()), None),
        (Some(other), Some("the SVID names another workload than this agent")),
        (Some(valid()), None),
        // The source goes away: no SVID will be renewed.
        (None, Some("the identity source is closed: no SVID will be renewed")),
    ];
    for (snapshot, failure) in cases {
        match snapshot {
            Some(s) => identity.publish(s),
            None => identity.close(),
        }
        let (status, report) = ready(&agent).await;
        match failure {
            None => assert_eq!((status, failing(&report)), (200, vec![])),
            Some(detail) => {
                assert_eq!(status, 503, "{report}");
                assert_eq!(failing(&report), vec![("identity".to_owned(), detail.to_owned())]);
                assert_eq!(report["ready"], false);
            }
        }
        assert_eq!(agent.readiness().ready, failure.is_none());
        assert_eq!(get(ops, "/health/live").await.0, 200, "live whatever the identity");
    }
    let metrics = scrape(&agent).await;
    assert_eq!(metrics["agentweave_ready"], 0.0);
    agent.stop().await;
}

#[tokio::test]
async fn readiness_turns_503_first_when_stopping_while_in_flight_calls_finish() {
    let issuer = issuer();
    let (entered_tx, mut entered) = tokio::sync::mpsc::channel::<()>(1);
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    let slow = Capability::new("search.query", move |_| {
        let (entered_tx, gate) = (entered_tx.clone(), gate.clone());
        async move {
            let _ = entered_tx.send(()).await;
            gate.notified().await;
            Ok::<_, HandlerError>(json!({"done": true}))
        }
    });
    let search = agent(&issuer, "search", vec![slow], &[], TransportConfig::default()).await;
    let ops = search.ops_addr().unwrap();
    let orchestrator = agent(
        &issuer,
        "orchestrator",
        vec![],
        &[("search", search.endpoint().unwrap())],
        TransportConfig::default(),
    )
    .await;
    let orchestrator = Arc::new(orchestrator);
    let caller = orchestrator.clone();
    let call =
        tokio::spawn(async move { caller.call(&id("search"), "search.query", json!({})).await });
    entered.recv().await.unwrap();
    assert_eq!(get(ops, "/health/ready").await.0, 200);
    let stopping = tokio::spawn(search.stop());
    // Wait (bounded) for the stop to begin; readiness must turn while the call is in flight.
    let mut report = Value::Null;
    for _ in 0..400 {
        let (status, body) = get(ops, "/health/ready").await;
        if status == 503 {
            report = serde_json::from_str(&body).unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        failing(&report),
        vec![("shutdown".to_owned(), "the agent is shutting down".to_owned())]
    );
    assert_eq!(get(ops, "/health/live").await.0, 200);
    assert!(!call.is_finished(), "the in-flight call is still being served");
    release.notify_one();
    let outcome = call.await.unwrap().unwrap();
    assert_eq!(outcome.output, json!({"done": true}));
    stopping.await.unwrap();
    assert!(tokio::net::TcpStream::connect(ops).await.is_err());
    Arc::try_unwrap(orchestrator).unwrap().stop().await;
}

#[tokio::test]
async fn a_handler_calling_another_agent_continues_the_trace() {
    let issuer = issuer();
    let search =
        agent(&issuer, "search", vec![traced("search.query")], &[], TransportConfig::default())
            .await;
    let search_endpoint = search.endpoint().unwrap();
    // The relay's handler calls search through the relay agent itself, which it gets once the
    // agent has started.
    // A weak reference: the agent owns its capabilities, so a strong one would be a cycle.
    let relay_slot: Arc<std::sync::OnceLock<std::sync::Weak<SecureAgent>>> = Arc::default();
    let slot = relay_slot.clone();
    let ask = Capability::new("relay.ask", move |ctx| {
        let slot = slot.clone();
        async move {
            let relay = slot
                .get()
                .and_then(std::sync::Weak::upgrade)
                .ok_or_else(|| HandlerError::new("not ready"))?;
            let downstream = relay
                .call(&id("search"), "search.query", json!({}))
                .await
                .map_err(|e| HandlerError::new(e.to_string()))?;
            Ok::<_, HandlerError>(json!({
                "relay_trace_id": ctx.trace_id,
                "relay_span_id": ctx.trace.span_id.to_string(),
                "relay_parent_span_id": ctx.trace.parent_span_id.map(|s| s.to_string()),
                "call_trace_id": downstream.trace_id,
                "search": downstream.output,
            }))
        }
    });
    let relay = Arc::new(
        agent(
            &issuer,
            "relay",
            vec![ask],
            &[("search", search_endpoint)],
            TransportConfig::default(),
        )
        .await,
    );
    relay_slot.set(Arc::downgrade(&relay)).unwrap();
    let orchestrator = agent(
        &issuer,
        "orchestrator",
        vec![],
        &[("relay", relay.endpoint().unwrap())],
        TransportConfig::default(),
    )
    .await;

    // From inside a trace: every hop carries its trace id, each with its own span.
    let root = TraceContext::root();
    let outcome =
        root.scope(orchestrator.call(&id("relay"), "relay.ask", json!({}))).await.unwrap();
    let trace = root.trace_id.to_string();
    let out = &outcome.output;
    assert_eq!(outcome.trace_id, trace);
    assert_eq!(out["relay_trace_id"], trace.as_str());
    assert_eq!(out["call_trace_id"], trace.as_str());
    assert_eq!(out["search"]["trace_id"], trace.as_str());
    let spans = [
        root.span_id.to_string(),
        out["relay_span_id"].as_str().unwrap().to_owned(),
        out["search"]["span_id"].as_str().unwrap().to_owned(),
    ];
    assert!(spans[0] != spans[1] && spans[1] != spans[2] && spans[0] != spans[2], "{spans:?}");
    // The relay's parent is the orchestrator's call span, not the root itself.
    assert_ne!(out["relay_parent_span_id"], spans[0].as_str());
    assert!(out["relay_parent_span_id"].is_string());

    // Outside any trace: a fresh trace per call, still shared by every hop.
    let a = orchestrator.call(&id("relay"), "relay.ask", json!({})).await.unwrap();
    let b = orchestrator.call(&id("relay"), "relay.ask", json!({})).await.unwrap();
    assert_ne!(a.trace_id, b.trace_id);
    assert_ne!(a.trace_id, trace);
    for o in [&a, &b] {
        assert_eq!(o.output["search"]["trace_id"], o.trace_id.as_str());
        assert_eq!(o.output["relay_trace_id"], o.trace_id.as_str());
    }

    orchestrator.stop().await;
    Arc::try_unwrap(relay).unwrap().stop().await;
    search.stop().await;
}

#[tokio::test]
async fn inbound_traceparent_is_continued_only_when_well_formed() {
    let issuer = issuer();
    let search =
        agent(&issuer, "search", vec![traced("search.query")], &[], TransportConfig::default())
            .await;
    let tester = DevIdentity::start(&issuer, &id("tester")).unwrap();
    let client = MtlsTransport::new(&*tester, TransportConfig::default()).unwrap();
    let peer = Peer::new(search.endpoint().unwrap(), ExpectedPeer::exact(id("search")));
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let cases: [(&[&str], bool); 6] = [
        (&["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], true),
        (&["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"], false),
        (&["00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"], false),
        (&["ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], false),
        (
            &[
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ],
            false,
        ),
        (&[], false),
    ];
    let mut seen = Vec::new();
    for (headers, continued) in cases {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {
            "messageId": format!("message-{}", seen.len()), "role": "ROLE_USER", "parts": [{"data": {}}],
            // A trace id in the metadata is informative only: it never sets the trace.
            "metadata": {"agentweave/capability": "search.query", "agentweave/trace-id": trace}}}});
        let mut request = http::Request::post("/")
            .header("content-type", "application/json")
            .header("A2A-Version", "1.0");
        for h in headers {
            request = request.header("traceparent", *h);
        }
        let request = request.body(bytes::Bytes::from(body.to_string())).unwrap();
        let response = client.send(&peer, request, SendOptions::default()).await.unwrap();
        let answer: Value =
            serde_json::from_slice(&response.into_body().collect_bytes().await.unwrap()).unwrap();
        let status = &answer["result"]["task"]["status"];
        let data = status["message"]["parts"][0]["data"].clone();
        let got = data["trace_id"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned();
        assert_eq!(got == trace, continued, "{headers:?}");
        assert_eq!(got.len(), 32);
        assert!(got.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        seen.push(got);
    }
    let distinct: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "each restarted trace is new: {seen:?}");
    search.stop().await;
}

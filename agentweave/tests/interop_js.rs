//! Interop: the official A2A JS SDK (`@a2a-js/sdk` 1.3.0 from npm, A2A protocol 1.0) against
//! AgentWeave over mTLS with SPIFFE certificates from the dev issuer, in both directions:
//!
//! * the SDK as a CLIENT (`interop/js/client.mjs`) of a [`SecureAgent`]: card, send, get, a
//!   capability the policy refuses, a connection without a client certificate (refused in our
//!   handshake) and a server ID pin that does not match (refused by the JS side);
//! * the SDK as a SERVER (`interop/js/server.mjs`, Node's https with `requestCert` and
//!   `rejectUnauthorized`) called through [`SecureAgent::call`] and [`A2aClient`] over
//!   [`MtlsTransport`]: replies, the caller ID the JS side saw, an expected SPIFFE ID the
//!   server does not prove (refused in our handshake), a caller it does not allow, and a caller
//!   without a certificate.
//!
//! Needs `node` and `npm`; without them each test prints why and returns. The packages are
//! installed with `npm ci` into `interop/js/node_modules` (git-ignored) on first use.

mod js_support;

mod support;
use support::{audit, id, issuer, policy};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use agentweave::agent::{CallError, Capability, HandlerError, SecureAgent};
use agentweave_a2a::client::{A2aClient, ClientConfig, ClientError};
use agentweave_a2a::types::{Message, Part, SendMessageRequest, SendMessageResponse, TaskState};
use agentweave_identity::SpiffeId;
use agentweave_identity::dev::DevIssuer;
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    Endpoint, ExpectedPeer, HandshakeRefusal, MtlsTransport, Peer, TransportConfig, TransportError,
};
use serde_json::{Value, json};

/// Who may do what: the JS client may call `echo` (and read its task) on the `echo` agent but
/// not `admin`; the orchestrator and mallory may call out to the JS peer (the JS peer itself
/// allows only the orchestrator).
/// The grants of this file's agents (see `support::grants_policy`).
const GRANTS: &str = r#"
  ["inbound",  "js-client",    "echo",    "echo"],
  ["inbound",  "js-client",    "echo",    "GetTask"],
  ["outbound", "orchestrator", "js-peer", "echo"],
  ["outbound", "mallory",      "js-peer", "echo"],
"#;

/// The JS packages, or `None` after printing why the test is skipped.
async fn js_dir(test: &str) -> Option<PathBuf> {
    match tokio::task::spawn_blocking(js_support::installed).await.unwrap() {
        Ok(dir) => Some(dir),
        Err(reason) => {
            eprintln!("SKIPPED {test}: {reason}");
            None
        }
    }
}

/// PEM files for a Node peer: its SVID chain and key, and the trust bundle.
struct PemFiles {
    cert: PathBuf,
    key: PathBuf,
    bundle: PathBuf,
}

fn write_pems(issuer: &DevIssuer, who: &SpiffeId, dir: &Path) -> PemFiles {
    let svid = issuer.issue(who).unwrap();
    let name = who.path().trim_start_matches('/').replace('/', "_");
    let files = PemFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        bundle: dir.join("bundle.pem"),
    };
    std::fs::write(&files.cert, svid.chain_pem()).unwrap();
    std::fs::write(&files.key, svid.private_key_pem()).unwrap();
    std::fs::write(&files.bundle, issuer.bundle().to_pem()).unwrap();
    files
}

fn args(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs.iter().flat_map(|(k, v)| [format!("--{k}"), (*v).to_owned()]).collect()
}

/// Arguments of `probe.mjs`: one card fetch from `url` expecting `server_id`, with the client
/// certificate in `pems` or without any.
fn probe_args(url: &str, pems: &PemFiles, server_id: &SpiffeId, with_cert: bool) -> Vec<String> {
    let mut pairs = vec![
        ("url", url),
        ("ca", pems.bundle.to_str().unwrap()),
        ("server-id", server_id.as_str()),
    ];
    if with_cert {
        pairs.extend([("cert", pems.cert.to_str().unwrap()), ("key", pems.key.to_str().unwrap())]);
    }
    args(&pairs)
}

/// The `code`s along a JS error's cause chain, as `describe()` in `spiffe_tls.mjs` prints it.
fn codes(error: &Value) -> Vec<String> {
    error
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["code"].as_str())
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sdk_client_calls_our_agent_over_mtls() {
    let Some(js) = js_dir("js_sdk_client_calls_our_agent_over_mtls").await else { return };
    let issuer = issuer();
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");

    let me = id("echo");
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let admin_runs: Arc<Mutex<u32>> = Arc::default();
    let echo = {
        let seen = seen.clone();
        Capability::new("echo", move |ctx| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(ctx.caller.to_string());
                Ok::<_, HandlerError>(
                    json!({"echo": ctx.payload, "caller": ctx.caller.to_string()}),
                )
            }
        })
    };
    let admin = {
        let runs = admin_runs.clone();
        Capability::new("admin", move |_| {
            let runs = runs.clone();
            async move {
                *runs.lock().unwrap() += 1;
                Ok::<_, HandlerError>(json!({"admin": true}))
            }
        })
    };
    let agent = SecureAgent::builder(me.clone(), "echo")
        .identity(DevIdentity::start(&issuer, &me).unwrap())
        .policy(policy(&me, GRANTS))
        .audit(audit(&audit_path))
        .capability(echo)
        .capability(admin)
        .start()
        .await
        .unwrap();

    let js_client = id("js-client");
    let pems = write_pems(&issuer, &js_client, dir.path());
    let url = format!("https://{}", agent.local_addr());
    let payload = json!({"order": 42, "items": ["a", "b"]});
    let summary = js_support::run_script(
        &js,
        "client.mjs",
        &args(&[
            ("url", &url),
            ("cert", pems.cert.to_str().unwrap()),
            ("key", pems.key.to_str().unwrap()),
            ("ca", pems.bundle.to_str().unwrap()),
            ("server-id", me.as_str()),
            ("capability", "echo"),
            ("payload", &payload.to_string()),
            ("denied-capability", "admin"),
            ("impostor-id", id("impostor").as_str()),
        ]),
    )
    .await;
    eprintln!("client.mjs: {summary}");
    assert_eq!(summary["ok"], true, "{summary}");

    // Discovery: our card, read by the SDK, names us; the SDK speaks 1.0 to it.
    assert_eq!(summary["card"]["name"], "echo");
    assert_eq!(summary["card"]["spiffeId"], me.as_str());
    assert_eq!(summary["card"]["protocolVersion"], "1.0");

    // Send and get: the handler ran once, for the JS client's SPIFFE ID from its certificate.
    let send = &summary["send"];
    assert_eq!(send["state"], "TASK_STATE_COMPLETED", "{send}");
    assert_eq!(send["output"], json!({"echo": payload, "caller": js_client.as_str()}));
    assert_eq!(summary["get"]["taskId"], send["taskId"]);
    assert_eq!(summary["get"]["state"], "TASK_STATE_COMPLETED");
    assert_eq!(*seen.lock().unwrap(), [js_client.to_string()]);

    // A capability our policy does not grant the JS client: refused, handler never run.
    let denied = &summary["denied"];
    assert_eq!(denied["refused"], true, "{denied}");
    let rpc_codes: Vec<i64> = denied["error"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["rpcCode"].as_i64())
        .collect();
    assert_eq!(rpc_codes, [-32031], "PermissionDenied expected: {denied}");
    assert_eq!(*admin_runs.lock().unwrap(), 0);

    // No client certificate: refused. The JS side only sees the connection close, so the
    // cause is read from our server: probe.mjs alone, then the reason of the last refusal;
    // with a certificate the same probe gets the card (the control).
    let no_cert = &summary["noClientCert"];
    assert_eq!(no_cert["refused"], true, "{no_cert}");
    let probe = |with_cert: bool| probe_args(&url, &pems, &me, with_cert);
    let anonymous = js_support::run_script(&js, "probe.mjs", &probe(false)).await;
    assert_eq!(anonymous["refused"], true, "{anonymous}");
    let stats = agent.server_stats();
    assert_eq!(stats.last_refusal, Some(HandshakeRefusal::NoPeerCertificate), "{stats:?}");
    let control = js_support::run_script(&js, "probe.mjs", &probe(true)).await;
    assert_eq!(control, json!({"refused": false, "status": 200}));

    // A pin on another server ID: the JS side refuses our certificate before any request.
    let wrong = &summary["wrongServerId"];
    assert_eq!(wrong["refused"], true, "{wrong}");
    assert!(codes(&wrong["error"]).iter().any(|c| c == "ERR_SPIFFE_ID_MISMATCH"), "{wrong}");

    agent.stop().await;
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    let records: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let decided = |action: &str, allowed: bool| {
        records.iter().any(|r| {
            r["direction"] == "inbound"
                && r["action"] == action
                && r["allowed"] == allowed
                && r["caller"] == js_client.as_str()
        })
    };
    assert!(decided("echo", true), "{audit}");
    assert!(decided("GetTask", true), "{audit}");
    assert!(decided("admin", false), "{audit}");
}

/// A [`SecureAgent`] that only calls out (no capabilities), with `js-peer` in its peer map.
async fn caller(issuer: &Arc<DevIssuer>, name: &str, js_peer: Endpoint) -> SecureAgent {
    let me = id(name);
    SecureAgent::builder(me.clone(), name)
        .identity(DevIdentity::start(issuer, &me).unwrap())
        .policy(policy(&me, GRANTS))
        .danger_no_audit()
        .peer(id("js-peer"), js_peer)
        .start()
        .await
        .unwrap()
}

/// `server.mjs` as `js-peer` with `pems`, plus `extra` options; its process and port.
async fn start_js_server(
    js: &Path,
    pems: &PemFiles,
    extra: &[(&str, &str)],
) -> (tokio::process::Child, u16) {
    let mut pairs = vec![
        ("port", "0"),
        ("cert", pems.cert.to_str().unwrap()),
        ("key", pems.key.to_str().unwrap()),
        ("ca", pems.bundle.to_str().unwrap()),
        ("id", "spiffe://example.org/agent/js-peer"),
    ];
    pairs.extend_from_slice(extra);
    js_support::start_server(js, &args(&pairs)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_agent_calls_the_js_sdk_server_over_mtls() {
    let Some(js) = js_dir("our_agent_calls_the_js_sdk_server_over_mtls").await else { return };
    let issuer = issuer();
    let dir = tempfile::tempdir().unwrap();
    let js_peer = id("js-peer");
    let orchestrator = id("orchestrator");
    let pems = write_pems(&issuer, &js_peer, dir.path());
    let (mut server, port) = start_js_server(&js, &pems, &[("allow", orchestrator.as_str())]).await;
    let endpoint = Endpoint::new("127.0.0.1", port).unwrap();

    // The facade: outbound policy, SendMessage, the JS executor's data part back.
    let agent = caller(&issuer, "orchestrator", endpoint.clone()).await;
    let payload = json!({"amount": 7, "currency": "EUR"});
    let outcome = agent.call(&js_peer, "echo", payload.clone()).await.unwrap();
    assert_eq!(
        outcome.output,
        json!({
            "agent": js_peer.as_str(),
            "caller": orchestrator.as_str(),
            "capability": "echo",
            "echo": payload,
        })
    );
    assert!(outcome.verdict.is_none());

    // The A2A client: discovery pins the card's SPIFFE ID (checked against the handshake),
    // then a text message comes back as a completed task with the SDK's artifact.
    let identity = DevIdentity::start(&issuer, &orchestrator).unwrap();
    let transport: Arc<dyn agentweave_transport::Transport> =
        Arc::new(MtlsTransport::new(&*identity, TransportConfig::default()).unwrap());
    let peer = Peer::new(endpoint.clone(), ExpectedPeer::exact(js_peer.clone()));
    let client =
        A2aClient::discover(transport.clone(), peer, ClientConfig::default()).await.unwrap();
    assert_eq!(client.card().name, "js-sdk-agent");
    assert_eq!(client.card().spiffe_id(), Some(js_peer.as_str()));
    let request = SendMessageRequest {
        tenant: String::new(),
        message: Message::user(vec![Part::text("hello from rust")]),
        configuration: None,
        metadata: None,
    };
    let SendMessageResponse::Task(task) = client.send_message(request).await.unwrap() else {
        panic!("the JS executor answers with a task")
    };
    assert_eq!(task.status.state, TaskState::Completed);
    let artifact = task.artifacts.iter().find(|a| a.name == "result").expect("a result artifact");
    let data = artifact.parts.iter().find_map(Part::as_data).expect("a data part");
    assert_eq!(data["echo"], "hello from rust");
    assert_eq!(data["caller"], orchestrator.as_str());
    assert_eq!(data["capability"], Value::Null);

    // Expecting another SPIFFE ID: our handshake refuses the JS server's certificate.
    let impostor = Peer::new(endpoint.clone(), ExpectedPeer::exact(id("impostor")));
    let error = A2aClient::discover(transport.clone(), impostor, ClientConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ClientError::Transport(TransportError::HandshakeRefused {
                reason: HandshakeRefusal::PeerMismatch { presented, .. },
                ..
            }) if *presented == js_peer
        ),
        "{error:?}"
    );

    // A caller with a valid SVID that the JS server does not allow: permission denied.
    let mallory = caller(&issuer, "mallory", endpoint).await;
    let error = mallory.call(&js_peer, "echo", payload).await.unwrap_err();
    assert!(
        matches!(&error, CallError::RemoteDenied { message, .. } if message.contains("mallory")),
        "{error:?}"
    );

    // No client certificate: Node's TLS refuses; with one, the same URL answers (control).
    let url = format!("https://127.0.0.1:{port}");
    let probe = |with_cert: bool| probe_args(&url, &pems, &js_peer, with_cert);
    let anonymous = js_support::run_script(&js, "probe.mjs", &probe(false)).await;
    assert_eq!(anonymous["refused"], true, "{anonymous}");
    let control = js_support::run_script(&js, "probe.mjs", &probe(true)).await;
    assert_eq!(control, json!({"refused": false, "status": 200}));

    agent.stop().await;
    mallory.stop().await;
    server.kill().await.unwrap();
}

/// A2A 1.0 carries the card in the ProtoJSON mapping, where a `SecurityScheme` is
/// `{"mtlsSecurityScheme": {…}}`. The SDK's `agentCardHandler` (1.3.0) sends `JSON.stringify` of
/// its in-memory card instead, whose oneof is `{"scheme": {"$case": …, "value": …}}`; our
/// client refuses that card by name. `server.mjs` bridges it by default (it hands the handler
/// `AgentCard.toJSON(card)`); this test pins the difference so that an SDK upgrade that fixes
/// it shows up here and the bridge can go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_sdk_default_card_encoding_is_not_protojson() {
    let Some(js) = js_dir("the_js_sdk_default_card_encoding_is_not_protojson").await else {
        return;
    };
    let issuer = issuer();
    let dir = tempfile::tempdir().unwrap();
    let js_peer = id("js-peer");
    let orchestrator = id("orchestrator");
    let pems = write_pems(&issuer, &js_peer, dir.path());
    let identity = DevIdentity::start(&issuer, &orchestrator).unwrap();
    let transport: Arc<dyn agentweave_transport::Transport> =
        Arc::new(MtlsTransport::new(&*identity, TransportConfig::default()).unwrap());
    for (encoding, parses) in [("sdk-default", false), ("protojson", true)] {
        let (mut server, port) =
            start_js_server(&js, &pems, &[("allow", orchestrator.as_str()), ("card", encoding)])
                .await;
        let peer = Peer::new(
            Endpoint::new("127.0.0.1", port).unwrap(),
            ExpectedPeer::exact(js_peer.clone()),
        );
        let result = A2aClient::discover(transport.clone(), peer, ClientConfig::default()).await;
        match result {
            Ok(client) => {
                assert!(parses, "{encoding}: the card parsed");
                assert_eq!(client.card().name, "js-sdk-agent");
            }
            Err(ClientError::MalformedResponse { detail }) => {
                assert!(!parses, "{encoding}: {detail}");
                assert!(detail.contains("unknown variant `scheme`"), "{encoding}: {detail}");
            }
            Err(other) => panic!("{encoding}: {other:?}"),
        }
        server.kill().await.unwrap();
    }
}

//! Our client against our server over real mutual TLS (`MtlsServer` + `MtlsTransport`, dev
//! SVIDs), on both bindings: discovery and identity pinning, send, stream, get, list, cancel,
//! subscribe, push configuration CRUD, the extended card, typed remote errors; and the
//! identity rules' negative cases.

mod client_support;
use client_support::requests::{remote_kind, send, state_of, task_of};
mod common;

use std::sync::Arc;

use agentweave_a2a::ErrorKind;
use agentweave_a2a::client::{A2aClient, A2aStream, Binding, ClientConfig, ClientError};
use agentweave_a2a::server::A2aServer;
use agentweave_a2a::types::{
    AgentCard, AgentInterface, CancelTaskRequest, DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest, GetTaskRequest, ListTaskPushNotificationConfigsRequest,
    ListTasksRequest, Part, SPIFFE_ID_EXTENSION_PARAM, SPIFFE_ID_EXTENSION_URI,
    SendMessageConfiguration, SendMessageResponse, StreamResponse, SubscribeToTaskRequest,
    TaskPushNotificationConfig, TaskState,
};
use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::{SpiffeId, TrustDomain};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    Endpoint, ExpectedPeer, HandshakeRefusal, MtlsServer, MtlsTransport, Peer, PeerIdentity,
    ServerConfig, ServerHandle, Transport, TransportConfig, TransportError,
};
use futures::StreamExt as _;
use http::Request;
use hyper::body::Incoming;
use serde_json::json;

const SERVER_ID: &str = "spiffe://example.org/agent/test";

struct World {
    _issuer: Arc<DevIssuer>,
    _server_identity: Arc<DevIdentity>,
    _caller_identity: Arc<DevIdentity>,
    server: ServerHandle,
    transport: Arc<dyn Transport>,
}

impl World {
    fn peer(&self, expected: ExpectedPeer) -> Peer {
        Peer::new(Endpoint::from(self.server.local_addr()), expected)
    }

    fn domain_peer(&self) -> Peer {
        self.peer(ExpectedPeer::member_of(TrustDomain::new("example.org").unwrap()))
    }
}

/// The A2A server reads the caller from a `SpiffeId` request extension; the mTLS listener
/// provides a `PeerIdentity`. The facade bridges the two; so does this test.
fn with_caller_id(mut request: Request<Incoming>) -> Request<Incoming> {
    if let Some(peer) = request.extensions().get::<PeerIdentity>().cloned() {
        request.extensions_mut().insert(peer.0);
    }
    request
}

/// An mTLS A2A server for `agent/test` (its card claims `claimed_id`), and a transport for
/// `agent/alice`.
async fn world(claimed_id: &str) -> World {
    let td = TrustDomain::new("example.org").unwrap();
    let issuer = DevIssuer::start(td, DevIssuerConfig::default()).unwrap();
    let server_identity =
        DevIdentity::start(&issuer, &SpiffeId::parse(SERVER_ID).unwrap()).unwrap();
    let caller_identity = DevIdentity::start(&issuer, &common::alice()).unwrap();
    let listener = MtlsServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        &*server_identity,
        ServerConfig::default(),
    )
    .await
    .unwrap();
    let base = format!("https://{}", listener.local_addr());
    let mut card = common::card();
    card.supported_interfaces = vec![
        AgentInterface {
            url: format!("{base}/"),
            protocol_binding: "JSONRPC".into(),
            tenant: String::new(),
            protocol_version: "1.0".into(),
        },
        AgentInterface {
            url: format!("{base}/rest"),
            protocol_binding: "HTTP+JSON".into(),
            tenant: String::new(),
            protocol_version: "1.0".into(),
        },
    ];
    set_claim(&mut card, claimed_id);
    card.capabilities.extended_agent_card = Some(true);
    let mut extended = card.clone();
    extended.name = "test (extended)".into();
    let server = A2aServer::builder(card, Arc::new(common::TestExecutor))
        .rest_prefix("/rest")
        .extended_card(extended)
        .build()
        .unwrap();
    let service = tower::ServiceBuilder::new()
        .map_request(with_caller_id as fn(Request<Incoming>) -> Request<Incoming>)
        .service(server.router());
    let server = listener.serve_tower(service);
    let transport = MtlsTransport::new(&*caller_identity, TransportConfig::default()).unwrap();
    World {
        _issuer: issuer,
        _server_identity: server_identity,
        _caller_identity: caller_identity,
        server,
        transport: Arc::new(transport),
    }
}

fn set_claim(card: &mut AgentCard, id: &str) {
    for ext in &mut card.capabilities.extensions {
        if ext.uri == SPIFFE_ID_EXTENSION_URI {
            let mut params = serde_json::Map::new();
            params.insert(SPIFFE_ID_EXTENSION_PARAM.into(), json!(id));
            ext.params = Some(params);
        }
    }
}

fn config(binding: Binding) -> ClientConfig {
    ClientConfig { bindings: vec![binding], ..ClientConfig::default() }
}

async fn collect(stream: A2aStream) -> Vec<StreamResponse> {
    stream.map(|item| item.unwrap()).collect().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_over_mtls_on_both_bindings() {
    let w = world(SERVER_ID).await;
    for binding in [Binding::JsonRpc, Binding::HttpJson] {
        let client = A2aClient::discover(w.transport.clone(), w.domain_peer(), config(binding))
            .await
            .unwrap();
        assert_eq!(client.interface().binding, binding);
        // The card's SPIFFE ID, checked against the handshake, is pinned for later calls.
        assert_eq!(
            client.peer().expected,
            ExpectedPeer::exact(SpiffeId::parse(SERVER_ID).unwrap())
        );

        // Send: a completed task echoing the text.
        let done = task_of(client.send_message(send("complete", "hello")).await.unwrap());
        assert_eq!(done.status.state, TaskState::Completed, "{binding}");
        assert_eq!(done.status.message.as_ref().unwrap().text(), "echo hello");
        // A direct reply.
        match client.send_message(send("reply", "x")).await.unwrap() {
            SendMessageResponse::Message(m) => assert_eq!(m.text(), "direct"),
            other => panic!("{binding}: expected a message, got {other:?}"),
        }

        // Stream: task snapshot, working, artifact, completed; the stream then ends.
        let items =
            collect(client.send_streaming_message(send("artifact", "s")).await.unwrap()).await;
        assert!(matches!(items.first(), Some(StreamResponse::Task(_))), "{binding}: {items:?}");
        assert!(items.iter().any(|i| matches!(i, StreamResponse::ArtifactUpdate(a)
            if a.artifact.parts.first().and_then(Part::as_text) == Some("out"))));
        assert_eq!(items.last().and_then(state_of), Some(TaskState::Completed), "{binding}");
        let streamed_id = items.first().and_then(StreamResponse::task_id).unwrap().to_owned();

        // Get, with history trimmed.
        let got = client
            .task(GetTaskRequest {
                tenant: String::new(),
                id: done.id.clone(),
                history_length: Some(0),
            })
            .await
            .unwrap();
        assert_eq!((got.id.as_str(), got.status.state), (done.id.as_str(), TaskState::Completed));
        assert!(got.history.is_empty());

        // List: the caller's tasks, filtered by state.
        let listed = client
            .list_tasks(ListTasksRequest { status: TaskState::Completed, ..Default::default() })
            .await
            .unwrap();
        let ids: Vec<&str> = listed.tasks.iter().map(|t| t.id.as_str()).collect();
        assert!(ids.contains(&done.id.as_str()) && ids.contains(&streamed_id.as_str()), "{ids:?}");
        assert!(listed.tasks.iter().all(|t| t.status.state == TaskState::Completed));

        // Subscribe to a running task, cancel it, and watch the stream end canceled.
        let mut slow = send("slow", "wait");
        slow.configuration =
            Some(SendMessageConfiguration { return_immediately: true, ..Default::default() });
        let running = task_of(client.send_message(slow).await.unwrap());
        let mut events = client
            .subscribe(SubscribeToTaskRequest { tenant: String::new(), id: running.id.clone() })
            .await
            .unwrap();
        let first = events.next().await.unwrap().unwrap();
        assert!(matches!(&first, StreamResponse::Task(t) if t.id == running.id), "{first:?}");
        let cancel = |id: &str| CancelTaskRequest {
            tenant: String::new(),
            id: id.to_owned(),
            metadata: None,
        };
        let canceled = client.cancel_task(cancel(&running.id)).await.unwrap();
        assert_eq!(canceled.status.state, TaskState::Canceled, "{binding}");
        let rest: Vec<StreamResponse> = events.map(|i| i.unwrap()).collect().await;
        assert_eq!(
            rest.last().and_then(state_of),
            Some(TaskState::Canceled),
            "{binding}: {rest:?}"
        );
        // Errors come back typed, with their ErrorInfo metadata.
        let again = client.cancel_task(cancel(&running.id)).await.unwrap_err();
        assert_eq!(remote_kind(&again), ErrorKind::TaskNotCancelable, "{binding}");
        let missing = client
            .task(GetTaskRequest {
                tenant: String::new(),
                id: "no such task".into(),
                history_length: None,
            })
            .await
            .unwrap_err();
        assert_eq!(remote_kind(&missing), ErrorKind::TaskNotFound, "{binding}");
        assert_eq!(missing.remote().unwrap().metadata["taskId"], "no such task");

        // Push notification configs: create, get, list, delete.
        let created = client
            .create_push_config(TaskPushNotificationConfig {
                tenant: String::new(),
                id: String::new(),
                task_id: done.id.clone(),
                url: "http://93.184.216.34/hook".into(),
                token: "t0k3n".into(),
                authentication: None,
            })
            .await
            .unwrap();
        assert!(!created.id.is_empty());
        let fetched = client
            .push_config(GetTaskPushNotificationConfigRequest {
                tenant: String::new(),
                task_id: done.id.clone(),
                id: created.id.clone(),
            })
            .await
            .unwrap();
        assert_eq!(fetched.url, "http://93.184.216.34/hook");
        let list = |task_id: &str| ListTaskPushNotificationConfigsRequest {
            tenant: String::new(),
            task_id: task_id.to_owned(),
            page_size: 0,
            page_token: String::new(),
        };
        let configs = client.list_push_configs(list(&done.id)).await.unwrap().configs;
        assert_eq!(
            configs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            [created.id.as_str()]
        );
        client
            .delete_push_config(DeleteTaskPushNotificationConfigRequest {
                tenant: String::new(),
                task_id: done.id.clone(),
                id: created.id.clone(),
            })
            .await
            .unwrap();
        assert!(client.list_push_configs(list(&done.id)).await.unwrap().configs.is_empty());
        // The SSRF guard's refusal arrives as InvalidParams with its field violation.
        let refused = client
            .create_push_config(TaskPushNotificationConfig {
                tenant: String::new(),
                id: String::new(),
                task_id: done.id.clone(),
                url: "http://169.254.169.254/latest".into(),
                token: String::new(),
                authentication: None,
            })
            .await
            .unwrap_err();
        assert_eq!(remote_kind(&refused), ErrorKind::InvalidParams, "{binding}");
        assert_eq!(refused.remote().unwrap().field_violations[0].0, "url");

        // The extended card, whose claim is checked like the public card's.
        assert_eq!(client.extended_card().await.unwrap().name, "test (extended)");
    }
    w.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_claiming_another_identity_than_the_mtls_peer_is_refused() {
    // The server proves agent/test but its card claims agent/payments.
    let w = world("spiffe://example.org/agent/payments").await;
    let err = A2aClient::discover(w.transport.clone(), w.domain_peer(), ClientConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::CardIdentityMismatch { claimed, verified }
            if claimed == "spiffe://example.org/agent/payments" && verified == SERVER_ID),
        "{err:?}"
    );

    // Built from that card without discovery, the claim is pinned: the transport then refuses
    // the real server in the handshake, before any A2A request is sent.
    let card: AgentCard = {
        let mut c = common::card();
        c.supported_interfaces[0].url = "https://127.0.0.1/".into();
        set_claim(&mut c, "spiffe://example.org/agent/payments");
        c
    };
    let client = A2aClient::from_card(
        w.transport.clone(),
        w.domain_peer(),
        card.clone(),
        ClientConfig::default(),
    )
    .unwrap();
    let err = client.send_message(send("complete", "x")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Transport(TransportError::HandshakeRefused {
                reason: HandshakeRefusal::PeerMismatch { .. },
                ..
            })
        ),
        "{err:?}"
    );

    // A claim outside what the caller expects is refused before any traffic.
    let only_test = w.peer(ExpectedPeer::exact(SpiffeId::parse(SERVER_ID).unwrap()));
    let err = A2aClient::from_card(w.transport.clone(), only_test, card, ClientConfig::default())
        .unwrap_err();
    assert!(matches!(err, ClientError::CardIdentityUnexpected { .. }), "{err:?}");
    w.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_expecting_someone_else_never_reaches_the_card() {
    let w = world(SERVER_ID).await;
    let other =
        w.peer(ExpectedPeer::exact(SpiffeId::parse("spiffe://example.org/agent/other").unwrap()));
    let err =
        A2aClient::discover(w.transport.clone(), other, ClientConfig::default()).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Transport(e) if matches!(e.handshake_refusal(),
            Some(HandshakeRefusal::PeerMismatch { .. }))),
        "{err:?}"
    );
    w.server.shutdown().await;
}

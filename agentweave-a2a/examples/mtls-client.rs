//! An A2A client and server over mutual TLS with dev SPIFFE identities: the client discovers
//! the card, checks and pins the server's SPIFFE ID, sends a message and streams another.
//!
//! ```text
//! cargo run -p agentweave-a2a --example mtls-client
//! ```

use std::sync::Arc;

use agentweave_a2a::client::{A2aClient, ClientConfig};
use agentweave_a2a::server::{A2aServer, AgentExecutor, EventSink, ExecutorError, RequestContext};
use agentweave_a2a::types::{
    AgentCapabilities, AgentCard, AgentExtension, AgentInterface, Message, Part,
    SPIFFE_ID_EXTENSION_PARAM, SPIFFE_ID_EXTENSION_URI, SendMessageRequest, SendMessageResponse,
};
use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::{SpiffeId, TrustDomain};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    Endpoint, ExpectedPeer, MtlsServer, MtlsTransport, Peer, PeerIdentity, ServerConfig,
    TransportConfig,
};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use hyper::body::Incoming;

/// Echoes the text of each message and completes the task.
struct Echo;

impl AgentExecutor for Echo {
    fn execute(
        &self,
        ctx: RequestContext,
        sink: EventSink,
    ) -> BoxFuture<'static, Result<(), ExecutorError>> {
        Box::pin(async move {
            let reply =
                sink.agent_message(vec![Part::text(format!("echo {}", ctx.message.text()))]);
            sink.complete(Some(reply)).await.map_err(|e| ExecutorError(e.to_string()))
        })
    }
}

fn card(base: &str, id: &SpiffeId) -> AgentCard {
    let mut params = serde_json::Map::new();
    params.insert(SPIFFE_ID_EXTENSION_PARAM.into(), serde_json::json!(id.to_string()));
    AgentCard {
        name: "echo".into(),
        description: "echoes messages".into(),
        supported_interfaces: vec![AgentInterface {
            url: format!("{base}/"),
            protocol_binding: "JSONRPC".into(),
            tenant: String::new(),
            protocol_version: "1.0".into(),
        }],
        provider: None,
        version: "1".into(),
        documentation_url: None,
        capabilities: AgentCapabilities {
            streaming: Some(true),
            push_notifications: None,
            extensions: vec![AgentExtension {
                uri: SPIFFE_ID_EXTENSION_URI.into(),
                description: "SPIFFE ID of this agent".into(),
                required: false,
                params: Some(params),
            }],
            extended_agent_card: None,
        },
        security_schemes: Default::default(),
        security_requirements: vec![],
        default_input_modes: vec!["text/plain".into()],
        default_output_modes: vec!["text/plain".into()],
        skills: vec![],
        signatures: vec![],
        icon_url: None,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let td = TrustDomain::new("example.org")?;
    let issuer = DevIssuer::start(td.clone(), DevIssuerConfig::default())?;
    let echo_id = SpiffeId::agent(&td, "echo", None)?;
    let echo = DevIdentity::start(&issuer, &echo_id)?;
    let planner = DevIdentity::start(&issuer, &SpiffeId::agent(&td, "planner", None)?)?;

    let listener =
        MtlsServer::bind("127.0.0.1:0".parse()?, &*echo, ServerConfig::default()).await?;
    let base = format!("https://{}", listener.local_addr());
    let server = A2aServer::builder(card(&base, &echo_id), Arc::new(Echo)).build()?;
    // The A2A server reads the caller's `SpiffeId`; the listener provides a `PeerIdentity`.
    let bridge = |mut request: http::Request<Incoming>| {
        if let Some(peer) = request.extensions().get::<PeerIdentity>().cloned() {
            request.extensions_mut().insert(peer.0);
        }
        request
    };
    let handle = listener.serve_tower(
        tower::ServiceBuilder::new()
            .map_request(bridge as fn(http::Request<Incoming>) -> http::Request<Incoming>)
            .service(server.router()),
    );

    // The planner only knows the endpoint and that the agent is in its trust domain; the card
    // names the exact ID, which must match the handshake and is pinned from then on.
    let transport = Arc::new(MtlsTransport::new(&*planner, TransportConfig::default())?);
    let peer = Peer::new(Endpoint::from(handle.local_addr()), ExpectedPeer::member_of(td));
    let client = A2aClient::discover(transport, peer, ClientConfig::default()).await?;
    println!("discovered {:?}; pinned {}", client.card().name, client.peer().expected);

    let request = |text: &str| SendMessageRequest {
        tenant: String::new(),
        message: Message::user(vec![Part::text(text)]),
        configuration: None,
        metadata: None,
    };
    if let SendMessageResponse::Task(task) = client.send_message(request("hello")).await? {
        let reply = task.status.message.map(|m| m.text()).unwrap_or_default();
        println!("task {} is {:?}: {reply}", task.id, task.status.state);
    }
    let mut stream = client.send_streaming_message(request("streamed")).await?;
    while let Some(item) = stream.next().await {
        println!("stream item: {:?}", item?.task_id());
    }
    handle.shutdown().await;
    Ok(())
}

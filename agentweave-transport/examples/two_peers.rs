//! Two agents with dev identities exchange a request over mutual TLS. The server prints the
//! caller's SPIFFE ID as proven in the handshake; the client prints the server's; then a caller
//! expecting another identity is refused before anything is sent.
//!
//! ```text
//! cargo run -p agentweave-transport --features test-util --example two_peers
//! ```

use std::convert::Infallible;

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::{SpiffeId, TrustDomain};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    Endpoint, ExpectedPeer, MtlsServer, MtlsTransport, Peer, PeerIdentity, SendOptions,
    ServerConfig, Transport, TransportConfig,
};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let trust_domain = TrustDomain::new("example.org")?;
    let issuer = DevIssuer::start(trust_domain.clone(), DevIssuerConfig::default())?;
    let search_id = SpiffeId::agent(&trust_domain, "search", None)?;
    let planner_id = SpiffeId::agent(&trust_domain, "planner", None)?;
    let search = DevIdentity::start(&issuer, &search_id)?;
    let planner = DevIdentity::start(&issuer, &planner_id)?;

    // The search agent serves; its handler learns the caller from the TLS layer, not a header.
    let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
        let caller = request.extensions().get::<PeerIdentity>().cloned();
        let caller = caller.map_or_else(|| "nobody".to_owned(), |p| p.to_string());
        println!("[search ] request {} from verified peer {caller}", request.uri().path());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!("hello, {caller}")))))
    });
    let server = MtlsServer::bind("127.0.0.1:0".parse()?, &*search, ServerConfig::default())
        .await?
        .serve(service);
    println!("[search ] listening on {} as {search_id}", server.local_addr());

    // The planner calls it, requiring exactly the search agent's identity.
    let transport = MtlsTransport::new(&*planner, TransportConfig::default())?;
    let peer = Peer::new(Endpoint::from(server.local_addr()), ExpectedPeer::exact(search_id));
    let request = Request::post("/tasks").body(Bytes::from_static(b"{}"))?;
    let response = transport.send(&peer, request, SendOptions::default()).await?;
    let verified = response.extensions().get::<PeerIdentity>().cloned();
    let status = response.status();
    let body = response.into_body().collect_bytes().await?;
    println!(
        "[planner] {status} from verified peer {}: {}",
        verified.map_or_else(|| "?".to_owned(), |p| p.to_string()),
        String::from_utf8_lossy(&body)
    );

    // A caller that expects someone else never sends the request.
    let impostor = Peer::new(
        Endpoint::from(server.local_addr()),
        ExpectedPeer::exact(SpiffeId::agent(&trust_domain, "payments", None)?),
    );
    let request = Request::post("/tasks").body(Bytes::from_static(b"{}"))?;
    match transport.send(&impostor, request, SendOptions::default()).await {
        Ok(response) => return Err(format!("unexpectedly accepted: {}", response.status()).into()),
        Err(error) => println!("[planner] refused as expected: {error}"),
    }

    server.shutdown().await;
    Ok(())
}

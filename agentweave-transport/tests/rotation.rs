//! Hot SVID rotation under load, and federation.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agentweave_identity::IdentityProvider;
use agentweave_identity::rustls_pki_types::ServerName;
use agentweave_transport::tls::SpiffeTls;
use agentweave_transport::{
    Endpoint, ExpectedPeer, HandshakeRefusal, HttpVersions, MtlsTransport, Peer, PoolConfig,
    SendOptions, ServerConfig, TlsVersions, Transport, TransportConfig,
};
use bytes::Bytes;
use common::*;

/// Clients send continuously for 11 s while both the server's and the clients' SVIDs are renewed
/// every second. Pooled connections keep working across rotations, new handshakes present the
/// new SVIDs, and not one request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_every_second_under_load_drops_nothing() {
    let ca = issuer("example.org");
    let server_identity = identity(&ca, SERVER);
    let (server, hits) = start_server(server_identity.clone(), ServerConfig::default()).await;
    let client_identity = identity(&ca, CLIENT);
    let peer = Peer::new(Endpoint::from(server.local_addr()), ExpectedPeer::exact(id(SERVER)));

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let echoed_serials = Arc::new(std::sync::Mutex::new(BTreeSet::<String>::new()));

    // Long-lived pooled clients (HTTP/2 shared connection, and HTTP/1.1 connections that expire
    // after 50 ms idle so that new handshakes happen continuously), plus a client that opens a
    // fresh transport (a fresh handshake) for every request.
    let pooled_h2 = MtlsTransport::new(&*client_identity, TransportConfig::default()).unwrap();
    let churning_h1 = MtlsTransport::new(
        &*client_identity,
        TransportConfig {
            http: HttpVersions::Http1Only,
            pool: PoolConfig::with(4, 100, Duration::from_millis(50)),
            ..TransportConfig::default()
        },
    )
    .unwrap();
    let mut workers = Vec::new();
    for (kind, transport, pause) in [
        ("pooled-h2", Some(pooled_h2.clone()), 0),
        ("pooled-h2", Some(pooled_h2.clone()), 0),
        ("churning-h1", Some(churning_h1.clone()), 70),
        ("fresh", None, 20),
    ] {
        let (stop, ok, failures, serials) =
            (stop.clone(), ok.clone(), failures.clone(), echoed_serials.clone());
        let (peer, client_identity) = (peer.clone(), client_identity.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let transport = match &transport {
                    Some(t) => t.clone(),
                    None => {
                        MtlsTransport::new(&*client_identity, TransportConfig::default()).unwrap()
                    }
                };
                let request = http::Request::get("/").body(Bytes::new()).unwrap();
                let result = match transport.send(&peer, request, SendOptions::default()).await {
                    Ok(response) => response.into_body().collect_bytes().await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(body) => {
                        let body = String::from_utf8_lossy(&body).into_owned();
                        assert!(body.starts_with(&format!("peer={CLIENT};")), "{body}");
                        if let Some(serial) = body.split("serial=").nth(1) {
                            serials.lock().unwrap().insert(serial.to_owned());
                        }
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => failures.lock().unwrap().push(format!("{kind}: {e}")),
                }
                if pause > 0 {
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }));
    }

    // A raw observer records the serial each new handshake actually presents.
    let tls = SpiffeTls::new(&*client_identity, TlsVersions::default());
    let config = tls.client_config(ExpectedPeer::exact(id(SERVER)), HttpVersions::Auto).unwrap();
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut handshake_serials = BTreeSet::new();
    for _ in 0..11 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        server_identity.rotate().unwrap();
        client_identity.rotate().unwrap();
        let tcp = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
        let stream =
            connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        let leaf = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
        handshake_serials.insert(serial_of(&leaf));
        assert_eq!(serial_of(&leaf), server_identity.svid().serial_hex(), "the current SVID");
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }

    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        failures.first()
    );
    let served = ok.load(Ordering::SeqCst);
    assert!(served > 100, "load was sustained ({served} requests)");
    assert_eq!(hits.load(Ordering::SeqCst), served);
    assert_eq!(handshake_serials.len(), 11, "every rotation reached new handshakes");
    let echoed = echoed_serials.lock().unwrap().len();
    assert!(echoed >= 10, "clients saw the server rotate ({echoed} distinct serials)");
    let stats = server.stats();
    assert_eq!(stats.handshakes_refused, 0, "{:?}", stats.last_refusal);
    assert!(stats.connections_accepted > 50, "new handshakes throughout ({stats:?})");
    assert_eq!(
        pooled_h2.stats().connections_opened,
        1,
        "the pooled connection survived every rotation"
    );
    assert!(churning_h1.stats().connections_opened > 10);
}

#[tokio::test]
async fn a_federated_peer_is_accepted_once_its_bundle_is_configured() {
    let env = env().await;
    let partner = issuer("partner.org");
    let partner_client = identity(&partner, "spiffe://partner.org/agent/buyer");
    let transport = MtlsTransport::new(&*partner_client, TransportConfig::default()).unwrap();
    let peer = Peer::new(Endpoint::from(env.addr()), ExpectedPeer::exact(id(SERVER)));
    let get = || http::Request::get("/").body(Bytes::new()).unwrap();

    // Before federation: neither side trusts the other's domain.
    let error = transport.send(&peer, get(), SendOptions::default()).await.unwrap_err();
    assert!(
        matches!(error.handshake_refusal(), Some(HandshakeRefusal::TrustDomainNotTrusted { trust_domain }) if trust_domain == "example.org"),
        "{error:?}"
    );
    assert_eq!(env.hits(), 0);

    // Configure both bundles; the next handshakes use them, with no restart.
    env.issuer.federate_with(partner.bundle().clone()).unwrap();
    partner.federate_with(env.issuer.bundle().clone()).unwrap();
    env.server_identity.publish_now().unwrap();
    partner_client.publish_now().unwrap();

    let response = transport.send(&peer, get(), SendOptions::default()).await.unwrap();
    let body = response.into_body().collect_bytes().await.unwrap();
    assert!(body.starts_with(b"peer=spiffe://partner.org/agent/buyer;"), "{body:?}");
    assert_eq!(env.hits(), 1);
}

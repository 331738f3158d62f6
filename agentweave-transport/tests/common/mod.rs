//! Shared fixtures: a dev CA, an mTLS server with a counting service, and raw rustls peers that
//! present whatever certificate a test forges.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use agentweave_identity::{IdentityProvider, SpiffeId, TrustDomain};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    HandshakeRefusal, MtlsServer, PeerIdentity, ServerConfig, ServerHandle, ServerStats,
};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::sign::CertifiedKey;
use rustls::{SignatureScheme, SupportedProtocolVersion};

pub const SERVER: &str = "spiffe://example.org/agent/server";
pub const CLIENT: &str = "spiffe://example.org/agent/client";

pub fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

pub fn td(s: &str) -> TrustDomain {
    TrustDomain::new(s).unwrap()
}

pub fn issuer(trust_domain: &str) -> Arc<DevIssuer> {
    DevIssuer::start(td(trust_domain), DevIssuerConfig::default()).unwrap()
}

/// A server identity, the server, and the number of requests its service saw.
pub struct Env {
    pub issuer: Arc<DevIssuer>,
    pub server_identity: Arc<DevIdentity>,
    pub server: ServerHandle,
    pub hits: Arc<AtomicUsize>,
}

impl Env {
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits for the server to record a refused handshake, then checks its reason and that the
    /// service saw nothing.
    pub async fn assert_refused(&self, check: impl Fn(&HandshakeRefusal) -> bool) -> ServerStats {
        let stats = wait_for_refusal(&self.server).await;
        let reason = stats.last_refusal.clone().unwrap();
        assert!(check(&reason), "refused for the wrong reason: {reason:?}");
        assert_eq!(stats.connections_accepted, 0, "no connection may be accepted");
        assert_eq!(self.hits(), 0, "the service must never see a request");
        stats
    }
}

pub async fn wait_for_refusal(server: &ServerHandle) -> ServerStats {
    for _ in 0..200 {
        let stats = server.stats();
        if stats.handshakes_refused > 0 {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server recorded no refused handshake: {:?}", server.stats());
}

/// A server for `SERVER` in example.org with the echo service.
pub async fn env() -> Env {
    env_with(ServerConfig::default()).await
}

pub async fn env_with(config: ServerConfig) -> Env {
    let issuer = issuer("example.org");
    let server_identity = DevIdentity::start(&issuer, &id(SERVER)).unwrap();
    let (server, hits) = start_server(server_identity.clone(), config).await;
    Env { issuer, server_identity, server, hits }
}

/// Starts the echo service: it answers `peer=<caller id>;serial=<server's current serial>`.
pub async fn start_server(
    identity: Arc<DevIdentity>,
    config: ServerConfig,
) -> (ServerHandle, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let server =
        MtlsServer::bind("127.0.0.1:0".parse().unwrap(), &*identity, config).await.unwrap();
    let counter = hits.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let peer = request.extensions().get::<PeerIdentity>().cloned();
        let serial = identity.svid().serial_hex().to_owned();
        async move {
            let peer = peer.map_or_else(|| "NONE".to_owned(), |p| p.to_string());
            Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(format!(
                "peer={peer};serial={serial}"
            )))))
        }
    });
    (server.serve(service), hits)
}

pub use agentweave_transport::test_util::AcceptAnyServer;

pub fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Presents a fixed certificate and key without checking that they belong together.
#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl rustls::client::ResolvesClientCert for FixedCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

impl rustls::server::ResolvesServerCert for FixedCert {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn certified(chain: Vec<CertificateDer<'static>>, pkcs8: &[u8]) -> Arc<CertifiedKey> {
    let key = ring_provider()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec())))
        .unwrap();
    Arc::new(CertifiedKey::new(chain, key))
}

pub static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
pub static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

/// A raw attack client: presents `cert` (chain, PKCS#8 key) or nothing, trusts any server.
pub fn raw_client(
    cert: Option<(Vec<CertificateDer<'static>>, Vec<u8>)>,
    versions: &[&'static SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer));
    let config = match cert {
        Some((chain, key)) => {
            builder.with_client_cert_resolver(Arc::new(FixedCert(certified(chain, &key))))
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// A raw server presenting `chain`/`key` without verifying clients, for client-side attacks.
pub async fn raw_server(
    chain: Vec<CertificateDer<'static>>,
    key: &[u8],
) -> (SocketAddr, Arc<AtomicUsize>) {
    let mut config = rustls::ServerConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(TLS13)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(FixedCert(certified(chain, key))));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                            "pwned",
                        ))))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(TokioIo::new(tls), service)
                .await;
            });
        }
    });
    (addr, hits)
}

/// Connects with `config`, sends `GET /` over HTTP/1.1 and returns the body, or the first error.
pub async fn raw_request(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Result<String, String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let request =
        Request::get("/").header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
    let response = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// An ID's identity from `issuer`.
pub fn identity(issuer: &Arc<DevIssuer>, spiffe_id: &str) -> Arc<DevIdentity> {
    DevIdentity::start(issuer, &id(spiffe_id)).unwrap()
}

/// The chain and key of a freshly issued SVID, for raw clients.
pub fn issued(issuer: &DevIssuer, spiffe_id: &str) -> (Vec<CertificateDer<'static>>, Vec<u8>) {
    let svid = issuer.issue(&id(spiffe_id)).unwrap();
    (svid.chain().to_vec(), svid.private_key_pkcs8_der().to_vec())
}

/// The serial of a DER certificate as lowercase hex.
pub fn serial_of(cert: &CertificateDer<'_>) -> String {
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref()).unwrap();
    parsed.raw_serial().iter().map(|b| format!("{b:02x}")).collect()
}

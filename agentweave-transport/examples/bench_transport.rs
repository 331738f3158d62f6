//! Load figures for the transport, each beside a baseline measured in the same process and run:
//!
//! * pooled request round trip through `MtlsTransport` (mTLS, SPIFFE verification done once per
//!   connection) vs the same hyper server and service over plain TCP, for HTTP/2 and HTTP/1.1;
//! * new-connection handshake rate with our SPIFFE verifiers and SVID resolvers vs a bare
//!   tokio-rustls mutual-TLS handshake with rustls's stock webpki verifiers (same ring provider,
//!   same P-256 keys, TLS 1.3, resumption off on both so that every handshake is a full one).
//!
//! Targets (design card): pooled mTLS round trip within 1.5x of plaintext; handshake rate at least
//! 80% of bare rustls. Loopback only, bounded loops, single-threaded runtime so both sides of
//! each measurement share one core the same way.
//!
//! ```text
//! cargo run --release -p agentweave-transport --features test-util --example bench-transport
//! cargo run --release -p agentweave-transport --features test-util --example bench-transport -- --strict
//! ```
//! `--strict` exits with status 1 when a target is missed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::rustls_pki_types::ServerName;
use agentweave_identity::{SpiffeId, TrustDomain};
use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::tls::SpiffeTls;
use agentweave_transport::{
    Endpoint, ExpectedPeer, HttpVersions, MtlsServer, MtlsTransport, Peer, SendOptions,
    ServerConfig, TlsVersions, Transport, TransportConfig,
};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RTT_WARMUP: usize = 500;
const RTT_REQUESTS: usize = 100;
const RTT_ROUNDS: usize = 60;
const HANDSHAKES: usize = 25;
const ROUNDS: usize = 16;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), AnyError> {
    let strict = std::env::args().any(|a| a == "--strict");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let met = runtime.block_on(run())?;
    if strict && !met {
        eprintln!("bench-transport: a target was missed");
        std::process::exit(1);
    }
    Ok(())
}

async fn run() -> Result<bool, AnyError> {
    let td = TrustDomain::new("bench.example")?;
    let issuer = DevIssuer::start(td.clone(), DevIssuerConfig::default())?;
    let server_id = SpiffeId::agent(&td, "server", None)?;
    let server_identity = DevIdentity::start(&issuer, &server_id)?;
    let client_identity = DevIdentity::start(&issuer, &SpiffeId::agent(&td, "client", None)?)?;

    println!(
        "bench-transport: loopback, single-threaded runtime, best of {RTT_ROUNDS} interleaved rounds of {RTT_REQUESTS} requests / {ROUNDS} rounds of {HANDSHAKES} handshakes"
    );
    let mut all_met = true;

    // Pooled round trip.
    let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let mtls = MtlsServer::bind("127.0.0.1:0".parse()?, &*server_identity, ServerConfig::default())
        .await?
        .serve(service);
    let plain_addr = plain_server(service).await?;
    let peer = Peer::new(Endpoint::from(mtls.local_addr()), ExpectedPeer::exact(server_id.clone()));
    for (label, http) in
        [("HTTP/2", HttpVersions::Http2Only), ("HTTP/1.1", HttpVersions::Http1Only)]
    {
        let transport = MtlsTransport::new(
            &*client_identity,
            TransportConfig { http, ..TransportConfig::default() },
        )?;
        let mut plain = PlainClient::connect_plain(plain_addr, http).await?;
        let raw_config = SpiffeTls::new(&*client_identity, TlsVersions::Tls13Only)
            .client_config(ExpectedPeer::exact(server_id.clone()), http)?;
        let mut raw_tls = PlainClient::connect_tls(mtls.local_addr(), raw_config, http).await?;
        // Warm up every path, then interleave short rounds and keep each path's best round, so
        // that load from other processes on the machine hits all paths alike.
        plain.mean_rtt(RTT_WARMUP).await?;
        raw_tls.mean_rtt(RTT_WARMUP).await?;
        mtls_mean_rtt(&transport, &peer, RTT_WARMUP).await?;
        let (mut best_plain, mut best_raw, mut best_mtls) =
            (Duration::MAX, Duration::MAX, Duration::MAX);
        for _ in 0..RTT_ROUNDS {
            best_plain = best_plain.min(plain.mean_rtt(RTT_REQUESTS).await?);
            best_raw = best_raw.min(raw_tls.mean_rtt(RTT_REQUESTS).await?);
            best_mtls = best_mtls.min(mtls_mean_rtt(&transport, &peer, RTT_REQUESTS).await?);
        }
        let ratio = best_mtls.as_secs_f64() / best_plain.as_secs_f64();
        let met = ratio <= 1.5;
        all_met &= met;
        println!(
            "pooled round trip {label:8}: mTLS transport {:6.1} us | plain TCP {:6.1} us | ratio {ratio:.2}x (target <= 1.50x: {})",
            micros(best_mtls),
            micros(best_plain),
            verdict(met)
        );
        println!(
            "  (bare hyper over the same mTLS connection type: {:6.1} us, {:.2}x plain; the transport's own share: {:+.1} us)",
            micros(best_raw),
            best_raw.as_secs_f64() / best_plain.as_secs_f64(),
            micros(best_mtls) - micros(best_raw)
        );
        assert_eq!(transport.stats().connections_opened, 1, "the measurement must be pooled");
    }
    mtls.shutdown().await;

    // Handshake rate.
    let ours = SpiffeTls::new(&*server_identity, TlsVersions::Tls13Only).server_config(None)?;
    let ours_client = SpiffeTls::new(&*client_identity, TlsVersions::Tls13Only)
        .client_config(ExpectedPeer::exact(server_id), HttpVersions::Auto)?;
    let (bare, bare_client) = bare_configs()?;
    let mut best_ours: f64 = 0.0;
    let mut best_bare: f64 = 0.0;
    for _ in 0..ROUNDS {
        best_bare = best_bare.max(handshake_rate(bare.clone(), bare_client.clone()).await?);
        best_ours = best_ours.max(handshake_rate(ours.clone(), ours_client.clone()).await?);
    }
    let ratio = best_ours / best_bare;
    let met = ratio >= 0.8;
    all_met &= met;
    println!(
        "new-connection handshakes  : ours {best_ours:7.0}/s | bare rustls {best_bare:7.0}/s | ratio {:.0}% (target >= 80%: {})",
        ratio * 100.0,
        verdict(met)
    );
    println!(
        "  (one full mTLS handshake, both sides on one core: ours {:.0} us, bare {:.0} us)",
        1e6 / best_ours,
        1e6 / best_bare
    );
    Ok(all_met)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

async fn mtls_mean_rtt(
    transport: &MtlsTransport,
    peer: &Peer,
    n: usize,
) -> Result<Duration, AnyError> {
    let one = || async {
        let request = Request::get("/rtt").body(Bytes::new())?;
        let response = transport.send(peer, request, SendOptions::default()).await?;
        response.into_body().collect_bytes().await?;
        Ok::<_, AnyError>(())
    };
    let start = Instant::now();
    for _ in 0..n {
        one().await?;
    }
    Ok(start.elapsed() / u32::try_from(n)?)
}

/// The same hyper server (auto: HTTP/1.1 and HTTP/2) over plain TCP.
async fn plain_server<S>(service: S) -> Result<SocketAddr, AnyError>
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

enum PlainClient {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl PlainClient {
    async fn connect_plain(addr: SocketAddr, http: HttpVersions) -> Result<Self, AnyError> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Self::over(tcp, http).await
    }

    /// Bare hyper over a TLS connection made with our client config (no pool, retries, breaker).
    async fn connect_tls(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        http: HttpVersions,
    ) -> Result<Self, AnyError> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        Self::over(tls, http).await
    }

    async fn over<T>(io: T, http: HttpVersions) -> Result<Self, AnyError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        Ok(if http == HttpVersions::Http2Only {
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Self::H2(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            Self::H1(sender)
        })
    }

    async fn one(&mut self, authority: &str) -> Result<(), AnyError> {
        let response = match self {
            Self::H1(sender) => {
                sender.ready().await?;
                let request =
                    Request::get("/rtt").header("host", authority).body(Full::new(Bytes::new()))?;
                sender.send_request(request).await?
            }
            Self::H2(sender) => {
                let request = Request::get(format!("http://{authority}/rtt"))
                    .body(Full::new(Bytes::new()))?;
                sender.send_request(request).await?
            }
        };
        response.into_body().collect().await?;
        Ok(())
    }

    async fn mean_rtt(&mut self, n: usize) -> Result<Duration, AnyError> {
        let authority = "127.0.0.1";
        let start = Instant::now();
        for _ in 0..n {
            self.one(authority).await?;
        }
        Ok(start.elapsed() / u32::try_from(n)?)
    }
}

/// Sequential full handshakes per second: TCP connect, TLS handshake on both sides, and a
/// one-byte exchange so that the server has verified the client's certificate too.
async fn handshake_rate(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
) -> Result<f64, AnyError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let accept_loop = tokio::spawn(async move {
        for _ in 0..HANDSHAKES {
            let (tcp, _) = listener.accept().await?;
            let mut tls = acceptor.accept(tcp).await?;
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await?;
            tls.write_all(&byte).await?;
            tls.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let connector = tokio_rustls::TlsConnector::from(client);
    let name = ServerName::try_from("localhost")?;
    let start = Instant::now();
    for _ in 0..HANDSHAKES {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut tls = connector.connect(name.clone(), tcp).await?;
        tls.write_all(b"x").await?;
        tls.flush().await?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await?;
    }
    let elapsed = start.elapsed();
    accept_loop.await??;
    Ok(HANDSHAKES as f64 / elapsed.as_secs_f64())
}

fn bare_configs() -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>), AnyError> {
    agentweave_transport::test_util::stock_mtls_configs()
}

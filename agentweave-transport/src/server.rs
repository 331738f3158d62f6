//! The mTLS server: a TLS listener that requires a client X.509-SVID, and a helper that serves any
//! hyper or tower service over it with graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentweave_identity::IdentityProvider;
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::error::{HandshakeRefusal, TransportError};
use crate::peer::{ExpectedPeer, PeerIdentity};
use crate::tls::{SpiffeTls, TlsVersions, classify_io, verified_peer_id};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Server settings. Defaults: TLS 1.3 only, any client of a trusted trust domain, 10 s handshake
/// timeout, 30 s drain on shutdown.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// TLS versions accepted.
    pub tls_versions: TlsVersions,
    /// When set, only clients whose SPIFFE ID matches are accepted (in the handshake). When
    /// `None`, any client of a trusted trust domain is, and authorization decides per request.
    pub allowed_clients: Option<ExpectedPeer>,
    /// How long a client has to finish the TLS handshake (so slow or idle sockets cannot hold
    /// resources).
    pub handshake_timeout: Duration,
    /// How long [`ServerHandle::shutdown`] waits for in-flight requests before closing the rest.
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            tls_versions: TlsVersions::default(),
            allowed_clients: None,
            handshake_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Counters of a running server.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections whose handshake succeeded.
    pub connections_accepted: u64,
    /// Connections refused during the handshake (bad or missing certificate, wrong protocol…).
    pub handshakes_refused: u64,
    /// Why the latest refused handshake was refused.
    pub last_refusal: Option<HandshakeRefusal>,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    last_refusal: Mutex<Option<HandshakeRefusal>>,
}

impl Counters {
    fn refused(&self, remote: SocketAddr, reason: HandshakeRefusal) {
        tracing::warn!(%remote, %reason, "mTLS handshake refused");
        *self.last_refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ServerStats {
        ServerStats {
            connections_accepted: self.accepted.load(Ordering::Relaxed),
            handshakes_refused: self.refused.load(Ordering::Relaxed),
            last_refusal: self.last_refusal.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        }
    }
}

/// A bound mTLS listener, ready to serve.
pub struct MtlsServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    local_addr: SocketAddr,
    config: ServerConfig,
}

impl std::fmt::Debug for MtlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtlsServer")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MtlsServer {
    /// Binds `addr` and prepares TLS from `identity` (read again on every handshake).
    pub async fn bind(
        addr: SocketAddr,
        identity: &dyn IdentityProvider,
        config: ServerConfig,
    ) -> Result<Self, TransportError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| TransportError::Bind { addr: addr.to_string(), source })?;
        Self::from_listener(listener, identity, config)
    }

    /// Serves on a listener bound elsewhere (systemd sockets, tests).
    pub fn from_listener(
        listener: TcpListener,
        identity: &dyn IdentityProvider,
        config: ServerConfig,
    ) -> Result<Self, TransportError> {
        let local_addr = listener
            .local_addr()
            .map_err(|source| TransportError::Bind { addr: "listener".into(), source })?;
        let tls = SpiffeTls::new(identity, config.tls_versions);
        let acceptor = TlsAcceptor::from(tls.server_config(config.allowed_clients.clone())?);
        Ok(Self { listener, acceptor, local_addr, config })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves a hyper service on a background task. Each request carries the caller's
    /// [`PeerIdentity`] in its extensions. HTTP/1.1 and HTTP/2 are both served (the client picks
    /// by ALPN).
    ///
    /// Keep the returned handle: dropping it starts a graceful shutdown, as
    /// [`ServerHandle::shutdown`] does.
    pub fn serve<S, B>(self, service: S) -> ServerHandle
    where
        S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let local_addr = self.local_addr;
        let task = tokio::spawn(accept_loop(self, service, counters.clone(), shutdown_rx));
        ServerHandle { local_addr, shutdown: shutdown_tx, task, counters }
    }

    /// Serves a tower service (an axum `Router`, for example), as [`MtlsServer::serve`] does.
    pub fn serve_tower<S, B>(self, service: S) -> ServerHandle
    where
        S: tower::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        self.serve(hyper_util::service::TowerToHyperService::new(service))
    }
}

/// Controls a running server.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    counters: Arc<Counters>,
}

impl ServerHandle {
    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.counters.snapshot()
    }

    /// Stops accepting, lets in-flight requests finish (up to the drain timeout), closes idle
    /// connections, and returns when every connection is closed.
    pub async fn shutdown(self) {
        self.shutdown.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "mTLS server task failed");
        }
    }
}

async fn accept_loop<S, B>(
    server: MtlsServer,
    service: S,
    counters: Arc<Counters>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let MtlsServer { listener, acceptor, local_addr, config } = server;
    tracing::info!(%local_addr, "mTLS server listening");
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A send of `true` or the handle being dropped both stop the server.
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(connection(
                        tcp,
                        remote,
                        acceptor.clone(),
                        service.clone(),
                        config.handshake_timeout,
                        counters.clone(),
                        drain_rx.clone(),
                    ));
                }
                Err(error) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!(%local_addr, open = connections.len(), "mTLS server draining");
    drain_tx.send_replace(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(config.drain_timeout, drained).await.is_err() {
        tracing::warn!(%local_addr, remaining = connections.len(),
            "drain timeout reached; closing the remaining connections");
        connections.shutdown().await;
    }
}

async fn connection<S, B>(
    tcp: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    service: S,
    handshake_timeout: Duration,
    counters: Arc<Counters>,
    mut drain: watch::Receiver<bool>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        result = handshake => result,
        _ = drain.changed() => return,
    };
    let tls = match tls {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => return counters.refused(remote, classify_io(&error)),
        Err(_) => {
            return counters.refused(
                remote,
                HandshakeRefusal::Tls {
                    detail: format!("handshake not finished within {handshake_timeout:?}"),
                },
            );
        }
    };
    // The verifier already accepted this leaf; parse its ID once for the whole connection.
    let peer = match verified_peer_id(tls.get_ref().1.peer_certificates()) {
        Ok(id) => PeerIdentity(id),
        Err(reason) => return counters.refused(remote, reason),
    };
    counters.accepted.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(%remote, %peer, "mTLS connection accepted");
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), WithPeer { inner: service, peer });
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = drain.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "connection ended with an error");
    }
}

/// Inserts the connection's proven peer identity into every request.
#[derive(Clone)]
struct WithPeer<S> {
    inner: S,
    peer: PeerIdentity,
}

impl<S> hyper::service::Service<Request<Incoming>> for WithPeer<S>
where
    S: hyper::service::Service<Request<Incoming>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        // Replaces anything already there: only the TLS layer may say who the peer is.
        request.extensions_mut().insert(self.peer.clone());
        self.inner.call(request)
    }
}

//! The operations port: plain HTTP (no TLS, so probes and scrapers need no SVID) on its own
//! listener, serving exactly three read-only paths. It shares nothing with the A2A listener:
//! no A2A route, no agent card, no caller identity, and nothing is ever accepted from the
//! request but its path; every other path is 404 (and another method on these paths 405).
//!
//! | path | answer |
//! | --- | --- |
//! | `GET /health/live` | 200 `{"status":"live"}` while the process serves |
//! | `GET /health/ready` | 200 when ready, 503 otherwise; the body is the [`Readiness`] report |
//! | `GET /metrics` | the metrics in the OpenMetrics text format (what Prometheus scrapes) |
//!
//! The port is plain HTTP and reachable by anything that can reach the pod, so it defends itself
//! against slow or idle clients ([`OpsLimits`]): a client must finish a request head within
//! 5 s or the connection is closed, and at most 256 connections are open at once (more are
//! closed on accept and logged). A probe from a kubelet or a scrape needs neither.
//!
//! [`Readiness`]: super::health::Readiness

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::health::HealthState;

/// The content type of the OpenMetrics text exposition.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the ops routes read.
#[derive(Debug)]
pub(crate) struct OpsState {
    pub(crate) registry: Registry,
    pub(crate) health: Arc<HealthState>,
}

impl OpsState {
    /// The metrics text; an encoding fault (none is expected: the text goes to a `String`) is
    /// logged and yields what was written so far.
    pub(crate) fn metrics_text(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "metrics could not be encoded");
        }
        out
    }
}

/// A running ops server. Stopping it (or dropping the handle) ends it gracefully.
#[derive(Debug)]
pub(crate) struct OpsServer {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn live() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "live"}))
}

async fn ready(State(state): State<Arc<OpsState>>) -> Response {
    let report = state.health.readiness();
    let status = if report.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json(status, &report)
}

async fn metrics(State(state): State<Arc<OpsState>>) -> Response {
    let mut response = state.metrics_text().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
    response
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The ops routes, and nothing else.
pub(crate) fn router(state: Arc<OpsState>) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(state)
}

/// The ops port, bound but not serving yet.
#[derive(Debug)]
pub(crate) struct OpsListener {
    listener: TcpListener,
    local_addr: SocketAddr,
}

/// How the ops port bounds what clients can hold. Not configurable from the agent config: the
/// defaults suit probes and scrapers, and tests shorten them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpsLimits {
    /// Time allowed to send a whole request head (HTTP/1), from the start of each request.
    pub(crate) header_read_timeout: Duration,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub(crate) max_connections: usize,
}

impl Default for OpsLimits {
    fn default() -> Self {
        Self { header_read_timeout: Duration::from_secs(5), max_connections: 256 }
    }
}

impl OpsListener {
    /// Starts serving the ops routes with the default [`OpsLimits`].
    pub(crate) fn serve(self, state: Arc<OpsState>) -> OpsServer {
        self.serve_with(state, OpsLimits::default())
    }

    /// Starts serving the ops routes within `limits`.
    pub(crate) fn serve_with(self, state: Arc<OpsState>, limits: OpsLimits) -> OpsServer {
        let OpsListener { listener, local_addr } = self;
        let (shutdown, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router(state), limits, stopped));
        tracing::info!(%local_addr, "ops server (health, metrics) serving plain HTTP");
        OpsServer { local_addr, shutdown, task }
    }
}

/// Accepts until a stop request (or the handle is dropped), then lets open connections finish
/// their current request; [`OpsServer::stop`] bounds that wait.
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    limits: OpsLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stop_requested(&mut stopped) => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        tracing::warn!(%remote, max = limits.max_connections,
                            "ops port at its connection limit; connection closed");
                        continue;
                    };
                    let conn = connection(tcp, router.clone(), limits, stopped.clone(), slot);
                    connections.spawn(conn);
                }
                Err(error) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "ops port accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Resolves once a stop is requested or the [`OpsServer`] handle is gone (holds no borrow of the
/// flag, so connection futures stay `Send`).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Serves one connection while holding one of the connection slots. HTTP/1.1 only: probes and
/// scrapers speak it, and hyper's HTTP/1 server times out a head that never arrives (its
/// version-sniffing auto server waits for the first bytes without a bound).
async fn connection(
    tcp: TcpStream,
    router: Router,
    limits: OpsLimits,
    mut stopped: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(router));
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop_requested(&mut stopped) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "ops connection ended with an error");
    }
}

impl OpsServer {
    /// Binds `addr` (serve it with [`OpsListener::serve`]).
    pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<OpsListener> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(OpsListener { listener, local_addr })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and waits, up to `bound`, for open requests to finish.
    pub(crate) async fn stop(self, bound: Duration) {
        self.shutdown.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(bound, &mut task).await.is_err() {
            tracing::warn!("ops server did not stop in time; aborted");
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// Serves a one-route router within `limits`; the sender stops it.
    async fn start(limits: OpsLimits) -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/health/live", get(live));
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, router, limits, stopped));
        (addr, stop)
    }

    /// Reads until the server closes the connection (bounded so that a regression fails instead
    /// of hanging) and returns what it sent.
    async fn until_closed(stream: &mut TcpStream) -> String {
        let mut reply = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply));
        read.await.expect("the ops server must close the connection").ok();
        String::from_utf8_lossy(&reply).into_owned()
    }

    async fn live_status(addr: SocketAddr) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nhost: ops\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        until_closed(&mut stream).await.lines().next().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
        let limits =
            OpsLimits { header_read_timeout: Duration::from_millis(200), max_connections: 8 };
        let (addr, _stop) = start(limits).await;
        for partial in
            [&b""[..], b"GET /health/live HTTP/1.1\r\n", b"GET /health/live HTTP/1.1\r\nhost: o"]
        {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(partial).await.unwrap();
            let reply = until_closed(&mut stream).await;
            assert!(
                !reply.contains("200 OK"),
                "no answer to an unfinished head {partial:?}: {reply}"
            );
        }
        assert_eq!(live_status(addr).await, "HTTP/1.1 200 OK", "a complete request is served");
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_closed_and_the_slots_come_back() {
        let limits = OpsLimits { header_read_timeout: Duration::from_secs(30), max_connections: 2 };
        let (addr, _stop) = start(limits).await;
        // Two idle connections take both slots (their heads never come, the timeout is long).
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(b"GET /health/live HTTP/1.1\r\n").await.unwrap();
            held.push(stream);
        }
        assert_eq!(live_status(addr).await, "", "a third connection is closed without an answer");
        drop(held);
        // The slots are released when the held connections end; poll until one is free.
        let mut status = String::new();
        for _ in 0..100 {
            status = live_status(addr).await;
            if !status.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(status, "HTTP/1.1 200 OK", "freed slots serve again");
    }
}

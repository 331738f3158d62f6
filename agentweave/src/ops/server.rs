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
//! [`Readiness`]: super::health::Readiness

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
}

impl OpsListener {
    /// Starts serving the ops routes.
    pub(crate) fn serve(self, state: Arc<OpsState>) -> OpsServer {
        let OpsListener { listener, local_addr } = self;
        let (shutdown, mut stopped) = watch::channel(false);
        let serve = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
            // Ends on a stop request or when the handle is dropped.
            let _ = stopped.wait_for(|stop| *stop).await;
        });
        let task = tokio::spawn(async move {
            if let Err(error) = serve.await {
                tracing::error!(%error, "ops server failed");
            }
        });
        tracing::info!(%local_addr, "ops server (health, metrics) serving plain HTTP");
        OpsServer { local_addr, shutdown, task }
    }
}

impl OpsServer {
    /// Binds `addr` (serve it with [`OpsListener::serve`]).
    pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<OpsListener> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(OpsListener { listener, local_addr })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and waits, up to `bound`, for open requests to finish.
    pub(crate) async fn stop(self, bound: std::time::Duration) {
        self.shutdown.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(bound, &mut task).await.is_err() {
            tracing::warn!("ops server did not stop in time; aborted");
            task.abort();
        }
    }
}

//! Test-only transports for the client tests, and the Python venv for interop.
//!
//! Production A2A traffic goes over `agentweave_transport::MtlsTransport` only. The plain HTTP
//! transport here exists so that our client can talk to the official Python SDK's server
//! (which the test runs without TLS); it lives in the tests, never in the library.
#![allow(dead_code, unreachable_pub)]

pub mod requests;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use agentweave_transport::{
    BoxFuture, Endpoint, Peer, ResponseBody, SendOptions, Transport, TransportError,
};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Plain HTTP/1.1 over hyper-util's pooled client. Carries no peer identity (there is none to
/// prove), so a card claiming a SPIFFE ID is refused through it.
#[derive(Debug, Clone)]
pub struct PlainHttpTransport {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl PlainHttpTransport {
    pub fn new() -> Self {
        Self { client: Client::builder(TokioExecutor::new()).build_http() }
    }
}

impl Transport for PlainHttpTransport {
    fn send<'a>(
        &'a self,
        peer: &'a Peer,
        request: Request<Bytes>,
        _options: SendOptions,
    ) -> BoxFuture<'a, Result<Response<ResponseBody>, TransportError>> {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let endpoint = peer.endpoint.authority();
            parts.uri = format!("http://{endpoint}{path}")
                .parse()
                .map_err(|e| TransportError::InvalidRequest(format!("{e}")))?;
            let response =
                self.client
                    .request(Request::from_parts(parts, Full::new(body)))
                    .await
                    .map_err(|e| TransportError::Connection { endpoint, detail: e.to_string() })?;
            Ok(response.map(|b| {
                ResponseBody::new(b.map_err(|e| TransportError::Body { detail: e.to_string() }))
            }))
        })
    }
}

/// One request as a [`Canned`] transport saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: Request<Bytes>,
    pub options: SendOptions,
}

type Responder = dyn Fn(&Request<Bytes>) -> Response<ResponseBody> + Send + Sync;

/// A transport that answers from a closure (a hostile or broken server) and records requests.
pub struct Canned {
    respond: Box<Responder>,
    pub seen: Mutex<Vec<Seen>>,
}

impl std::fmt::Debug for Canned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Canned")
    }
}

impl Canned {
    pub fn new(
        respond: impl Fn(&Request<Bytes>) -> Response<ResponseBody> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self { respond: Box::new(respond), seen: Mutex::new(Vec::new()) })
    }
}

impl Transport for Canned {
    fn send<'a>(
        &'a self,
        _peer: &'a Peer,
        request: Request<Bytes>,
        options: SendOptions,
    ) -> BoxFuture<'a, Result<Response<ResponseBody>, TransportError>> {
        let response = (self.respond)(&request);
        self.seen.lock().unwrap().push(Seen { request, options });
        Box::pin(async move { Ok(response) })
    }
}

pub fn local_peer(
    addr: std::net::SocketAddr,
    expected: agentweave_transport::ExpectedPeer,
) -> Peer {
    Peer::new(Endpoint::from(addr), expected)
}

/// The SDK and the server-side packages the interop server needs, pinned.
pub const SDK_SERVER_PACKAGES: &[&str] = &[
    "a2a-sdk[http-server]==1.3.0",
    "starlette==1.10.0",
    "sse-starlette==3.7.0",
    "uvicorn==0.54.0",
];

/// The interop venv at `<workspace>/.venv-a2a` (shared by every interop test of this crate),
/// with `packages` installed; created when missing. `None` only when python3 is not installed:
/// a failed venv or pip install fails the calling test instead of letting it skip silently.
pub fn venv_python(packages: &[&str], ready_check: &str) -> Option<PathBuf> {
    if Command::new("python3").arg("--version").output().is_err() {
        return None;
    }
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = manifest_dir.parent().unwrap_or(manifest_dir).join(".venv-a2a");
    let py = venv.join("bin/python");
    let ready = |py: &Path| {
        Command::new(py).args(["-c", ready_check]).output().is_ok_and(|o| o.status.success())
    };
    if ready(&py) {
        return Some(py);
    }
    if !py.exists() {
        let out = Command::new("python3").arg("-m").arg("venv").arg(&venv).output().unwrap();
        assert!(
            out.status.success(),
            "venv creation failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out =
        Command::new(&py).args(["-m", "pip", "install", "-q"]).args(packages).output().unwrap();
    assert!(
        out.status.success() && ready(&py),
        "pip install {packages:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(py)
}

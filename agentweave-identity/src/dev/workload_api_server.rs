//! The dev Workload API server: the real SPIFFE Workload API gRPC protocol on a Unix socket,
//! serving SVIDs from a [`DevIssuer`].
//!
//! Clients (the `spiffe` crate's `X509Source`, go-spiffe, py-spiffe) cannot tell it from a SPIRE
//! agent for the X.509 profile: `FetchX509SVID` and `FetchX509Bundles` are server streams that send
//! the current material at once and again on every rotation, and every call must carry the
//! `workload.spiffe.io: true` metadata header (the Workload API's guard against browsers and
//! proxies), or it is refused with `INVALID_ARGUMENT`.
//!
//! One known difference from SPIRE: grpc-core based clients (py-spiffe, grpc-java) send the socket's
//! absolute path, percent-encoded, as the HTTP/2 `:authority`; the Rust HTTP/2 stack refuses that
//! as a malformed authority (hyperium/h2#487) while Go's accepts it. Such clients must name the
//! socket by a relative path (`unix:api.sock`, run from its directory). The `spiffe` crate and
//! go-spiffe send a well-formed authority and are unaffected.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use futures::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio_stream::wrappers::WatchStream;

use super::issuer::DevIssuer;
use super::proto;
use crate::bundle::TrustBundleSet;
use crate::error::IdentityError;
use crate::id::SpiffeId;
use crate::svid::X509Svid;

/// The gRPC service name of the Workload API (the proto file declares no package).
const SERVICE_NAME: &str = "SpiffeWorkloadAPI";
/// The metadata header every Workload API call must carry.
const SECURITY_HEADER: &str = "workload.spiffe.io";

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A running dev Workload API server. Dropping it does not stop it; call
/// [`DevWorkloadApiServer::shutdown`].
#[derive(Debug)]
pub struct DevWorkloadApiServer {
    socket_path: PathBuf,
    /// Ends every open `Fetch*` stream, so that graceful shutdown does not wait for clients that
    /// keep their stream open forever (every Workload API client does).
    closing: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl DevWorkloadApiServer {
    /// Serves the SVIDs of `ids` (registered with `issuer` here; the first is the default SVID)
    /// on a Unix socket at `socket_path`. A stale socket file at that path is replaced.
    pub async fn start(
        issuer: Arc<DevIssuer>,
        ids: &[SpiffeId],
        socket_path: impl AsRef<Path>,
    ) -> Result<Self, IdentityError> {
        let socket_path = socket_path.as_ref().to_path_buf();
        let server_error =
            |detail: String| IdentityError::Server { path: socket_path.clone(), detail };
        if ids.is_empty() {
            return Err(server_error("no SPIFFE ID to serve".into()));
        }
        let svids = ids.iter().map(|id| issuer.register(id)).collect::<Result<Vec<_>, _>>()?;
        if let Some(parent) = socket_path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| server_error(e.to_string()))?;
        }
        match tokio::fs::remove_file(&socket_path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(server_error(format!("cannot remove stale socket: {e}"))),
        }
        let listener = tokio::net::UnixListener::bind(&socket_path)
            .map_err(|e| server_error(e.to_string()))?;
        let (closing, closing_rx) = watch::channel(false);
        let service = WorkloadApiService {
            state: Arc::new(ServedIdentities {
                svids,
                bundles: issuer.bundles(),
                issuer,
                closing: closing_rx,
            }),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
        let task = tokio::spawn(
            tonic::transport::Server::builder().add_service(service).serve_with_incoming_shutdown(
                incoming,
                async {
                    let _ = stopped.await;
                },
            ),
        );
        tracing::info!(socket = %socket_path.display(), ids = ?ids, "dev SPIFFE Workload API serving");
        Ok(Self { socket_path, closing, stop: Some(stop), task })
    }

    /// The socket path.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The endpoint URI clients use (`unix:///abs/path` or `unix:relative`), the value for
    /// `SPIFFE_ENDPOINT_SOCKET`.
    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.socket_path.display())
    }

    /// Stops accepting calls, ends open streams and removes the socket file.
    pub async fn shutdown(mut self) -> Result<(), IdentityError> {
        self.closing.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.task).await;
        let _ = tokio::fs::remove_file(&self.socket_path).await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(IdentityError::Server { path: self.socket_path.clone(), detail: e.to_string() })
            }
            Err(e) => {
                Err(IdentityError::Server { path: self.socket_path.clone(), detail: e.to_string() })
            }
        }
    }
}

/// What one socket serves: the registered SVIDs and the issuer's bundles.
struct ServedIdentities {
    issuer: Arc<DevIssuer>,
    svids: Vec<watch::Receiver<Arc<X509Svid>>>,
    bundles: watch::Receiver<Arc<TrustBundleSet>>,
    closing: watch::Receiver<bool>,
}

impl ServedIdentities {
    fn svid_response(&self) -> proto::X509SvidResponse {
        let own_bundle = self.issuer.bundle().concatenated_der();
        let svids = self
            .svids
            .iter()
            .map(|rx| {
                let svid = rx.borrow().clone();
                proto::X509Svid {
                    spiffe_id: svid.spiffe_id().to_string(),
                    x509_svid: svid.chain_concatenated_der(),
                    x509_svid_key: svid.private_key_pkcs8_der().to_vec(),
                    bundle: own_bundle.clone(),
                    hint: String::new(),
                }
            })
            .collect();
        let own = self.issuer.trust_domain();
        let federated_bundles = self
            .bundles
            .borrow()
            .iter()
            .filter(|b| b.trust_domain() != own)
            .map(|b| (b.trust_domain().id_string(), b.concatenated_der()))
            .collect();
        proto::X509SvidResponse { svids, crl: Vec::new(), federated_bundles }
    }

    fn bundles_response(&self) -> proto::X509BundlesResponse {
        let bundles: HashMap<String, Vec<u8>> = self
            .bundles
            .borrow()
            .iter()
            .map(|b| (b.trust_domain().id_string(), b.concatenated_der()))
            .collect();
        proto::X509BundlesResponse { crl: Vec::new(), bundles }
    }

    /// Resolves when the server starts shutting down.
    fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.clone();
        async move {
            let _ = closing.wait_for(|closing| *closing).await;
        }
    }

    /// A stream of `()` that yields now and on every change of any SVID or of the bundles.
    fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        let svid_changes =
            self.svids.iter().map(|rx| WatchStream::new(rx.clone()).map(|_| ()).boxed());
        let bundle_changes = WatchStream::from_changes(self.bundles.clone()).map(|_| ()).boxed();
        // Each WatchStream yields its current value first; skip all of those but one.
        let merged =
            futures::stream::select_all(svid_changes.chain(std::iter::once(bundle_changes)));
        let initial = self.svids.len().saturating_sub(1);
        merged.skip(initial)
    }
}

#[derive(Clone)]
struct WorkloadApiService {
    state: Arc<ServedIdentities>,
}

impl tonic::server::NamedService for WorkloadApiService {
    const NAME: &'static str = SERVICE_NAME;
}

fn require_security_header<T>(request: &tonic::Request<T>) -> Result<(), tonic::Status> {
    match request.metadata().get(SECURITY_HEADER).map(|v| v.as_bytes()) {
        Some(b"true") => Ok(()),
        _ => Err(tonic::Status::invalid_argument("security header missing from request")),
    }
}

struct FetchX509Svid(Arc<ServedIdentities>);

impl tonic::server::ServerStreamingService<proto::X509SvidRequest> for FetchX509Svid {
    type Response = proto::X509SvidResponse;
    type ResponseStream = BoxStream<proto::X509SvidResponse>;
    type Future = BoxFuture<Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<proto::X509SvidRequest>) -> Self::Future {
        let state = self.0.clone();
        Box::pin(async move {
            require_security_header(&request)?;
            let closed = state.closed();
            let stream =
                state.changes().take_until(closed).map(move |()| Ok(state.svid_response()));
            Ok(tonic::Response::new(Box::pin(stream) as Self::ResponseStream))
        })
    }
}

struct FetchX509Bundles(Arc<ServedIdentities>);

impl tonic::server::ServerStreamingService<proto::X509BundlesRequest> for FetchX509Bundles {
    type Response = proto::X509BundlesResponse;
    type ResponseStream = BoxStream<proto::X509BundlesResponse>;
    type Future = BoxFuture<Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<proto::X509BundlesRequest>) -> Self::Future {
        let state = self.0.clone();
        Box::pin(async move {
            require_security_header(&request)?;
            let stream =
                WatchStream::new(state.bundles.clone()).map(move |_| Ok(state.bundles_response()));
            Ok(tonic::Response::new(Box::pin(stream) as Self::ResponseStream))
        })
    }
}

impl<B> tower::Service<http::Request<B>> for WorkloadApiService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let state = self.state.clone();
        match request.uri().path() {
            "/SpiffeWorkloadAPI/FetchX509SVID" => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.server_streaming(FetchX509Svid(state), request).await)
            }),
            "/SpiffeWorkloadAPI/FetchX509Bundles" => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.server_streaming(FetchX509Bundles(state), request).await)
            }),
            path => {
                let status = if path.starts_with("/SpiffeWorkloadAPI/") {
                    tonic::Status::unimplemented(
                        "the AgentWeave dev issuer serves the X.509-SVID profile only; JWT-SVIDs are not supported",
                    )
                } else {
                    tonic::Status::unimplemented(format!("unknown method {path}"))
                };
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

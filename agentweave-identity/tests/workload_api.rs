//! The dev Workload API server against real clients: the `spiffe` crate's own client and
//! `X509Source`, our `WorkloadApiProvider` on top of it, a raw gRPC call without the security
//! header, and (when python3 is present) the Python `spiffe` package.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig, DevWorkloadApiServer};
use agentweave_identity::{
    IdentityError, IdentityProvider, SpiffeId, TrustDomain, WorkloadApiConfig, WorkloadApiProvider,
};

struct Fixture {
    _dir: tempfile::TempDir,
    issuer: Arc<DevIssuer>,
    server: DevWorkloadApiServer,
    id: SpiffeId,
}

async fn start(config: DevIssuerConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::start(TrustDomain::new("example.org").unwrap(), config).unwrap();
    let id = SpiffeId::parse("spiffe://example.org/agent/search").unwrap();
    let server = DevWorkloadApiServer::start(
        issuer.clone(),
        std::slice::from_ref(&id),
        dir.path().join("api.sock"),
    )
    .await
    .unwrap();
    Fixture { _dir: dir, issuer, server, id }
}

#[tokio::test]
async fn the_spiffe_crate_client_fetches_svids_and_bundles() {
    let fx = start(DevIssuerConfig::default()).await;
    let client = spiffe::WorkloadApiClient::connect_to(fx.server.endpoint()).await.unwrap();
    let svid = client.fetch_x509_svid().await.unwrap();
    assert_eq!(svid.spiffe_id().to_string(), fx.id.as_str());
    let bundles = client.fetch_x509_bundles().await.unwrap();
    let td = spiffe::TrustDomain::new("example.org").unwrap();
    let bundle = bundles.get(&td).expect("our own bundle is served");
    assert_eq!(bundle.authorities()[0].as_bytes(), fx.issuer.bundle().authorities()[0].as_ref());
}

#[tokio::test]
async fn federated_bundles_reach_the_client() {
    let fx = start(DevIssuerConfig::default()).await;
    let partner =
        DevIssuer::start(TrustDomain::new("partner.org").unwrap(), DevIssuerConfig::default())
            .unwrap();
    fx.issuer.federate_with(partner.bundle().clone()).unwrap();
    let provider = WorkloadApiProvider::connect(WorkloadApiConfig {
        endpoint: Some(fx.server.endpoint()),
        initial_sync_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let domains: Vec<String> =
        provider.current().bundles.trust_domains().map(|t| t.to_string()).collect();
    assert_eq!(domains, ["example.org", "partner.org"]);
}

#[tokio::test]
async fn a_forced_renewal_reaches_x509_source_within_a_second() {
    let fx = start(DevIssuerConfig::default()).await;
    let source = spiffe::X509Source::builder()
        .endpoint(fx.server.endpoint())
        .initial_sync_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let before = source.svid().unwrap();
    let mut updates = source.updated();
    let started = Instant::now();
    fx.issuer.rotate(&fx.id).unwrap();
    tokio::time::timeout(Duration::from_secs(1), updates.changed())
        .await
        .expect("rotation must reach the client within a second")
        .unwrap();
    let after = source.svid().unwrap();
    assert_eq!(after.spiffe_id(), before.spiffe_id(), "same identity");
    assert_ne!(after.leaf().as_bytes(), before.leaf().as_bytes(), "new certificate");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn the_provider_follows_rotations_and_renewal_at_half_life() {
    // A 4 s TTL renews every 2 s without any forced rotation.
    let config = DevIssuerConfig { svid_ttl: Duration::from_secs(4), ..DevIssuerConfig::default() };
    let fx = start(config).await;
    let provider = WorkloadApiProvider::connect(WorkloadApiConfig {
        endpoint: Some(fx.server.endpoint()),
        initial_sync_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    assert_eq!(provider.spiffe_id(), fx.id);
    let first = provider.current().svid.serial_hex().to_owned();
    let mut watch = provider.watch();
    tokio::time::timeout(Duration::from_secs(5), watch.changed()).await.unwrap().unwrap();
    let second = watch.borrow_and_update().svid.serial_hex().to_owned();
    assert_ne!(first, second, "renewed at half-life");
    assert_eq!(provider.spiffe_id(), fx.id);
}

#[tokio::test]
async fn a_missing_workload_api_fails_fast_with_an_operator_hint() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("unix:{}", dir.path().join("nothing.sock").display());
    let started = Instant::now();
    let err = WorkloadApiProvider::connect(WorkloadApiConfig {
        endpoint: Some(endpoint.clone()),
        initial_sync_timeout: Duration::from_millis(500),
    })
    .await
    .unwrap_err();
    assert!(matches!(err, IdentityError::WorkloadApiUnavailable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&endpoint) && message.contains("is the SPIRE agent running"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "bounded initial sync");
}

#[tokio::test]
async fn calls_without_the_security_header_are_refused() {
    let fx = start(DevIssuerConfig::default()).await;
    let path: PathBuf = fx.server.socket_path().to_path_buf();
    let channel =
        tonic::transport::Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    tokio::net::UnixStream::connect(path).await.map(hyper_util::rt::TokioIo::new)
                }
            }))
            .await
            .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let call = |path: &'static str| http::uri::PathAndQuery::from_static(path);
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let status = grpc
        .server_streaming(tonic::Request::new(()), call("/SpiffeWorkloadAPI/FetchX509SVID"), codec)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("security header"), "{}", status.message());

    // With the header, JWT methods are refused as not supported rather than silently empty.
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert("workload.spiffe.io", "true".parse().unwrap());
    grpc.ready().await.unwrap();
    let status = grpc
        .unary(
            request,
            call("/SpiffeWorkloadAPI/FetchJWTSVID"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(status.message().contains("not supported"), "{}", status.message());
}

#[tokio::test]
async fn shutdown_ends_open_streams_instead_of_waiting_for_clients() {
    let fx = start(DevIssuerConfig::default()).await;
    // An X509Source keeps its FetchX509SVID stream open for as long as it lives.
    let source = spiffe::X509Source::builder()
        .endpoint(fx.server.endpoint())
        .initial_sync_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let socket = fx.server.socket_path().to_path_buf();
    tokio::time::timeout(Duration::from_secs(5), fx.server.shutdown())
        .await
        .expect("shutdown must not wait for the client's open stream")
        .unwrap();
    assert!(!socket.exists(), "the socket file is removed");
    drop(source);
}

/// The Python `spiffe` package (py-spiffe) as a second, independent Workload API client.
///
/// grpc-core clients send a Unix socket's absolute path, percent-encoded, as the HTTP/2
/// `:authority`, which the Rust HTTP/2 stack refuses as malformed (hyperium/h2#487; SPIRE's Go
/// server accepts it). A relative socket path gives a well-formed authority, so the client runs
/// in the socket's directory and names the socket relatively.
#[tokio::test]
async fn python_spiffe_fetches_an_svid_from_the_dev_server() {
    let Some(python) = interop_python() else { return };
    let fx = start(DevIssuerConfig::default()).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/fetch_svid.py");
    let socket = fx.server.socket_path();
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .arg(format!("unix:{}", socket.file_name().unwrap().to_string_lossy()))
        .current_dir(socket.parent().unwrap())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "py-spiffe failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.lines().any(|l| l == format!("spiffe_id={}", fx.id)), "{stdout}");
    assert!(stdout.lines().any(|l| l == "chain_len=1"), "{stdout}");
    assert!(stdout.lines().any(|l| l == "bundles=example.org"), "{stdout}");
}

/// The Python of a venv with py-spiffe, made on first use in `<workspace>/.venv-spiffe`.
/// `None` (with the reason printed) only when python3 is absent.
fn interop_python() -> Option<PathBuf> {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = manifest_dir.parent().unwrap_or(manifest_dir).join(".venv-spiffe");
    let python = venv.join("bin/python");
    let ready = venv.join(".ready-spiffe-0.3.2");
    if ready.exists() {
        return Some(python);
    }
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED python_spiffe interop: python3 is not installed");
        return None;
    }
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv));
    run(std::process::Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "spiffe==0.3.2",
    ]));
    std::fs::write(&ready, b"").unwrap();
    Some(python)
}

//! Retries, circuit breaking, timeouts, pooling and graceful shutdown, against servers that fail
//! on purpose. Timeouts are configured short so the tests stay fast; assertions are on states and
//! counts, never on elapsed time.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agentweave_transport::test_util::DevIdentity;
use agentweave_transport::{
    BreakerConfig, CircuitState, Endpoint, ExpectedPeer, HttpVersions, MtlsServer, MtlsTransport,
    Peer, PeerIdentity, PoolConfig, Retry, RetryConfig, SendOptions, ServerConfig, ServerHandle,
    Transport, TransportConfig, TransportError,
};
use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};

/// A server whose answers a test controls: 503 while `failing`, after sleeping `delay_ms`.
struct Flaky {
    server: ServerHandle,
    identity: Arc<DevIdentity>,
    hits: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    /// Fail only the first N requests (0: obey `failing`).
    fail_first: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

async fn flaky() -> Flaky {
    let ca = issuer("example.org");
    let identity = identity(&ca, SERVER);
    let hits = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(AtomicBool::new(false));
    let fail_first = Arc::new(AtomicUsize::new(0));
    let delay_ms = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let (h, f, ff, d, i, m) = (
        hits.clone(),
        failing.clone(),
        fail_first.clone(),
        delay_ms.clone(),
        in_flight.clone(),
        max_in_flight.clone(),
    );
    let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
        let n = h.fetch_add(1, Ordering::SeqCst) + 1;
        let fail = f.load(Ordering::SeqCst) || n <= ff.load(Ordering::SeqCst);
        let delay = Duration::from_millis(d.load(Ordering::SeqCst) as u64);
        let (i, m) = (i.clone(), m.clone());
        async move {
            let now = i.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            i.fetch_sub(1, Ordering::SeqCst);
            let status = if fail { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
            let mut response = Response::new(Full::new(Bytes::from(format!("#{n}"))));
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        }
    });
    let server =
        MtlsServer::bind("127.0.0.1:0".parse().unwrap(), &*identity, ServerConfig::default())
            .await
            .unwrap()
            .serve(service);
    Flaky { server, identity, hits, failing, fail_first, delay_ms, in_flight, max_in_flight }
}

impl Flaky {
    fn peer(&self) -> Peer {
        Peer::new(Endpoint::from(self.server.local_addr()), ExpectedPeer::exact(id(SERVER)))
    }

    fn client(&self, config: TransportConfig) -> MtlsTransport {
        let client = DevIdentity::start(self.identity.issuer(), &id(CLIENT)).unwrap();
        MtlsTransport::new(&*client, config).unwrap()
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn get() -> Request<Bytes> {
    Request::get("/work").body(Bytes::new()).unwrap()
}

fn fast_retries(max_attempts: u32) -> RetryConfig {
    RetryConfig::with(max_attempts, Duration::from_millis(5), Duration::from_millis(20))
}

async fn status(
    t: &MtlsTransport,
    peer: &Peer,
    options: SendOptions,
) -> Result<u16, TransportError> {
    t.send(peer, get(), options).await.map(|r| r.status().as_u16())
}

#[tokio::test]
async fn the_circuit_opens_refuses_fast_probes_and_closes() {
    let server = flaky().await;
    let config = TransportConfig {
        breaker: BreakerConfig::with(3, Duration::from_millis(300), 2),
        ..TransportConfig::default()
    };
    let client = server.client(config);
    let peer = server.peer();
    server.failing.store(true, Ordering::SeqCst);

    for n in 1..=3 {
        assert_eq!(status(&client, &peer, SendOptions::default()).await.unwrap(), 503);
        let expected = if n < 3 { CircuitState::Closed } else { CircuitState::Open };
        assert_eq!(client.circuit_state(&peer), Some(expected), "after failure {n}");
    }

    // Open: refused without touching the network.
    for _ in 0..5 {
        let error = status(&client, &peer, SendOptions::default()).await.unwrap_err();
        assert!(matches!(error, TransportError::CircuitOpen { .. }), "{error:?}");
    }
    assert_eq!(server.hits(), 3, "an open circuit sends nothing");
    assert_eq!(client.stats().circuit_rejections, 5);

    // After the recovery timeout, a probe goes through; the server has recovered.
    server.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(status(&client, &peer, SendOptions::default()).await.unwrap(), 200);
    assert_eq!(client.circuit_state(&peer), Some(CircuitState::HalfOpen), "1 of 2 successes");
    assert_eq!(status(&client, &peer, SendOptions::default()).await.unwrap(), 200);
    assert_eq!(client.circuit_state(&peer), Some(CircuitState::Closed));
    assert_eq!(server.hits(), 5);
}

#[tokio::test]
async fn a_failed_probe_opens_the_circuit_again() {
    let server = flaky().await;
    let config = TransportConfig {
        breaker: BreakerConfig::with(2, Duration::from_millis(200), 1),
        ..TransportConfig::default()
    };
    let client = server.client(config);
    let peer = server.peer();
    server.failing.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        status(&client, &peer, SendOptions::default()).await.unwrap();
    }
    assert_eq!(client.circuit_state(&peer), Some(CircuitState::Open));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(status(&client, &peer, SendOptions::default()).await.unwrap(), 503, "the probe");
    assert_eq!(client.circuit_state(&peer), Some(CircuitState::Open));
    assert!(matches!(
        status(&client, &peer, SendOptions::default()).await,
        Err(TransportError::CircuitOpen { .. })
    ));
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn safe_requests_are_retried_until_success_and_unsafe_ones_never() {
    let server = flaky().await;
    let config = TransportConfig { retry: fast_retries(3), ..TransportConfig::default() };
    let client = server.client(config);
    let peer = server.peer();

    server.fail_first.store(2, Ordering::SeqCst);
    let response = client.send(&peer, get(), SendOptions::safe_to_retry()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().collect_bytes().await.unwrap(), "#3");
    assert_eq!((server.hits(), client.stats().retries), (3, 2));

    // Not marked safe: one attempt, and the 503 comes back as the answer.
    server.failing.store(true, Ordering::SeqCst);
    assert_eq!(status(&client, &peer, SendOptions::default()).await.unwrap(), 503);
    assert_eq!(server.hits(), 4);

    // Marked safe but still failing: exactly max_attempts, then the last answer.
    assert_eq!(status(&client, &peer, SendOptions::safe_to_retry()).await.unwrap(), 503);
    assert_eq!(server.hits(), 7);
    let stats = client.stats();
    assert_eq!((stats.requests, stats.attempts, stats.retries), (3, 7, 4));
}

#[tokio::test]
async fn connect_failures_are_retried_only_when_safe() {
    let ca = issuer("example.org");
    let client_identity = identity(&ca, CLIENT);
    let client = MtlsTransport::new(
        &*client_identity,
        TransportConfig { retry: fast_retries(3), ..TransportConfig::default() },
    )
    .unwrap();
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let peer = Peer::new(Endpoint::from(closed), ExpectedPeer::exact(id(SERVER)));
    let error = status(&client, &peer, SendOptions::default()).await.unwrap_err();
    assert!(matches!(error, TransportError::Unreachable { .. }), "{error:?}");
    assert_eq!(client.stats().attempts, 1);
    let error = status(&client, &peer, SendOptions::safe_to_retry()).await.unwrap_err();
    assert!(matches!(error, TransportError::Unreachable { .. }), "{error:?}");
    assert_eq!(client.stats().attempts, 4);
}

#[tokio::test]
async fn slow_handshakes_and_slow_answers_time_out() {
    // A TCP listener that never speaks TLS: the handshake cannot finish.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            held.push(tcp);
        }
    });
    let server = flaky().await;
    let client = server.client(TransportConfig {
        connect_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(200),
        ..TransportConfig::default()
    });
    let peer = Peer::new(Endpoint::from(silent_addr), ExpectedPeer::exact(id(SERVER)));
    let error = status(&client, &peer, SendOptions::default()).await.unwrap_err();
    assert!(matches!(error, TransportError::ConnectTimeout { .. }), "{error:?}");

    server.delay_ms.store(2_000, Ordering::SeqCst);
    let error = status(&client, &server.peer(), SendOptions::default()).await.unwrap_err();
    assert!(matches!(error, TransportError::RequestTimeout { .. }), "{error:?}");
    // A per-request timeout overrides the configured one.
    server.delay_ms.store(300, Ordering::SeqCst);
    let options = SendOptions::default().with_timeout(Duration::from_secs(5));
    assert_eq!(status(&client, &server.peer(), options).await.unwrap(), 200);
}

#[tokio::test]
async fn connections_are_pooled_per_peer_and_per_expected_identity() {
    for http in [HttpVersions::Auto, HttpVersions::Http1Only] {
        let server = flaky().await;
        let client = server.client(TransportConfig { http, ..TransportConfig::default() });
        let exact = server.peer();
        for _ in 0..20 {
            let response = client.send(&exact, get(), SendOptions::default()).await.unwrap();
            assert_eq!(
                response.extensions().get::<PeerIdentity>().map(|p| p.to_string()).as_deref(),
                Some(SERVER),
                "the response carries the server's proven identity"
            );
            response.into_body().collect_bytes().await.unwrap();
        }
        assert_eq!(client.stats().connections_opened, 1, "{http:?}: one connection reused");
        assert_eq!(client.idle_connections(&exact), 1);

        // Same address, another expectation: another pool entry and handshake.
        let by_domain =
            Peer::new(exact.endpoint.clone(), ExpectedPeer::member_of(td("example.org")));
        assert_eq!(status(&client, &by_domain, SendOptions::default()).await.unwrap(), 200);
        assert_eq!(client.stats().connections_opened, 2);

        // And an expectation the server does not meet is refused even though verified
        // connections to that very address sit in the pool.
        let wrong = Peer::new(exact.endpoint.clone(), ExpectedPeer::exact(id(CLIENT)));
        let error = status(&client, &wrong, SendOptions::default()).await.unwrap_err();
        assert!(error.handshake_refusal().is_some(), "{error:?}");
        assert_eq!(server.hits(), 21);
    }
}

#[tokio::test]
async fn the_per_peer_limit_bounds_http1_connections() {
    let server = flaky().await;
    server.delay_ms.store(150, Ordering::SeqCst);
    let client = server.client(TransportConfig {
        http: HttpVersions::Http1Only,
        pool: PoolConfig::with(2, 100, Duration::from_secs(60)),
        ..TransportConfig::default()
    });
    let peer = server.peer();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (client, peer) = (client.clone(), peer.clone());
            tokio::spawn(async move {
                let response = client.send(&peer, get(), SendOptions::default()).await?;
                response.into_body().collect_bytes().await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(server.hits(), 6);
    assert_eq!(client.stats().connections_opened, 2, "never more than the per-peer limit");
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(server.server.stats().connections_accepted, 2);
}

#[tokio::test]
async fn responses_stream_frame_by_frame() {
    let ca = issuer("example.org");
    let server_identity = identity(&ca, SERVER);
    let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
        tokio::spawn(async move {
            for n in 0..3 {
                let _ = tx.send(Ok(Frame::data(Bytes::from(format!("data: {n}\n\n"))))).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        Ok::<_, Infallible>(Response::new(body))
    });
    let server = MtlsServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        &*server_identity,
        ServerConfig::default(),
    )
    .await
    .unwrap()
    .serve(service);
    let client_identity = identity(&ca, CLIENT);
    let client = MtlsTransport::new(&*client_identity, TransportConfig::default()).unwrap();
    let peer = Peer::new(Endpoint::from(server.local_addr()), ExpectedPeer::exact(id(SERVER)));
    let mut body = client.send(&peer, get(), SendOptions::default()).await.unwrap().into_body();
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        // HTTP/2 may end the stream with an empty DATA frame.
        if let Ok(data) = frame.unwrap().into_data()
            && !data.is_empty()
        {
            frames.push(data);
        }
    }
    assert_eq!(frames, ["data: 0\n\n", "data: 1\n\n", "data: 2\n\n"], "one frame per event");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_connections() {
    let server = flaky().await;
    server.delay_ms.store(300, Ordering::SeqCst);
    let client = server.client(TransportConfig::default());
    let peer = server.peer();
    let in_flight = {
        let (client, peer) = (client.clone(), peer.clone());
        tokio::spawn(async move {
            let response = client.send(&peer, get(), SendOptions::default()).await?;
            response.into_body().collect_bytes().await
        })
    };
    while server.in_flight.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let Flaky { server: handle, hits, .. } = server;
    handle.shutdown().await;
    assert_eq!(in_flight.await.unwrap().unwrap(), "#1", "the in-flight request completed");
    let fresh = MtlsTransport::new(
        &*identity(&issuer("example.org"), CLIENT),
        TransportConfig {
            retry: RetryConfig::with(1, Duration::ZERO, Duration::ZERO),
            ..TransportConfig::default()
        },
    )
    .unwrap();
    assert!(
        status(&fresh, &peer, SendOptions { retry: Retry::Never, timeout: None }).await.is_err()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalid_configuration_is_refused() {
    let ca = issuer("example.org");
    let client_identity = identity(&ca, CLIENT);
    let cases = [
        TransportConfig { connect_timeout: Duration::ZERO, ..TransportConfig::default() },
        TransportConfig {
            retry: RetryConfig::with(0, Duration::ZERO, Duration::ZERO),
            ..TransportConfig::default()
        },
        TransportConfig {
            pool: PoolConfig::with(0, 1, Duration::from_secs(1)),
            ..TransportConfig::default()
        },
        TransportConfig {
            breaker: BreakerConfig::with(0, Duration::from_secs(1), 1),
            ..TransportConfig::default()
        },
    ];
    for config in cases {
        let result = MtlsTransport::new(&*client_identity, config.clone());
        assert!(matches!(result, Err(TransportError::Config(_))), "{config:?}");
    }
}

//! [`MtlsTransport`]: the pooled mTLS HTTP client behind the [`Transport`] trait.

mod backoff;
mod breaker;
mod pool;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agentweave_identity::IdentityProvider;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::Full;
use tokio::time::Instant;

pub use backoff::RetryConfig;
pub use breaker::{BreakerConfig, CircuitState};
pub use pool::PoolConfig;
use pool::{Conn, PeerPool, Pools};

use crate::body::ResponseBody;
use crate::error::TransportError;
use crate::peer::{Peer, PeerIdentity};
use crate::tls::{HttpVersions, SpiffeTls, TlsVersions};
use crate::{BoxFuture, Retry, SendOptions, Transport};

/// Client settings; every default is AgentWeave's documented one.
///
/// | setting | default |
/// | --- | --- |
/// | TLS versions | 1.3 only |
/// | HTTP versions (ALPN) | h2, then http/1.1 |
/// | connect timeout (TCP + TLS) | 10 s |
/// | request timeout (until the response head) | 30 s |
/// | pool | 10 connections a peer, 100 in all, 60 s idle |
/// | retries (safe requests only) | 3 attempts, backoff from 1 s doubling up to 30 s, full jitter |
/// | circuit breaker | opens after 5 failures, 30 s recovery, closes after 2 successful probes |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    /// TLS versions offered.
    pub tls_versions: TlsVersions,
    /// HTTP versions offered by ALPN.
    pub http: HttpVersions,
    /// Bound on TCP connect plus TLS handshake (and on waiting for a pooled connection).
    pub connect_timeout: Duration,
    /// Bound on waiting for the response head (the body then streams without a bound).
    pub request_timeout: Duration,
    /// Pool limits.
    pub pool: PoolConfig,
    /// Retry policy for requests marked [`Retry::SafeToRetry`].
    pub retry: RetryConfig,
    /// Per-peer circuit breaker.
    pub breaker: BreakerConfig,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            tls_versions: TlsVersions::default(),
            http: HttpVersions::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            pool: PoolConfig::default(),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

impl TransportConfig {
    fn validate(&self) -> Result<(), TransportError> {
        let checks: [(bool, &str); 7] = [
            (self.connect_timeout.is_zero(), "connect_timeout must be positive"),
            (self.request_timeout.is_zero(), "request_timeout must be positive"),
            (self.pool.max_per_peer == 0, "pool.max_per_peer must be at least 1"),
            (self.pool.max_total == 0, "pool.max_total must be at least 1"),
            (self.retry.max_attempts == 0, "retry.max_attempts must be at least 1"),
            (self.breaker.failure_threshold == 0, "breaker.failure_threshold must be at least 1"),
            (self.breaker.success_threshold == 0, "breaker.success_threshold must be at least 1"),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, message)) => Err(TransportError::Config((*message).to_owned())),
            None => Ok(()),
        }
    }
}

/// Counters of a transport since it was created.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Calls to `send`.
    pub requests: u64,
    /// Attempts made (the first and every retry).
    pub attempts: u64,
    /// Retries made.
    pub retries: u64,
    /// Connections opened (each a full TLS handshake).
    pub connections_opened: u64,
    /// Handshakes refused, by us or by the peer.
    pub handshakes_refused: u64,
    /// Calls refused by an open circuit without touching the network.
    pub circuit_rejections: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    connections_opened: AtomicU64,
    handshakes_refused: AtomicU64,
    circuit_rejections: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug)]
struct Inner {
    tls: SpiffeTls,
    config: TransportConfig,
    pools: Pools,
    counters: Counters,
    /// Dropped with the transport, which ends the idle reaper at once.
    _reaper_stop: tokio::sync::oneshot::Sender<()>,
}

/// The mTLS [`Transport`]: hyper 1.x over rustls, pooled, with retries and circuit breakers. See
/// [`TransportConfig`] for the defaults. Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub struct MtlsTransport {
    inner: Arc<Inner>,
}

impl MtlsTransport {
    /// A transport presenting `identity`'s current SVID and trusting its current bundles (both
    /// read again for every new connection). Must be called inside a tokio runtime, which runs
    /// the task that closes idle connections.
    pub fn new(
        identity: &dyn IdentityProvider,
        config: TransportConfig,
    ) -> Result<Self, TransportError> {
        config.validate()?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        let (reaper_stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let inner = Arc::new(Inner {
            tls: SpiffeTls::new(identity, config.tls_versions),
            pools: Pools::new(config.pool.clone(), config.breaker.clone(), config.http),
            config,
            counters: Counters::default(),
            _reaper_stop: reaper_stop,
        });
        let weak = Arc::downgrade(&inner);
        let period = (inner.config.pool.idle_timeout / 2)
            .clamp(Duration::from_millis(100), Duration::from_secs(30));
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    () = tokio::time::sleep(period) => {}
                }
                match weak.upgrade() {
                    Some(inner) => inner.pools.reap(),
                    None => return,
                }
            }
        });
        Ok(Self { inner })
    }

    /// The configuration in force.
    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn stats(&self) -> TransportStats {
        let c = &self.inner.counters;
        TransportStats {
            requests: c.requests.load(Ordering::Relaxed),
            attempts: c.attempts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            connections_opened: c.connections_opened.load(Ordering::Relaxed),
            handshakes_refused: c.handshakes_refused.load(Ordering::Relaxed),
            circuit_rejections: c.circuit_rejections.load(Ordering::Relaxed),
        }
    }

    /// The circuit state for `peer`, if it was ever called.
    pub fn circuit_state(&self, peer: &Peer) -> Option<CircuitState> {
        self.inner.pools.existing(peer).map(|p| p.breaker.state())
    }

    /// Idle connections held for `peer` (a shared HTTP/2 connection counts as one).
    pub fn idle_connections(&self, peer: &Peer) -> usize {
        self.inner.pools.idle_count(peer)
    }

    async fn send_inner(
        &self,
        peer: &Peer,
        request: Request<Bytes>,
        options: SendOptions,
    ) -> Result<Response<ResponseBody>, TransportError> {
        let inner = &self.inner;
        bump(&inner.counters.requests);
        let pool = inner
            .pools
            .pool_for(peer, || inner.tls.client_config(peer.expected.clone(), inner.config.http))?;
        let (parts, body) = request.into_parts();
        let max_attempts = match options.retry {
            Retry::SafeToRetry => inner.config.retry.max_attempts,
            Retry::Never => 1,
        };
        let timeout = options.timeout.unwrap_or(inner.config.request_timeout);
        let mut attempt: u32 = 0;
        loop {
            let admission = pool.breaker.admit().map_err(|retry_after| {
                bump(&inner.counters.circuit_rejections);
                TransportError::CircuitOpen { endpoint: pool.label.to_string(), retry_after }
            })?;
            bump(&inner.counters.attempts);
            let outcome = self.attempt(&pool, &parts, &body, timeout).await;
            let (health, retryable) = match &outcome {
                Ok(response) => {
                    let status = response.status();
                    (Some(!status.is_server_error()), matches!(status.as_u16(), 502..=504))
                }
                Err(error) => {
                    if error.handshake_refusal().is_some() {
                        bump(&inner.counters.handshakes_refused);
                    }
                    (error.counts_against_peer().then_some(false), error.is_transient())
                }
            };
            match health {
                Some(healthy) => admission.record(healthy),
                // A local fault says nothing about the peer.
                None => drop(admission),
            }
            attempt += 1;
            if retryable && attempt < max_attempts {
                bump(&inner.counters.retries);
                let delay = inner.config.retry.delay(attempt - 1);
                tracing::debug!(endpoint = %pool.endpoint, attempt, ?delay, "retrying");
                drop(outcome);
                tokio::time::sleep(delay).await;
                continue;
            }
            return outcome;
        }
    }

    /// One attempt: a connection from the pool, the request, the response head.
    async fn attempt(
        &self,
        pool: &Arc<PeerPool>,
        parts: &http::request::Parts,
        body: &Bytes,
        timeout: Duration,
    ) -> Result<Response<ResponseBody>, TransportError> {
        let inner = &self.inner;
        let connect_timeout = inner.config.connect_timeout;
        let deadline = Instant::now() + connect_timeout;
        // A pooled connection that the peer closed while idle fails before the request leaves;
        // such a request is resent on another connection whatever its retry mode.
        let mut unsent_resends = 0;
        loop {
            let (conn, fresh) = inner.pools.checkout(pool, deadline, connect_timeout).await?;
            if fresh {
                bump(&inner.counters.connections_opened);
            }
            let h2 = matches!(conn, Conn::H2(_));
            let request = build_request(parts, body, pool, h2)?;
            let sent = tokio::time::timeout(timeout, send_on(conn, request, pool.clone())).await;
            match sent {
                Err(_) => {
                    return Err(TransportError::RequestTimeout {
                        endpoint: pool.label.to_string(),
                        after: timeout,
                    });
                }
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(SendFailure::NotSent(error))) if unsent_resends < 2 && !fresh => {
                    tracing::debug!(endpoint = %pool.label, %error, "pooled connection was closed; resending");
                    unsent_resends += 1;
                }
                Ok(Err(SendFailure::NotSent(error) | SendFailure::Failed(error))) => {
                    return Err(hyper_fault(&pool.label, &error));
                }
            }
        }
    }
}

impl Transport for MtlsTransport {
    fn send<'a>(
        &'a self,
        peer: &'a Peer,
        request: Request<Bytes>,
        options: SendOptions,
    ) -> BoxFuture<'a, Result<Response<ResponseBody>, TransportError>> {
        Box::pin(self.send_inner(peer, request, options))
    }
}

enum SendFailure {
    /// The request never left (the connection was already closed).
    NotSent(hyper::Error),
    /// The request may have reached the peer.
    Failed(hyper::Error),
}

async fn send_on(
    conn: Conn,
    request: Request<Full<Bytes>>,
    pool: Arc<PeerPool>,
) -> Result<Response<ResponseBody>, SendFailure> {
    let split = |mut e: hyper::client::conn::TrySendError<Request<Full<Bytes>>>| {
        if e.take_message().is_some() {
            SendFailure::NotSent(e.into_error())
        } else {
            SendFailure::Failed(e.into_error())
        }
    };
    let (response, peer) = match conn {
        Conn::H1(mut h1) => {
            let response = h1.sender.try_send_request(request).await.map_err(split)?;
            let peer = h1.peer.clone();
            let on_complete = Box::new(move || pool.give_back(h1));
            (response.map(|b| ResponseBody::from_hyper(b, Some(on_complete))), peer)
        }
        Conn::H2(mut h2) => {
            let response = h2.sender.try_send_request(request).await.map_err(split)?;
            let peer = h2.peer.clone();
            // Holding the handle marks a request in flight until the body is done or dropped.
            let on_complete = Box::new(move || drop(h2));
            (response.map(|b| ResponseBody::from_hyper(b, Some(on_complete))), peer)
        }
    };
    let mut response = response;
    response.extensions_mut().insert(PeerIdentity(peer));
    Ok(response)
}

fn build_request(
    parts: &http::request::Parts,
    body: &Bytes,
    pool: &PeerPool,
    h2: bool,
) -> Result<Request<Full<Bytes>>, TransportError> {
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let authority = pool.endpoint.authority();
    let uri = if h2 { format!("https://{authority}{path}") } else { path.to_owned() };
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .body(Full::new(body.clone()))
        .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
    *request.headers_mut() = parts.headers.clone();
    if h2 {
        // HTTP/2 carries the authority as a pseudo-header.
        request.headers_mut().remove(header::HOST);
    } else if !request.headers().contains_key(header::HOST) {
        let host = HeaderValue::from_str(&authority)
            .map_err(|e| TransportError::InvalidRequest(format!("Host header: {e}")))?;
        request.headers_mut().insert(header::HOST, host);
    }
    Ok(request)
}

/// Names a hyper failure, recovering a TLS refusal the peer sent after the handshake (with TLS
/// 1.3 the server checks our certificate after we consider the handshake done, so its refusal
/// arrives on the first read).
fn hyper_fault(endpoint: &str, error: &hyper::Error) -> TransportError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|e| e.is::<rustls::Error>())
        {
            return TransportError::HandshakeRefused {
                endpoint: endpoint.to_owned(),
                reason: crate::tls::classify_io(io),
            };
        }
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
            return TransportError::HandshakeRefused {
                endpoint: endpoint.to_owned(),
                reason: crate::tls::classify_io(&io),
            };
        }
        source = current.source();
    }
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        detail.push_str(": ");
        detail.push_str(&current.to_string());
        source = current.source();
    }
    TransportError::Connection { endpoint: endpoint.to_owned(), detail }
}

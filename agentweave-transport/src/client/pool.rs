//! The connection pool: per (endpoint, expected identity) key, a shared HTTP/2 connection or a
//! set of idle HTTP/1.1 connections, within a per-peer and a global connection limit.
//!
//! The key includes the expected identity because a connection is verified for one expectation
//! in its handshake: a connection opened for `spiffe://a/x` is never handed to a caller expecting
//! `spiffe://a/y`, even on the same address.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use agentweave_identity::SpiffeId;
use agentweave_identity::rustls_pki_types::ServerName;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::breaker::{Breaker, BreakerConfig};
use crate::error::TransportError;
use crate::peer::{Endpoint, Peer};
use crate::tls::{ALPN_H2, HttpVersions, classify_io, verified_peer_id};

/// Pool limits. Defaults: 10 connections a peer, 100 in all, closed after 60 s idle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Connections open at once to one peer (endpoint and expected identity).
    pub max_per_peer: usize,
    /// Connections open at once in all.
    pub max_total: usize,
    /// An unused connection is closed after this long.
    pub idle_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_per_peer: 10, max_total: 100, idle_timeout: Duration::from_secs(60) }
    }
}

impl PoolConfig {
    /// The same config with other values.
    pub fn with(max_per_peer: usize, max_total: usize, idle_timeout: Duration) -> Self {
        Self { max_per_peer, max_total, idle_timeout }
    }
}

/// The pool key: endpoint and expected identity (exactly a [`Peer`]).
pub(crate) type PoolKey = Peer;

/// The slots a connection occupies; freed when the connection handle is dropped.
#[derive(Debug)]
struct Permits {
    _peer: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

pub(crate) type Http1Sender = http1::SendRequest<Full<Bytes>>;
pub(crate) type Http2Sender = http2::SendRequest<Full<Bytes>>;

/// An HTTP/1.1 connection, owned by one request at a time.
#[derive(Debug)]
pub(crate) struct H1Conn {
    pub(crate) sender: Http1Sender,
    pub(crate) peer: SpiffeId,
    _permits: Permits,
}

/// A handle on the peer's shared HTTP/2 connection. `active` counts requests in flight (its
/// strong count minus the pool's own).
#[derive(Clone, Debug)]
pub(crate) struct H2Conn {
    pub(crate) sender: Http2Sender,
    pub(crate) peer: SpiffeId,
    pub(crate) active: Arc<()>,
    _permits: Arc<Permits>,
}

/// A connection checked out for one request.
#[derive(Debug)]
pub(crate) enum Conn {
    H1(H1Conn),
    H2(H2Conn),
}

#[derive(Debug, Default)]
struct Idle {
    h1: Vec<(H1Conn, Instant)>,
    h2: Option<(H2Conn, Instant)>,
}

/// Everything kept for one key: connections, limits, and the breaker.
pub(crate) struct PeerPool {
    pub(crate) endpoint: Endpoint,
    /// `endpoint` as text, for errors and logs.
    pub(crate) label: Arc<str>,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    per_peer: Arc<Semaphore>,
    idle: Mutex<Idle>,
    returned: Notify,
    pub(crate) breaker: Arc<Breaker>,
    last_used: Mutex<Instant>,
    /// What the peer negotiated last time (unknown, HTTP/1.1, HTTP/2).
    protocol: AtomicU8,
    /// Held while opening a connection that may be HTTP/2, so that a burst of first requests
    /// shares one multiplexed connection instead of opening one each.
    connecting: tokio::sync::Mutex<()>,
    /// Only HTTP/2 was offered: a peer that does not select it by ALPN is refused.
    h2_only: bool,
}

const PROTOCOL_UNKNOWN: u8 = 0;
const PROTOCOL_H1: u8 = 1;
const PROTOCOL_H2: u8 = 2;

impl std::fmt::Debug for PeerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerPool")
            .field("endpoint", &self.endpoint)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves the data consistent (single pushes, pops, assignments).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PeerPool {
    /// Puts an HTTP/1.1 connection back after its response was read to the end.
    pub(crate) fn give_back(&self, conn: H1Conn) {
        if conn.sender.is_closed() {
            return;
        }
        lock(&self.idle).h1.push((conn, Instant::now()));
        self.returned.notify_one();
    }

    /// An idle connection, if one is usable (expired and closed ones are dropped on the way).
    fn take_idle(&self, idle_timeout: Duration) -> Option<Conn> {
        let now = Instant::now();
        let mut idle = lock(&self.idle);
        if let Some((h2, used)) = &mut idle.h2 {
            if !h2.sender.is_closed() {
                *used = now;
                return Some(Conn::H2(h2.clone()));
            }
            idle.h2 = None;
        }
        while let Some((conn, since)) = idle.h1.pop() {
            if !conn.sender.is_closed() && now.duration_since(since) < idle_timeout {
                return Some(Conn::H1(conn));
            }
        }
        None
    }

    /// The shared HTTP/2 connection, if open.
    fn take_idle_h2(&self) -> Option<Conn> {
        let mut idle = lock(&self.idle);
        match &mut idle.h2 {
            Some((h2, used)) if !h2.sender.is_closed() => {
                *used = Instant::now();
                Some(Conn::H2(h2.clone()))
            }
            _ => None,
        }
    }

    fn idle_count(&self) -> usize {
        let idle = lock(&self.idle);
        idle.h1.len() + usize::from(idle.h2.is_some())
    }

    /// Closes connections unused for `idle_timeout`; true when the pool holds none afterwards.
    fn reap(&self, idle_timeout: Duration) -> bool {
        let now = Instant::now();
        let mut idle = lock(&self.idle);
        idle.h1.retain(|(c, since)| {
            !c.sender.is_closed() && now.duration_since(*since) < idle_timeout
        });
        if let Some((h2, used)) = &idle.h2 {
            let in_flight = Arc::strong_count(&h2.active) > 1;
            if h2.sender.is_closed() || (!in_flight && now.duration_since(*used) >= idle_timeout) {
                idle.h2 = None;
            }
        }
        idle.h1.is_empty() && idle.h2.is_none()
    }

    /// Drops one idle HTTP/1.1 connection (to free a global slot for another peer).
    fn evict_one(&self) -> bool {
        lock(&self.idle).h1.pop().is_some()
    }

    async fn connect(
        &self,
        permits: Permits,
        deadline: Instant,
        connect_timeout: Duration,
    ) -> Result<Conn, TransportError> {
        let endpoint = self.endpoint.to_string();
        let timed_out = || TransportError::ConnectTimeout {
            endpoint: endpoint.clone(),
            after: connect_timeout,
        };
        let tcp = tokio::time::timeout_at(
            deadline,
            TcpStream::connect((self.endpoint.host(), self.endpoint.port())),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|source| TransportError::Unreachable { endpoint: endpoint.clone(), source })?;
        let _ = tcp.set_nodelay(true);
        let tls = tokio::time::timeout_at(
            deadline,
            self.connector.connect(self.server_name.clone(), tcp),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|error| TransportError::HandshakeRefused {
            endpoint: endpoint.clone(),
            reason: classify_io(&error),
        })?;
        let (_, session) = tls.get_ref();
        let peer = verified_peer_id(session.peer_certificates()).map_err(|reason| {
            TransportError::HandshakeRefused { endpoint: endpoint.clone(), reason }
        })?;
        let h2 = session.alpn_protocol() == Some(ALPN_H2);
        if self.h2_only && !h2 {
            return Err(TransportError::Connection {
                endpoint,
                detail: "only HTTP/2 was offered and the peer did not select it by ALPN".into(),
            });
        }
        self.protocol.store(if h2 { PROTOCOL_H2 } else { PROTOCOL_H1 }, Ordering::Relaxed);
        let io = TokioIo::new(tls);
        let failed = |e: hyper::Error| TransportError::Connection {
            endpoint: endpoint.clone(),
            detail: format!("HTTP handshake: {e}"),
        };
        if h2 {
            let (sender, conn) =
                http2::handshake(TokioExecutor::new(), io).await.map_err(failed)?;
            tokio::spawn(async move {
                if let Err(error) = conn.await {
                    tracing::debug!(%error, "HTTP/2 connection closed with an error");
                }
            });
            let conn = H2Conn { sender, peer, active: Arc::new(()), _permits: Arc::new(permits) };
            let mut idle = lock(&self.idle);
            let replace = idle.h2.as_ref().is_none_or(|(c, _)| c.sender.is_closed());
            if replace {
                idle.h2 = Some((conn.clone(), Instant::now()));
            }
            Ok(Conn::H2(conn))
        } else {
            let (sender, conn) = http1::handshake(io).await.map_err(failed)?;
            tokio::spawn(async move {
                if let Err(error) = conn.await {
                    tracing::debug!(%error, "HTTP/1.1 connection closed with an error");
                }
            });
            Ok(Conn::H1(H1Conn { sender, peer, _permits: permits }))
        }
    }
}

/// Every peer's pool, and the global connection limit.
#[derive(Debug)]
pub(crate) struct Pools {
    config: PoolConfig,
    http: HttpVersions,
    breaker: BreakerConfig,
    global: Arc<Semaphore>,
    pools: Mutex<HashMap<PoolKey, Arc<PeerPool>>>,
}

impl Pools {
    pub(crate) fn new(config: PoolConfig, breaker: BreakerConfig, http: HttpVersions) -> Self {
        let global = Arc::new(Semaphore::new(config.max_total));
        Self { config, http, breaker, global, pools: Mutex::new(HashMap::new()) }
    }

    /// The pool for `key`, created with a TLS config from `make_config` on first use.
    pub(crate) fn pool_for(
        &self,
        key: &PoolKey,
        make_config: impl FnOnce() -> Result<Arc<rustls::ClientConfig>, TransportError>,
    ) -> Result<Arc<PeerPool>, TransportError> {
        let mut pools = lock(&self.pools);
        if let Some(pool) = pools.get(key) {
            *lock(&pool.last_used) = Instant::now();
            return Ok(pool.clone());
        }
        let host = key.endpoint.host().to_owned();
        // The name is only the SNI value (and is ignored by our verifier); a host that is neither
        // a DNS name nor an IP address still connects, without SNI.
        let server_name = ServerName::try_from(host)
            .unwrap_or_else(|_| ServerName::from(std::net::Ipv4Addr::UNSPECIFIED));
        let pool = Arc::new(PeerPool {
            endpoint: key.endpoint.clone(),
            label: Arc::from(key.endpoint.to_string()),
            server_name,
            connector: TlsConnector::from(make_config()?),
            per_peer: Arc::new(Semaphore::new(self.config.max_per_peer)),
            idle: Mutex::new(Idle::default()),
            returned: Notify::new(),
            breaker: Arc::new(Breaker::new(self.breaker.clone())),
            last_used: Mutex::new(Instant::now()),
            protocol: AtomicU8::new(PROTOCOL_UNKNOWN),
            connecting: tokio::sync::Mutex::new(()),
            h2_only: self.http == HttpVersions::Http2Only,
        });
        pools.insert(key.clone(), pool.clone());
        Ok(pool)
    }

    /// The pool for `key` if it exists.
    pub(crate) fn existing(&self, key: &PoolKey) -> Option<Arc<PeerPool>> {
        lock(&self.pools).get(key).cloned()
    }

    /// Idle connections held for `key`.
    pub(crate) fn idle_count(&self, key: &PoolKey) -> usize {
        self.existing(key).map_or(0, |p| p.idle_count())
    }

    /// A connection for one request: an idle one, or a new one within the limits. Waits (until
    /// `deadline`) for a connection to come back when the peer's limit is reached.
    /// Returns the connection and whether it was opened for this request.
    pub(crate) async fn checkout(
        &self,
        pool: &Arc<PeerPool>,
        deadline: Instant,
        connect_timeout: Duration,
    ) -> Result<(Conn, bool), TransportError> {
        let exhausted = || TransportError::PoolExhausted {
            endpoint: pool.endpoint.to_string(),
            after: connect_timeout,
        };
        loop {
            let returned = pool.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(conn) = pool.take_idle(self.config.idle_timeout) {
                match conn {
                    Conn::H2(h2) => return Ok((Conn::H2(h2), false)),
                    Conn::H1(h1) if h1.sender.is_ready() => return Ok((Conn::H1(h1), false)),
                    Conn::H1(mut h1) => {
                        // The previous response was read to its end; wait for hyper to notice.
                        match tokio::time::timeout_at(deadline, h1.sender.ready()).await {
                            Ok(Ok(())) => return Ok((Conn::H1(h1), false)),
                            Ok(Err(_)) => continue,
                            Err(_) => return Err(exhausted()),
                        }
                    }
                }
            }
            let _connecting = if pool.protocol.load(Ordering::Relaxed) == PROTOCOL_H1 {
                None
            } else {
                let guard = tokio::time::timeout_at(deadline, pool.connecting.lock())
                    .await
                    .map_err(|_| exhausted())?;
                // Whoever held the lock may have opened a shareable connection meanwhile.
                if let Some(Conn::H2(h2)) = pool.take_idle_h2() {
                    return Ok((Conn::H2(h2), false));
                }
                Some(guard)
            };
            let peer_permit = match pool.per_peer.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    tokio::select! {
                        () = &mut returned => continue,
                        permit = pool.per_peer.clone().acquire_owned() => match permit {
                            Ok(permit) => permit,
                            Err(_) => return Err(exhausted()),
                        },
                        () = tokio::time::sleep_until(deadline) => return Err(exhausted()),
                    }
                }
            };
            let global_permit = self.global_permit(pool, deadline, exhausted).await?;
            let permits = Permits { _peer: peer_permit, _global: global_permit };
            // Boxed: the connect future is large and rare; keeping it out of line keeps the
            // per-request futures small (they are moved on every call).
            let conn = Box::pin(pool.connect(permits, deadline, connect_timeout)).await?;
            return Ok((conn, true));
        }
    }

    async fn global_permit(
        &self,
        pool: &Arc<PeerPool>,
        deadline: Instant,
        exhausted: impl Fn() -> TransportError,
    ) -> Result<OwnedSemaphorePermit, TransportError> {
        if let Ok(permit) = self.global.clone().try_acquire_owned() {
            return Ok(permit);
        }
        // Every global slot is taken: close an idle connection of another peer, then wait.
        let others: Vec<Arc<PeerPool>> = lock(&self.pools).values().cloned().collect();
        for other in others {
            if !Arc::ptr_eq(&other, pool) && other.evict_one() {
                break;
            }
        }
        match tokio::time::timeout_at(deadline, self.global.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(exhausted()),
        }
    }

    /// Closes idle connections past the idle timeout and forgets pools that hold nothing and
    /// whose circuit is closed (an open circuit must be remembered).
    pub(crate) fn reap(&self) {
        let idle_timeout = self.config.idle_timeout;
        let now = Instant::now();
        lock(&self.pools).retain(|_, pool| {
            let empty = pool.reap(idle_timeout);
            let unused = now.duration_since(*lock(&pool.last_used)) >= idle_timeout;
            let closed = pool.breaker.state() == super::CircuitState::Closed;
            let in_use = Arc::strong_count(pool) > 1;
            !(empty && unused && closed && !in_use)
        });
    }
}

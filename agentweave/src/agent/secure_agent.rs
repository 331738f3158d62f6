//! [`SecureAgent`]: the builder, start-up checks, serving and graceful stop.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use agentweave_a2a::limits::BodyLimits;
use agentweave_a2a::server::A2aServer;
use agentweave_a2a::types::AgentCard;
use agentweave_attest::{Verifier, VerifierConfig};
use agentweave_authz::PolicyEnforcer;
use agentweave_authz::audit::{AuditLog, AuditedEnforcer};
use agentweave_guard::Pipeline;
use agentweave_identity::dev::DevWorkloadApiServer;
use agentweave_identity::{IdentityProvider, SpiffeId, WorkloadApiProvider};
use agentweave_transport::{
    Endpoint, MtlsServer, MtlsTransport, ServerConfig, ServerStats, Transport, TransportConfig,
    TransportStats,
};
use prometheus_client::registry::Registry;

use super::audit::Auditor;
use super::authorizer::PolicyAuthorizer;
use super::call::peer_for;
use super::caller_identity::CallerFromPeer;
use super::capability::{Capability, guardable};
use super::card::{CardInfo, agent_card};
use super::error::AgentError;
use super::executor::PipelineExecutor;
use super::observe::Observed;
use crate::ops::Readiness;
use crate::ops::collector::{ListenerSlot, StatsCollector};
use crate::ops::health::HealthState;
use crate::ops::metrics::Metrics;
use crate::ops::server::{OpsServer, OpsState};

/// Something kept alive as long as the agent (a dev Workload API server, a policy watcher).
pub(crate) type KeepAlive = Box<dyn Any + Send + Sync>;

/// Configures a [`SecureAgent`]. Identity, policy and an audit decision are required: there is no
/// default for any security layer, so an agent cannot skip one by omission.
///
/// ```no_run
/// # async fn run(
/// #     identity: std::sync::Arc<dyn agentweave_identity::IdentityProvider>,
/// #     policy: std::sync::Arc<dyn agentweave_authz::PolicyEnforcer>,
/// #     audit: agentweave_authz::audit::AuditLog,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use agentweave::agent::{Capability, HandlerError, SecureAgent};
/// use agentweave_identity::SpiffeId;
///
/// let me = SpiffeId::parse("spiffe://example.org/agent/search")?;
/// let agent = SecureAgent::builder(me, "search")
///     .identity(identity)
///     .policy(policy)
///     .audit(audit)
///     .capability(Capability::new("search.query", |ctx| async move {
///         Ok::<_, HandlerError>(serde_json::json!({"results": [], "for": ctx.caller.to_string()}))
///     }))
///     .start()
///     .await?;
/// agent.stop().await;
/// # Ok(()) }
/// ```
pub struct SecureAgentBuilder {
    spiffe_id: SpiffeId,
    info: CardInfo,
    identity: Option<Arc<dyn IdentityProvider>>,
    policy: Option<Arc<dyn PolicyEnforcer>>,
    audit: Option<Option<AuditLog>>,
    guard: Option<Arc<Pipeline>>,
    peers: HashMap<SpiffeId, Endpoint>,
    capabilities: Vec<Capability>,
    listen: SocketAddr,
    operations_listen: Option<SocketAddr>,
    public_url: Option<String>,
    server: ServerConfig,
    transport_config: TransportConfig,
    transport: Option<Arc<dyn Transport>>,
    limits: BodyLimits,
    danger_any_peer_id: bool,
    keep_alive: Vec<KeepAlive>,
}

impl std::fmt::Debug for SecureAgentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureAgentBuilder")
            .field("spiffe_id", &self.spiffe_id)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl SecureAgentBuilder {
    fn new(spiffe_id: SpiffeId, name: &str) -> Self {
        Self {
            spiffe_id,
            info: CardInfo {
                name: name.to_owned(),
                description: String::new(),
                version: "0.1.0".into(),
                url: String::new(),
            },
            identity: None,
            policy: None,
            audit: None,
            guard: None,
            peers: HashMap::new(),
            capabilities: Vec::new(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            operations_listen: None,
            public_url: None,
            server: ServerConfig::default(),
            transport_config: TransportConfig::default(),
            transport: None,
            limits: BodyLimits::default(),
            danger_any_peer_id: false,
            keep_alive: Vec::new(),
        }
    }

    /// Where the SVID and trust bundles come from. Required.
    #[must_use]
    pub fn identity(mut self, identity: Arc<dyn IdentityProvider>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The policy deciding inbound and outbound calls. Required; it must be built for this
    /// agent's SPIFFE ID. Every decision is audited through [`SecureAgentBuilder::audit`].
    #[must_use]
    pub fn policy(mut self, policy: Arc<dyn PolicyEnforcer>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The audit log receiving one record per decision (policy, guard, task ownership).
    /// Required, unless [`SecureAgentBuilder::danger_no_audit`] is called.
    #[must_use]
    pub fn audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(Some(log));
        self
    }

    /// DANGER: runs without an audit trail (development only; the production config refuses it).
    #[must_use]
    pub fn danger_no_audit(mut self) -> Self {
        tracing::warn!("agent built without an audit log: decisions are not recorded");
        self.audit = Some(None);
        self
    }

    /// The guard pipeline (and its attestor) for capabilities that declare a payload type; see
    /// [`crate::agent::agent_guard`]. Required when any capability declares one.
    #[must_use]
    pub fn guard(mut self, pipeline: Arc<Pipeline>) -> Self {
        self.guard = Some(pipeline);
        self
    }

    /// A peer this agent may call: the identity it must prove and where it listens.
    #[must_use]
    pub fn peer(mut self, id: SpiffeId, endpoint: Endpoint) -> Self {
        self.peers.insert(id, endpoint);
        self
    }

    /// A capability this agent serves.
    #[must_use]
    pub fn capability(mut self, capability: Capability) -> Self {
        self.capabilities.push(capability);
        self
    }

    /// The agent card description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.info.description = description.into();
        self
    }

    /// The agent card version. Default: `0.1.0`.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.info.version = version.into();
        self
    }

    /// The mTLS listen address. Default: `127.0.0.1:0` (a free port; see
    /// [`SecureAgent::local_addr`]).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serves `/health/live`, `/health/ready` and `/metrics` on `addr`, plain HTTP, on its own
    /// listener (see [`crate::ops`]). Default: no ops port (the figures stay readable with
    /// [`SecureAgent::readiness`] and [`SecureAgent::metrics_text`]). Bind it where only probes
    /// and scrapers reach: it needs no client certificate.
    #[must_use]
    pub fn operations_listen(mut self, addr: SocketAddr) -> Self {
        self.operations_listen = Some(addr);
        self
    }

    /// The URL published in the agent card. Default: `https://<bound address>`.
    #[must_use]
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Listener settings (TLS versions, timeouts).
    #[must_use]
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.server = config;
        self
    }

    /// Settings of the default outbound transport (pool, retries, breaker, timeouts).
    #[must_use]
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport_config = config;
        self
    }

    /// Another outbound transport in place of the default [`MtlsTransport`]. It must verify the
    /// expected peer identity, as the [`Transport`] contract says.
    #[must_use]
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Request body limits of the A2A server.
    #[must_use]
    pub fn body_limits(mut self, limits: BodyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// DANGER: accept any server SPIFFE ID of the target's trust domain instead of exactly the
    /// target (development only; the production config refuses it).
    #[must_use]
    pub fn danger_accept_any_peer_id(mut self) -> Self {
        tracing::warn!("outbound calls accept any SPIFFE ID of the target's trust domain");
        self.danger_any_peer_id = true;
        self
    }

    /// Keeps `resource` alive as long as the agent.
    pub(crate) fn keep_alive(mut self, resource: KeepAlive) -> Self {
        self.keep_alive.push(resource);
        self
    }

    /// Checks everything, binds the mTLS listener and starts serving.
    ///
    /// Refuses to start when a required part is missing, when the SVID is not valid now or names
    /// another workload than the configured SPIFFE ID, when the policy enforcer is built for
    /// another ID, when capability names are empty or repeated, or when a capability declares a
    /// payload type the guard cannot verify or there is no guard.
    pub async fn start(self) -> Result<SecureAgent, AgentError> {
        let identity = self.identity.ok_or(AgentError::Missing("an identity provider"))?;
        let snapshot = identity.current();
        let actual = snapshot.svid.spiffe_id().clone();
        if actual != self.spiffe_id {
            return Err(AgentError::IdentityMismatch { expected: self.spiffe_id, actual });
        }
        if !snapshot.is_fresh(SystemTime::now()) {
            return Err(AgentError::SvidNotValid(actual));
        }
        let policy =
            self.policy.ok_or(AgentError::Missing("a policy enforcer (a loaded policy)"))?;
        if policy.local_id() != &self.spiffe_id {
            return Err(AgentError::PolicyMismatch {
                expected: self.spiffe_id,
                actual: policy.local_id().clone(),
            });
        }
        let audit = self.audit.ok_or(AgentError::Missing("an audit log (or danger_no_audit)"))?;
        let mut names = HashSet::new();
        for c in &self.capabilities {
            let invalid = |reason: &str| AgentError::Capability {
                name: c.name.clone(),
                reason: reason.to_owned(),
            };
            if c.name.trim().is_empty() {
                return Err(invalid("the name is empty"));
            }
            if !names.insert(c.name.clone()) {
                return Err(invalid("declared twice"));
            }
            if let Some(t) = c.payload_type {
                if !guardable(t) {
                    return Err(invalid(&format!(
                        "payload type {} has no guard engine, so no payload could ever pass",
                        t.as_str()
                    )));
                }
                if self.guard.is_none() {
                    return Err(AgentError::Guard(format!(
                        "capability {:?} declares payload type {} but the agent has no guard",
                        c.name,
                        t.as_str()
                    )));
                }
            }
        }
        let auditor = Auditor(audit.clone());
        let enforcer: Arc<dyn PolicyEnforcer> = match audit {
            Some(log) => Arc::new(AuditedEnforcer::new(policy, log)),
            None => policy,
        };
        let (transport, mtls): (Arc<dyn Transport>, Option<MtlsTransport>) = match self.transport {
            Some(t) => (t, None),
            None => {
                let t = MtlsTransport::new(&*identity, self.transport_config)?;
                (Arc::new(t.clone()), Some(t))
            }
        };
        let server = MtlsServer::bind(self.listen, &*identity, self.server).await?;
        let local_addr = server.local_addr();
        // Bound before anything serves, so that a busy ops port leaves nothing running.
        let ops_listener = match self.operations_listen {
            Some(addr) => Some(
                OpsServer::bind(addr)
                    .await
                    .map_err(|source| AgentError::Operations { addr, source })?,
            ),
            None => None,
        };
        let mut registry = Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry));
        let health =
            Arc::new(HealthState::new(self.spiffe_id.clone(), identity.clone(), enforcer.clone()));
        let mut info = self.info;
        info.url = self.public_url.unwrap_or_else(|| format!("https://{local_addr}"));
        let attestor = self.guard.as_ref().map(|g| g.attestor().clone());
        let card = agent_card(&info, &self.spiffe_id, &self.capabilities, attestor.as_deref());
        let capabilities: HashMap<String, Capability> =
            self.capabilities.into_iter().map(|c| (c.name.clone(), c)).collect();
        let executor = PipelineExecutor {
            local_id: self.spiffe_id.clone(),
            capabilities: Arc::new(capabilities),
            guard: self.guard,
            auditor: auditor.clone(),
            metrics: metrics.clone(),
        };
        let authorizer = PolicyAuthorizer {
            enforcer: enforcer.clone(),
            auditor: auditor.clone(),
            metrics: metrics.clone(),
        };
        let a2a = A2aServer::builder(card.clone(), Arc::new(executor))
            .authorizer(Arc::new(authorizer))
            .limits(self.limits)
            .build()
            .map_err(|e| AgentError::A2a(e.to_string()))?;
        let mut peers: Vec<(String, agentweave_transport::Peer)> = self
            .peers
            .iter()
            .map(|(id, endpoint)| (id.to_string(), peer_for(id, endpoint, self.danger_any_peer_id)))
            .collect();
        peers.sort_by(|a, b| a.0.cmp(&b.0));
        let handle = server.serve_tower(Observed {
            inner: CallerFromPeer { inner: a2a.router() },
            metrics: metrics.clone(),
        });
        let listener = Arc::new(ListenerSlot::new(handle));
        registry.register_collector(Box::new(StatsCollector {
            listener: listener.clone(),
            transport: mtls.clone(),
            peers,
            health: health.clone(),
        }));
        let ops_state = Arc::new(OpsState { registry, health: health.clone() });
        let ops = ops_listener.map(|l| l.serve(ops_state.clone()));
        tracing::info!(spiffe_id = %self.spiffe_id, %local_addr, "secure agent serving");
        Ok(SecureAgent {
            inner: Arc::new(Inner {
                spiffe_id: self.spiffe_id,
                identity,
                enforcer,
                auditor,
                transport,
                mtls,
                peers: self.peers,
                danger_any_peer_id: self.danger_any_peer_id,
                card,
                local_addr,
                verifiers: Mutex::new(HashMap::new()),
                metrics,
                health,
                ops_state,
                listener,
            }),
            ops,
            keep_alive: self.keep_alive,
        })
    }
}

pub(crate) struct Inner {
    pub(crate) spiffe_id: SpiffeId,
    pub(crate) identity: Arc<dyn IdentityProvider>,
    pub(crate) enforcer: Arc<dyn PolicyEnforcer>,
    pub(crate) auditor: Auditor,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) mtls: Option<MtlsTransport>,
    pub(crate) peers: HashMap<SpiffeId, Endpoint>,
    pub(crate) danger_any_peer_id: bool,
    pub(crate) card: AgentCard,
    pub(crate) local_addr: SocketAddr,
    /// One attestation verifier per peer, so that a peer's keys can never verify another's tokens.
    pub(crate) verifiers: Mutex<HashMap<SpiffeId, Arc<Verifier>>>,
    /// Pre-resolved metric handles (the registry is in `ops_state`).
    pub(crate) metrics: Arc<Metrics>,
    /// What readiness is computed from.
    pub(crate) health: Arc<HealthState>,
    /// The metrics registry and readiness, as the ops port serves them.
    pub(crate) ops_state: Arc<OpsState>,
    /// The mTLS listener (its handle until stop, then its final counters).
    pub(crate) listener: Arc<ListenerSlot>,
}

impl Inner {
    pub(crate) fn verifier(&self, peer: &SpiffeId) -> Option<Arc<Verifier>> {
        self.verifiers.lock().unwrap_or_else(PoisonError::into_inner).get(peer).cloned()
    }

    pub(crate) fn set_verifier(&self, peer: SpiffeId, verifier: Verifier) -> Arc<Verifier> {
        let verifier = Arc::new(verifier);
        self.verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer, verifier.clone());
        verifier
    }
}

/// Default settings of attestation verification (5-minute tokens, 30 s leeway).
pub(crate) fn verifier_config() -> VerifierConfig {
    VerifierConfig::default()
}

/// A running agent: it serves its capabilities over mTLS and calls peers with
/// [`SecureAgent::call`]. Stop it with [`SecureAgent::stop`].
pub struct SecureAgent {
    pub(crate) inner: Arc<Inner>,
    ops: Option<OpsServer>,
    keep_alive: Vec<KeepAlive>,
}

impl std::fmt::Debug for SecureAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureAgent")
            .field("spiffe_id", &self.inner.spiffe_id)
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

impl SecureAgent {
    /// Starts configuring an agent that must hold `spiffe_id`; `name` is its card name.
    pub fn builder(spiffe_id: SpiffeId, name: &str) -> SecureAgentBuilder {
        SecureAgentBuilder::new(spiffe_id, name)
    }

    /// This agent's SPIFFE ID.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.inner.spiffe_id
    }

    /// The address the mTLS listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The endpoint peers use to reach this agent on the local host.
    pub fn endpoint(&self) -> Result<Endpoint, AgentError> {
        Ok(Endpoint::new(&self.inner.local_addr.ip().to_string(), self.inner.local_addr.port())?)
    }

    /// The agent card served at `/.well-known/agent-card.json`.
    pub fn card(&self) -> &AgentCard {
        &self.inner.card
    }

    /// The identity provider in use.
    pub fn identity(&self) -> &Arc<dyn IdentityProvider> {
        &self.inner.identity
    }

    /// Counters of the mTLS listener (accepted connections, refused handshakes).
    pub fn server_stats(&self) -> ServerStats {
        self.inner.listener.stats()
    }

    /// The address of the ops port (health and metrics), when one was configured.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().map(OpsServer::local_addr)
    }

    /// Readiness now, as `/health/ready` reports it.
    pub fn readiness(&self) -> Readiness {
        self.inner.health.readiness()
    }

    /// The metrics now, in the OpenMetrics text format `/metrics` serves.
    pub fn metrics_text(&self) -> String {
        self.inner.ops_state.metrics_text()
    }

    /// Counters of the default outbound transport (`None` with a custom transport).
    pub fn transport_stats(&self) -> Option<TransportStats> {
        self.inner.mtls.as_ref().map(MtlsTransport::stats)
    }

    /// Marks the agent not ready (so that `/health/ready` turns 503 and traffic moves away),
    /// stops accepting, lets in-flight requests finish, flushes the audit log, stops the ops
    /// port, and releases what the agent started (a dev Workload API server, a policy watcher).
    pub async fn stop(self) {
        let SecureAgent { inner, ops, keep_alive } = self;
        inner.health.mark_stopping();
        if let Some(handle) = inner.listener.take() {
            handle.shutdown().await;
        }
        inner.auditor.flush().await;
        if let Some(ops) = ops {
            ops.stop(STOP_TIMEOUT).await;
        }
        let spiffe_id = inner.spiffe_id.clone();
        // Our last reference to the identity provider goes here, so that a Workload API client
        // kept alive below can be shut down (it needs to be the only owner).
        drop(inner);
        for resource in keep_alive {
            let resource = match resource.downcast::<Arc<WorkloadApiProvider>>() {
                Ok(provider) => {
                    match Arc::try_unwrap(*provider) {
                        Ok(provider) => provider.shutdown().await,
                        Err(_) => tracing::warn!("Workload API client still in use; not closed"),
                    }
                    continue;
                }
                Err(other) => other,
            };
            if let Ok(server) = resource.downcast::<DevWorkloadApiServer>() {
                match tokio::time::timeout(STOP_TIMEOUT, server.shutdown()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "dev Workload API server did not stop cleanly");
                    }
                    Err(_) => tracing::warn!("dev Workload API server did not stop in time"),
                }
            }
        }
        tracing::info!(%spiffe_id, "secure agent stopped");
    }
}

impl SecureAgent {
    /// A second view of a running agent's shared state, for outbound calls only (see
    /// `AgentHandle`): it owns neither the listener nor the agent's resources, so dropping it
    /// stops nothing.
    pub(crate) fn view(inner: Arc<Inner>) -> SecureAgent {
        SecureAgent { inner, ops: None, keep_alive: Vec::new() }
    }
}

/// Bound on stopping a resource the agent started.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

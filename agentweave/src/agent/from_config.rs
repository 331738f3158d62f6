//! `SecureAgent::from_config`: each section of a validated [`AgentConfig`] wired to its layer's
//! constructor. The config was validated when it was loaded (production rules included), so
//! this module only translates; a value that still cannot be used names its key path.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agentweave_a2a::limits::BodyLimits;
use agentweave_attest::SigningKey;
use agentweave_authz::audit::{AuditConfig, AuditLog, FlushPolicy, OnAuditFailure};
use agentweave_authz::danger::AllowAllEnforcer;
use agentweave_authz::opa::{OpaConfig, OpaHttpEnforcer};
use agentweave_authz::rego::{DataSource, PolicySource, RegoConfig, RegoEnforcer};
use agentweave_authz::{CacheConfig, PolicyEnforcer};
use agentweave_guard::{InterceptorConfig, PipelineConfig, SchemaConfig};
use agentweave_identity::dev::{DevIssuer, DevIssuerConfig, DevWorkloadApiServer};
use agentweave_identity::{
    IdentityProvider, SpiffeId, StaticFilesConfig, StaticProvider, WorkloadApiConfig,
    WorkloadApiProvider,
};
use agentweave_transport::{
    BreakerConfig, Endpoint, PoolConfig, RetryConfig, ServerConfig, TlsVersions, TransportConfig,
};

use super::capability::Capability;
use super::error::AgentError;
use super::guard_stage::agent_guard;
use super::secure_agent::{KeepAlive, SecureAgent};
use crate::config::{
    AgentConfig, AuditBackpressure, AuditSink, AuthzSection, CacheSection, GuardSection,
    IdentitySection, TlsVersion, TransportSection,
};

/// How often a Rego policy set with `hot_reload: true` is checked for changes.
pub const POLICY_POLL_INTERVAL: Duration = Duration::from_secs(2);

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl SecureAgent {
    /// Builds and starts an agent from a validated configuration, serving `capabilities`.
    ///
    /// | section | becomes |
    /// | --- | --- |
    /// | `identity` | `WorkloadApiProvider`, `StaticProvider`, or (development) a `DevIssuer` serving the real Workload API on a socket that a `WorkloadApiProvider` reads |
    /// | `authz` | `RegoEnforcer` (hot reload every [`POLICY_POLL_INTERVAL`]), `OpaHttpEnforcer`, or `danger::AllowAllEnforcer` |
    /// | `audit` | an `AuditLog` to stdout or a file, or none (`off`, development only) |
    /// | `guard` | a guard pipeline with the configured engines, limits and signing key (or none when disabled: guarded capabilities then refuse to start) |
    /// | `transport`, `server`, `peers` | the outbound transport, the mTLS listener, the peer map |
    /// | `operations.listen` | the plain-HTTP ops port (health, metrics) |
    pub async fn from_config(
        config: &AgentConfig,
        capabilities: Vec<Capability>,
    ) -> Result<SecureAgent, AgentError> {
        config
            .validate()
            .map_err(|e| AgentError::Config { key: "config", message: e.to_string() })?;
        let me = &config.agent.spiffe_id;
        let mut keep: Vec<KeepAlive> = Vec::new();
        let identity = identity(&config.identity, me, &mut keep).await?;
        let policy = policy(&config.authz, me, &mut keep)?;
        let tls = match config.server.min_tls_version {
            TlsVersion::Tls12 => TlsVersions::AllowTls12,
            _ => TlsVersions::Tls13Only,
        };
        let mut builder = SecureAgent::builder(me.clone(), &config.agent.name)
            .description(config.agent.description.clone())
            .version(config.agent.version.clone())
            .identity(identity)
            .policy(policy)
            .listen(config.server.listen)
            .server_config(ServerConfig { tls_versions: tls, ..ServerConfig::default() })
            .transport_config(transport(&config.transport, tls))
            .body_limits(BodyLimits {
                max_body_bytes: config.server.max_body_bytes,
                ..BodyLimits::default()
            });
        if let Some(url) = &config.server.public_url {
            builder = builder.public_url(url.clone());
        }
        if let Some(addr) = config.operations.listen {
            builder = builder.operations_listen(addr);
        }
        builder = match audit_log(config)? {
            Some(log) => builder.audit(log),
            None => builder.danger_no_audit(),
        };
        if config.guard.enabled {
            builder = builder.guard(guard(&config.guard, me).await?);
        }
        if config.transport.danger_accept_any_peer_id {
            builder = builder.danger_accept_any_peer_id();
        }
        for peer in &config.peers {
            let endpoint = Endpoint::parse(&peer.endpoint).map_err(|e| AgentError::Config {
                key: "peers[].endpoint",
                message: e.to_string(),
            })?;
            builder = builder.peer(peer.spiffe_id.clone(), endpoint);
        }
        for capability in capabilities {
            builder = builder.capability(capability);
        }
        for resource in keep {
            builder = builder.keep_alive(resource);
        }
        builder.start().await
    }
}

async fn identity(
    section: &IdentitySection,
    me: &SpiffeId,
    keep: &mut Vec<KeepAlive>,
) -> Result<Arc<dyn IdentityProvider>, AgentError> {
    match section {
        IdentitySection::WorkloadApi { endpoint, initial_sync_timeout_ms } => {
            let config = WorkloadApiConfig {
                endpoint: endpoint.clone(),
                initial_sync_timeout: ms(*initial_sync_timeout_ms),
            };
            Ok(Arc::new(WorkloadApiProvider::connect(config).await?))
        }
        IdentitySection::Static { cert_chain, private_key, bundles, poll_interval_ms } => {
            let config = StaticFilesConfig {
                cert_chain: cert_chain.clone(),
                private_key: private_key.clone(),
                bundles: bundles.iter().map(|b| (b.trust_domain.clone(), b.path.clone())).collect(),
                poll_interval: ms(*poll_interval_ms),
            };
            Ok(StaticProvider::load(config).await?)
        }
        IdentitySection::Dev { svid_ttl_secs, socket } => {
            let issuer = DevIssuer::start(
                me.trust_domain(),
                DevIssuerConfig {
                    svid_ttl: Duration::from_secs(*svid_ttl_secs),
                    ..DevIssuerConfig::default()
                },
            )?;
            let path = socket.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!(
                    "agentweave-dev-{}-{}.sock",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                ))
            });
            let server =
                DevWorkloadApiServer::start(issuer.clone(), std::slice::from_ref(me), &path)
                    .await?;
            // The production code path: the agent reads its identity over the Workload API.
            let provider = WorkloadApiProvider::connect(WorkloadApiConfig {
                endpoint: Some(server.endpoint()),
                ..WorkloadApiConfig::default()
            })
            .await?;
            let provider = Arc::new(provider);
            // Stopped in this order by `SecureAgent::stop`: the client first, then the server
            // (which otherwise waits for the client's open stream).
            keep.push(Box::new(provider.clone()));
            keep.push(Box::new(server));
            keep.push(Box::new(issuer));
            Ok(provider)
        }
    }
}

/// The decision cache a section asks for: `None` when absent or `enabled: false`.
fn cache(section: Option<&CacheSection>) -> Option<CacheConfig> {
    section
        .filter(|c| c.enabled)
        .map(|c| CacheConfig { capacity: c.max_entries, ttl: ms(c.ttl_ms) })
}

fn policy(
    section: &AuthzSection,
    me: &SpiffeId,
    keep: &mut Vec<KeepAlive>,
) -> Result<Arc<dyn PolicyEnforcer>, AgentError> {
    match section {
        AuthzSection::Rego { policies, data, entrypoint, hot_reload, cache: c } => {
            let mut config = RegoConfig::new(me.clone()).entrypoint(entrypoint);
            for path in policies {
                config = config.policy(if is_dir(path) {
                    PolicySource::Dir(path.clone())
                } else {
                    PolicySource::File(path.clone())
                });
            }
            for path in data {
                config = config.data(if is_dir(path) {
                    DataSource::Dir(path.clone())
                } else {
                    DataSource::File(path.clone())
                });
            }
            // Absent, the Rego enforcer's own default applies: cache on.
            config = match (c, cache(c.as_ref())) {
                (None, _) => config,
                (Some(_), Some(settings)) => config.cache(settings),
                (Some(_), None) => config.without_cache(),
            };
            let enforcer = Arc::new(RegoEnforcer::new(config)?);
            if *hot_reload {
                keep.push(Box::new(enforcer.watch(POLICY_POLL_INTERVAL)?));
            }
            Ok(enforcer)
        }
        AuthzSection::Opa { url, decision_path, timeout_ms, cache: c } => {
            let mut config =
                OpaConfig::new(me.clone(), url).path(decision_path).timeout(ms(*timeout_ms));
            if let Some(c) = cache(c.as_ref()) {
                config = config.cache(c);
            }
            Ok(Arc::new(OpaHttpEnforcer::new(config)?))
        }
        AuthzSection::DangerAllowAll {} => Ok(Arc::new(AllowAllEnforcer::new(me.clone()))),
    }
}

fn is_dir(path: &Path) -> bool {
    path.is_dir()
}

fn audit_log(config: &AgentConfig) -> Result<Option<AuditLog>, AgentError> {
    let a = &config.audit;
    let settings = AuditConfig {
        flush: if a.flush_every_record { FlushPolicy::EveryRecord } else { FlushPolicy::WhenIdle },
        batch_window: Duration::from_millis(a.batch_window_ms),
        on_failure: match a.on_backpressure {
            AuditBackpressure::Deny => OnAuditFailure::Deny,
            _ => OnAuditFailure::Wait,
        },
        ..AuditConfig::default()
    };
    let sink = match a.sink {
        AuditSink::Off => return Ok(None),
        AuditSink::File => {
            let path = a.path.clone().ok_or(AgentError::Config {
                key: "audit.path",
                message: "required when audit.sink is file".into(),
            })?;
            agentweave_authz::audit::AuditSink::File(path)
        }
        _ => agentweave_authz::audit::AuditSink::Stdout,
    };
    Ok(Some(AuditLog::start(sink, settings)?))
}

async fn guard(
    section: &GuardSection,
    me: &SpiffeId,
) -> Result<Arc<agentweave_guard::Pipeline>, AgentError> {
    let key = match &section.signing_key {
        None => None,
        Some(path) => {
            let pem = tokio::fs::read_to_string(path).await.map_err(|e| AgentError::Config {
                key: "guard.signing_key",
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            Some(SigningKey::from_pkcs8_pem(&pem, me.as_str()).map_err(|e| AgentError::Config {
                key: "guard.signing_key",
                message: e.to_string(),
            })?)
        }
    };
    let config = PipelineConfig {
        schema: SchemaConfig {
            max_message_bytes: section.max_payload_bytes,
            max_age_secs: Some(section.freshness_secs),
            ..SchemaConfig::default()
        },
        interceptor: InterceptorConfig {
            enable_financial_verification: section.engines.finance,
            enable_logic_verification: section.engines.logic,
            enable_code_verification: section.engines.code,
            block_on_error: section.block_on_error,
        },
        ..PipelineConfig::default()
    };
    agent_guard(me, config, key)
}

fn transport(section: &TransportSection, tls: TlsVersions) -> TransportConfig {
    TransportConfig {
        tls_versions: tls,
        connect_timeout: ms(section.connect_timeout_ms),
        request_timeout: ms(section.request_timeout_ms),
        pool: PoolConfig::with(
            section.max_connections_per_peer,
            section.max_connections,
            ms(section.idle_timeout_ms),
        ),
        retry: RetryConfig::with(
            section.retry_attempts,
            ms(section.retry_initial_backoff_ms),
            ms(section.retry_max_backoff_ms),
        ),
        breaker: BreakerConfig::with(
            section.breaker_failure_threshold,
            ms(section.breaker_recovery_timeout_ms),
            section.breaker_success_threshold,
        ),
        ..TransportConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use agentweave_authz::{AuthzContext, DecisionSource};

    use super::*;

    /// An enforcer from a Rego `authz` section, and the source of a repeated decision.
    async fn repeated_decision_source(cache: Option<CacheSection>) -> DecisionSource {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("allow.rego");
        std::fs::write(&file, "package agentweave.authz\n\ndecision := true if input.action\n")
            .unwrap();
        let section = AuthzSection::Rego {
            policies: vec![file],
            data: vec![],
            entrypoint: "data.agentweave.authz.decision".into(),
            hot_reload: false,
            cache,
        };
        let me = SpiffeId::parse("spiffe://example.org/agent/me").unwrap();
        let enforcer = policy(&section, &me, &mut Vec::new()).unwrap();
        let caller = SpiffeId::parse("spiffe://example.org/agent/x").unwrap();
        let context = || AuthzContext::for_method("SendMessage").with_message_id("m");
        assert!(enforcer.check_inbound(&caller, "ping", context()).await.allowed);
        enforcer.check_inbound(&caller, "ping", context()).await.source
    }

    #[tokio::test]
    async fn the_rego_cache_is_on_unless_the_section_turns_it_off() {
        let section = |enabled| CacheSection { enabled, max_entries: 10, ttl_ms: 60_000 };
        let cases = [
            ("absent: the default", None, DecisionSource::Cache),
            ("present and enabled", Some(section(true)), DecisionSource::Cache),
            ("enabled: false", Some(section(false)), DecisionSource::Policy),
        ];
        for (name, cache, expected) in cases {
            assert_eq!(repeated_decision_source(cache).await, expected, "{name}");
        }
    }
}

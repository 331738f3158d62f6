//! Rules that span keys, and the production rules.

use std::collections::BTreeSet;

use super::{AgentConfig, AuditSink, AuthzSection, ConfigError, Environment, IdentitySection};

impl AgentConfig {
    /// Checks cross-field rules and, in production, the production rules. [`AgentConfig::load`]
    /// calls this; call it again after changing a config in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_consistency()?;
        if self.environment == Environment::Production {
            self.validate_production()?;
        }
        Ok(())
    }

    fn validate_consistency(&self) -> Result<(), ConfigError> {
        if self.agent.name.trim().is_empty() {
            return Err(ConfigError::invalid("agent.name", "must not be empty"));
        }
        if self.agent.spiffe_id.path().is_empty() {
            return Err(ConfigError::invalid(
                "agent.spiffe_id",
                "must name a workload (a path after the trust domain)",
            ));
        }
        match &self.identity {
            IdentitySection::Static { bundles, .. } if bundles.is_empty() => {
                return Err(ConfigError::invalid(
                    "identity.bundles",
                    "at least one trust bundle is required",
                ));
            }
            IdentitySection::Static { bundles, .. }
                if !bundles.iter().any(|b| self.agent.spiffe_id.is_member_of(&b.trust_domain)) =>
            {
                return Err(ConfigError::invalid(
                    "identity.bundles",
                    format!(
                        "no bundle for our own trust domain {}",
                        self.agent.spiffe_id.trust_domain()
                    ),
                ));
            }
            _ => {}
        }
        match &self.authz {
            AuthzSection::Rego { policies, .. } if policies.is_empty() => {
                return Err(ConfigError::invalid(
                    "authz.policies",
                    "at least one policy file or folder is required",
                ));
            }
            AuthzSection::Opa { url, .. }
                if !(url.starts_with("http://") || url.starts_with("https://")) =>
            {
                return Err(ConfigError::invalid(
                    "authz.url",
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
            _ => {}
        }
        if self.audit.sink == AuditSink::File && self.audit.path.is_none() {
            return Err(ConfigError::invalid("audit.path", "required when audit.sink is `file`"));
        }
        let t = &self.transport;
        for (key, value) in [
            ("transport.connect_timeout_ms", t.connect_timeout_ms),
            ("transport.request_timeout_ms", t.request_timeout_ms),
            ("transport.breaker_recovery_timeout_ms", t.breaker_recovery_timeout_ms),
            ("transport.retry_attempts", u64::from(t.retry_attempts)),
            ("transport.breaker_failure_threshold", u64::from(t.breaker_failure_threshold)),
            ("transport.breaker_success_threshold", u64::from(t.breaker_success_threshold)),
            ("transport.max_connections_per_peer", t.max_connections_per_peer as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        if t.max_connections_per_peer > t.max_connections {
            return Err(ConfigError::invalid(
                "transport.max_connections_per_peer",
                format!(
                    "{} exceeds transport.max_connections ({})",
                    t.max_connections_per_peer, t.max_connections
                ),
            ));
        }
        if t.retry_initial_backoff_ms > t.retry_max_backoff_ms {
            return Err(ConfigError::invalid(
                "transport.retry_initial_backoff_ms",
                "must not exceed transport.retry_max_backoff_ms",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, peer) in self.peers.iter().enumerate() {
            if !peer.endpoint.starts_with("https://") {
                return Err(ConfigError::invalid(
                    format!("peers[{i}].endpoint"),
                    format!("{:?} must be an https:// URL: agents only talk mTLS", peer.endpoint),
                ));
            }
            if !seen.insert(peer.spiffe_id.as_str()) {
                return Err(ConfigError::invalid(
                    format!("peers[{i}].spiffe_id"),
                    format!("{} is listed twice", peer.spiffe_id),
                ));
            }
        }
        Ok(())
    }

    fn validate_production(&self) -> Result<(), ConfigError> {
        let refuse = |path: &str, message: &str| {
            Err(ConfigError::Production { path: path.to_owned(), message: message.to_owned() })
        };
        if matches!(self.identity, IdentitySection::Dev { .. }) {
            return refuse(
                "identity.provider",
                "the dev identity issuer; use workload-api (SPIRE) or static",
            );
        }
        if matches!(self.authz, AuthzSection::DangerAllowAll {}) {
            return refuse("authz.provider", "danger-allow-all; use rego or opa (default deny)");
        }
        if self.audit.sink == AuditSink::Off {
            return refuse("audit.sink", "audit off; every decision must be recorded");
        }
        if self.transport.danger_accept_any_peer_id {
            return refuse(
                "transport.danger_accept_any_peer_id",
                "peers must prove the exact identity expected",
            );
        }
        if !self.guard.block_on_error {
            return refuse("guard.block_on_error", "false forwards content no engine checked");
        }
        Ok(())
    }
}

//! Rules that span keys, and the production rules.

use std::collections::BTreeSet;

use agentweave_identity::SpiffeId;

use super::{
    AgentConfig, AuditSink, AuthzSection, ConfigError, Environment, HandlerSection, IdentitySection,
};

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
        if let AuthzSection::Rego { cache: Some(cache), .. }
        | AuthzSection::Opa { cache: Some(cache), .. } = &self.authz
            && cache.enabled
        {
            if cache.max_entries == 0 {
                return Err(ConfigError::invalid(
                    "authz.cache.max_entries",
                    "must be at least 1 (set `enabled: false` to turn the cache off)",
                ));
            }
            if cache.ttl_ms == 0 {
                return Err(ConfigError::invalid("authz.cache.ttl_ms", "must be at least 1"));
            }
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
        let most = agentweave_authz::audit::MAX_BATCH_WINDOW.as_millis();
        if u128::from(self.audit.batch_window_ms) > most {
            return Err(ConfigError::invalid(
                "audit.batch_window_ms",
                format!("{} is above the {most} ms maximum", self.audit.batch_window_ms),
            ));
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
        self.validate_capabilities()
    }

    fn validate_capabilities(&self) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        for (i, capability) in self.capabilities.iter().enumerate() {
            let at = |key: &str| format!("capabilities[{i}].{key}");
            if capability.name.trim().is_empty() {
                return Err(ConfigError::invalid(at("name"), "must not be empty"));
            }
            if !names.insert(capability.name.as_str()) {
                return Err(ConfigError::invalid(
                    at("name"),
                    format!("{:?} is declared twice", capability.name),
                ));
            }
            if capability.guard_payload.is_some() && !self.guard.enabled {
                return Err(ConfigError::invalid(
                    at("guard_payload"),
                    "needs the guard, but guard.enabled is false",
                ));
            }
            match &capability.handler {
                HandlerSection::Echo {} => {}
                HandlerSection::Http { url, timeout_ms } => {
                    if *timeout_ms == 0 {
                        return Err(ConfigError::invalid(
                            at("handler.timeout_ms"),
                            "must be greater than 0",
                        ));
                    }
                    let target = HttpTarget::parse(url)
                        .map_err(|message| ConfigError::invalid(at("handler.url"), message))?;
                    if self.environment == Environment::Production && !target.loopback {
                        return Err(ConfigError::Production {
                            path: at("handler.url"),
                            message: format!(
                                "{url:?} leaves this host over plain http; the business service \
                                 must listen on a loopback address (127.0.0.1, ::1, localhost) \
                                 next to the agent"
                            ),
                        });
                    }
                }
                HandlerSection::Forward { target, capability: remote } => {
                    if remote.trim().is_empty() {
                        return Err(ConfigError::invalid(
                            at("handler.capability"),
                            "must not be empty",
                        ));
                    }
                    let target = SpiffeId::parse(target).map_err(|e| {
                        ConfigError::invalid(at("handler.target"), format!("{target:?}: {e}"))
                    })?;
                    if target == self.agent.spiffe_id {
                        return Err(ConfigError::invalid(
                            at("handler.target"),
                            format!("{target} is this agent: a forward to itself would loop"),
                        ));
                    }
                    if !self.peers.iter().any(|p| p.spiffe_id == target) {
                        return Err(ConfigError::invalid(
                            at("handler.target"),
                            format!("{target} is not listed in `peers:` (no endpoint to call)"),
                        ));
                    }
                }
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

/// What the `http` handler needs from its URL, checked once at load.
pub(crate) struct HttpTarget {
    /// The host is a loopback address or `localhost`.
    pub(crate) loopback: bool,
}

impl HttpTarget {
    /// Accepts `http://host[:port][/path]` only. `https://` is refused with a clear message:
    /// the handler has no TLS client for business services yet.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "{url:?}: https business services are not supported by the http handler \
                     yet; run the service on a loopback http:// address next to the agent"
                ));
            }
            _ => return Err(format!("{url:?} must be an http:// URL")),
        }
        let host =
            uri.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("{url:?} has no host"))?;
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!("{url:?} must not carry credentials in the URL"));
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        Ok(Self { loopback })
    }
}

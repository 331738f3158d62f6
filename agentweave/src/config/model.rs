//! The configuration's sections. Every section rejects unknown keys; every default is documented on
//! its field and applies when the key is absent.

use std::net::SocketAddr;
use std::path::PathBuf;

use agentweave_identity::{SpiffeId, TrustDomain};
use serde::{Deserialize, Serialize};

/// A whole agent configuration (one YAML file).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `production` (default) or `development`. Production enforces the production rules.
    #[serde(default)]
    pub environment: Environment,
    /// Who this agent is.
    pub agent: AgentSection,
    /// Where its identity comes from.
    pub identity: IdentitySection,
    /// The mTLS listener for A2A.
    #[serde(default)]
    pub server: ServerSection,
    /// Health and metrics (plain HTTP, separate port).
    #[serde(default)]
    pub operations: OperationsSection,
    /// The policy engine; required (there is no implicit default).
    pub authz: AuthzSection,
    /// Where decisions are recorded.
    #[serde(default)]
    pub audit: AuditSection,
    /// Message verification.
    #[serde(default)]
    pub guard: GuardSection,
    /// Outbound connections.
    #[serde(default)]
    pub transport: TransportSection,
    /// Known peers: SPIFFE ID → endpoint.
    #[serde(default)]
    pub peers: Vec<PeerSection>,
    /// What `agentweave serve` offers: each entry becomes a capability with a built-in handler
    /// (see `crate::handlers`). Default: none (a client-only agent). Agents embedded in code pass
    /// their own capabilities to `SecureAgent::from_config` instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<CapabilitySection>,
}

/// Deployment environment.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Environment {
    /// Production rules apply: no allow-all, no dev issuer, audit on, strict peer verification.
    #[default]
    Production,
    /// Development: the dev issuer and `danger` options are allowed.
    Development,
}

/// `agent:`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// Display name (agent card `name`).
    pub name: String,
    /// Agent card `description`. Default: empty.
    #[serde(default)]
    pub description: String,
    /// The SPIFFE ID this agent must hold; start-up fails if the SVID names another.
    pub spiffe_id: SpiffeId,
    /// Agent card `version`. Default: `0.1.0`.
    #[serde(default = "defaults::agent_version")]
    pub version: String,
}

/// `identity:` selected by `provider`.
#[non_exhaustive]
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "provider", rename_all = "kebab-case", deny_unknown_fields)]
pub enum IdentitySection {
    /// A SPIFFE Workload API (SPIRE agent).
    WorkloadApi {
        /// Endpoint URI. Default: the `SPIFFE_ENDPOINT_SOCKET` environment variable.
        #[serde(default)]
        endpoint: Option<String>,
        /// Bound on the first fetch. Default: 10000.
        #[serde(default = "defaults::initial_sync_ms")]
        initial_sync_timeout_ms: u64,
    },
    /// PEM files rotated by something else.
    Static {
        /// Certificate chain, leaf first.
        cert_chain: PathBuf,
        /// PKCS#8 private key.
        private_key: PathBuf,
        /// Trust bundles, one per trust domain (include our own).
        bundles: Vec<BundleFile>,
        /// How often files are checked for rotation. Default: 5000.
        #[serde(default = "defaults::poll_ms")]
        poll_interval_ms: u64,
    },
    /// The in-process dev issuer (development only).
    Dev {
        /// SVID lifetime. Default: 3600.
        #[serde(default = "defaults::svid_ttl_secs")]
        svid_ttl_secs: u64,
        /// Where to serve the dev Workload API socket so that other processes can use it.
        /// Default: not served (in-process only).
        #[serde(default)]
        socket: Option<PathBuf>,
    },
}

/// One trust bundle file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// The trust domain the CA certificates vouch for.
    pub trust_domain: TrustDomain,
    /// PEM file of CA certificates.
    pub path: PathBuf,
}

/// TLS protocol floor. There is no value below 1.2.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3 (a warning is logged).
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only (default).
    #[default]
    #[serde(rename = "1.3")]
    Tls13,
}

/// `server:`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Listen address. Default: `127.0.0.1:8443`.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The URL peers use to reach us, published in the agent card. Default: `https://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Lowest TLS version accepted. Default: `"1.3"`.
    #[serde(default)]
    pub min_tls_version: TlsVersion,
    /// Largest request body. Default: 1048576.
    #[serde(default = "defaults::max_body")]
    pub max_body_bytes: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            public_url: None,
            min_tls_version: TlsVersion::default(),
            max_body_bytes: defaults::max_body(),
        }
    }
}

/// `operations:`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsSection {
    /// Plain-HTTP listener for `/health/live`, `/health/ready` and `/metrics`. Default: off.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Log JSON lines instead of text. Default: false.
    #[serde(default)]
    pub json_logs: bool,
}

/// `authz:` selected by `provider`.
#[non_exhaustive]
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "provider", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AuthzSection {
    /// Rego evaluated in-process.
    Rego {
        /// Policy files or folders (`.rego`); at least one.
        policies: Vec<PathBuf>,
        /// Data documents (`.json`). Default: none.
        #[serde(default)]
        data: Vec<PathBuf>,
        /// The rule to evaluate. Default: `data.agentweave.authz.decision`.
        #[serde(default = "defaults::entrypoint")]
        entrypoint: String,
        /// Reload when policy files change. Default: true.
        #[serde(default = "defaults::yes")]
        hot_reload: bool,
        /// Decision cache. Default: on, 10,000 entries, 5 s (exact in-process: it keys on the
        /// input fields the policy reads and a reload empties it); `{enabled: false}` turns it off.
        #[serde(default)]
        cache: Option<CacheSection>,
    },
    /// An OPA server's REST API (sidecar).
    Opa {
        /// Base URL, e.g. `http://127.0.0.1:8181`.
        url: String,
        /// Path under `/v1/data/`. Default: `agentweave/authz/decision`.
        #[serde(default = "defaults::opa_path")]
        decision_path: String,
        /// Per-decision timeout; a slower answer is a denial. Default: 500.
        #[serde(default = "defaults::opa_timeout_ms")]
        timeout_ms: u64,
        /// Decision cache. Default: off (OPA's policy can change without the agent knowing; a
        /// cached decision may then be up to `ttl_ms` old).
        #[serde(default)]
        cache: Option<CacheSection>,
    },
    /// Allows everything. Development only; refused in production.
    DangerAllowAll {},
}

/// A bounded decision cache.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// Whether to cache. Default: true (a section present turns the cache on).
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Largest number of cached decisions. Default: 10,000.
    #[serde(default = "defaults::cache_max_entries")]
    pub max_entries: usize,
    /// How long a decision is reused. Default: 5,000.
    #[serde(default = "defaults::cache_ttl_ms")]
    pub ttl_ms: u64,
}

/// Where audit records go.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditSink {
    /// JSON lines on standard output (default).
    #[default]
    Stdout,
    /// JSON lines appended to `audit.path`.
    File,
    /// No audit (development only).
    Off,
}

/// What happens when the audit sink cannot keep up or fails.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditBackpressure {
    /// Callers wait until the record is accepted (default).
    #[default]
    Wait,
    /// The request is denied.
    Deny,
}

/// `audit:`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Default: `stdout`.
    #[serde(default)]
    pub sink: AuditSink,
    /// The file, when `sink: file`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Flush after every record (default true); false flushes in batches.
    #[serde(default = "defaults::yes")]
    pub flush_every_record: bool,
    /// With `flush_every_record: false`: how long the writer gathers records before one write,
    /// 0 to 100 ms. Default: 1. Records wait in memory meanwhile (never dropped).
    #[serde(default = "defaults::audit_batch_window_ms")]
    pub batch_window_ms: u64,
    /// Default: `wait`.
    #[serde(default)]
    pub on_backpressure: AuditBackpressure,
}

/// `guard:`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSection {
    /// Run the guard on capabilities that declare a payload type. Default: true.
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Engine switches (a disabled engine falls back to passthrough: unverifiable). Default: all on.
    #[serde(default)]
    pub engines: GuardEngines,
    /// An engine fault blocks the message (default true). False is refused in production.
    #[serde(default = "defaults::yes")]
    pub block_on_error: bool,
    /// Largest payload the guard accepts. Default: 1048576.
    #[serde(default = "defaults::max_body")]
    pub max_payload_bytes: usize,
    /// Messages older or newer than this are rejected. Default: 300.
    #[serde(default = "defaults::freshness_secs")]
    pub freshness_secs: u64,
    /// PKCS#8 PEM key that signs attestations. Default: a key generated at start (its JWKS is
    /// served; attestations do not survive a restart).
    #[serde(default)]
    pub signing_key: Option<PathBuf>,
}

impl Default for GuardSection {
    fn default() -> Self {
        Self {
            enabled: true,
            engines: GuardEngines::default(),
            block_on_error: true,
            max_payload_bytes: defaults::max_body(),
            freshness_secs: defaults::freshness_secs(),
            signing_key: None,
        }
    }
}

/// `guard.engines:`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardEngines {
    /// Default: true.
    #[serde(default = "defaults::yes")]
    pub finance: bool,
    /// Default: true.
    #[serde(default = "defaults::yes")]
    pub logic: bool,
    /// Default: true.
    #[serde(default = "defaults::yes")]
    pub code: bool,
}

impl Default for GuardEngines {
    fn default() -> Self {
        Self { finance: true, logic: true, code: true }
    }
}

/// `transport:`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TransportSection {
    /// Default: 5000.
    #[serde(default = "defaults::connect_ms")]
    pub connect_timeout_ms: u64,
    /// Default: 30000.
    #[serde(default = "defaults::request_ms")]
    pub request_timeout_ms: u64,
    /// Connections a peer. Default: 10.
    #[serde(default = "defaults::per_peer")]
    pub max_connections_per_peer: usize,
    /// Connections in all. Default: 100.
    #[serde(default = "defaults::total")]
    pub max_connections: usize,
    /// Idle connections close after this. Default: 60000.
    #[serde(default = "defaults::idle_ms")]
    pub idle_timeout_ms: u64,
    /// Attempts for requests safe to retry. Default: 3.
    #[serde(default = "defaults::attempts")]
    pub retry_attempts: u32,
    /// First backoff. Default: 1000.
    #[serde(default = "defaults::backoff_ms")]
    pub retry_initial_backoff_ms: u64,
    /// Backoff cap. Default: 30000.
    #[serde(default = "defaults::backoff_max_ms")]
    pub retry_max_backoff_ms: u64,
    /// Failures that open a peer's breaker. Default: 5.
    #[serde(default = "defaults::failures")]
    pub breaker_failure_threshold: u32,
    /// How long an open breaker refuses before probing. Default: 30000.
    #[serde(default = "defaults::recovery_ms")]
    pub breaker_recovery_timeout_ms: u64,
    /// Successful probes that close it. Default: 2.
    #[serde(default = "defaults::successes")]
    pub breaker_success_threshold: u32,
    /// Accept any server SPIFFE ID of a trusted domain instead of the one expected. Refused in
    /// production. Default: false.
    #[serde(default)]
    pub danger_accept_any_peer_id: bool,
}

impl Default for TransportSection {
    fn default() -> Self {
        Self {
            connect_timeout_ms: defaults::connect_ms(),
            request_timeout_ms: defaults::request_ms(),
            max_connections_per_peer: defaults::per_peer(),
            max_connections: defaults::total(),
            idle_timeout_ms: defaults::idle_ms(),
            retry_attempts: defaults::attempts(),
            retry_initial_backoff_ms: defaults::backoff_ms(),
            retry_max_backoff_ms: defaults::backoff_max_ms(),
            breaker_failure_threshold: defaults::failures(),
            breaker_recovery_timeout_ms: defaults::recovery_ms(),
            breaker_success_threshold: defaults::successes(),
            danger_accept_any_peer_id: false,
        }
    }
}

/// One entry of `peers:`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSection {
    /// The identity the peer must prove.
    pub spiffe_id: SpiffeId,
    /// `https://host:port`.
    pub endpoint: String,
}

/// One entry of `capabilities:`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySection {
    /// The capability name: the policy action and the agent card skill id. Required, unique,
    /// not empty.
    pub name: String,
    /// Agent card description. Default: empty.
    #[serde(default)]
    pub description: String,
    /// Run the guard on every payload as this type; only a verified payload reaches the handler.
    /// Default: no guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_payload: Option<GuardPayload>,
    /// What does the work.
    pub handler: HandlerSection,
}

/// A guard payload type a capability can declare: only the types an engine can verify (the
/// passthrough types `general` and `data_query` could never pass, so they are not accepted).
/// The guard's wire names (`financial_transaction`, …) are accepted as aliases.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardPayload {
    /// `financial_transaction`: totals and line items checked by the finance engine.
    #[serde(alias = "financial_transaction")]
    Finance,
    /// `logic_assertion`: checked by the logic engine.
    #[serde(alias = "logic_assertion")]
    Logic,
    /// `code_execution`: checked by the code engine.
    #[serde(alias = "code_execution")]
    Code,
}

impl GuardPayload {
    /// The guard's payload type.
    pub fn payload_type(self) -> agentweave_guard::PayloadType {
        match self {
            Self::Finance => agentweave_guard::PayloadType::FinancialTransaction,
            Self::Logic => agentweave_guard::PayloadType::LogicAssertion,
            Self::Code => agentweave_guard::PayloadType::CodeExecution,
        }
    }
}

/// `capabilities[].handler:` selected by `kind`.
#[non_exhaustive]
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HandlerSection {
    /// Answers `{"capability": name, "caller": SPIFFE ID, "input": payload}`: a smoke test of
    /// the whole pipeline without business code.
    Echo {},
    /// POSTs the JSON payload to a local business service; its 2xx JSON answer is the output.
    Http {
        /// `http://` URL of the service. In production it must be a loopback address (a
        /// sidecar app on the same host).
        url: String,
        /// Bound on the whole exchange. Default: 10000.
        #[serde(default = "defaults::handler_timeout_ms")]
        timeout_ms: u64,
    },
    /// Calls `capability` on another agent through this agent's `call` (outbound policy, mTLS
    /// to exactly `target`) and answers with its output.
    Forward {
        /// The SPIFFE ID of the agent called; it must be listed in `peers:`. (Kept as text here
        /// so that a malformed ID is reported at `handler.target`, which serde cannot do inside
        /// a tagged section; [`AgentConfig::validate`] parses it.)
        target: String,
        /// The capability invoked on it.
        capability: String,
    },
}

mod defaults {
    use std::net::{Ipv4Addr, SocketAddr};

    pub(super) fn agent_version() -> String {
        "0.1.0".into()
    }
    pub(super) fn initial_sync_ms() -> u64 {
        10_000
    }
    pub(super) fn poll_ms() -> u64 {
        5_000
    }
    pub(super) fn audit_batch_window_ms() -> u64 {
        1
    }
    pub(super) fn svid_ttl_secs() -> u64 {
        3_600
    }
    pub(super) fn listen() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 8443))
    }
    pub(super) fn max_body() -> usize {
        1 << 20
    }
    pub(super) fn entrypoint() -> String {
        "data.agentweave.authz.decision".into()
    }
    pub(super) fn opa_path() -> String {
        "agentweave/authz/decision".into()
    }
    pub(super) fn opa_timeout_ms() -> u64 {
        500
    }
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn cache_max_entries() -> usize {
        10_000
    }
    pub(super) fn cache_ttl_ms() -> u64 {
        5_000
    }
    pub(super) fn freshness_secs() -> u64 {
        300
    }
    pub(super) fn connect_ms() -> u64 {
        5_000
    }
    pub(super) fn request_ms() -> u64 {
        30_000
    }
    pub(super) fn per_peer() -> usize {
        10
    }
    pub(super) fn total() -> usize {
        100
    }
    pub(super) fn idle_ms() -> u64 {
        60_000
    }
    pub(super) fn attempts() -> u32 {
        3
    }
    pub(super) fn backoff_ms() -> u64 {
        1_000
    }
    pub(super) fn backoff_max_ms() -> u64 {
        30_000
    }
    pub(super) fn failures() -> u32 {
        5
    }
    pub(super) fn recovery_ms() -> u64 {
        30_000
    }
    pub(super) fn successes() -> u32 {
        2
    }
    pub(super) fn handler_timeout_ms() -> u64 {
        10_000
    }
}

//! An OPA sidecar over its REST API: [`OpaHttpEnforcer`].
//!
//! Each decision is `POST <base>/v1/data/<path>` with body `{"input": …}`; OPA answers
//! `{"result": …}` (the result absent when the document is undefined). Everything other than a
//! well-formed `{allow, reason}` object or a boolean denies: a slow answer (timeout), a refused
//! connection, a non-200 status, a body that is not JSON, an oversized body, a missing result.
//! Repeated transport failures open a circuit breaker so a dead sidecar costs no waiting: while
//! open, checks deny at once; after the cool-down one trial request is let through.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentweave_identity::SpiffeId;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cache::{CacheConfig, Cached, DecisionCache};
use crate::decision::{AuditId, AuthzDecision, DecisionSource, interpret_json};
use crate::enforcer::{DecisionFuture, PolicyEnforcer};
use crate::error::AuthzError;
use crate::input::PolicyInput;
use crate::input_mask::InputMask;

/// The default decision path (`data.agentweave.authz.decision`, as a REST path).
pub const DEFAULT_PATH: &str = "agentweave/authz/decision";

/// How to reach OPA and how to behave when it misbehaves.
#[derive(Debug, Clone)]
pub struct OpaConfig {
    local_id: SpiffeId,
    base_url: String,
    path: String,
    timeout: Duration,
    failure_threshold: u32,
    open_for: Duration,
    max_response_bytes: usize,
    cache: Option<CacheConfig>,
}

impl OpaConfig {
    /// OPA at `base_url` (`http://127.0.0.1:8181`: a sidecar on the loopback interface), the
    /// default path, a 250 ms timeout, a breaker opening after 5 consecutive failures for 5 s,
    /// responses up to 1 MiB, no cache.
    pub fn new(local_id: SpiffeId, base_url: &str) -> Self {
        Self {
            local_id,
            base_url: base_url.trim_end_matches('/').to_owned(),
            path: DEFAULT_PATH.to_owned(),
            timeout: Duration::from_millis(250),
            failure_threshold: 5,
            open_for: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
            cache: None,
        }
    }

    /// The document path under `/v1/data/`, e.g. `mycorp/authz/allow`.
    #[must_use]
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.trim_matches('/').to_owned();
        self
    }

    /// The deadline for one whole request (connect, send, read the body).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Consecutive failures that open the breaker, and how long it stays open.
    #[must_use]
    pub fn circuit_breaker(mut self, failure_threshold: u32, open_for: Duration) -> Self {
        self.failure_threshold = failure_threshold;
        self.open_for = open_for;
        self
    }

    /// The largest response body accepted.
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Enables the decision cache.
    #[must_use]
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.cache = Some(cache);
        self
    }
}

#[derive(Debug, Default)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

/// Counters for health endpoints and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaStats {
    /// Requests sent to OPA.
    pub requests: u64,
    /// Decisions denied because OPA failed (timeout, transport, status, body, breaker open).
    pub faults: u64,
    /// Decisions denied at once because the breaker was open.
    pub short_circuited: u64,
    /// Decisions served from the cache.
    pub cache_hits: u64,
}

/// Decides by asking an OPA server over HTTP.
#[derive(Debug)]
pub struct OpaHttpEnforcer {
    local_id: SpiffeId,
    client: Client<HttpConnector, Full<Bytes>>,
    uri: http::Uri,
    policy_id: Arc<str>,
    timeout: Duration,
    failure_threshold: u32,
    open_for: Duration,
    max_response_bytes: usize,
    breaker: Mutex<BreakerState>,
    cache: Option<DecisionCache>,
    requests: AtomicU64,
    faults: AtomicU64,
    short_circuited: AtomicU64,
    cache_hits: AtomicU64,
}

/// Why one OPA exchange failed; becomes the denial reason.
#[derive(Debug)]
enum Failure {
    /// Counts towards opening the breaker.
    Transport(String),
    /// OPA answered, but the policy result is unusable (not the sidecar's health).
    Result(String),
}

impl OpaHttpEnforcer {
    /// Builds the client. Only `http://` is supported (OPA as a sidecar reached over loopback);
    /// `https://` is refused as not supported rather than silently sent in clear.
    pub fn new(config: OpaConfig) -> Result<Self, AuthzError> {
        if !config.base_url.starts_with("http://") {
            return Err(AuthzError::Config {
                field: "opa.base_url",
                message: format!(
                    "{:?}: only http:// is supported (TLS to the sidecar is not supported yet)",
                    config.base_url
                ),
            });
        }
        if config.path.is_empty()
            || !config.path.split('/').all(|s| {
                !s.is_empty()
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
        {
            return Err(AuthzError::Config {
                field: "opa.path",
                message: format!(
                    "{:?} is not a document path like agentweave/authz/decision",
                    config.path
                ),
            });
        }
        if config.timeout.is_zero() || config.failure_threshold == 0 {
            return Err(AuthzError::Config {
                field: "opa.timeout/failure_threshold",
                message: "timeout and failure threshold must be greater than zero".into(),
            });
        }
        if let Some(cache) = &config.cache {
            cache.validate()?;
        }
        let url = format!("{}/v1/data/{}", config.base_url, config.path);
        let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| {
            AuthzError::Config { field: "opa.base_url", message: format!("{url:?}: {e}") }
        })?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self {
            local_id: config.local_id,
            client,
            policy_id: Arc::from(format!("opa:/v1/data/{}", config.path)),
            uri,
            timeout: config.timeout,
            failure_threshold: config.failure_threshold,
            open_for: config.open_for,
            max_response_bytes: config.max_response_bytes,
            breaker: Mutex::new(BreakerState::default()),
            cache: config.cache.map(DecisionCache::new),
            requests: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            short_circuited: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        })
    }

    /// Counters.
    pub fn stats(&self) -> OpaStats {
        OpaStats {
            requests: self.requests.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            short_circuited: self.short_circuited.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// May a request go out? Closed: yes. Open: no until the cool-down ends, then one trial.
    fn breaker_admits(&self) -> bool {
        let mut state = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        match state.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if state.trial_in_flight => false,
            Some(_) => {
                state.trial_in_flight = true;
                true
            }
        }
    }

    fn breaker_record(&self, healthy: bool) {
        let mut state = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        state.trial_in_flight = false;
        if healthy {
            state.consecutive_failures = 0;
            state.open_until = None;
        } else {
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            if state.consecutive_failures >= self.failure_threshold || state.open_until.is_some() {
                if state.open_until.is_none() {
                    tracing::error!(
                        uri = %self.uri,
                        failures = state.consecutive_failures,
                        "OPA circuit breaker opened: denying without asking"
                    );
                }
                state.open_until = Some(Instant::now() + self.open_for);
            }
        }
    }

    async fn ask(&self, input: &PolicyInput) -> Result<(bool, Arc<str>), Failure> {
        let body = serde_json::to_vec(&serde_json::json!({ "input": input }))
            .map_err(|e| Failure::Transport(format!("cannot encode the input: {e}")))?;
        let request = http::Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Failure::Transport(format!("OPA unreachable: {e}")))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), self.max_response_bytes)
                .collect()
                .await
                .map_err(|e| Failure::Transport(format!("OPA response body unreadable: {e}")))?
                .to_bytes();
            Ok::<_, Failure>((status, bytes))
        };
        let (status, bytes) =
            tokio::time::timeout(self.timeout, exchange).await.map_err(|_| {
                Failure::Transport(format!("OPA did not answer within {:?}", self.timeout))
            })??;
        if status != http::StatusCode::OK {
            let snippet =
                String::from_utf8_lossy(bytes.get(..bytes.len().min(200)).unwrap_or_default())
                    .into_owned();
            return Err(Failure::Transport(format!("OPA answered HTTP {status}: {snippet}")));
        }
        let document: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::Transport(format!("OPA answered something that is not JSON: {e}"))
        })?;
        let Some(result) = document.get("result") else {
            return Err(Failure::Result(format!(
                "OPA returned no result: document {} is undefined for this input",
                self.policy_id
            )));
        };
        interpret_json(result).map_err(|e| Failure::Result(format!("OPA result is malformed: {e}")))
    }
}

impl PolicyEnforcer for OpaHttpEnforcer {
    fn local_id(&self) -> &SpiffeId {
        &self.local_id
    }

    fn decide<'a>(&'a self, input: &'a PolicyInput) -> DecisionFuture<'a> {
        Box::pin(async move {
            if let Some(cache) = &self.cache
                && let Some(hit) = cache.get(input, 0, &InputMask::ALL)
            {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                return AuthzDecision {
                    allowed: hit.allowed,
                    reason: hit.reason,
                    audit_id: AuditId::next(),
                    policy_id: hit.policy_id,
                    source: DecisionSource::Cache,
                };
            }
            if !self.breaker_admits() {
                self.short_circuited.fetch_add(1, Ordering::Relaxed);
                self.faults.fetch_add(1, Ordering::Relaxed);
                return AuthzDecision::fault(
                    "OPA circuit breaker is open after repeated failures: denied without asking",
                    self.policy_id.clone(),
                );
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            // If this future is dropped mid-request (caller cancelled), the guard records a
            // failure so a half-open trial can never stay "in flight" forever.
            let mut outcome = BreakerGuard { enforcer: self, recorded: false };
            match self.ask(input).await {
                Ok((allowed, reason)) => {
                    outcome.record(true);
                    if let Some(cache) = &self.cache {
                        let cached = Cached {
                            allowed,
                            reason: reason.clone(),
                            policy_id: self.policy_id.clone(),
                        };
                        cache.insert(input, 0, &InputMask::ALL, cached);
                    }
                    AuthzDecision {
                        allowed,
                        reason,
                        audit_id: AuditId::next(),
                        policy_id: self.policy_id.clone(),
                        source: DecisionSource::Policy,
                    }
                }
                Err(failure) => {
                    let reason = match failure {
                        Failure::Transport(reason) => {
                            outcome.record(false);
                            reason
                        }
                        Failure::Result(reason) => {
                            outcome.record(true);
                            reason
                        }
                    };
                    self.faults.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(fault = %reason, "OPA authorization fault: denied");
                    AuthzDecision::fault(reason, self.policy_id.clone())
                }
            }
        })
    }
}

/// Records the breaker outcome of one request exactly once, a failure if never told otherwise.
struct BreakerGuard<'a> {
    enforcer: &'a OpaHttpEnforcer,
    recorded: bool,
}

impl BreakerGuard<'_> {
    fn record(&mut self, healthy: bool) {
        self.recorded = true;
        self.enforcer.breaker_record(healthy);
    }
}

impl Drop for BreakerGuard<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.enforcer.breaker_record(false);
        }
    }
}

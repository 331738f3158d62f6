//! Push notification delivery: webhook configuration storage, an SSRF guard and an HTTP
//! sender with retries.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use url::Url;

use crate::types::{StreamResponse, TaskPushNotificationConfig};

/// Default maximum webhooks per task.
pub const DEFAULT_MAX_CONFIGS_PER_TASK: usize = 10;
/// Header carrying the config's `token` on each webhook call.
pub const NOTIFICATION_TOKEN_HEADER: &str = "X-A2A-Notification-Token";

/// How webhooks are called.
#[derive(Clone)]
pub struct PushPolicy {
    /// Per-attempt timeout (connect, TLS, request and response). Default 10 s (the spec
    /// recommends 10-30 s).
    pub timeout: Duration,
    /// Attempts per notification, at least 1. Default 3.
    pub max_attempts: u32,
    /// Delay before the first retry, doubled each time. Default 500 ms.
    pub initial_backoff: Duration,
    /// Webhooks per task. Default 10.
    pub max_configs_per_task: usize,
    /// TLS client configuration for `https` webhooks; without it `https` targets are refused.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    allow_private_targets: bool,
}

impl std::fmt::Debug for PushPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushPolicy")
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_configs_per_task", &self.max_configs_per_task)
            .field("tls", &self.tls.is_some())
            .field("allow_private_targets", &self.allow_private_targets)
            .finish()
    }
}

impl Default for PushPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_configs_per_task: DEFAULT_MAX_CONFIGS_PER_TASK,
            tls: None,
            allow_private_targets: false,
        }
    }
}

impl PushPolicy {
    /// DANGER: lets webhooks target loopback, private and link-local addresses (including
    /// cloud metadata endpoints). For local tests and conformance runs only.
    #[must_use]
    pub fn danger_allow_private_targets(mut self) -> Self {
        self.allow_private_targets = true;
        self
    }

    /// Whether private targets are allowed.
    pub fn allows_private_targets(&self) -> bool {
        self.allow_private_targets
    }
}

/// Why a webhook was not (or could not be) called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The URL is malformed or uses a forbidden form.
    #[error("webhook url refused: {0}")]
    InvalidUrl(String),
    /// The URL resolves to an address the SSRF guard forbids.
    #[error("webhook target {0} is a private, loopback, link-local or reserved address")]
    ForbiddenTarget(IpAddr),
    /// Name resolution failed.
    #[error("webhook host could not be resolved: {0}")]
    Resolve(String),
    /// Connecting or exchanging failed.
    #[error("webhook delivery failed: {0}")]
    Transport(String),
    /// The webhook answered with a non-2xx status.
    #[error("webhook answered HTTP {0}")]
    Status(u16),
}

/// True for addresses a webhook may not target by default: loopback, private (RFC 1918,
/// ULA), link-local (incl. 169.254.169.254 metadata), unspecified, CGNAT, multicast,
/// broadcast, benchmarking, documentation and reserved ranges; IPv4-mapped and NAT64-style
/// embedded IPv4 addresses are judged by their IPv4 part.
pub fn is_forbidden_target(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let seg = v6.segments();
            // 64:ff9b::/96 (NAT64) embeds an IPv4 address in the last 32 bits.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return forbidden_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || seg[0] == 0x2001 && seg[1] == 0x0db8 // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
                || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// Validates a webhook URL's form (not its address): http or https, a host, no userinfo.
pub fn validate_webhook_url(raw: &str) -> Result<Url, PushError> {
    let url = Url::parse(raw).map_err(|e| PushError::InvalidUrl(format!("`{raw}`: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(PushError::InvalidUrl(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(PushError::InvalidUrl("no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PushError::InvalidUrl("credentials in the URL are not allowed".into()));
    }
    Ok(url)
}

/// Resolves the URL's host and checks every address; returns the addresses to try.
pub async fn resolve_checked(url: &Url, policy: &PushPolicy) -> Result<Vec<SocketAddr>, PushError> {
    let host = url.host_str().ok_or_else(|| PushError::InvalidUrl("no host".into()))?;
    let port =
        url.port_or_known_default().ok_or_else(|| PushError::InvalidUrl("no port".into()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| PushError::Resolve(format!("{host}: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(PushError::Resolve(format!("{host}: no addresses")));
    }
    if !policy.allow_private_targets {
        // Every address must pass: a name resolving to one public and one private address
        // would otherwise let a retry or a racing resolver reach the private one.
        if let Some(bad) = addrs.iter().find(|a| is_forbidden_target(a.ip())) {
            return Err(PushError::ForbiddenTarget(bad.ip()));
        }
    }
    Ok(addrs)
}

/// Makes one POST of `body` to `config.url`, connecting only to checked addresses.
pub async fn post_once(
    config: &TaskPushNotificationConfig,
    body: Bytes,
    policy: &PushPolicy,
) -> Result<(), PushError> {
    let url = validate_webhook_url(&config.url)?;
    let https = url.scheme() == "https";
    if https && policy.tls.is_none() {
        return Err(PushError::InvalidUrl("https webhooks need a TLS client configuration".into()));
    }
    let addrs = resolve_checked(&url, policy).await?;
    let attempt = async {
        let mut last = PushError::Transport("no address".into());
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(tcp) => return exchange(tcp, &url, config, body.clone(), policy, https).await,
                Err(e) => last = PushError::Transport(format!("connect {addr}: {e}")),
            }
        }
        Err(last)
    };
    tokio::time::timeout(policy.timeout, attempt)
        .await
        .map_err(|_| PushError::Transport(format!("timed out after {:?}", policy.timeout)))?
}

async fn exchange(
    tcp: tokio::net::TcpStream,
    url: &Url,
    config: &TaskPushNotificationConfig,
    body: Bytes,
    policy: &PushPolicy,
    https: bool,
) -> Result<(), PushError> {
    let request = build_request(url, config, body)?;
    let status = if https {
        let tls = policy.tls.clone().ok_or_else(|| PushError::Transport("no TLS config".into()))?;
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        let name = rustls_pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| PushError::InvalidUrl(format!("bad TLS server name `{host}`: {e}")))?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| PushError::Transport(format!("TLS: {e}")))?;
        send_http1(TokioIo::new(stream), request).await?
    } else {
        send_http1(TokioIo::new(tcp), request).await?
    };
    if status.is_success() { Ok(()) } else { Err(PushError::Status(status.as_u16())) }
}

fn build_request(
    url: &Url,
    config: &TaskPushNotificationConfig,
    body: Bytes,
) -> Result<http::Request<Full<Bytes>>, PushError> {
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut builder = http::Request::post(path)
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, "application/a2a+json");
    if let Some(auth) = &config.authentication {
        let value = if auth.credentials.is_empty() {
            auth.scheme.clone()
        } else {
            format!("{} {}", auth.scheme, auth.credentials)
        };
        builder = builder.header(http::header::AUTHORIZATION, value);
    }
    if !config.token.is_empty() {
        builder = builder.header(NOTIFICATION_TOKEN_HEADER, config.token.as_str());
    }
    builder
        .body(Full::new(body))
        .map_err(|e| PushError::InvalidUrl(format!("bad header value: {e}")))
}

async fn send_http1<T>(
    io: TokioIo<T>,
    request: http::Request<Full<Bytes>>,
) -> Result<http::StatusCode, PushError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| PushError::Transport(format!("HTTP handshake: {e}")))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = sender.send_request(request).await;
    let out = match result {
        Ok(resp) => {
            let status = resp.status();
            // Drain a bounded amount so the connection closes cleanly; the body is ignored.
            let _ = http_body_util::Limited::new(resp.into_body(), 64 * 1024).collect().await;
            Ok(status)
        }
        Err(e) => Err(PushError::Transport(format!("HTTP exchange: {e}"))),
    };
    driver.abort();
    out
}

/// Delivers one notification with retries (exponential backoff). Retries on transport
/// failures, 408, 429 and 5xx; other statuses and guard refusals are final.
pub async fn deliver(
    config: &TaskPushNotificationConfig,
    body: Bytes,
    policy: &PushPolicy,
) -> Result<(), PushError> {
    let mut backoff = policy.initial_backoff;
    let attempts = policy.max_attempts.max(1);
    let mut last = PushError::Transport("not attempted".into());
    for attempt in 1..=attempts {
        match post_once(config, body.clone(), policy).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                let retryable = match &e {
                    PushError::Transport(_) | PushError::Resolve(_) => true,
                    PushError::Status(s) => *s == 408 || *s == 429 || *s >= 500,
                    _ => false,
                };
                tracing::warn!(url = %config.url, attempt, error = %e, "push notification attempt failed");
                last = e;
                if !retryable || attempt == attempts {
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
        }
    }
    Err(last)
}

/// Push configurations by task, bounded per task.
#[derive(Debug, Default)]
pub(crate) struct PushConfigs {
    inner: Mutex<HashMap<String, Vec<TaskPushNotificationConfig>>>,
}

impl PushConfigs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<TaskPushNotificationConfig>>> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Inserts or replaces (same id) a config; false when the per-task limit is reached.
    pub(crate) fn upsert(&self, config: TaskPushNotificationConfig, max: usize) -> bool {
        let mut map = self.lock();
        let list = map.entry(config.task_id.clone()).or_default();
        if let Some(existing) = list.iter_mut().find(|c| c.id == config.id) {
            *existing = config;
            return true;
        }
        if list.len() >= max {
            return false;
        }
        list.push(config);
        true
    }

    pub(crate) fn get(&self, task_id: &str, id: &str) -> Option<TaskPushNotificationConfig> {
        self.lock().get(task_id).and_then(|l| l.iter().find(|c| c.id == id).cloned())
    }

    pub(crate) fn list(&self, task_id: &str) -> Vec<TaskPushNotificationConfig> {
        self.lock().get(task_id).cloned().unwrap_or_default()
    }

    pub(crate) fn delete(&self, task_id: &str, id: &str) {
        let mut map = self.lock();
        if let Some(list) = map.get_mut(task_id) {
            list.retain(|c| c.id != id);
            if list.is_empty() {
                map.remove(task_id);
            }
        }
    }
}

/// Serializes a stream item as a webhook body.
pub(crate) fn notification_body(item: &StreamResponse) -> Option<Bytes> {
    serde_json::to_vec(item).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssrf_guard_table() {
        let cases = [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("0.0.0.0", true),
            ("100.64.0.1", true),
            ("255.255.255.255", true),
            ("224.0.0.1", true),
            ("::1", true),
            ("::", true),
            ("fe80::1", true),
            ("fd00::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("8.8.8.8", false),
            ("93.184.216.34", false),
            ("172.32.0.1", false),
            ("2606:4700::1111", false),
            ("::ffff:8.8.8.8", false),
        ];
        for (ip, forbidden) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(is_forbidden_target(ip), forbidden, "{ip}");
        }
    }

    #[test]
    fn url_form_table() {
        let cases = [
            ("https://hooks.example.com/a2a", true),
            ("http://hooks.example.com:8080/x?y=1", true),
            ("ftp://hooks.example.com/", false),
            ("file:///etc/passwd", false),
            ("https://user:pw@hooks.example.com/", false),
            ("not a url", false),
        ];
        for (url, ok) in cases {
            assert_eq!(validate_webhook_url(url).is_ok(), ok, "{url}");
        }
    }

    #[tokio::test]
    async fn resolution_refuses_private_targets_unless_danger() {
        let policy = PushPolicy::default();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]:9/x",
            "http://169.254.169.254/latest",
            "http://localhost:9/x",
        ] {
            let u = validate_webhook_url(url).unwrap();
            assert!(
                matches!(resolve_checked(&u, &policy).await, Err(PushError::ForbiddenTarget(_))),
                "{url}"
            );
        }
        let open = PushPolicy::default().danger_allow_private_targets();
        let u = validate_webhook_url("http://127.0.0.1:9/x").unwrap();
        assert!(resolve_checked(&u, &open).await.is_ok());
    }

    #[tokio::test]
    async fn refuses_https_without_tls_config_and_never_connects_to_private() {
        let cfg = TaskPushNotificationConfig {
            tenant: String::new(),
            id: "c".into(),
            task_id: "t".into(),
            url: "http://127.0.0.1:1/hook".into(),
            token: String::new(),
            authentication: None,
        };
        let policy = PushPolicy { max_attempts: 5, ..Default::default() };
        // Final (non-retried) refusal from the guard.
        assert!(matches!(
            deliver(&cfg, Bytes::new(), &policy).await,
            Err(PushError::ForbiddenTarget(_))
        ));
        let https = TaskPushNotificationConfig { url: "https://8.8.8.8/hook".into(), ..cfg };
        assert!(matches!(
            post_once(&https, Bytes::new(), &policy).await,
            Err(PushError::InvalidUrl(_))
        ));
    }
}

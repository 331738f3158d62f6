//! OpaHttpEnforcer against a local HTTP server: correct answers decide; a server that is down,
//! slow, failing or talking nonsense denies (fail closed); the breaker opens and recovers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agentweave_authz::opa::{OpaConfig, OpaHttpEnforcer};
use agentweave_authz::{AuthzContext, CacheConfig, DecisionSource, PolicyEnforcer, SpiffeId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

#[derive(Clone, Copy)]
enum Behaviour {
    Answer(&'static str),
    Status500,
    Slow,
    CloseEarly,
}

/// A minimal HTTP/1.1 server: reads one request (headers + Content-Length body), records the
/// body, answers per `behaviour`. Returns its base URL, the request count and the last body.
async fn serve(behaviour: Behaviour) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(std::sync::Mutex::new(String::new()));
    let (count2, last2) = (count.clone(), last.clone());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (count, last) = (count2.clone(), last2.clone());
            tokio::spawn(async move {
                loop {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map(|v| v.trim().parse::<usize>().unwrap())
                                .unwrap_or(0);
                            break (pos + 4, length);
                        }
                    };
                    while buf.len() < head_end + length {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    *last.lock().unwrap() =
                        String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
                    let (status, body) = match behaviour {
                        Behaviour::Answer(body) => ("200 OK", body),
                        Behaviour::Status500 => {
                            ("500 Internal Server Error", "{\"code\":\"internal_error\"}")
                        }
                        Behaviour::Slow => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            ("200 OK", "{\"result\":{\"allow\":true}}")
                        }
                        Behaviour::CloseEarly => return,
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, count, last)
}

fn enforcer(url: &str) -> OpaHttpEnforcer {
    OpaHttpEnforcer::new(
        OpaConfig::new(id("spiffe://a.org/agent/me"), url).timeout(Duration::from_millis(200)),
    )
    .unwrap()
}

async fn check(e: &OpaHttpEnforcer) -> agentweave_authz::AuthzDecision {
    e.check_inbound(
        &id("spiffe://b.org/agent/x"),
        "search.query",
        AuthzContext::for_method("SendMessage"),
    )
    .await
}

#[tokio::test]
async fn well_formed_answers_decide_and_the_input_follows_the_contract() {
    let table: &[(&str, bool, &str)] = &[
        ("{\"result\":{\"allow\":true,\"reason\":\"ok by opa\"}}", true, "ok by opa"),
        ("{\"result\":{\"allow\":false,\"reason\":\"no\"}}", false, "no"),
        ("{\"result\":true}", true, "policy allowed"),
        ("{\"result\":false}", false, "policy denied"),
    ];
    for (body, allowed, reason) in table {
        let (url, _, last) = serve(Behaviour::Answer(body)).await;
        let e = enforcer(&url);
        let d = check(&e).await;
        assert_eq!(
            (d.allowed, d.source),
            (*allowed, DecisionSource::Policy),
            "{body}: {}",
            d.reason
        );
        assert!(d.reason.contains(reason), "{}", d.reason);
        assert_eq!(&*d.policy_id, "opa:/v1/data/agentweave/authz/decision");
        let sent: serde_json::Value = serde_json::from_str(&last.lock().unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"input": {
                "direction": "inbound", "caller_spiffe_id": "spiffe://b.org/agent/x",
                "callee_spiffe_id": "spiffe://a.org/agent/me", "caller_trust_domain": "b.org",
                "callee_trust_domain": "a.org", "action": "search.query",
                "context": {"a2a_method": "SendMessage"}}})
        );
    }
}

#[tokio::test]
async fn every_failure_mode_denies() {
    // Down: bind a port, then free it so nothing listens.
    let down = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (slow, _, _) = serve(Behaviour::Slow).await;
    let (err500, _, _) = serve(Behaviour::Status500).await;
    let (garbage, _, _) = serve(Behaviour::Answer("<html>definitely not json")).await;
    let (closes, _, _) = serve(Behaviour::CloseEarly).await;
    let (no_result, _, _) = serve(Behaviour::Answer("{}")).await;
    let (bad_shape, _, _) = serve(Behaviour::Answer("{\"result\":{\"allow\":\"true\"}}")).await;
    let (string_result, _, _) = serve(Behaviour::Answer("{\"result\":\"allow\"}")).await;
    let table: Vec<(&str, String, &str)> = vec![
        ("down", down, "OPA unreachable"),
        ("slow", slow, "did not answer within 200ms"),
        ("500", err500, "HTTP 500"),
        ("garbage", garbage, "not JSON"),
        ("connection closed", closes, "OPA unreachable"),
        ("missing result", no_result, "no result"),
        ("allow not boolean", bad_shape, "\"allow\" is a string"),
        ("string result", string_result, "result is a string"),
    ];
    for (name, url, needle) in table {
        let e = enforcer(&url);
        let d = check(&e).await;
        assert!(!d.allowed, "{name}");
        assert_eq!(d.source, DecisionSource::Fault, "{name}");
        assert!(d.reason.contains(needle), "{name}: {}", d.reason);
        assert_eq!(e.stats().faults, 1, "{name}");
    }
}

#[tokio::test]
async fn breaker_opens_after_repeated_failures_and_closes_after_a_good_trial() {
    let (url, count, _) = serve(Behaviour::Status500).await;
    let e = OpaHttpEnforcer::new(
        OpaConfig::new(id("spiffe://a.org/agent/me"), &url)
            .timeout(Duration::from_millis(200))
            .circuit_breaker(3, Duration::from_millis(100)),
    )
    .unwrap();
    for _ in 0..3 {
        assert!(check(&e).await.reason.contains("HTTP 500"));
    }
    let d = check(&e).await;
    assert!(!d.allowed && d.reason.contains("circuit breaker is open"), "{}", d.reason);
    assert_eq!(count.load(Ordering::SeqCst), 3, "no request while open");
    assert_eq!(e.stats().short_circuited, 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Half-open: one trial goes out, fails, and the breaker opens again.
    assert!(check(&e).await.reason.contains("HTTP 500"));
    assert!(check(&e).await.reason.contains("circuit breaker is open"));
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn cache_serves_repeats_without_asking() {
    let (url, count, _) =
        serve(Behaviour::Answer("{\"result\":{\"allow\":true,\"reason\":\"r\"}}")).await;
    let e = OpaHttpEnforcer::new(
        OpaConfig::new(id("spiffe://a.org/agent/me"), &url)
            .cache(CacheConfig { capacity: 10, ttl: Duration::from_secs(60) }),
    )
    .unwrap();
    assert_eq!(check(&e).await.source, DecisionSource::Policy);
    let hit = check(&e).await;
    assert_eq!((hit.allowed, hit.source), (true, DecisionSource::Cache));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn invalid_configs_are_refused() {
    let me = || id("spiffe://a.org/agent/me");
    let table: Vec<(OpaConfig, &str)> = vec![
        (OpaConfig::new(me(), "https://opa:8181"), "only http:// is supported"),
        (OpaConfig::new(me(), "http://127.0.0.1:8181").path("a/../b"), "opa.path"),
        (OpaConfig::new(me(), "http://127.0.0.1:8181").path("a b"), "opa.path"),
        (
            OpaConfig::new(me(), "http://127.0.0.1:8181").timeout(Duration::ZERO),
            "greater than zero",
        ),
        (OpaConfig::new(me(), "http://bad host"), "opa.base_url"),
    ];
    for (config, needle) in table {
        let err = OpaHttpEnforcer::new(config).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

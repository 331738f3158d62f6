use std::collections::BTreeMap;

use super::*;

const BASE: &str = r#"
environment: development
agent:
  name: payments
  spiffe_id: spiffe://example.org/agent/payments
identity:
  provider: dev
authz:
  provider: rego
  policies: [policies/]
"#;

const PRODUCTION: &str = r#"
agent:
  name: payments
  spiffe_id: spiffe://example.org/agent/payments
identity:
  provider: workload-api
authz:
  provider: rego
  policies: [policies/]
"#;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn load(text: &str, pairs: &[(&str, &str)]) -> Result<AgentConfig, ConfigError> {
    AgentConfig::from_yaml_with_env(text, &env(pairs))
}

#[test]
fn defaults_are_the_documented_ones() {
    let config = load(PRODUCTION, &[]).unwrap();
    assert_eq!(config.environment, Environment::Production, "production unless told otherwise");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8443");
    assert_eq!(config.server.min_tls_version, TlsVersion::Tls13);
    assert_eq!(config.audit.sink, AuditSink::Stdout);
    let t = &config.transport;
    assert_eq!(
        (t.breaker_failure_threshold, t.breaker_recovery_timeout_ms, t.breaker_success_threshold),
        (5, 30_000, 2)
    );
    assert_eq!(
        (t.retry_attempts, t.retry_initial_backoff_ms, t.retry_max_backoff_ms),
        (3, 1_000, 30_000)
    );
    assert_eq!(
        (t.max_connections_per_peer, t.max_connections, t.idle_timeout_ms),
        (10, 100, 60_000)
    );
    assert!(config.guard.enabled && config.guard.block_on_error);
    let AuthzSection::Rego { entrypoint, hot_reload, .. } = &config.authz else { panic!("rego") };
    assert_eq!(entrypoint, "data.agentweave.authz.decision");
    assert!(hot_reload);
}

#[test]
fn errors_name_the_key_path() {
    let cases: &[(&str, &str, &str)] = &[
        ("unknown top-level key", "colour: blue", "colour"),
        ("unknown nested key", "server:\n  listne: 127.0.0.1:1", "server"),
        ("bad address", "server:\n  listen: not-an-address", "server.listen"),
        ("TLS below 1.2", "server:\n  min_tls_version: \"1.1\"", "server.min_tls_version"),
        (
            "bad peer id",
            "peers:\n  - spiffe_id: spiffe://Bad/x\n    endpoint: https://a:1",
            "peers[0].spiffe_id",
        ),
        (
            "plain http peer",
            "peers:\n  - spiffe_id: spiffe://example.org/agent/a\n    endpoint: http://a:1",
            "peers[0].endpoint",
        ),
        (
            "duplicate peer",
            "peers:\n  - {spiffe_id: spiffe://example.org/agent/a, endpoint: https://a:1}\n  - {spiffe_id: spiffe://example.org/agent/a, endpoint: https://b:1}",
            "peers[1].spiffe_id",
        ),
        ("file audit without path", "audit:\n  sink: file", "audit.path"),
        ("audit batch window too long", "audit:\n  batch_window_ms: 101", "audit.batch_window_ms"),
        ("zero timeout", "transport:\n  connect_timeout_ms: 0", "transport.connect_timeout_ms"),
        (
            "pool limits inverted",
            "transport:\n  max_connections_per_peer: 200",
            "transport.max_connections_per_peer",
        ),
        ("negative number", "transport:\n  retry_attempts: -1", "transport.retry_attempts"),
        ("empty cache", "  cache: {max_entries: 0}", "authz.cache.max_entries"),
        ("instant expiry", "  cache: {ttl_ms: 0}", "authz.cache.ttl_ms"),
    ];
    for (name, extra, path) in cases {
        let err = load(&format!("{BASE}{extra}\n"), &[]).expect_err(name);
        assert!(err.path().starts_with(path), "{name}: path {:?} in {err}", err.path());
        assert!(err.to_string().contains(path), "{name}: message names the key: {err}");
    }
}

#[test]
fn unknown_keys_inside_tagged_sections_are_rejected() {
    let text = BASE.replace("provider: dev", "provider: dev\n  svid_tll_secs: 5");
    let err = load(&text, &[]).unwrap_err();
    assert!(err.to_string().contains("svid_tll_secs"), "{err}");
    let text = BASE.replace("provider: rego", "provider: magic");
    let err = load(&text, &[]).unwrap_err();
    assert!(err.to_string().contains("magic") && err.path().starts_with("authz"), "{err}");
}

#[test]
fn production_rules_are_each_refused_with_the_key_path() {
    let cases: &[(&str, &str, &str)] = &[
        ("dev issuer", "provider: workload-api", "identity.provider"),
        ("allow-all", "provider: rego\n  policies: [policies/]", "authz.provider"),
    ];
    let replacements = ["provider: dev", "provider: danger-allow-all"];
    for ((name, from, path), to) in cases.iter().zip(replacements) {
        let text = PRODUCTION.replacen(from, to, 1);
        let err = load(&text, &[]).expect_err(name);
        assert!(matches!(err, ConfigError::Production { .. }), "{name}: {err}");
        assert_eq!(err.path(), *path, "{name}");
    }
    for (name, extra, path) in [
        ("audit off", "audit:\n  sink: off", "audit.sink"),
        (
            "any peer id",
            "transport:\n  danger_accept_any_peer_id: true",
            "transport.danger_accept_any_peer_id",
        ),
        ("forward on engine error", "guard:\n  block_on_error: false", "guard.block_on_error"),
    ] {
        let err = load(&format!("{PRODUCTION}{extra}\n"), &[]).expect_err(name);
        assert!(matches!(err, ConfigError::Production { .. }), "{name}: {err}");
        assert_eq!(err.path(), path, "{name}");
        // The same settings are accepted in development.
        load(&format!("{BASE}{extra}\n"), &[])
            .unwrap_or_else(|e| panic!("{name} in development: {e}"));
    }
}

#[test]
fn environment_variables_are_interpolated_in_values_only() {
    let text = format!(
        "{BASE}server:\n  listen: ${{LISTEN}}\n  public_url: \"https://${{HOST:-localhost}}:8443\"\n"
    );
    let config = load(&text, &[("LISTEN", "0.0.0.0:9443")]).unwrap();
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:9443");
    assert_eq!(config.server.public_url.as_deref(), Some("https://localhost:8443"));

    let err = load(&text, &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::MissingEnv { name, path } if name == "LISTEN" && path == "server.listen"),
        "{err}"
    );

    // A variable's value is data: YAML structure inside it stays a string.
    let text = format!(
        "{BASE}agent:\n  name: ${{NAME}}\n  spiffe_id: spiffe://example.org/agent/payments\n"
    );
    let text = text.replacen(
        "agent:\n  name: payments\n  spiffe_id: spiffe://example.org/agent/payments\n",
        "",
        1,
    );
    let config = load(&text, &[("NAME", "x\nenvironment: production")]).unwrap();
    assert_eq!(config.agent.name, "x\nenvironment: production");
    assert_eq!(config.environment, Environment::Development);

    let literal = format!(
        "{BASE}agent:\n  name: \"$${{NOT_A_VAR}}\"\n  spiffe_id: spiffe://example.org/agent/p\n"
    )
    .replacen(
        "agent:\n  name: payments\n  spiffe_id: spiffe://example.org/agent/payments\n",
        "",
        1,
    );
    assert_eq!(load(&literal, &[]).unwrap().agent.name, "${NOT_A_VAR}");
}

#[test]
fn environment_overrides_set_key_paths_with_types() {
    let config = load(
        BASE,
        &[
            ("AGENTWEAVE__SERVER__LISTEN", "0.0.0.0:7000"),
            ("AGENTWEAVE__TRANSPORT__RETRY_ATTEMPTS", "5"),
        ],
    )
    .unwrap();
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:7000");
    assert_eq!(config.transport.retry_attempts, 5);

    let err = load(PRODUCTION, &[("AGENTWEAVE__AUDIT__SINK", "off")]).unwrap_err();
    assert_eq!(err.path(), "audit.sink", "overrides pass the production rules too: {err}");
    let err = load(BASE, &[("AGENTWEAVE__SERVER__NOPE", "1")]).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

const PEERS: &str = "peers:\n  - {spiffe_id: spiffe://example.org/agent/search, endpoint: https://127.0.0.1:9443}\n";

#[test]
fn capabilities_parse_with_their_documented_defaults() {
    let text = format!(
        "{BASE}{PEERS}capabilities:
  - name: search.query
    description: Finds things
    handler: {{kind: echo}}
  - name: invoice.pay
    guard_payload: finance
    handler: {{kind: http, url: \"http://127.0.0.1:9000/pay\"}}
  - name: code.run
    guard_payload: code_execution
    handler: {{kind: http, url: \"http://localhost:9000/run\", timeout_ms: 250}}
  - name: plan.trip
    handler: {{kind: forward, target: \"spiffe://example.org/agent/search\", capability: search.query}}
"
    );
    let config = load(&text, &[]).unwrap();
    let caps = &config.capabilities;
    assert_eq!(caps.len(), 4);
    assert_eq!(
        (caps[0].name.as_str(), caps[0].description.as_str()),
        ("search.query", "Finds things")
    );
    assert_eq!(caps[1].description, "", "description defaults to empty");
    assert_eq!(caps[0].guard_payload, None);
    assert_eq!(caps[1].guard_payload, Some(GuardPayload::Finance));
    assert_eq!(caps[2].guard_payload, Some(GuardPayload::Code), "wire names are aliases");
    assert!(
        matches!(&caps[1].handler, HandlerSection::Http { timeout_ms: 10_000, .. }),
        "timeout_ms defaults to 10000"
    );
    assert!(matches!(&caps[2].handler, HandlerSection::Http { timeout_ms: 250, .. }));
    assert!(
        matches!(&caps[3].handler, HandlerSection::Forward { target, capability } if target == "spiffe://example.org/agent/search" && capability == "search.query")
    );
    assert_eq!(
        GuardPayload::Finance.payload_type(),
        agentweave_guard::PayloadType::FinancialTransaction
    );
    // The section round-trips through `validate --print`.
    let printed = serde_yaml_ng::to_string(&config).unwrap();
    let again = load(&printed, &[]).unwrap();
    assert_eq!(again.capabilities.len(), 4);
    // No section: no capabilities, and nothing printed for it.
    assert!(load(BASE, &[]).unwrap().capabilities.is_empty());
}

#[test]
fn capability_errors_name_the_key_path() {
    let echo = "handler: {kind: echo}";
    let cases: &[(&str, String, &str)] = &[
        ("empty name", format!("  - name: \" \"\n    {echo}"), "capabilities[0].name"),
        (
            "duplicate name",
            format!("  - name: a\n    {echo}\n  - name: a\n    {echo}"),
            "capabilities[1].name",
        ),
        ("missing handler", "  - name: a".into(), "capabilities[0]"),
        ("unknown kind", "  - name: a\n    handler: {kind: shell}".into(), "capabilities[0].handler"),
        (
            "unknown handler key",
            "  - name: a\n    handler: {kind: echo, url: \"http://127.0.0.1:1\"}".into(),
            "capabilities[0].handler",
        ),
        ("unknown capability key", format!("  - name: a\n    colour: red\n    {echo}"), "capabilities[0]"),
        (
            "passthrough payload type",
            format!("  - name: a\n    guard_payload: general\n    {echo}"),
            "capabilities[0].guard_payload",
        ),
        (
            "https business service",
            "  - name: a\n    handler: {kind: http, url: \"https://127.0.0.1:9000\"}".into(),
            "capabilities[0].handler.url",
        ),
        (
            "not http",
            "  - name: a\n    handler: {kind: http, url: \"ftp://127.0.0.1/x\"}".into(),
            "capabilities[0].handler.url",
        ),
        (
            "credentials in the url",
            "  - name: a\n    handler: {kind: http, url: \"http://u:p@127.0.0.1:9000\"}".into(),
            "capabilities[0].handler.url",
        ),
        (
            "zero timeout",
            "  - name: a\n    handler: {kind: http, url: \"http://127.0.0.1:9000\", timeout_ms: 0}".into(),
            "capabilities[0].handler.timeout_ms",
        ),
        ("http without url", "  - name: a\n    handler: {kind: http}".into(), "capabilities[0].handler"),
        (
            "forward to a peer not listed",
            "  - name: a\n    handler: {kind: forward, target: \"spiffe://example.org/agent/other\", capability: x}".into(),
            "capabilities[0].handler.target",
        ),
        (
            "forward to itself",
            "  - name: a\n    handler: {kind: forward, target: \"spiffe://example.org/agent/payments\", capability: x}".into(),
            "capabilities[0].handler.target",
        ),
        (
            "forward without capability",
            "  - name: a\n    handler: {kind: forward, target: \"spiffe://example.org/agent/search\", capability: \"\"}".into(),
            "capabilities[0].handler.capability",
        ),
        (
            "forward to a bad id",
            "  - name: a\n    handler: {kind: forward, target: \"https://search\", capability: x}".into(),
            "capabilities[0].handler.target",
        ),
    ];
    for (name, entries, path) in cases {
        let text = format!("{BASE}{PEERS}capabilities:\n{entries}\n");
        let err = load(&text, &[]).expect_err(name);
        assert!(err.path().starts_with(path), "{name}: path {:?} in {err}", err.path());
        assert!(err.to_string().contains(path), "{name}: message names the key: {err}");
    }
    let guarded_without_guard = format!(
        "{BASE}guard:\n  enabled: false\ncapabilities:\n  - name: a\n    guard_payload: finance\n    {echo}\n"
    );
    let err = load(&guarded_without_guard, &[]).unwrap_err();
    assert_eq!(err.path(), "capabilities[0].guard_payload", "{err}");
}

#[test]
fn production_business_services_must_be_on_loopback() {
    let entry = |url: &str| {
        format!(
            "{PRODUCTION}capabilities:\n  - name: pay\n    handler: {{kind: http, url: \"{url}\"}}\n"
        )
    };
    for url in ["http://10.0.0.5:9000/pay", "http://billing.internal/pay", "http://0.0.0.0:9000"] {
        let err = load(&entry(url), &[]).expect_err(url);
        assert!(matches!(err, ConfigError::Production { .. }), "{url}: {err}");
        assert_eq!(err.path(), "capabilities[0].handler.url", "{url}");
        assert!(err.to_string().contains("loopback"), "{url}: the rule is named: {err}");
        // Development accepts it.
        let dev = entry(url).replacen(PRODUCTION, BASE, 1);
        load(&dev, &[]).unwrap_or_else(|e| panic!("{url} in development: {e}"));
    }
    for url in [
        "http://127.0.0.1:9000/pay",
        "http://localhost:9000",
        "http://[::1]:9000/x",
        "http://127.8.9.10/",
    ] {
        load(&entry(url), &[]).unwrap_or_else(|e| panic!("{url} is loopback: {e}"));
    }
}

//! RegoEnforcer: decisions through the trait, faults fail closed, cache, hot reload under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use agentweave_authz::rego::{
    Backend, DataSource, PolicySource, RegoConfig, RegoEnforcer, ReloadOutcome,
};
use agentweave_authz::{
    AuthzContext, CacheConfig, DecisionSource, PolicyEnforcer, SpiffeId, starter,
};

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

fn starter_enforcer(local: &str) -> RegoEnforcer {
    let mut config = RegoConfig::new(id(local)).data(starter::example_data().unwrap());
    for p in starter::all_policies() {
        config = config.policy(p);
    }
    RegoEnforcer::new(config).unwrap()
}

#[tokio::test]
async fn inbound_and_outbound_through_dyn_trait() {
    let enforcer: Arc<dyn PolicyEnforcer> =
        Arc::new(starter_enforcer("spiffe://corp.example/agent/index"));
    let search = id("spiffe://corp.example/agent/search");
    let ctx = || AuthzContext::for_method("SendMessage").with_capability("search.query");
    let table: &[(&str, &str, bool)] = &[
        ("spiffe://corp.example/agent/search", "search.query", true),
        ("spiffe://corp.example/agent/search", "ledger.post", false),
        ("spiffe://partner.example/agent/broker", "search.query", true),
        ("spiffe://partner.example/agent/scraper", "search.query", false),
        ("spiffe://corp.example/agent/orchestrator", "reindex", true),
    ];
    for (caller, action, allowed) in table {
        let d = enforcer.check_inbound(&id(caller), action, ctx()).await;
        assert_eq!(d.allowed, *allowed, "{caller} {action}: {}", d.reason);
        assert_eq!(d.source, DecisionSource::Policy);
        assert!(d.policy_id.starts_with("rego:sha256:"), "{}", d.policy_id);
    }
    let out = enforcer
        .check_outbound(&search, &id("spiffe://corp.example/agent/ledger"), "ledger.post", ctx())
        .await;
    assert!(!out.allowed, "search has no finance role: {}", out.reason);
    let a = enforcer.check_inbound(&search, "search.query", ctx()).await;
    let b = enforcer.check_inbound(&search, "search.query", ctx()).await;
    assert_ne!(a.audit_id, b.audit_id);
}

#[tokio::test]
async fn engine_faults_deny_with_the_fault_as_reason() {
    let table: &[(&str, &str)] = &[
        // Undefined entrypoint for every input: no default.
        ("package agentweave.authz\n\ndecision := {\"allow\": true} if input.never\n", "undefined"),
        // Wrong result shape.
        ("package agentweave.authz\n\ndecision := {\"allow\": \"yes\"}\n", "\"allow\" is a string"),
        ("package agentweave.authz\n\ndecision := 1\n", "result is a number"),
        // A runtime error on real inputs (conflicting values for a complete rule).
        (
            "package agentweave.authz\n\ndefault decision := false\n\ndecision := true if input.action\n\ndecision := false if input.action\n",
            "failed",
        ),
    ];
    for (rego, needle) in table {
        let config = RegoConfig::new(id("spiffe://a.org/agent/me"))
            .policy(PolicySource::Inline { name: "p.rego".into(), rego: (*rego).into() });
        let enforcer = RegoEnforcer::new(config).unwrap();
        let d = enforcer
            .check_inbound(&id("spiffe://a.org/agent/x"), "act", AuthzContext::default())
            .await;
        assert!(!d.allowed, "{rego}");
        assert_eq!(d.source, DecisionSource::Fault, "{rego}: {}", d.reason);
        assert!(d.reason.contains(needle), "{rego}: {}", d.reason);
        assert_eq!(enforcer.status().faults, 1);
    }
}

#[test]
fn bad_policies_are_refused_at_construction() {
    let me = || RegoConfig::new(id("spiffe://a.org/agent/me"));
    let inline = |rego: &str| PolicySource::Inline { name: "p.rego".into(), rego: rego.into() };
    let cases: Vec<(RegoConfig, &str)> = vec![
        (me(), "no Rego module"),
        // A builtin family this build leaves out is named at load time, not at first request.
        (
            me().policy(inline("package agentweave.authz\n\ndecision := time.now_ns() > 0\n")),
            "time.now_ns",
        ),
        (me().policy(inline("package x\n\nallow if {")), "does not compile"),
        (me().policy(inline("package agentweave.other\n\nallow := true\n")), "entrypoint"),
        (
            me().policy(inline("package agentweave.authz\n\ndecision := true\n"))
                .entrypoint("agentweave.authz.decision"),
            "must be a rule path",
        ),
        (
            me().policy(PolicySource::File("/nonexistent/p.rego".into())),
            "cannot read /nonexistent/p.rego",
        ),
        (
            me().policy(inline("package agentweave.authz\n\ndecision := true\n"))
                .data(DataSource::Inline { name: "d".into(), json: serde_json::json!([1]) }),
            "must be a JSON object",
        ),
        (
            me().policy(inline("package agentweave.authz\n\ndecision := true\n"))
                .cache(CacheConfig { capacity: 0, ttl: Duration::from_secs(1) }),
            "cache.capacity",
        ),
    ];
    for (config, needle) in cases {
        let err = RegoEnforcer::new(config).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[tokio::test]
async fn a_bare_boolean_entrypoint_is_accepted() {
    let config = RegoConfig::new(id("spiffe://a.org/agent/me"))
        .policy(PolicySource::Inline {
            name: "p.rego".into(),
            rego: "package mycorp\n\ndefault allow := false\n\nallow if input.action == \"ping\"\n"
                .into(),
        })
        .entrypoint("data.mycorp.allow");
    let enforcer = RegoEnforcer::new(config).unwrap();
    let caller = id("spiffe://a.org/agent/x");
    assert!(enforcer.check_inbound(&caller, "ping", AuthzContext::default()).await.allowed);
    let d = enforcer.check_inbound(&caller, "pong", AuthzContext::default()).await;
    assert!(!d.allowed);
    assert_eq!(d.source, DecisionSource::Policy);
}

#[tokio::test]
async fn cache_hits_are_marked_and_keyed_by_the_fields_the_policy_reads() {
    let mut config = RegoConfig::new(id("spiffe://corp.example/agent/index"))
        .data(starter::example_data().unwrap())
        .cache(CacheConfig { capacity: 100, ttl: Duration::from_secs(60) });
    for p in starter::all_policies() {
        config = config.policy(p);
    }
    let enforcer = RegoEnforcer::new(config).unwrap();
    let search = id("spiffe://corp.example/agent/search");
    let ctx = |m: &str| AuthzContext::for_method("SendMessage").with_message_id(m);
    let first = enforcer.check_inbound(&search, "search.query", ctx("m1")).await;
    let second =
        enforcer.check_inbound(&search, "search.query", ctx("m1").with_trace_id("t")).await;
    let other = enforcer.check_inbound(&search, "ledger.post", ctx("m1")).await;
    let other_msg = enforcer.check_inbound(&search, "search.query", ctx("m2")).await;
    assert_eq!(first.source, DecisionSource::Policy);
    assert_eq!(second.source, DecisionSource::Cache);
    assert_eq!((second.allowed, &second.reason), (first.allowed, &first.reason));
    assert_ne!(first.audit_id, second.audit_id);
    assert_eq!(other.source, DecisionSource::Policy);
    assert!(!other.allowed);
    // The starter modules never read the message ID, so it is no part of the key.
    assert_eq!(other_msg.source, DecisionSource::Cache);
    assert_eq!(enforcer.status().cache_hits, 2);
}

const ALLOW_PING: &str = "package agentweave.authz\n\ndefault decision := {\"allow\": false, \"reason\": \"v1 deny\"}\n\ndecision := {\"allow\": true, \"reason\": \"v1 allow\"} if input.action == \"ping\"\n";
const DENY_PING: &str = "package agentweave.authz\n\ndefault decision := {\"allow\": false, \"reason\": \"v2 deny\"}\n\ndecision := {\"allow\": true, \"reason\": \"v2 allow\"} if input.action == \"pong\"\n";

#[test]
fn hot_reload_under_concurrent_checks_switches_cleanly_and_keeps_old_policy_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.rego");
    std::fs::write(&file, ALLOW_PING).unwrap();
    let config = RegoConfig::new(id("spiffe://a.org/agent/me"))
        .policy(PolicySource::Dir(dir.path().to_owned()))
        .cache(CacheConfig { capacity: 100, ttl: Duration::from_secs(60) });
    let enforcer = RegoEnforcer::new(config).unwrap();
    let v1_id = enforcer.policy_id();
    let watch = enforcer.watch(Duration::from_millis(10)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let seen_v2 = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let caller = id("spiffe://a.org/agent/x");
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (enforcer, stop, seen_v2, caller) =
                (enforcer.clone(), stop.clone(), seen_v2.clone(), caller.clone());
            runtime.spawn(async move {
                let mut checks = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let d = enforcer.check_inbound(&caller, "ping", AuthzContext::default()).await;
                    // Every decision is wholly v1 or wholly v2, never a fault or a mix.
                    match (&*d.reason, d.allowed) {
                        ("v1 allow", true) => {}
                        ("v2 deny", false) => {
                            seen_v2.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("torn or failed decision: {other:?} ({:?})", d.source),
                    }
                    checks += 1;
                    tokio::task::yield_now().await;
                }
                checks
            })
        })
        .collect();

    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        for _ in 0..500 {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out waiting for {what}");
    };
    std::thread::sleep(Duration::from_millis(50));
    // Replace atomically (write then rename) as deployment tools do.
    let tmp = dir.path().join("policy.rego.tmp");
    std::fs::write(&tmp, DENY_PING).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    wait_for("the v2 policy", &|| seen_v2.load(Ordering::Relaxed) > 100);
    let v2_id = enforcer.policy_id();
    assert_ne!(v1_id, v2_id);

    // A broken file: refused, v2 stays in force, reported in the status.
    std::fs::write(dir.path().join("broken.rego"), "package agentweave.authz\n\ndecision := {")
        .unwrap();
    wait_for("the failed reload", &|| enforcer.status().failed_reloads > 0);
    let before = seen_v2.load(Ordering::Relaxed);
    wait_for("more v2 decisions", &|| seen_v2.load(Ordering::Relaxed) > before + 100);
    let status = enforcer.status();
    assert_eq!(status.policy_id, v2_id);
    assert!(
        status.last_reload_error.as_deref().unwrap_or("").contains("broken.rego"),
        "{status:?}"
    );
    assert_eq!(status.faults, 0);

    stop.store(true, Ordering::Relaxed);
    let total: u64 = runtime.block_on(async {
        let mut total = 0;
        for w in workers {
            total += w.await.unwrap();
        }
        total
    });
    assert!(total > 200);
    drop(watch);

    // Removing the broken file lets the next reload succeed and clears the error.
    std::fs::remove_file(dir.path().join("broken.rego")).unwrap();
    assert_eq!(enforcer.reload().unwrap(), ReloadOutcome::Unchanged);
    assert_eq!(enforcer.status().last_reload_error, None);
}

#[tokio::test]
async fn a_runaway_policy_is_stopped_by_the_time_limit_and_denies() {
    let rego = "package agentweave.authz\n\ndefault decision := false\n\ndecision := true if {\n\tinput.action == \"spin\"\n\tcount([1 | some x in numbers.range(1, 3000); some y in numbers.range(1, 3000)]) > 0\n}\n";
    // Both regorus evaluators enforce the limit (the VM is forced here: it is chosen by itself
    // only for the shipped starter modules).
    for backend in [Backend::Interpreter, Backend::Vm] {
        let config = RegoConfig::new(id("spiffe://a.org/agent/me"))
            .policy(PolicySource::Inline { name: "spin.rego".into(), rego: rego.into() })
            .eval_time_limit(Some(Duration::from_millis(20)))
            .backend(backend);
        let enforcer = RegoEnforcer::new(config).unwrap();
        assert_eq!(enforcer.backend(), backend);
        let d = enforcer
            .check_inbound(&id("spiffe://a.org/agent/x"), "spin", AuthzContext::default())
            .await;
        assert!(!d.allowed, "{backend:?}");
        assert_eq!(d.source, DecisionSource::Fault, "{backend:?}: {}", d.reason);
        assert!(d.reason.contains("time limit"), "{backend:?}: {}", d.reason);
        // A normal request on the same enforcer (same thread evaluator) still decides.
        let d = enforcer
            .check_inbound(&id("spiffe://a.org/agent/x"), "ok", AuthzContext::default())
            .await;
        assert_eq!(d.source, DecisionSource::Policy, "{backend:?}: {}", d.reason);
    }
}

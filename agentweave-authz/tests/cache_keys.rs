//! The decision cache keys on the input fields the policy in force can read: a field it reads
//! always splits the key (no stale decision), one it cannot read never does, and a policy whose
//! answer changes with time is never served from the cache.

use std::time::Duration;

use agentweave_authz::rego::{InputFields, PolicySource, RegoConfig, RegoEnforcer};
use agentweave_authz::{AuthzContext, CacheConfig, DecisionSource, PolicyEnforcer, SpiffeId};

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

fn cached(policy: PolicySource) -> RegoEnforcer {
    let config = RegoConfig::new(id("spiffe://a.org/agent/me"))
        .policy(policy)
        .cache(CacheConfig { capacity: 100, ttl: Duration::from_secs(60) });
    RegoEnforcer::new(config).unwrap()
}

fn inline(rego: &str) -> PolicySource {
    PolicySource::Inline { name: "test.rego".into(), rego: rego.into() }
}

fn task(task_id: &str) -> AuthzContext {
    AuthzContext::for_method("GetTask").with_task_id(task_id).with_message_id(task_id)
}

const TASK_OWNER: &str = r#"package agentweave.authz

default decision := {"allow": false, "reason": "not the task"}

decision := {"allow": true, "reason": "the task"} if input.context.task_id == "t-1"
"#;

#[tokio::test]
async fn a_field_the_policy_reads_splits_the_key() {
    let enforcer = cached(inline(TASK_OWNER));
    let caller = id("spiffe://a.org/agent/x");
    let allowed = enforcer.check_inbound(&caller, "tasks.get", task("t-1")).await;
    let other_task = enforcer.check_inbound(&caller, "tasks.get", task("t-2")).await;
    let again = enforcer.check_inbound(&caller, "tasks.get", task("t-1")).await;
    assert!(allowed.allowed);
    assert!(!other_task.allowed, "another task must not get the cached allow");
    assert_eq!(other_task.source, DecisionSource::Policy);
    assert_eq!((again.allowed, again.source), (true, DecisionSource::Cache));
    assert_eq!(enforcer.status().input_fields, InputFields::Only(vec!["context.task_id".into()]));
}

#[tokio::test]
async fn a_policy_that_draws_random_numbers_is_never_cached() {
    let rego = r#"package agentweave.authz

decision := {"allow": rand.intn("k", 10) >= 0, "reason": "dice"}
"#;
    let enforcer = cached(inline(rego));
    let caller = id("spiffe://a.org/agent/x");
    for _ in 0..3 {
        let decision = enforcer.check_inbound(&caller, "ping", task("t-1")).await;
        assert_eq!((decision.allowed, decision.source), (true, DecisionSource::Policy));
    }
    let status = enforcer.status();
    assert_eq!((status.cache_hits, status.evaluations), (0, 3));
    assert!(status.uncacheable.is_some_and(|why| why.contains("rand.intn")));
}

#[tokio::test]
async fn a_reload_to_a_policy_reading_more_fields_drops_the_narrower_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.rego");
    let v1 = "package agentweave.authz\n\ndefault decision := false\n\ndecision := true if input.action == \"ping\"\n";
    std::fs::write(&file, v1).unwrap();
    let enforcer = cached(PolicySource::File(file.clone()));
    let caller = id("spiffe://a.org/agent/x");
    assert!(enforcer.check_inbound(&caller, "ping", task("t-1")).await.allowed);
    assert_eq!(
        enforcer.check_inbound(&caller, "ping", task("t-2")).await.source,
        DecisionSource::Cache
    );

    let v2 = "package agentweave.authz\n\ndefault decision := false\n\ndecision := true if {\n\tinput.action == \"ping\"\n\tinput.context.task_id == \"t-1\"\n}\n";
    std::fs::write(&file, v2).unwrap();
    enforcer.reload().unwrap();
    let refused = enforcer.check_inbound(&caller, "ping", task("t-2")).await;
    assert_eq!((refused.allowed, refused.source), (false, DecisionSource::Policy));
    let allowed = enforcer.check_inbound(&caller, "ping", task("t-1")).await;
    assert_eq!((allowed.allowed, allowed.source), (true, DecisionSource::Policy));
}

#[tokio::test]
async fn a_policy_reading_the_whole_input_keys_on_every_field() {
    let rego = r#"package agentweave.authz

decision := {"allow": true, "reason": sprintf("%v", [count(object.keys(input.context))])} if input.action
"#;
    // `object.keys(input.context)` reads all of `context`: a new extra key splits the key.
    let enforcer = cached(inline(rego));
    let caller = id("spiffe://a.org/agent/x");
    let plain = enforcer.check_inbound(&caller, "ping", task("t-1")).await;
    let more = enforcer.check_inbound(&caller, "ping", task("t-1").with_extra("tenant", "a")).await;
    assert_eq!(more.source, DecisionSource::Policy);
    assert_ne!(plain.reason, more.reason);
}

#[tokio::test]
async fn a_whole_input_bound_before_a_line_starting_with_a_bracket_is_still_read_in_full() {
    // `req := input` ends its literal at the line break; the next line is an array literal.
    // Reading `input["…"]` across the line break would narrow the mask to nothing and let the
    // `not` succeed on an input without `action`: a delete would be allowed.
    let rego = r#"package agentweave.authz

default decision := {"allow": false, "reason": "default deny"}

decision := {"allow": true, "reason": "not a delete"} if {
    req := input
    ["read-only"][0] == "read-only"
    not req.action == "delete"
}
"#;
    let enforcer = cached(inline(rego));
    let caller = id("spiffe://a.org/agent/x");
    let delete = enforcer.check_inbound(&caller, "delete", task("t-1")).await;
    assert!(!delete.allowed, "{}", delete.reason);
    let read = enforcer.check_inbound(&caller, "read", task("t-1")).await;
    assert!(read.allowed, "{}", read.reason);
    assert_eq!(enforcer.status().input_fields, InputFields::All);
}

#[tokio::test]
async fn a_random_draw_through_a_bracketed_name_is_never_cached() {
    // `rand["intn"](…)` calls `rand.intn` (regorus resolves a string-indexed reference as a
    // function path): the version must be as uncacheable as with the dotted name.
    let rego = r#"package agentweave.authz

decision := {"allow": rand["intn"]("k", 10) >= 0, "reason": "dice"}
"#;
    let enforcer = cached(inline(rego));
    let caller = id("spiffe://a.org/agent/x");
    for _ in 0..3 {
        let decision = enforcer.check_inbound(&caller, "ping", task("t-1")).await;
        assert_eq!(
            (decision.allowed, decision.source),
            (true, DecisionSource::Policy),
            "{}",
            decision.reason
        );
    }
    let status = enforcer.status();
    assert_eq!((status.cache_hits, status.evaluations), (0, 3));
    assert!(status.uncacheable.is_some_and(|why| why.contains("rand.intn")));
}

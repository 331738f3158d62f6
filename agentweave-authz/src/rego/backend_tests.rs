//! The VM must decide exactly as the interpreter on the starter library: every starter case table
//! and a few thousand generated inputs (odd, missing and mistyped fields included), for each
//! module combination a deployment may load.

use serde_json::{Value as Json, json};

use super::PolicySource;
use super::backend::{Backend, Prepared};
use super::policy_set::{DEFAULT_ENTRYPOINT, PolicySet, Sources};
use crate::starter;

fn set(modules: &[&str], backend: Backend) -> PolicySet {
    let policies: Vec<PolicySource> = starter::MODULES
        .iter()
        .filter(|(name, _)| modules.contains(name))
        .map(|(name, rego)| PolicySource::Inline { name: (*name).into(), rego: (*rego).into() })
        .collect();
    let data = [starter::example_data().unwrap()];
    let sources = Sources::read(&policies, &data).unwrap();
    PolicySet::compile(sources, DEFAULT_ENTRYPOINT, None, Some(backend)).unwrap()
}

const COMBINATIONS: [&[&str]; 5] = [
    &["core.rego"],
    &["core.rego", "role_matrix.rego"],
    &["core.rego", "orchestration.rego"],
    &["core.rego", "federation.rego"],
    &["core.rego", "orchestration.rego", "role_matrix.rego", "federation.rego"],
];

/// Inputs from a grid of plausible and hostile field values, sampled deterministically.
fn generated_inputs(count: usize) -> Vec<Json> {
    let directions = [json!("inbound"), json!("outbound"), json!("sideways"), json!(1), Json::Null];
    let ids = [
        "spiffe://corp.example/agent/search",
        "spiffe://corp.example/agent/analyst/staging",
        "spiffe://corp.example/agent/billing",
        "spiffe://corp.example/agent/orchestrator",
        "spiffe://corp.example/agent/index",
        "spiffe://corp.example/agent/ledger",
        "spiffe://partner.example/agent/broker",
        "spiffe://partner.example/agent/other",
        "spiffe://supplier.example/agent/x",
        "spiffe://corp.example/svc/search",
        "spiffe://corp.example/agent",
        "spiffe://corp.example/agent/a/b/c",
        "spiffe://corp.example",
        "not-an-id",
        "",
    ];
    let actions = [
        json!("search.query"),
        json!("GetTask"),
        json!("report.generate"),
        json!("ledger.post"),
        json!("report_status"),
        json!("quote.request"),
        json!("invoice.submit"),
        json!(""),
        json!(5),
        Json::Null,
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut pick = |n: usize| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap() % n
    };
    let trust_domain = |id: &str, choice: usize| -> Json {
        match choice {
            0 | 1 => id
                .strip_prefix("spiffe://")
                .and_then(|rest| rest.split('/').next())
                .map_or(Json::Null, |td| json!(td)),
            2 => json!("evil.example"),
            _ => Json::Null,
        }
    };
    (0..count)
        .map(|_| {
            let caller = ids[pick(ids.len())];
            let callee = ids[pick(ids.len())];
            let mut input = json!({
                "direction": directions[pick(directions.len())],
                "caller_spiffe_id": caller,
                "callee_spiffe_id": callee,
                "caller_trust_domain": trust_domain(caller, pick(4)),
                "callee_trust_domain": trust_domain(callee, pick(4)),
                "action": actions[pick(actions.len())],
                "context": {"a2a_method": "SendMessage"},
            });
            // Null stands for "absent": drop those keys (and sometimes an ID) entirely.
            let object = input.as_object_mut().unwrap();
            object.retain(|_, v| !v.is_null());
            if pick(12) == 0 {
                object.remove("caller_spiffe_id");
            }
            if pick(12) == 0 {
                object.remove("callee_spiffe_id");
            }
            input
        })
        .collect()
}

fn case_inputs() -> Vec<Json> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/tests");
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let file: Json = serde_json::from_str(&text).unwrap();
        inputs.extend(file["cases"].as_array().unwrap().iter().map(|c| c["input"].clone()));
    }
    assert!(inputs.len() > 40, "the starter case tables were not found");
    inputs
}

#[test]
fn the_vm_decides_exactly_as_the_interpreter_on_the_starter_library() {
    let mut inputs = case_inputs();
    inputs.extend(generated_inputs(700));
    for modules in COMBINATIONS {
        let mut vm = set(modules, Backend::Vm).prepare();
        let mut interpreter = set(modules, Backend::Interpreter).prepare();
        assert_eq!(vm.backend(), Backend::Vm);
        assert_eq!(interpreter.backend(), Backend::Interpreter);
        let mut allowed = 0;
        for input in &inputs {
            let value = regorus::Value::from(input.clone());
            let a = vm.evaluate(value.clone(), DEFAULT_ENTRYPOINT);
            let b = interpreter.evaluate(value, DEFAULT_ENTRYPOINT);
            match (&a, &b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{modules:?} on {input}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{modules:?} on {input}: VM {a:?}, interpreter {b:?}"),
            }
            if a.is_ok_and(|v| v["allow"] == regorus::Value::from(true)) {
                allowed += 1;
            }
        }
        // The grid must exercise allows too, not only denials (core alone allows nothing).
        if modules.len() > 1 {
            assert!(allowed > 5, "{modules:?}: only {allowed} allows");
        }
    }
}

#[test]
fn only_the_shipped_starter_modules_get_the_vm_unless_asked() {
    let data = [starter::example_data().unwrap()];
    let starter_set = PolicySet::load(&starter::all_policies(), &data, DEFAULT_ENTRYPOINT).unwrap();
    assert_eq!(starter_set.backend(), Backend::Vm);
    // One changed byte in a starter module: no longer known to be conflict-free.
    let edited = PolicySource::Inline {
        name: "core.rego".into(),
        rego: format!("{}\n# local edit\n", starter::CORE),
    };
    let set = PolicySet::load(&[edited], &[], DEFAULT_ENTRYPOINT).unwrap();
    assert_eq!(set.backend(), Backend::Interpreter);
    let own = PolicySource::Inline {
        name: "own.rego".into(),
        rego: "package agentweave.authz\n\ngrants contains \"own\" if input.action == \"own\"\n"
            .into(),
    };
    let mut with_own = starter::all_policies();
    with_own.push(own.clone());
    assert_eq!(
        PolicySet::load(&with_own, &data, DEFAULT_ENTRYPOINT).unwrap().backend(),
        Backend::Interpreter
    );
    let forced = Sources::read(&with_own, &data).unwrap();
    let forced = PolicySet::compile(forced, DEFAULT_ENTRYPOINT, None, Some(Backend::Vm)).unwrap();
    assert_eq!(forced.backend(), Backend::Vm);
}

/// The documented difference, at the entrypoint: a conflict still denies (the VM leaves the rule
/// undefined, which is a fault) where the interpreter reports the conflict.
#[test]
fn a_conflicting_entrypoint_is_a_fault_on_both_evaluators() {
    let rego = "package agentweave.authz\n\ndefault decision := false\n\n\
                decision := true if input.action\n\ndecision := false if input.action\n";
    let policies = [PolicySource::Inline { name: "p.rego".into(), rego: rego.into() }];
    for backend in [Backend::Vm, Backend::Interpreter] {
        let sources = Sources::read(&policies, &[]).unwrap();
        let set = PolicySet::compile(sources, DEFAULT_ENTRYPOINT, None, Some(backend)).unwrap();
        let verdict = set.evaluate_json(&json!({"action": "x"}));
        assert!(verdict.is_err(), "{backend:?}: {verdict:?}");
        let mut prepared: Prepared = set.prepare();
        let raw =
            prepared.evaluate(regorus::Value::from(json!({"action": "x"})), DEFAULT_ENTRYPOINT);
        assert!(raw.is_err() || raw.is_ok_and(|v| v == regorus::Value::Undefined), "{backend:?}");
    }
}

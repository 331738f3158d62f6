//! The fast-path starter modules (`structural_ok`, the flat role-matrix grant) must decide exactly
//! as the modules they replaced, reasons included: both versions are evaluated on a table of
//! tens of thousands of inputs (every pairing of well-formed, odd and hostile SPIFFE IDs with
//! actions and directions, and trust domain fields that agree, disagree, are empty, mistyped or
//! absent), for each module combination a deployment may load. The previous `core.rego` and
//! `role_matrix.rego` are kept as a small test fixture for this comparison only.

use serde_json::{Value as Json, json};

use super::PolicySource;
use super::backend::{Backend, Prepared};
use super::policy_set::{DEFAULT_ENTRYPOINT, PolicySet, Sources};
use crate::starter;

/// `core.rego` and `role_matrix.rego` before the fast path.
const BEFORE: [(&str, &str); 2] = [
    ("core.rego", include_str!("../../tests/fixtures/starter_before_fast_path/core.rego")),
    (
        "role_matrix.rego",
        include_str!("../../tests/fixtures/starter_before_fast_path/role_matrix.rego"),
    ),
];

/// The starter modules named in `modules`, taking `core.rego` and `role_matrix.rego` from
/// `BEFORE` when `before` is set, compiled for `backend`.
fn prepared(modules: &[&str], before: bool, backend: Backend) -> Prepared {
    let policies: Vec<PolicySource> = starter::MODULES
        .iter()
        .filter(|(name, _)| modules.contains(name))
        .map(|(name, rego)| {
            let old = BEFORE.iter().find(|(n, _)| n == name).filter(|_| before);
            let text = old.map_or(*rego, |(_, text)| *text);
            PolicySource::Inline { name: (*name).into(), rego: text.into() }
        })
        .collect();
    let data = [starter::example_data().unwrap()];
    let sources = Sources::read(&policies, &data).unwrap();
    PolicySet::compile(sources, DEFAULT_ENTRYPOINT, None, Some(backend)).unwrap().prepare()
}

/// SPIFFE IDs and things that are not: agents (with and without environment), each role and
/// partner of the example data, malformed shapes around every check, and non-strings. `None`
/// leaves the field out.
fn ids() -> Vec<Option<Json>> {
    let mut ids: Vec<Option<Json>> = [
        "spiffe://corp.example/agent/search",
        "spiffe://corp.example/agent/analyst/staging",
        "spiffe://corp.example/agent/billing",
        "spiffe://corp.example/agent/ledger",
        "spiffe://corp.example/agent/orchestrator",
        "spiffe://corp.example/agent/index/",
        "spiffe://corp.example/agent/search/prod/extra",
        "spiffe://corp.example/agent/",
        "spiffe://corp.example/agent",
        "spiffe://corp.example/svc/search",
        "spiffe://corp.example",
        "spiffe:///agent/search",
        "spiffe:/corp.example/agent/search",
        "SPIFFE://corp.example/agent/search",
        "spiffe://partner.example/agent/broker",
        "spiffe://partner.example/agent/other",
        "spiffe://supplier.example/agent/x",
        "not-an-id",
        "",
    ]
    .into_iter()
    .map(|id| Some(json!(id)))
    .collect();
    ids.push(Some(json!(42)));
    ids.push(None);
    ids
}

fn actions() -> Vec<Option<Json>> {
    let mut actions: Vec<Option<Json>> = [
        "search.query",
        "GetTask",
        "report.generate",
        "ledger.post",
        "report_status",
        "quote.request",
        "invoice.submit",
        "",
    ]
    .into_iter()
    .map(|action| Some(json!(action)))
    .collect();
    actions.extend([Some(json!(5)), Some(json!(["search.query"])), None]);
    actions
}

/// The trust domain an ID names (what the SDK derives), if it has one.
fn derived(id: Option<&Json>) -> Option<Json> {
    let rest = id?.as_str()?.strip_prefix("spiffe://")?;
    Some(json!(rest.split('/').next().unwrap_or_default()))
}

/// A trust domain field: derived from its own ID, from the other ID, another domain, empty,
/// a number, or absent.
fn trust_domain(choice: usize, own: Option<&Json>, other: Option<&Json>) -> Option<Json> {
    match choice {
        0 => derived(own),
        1 => derived(other),
        2 => Some(json!("evil.example")),
        3 => Some(json!("")),
        4 => Some(json!(7)),
        _ => None,
    }
}

fn input(
    direction: Option<Json>,
    ids: (Option<&Json>, Option<&Json>),
    domains: (Option<Json>, Option<Json>),
    action: Option<&Json>,
) -> Json {
    let fields = [
        ("direction", direction),
        ("caller_spiffe_id", ids.0.cloned()),
        ("callee_spiffe_id", ids.1.cloned()),
        ("caller_trust_domain", domains.0),
        ("callee_trust_domain", domains.1),
        ("action", action.cloned()),
        ("context", Some(json!({"a2a_method": "SendMessage"}))),
    ];
    Json::Object(fields.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect())
}

/// Every (caller, callee, action) pairing, once per direction with trust domain fields chosen
/// deterministically among all kinds, and once more inbound and outbound with the fields the SDK
/// would derive (the fast path).
fn table() -> Vec<Json> {
    let directions = [
        Some(json!("inbound")),
        Some(json!("outbound")),
        Some(json!("sideways")),
        Some(json!("")),
        Some(json!(1)),
        None,
    ];
    let (ids, actions) = (ids(), actions());
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut pick = |n: usize| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap() % n
    };
    let mut table = Vec::new();
    for caller in &ids {
        for callee in &ids {
            let pair = (caller.as_ref(), callee.as_ref());
            for action in &actions {
                for direction in &directions {
                    let domains = (
                        trust_domain(pick(6), pair.0, pair.1),
                        trust_domain(pick(6), pair.1, pair.0),
                    );
                    table.push(input(direction.clone(), pair, domains, action.as_ref()));
                }
                for direction in ["inbound", "outbound"] {
                    let domains = (derived(pair.0), derived(pair.1));
                    table.push(input(Some(json!(direction)), pair, domains, action.as_ref()));
                }
            }
        }
    }
    table
}

/// Evaluates `inputs` on the modules before and after the fast path; returns how many were
/// allowed, denied with a structural reason, and faults (the same on both sides).
fn compare(modules: &[&str], backend: Backend, inputs: &[&Json]) -> (usize, usize, usize) {
    let mut before = prepared(modules, true, backend);
    let mut after = prepared(modules, false, backend);
    let (mut allowed, mut structural, mut faults) = (0, 0, 0);
    for input in inputs {
        let value = regorus::Value::from((*input).clone());
        let a = before.evaluate(value.clone(), DEFAULT_ENTRYPOINT);
        let b = after.evaluate(value, DEFAULT_ENTRYPOINT);
        match (&a, &b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{modules:?} {backend:?} on {input}"),
            (Err(_), Err(_)) => faults += 1,
            _ => panic!("{modules:?} {backend:?} on {input}: before {a:?}, after {b:?}"),
        }
        if let Ok(value) = b {
            if value["allow"] == regorus::Value::from(true) {
                allowed += 1;
            } else if value["reason"].as_string().is_ok_and(|r| r.contains("must")) {
                structural += 1;
            }
        }
    }
    (allowed, structural, faults)
}

#[test]
fn the_fast_path_decides_and_explains_exactly_as_the_previous_modules() {
    let table = table();
    assert!(table.len() > 30_000, "{}", table.len());
    let every: Vec<&Json> = table.iter().collect();
    // Module combinations with the role matrix get every input; the others (whose modules did
    // not change, only core's shared rules did) every fifth.
    let sample: Vec<&Json> = table.iter().step_by(5).collect();
    let combinations: [(&[&str], &[&Json]); 5] = [
        (&["core.rego", "role_matrix.rego"], &every),
        (&["core.rego", "orchestration.rego", "role_matrix.rego", "federation.rego"], &every),
        (&["core.rego"], &sample),
        (&["core.rego", "orchestration.rego"], &sample),
        (&["core.rego", "federation.rego"], &sample),
    ];
    for (modules, inputs) in combinations {
        let (allowed, structural, _) = compare(modules, Backend::Vm, inputs);
        // The table must reach both paths: allows (except with core alone) and each denial.
        if modules.len() > 1 {
            assert!(allowed > 5, "{modules:?}: only {allowed} allows");
        }
        assert!(structural > 1_000, "{modules:?}: only {structural} structural denials");
    }
}

/// Whether an input is shaped as the SDK sends it (the fast path): a valid direction and both
/// trust domain fields derived from their IDs.
fn sdk_shaped(input: &Json) -> bool {
    let derived_from = |td: &str, id: &str| {
        input.get(td).is_some_and(|td| derived(input.get(id)).is_some_and(|d| &d == td))
    };
    input["direction"].as_str().is_some_and(|d| d == "inbound" || d == "outbound")
        && derived_from("caller_trust_domain", "caller_spiffe_id")
        && derived_from("callee_trust_domain", "callee_spiffe_id")
}

/// The interpreter (used when a starter module is edited or joined by others) agrees too, on a
/// sample of the table weighted towards the fast path (it is much slower than the VM).
#[test]
fn the_fast_path_agrees_with_the_previous_modules_on_the_interpreter() {
    let table = table();
    let sample: Vec<&Json> = (table.iter().enumerate())
        .filter(|(i, input)| i % 97 == 0 || (i % 7 == 0 && sdk_shaped(input)))
        .map(|(_, input)| input)
        .collect();
    let modules = ["core.rego", "orchestration.rego", "role_matrix.rego", "federation.rego"];
    let (allowed, _, _) = compare(&modules, Backend::Interpreter, &sample);
    assert!(allowed > 5, "only {allowed} allows");
}

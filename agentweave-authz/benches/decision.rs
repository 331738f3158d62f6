//! Decision latency and throughput of the role-matrix policy, each beside a baseline measured in
//! the same run: raw regorus evaluation of the same policy (a prepared interpreter engine,
//! `set_input` + `eval_rule`, no wrapper; and the same modules compiled for regorus' VM) for
//! evaluations, the enforcer forced onto the interpreter (the evaluator it used before the VM),
//! and a plain `HashMap` lookup for cache hits.
//!
//! The target figure (issue 4: under 5 µs median on one core) is
//! `role_matrix_latency/rego_enforcer_dyn_check_inbound`: `check_inbound` through
//! `Arc<dyn PolicyEnforcer>` on the starter core + role-matrix modules, no cache. Read it against
//! the floors measured in the same run: `baseline_raw_regorus_vm_constant_rule` (what regorus'
//! VM costs for a rule that only returns a constant: the fixed cost of one execution),
//! `reference_raw_regorus_vm_flat_single_rule` (the role-matrix question as one flat rule on the
//! VM, without the structural checks or the reasons the starter policy gives) and
//! `baseline_raw_regorus_vm_execute` (the starter modules on the VM, without the enforcer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use agentweave_authz::rego::{Backend, RegoConfig, RegoEnforcer};
use agentweave_authz::{
    AuthzContext, CacheConfig, Direction, PolicyEnforcer, PolicyInput, SpiffeId, starter,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The starter core and role-matrix modules, without the decision cache (on by default): the
/// latency figures measure evaluations.
fn role_matrix_config() -> RegoConfig {
    RegoConfig::new(id("spiffe://corp.example/agent/index"))
        .without_cache()
        .policy(agentweave_authz::rego::PolicySource::Inline {
            name: "core.rego".into(),
            rego: starter::CORE.into(),
        })
        .policy(agentweave_authz::rego::PolicySource::Inline {
            name: "role_matrix.rego".into(),
            rego: starter::ROLE_MATRIX.into(),
        })
        .data(starter::example_data().unwrap_or_else(|e| panic!("{e}")))
}

/// The starter core and role-matrix modules as they were before their fast path (kept as a test
/// fixture), forced onto the VM: the before figure of the same change, in the same run.
fn previous_role_matrix_config() -> RegoConfig {
    let module = |name: &str, rego: &str| agentweave_authz::rego::PolicySource::Inline {
        name: name.into(),
        rego: rego.into(),
    };
    RegoConfig::new(id("spiffe://corp.example/agent/index"))
        .without_cache()
        .policy(module(
            "core.rego",
            include_str!("../tests/fixtures/starter_before_fast_path/core.rego"),
        ))
        .policy(module(
            "role_matrix.rego",
            include_str!("../tests/fixtures/starter_before_fast_path/role_matrix.rego"),
        ))
        .data(starter::example_data().unwrap_or_else(|e| panic!("{e}")))
        .backend(Backend::Vm)
}

fn input() -> PolicyInput {
    PolicyInput::new(
        Direction::Inbound,
        id("spiffe://corp.example/agent/search"),
        id("spiffe://corp.example/agent/index"),
        "search.query",
        AuthzContext::for_method("SendMessage").with_capability("search.query"),
    )
}

fn raw_engine() -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.add_policy("core.rego".into(), starter::CORE.into()).unwrap_or_else(|e| panic!("{e}"));
    engine
        .add_policy("role_matrix.rego".into(), starter::ROLE_MATRIX.into())
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .add_data(regorus::Value::from_json_str(starter::DATA).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    engine
}

/// The same role-matrix question as one flat rule: shows what the composable starter structure
/// (grants/denials sets, helper rules) costs in regorus, beside what the wrapper costs.
const FLAT_ROLE_MATRIX: &str = r#"package flat

default decision := {"allow": false, "reason": "default deny"}

decision := {"allow": true, "reason": "role"} if {
	parts := split(input.caller_spiffe_id, "/")
	input.caller_trust_domain == input.callee_trust_domain
	some role in data.agentweave.roles.agents[parts[4]]
	input.action in data.agentweave.roles.actions[role]
}
"#;

/// The role-matrix modules compiled for regorus' VM, loaded into a VM with the starter data.
fn raw_vm() -> regorus::rvm::vm::RegoVM {
    vm_of(raw_engine(), "data.agentweave.authz.decision")
}

/// One module (with the starter data) compiled for regorus' VM, for `entrypoint`.
fn raw_vm_of(name: &str, rego: &str, entrypoint: &str) -> regorus::rvm::vm::RegoVM {
    let mut engine = regorus::Engine::new();
    engine.add_policy(name.into(), rego.into()).unwrap_or_else(|e| panic!("{e}"));
    engine
        .add_data(regorus::Value::from_json_str(starter::DATA).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    vm_of(engine, entrypoint)
}

fn vm_of(mut engine: regorus::Engine, entrypoint: &str) -> regorus::rvm::vm::RegoVM {
    let compiled =
        engine.compile_with_entrypoint(&entrypoint.into()).unwrap_or_else(|e| panic!("{e}"));
    let program =
        regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[entrypoint])
            .unwrap_or_else(|e| panic!("{e}"));
    let mut vm = regorus::rvm::vm::RegoVM::new();
    vm.load_program(program);
    vm.set_data(regorus::Value::from_json_str(starter::DATA).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    vm
}

fn latency(c: &mut Criterion) {
    let enforcer = RegoEnforcer::new(role_matrix_config()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(enforcer.backend(), Backend::Vm);
    let interpreted = RegoEnforcer::new(role_matrix_config().backend(Backend::Interpreter))
        .unwrap_or_else(|e| panic!("{e}"));
    let cached = RegoEnforcer::new(role_matrix_config().cache(CacheConfig::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    let input = input();
    assert!(enforcer.decide_now(&input).allowed);
    let mut group = c.benchmark_group("role_matrix_latency");
    group.bench_function("baseline_raw_regorus_eval", |b| {
        let mut engine = raw_engine();
        let value = regorus::Value::from(input.to_json());
        b.iter(|| {
            engine.set_input(value.clone());
            engine
                .eval_rule("data.agentweave.authz.decision".into())
                .unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.bench_function("baseline_raw_regorus_vm_execute", |b| {
        let mut vm = raw_vm();
        let value = regorus::Value::from(input.to_json());
        b.iter(|| {
            vm.set_input(value.clone());
            vm.execute().unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.bench_function("baseline_raw_regorus_vm_constant_rule", |b| {
        let constant = "package constant\n\ndecision := {\"allow\": true, \"reason\": \"x\"}\n";
        let mut vm = raw_vm_of("constant.rego", constant, "data.constant.decision");
        let value = regorus::Value::from(input.to_json());
        b.iter(|| {
            vm.set_input(value.clone());
            vm.execute().unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.bench_function("reference_raw_regorus_vm_flat_single_rule", |b| {
        let mut vm = raw_vm_of("flat.rego", FLAT_ROLE_MATRIX, "data.flat.decision");
        let value = regorus::Value::from(input.to_json());
        assert_eq!(
            vm.execute().ok().map(|v| v["allow"] == regorus::Value::from(true)),
            Some(false)
        );
        vm.set_input(value.clone());
        assert_eq!(vm.execute().ok().map(|v| v["allow"] == regorus::Value::from(true)), Some(true));
        b.iter(|| {
            vm.set_input(value.clone());
            vm.execute().unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.bench_function("reference_raw_regorus_flat_single_rule", |b| {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("flat.rego".into(), FLAT_ROLE_MATRIX.into())
            .unwrap_or_else(|e| panic!("{e}"));
        engine
            .add_data(
                regorus::Value::from_json_str(starter::DATA).unwrap_or_else(|e| panic!("{e}")),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let value = regorus::Value::from(input.to_json());
        b.iter(|| {
            engine.set_input(value.clone());
            engine.eval_rule("data.flat.decision".into()).unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.bench_function("baseline_rego_enforcer_interpreter_decide_now", |b| {
        b.iter(|| interpreted.decide_now(&input))
    });
    group.bench_function("rego_enforcer_decide_now", |b| b.iter(|| enforcer.decide_now(&input)));
    let runtime =
        tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
    let dyn_enforcer: Arc<dyn PolicyEnforcer> = Arc::new(enforcer.clone());
    let previous =
        RegoEnforcer::new(previous_role_matrix_config()).unwrap_or_else(|e| panic!("{e}"));
    let dyn_previous: Arc<dyn PolicyEnforcer> = Arc::new(previous);
    for (name, enforcer) in [
        ("rego_enforcer_dyn_check_inbound", &dyn_enforcer),
        ("baseline_rego_enforcer_dyn_check_inbound_previous_starter_modules", &dyn_previous),
    ] {
        let caller = id("spiffe://corp.example/agent/search");
        let decision = runtime.block_on(enforcer.check_inbound(
            &caller,
            "search.query",
            AuthzContext::for_method("SendMessage"),
        ));
        assert_eq!(&*decision.reason, "role reader of search allows search.query");
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(enforcer.check_inbound(
                    &caller,
                    "search.query",
                    AuthzContext::for_method("SendMessage"),
                ))
            });
        });
    }
    group.bench_function("baseline_hashmap_lookup", |b| {
        let mut map = std::collections::HashMap::new();
        map.insert(input.to_json().to_string(), true);
        let key = input.to_json().to_string();
        b.iter(|| map.get(&key).copied());
    });
    group.bench_function("rego_enforcer_cache_hit", |b| {
        cached.decide_now(&input);
        b.iter(|| cached.decide_now(&input));
    });
    // What an agent's sends look like: the same caller, callee and action, a new message ID
    // every call. The starter modules never read the message ID, so the cache (keyed on the
    // fields the policy reads) serves these; keyed on the whole input, every one would miss.
    let mut message = 0u64;
    let mut fresh_message = |message_id: &mut String| {
        message += 1;
        message_id.clear();
        std::fmt::Write::write_fmt(message_id, format_args!("m-{message}"))
            .unwrap_or_else(|e| panic!("{e}"));
    };
    let mut message_id = String::new();
    group.bench_function("baseline_new_message_id_input_only", |b| {
        b.iter(|| {
            fresh_message(&mut message_id);
            let context = AuthzContext::for_method("SendMessage").with_message_id(&message_id);
            PolicyInput::new(
                Direction::Inbound,
                id("spiffe://corp.example/agent/search"),
                id("spiffe://corp.example/agent/index"),
                "search.query",
                context,
            )
        })
    });
    group.bench_function("rego_enforcer_cache_new_message_id_each_call", |b| {
        b.iter(|| {
            fresh_message(&mut message_id);
            let context = AuthzContext::for_method("SendMessage").with_message_id(&message_id);
            let input = PolicyInput::new(
                Direction::Inbound,
                id("spiffe://corp.example/agent/search"),
                id("spiffe://corp.example/agent/index"),
                "search.query",
                context,
            );
            cached.decide_now(&input)
        })
    });
    group.finish();
}

/// Decisions per second on two threads: each thread runs `iters / 2` decisions; criterion reports
/// the time per decision, so decisions/s = 1 / reported time.
fn throughput(c: &mut Criterion) {
    let enforcer = RegoEnforcer::new(role_matrix_config()).unwrap_or_else(|e| panic!("{e}"));
    let input = input();
    let mut group = c.benchmark_group("role_matrix_two_threads");
    group.throughput(criterion::Throughput::Elements(1));
    group.bench_function("baseline_raw_regorus_engine_per_thread", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let mut engine = raw_engine();
                let value = regorus::Value::from(input.to_json());
                move || {
                    engine.set_input(value.clone());
                    std::hint::black_box(
                        engine.eval_rule("data.agentweave.authz.decision".into()).ok(),
                    );
                }
            })
        })
    });
    group.bench_function("baseline_raw_regorus_vm_per_thread", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let mut vm = raw_vm();
                let value = regorus::Value::from(input.to_json());
                move || {
                    vm.set_input(value.clone());
                    std::hint::black_box(vm.execute().ok());
                }
            })
        })
    });
    group.bench_function("rego_enforcer_shared", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let (enforcer, input) = (enforcer.clone(), input.clone());
                move || {
                    std::hint::black_box(enforcer.decide_now(&input));
                }
            })
        })
    });
    group.finish();
}

fn two_threads<F: FnMut() + Send>(iters: u64, mut make: impl FnMut() -> F) -> Duration {
    let (mut a, mut b) = (make(), make());
    let per_thread = iters.div_ceil(2);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| (0..per_thread).for_each(|_| a()));
        s.spawn(|| (0..per_thread).for_each(|_| b()));
    });
    start.elapsed()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = latency, throughput
}
criterion_main!(benches);

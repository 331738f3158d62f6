//! Decision latency and throughput of the role-matrix policy, each beside a baseline measured in
//! the same run: raw regorus evaluation of the same policy (a prepared interpreter engine,
//! `set_input` + `eval_rule`, no wrapper; and the same modules compiled for regorus' VM) for
//! evaluations, the enforcer forced onto the interpreter (the evaluator it used before the VM),
//! and a plain `HashMap` lookup for cache hits.

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

fn role_matrix_config() -> RegoConfig {
    RegoConfig::new(id("spiffe://corp.example/agent/index"))
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
    let mut engine = raw_engine();
    let entrypoint = "data.agentweave.authz.decision";
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
    group.bench_function("rego_enforcer_dyn_check_inbound", |b| {
        let caller = id("spiffe://corp.example/agent/search");
        b.iter(|| {
            runtime.block_on(dyn_enforcer.check_inbound(
                &caller,
                "search.query",
                AuthzContext::for_method("SendMessage"),
            ))
        });
    });
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

//! How a prepared policy version is evaluated: regorus' register VM when the policy compiles to
//! it, its tree-walking interpreter otherwise.
//!
//! Why two: the interpreter pays for every rule, statement and scope it walks (on the starter
//! role matrix about 100 µs a decision on this project's machines, and about 4 µs for even a
//! constant rule), while the same modules compiled to the VM's bytecode decide in a few µs.
//!
//! Why the VM is not used for every policy: its semantics differ from OPA's in one known place.
//! When two definitions of a complete rule or function give different values, OPA and the
//! interpreter raise a conflict error (the decision faults and denies); the VM makes that rule
//! undefined and carries on, so a policy testing it with `not` could allow. The shipped starter
//! modules cannot conflict (their multi-definition rules and functions yield the same constant
//! or have mutually exclusive bodies), so [`Backend::Vm`] is chosen automatically only when every
//! loaded module is a starter module byte for byte; other policies use the interpreter unless
//! the configuration asks for the VM (`RegoConfig::backend`). Either way the VM must give the
//! interpreter's answer on an empty input before it is used.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use regorus::Value;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::utils::limits::ExecutionTimerConfig;

/// Which evaluator a policy version uses (see the module documentation for why there are two).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// regorus' register VM (`regorus::rvm`), running the policy compiled to bytecode. A
    /// conflict between definitions of a rule makes it undefined instead of an error.
    Vm,
    /// regorus' tree-walking interpreter (`regorus::Engine`).
    Interpreter,
}

/// The evaluator chosen when the configuration names none: the VM exactly when every module is
/// one of the shipped starter modules (reviewed and tested to be free of rule conflicts).
pub(crate) fn automatic<'a>(mut modules: impl Iterator<Item = &'a str>) -> Backend {
    let starter = |text: &str| crate::starter::MODULES.iter().any(|(_, module)| *module == text);
    if modules.all(starter) { Backend::Vm } else { Backend::Interpreter }
}

/// The compiled form of a policy version for the VM: bytecode plus the merged data document.
/// Shared by every thread's VM of that version.
#[derive(Debug)]
pub(crate) struct VmProgram {
    program: Arc<Program>,
    data: Value,
    time_limit: Option<Duration>,
}

impl VmProgram {
    /// Compiles `engine`'s modules for `entrypoint` and checks that the VM answers the empty
    /// input exactly as the interpreter did (`expected`). `Err` explains why the VM is not used.
    pub(crate) fn compile(
        engine: &regorus::Engine,
        entrypoint: &str,
        time_limit: Option<Duration>,
        expected: &Value,
    ) -> Result<VmProgram, String> {
        // Compiling mutates the engine's evaluation state: do it on a copy.
        let mut scratch = engine.clone();
        let compiled = scratch
            .compile_with_entrypoint(&entrypoint.into())
            .map_err(|e| format!("not compilable for the VM: {e}"))?;
        let program = Compiler::compile_from_policy(&compiled, &[entrypoint])
            .map_err(|e| format!("not compilable for the VM: {e}"))?;
        let vm_program = VmProgram { program, data: engine.get_data(), time_limit };
        let mut vm = vm_program.instantiate()?;
        vm.set_input(Value::new_object());
        let got = vm.execute().map_err(|e| format!("the VM fails on an empty input: {e}"))?;
        if &got != expected {
            return Err(format!(
                "the VM answers an empty input with {got} where the interpreter answers {expected}"
            ));
        }
        Ok(vm_program)
    }

    /// A VM of its own for one thread, with the program and data loaded.
    fn instantiate(&self) -> Result<RegoVM, String> {
        let mut vm = RegoVM::new();
        vm.load_program(self.program.clone());
        vm.set_data(self.data.clone()).map_err(|e| format!("data rejected by the VM: {e}"))?;
        vm.set_execution_timer_config(self.time_limit.map(timer));
        // The VM's default instruction budget (25,000) would turn a large but legitimate policy
        // into a fault; the wall-clock limit is the guard against runaway policies, as with the
        // interpreter.
        vm.set_max_instructions(usize::MAX);
        Ok(vm)
    }
}

/// The execution-timer configuration for a wall-clock `limit`: the clock is read every 256
/// units of work, so checking it costs nothing measurable.
pub(crate) fn timer(limit: Duration) -> ExecutionTimerConfig {
    ExecutionTimerConfig { limit, check_interval: std::num::NonZeroU32::MIN.saturating_add(255) }
}

/// One thread's evaluator of a policy version (regorus evaluates through `&mut self`).
pub(crate) enum Prepared {
    /// A VM with program and data loaded; only the input changes per evaluation.
    Vm(Box<RegoVM>),
    /// A clone of the prepared interpreter engine.
    Interpreter(Box<regorus::Engine>),
}

impl Prepared {
    /// An evaluator for `vm` when the version has a VM program, else a clone of `engine`.
    pub(crate) fn new(vm: Option<&VmProgram>, engine: &regorus::Engine) -> Prepared {
        match vm.map(VmProgram::instantiate) {
            Some(Ok(vm)) => Prepared::Vm(Box::new(vm)),
            Some(Err(error)) => {
                // Loading succeeded when the version was compiled, so this is not expected;
                // the interpreter gives the same decisions.
                tracing::warn!(error = %error, "Rego VM unavailable; using the interpreter");
                Prepared::Interpreter(Box::new(engine.clone()))
            }
            None => Prepared::Interpreter(Box::new(engine.clone())),
        }
    }

    /// Evaluates `entrypoint` on `input`. `Err` is an evaluation fault (text for the reason).
    pub(crate) fn evaluate(&mut self, input: Value, entrypoint: &str) -> Result<Value, String> {
        match self {
            Prepared::Vm(vm) => {
                vm.set_input(input);
                vm.execute().map_err(|e| e.to_string())
            }
            Prepared::Interpreter(engine) => {
                engine.set_input(input);
                engine.eval_rule(entrypoint.to_owned()).map_err(|e| e.to_string())
            }
        }
    }

    /// Which evaluator this is.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Prepared::Vm(_) => Backend::Vm,
            Prepared::Interpreter(_) => Backend::Interpreter,
        }
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Prepared").field(&self.backend()).finish()
    }
}

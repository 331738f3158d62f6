//! `cargo xtask authz-parity`: the starter policies must decide the same with regorus and with
//! OPA's own engine (PyPI `opa-golib-python-bindings`), and how fast each is.
//!
//! Both sides evaluate every case file under `agentweave-authz/policies/tests/` and print the same
//! JSON shape: regorus through `cargo run -p agentweave-authz --example parity-dump`, OPA through
//! `agentweave-authz/parity/opa_eval.py` in a venv at `<root>/.venv-opa` (created on first run).
//! Every disagreement (allow, reason or fault) is reported; any one fails the task.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Decisions timed on each engine for the speed ratio (release builds).
const BENCH_DECISIONS: usize = 20_000;
/// In a debug build the timing means little; a few decisions keep the step cheap in CI.
const DEBUG_DECISIONS: usize = 200;

/// `release` builds the regorus side optimised so that the timing ratio is meaningful; without it
/// the task reuses the debug build `cargo test` already made (what `cargo xtask ci` runs).
pub(crate) fn run(root: &Path, release: bool) -> anyhow::Result<()> {
    let decisions = if release { BENCH_DECISIONS } else { DEBUG_DECISIONS };
    let case_dir = root.join("agentweave-authz/policies/tests");
    let python = ensure_venv(root)?;

    let script = root.join("agentweave-authz/parity/opa_eval.py");
    let opa = run_json(
        Command::new(&python).arg(&script).arg(&case_dir).args(["--bench", &decisions.to_string()]),
        "OPA (opa_eval.py)",
    )?;
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // Same incremental setting as `cargo xtask ci`'s test step, so its build is reused as is.
    cargo.current_dir(root).env("CARGO_INCREMENTAL", "0").args(["run", "--quiet"]);
    if release {
        cargo.arg("--release");
    }
    let regorus = run_json(
        cargo
            .args(["-p", "agentweave-authz", "--example", "parity-dump", "--"])
            .arg(&case_dir)
            .args(["--bench", &decisions.to_string()]),
        "regorus (parity-dump)",
    )?;

    let disagreements = compare(&regorus, &opa)?;
    let cases: usize = opa["files"]
        .as_object()
        .map(|f| f.values().filter_map(|v| v.as_array()).map(Vec::len).sum())
        .unwrap_or(0);
    for line in &disagreements {
        eprintln!("DISAGREE {line}");
    }
    println!("authz-parity: {cases} cases, {} disagreement(s)", disagreements.len());
    let per_decision = |doc: &serde_json::Value| -> Option<f64> {
        let seconds = doc["bench"]["seconds"].as_f64()?;
        let n = doc["bench"]["decisions"].as_f64()?;
        (n > 0.0).then(|| seconds / n * 1e6)
    };
    if let (Some(r), Some(o)) = (per_decision(&regorus), per_decision(&opa)) {
        println!(
            "authz-parity: role-matrix decision, {decisions} each ({} build): regorus {r:.2} µs, OPA (Go engine via Python) {o:.2} µs; OPA/regorus = {:.2}x",
            if release { "release" } else { "debug: not a benchmark, use --release" },
            o / r
        );
    }
    if !disagreements.is_empty() {
        bail!("{} disagreement(s) between regorus and OPA", disagreements.len());
    }
    Ok(())
}

/// The venv with OPA's own engine (PyPI `opa-golib-python-bindings`); returns its python. The
/// package declares a newer Python than the machines' 3.11 but runs on it, hence
/// `--ignore-requires-python`.
pub(crate) fn ensure_venv(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = crate::venv::ensure(
        root,
        ".venv-opa",
        &["opa-golib-python-bindings==0.4.4"],
        &["--ignore-requires-python"],
    )?;
    Ok(venv.join("bin/python"))
}

fn run_json(command: &mut Command, what: &str) -> anyhow::Result<serde_json::Value> {
    let output = command.output().with_context(|| format!("starting {what}"))?;
    if !output.status.success() {
        bail!("{what} failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{what} printed something that is not JSON"))
}

/// Every case whose (allow, reason, is-fault) differs, and every file or case present on one side
/// only.
fn compare(regorus: &serde_json::Value, opa: &serde_json::Value) -> anyhow::Result<Vec<String>> {
    let (Some(r_files), Some(o_files)) = (regorus["files"].as_object(), opa["files"].as_object())
    else {
        bail!("a side printed no \"files\" object");
    };
    let mut out = Vec::new();
    for name in r_files.keys().chain(o_files.keys().filter(|k| !r_files.contains_key(*k))) {
        let (Some(r), Some(o)) = (
            r_files.get(name).and_then(|v| v.as_array()),
            o_files.get(name).and_then(|v| v.as_array()),
        ) else {
            out.push(format!("{name}: evaluated by one engine only"));
            continue;
        };
        if r.len() != o.len() {
            out.push(format!("{name}: {} cases with regorus, {} with OPA", r.len(), o.len()));
        }
        for (a, b) in r.iter().zip(o) {
            let key = |v: &serde_json::Value| {
                (v["allow"].clone(), v["reason"].clone(), !v["fault"].is_null())
            };
            if key(a) != key(b) {
                out.push(format!("{name} / {}: regorus {a} vs OPA {b}", a["name"]));
            }
        }
    }
    Ok(out)
}

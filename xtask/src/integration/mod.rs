//! `cargo xtask integration`: the whole mesh as separate processes on loopback. A dev identity
//! server (playing the SPIRE agent) and three `agentweave serve` agents from config files, driven
//! by `agentweave call` processes through the scenarios below; at the end every audit file must
//! hold exactly the records the observed outcomes imply.
//!
//! It uses the `agentweave` binary of the workspace's test build (`cargo test --workspace
//! --all-features --no-run`, a no-op right after `cargo xtask ci`'s test step) and the OPA venv
//! of `cargo xtask authz-parity`.

mod ledger;
mod mesh;
mod process;
mod scenarios;

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::shell;
use mesh::{AGENTS, Authz, IDENTITIES, Mesh};
use scenarios::Run;

type Scenario = fn(&mut Run) -> anyhow::Result<()>;

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let bin = shell::agentweave_cli(root)?;
    let python = crate::authz_parity::ensure_venv(root)?;
    let opa_server = root.join("xtask/assets/opa_rest_server.py");
    let dir = tempdir()?;
    let started = Instant::now();
    let result = run_in(&dir, &bin, &python, &opa_server);
    match &result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&dir);
            println!(
                "integration: all scenarios passed in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        Err(_) => println!("integration: configs, logs and audit files kept in {}", dir.display()),
    }
    result
}

fn run_in(dir: &Path, bin: &Path, python: &Path, opa_server: &Path) -> anyhow::Result<()> {
    let mut mesh = Mesh::new(dir, bin)?;
    step("start the dev identity server", || mesh.start_identity_server())?;
    step("start orchestrator, search and payments", || {
        for name in IDENTITIES {
            mesh.write_config(name, false, &Authz::Rego)?;
        }
        for name in AGENTS {
            mesh.start_agent(name, &Authz::Rego)?;
        }
        Ok(())
    })?;
    let mut run = Run { mesh, ledger: ledger::Ledger::default(), calls: 0 };
    let scenarios: [(&str, Scenario); 7] = [
        ("allowed and denied calls, guard block", scenarios::decisions),
        ("a call through two agents", scenarios::forward),
        ("task streaming", scenarios::streaming),
        ("SVID rotation while calls run", scenarios::rotation),
        ("a peer killed and restarted", scenarios::peer_restart),
        ("a policy file changed on disk", scenarios::policy_reload),
        ("graceful stop", scenarios::graceful_stop),
    ];
    let (before_stop, stop) = scenarios.split_at(scenarios.len() - 1);
    for (name, scenario) in before_stop {
        step(name, || scenario(&mut run))?;
    }
    step("authz on OPA's REST API, then OPA down", || {
        scenarios::opa(&mut run, python, opa_server)
    })?;
    for (name, scenario) in stop {
        step(name, || scenario(&mut run))?;
    }
    step("audit files: one record per decision, none missing", || {
        let seen = run.ledger.check(&run.mesh.dir.join("audit"))?;
        println!(
            "    {} calls, {seen} audit records, all expected ({} booked)",
            run.calls,
            run.ledger.total()
        );
        Ok(())
    })
}

fn step(name: &str, body: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    println!("==> {name}");
    let started = Instant::now();
    body().with_context(|| format!("scenario failed: {name}"))?;
    println!("<== {name}: ok in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A fresh directory under the system temp dir. Unix socket paths must stay short (108 bytes),
/// so this is not under the target directory.
fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("agentweave-integration-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

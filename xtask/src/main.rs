//! `cargo xtask <task>`: the contributor harness (the cargo-xtask convention: plain Rust, no extra
//! tools to install). `cargo xtask ci` passing locally means CI passes.

mod authz_parity;
mod bench;
mod ci;
mod deploy_check;
mod integration;
mod interop;
mod shell;
mod tidy;
mod venv;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task>

tasks:
  ci                 fmt check, clippy -D warnings on all targets, dependency invariants, every test
                     (unit, end-to-end, and the interop suites, their Python and JS peers installed
                     into ignored folders on first use), the quickstart, authz parity, integration
  deps               only the dependency invariants (no aws-lc-rs; heavy engines only in their layer)
  integration        the mesh as separate processes: dev identity server, three agents from config
                     files, scenarios (deny both ways, guard, two hops, rotation, peer restart,
                     policy reload, OPA REST and OPA down), then every audit record accounted for
  deploy-check       validates deploy/: Kubernetes manifests against the API schemas, the compose
                     file against the Compose Specification, and every agent config in it
  interop            our agents and clients against the Python a2a-sdk, the JS @a2a-js/sdk and
                     py-spiffe over mTLS (tools installed into ignored folders on first use)
  authz-parity       starter policies decided by regorus and by OPA's own engine: zero disagreements
                     (--release also times both engines for a ratio)
  bench transport    pooled mTLS round trip and handshake rate beside plaintext and bare-rustls
                     baselines in the same run (release build; fails when a target is missed)
  bench e2e          concurrent calls through the whole pipeline (authz both ways, guard, signed
                     attestation, audit file) beside a bare hyper+rustls mTLS echo in the same run:
                     calls/s, p50/p99, cost per call against the cryptography it needs (--quick)
  help               this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let root = shell::project_root();
    let result = match task {
        "ci" => ci::run(&root),
        "integration" => integration::run(&root),
        "interop" => interop::run(&root),
        "deploy-check" => deploy_check::run(&root),
        "deps" => ci::dependency_invariants(&root),
        "authz-parity" => authz_parity::run(&root, args.iter().any(|a| a == "--release")),
        "bench" => match args.get(1) {
            Some(name) => bench::run(&root, name, args.get(2..).unwrap_or_default()),
            None => Err(anyhow::anyhow!("which bench? expected one of {}", bench::names())),
        },
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(anyhow::anyhow!("unknown task {other:?}\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {task}: FAILED: {error:#}");
            ExitCode::FAILURE
        }
    }
}

//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use std::path::Path;

use anyhow::bail;

use crate::shell;

/// Incremental compilation pays off only on rebuilds, and its caches doubled the target
/// directory's size on a cold run; CI machines have bounded disk.
pub(crate) const NO_INCREMENTAL: &[(&str, &str)] = &[("CARGO_INCREMENTAL", "0")];

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    shell::run(root, "format", "cargo", &["fmt", "--all", "--", "--check"])?;
    dependency_invariants(root)?;
    shell::run_with_env(
        root,
        "clippy",
        "cargo",
        &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"],
        NO_INCREMENTAL,
    )?;
    shell::run_with_env(
        root,
        "tests",
        "cargo",
        &["test", "--workspace", "--all-features"],
        NO_INCREMENTAL,
    )?;
    // `cargo test` built the example already; running that binary (rather than `cargo run -p
    // agentweave`, whose narrower feature set rebuilds half the graph) costs no disk or time.
    let quickstart = shell::target_dir(root).join("debug/examples/quickstart");
    let quickstart = quickstart.to_string_lossy();
    shell::run(root, "quickstart (the README's first command, debug build)", &quickstart, &[])?;
    println!("==> authz parity (regorus vs OPA's engine)");
    crate::authz_parity::run(root, false)?;
    println!("==> integration (the mesh as separate processes)");
    crate::integration::run(root)?;
    println!("==> deployment files (manifests, compose, configs)");
    crate::deploy_check::run(root)?;
    report_disk(root);
    println!("xtask ci: all checks passed");
    Ok(())
}

/// Prints the target directory's size, so a creeping disk footprint shows in CI logs early.
fn report_disk(root: &Path) {
    let bytes = shell::disk_usage(&shell::target_dir(root));
    println!("target directory: {:.2} GiB", bytes as f64 / f64::from(1u32 << 30));
}

/// Layering rules that cargo cannot express, checked on the resolved dependency graph.
pub(crate) fn dependency_invariants(root: &Path) -> anyhow::Result<()> {
    println!("==> dependency invariants");
    // ring is our one crypto provider (design.md, "Known traps"): aws-lc-rs must not sneak in
    // through a default feature of rustls, tokio-rustls, rcgen or jsonwebtoken.
    let tree = shell::output(
        root,
        "cargo",
        &["tree", "--workspace", "--all-features", "-i", "aws-lc-rs", "-e", "normal,build"],
    )?;
    let text = String::from_utf8_lossy(&tree.stdout);
    let errors = String::from_utf8_lossy(&tree.stderr);
    if tree.status.success() && !text.trim().is_empty() {
        bail!("aws-lc-rs is in the dependency graph; ring is the chosen provider:\n{text}");
    }
    if !tree.status.success() && !errors.contains("did not match any packages") {
        bail!("cargo tree failed: {errors}");
    }
    // Heavy engines stay in their layer: a user of one crate must not pay for another's engine.
    for (engine, allowed) in [
        ("regorus", &["agentweave-authz", "agentweave"][..]),
        ("rustpython-parser", &["agentweave-guard", "agentweave"][..]),
    ] {
        let tree = shell::output(
            root,
            "cargo",
            &["tree", "--workspace", "-i", engine, "-e", "normal", "--prefix", "none"],
        )?;
        let text = String::from_utf8_lossy(&tree.stdout);
        for line in text.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if name.starts_with("agentweave") && !allowed.contains(&name) {
                bail!("{name} depends on {engine}; only {allowed:?} may");
            }
        }
    }
    println!("<== dependency invariants: ok");
    Ok(())
}

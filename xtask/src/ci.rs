//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use std::path::Path;

use anyhow::bail;

use crate::shell;

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    shell::run(root, "format", "cargo", &["fmt", "--all", "--", "--check"])?;
    dependency_invariants(root)?;
    shell::run(
        root,
        "clippy",
        "cargo",
        &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"],
    )?;
    shell::run(root, "tests", "cargo", &["test", "--workspace", "--all-features"])?;
    shell::run(
        root,
        "quickstart (the README's first command, debug build)",
        "cargo",
        &["run", "-p", "agentweave", "--example", "quickstart"],
    )?;
    println!("==> authz parity (regorus vs OPA's engine)");
    crate::authz_parity::run(root, false)?;
    println!("xtask ci: all checks passed");
    Ok(())
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

//! `cargo xtask bench transport`: runs the transport's load binary in release mode. It measures,
//! in one process, the pooled mTLS round trip beside a plain-TCP HTTP baseline and the new-connection
//! handshake rate beside a bare rustls baseline, and prints figures and ratios (targets: <= 1.5x
//! and >= 80%). Loopback only; the loops are bounded, so it finishes in well under a minute once
//! built.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// Builds and runs `agentweave-transport`'s `bench-transport` example from the workspace `root`.
/// Fails when the build fails, the binary fails, or (with `--strict`, which we pass) a target is
/// missed.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "run",
            "--release",
            "--package",
            "agentweave-transport",
            "--features",
            "test-util",
            "--example",
            "bench-transport",
            "--",
            "--strict",
        ])
        .status()
        .context("cannot start cargo for the transport bench")?;
    if !status.success() {
        bail!("transport bench failed ({status}); see its output above");
    }
    Ok(())
}

//! Running commands from the project root with readable progress output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// The workspace root (the parent of this crate's directory).
pub(crate) fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Runs `program args…` in `root`, streaming its output, and fails naming the step.
pub(crate) fn run(root: &Path, step: &str, program: &str, args: &[&str]) -> anyhow::Result<()> {
    println!("==> {step}: {program} {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("{step}: cannot start {program}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    println!("<== {step}: ok in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs a command and returns its standard output (for checks that read it).
pub(crate) fn output(
    root: &Path,
    program: &str,
    args: &[&str],
) -> anyhow::Result<std::process::Output> {
    Command::new(program)
        .args(args)
        .current_dir(root)
        .output()
        .with_context(|| format!("cannot start {program}"))
}

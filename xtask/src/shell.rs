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
    run_with_env(root, step, program, args, &[])
}

/// [`run`] with extra environment variables for the child (and only the child).
pub(crate) fn run_with_env(
    root: &Path,
    step: &str,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<()> {
    println!("==> {step}: {program} {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
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

/// The cargo target directory: `CARGO_TARGET_DIR` when set, else `<root>/target`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Bytes under `path`, for reporting how much disk a run used (0 when it does not exist).
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(metadata) = std::fs::symlink_metadata(path) else { return 0 };
    if !metadata.is_dir() {
        return metadata.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|entry| disk_usage(&entry.path())).sum())
        .unwrap_or(0)
}

/// The `agentweave` CLI from the workspace's test build (`cargo test --workspace --all-features
/// --no-run`): the same features and settings as `cargo xtask ci`'s test step, so right after it
/// this builds nothing, and no second copy of the graph lands on disk.
pub(crate) fn agentweave_cli(root: &Path) -> anyhow::Result<PathBuf> {
    run_with_env(
        root,
        "the agentweave CLI (the workspace test build, reused)",
        "cargo",
        &["test", "--workspace", "--all-features", "--no-run", "--quiet"],
        crate::ci::NO_INCREMENTAL,
    )?;
    let bin = target_dir(root).join("debug/agentweave");
    if !bin.exists() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

//! Python virtual environments for tasks that drive Python tools, in git-ignored `<root>/.venv-*`
//! folders (`/.venv*` is in .gitignore).
//!
//! A venv records the exact requirement list it was installed with in a stamp file; when a task
//! changes its pins, the next run reinstalls instead of silently using the old versions.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The file inside a venv listing the requirements it was installed with, one per line.
const STAMP: &str = "agentweave-requirements.txt";

/// Whether `python3` can be started (tasks skip their Python steps, saying so, when not).
pub(crate) fn python3_available() -> bool {
    Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Creates `<root>/<name>` if missing and installs `requirements` (pip specifiers, pinned with
/// `==` by the caller) with extra `pip_options`, unless the venv was last installed with exactly
/// these; returns the venv's folder (its programs are under `bin/`).
pub(crate) fn ensure(
    root: &Path,
    name: &str,
    requirements: &[&str],
    pip_options: &[&str],
) -> anyhow::Result<PathBuf> {
    if !name.starts_with(".venv") {
        bail!("venv {name:?} must be named .venv* so that git ignores it");
    }
    let venv = root.join(name);
    let python = venv.join("bin/python");
    let stamp = venv.join(STAMP);
    let wanted =
        pip_options.iter().chain(requirements).copied().collect::<Vec<_>>().join("\n") + "\n";
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(venv);
    }
    if !python.exists() {
        println!("==> creating {}", venv.display());
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .context("running python3 -m venv")?;
        if !status.success() {
            bail!("python3 -m venv {} failed ({status})", venv.display());
        }
    }
    println!("==> pip install {} into {}", requirements.join(" "), venv.display());
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(pip_options)
        .args(requirements)
        .status()
        .with_context(|| format!("running pip in {}", venv.display()))?;
    if !status.success() {
        bail!("pip install {} failed ({status})", requirements.join(" "));
    }
    std::fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(venv)
}

//! The JS interop peers in `<workspace>/interop/js`: installs them with npm on first use and
//! runs their scripts.
//!
//! `npm ci` installs exactly what `package-lock.json` pins into `interop/js/node_modules`
//! (git-ignored). Test threads of this binary share one install through a `OnceLock`; other
//! processes (a second `cargo test`, `cargo xtask interop`) are kept out by a lock file created
//! with `create_new`, because `npm ci` deletes `node_modules` first and a concurrent run would
//! see half a tree.
#![allow(dead_code, unreachable_pub)]

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::AsyncBufReadExt as _;

/// The exact SDK version `package.json` pins (checked after install).
pub const SDK_VERSION: &str = "1.3.0";

/// How long to wait for another process's install before failing.
const LOCK_WAIT: Duration = Duration::from_secs(600);
/// A lock file older than this is left over from a crashed install and is removed.
const LOCK_STALE: Duration = Duration::from_secs(900);

/// `<workspace>/interop/js`.
pub fn js_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).join("interop/js")
}

/// The interop directory with its packages installed, or `Err` with the reason when `node`
/// or `npm` is not installed. A failed install panics: it must fail the test, not skip it.
pub fn installed() -> Result<PathBuf, String> {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    READY.get_or_init(install).clone()
}

fn install() -> Result<PathBuf, String> {
    for tool in ["node", "npm"] {
        let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    let dir = js_dir();
    let _lock = InstallLock::acquire(&dir.join(".install.lock"));
    if !ready(&dir) {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm ci in {} failed: {}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(ready(&dir), "npm ci did not install @a2a-js/sdk {SDK_VERSION}");
    }
    Ok(dir)
}

/// True when every dependency of `package.json` is installed at its pinned version.
fn ready(dir: &Path) -> bool {
    let version_of = |path: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    };
    let Some(manifest) = version_of(dir.join("package.json")) else { return false };
    let Some(deps) = manifest["dependencies"].as_object() else { return false };
    deps.get("@a2a-js/sdk").and_then(|v| v.as_str()) == Some(SDK_VERSION)
        && deps.iter().all(|(name, pinned)| {
            version_of(dir.join("node_modules").join(name).join("package.json"))
                .is_some_and(|installed| installed["version"] == *pinned)
        })
}

/// A cross-process lock: the file exists while one process installs.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Self {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Self(path.to_path_buf());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|age| age > LOCK_STALE) {
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{} is held by another install (remove it if none is running)",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `node <script> <args>` in the interop directory and returns the JSON object of its
/// last stdout line (panicking with both streams if there is none).
pub async fn run_script(dir: &Path, script: &str, args: &[String]) -> serde_json::Value {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("node {script} did not finish"))
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("node {script} printed no JSON line: {stdout}\n{stderr}"))
}

/// `node server.mjs <args>` started, and its port once it printed `{"event":"ready"}`.
pub async fn start_server(dir: &Path, args: &[String]) -> (tokio::process::Child, u16) {
    let mut child = tokio::process::Command::new("node")
        .arg("server.mjs")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if event["event"] == "ready" {
                return event["port"].as_u64().and_then(|p| u16::try_from(p).ok());
            }
        }
        None
    })
    .await;
    match port {
        Ok(Some(port)) => (child, port),
        other => panic!("server.mjs did not report ready: {other:?}"),
    }
}

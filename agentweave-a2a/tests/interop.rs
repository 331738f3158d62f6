//! Interop: the official A2A Python SDK (`a2a-sdk` 1.3.0 from PyPI) as a client of our
//! server over both bindings (send, stream, get, list, cancel, errors).
//!
//! Needs `python3`; without it the test prints why and returns. The venv lives at
//! `<workspace>/.venv-a2a` (git-ignored) and is created once; later runs only check the
//! installed version.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const SDK: &str = "a2a-sdk==1.3.0";

fn venv_python() -> Result<PathBuf, String> {
    if Command::new("python3").arg("--version").output().is_err() {
        return Err("python3 is not installed".into());
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-a2a");
    let py = venv.join("bin/python");
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", "import importlib.metadata as m, a2a.client; assert m.version('a2a-sdk') == '1.3.0'"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&py) {
        return Ok(py);
    }
    let out = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("venv creation failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let out = Command::new(&py)
        .args(["-m", "pip", "install", "-q", SDK])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() || !ready(&py) {
        return Err(format!("pip install {SDK} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(py)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_against_our_server() {
    let py = match tokio::task::spawn_blocking(venv_python).await.unwrap() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED python_sdk_client_against_our_server: {why}");
            return;
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut card = common::card();
    card.supported_interfaces = vec![
        agentweave_a2a::types::AgentInterface {
            url: base.clone(),
            protocol_binding: "JSONRPC".into(),
            tenant: String::new(),
            protocol_version: "1.0".into(),
        },
        agentweave_a2a::types::AgentInterface {
            url: format!("{base}/rest"),
            protocol_binding: "HTTP+JSON".into(),
            tenant: String::new(),
            protocol_version: "1.0".into(),
        },
    ];
    // Plain HTTP has no peer identity: this test server accepts anonymous callers.
    let server =
        agentweave_a2a::server::A2aServer::builder(card, std::sync::Arc::new(common::TestExecutor))
            .rest_prefix("/rest")
            .danger_allow_anonymous_callers()
            .build()
            .unwrap();
    let serve = tokio::spawn(async move { axum::serve(listener, server.router()).await });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/client.py");
    for binding in ["JSONRPC", "HTTP+JSON"] {
        let out = tokio::process::Command::new(&py)
            .arg(&script)
            .arg(&base)
            .arg(binding)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{binding}: {stdout}\n{stderr}");
        let summary: serde_json::Value =
            serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
        assert_eq!(summary["ok"], true, "{binding}: {summary}");
        assert_eq!(summary["send"], "TASK_STATE_COMPLETED");
        assert_eq!(summary["cancel"], "TASK_STATE_CANCELED");
        // The SDK maps our error codes back to the spec's error types.
        assert_eq!(summary["second_cancel_error"], "TaskNotCancelableError");
        assert_eq!(summary["unknown_task_error"], "TaskNotFoundError");
        eprintln!("{binding}: {summary}");
    }
    serve.abort();
}

//! Interop: the official A2A Python SDK (`a2a-sdk` 1.3.0 from PyPI) as a client of our
//! server over both bindings (send, stream, get, list, cancel, errors).
//!
//! Needs `python3`; without it the test prints why and returns. The venv lives at
//! `<workspace>/.venv-a2a` (git-ignored) and is created once; later runs only check the
//! installed version.

mod client_support;
mod common;

use client_support::{SDK_SERVER_PACKAGES, venv_python};

/// Importable SDK client at the pinned version.
const READY_CHECK: &str =
    "import importlib.metadata as m, a2a.client; assert m.version('a2a-sdk') == '1.3.0'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_against_our_server() {
    let py = match tokio::task::spawn_blocking(|| venv_python(SDK_SERVER_PACKAGES, READY_CHECK))
        .await
        .unwrap()
    {
        Some(p) => p,
        None => {
            eprintln!("SKIPPED python_sdk_client_against_our_server: python3 is not installed");
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
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/client.py");
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

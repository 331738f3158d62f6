//! Interop: our client against the official A2A Python SDK (`a2a-sdk` 1.3.0 from PyPI) as a
//! SERVER (`tests/interop/sdk_server.py`), over both bindings: discovery, send, stream, get,
//! list, subscribe, cancel, push configuration CRUD and typed errors, asserted here in Rust.
//!
//! The Python server runs over plain HTTP, so the client uses the test-only plain HTTP
//! transport of `client_support` (production uses the mTLS transport only). Needs `python3`;
//! without it the test prints why and returns. The venv is `<workspace>/.venv-a2a`, shared
//! with `tests/interop.rs`; the server-side packages are added to it on first run.

mod client_support;
use client_support::requests::{remote_kind, send, state_of, task_of};

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use agentweave_a2a::ErrorKind;
use agentweave_a2a::client::{A2aClient, Binding, ClientConfig};
use agentweave_a2a::types::{
    CancelTaskRequest, DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest, GetTaskRequest, ListTaskPushNotificationConfigsRequest,
    ListTasksRequest, Part, SendMessageConfiguration, SendMessageResponse, StreamResponse,
    SubscribeToTaskRequest, TaskPushNotificationConfig, TaskState,
};
use agentweave_identity::TrustDomain;
use agentweave_transport::{Endpoint, ExpectedPeer, Peer};
use client_support::{PlainHttpTransport, SDK_SERVER_PACKAGES, venv_python};
use futures::StreamExt as _;
use tokio::io::AsyncBufReadExt as _;

const READY_CHECK: &str = "import importlib.metadata as m, a2a.server.routes, uvicorn, sse_starlette; \
    assert m.version('a2a-sdk') == '1.3.0'";

/// Starts the SDK server on a free port and waits for its READY line.
async fn start_sdk_server(py: &std::path::Path) -> (tokio::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/sdk_server.py");
    let mut child = tokio::process::Command::new(py)
        .arg(script)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("READY") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the SDK server did not start");
    (child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_the_python_sdk_server() {
    let py = match tokio::task::spawn_blocking(|| venv_python(SDK_SERVER_PACKAGES, READY_CHECK))
        .await
        .unwrap()
    {
        Some(p) => p,
        None => {
            eprintln!("SKIPPED our_client_against_the_python_sdk_server: python3 is not installed");
            return;
        }
    };
    let (mut child, port) = start_sdk_server(&py).await;
    let transport = Arc::new(PlainHttpTransport::new());
    let peer = Peer::new(
        Endpoint::new("127.0.0.1", port).unwrap(),
        // Plain HTTP proves nobody; the expectation only matters to mTLS transports.
        ExpectedPeer::member_of(TrustDomain::new("example.org").unwrap()),
    );
    for binding in [Binding::JsonRpc, Binding::HttpJson] {
        let config = ClientConfig { bindings: vec![binding], ..ClientConfig::default() };
        let client = A2aClient::discover(transport.clone(), peer.clone(), config).await.unwrap();
        assert_eq!(client.card().name, "python-sdk-agent");
        assert_eq!(client.interface().binding, binding);

        // Send: completed, with the echo in the status message.
        let done = task_of(client.send_message(send("complete", "hello interop")).await.unwrap());
        assert_eq!(done.status.state, TaskState::Completed, "{binding}");
        assert_eq!(done.status.message.as_ref().unwrap().text(), "echo hello interop");
        match client.send_message(send("reply", "x")).await.unwrap() {
            SendMessageResponse::Message(m) => assert_eq!(m.text(), "direct", "{binding}"),
            other => panic!("{binding}: expected a message, got {other:?}"),
        }

        // Stream: task, working, artifact, completed.
        let items: Vec<StreamResponse> = client
            .send_streaming_message(send("artifact", "s"))
            .await
            .unwrap()
            .map(|i| i.unwrap())
            .collect()
            .await;
        assert!(matches!(items.first(), Some(StreamResponse::Task(_))), "{binding}: {items:?}");
        assert!(
            items.iter().any(|i| matches!(i, StreamResponse::ArtifactUpdate(a)
                if a.artifact.name == "result"
                    && a.artifact.parts.first().and_then(Part::as_text) == Some("out"))),
            "{binding}: {items:?}"
        );
        assert_eq!(items.last().and_then(state_of), Some(TaskState::Completed), "{binding}");

        // Get and list.
        let got = client
            .task(GetTaskRequest {
                tenant: String::new(),
                id: done.id.clone(),
                history_length: Some(1),
            })
            .await
            .unwrap();
        assert_eq!((got.id.as_str(), got.status.state), (done.id.as_str(), TaskState::Completed));
        assert!(got.history.len() <= 1, "{binding}: {:?}", got.history);
        let listed = client.list_tasks(ListTasksRequest::default()).await.unwrap();
        assert!(listed.tasks.iter().any(|t| t.id == done.id), "{binding}: {listed:?}");

        // Subscribe to a running task, cancel it, see the stream end canceled.
        let mut slow = send("slow", "wait");
        slow.configuration =
            Some(SendMessageConfiguration { return_immediately: true, ..Default::default() });
        let running = task_of(client.send_message(slow).await.unwrap());
        assert!(!running.status.state.is_terminal(), "{binding}: {running:?}");
        let mut events = client
            .subscribe(SubscribeToTaskRequest { tenant: String::new(), id: running.id.clone() })
            .await
            .unwrap();
        let first = events.next().await.unwrap().unwrap();
        assert!(matches!(&first, StreamResponse::Task(t) if t.id == running.id), "{first:?}");
        let cancel =
            || CancelTaskRequest { tenant: String::new(), id: running.id.clone(), metadata: None };
        let canceled = client.cancel_task(cancel()).await.unwrap();
        assert_eq!(canceled.status.state, TaskState::Canceled, "{binding}");
        let rest: Vec<StreamResponse> = tokio::time::timeout(
            Duration::from_secs(30),
            events.map(|i| i.unwrap()).collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        assert_eq!(
            rest.last().and_then(state_of),
            Some(TaskState::Canceled),
            "{binding}: {rest:?}"
        );

        // The SDK's errors map to our typed errors.
        let again = client.cancel_task(cancel()).await.unwrap_err();
        assert_eq!(remote_kind(&again), ErrorKind::TaskNotCancelable, "{binding}");
        let missing = client
            .task(GetTaskRequest {
                tenant: String::new(),
                id: "no-such-task".into(),
                history_length: None,
            })
            .await
            .unwrap_err();
        assert_eq!(remote_kind(&missing), ErrorKind::TaskNotFound, "{binding}");

        // Push notification configs.
        let created = client
            .create_push_config(TaskPushNotificationConfig {
                tenant: String::new(),
                id: "cfg-1".into(),
                task_id: done.id.clone(),
                url: "https://hooks.example.com/a2a".into(),
                token: "t0k3n".into(),
                authentication: None,
            })
            .await
            .unwrap();
        assert_eq!((created.id.as_str(), created.task_id.as_str()), ("cfg-1", done.id.as_str()));
        let fetched = client
            .push_config(GetTaskPushNotificationConfigRequest {
                tenant: String::new(),
                task_id: done.id.clone(),
                id: "cfg-1".into(),
            })
            .await
            .unwrap();
        assert_eq!(fetched.url, "https://hooks.example.com/a2a", "{binding}");
        let list = || ListTaskPushNotificationConfigsRequest {
            tenant: String::new(),
            task_id: done.id.clone(),
            page_size: 0,
            page_token: String::new(),
        };
        let configs = client.list_push_configs(list()).await.unwrap().configs;
        assert_eq!(
            configs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["cfg-1"],
            "{binding}"
        );
        client
            .delete_push_config(DeleteTaskPushNotificationConfigRequest {
                tenant: String::new(),
                task_id: done.id.clone(),
                id: "cfg-1".into(),
            })
            .await
            .unwrap();
        assert!(client.list_push_configs(list()).await.unwrap().configs.is_empty(), "{binding}");
        eprintln!("{binding}: send, stream, get, list, subscribe, cancel, push CRUD, errors: ok");
    }
    child.kill().await.unwrap();
}

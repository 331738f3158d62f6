//! The server over both bindings, in process (no sockets): behaviour, and every security
//! rule with a negative case.

mod common;

use std::sync::Arc;

use agentweave_a2a::card::{CardVerification, Es256CardSigner, Es256CardVerifier, verify_card};
use agentweave_a2a::limits::BodyLimits;
use agentweave_a2a::types::AgentCard;
use common::*;
use serde_json::json;

const JSON: (&str, &str) = ("content-type", "application/json");
const V1: (&str, &str) = ("a2a-version", "1.0");

#[tokio::test]
async fn card_has_etag_cache_control_and_304() {
    let router = builder().build().unwrap().router();
    let r = request(&router, "GET", "/.well-known/agent-card.json", None, &[], vec![]).await;
    assert_eq!(r.status, 200);
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    assert!(r.headers["cache-control"].to_str().unwrap().contains("max-age=300"));
    assert!(r.headers.contains_key("last-modified"));
    let card: AgentCard = serde_json::from_str(&r.text).unwrap();
    assert_eq!(card.spiffe_id(), Some("spiffe://example.org/agent/test"));
    let r2 = request(
        &router,
        "GET",
        "/.well-known/agent-card.json",
        None,
        &[("if-none-match", &etag)],
        vec![],
    )
    .await;
    assert_eq!(r2.status, 304);
    assert!(r2.text.is_empty());
    let r3 = request(
        &router,
        "GET",
        "/.well-known/agent-card.json",
        None,
        &[("if-none-match", "\"other\"")],
        vec![],
    )
    .await;
    assert_eq!(r3.status, 200);
}

#[tokio::test]
async fn signed_card_verifies_and_detects_tampering() {
    let (signer, _) = Es256CardSigner::generate("k1").unwrap();
    let verifier = Es256CardVerifier::default().with_key("k1", signer.public_key());
    let router = builder().card_signer(Arc::new(signer)).build().unwrap().router();
    let r = request(&router, "GET", "/.well-known/agent-card.json", None, &[], vec![]).await;
    let mut card: AgentCard = serde_json::from_str(&r.text).unwrap();
    assert!(matches!(verify_card(&card, &verifier).unwrap(), CardVerification::Verified { .. }));
    card.name = "impostor".into();
    assert_eq!(verify_card(&card, &verifier).unwrap(), CardVerification::Invalid);
}

#[tokio::test]
async fn anonymous_callers_are_refused_by_default() {
    let router = builder().build().unwrap().router();
    let r = rpc(&router, None, "SendMessage", send_params("complete-1")).await;
    assert_eq!(r.json()["error"]["code"], -32030, "{}", r.text);
    let r = request(&router, "GET", "/tasks", None, &[V1], vec![]).await;
    assert_eq!(r.status, 401);
    // The same request with an mTLS identity succeeds.
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("complete-1")).await;
    assert_eq!(r.json()["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED", "{}", r.text);
}

#[tokio::test]
async fn tasks_are_visible_only_to_their_owner() {
    let router = builder().build().unwrap().router();
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("input-1")).await;
    let task_id = r.json()["result"]["task"]["id"].as_str().unwrap().to_owned();
    // Bob cannot see, cancel, subscribe to, continue or hook into Alice's task; he is told
    // it does not exist.
    let cases = [
        ("GetTask", json!({"id": task_id})),
        ("CancelTask", json!({"id": task_id})),
        ("SubscribeToTask", json!({"id": task_id})),
        (
            "SendMessage",
            json!({"message": {"messageId": "m2", "role": "ROLE_USER", "taskId": task_id, "parts": [{"text": "x"}]}}),
        ),
        ("ListTaskPushNotificationConfigs", json!({"taskId": task_id})),
    ];
    for (method, params) in cases {
        let r = rpc(&router, Some(bob()), method, params).await;
        assert_eq!(r.json()["error"]["code"], -32001, "{method}: {}", r.text);
    }
    let r = rpc(&router, Some(bob()), "ListTasks", json!({})).await;
    assert_eq!(r.json()["result"]["totalSize"], 0);
    let r = rpc(&router, Some(alice()), "ListTasks", json!({})).await;
    assert_eq!(r.json()["result"]["totalSize"], 1);
    let r = rpc(&router, Some(alice()), "GetTask", json!({"id": task_id})).await;
    assert_eq!(r.json()["result"]["status"]["state"], "TASK_STATE_INPUT_REQUIRED");
}

#[tokio::test]
async fn malformed_input_gets_the_right_error() {
    let router = builder()
        .limits(BodyLimits { max_body_bytes: 64 * 1024, max_json_depth: 32 })
        .build()
        .unwrap()
        .router();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = vec![b' '; 65 * 1024];
    type Case<'a> = (Vec<u8>, &'a [(&'a str, &'a str)], u16, i64);
    let cases: Vec<Case<'_>> = vec![
        (b"{not json".to_vec(), &[JSON, V1], 200, -32700),
        (deep.into_bytes(), &[JSON, V1], 200, -32700),
        (huge, &[JSON, V1], 413, -32600),
        (br#"[{"jsonrpc":"2.0","id":1,"method":"GetTask"}]"#.to_vec(), &[JSON, V1], 200, -32600),
        (br#"{"jsonrpc":"2.0","id":1}"#.to_vec(), &[JSON, V1], 200, -32600),
        (br#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{}}"#.to_vec(), &[JSON, V1], 200, -32601),
        (br#"{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"idd":1}}"#.to_vec(), &[JSON, V1], 200, -32602),
        (br#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[]}}}"#.to_vec(), &[JSON, V1], 200, -32602),
        (br#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_AGENT","parts":[{"text":"x"}]}}}"#.to_vec(), &[JSON, V1], 200, -32602),
        (br#"{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}"#.to_vec(), &[("content-type", "text/plain"), V1], 200, -32005),
        (br#"{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}"#.to_vec(), &[JSON], 200, -32009),
        (br#"{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}"#.to_vec(), &[JSON, ("a2a-version", "0.3")], 200, -32009),
        (br#"{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}"#.to_vec(), &[JSON, V1], 200, -32001),
    ];
    for (i, (body, headers, status, code)) in cases.into_iter().enumerate() {
        let r = request(&router, "POST", "/", Some(alice()), headers, body).await;
        assert_eq!(r.status, status, "case {i}: {}", r.text);
        assert_eq!(r.json()["error"]["code"], code, "case {i}: {}", r.text);
        assert_eq!(r.json()["jsonrpc"], "2.0", "case {i}");
    }
    // A notification (no id) is not executed and gets no reply.
    let r = request(
        &router,
        "POST",
        "/",
        Some(alice()),
        &[JSON, V1],
        br#"{"jsonrpc":"2.0","method":"GetTask","params":{"id":"x"}}"#.to_vec(),
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
}

#[tokio::test]
async fn rest_errors_use_status_and_error_info() {
    let router = builder().build().unwrap().router();
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/tasks/nope", vec![V1], vec![], 404, Some("TASK_NOT_FOUND")),
        (
            "POST",
            "/message:send",
            vec![JSON, ("a2a-version", "99.0")],
            b"{}".to_vec(),
            400,
            Some("VERSION_NOT_SUPPORTED"),
        ),
        (
            "POST",
            "/message:send",
            vec![("content-type", "text/plain"), V1],
            b"{\"message\":1}".to_vec(),
            415,
            Some("CONTENT_TYPE_NOT_SUPPORTED"),
        ),
        ("GET", "/tasks?pageSize=500", vec![V1], vec![], 400, None),
        ("GET", "/tasks?historyLength=x", vec![V1], vec![], 400, None),
        ("GET", "/nowhere", vec![V1], vec![], 404, None),
        ("DELETE", "/message:send", vec![V1], vec![], 405, None),
        ("GET", "/extendedAgentCard", vec![V1], vec![], 400, Some("UNSUPPORTED_OPERATION")),
        ("POST", "/message:send", vec![JSON, V1], b"{bad".to_vec(), 400, None),
    ];
    for (method, path, headers, body, status, reason) in cases {
        let r = request(&router, method, path, Some(alice()), &headers, body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
        assert_eq!(r.json()["error"]["code"], status, "{method} {path}");
        if let Some(reason) = reason {
            assert_eq!(r.json()["error"]["details"][0]["reason"], reason, "{method} {path}");
            assert_eq!(r.json()["error"]["details"][0]["domain"], "a2a-protocol.org");
        }
    }
}

#[tokio::test]
async fn lifecycle_rules_hold() {
    let router = builder().build().unwrap().router();
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("complete-x")).await;
    let id = r.json()["result"]["task"]["id"].as_str().unwrap().to_owned();
    let r = rpc(&router, Some(alice()), "CancelTask", json!({"id": id})).await;
    assert_eq!(r.json()["error"]["code"], -32002, "{}", r.text);
    let again = json!({"message": {"messageId": "m2", "role": "ROLE_USER", "taskId": id, "parts": [{"text": "x"}]}});
    let r = rpc(&router, Some(alice()), "SendMessage", again).await;
    assert_eq!(r.json()["error"]["code"], -32004, "{}", r.text);
    let r = rpc(&router, Some(alice()), "SubscribeToTask", json!({"id": id})).await;
    assert_eq!(r.json()["error"]["code"], -32004, "{}", r.text);

    // A failing executor fails its task with the reason.
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("fail-1")).await;
    assert_eq!(r.json()["result"]["task"]["status"]["state"], "TASK_STATE_FAILED", "{}", r.text);

    // Cancel a running task: it becomes canceled and the executor sees the signal.
    let params = json!({"message": {"messageId": "slow-1", "role": "ROLE_USER", "parts": [{"text": "x"}]}, "configuration": {"returnImmediately": true}});
    let r = rpc(&router, Some(alice()), "SendMessage", params).await;
    let id = r.json()["result"]["task"]["id"].as_str().unwrap().to_owned();
    let r = rpc(&router, Some(alice()), "CancelTask", json!({"id": id})).await;
    assert_eq!(r.json()["result"]["status"]["state"], "TASK_STATE_CANCELED", "{}", r.text);
    let r = rpc(&router, Some(alice()), "GetTask", json!({"id": id})).await;
    assert_eq!(r.json()["result"]["status"]["state"], "TASK_STATE_CANCELED");

    // Multi-turn: input-required then complete on the same task, context inferred.
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("input-2")).await;
    let task = r.json()["result"]["task"].clone();
    let follow = json!({"message": {"messageId": "complete-2", "role": "ROLE_USER", "taskId": task["id"], "parts": [{"text": "more"}]}});
    let r = rpc(&router, Some(alice()), "SendMessage", follow).await;
    assert_eq!(r.json()["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED");
    assert_eq!(r.json()["result"]["task"]["contextId"], task["contextId"]);
    let wrong = json!({"message": {"messageId": "m3", "role": "ROLE_USER", "taskId": task["id"], "contextId": "other", "parts": [{"text": "x"}]}});
    let r = rpc(&router, Some(alice()), "SendMessage", wrong).await;
    assert!(r.json()["error"].is_object(), "{}", r.text);

    // A direct message reply creates no task.
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("reply-1")).await;
    assert_eq!(r.json()["result"]["message"]["parts"][0]["text"], "direct", "{}", r.text);
}

#[tokio::test]
async fn streams_over_both_bindings() {
    let router = builder().build().unwrap().router();
    let r = rpc(&router, Some(alice()), "SendStreamingMessage", send_params("artifact-1")).await;
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let ev = r.events();
    let kinds: Vec<&str> = ev
        .iter()
        .map(|e| e["result"].as_object().unwrap().keys().next().unwrap().as_str())
        .collect();
    assert_eq!(kinds, ["task", "statusUpdate", "artifactUpdate", "statusUpdate"], "{}", r.text);
    assert!(ev.iter().all(|e| e["id"] == 7 && e["jsonrpc"] == "2.0"));
    assert_eq!(ev[3]["result"]["statusUpdate"]["status"]["state"], "TASK_STATE_COMPLETED");

    let body = serde_json::to_vec(&send_params("artifact-2")).unwrap();
    let r = request(&router, "POST", "/message:stream", Some(alice()), &[JSON, V1], body).await;
    let kinds: Vec<String> =
        r.events().iter().map(|e| e.as_object().unwrap().keys().next().unwrap().clone()).collect();
    assert_eq!(kinds, ["task", "statusUpdate", "artifactUpdate", "statusUpdate"], "{}", r.text);

    // Subscribing replays the current state first.
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("input-3")).await;
    let id = r.json()["result"]["task"]["id"].as_str().unwrap().to_owned();
    let sub_router = router.clone();
    let sub_id = id.clone();
    let sub = tokio::spawn(async move {
        request(
            &sub_router,
            "GET",
            &format!("/tasks/{sub_id}:subscribe"),
            Some(alice()),
            &[V1],
            vec![],
        )
        .await
    });
    // Finish the task so the subscription ends.
    tokio::task::yield_now().await;
    let follow = json!({"message": {"messageId": "complete-3", "role": "ROLE_USER", "taskId": id, "parts": [{"text": "x"}]}});
    let r2 = rpc(&router, Some(alice()), "SendMessage", follow).await;
    assert_eq!(r2.json()["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED");
    let sub = sub.await.unwrap();
    let ev = sub.events();
    assert_eq!(ev[0]["task"]["id"], id.as_str(), "{}", sub.text);
    assert_eq!(
        ev.last().unwrap()["statusUpdate"]["status"]["state"],
        "TASK_STATE_COMPLETED",
        "{}",
        sub.text
    );
}

#[tokio::test]
async fn list_tasks_pages_and_filters() {
    let router = builder().build().unwrap().router();
    for i in 0..5 {
        rpc(&router, Some(alice()), "SendMessage", send_params(&format!("complete-{i}"))).await;
    }
    rpc(&router, Some(alice()), "SendMessage", send_params("input-9")).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let r =
            rpc(&router, Some(alice()), "ListTasks", json!({"pageSize": 2, "pageToken": token}))
                .await;
        let res = r.json()["result"].clone();
        assert_eq!(res["totalSize"], 6, "{}", r.text);
        for t in res["tasks"].as_array().unwrap() {
            assert!(t.get("artifacts").is_none());
            seen.push(t["id"].as_str().unwrap().to_owned());
        }
        token = res["nextPageToken"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6);
    let r =
        rpc(&router, Some(alice()), "ListTasks", json!({"status": "TASK_STATE_INPUT_REQUIRED"}))
            .await;
    assert_eq!(r.json()["result"]["totalSize"], 1);
    let r = request(
        &router,
        "GET",
        "/tasks?status=TASK_STATE_COMPLETED&pageSize=100&historyLength=0",
        Some(alice()),
        &[V1],
        vec![],
    )
    .await;
    assert_eq!(r.json()["totalSize"], 5, "{}", r.text);
    assert!(r.json()["tasks"][0].get("history").is_none());
    let r = rpc(&router, Some(alice()), "ListTasks", json!({"pageToken": "garbage!"})).await;
    assert_eq!(r.json()["error"]["code"], -32602);
}

#[tokio::test]
async fn push_configs_refuse_private_targets() {
    let router = builder().build().unwrap().router();
    let r = rpc(&router, Some(alice()), "SendMessage", send_params("input-p")).await;
    let id = r.json()["result"]["task"]["id"].as_str().unwrap().to_owned();
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://10.0.0.7/x",
        "file:///etc/passwd",
    ] {
        let r = rpc(
            &router,
            Some(alice()),
            "CreateTaskPushNotificationConfig",
            json!({"taskId": id, "url": url}),
        )
        .await;
        assert_eq!(r.json()["error"]["code"], -32602, "{url}: {}", r.text);
    }
    let r = rpc(
        &router,
        Some(alice()),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": id, "url": "http://93.184.216.34/hook"}),
    )
    .await;
    let cfg_id = r.json()["result"]["id"].as_str().unwrap().to_owned();
    let r = request(
        &router,
        "GET",
        &format!("/tasks/{id}/pushNotificationConfigs/{cfg_id}"),
        Some(alice()),
        &[V1],
        vec![],
    )
    .await;
    assert_eq!(r.json()["url"], "http://93.184.216.34/hook", "{}", r.text);
    let r = request(
        &router,
        "DELETE",
        &format!("/tasks/{id}/pushNotificationConfigs/{cfg_id}"),
        Some(alice()),
        &[V1],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = request(
        &router,
        "DELETE",
        &format!("/tasks/{id}/pushNotificationConfigs/{cfg_id}"),
        Some(alice()),
        &[V1],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "delete is idempotent");
    let r =
        rpc(&router, Some(alice()), "ListTaskPushNotificationConfigs", json!({"taskId": id})).await;
    assert_eq!(r.json()["result"]["configs"], json!([]));
}

//! Our client against broken and hostile servers (a transport answering from a table):
//! garbage JSON, oversized and endless bodies, broken SSE framing, wrong JSON-RPC ids, wrong
//! schemas. Each must end in a typed error, never a panic or unbounded buffering. Also checks
//! that every request carries `A2A-Version: 1.0` and the retry marking of each method.

mod client_support;
mod common;

use agentweave_a2a::client::{A2aClient, Binding, ClientConfig, ClientError};
use agentweave_a2a::types::{
    CancelTaskRequest, GetTaskRequest, ListTasksRequest, Message, Part, SendMessageRequest,
    SubscribeToTaskRequest,
};
use agentweave_transport::{Endpoint, ExpectedPeer, Peer, ResponseBody, Retry};
use bytes::Bytes;
use client_support::Canned;
use futures::StreamExt as _;
use http::Response;
use http_body_util::StreamBody;
use hyper::body::Frame;

const LIMIT: usize = 64 * 1024;

fn peer() -> Peer {
    let td = agentweave_identity::TrustDomain::new("example.org").unwrap();
    Peer::new(Endpoint::parse("127.0.0.1:1").unwrap(), ExpectedPeer::member_of(td))
}

/// A body that never ends: 16 KiB chunks forever.
fn endless(chunk: &'static [u8]) -> ResponseBody {
    let frames = futures::stream::iter(std::iter::repeat_with(move || {
        Ok(Frame::data(Bytes::from_static(chunk)))
    }));
    ResponseBody::new(StreamBody::new(frames))
}

#[derive(Clone, Copy, Debug)]
enum Body {
    Text(&'static str),
    Endless(&'static [u8]),
    /// Declares a huge Content-Length, sends little.
    Declared(u64),
}

fn respond(status: u16, content_type: &'static str, body: Body) -> Response<ResponseBody> {
    let mut r = Response::builder().status(status).header("content-type", content_type);
    let body = match body {
        Body::Text(t) => ResponseBody::from_bytes(t),
        Body::Endless(chunk) => endless(chunk),
        Body::Declared(n) => {
            r = r.header("content-length", n.to_string());
            ResponseBody::from_bytes("{}")
        }
    };
    r.body(body).unwrap()
}

fn client(binding: Binding, status: u16, ct: &'static str, body: Body) -> A2aClient {
    let transport = Canned::new(move |_| respond(status, ct, body));
    let mut card = common::card();
    card.supported_interfaces[0].url = "https://127.0.0.1/".into();
    card.supported_interfaces.push(agentweave_a2a::types::AgentInterface {
        url: "https://127.0.0.1/rest".into(),
        protocol_binding: "HTTP+JSON".into(),
        tenant: String::new(),
        protocol_version: "1.0".into(),
    });
    // Nothing proves an identity here: the card makes no claim.
    card.capabilities.extensions.clear();
    let config = ClientConfig {
        bindings: vec![binding],
        max_response_bytes: LIMIT,
        max_sse_event_bytes: LIMIT,
        ..ClientConfig::default()
    };
    A2aClient::from_card(transport, peer(), card, config).unwrap()
}

fn get() -> GetTaskRequest {
    GetTaskRequest { tenant: String::new(), id: "t1".into(), history_length: None }
}

fn send() -> SendMessageRequest {
    SendMessageRequest {
        tenant: String::new(),
        message: Message::user(vec![Part::text("hi")]),
        configuration: None,
        metadata: None,
    }
}

fn name(e: &ClientError) -> &'static str {
    match e {
        ClientError::MalformedResponse { .. } => "malformed",
        ClientError::ResponseTooLarge { .. } => "too large",
        ClientError::ResponseIdMismatch { .. } => "id mismatch",
        ClientError::HttpStatus { .. } => "http status",
        ClientError::Remote(_) => "remote",
        ClientError::UnknownRemoteError { .. } => "unknown remote",
        ClientError::MalformedStream { .. } => "malformed stream",
        ClientError::SseEventTooLarge { .. } => "event too large",
        _ => "other",
    }
}

const TASK_OK: &str = r#"{"id":"t1","status":{"state":"TASK_STATE_COMPLETED"}}"#;
const JSON: &str = "application/json";

#[tokio::test]
async fn unary_responses_from_a_broken_server_are_typed_errors() {
    use Binding::*;
    let deep: &'static str =
        Box::leak(format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_boxed_str());
    let cases: Vec<(Binding, u16, &str, Body, &str)> = vec![
        (JsonRpc, 200, JSON, Body::Text("not json at all"), "malformed"),
        (JsonRpc, 200, JSON, Body::Text(deep), "malformed"),
        (
            JsonRpc,
            200,
            JSON,
            Body::Text(r#"{"jsonrpc":"2.0","id":999,"result":{}}"#),
            "id mismatch",
        ),
        (JsonRpc, 200, JSON, Body::Text(r#"{"jsonrpc":"2.0","id":1}"#), "malformed"),
        (
            JsonRpc,
            200,
            JSON,
            Body::Text(r#"{"jsonrpc":"2.0","id":1,"result":{"id":"t1"}}"#),
            "malformed",
        ),
        (
            JsonRpc,
            200,
            JSON,
            Body::Text(
                r#"{"jsonrpc":"2.0","id":1,"result":{"id":"t1","status":{"state":"TASK_STATE_COMPLETED"}}}"#,
            ),
            "ok",
        ),
        (
            JsonRpc,
            200,
            JSON,
            Body::Text(
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"gone","data":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TASK_NOT_FOUND","domain":"a2a-protocol.org","metadata":{"taskId":"t1"}}]}}"#,
            ),
            "remote",
        ),
        (
            JsonRpc,
            200,
            JSON,
            Body::Text(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"odd"}}"#),
            "unknown remote",
        ),
        (JsonRpc, 500, "text/html", Body::Text("<html>oops</html>"), "http status"),
        (JsonRpc, 200, JSON, Body::Endless(&[b' '; 16 * 1024]), "too large"),
        (JsonRpc, 200, JSON, Body::Declared(1 << 40), "too large"),
        (HttpJson, 200, JSON, Body::Text("{\"id\": "), "malformed"),
        (HttpJson, 200, JSON, Body::Text(TASK_OK), "ok"),
        (HttpJson, 200, JSON, Body::Text("[]"), "malformed"),
        (
            HttpJson,
            404,
            JSON,
            Body::Text(
                r#"{"error":{"code":404,"status":"NOT_FOUND","message":"x","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TASK_NOT_FOUND","domain":"a2a-protocol.org"}]}}"#,
            ),
            "remote",
        ),
        (
            HttpJson,
            418,
            JSON,
            Body::Text(r#"{"error":{"code":418,"status":"TEAPOT","message":"x"}}"#),
            "unknown remote",
        ),
        (HttpJson, 502, "text/plain", Body::Text("bad gateway"), "http status"),
        (HttpJson, 200, JSON, Body::Endless(b"{\"a\":1}"), "too large"),
    ];
    for (binding, status, ct, body, want) in cases {
        let got = client(binding, status, ct, body).task(get()).await;
        let got = match &got {
            Ok(_) => "ok",
            Err(e) => name(e),
        };
        assert_eq!(got, want, "{binding} {status} {body:?}");
    }
}

#[tokio::test]
async fn broken_event_streams_end_in_typed_errors() {
    use Binding::*;
    const SSE: &str = "text/event-stream";
    let ok_item = r#"{"jsonrpc":"2.0","id":1,"result":{"task":{"id":"t1","status":{"state":"TASK_STATE_WORKING"}}}}"#;
    let ok_event: &'static str = Box::leak(format!("data: {ok_item}\n\n").into_boxed_str());
    let cut: &'static str =
        Box::leak(format!("data: {ok_item}\n\ndata: {ok_item}").into_boxed_str());
    let wrong_id = "data: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"task\":{\"id\":\"t1\",\"status\":{\"state\":\"TASK_STATE_WORKING\"}}}}\n\n";
    // (binding, status, content type, body, items before the end, how it ends)
    let cases: Vec<(Binding, u16, &str, Body, usize, &str)> = vec![
        (JsonRpc, 200, SSE, Body::Text(ok_event), 1, "end"),
        (JsonRpc, 200, SSE, Body::Text(cut), 1, "malformed stream"),
        (JsonRpc, 200, SSE, Body::Text("data: \u{0}garbage\n\n"), 0, "malformed"),
        (JsonRpc, 200, SSE, Body::Text(wrong_id), 0, "id mismatch"),
        (
            JsonRpc,
            200,
            SSE,
            Body::Text("data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"nope\":{}}}\n\n"),
            0,
            "malformed",
        ),
        (
            JsonRpc,
            200,
            SSE,
            Body::Text(
                "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32001,\"message\":\"gone\"}}\n\n",
            ),
            0,
            "remote",
        ),
        // A data line that never ends, and an event of endless data lines.
        (JsonRpc, 200, SSE, Body::Endless(&[b'a'; 16 * 1024]), 0, "event too large"),
        (JsonRpc, 200, SSE, Body::Endless(b"data: xxxxxxxxxxxxxxxx\n"), 0, "event too large"),
        // Keep-alive comments only, then the server closes: a clean, empty stream.
        (JsonRpc, 200, SSE, Body::Text(": ping\n\n: ping\n\n"), 0, "end"),
        // Not a stream: an error body is the error; anything else is malformed.
        (
            JsonRpc,
            200,
            JSON,
            Body::Text(
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32004,"message":"no streaming"}}"#,
            ),
            0,
            "remote",
        ),
        (JsonRpc, 200, JSON, Body::Text(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#), 0, "malformed"),
        (
            HttpJson,
            200,
            SSE,
            Body::Text(
                "data: {\"statusUpdate\":{\"taskId\":\"t1\",\"contextId\":\"c\",\"status\":{\"state\":\"TASK_STATE_COMPLETED\"}}}\n\ndata: ignored after the terminal item\n\n",
            ),
            1,
            "end",
        ),
        (
            HttpJson,
            200,
            SSE,
            Body::Text(
                "data: {\"error\":{\"code\":500,\"status\":\"INTERNAL\",\"message\":\"boom\"}}\n\n",
            ),
            0,
            "remote",
        ),
        (HttpJson, 200, SSE, Body::Text("data: \u{7f}\n\n"), 0, "malformed"),
        (HttpJson, 404, JSON, Body::Text("{}"), 0, "http status"),
    ];
    for (binding, status, ct, body, want_items, want_end) in cases {
        let c = client(binding, status, ct, body);
        let subscribe = SubscribeToTaskRequest { tenant: String::new(), id: "t1".into() };
        let (items, end) = match c.subscribe(subscribe).await {
            Err(e) => (0, name(&e)),
            Ok(stream) => {
                let all: Vec<_> = stream.collect().await;
                let items = all.iter().filter(|i| i.is_ok()).count();
                let end = match all.last() {
                    Some(Err(e)) => name(e),
                    _ => "end",
                };
                (items, end)
            }
        };
        assert_eq!((items, end), (want_items, want_end), "{binding} {ct} {body:?}");
    }
}

#[tokio::test]
async fn every_request_carries_the_version_and_its_retry_marking() {
    for binding in [Binding::JsonRpc, Binding::HttpJson] {
        let transport = Canned::new(|_| respond(200, JSON, Body::Text("{}")));
        let mut card = common::card();
        card.capabilities.extensions.clear();
        card.supported_interfaces[0].protocol_binding = binding.as_str().into();
        card.supported_interfaces[0].url = "https://127.0.0.1/a2a".into();
        let config = ClientConfig { bindings: vec![binding], ..ClientConfig::default() };
        let c = A2aClient::from_card(transport.clone(), peer(), card, config).unwrap();
        let _ = c.send_message(send()).await;
        let _ = c.task(get()).await;
        let _ = c.list_tasks(ListTasksRequest::default()).await;
        let _ = c
            .cancel_task(CancelTaskRequest {
                tenant: String::new(),
                id: "t1".into(),
                metadata: None,
            })
            .await;
        let seen = transport.seen.lock().unwrap().clone();
        let marks: Vec<Retry> = seen.iter().map(|s| s.options.retry).collect();
        assert_eq!(
            marks,
            [Retry::Never, Retry::SafeToRetry, Retry::SafeToRetry, Retry::Never],
            "{binding}: SendMessage and CancelTask are not safe to retry"
        );
        for s in &seen {
            assert_eq!(s.request.headers()["a2a-version"], "1.0", "{binding}");
            assert!(s.request.uri().path().starts_with("/a2a"), "{binding}: {}", s.request.uri());
        }
    }
}

#[tokio::test]
async fn discovery_refuses_bad_cards() {
    let cases: Vec<(u16, Body, &str)> = vec![
        (200, Body::Text("{not json"), "malformed"),
        (200, Body::Text(r#"{"name":"x"}"#), "malformed"),
        (200, Body::Endless(&[b' '; 16 * 1024]), "too large"),
        (404, Body::Text("nope"), "http status"),
    ];
    for (status, body, want) in cases {
        let transport = Canned::new(move |_| respond(status, JSON, body));
        let err =
            A2aClient::discover(transport, peer(), ClientConfig::default()).await.unwrap_err();
        assert_eq!(name(&err), want, "{status} {body:?}");
    }
    // A card that claims a SPIFFE ID over a transport that proved none is refused.
    let card = serde_json::to_string(&common::card()).unwrap();
    let card: &'static str = Box::leak(card.into_boxed_str());
    let transport = Canned::new(move |_| respond(200, JSON, Body::Text(card)));
    let err = A2aClient::discover(transport, peer(), ClientConfig::default()).await.unwrap_err();
    assert!(matches!(err, ClientError::CardIdentityUnverified { .. }), "{err:?}");
}

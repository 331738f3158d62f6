//! Shared helpers for the server tests: a small executor, a card and request helpers.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use agentweave_a2a::server::{
    A2aServer, A2aServerBuilder, AgentExecutor, EventSink, ExecutorError, RequestContext,
};
use agentweave_a2a::types::{
    AgentCapabilities, AgentCard, AgentExtension, AgentInterface, AgentSkill, Artifact,
    MutualTlsSecurityScheme, Part, SPIFFE_ID_EXTENSION_PARAM, SPIFFE_ID_EXTENSION_URI,
    SecurityRequirement, SecurityScheme, StringList,
};
use agentweave_identity::SpiffeId;
use axum::body::Body;
use futures::future::BoxFuture;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Behaves by message-id prefix: `complete`, `input`, `artifact`, `reply`, `slow` (waits for
/// cancellation), `fail` (returns an error).
pub struct TestExecutor;

impl AgentExecutor for TestExecutor {
    fn execute(
        &self,
        ctx: RequestContext,
        sink: EventSink,
    ) -> BoxFuture<'static, Result<(), ExecutorError>> {
        Box::pin(async move {
            let id = ctx.message.message_id.clone();
            let e = |e: agentweave_a2a::server::SinkClosed| ExecutorError(e.to_string());
            if id.starts_with("input") {
                sink.input_required(Some(sink.agent_message(vec![Part::text("more please")])))
                    .await
                    .map_err(e)?;
            } else if id.starts_with("reply") {
                sink.reply(sink.agent_message(vec![Part::text("direct")])).await.map_err(e)?;
            } else if id.starts_with("slow") {
                sink.working().await.map_err(e)?;
                ctx.cancelled().await;
            } else if id.starts_with("fail") {
                sink.working().await.map_err(e)?;
                return Err(ExecutorError("boom".into()));
            } else if id.starts_with("artifact") {
                sink.working().await.map_err(e)?;
                sink.artifact(Artifact::new(vec![Part::text("out")]), false, true)
                    .await
                    .map_err(e)?;
                sink.complete(None).await.map_err(e)?;
            } else {
                sink.complete(Some(
                    sink.agent_message(vec![Part::text(format!("echo {}", ctx.message.text()))]),
                ))
                .await
                .map_err(e)?;
            }
            Ok(())
        })
    }
}

pub fn card() -> AgentCard {
    let mut params = serde_json::Map::new();
    params.insert(SPIFFE_ID_EXTENSION_PARAM.into(), json!("spiffe://example.org/agent/test"));
    AgentCard {
        name: "test".into(),
        description: "test agent".into(),
        supported_interfaces: vec![AgentInterface {
            url: "https://127.0.0.1/".into(),
            protocol_binding: "JSONRPC".into(),
            tenant: String::new(),
            protocol_version: "1.0".into(),
        }],
        provider: None,
        version: "1".into(),
        documentation_url: None,
        capabilities: AgentCapabilities {
            streaming: Some(true),
            push_notifications: Some(true),
            extensions: vec![AgentExtension {
                uri: SPIFFE_ID_EXTENSION_URI.into(),
                description: "SPIFFE ID".into(),
                required: false,
                params: Some(params),
            }],
            extended_agent_card: None,
        },
        security_schemes: [(
            "mtls".to_owned(),
            SecurityScheme::MutualTls(MutualTlsSecurityScheme::default()),
        )]
        .into_iter()
        .collect(),
        security_requirements: vec![SecurityRequirement {
            schemes: [("mtls".to_owned(), StringList::default())].into_iter().collect(),
        }],
        default_input_modes: vec!["text/plain".into()],
        default_output_modes: vec!["text/plain".into()],
        skills: vec![AgentSkill {
            id: "echo".into(),
            name: "echo".into(),
            description: "echoes".into(),
            tags: vec!["test".into()],
            examples: vec![],
            input_modes: vec![],
            output_modes: vec![],
            security_requirements: vec![],
        }],
        signatures: vec![],
        icon_url: None,
    }
}

pub fn builder() -> A2aServerBuilder {
    A2aServer::builder(card(), Arc::new(TestExecutor))
}

pub fn alice() -> SpiffeId {
    SpiffeId::parse("spiffe://example.org/agent/alice").unwrap()
}

pub fn bob() -> SpiffeId {
    SpiffeId::parse("spiffe://example.org/agent/bob").unwrap()
}

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    /// The `data:` payloads of an SSE body.
    pub fn events(&self) -> Vec<Value> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }
}

pub async fn request(
    router: &axum::Router,
    method: &str,
    path: &str,
    caller: Option<SpiffeId>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    let mut b = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(Body::from(body)).unwrap();
    if let Some(id) = caller {
        req.extensions_mut().insert(id);
    }
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

/// A JSON-RPC call with `A2A-Version: 1.0`.
pub async fn rpc(
    router: &axum::Router,
    caller: Option<SpiffeId>,
    method: &str,
    params: Value,
) -> Resp {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    request(
        router,
        "POST",
        "/",
        caller,
        &[("content-type", "application/json"), ("a2a-version", "1.0")],
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

pub fn send_params(message_id: &str) -> Value {
    json!({"message": {"messageId": message_id, "role": "ROLE_USER", "parts": [{"text": "hi"}]}})
}

//! SendMessage handling through the whole axum service (parse, version and identity checks,
//! dispatch to a trivial executor, task bookkeeping, serialization) and SSE event encoding.
//! Baselines measured in the same run: parsing the same request with serde_json alone, and
//! serializing the same event with serde_json alone.

use std::sync::Arc;

use agentweave_a2a::server::{A2aServer, AgentExecutor, EventSink, ExecutorError, RequestContext};
use agentweave_a2a::sse::encode_event;
use agentweave_a2a::types::{
    AgentCapabilities, AgentCard, AgentInterface, Part, SendMessageRequest, StreamResponse,
    TaskState, TaskStatus, TaskStatusUpdateEvent,
};
use agentweave_identity::SpiffeId;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::future::BoxFuture;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

struct Trivial;

impl AgentExecutor for Trivial {
    fn execute(
        &self,
        _ctx: RequestContext,
        sink: EventSink,
    ) -> BoxFuture<'static, Result<(), ExecutorError>> {
        Box::pin(async move {
            let m = sink.agent_message(vec![Part::text("ok")]);
            sink.complete(Some(m)).await.map_err(|e| ExecutorError(e.to_string()))
        })
    }
}

fn card() -> AgentCard {
    AgentCard {
        name: "bench".into(),
        description: "bench".into(),
        supported_interfaces: vec![AgentInterface {
            url: "https://127.0.0.1/".into(),
            protocol_binding: "JSONRPC".into(),
            tenant: String::new(),
            protocol_version: "1.0".into(),
        }],
        provider: None,
        version: "1".into(),
        documentation_url: None,
        capabilities: AgentCapabilities { streaming: Some(true), ..Default::default() },
        security_schemes: Default::default(),
        security_requirements: vec![],
        default_input_modes: vec!["text/plain".into()],
        default_output_modes: vec!["text/plain".into()],
        skills: vec![],
        signatures: vec![],
        icon_url: None,
    }
}

const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m-1","role":"ROLE_USER","parts":[{"text":"hello"},{"data":{"capability":"quote","amount":"12.50"}}],"metadata":{"capability":"quote"}}}}"#;

fn bench(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let router = A2aServer::builder(card(), Arc::new(Trivial)).build().unwrap().router();
    let caller = SpiffeId::parse("spiffe://example.org/agent/bench").unwrap();

    let mut g = c.benchmark_group("send_message");
    g.bench_function("baseline_serde_parse_request", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_str(BODY).unwrap();
            let r: SendMessageRequest = serde_json::from_value(v["params"].clone()).unwrap();
            std::hint::black_box(r);
        })
    });
    g.bench_function("jsonrpc_full_service", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut req = http::Request::post("/")
                    .header("content-type", "application/json")
                    .header("a2a-version", "1.0")
                    .body(Body::from(BODY))
                    .unwrap();
                req.extensions_mut().insert(caller.clone());
                let resp = router.clone().oneshot(req).await.unwrap();
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                std::hint::black_box(bytes);
            })
        })
    });
    g.finish();

    let event = StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: "3f36680c-7f37-4a5f-945e-d78981fafd36".into(),
        context_id: "c295ea44-7543-4f78-b524-7a38915ad6e4".into(),
        status: TaskStatus::new(TaskState::Working),
        metadata: None,
    });
    let mut g = c.benchmark_group("sse_event");
    g.bench_function("baseline_serde_to_vec", |b| {
        b.iter(|| std::hint::black_box(serde_json::to_vec(&event).unwrap()))
    });
    g.bench_function("encode_event", |b| {
        b.iter(|| std::hint::black_box(encode_event(&event).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

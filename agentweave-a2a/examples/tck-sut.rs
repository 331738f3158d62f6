//! A system under test for the A2A TCK (a2aproject/a2a-tck, branch 1.0-dev).
//!
//! Behaves as the TCK's scenarios expect from the `messageId` prefix of each message and
//! serves JSON-RPC at `/` and HTTP+JSON under `/a2a/rest` over plain HTTP on 127.0.0.1.
//! It runs with DANGER settings that a production agent must never use: anonymous callers
//! (there is no mTLS) and webhooks to loopback (the TCK's receiver runs on localhost).
//!
//! ```text
//! cargo run -p agentweave-a2a --example tck-sut -- --port 9999
//! ```

use std::sync::Arc;
use std::time::Duration;

use agentweave_a2a::server::{
    A2aServer, AgentExecutor, EventSink, ExecutorError, PushPolicy, RequestContext,
};
use agentweave_a2a::types::{
    AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill, Artifact,
    BINDING_HTTP_JSON, BINDING_JSONRPC, Part,
};
use clap::Parser;
use futures::future::BoxFuture;

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1 only).
    #[arg(long, default_value_t = 9999)]
    port: u16,
}

struct TckExecutor;

fn err(e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError(e.to_string())
}

async fn run(ctx: RequestContext, sink: EventSink) -> Result<(), ExecutorError> {
    let id = ctx.message.message_id.clone();
    let text = |t: &str| vec![Part::text(t)];
    let file = || {
        vec![Part::raw(b"tck".to_vec()).with_media_type("text/plain").with_filename("output.txt")]
    };
    let p = |prefix: &str| id.starts_with(prefix);
    if p("tck-stream-artifact-chunked") {
        sink.working().await.map_err(err)?;
        let a = Artifact::new(text("chunk-1 "));
        let aid = a.artifact_id.clone();
        sink.artifact(a, true, false).await.map_err(err)?;
        sink.artifact(Artifact::new(text("chunk-2")).with_id(aid), true, true)
            .await
            .map_err(err)?;
        sink.complete(None).await.map_err(err)?;
    } else if p("test-resubscribe-message-id") {
        sink.working().await.map_err(err)?;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(4)) => {}
            () = ctx.cancelled() => return Ok(()),
        }
        sink.complete(None).await.map_err(err)?;
    } else if p("tck-stream-artifact-text") {
        streamed(&sink, Artifact::new(text("Streamed text content"))).await?;
    } else if p("tck-stream-artifact-file") {
        streamed(&sink, Artifact::new(file())).await?;
    } else if p("tck-stream-ordering-001") {
        streamed(&sink, Artifact::new(text("Ordered output"))).await?;
    } else if p("tck-artifact-file-url") {
        let part = Part::url("https://example.com/output.txt")
            .with_media_type("text/plain")
            .with_filename("output.txt");
        sink.artifact(Artifact::new(vec![part]), false, false).await.map_err(err)?;
        sink.complete(None).await.map_err(err)?;
    } else if p("tck-message-response") {
        sink.reply(sink.agent_message(text("Direct message response"))).await.map_err(err)?;
    } else if p("tck-input-required") {
        sink.input_required(None).await.map_err(err)?;
    } else if p("tck-complete-task") {
        sink.complete(Some(sink.agent_message(text("Hello from TCK")))).await.map_err(err)?;
    } else if p("tck-artifact-text") {
        sink.artifact(Artifact::new(text("Generated text content")), false, false)
            .await
            .map_err(err)?;
        sink.complete(None).await.map_err(err)?;
    } else if p("tck-artifact-file") {
        sink.artifact(Artifact::new(file()), false, false).await.map_err(err)?;
        sink.complete(None).await.map_err(err)?;
    } else if p("tck-artifact-data") {
        let data = serde_json::json!({"key": "value", "count": 42});
        sink.artifact(Artifact::new(vec![Part::data(data)]), false, false).await.map_err(err)?;
        sink.complete(None).await.map_err(err)?;
    } else if p("tck-reject-task") {
        sink.reject(Some(sink.agent_message(text("rejected")))).await.map_err(err)?;
    } else if p("tck-stream-001") {
        streamed(&sink, Artifact::new(text("Stream hello from TCK"))).await?;
    } else if p("tck-stream-002") {
        sink.complete(None).await.map_err(err)?;
    } else if p("tck-stream-003") {
        streamed(&sink, Artifact::new(text("Stream task lifecycle"))).await?;
    } else {
        let reply = sink.agent_message(text(&format!("Unhandled messageId prefix: {id}")));
        sink.complete(Some(reply)).await.map_err(err)?;
    }
    Ok(())
}

async fn streamed(sink: &EventSink, artifact: Artifact) -> Result<(), ExecutorError> {
    sink.working().await.map_err(err)?;
    sink.artifact(artifact, false, false).await.map_err(err)?;
    sink.complete(None).await.map_err(err)
}

impl AgentExecutor for TckExecutor {
    fn execute(
        &self,
        ctx: RequestContext,
        sink: EventSink,
    ) -> BoxFuture<'static, Result<(), ExecutorError>> {
        Box::pin(run(ctx, sink))
    }
}

fn card(port: u16) -> AgentCard {
    let base = format!("http://127.0.0.1:{port}");
    AgentCard {
        name: "AgentWeave A2A TCK SUT".into(),
        description: "AgentWeave agentweave-a2a system under test for the A2A TCK".into(),
        supported_interfaces: vec![
            AgentInterface {
                url: base.clone(),
                protocol_binding: BINDING_JSONRPC.into(),
                tenant: String::new(),
                protocol_version: "1.0".into(),
            },
            AgentInterface {
                url: format!("{base}/a2a/rest"),
                protocol_binding: BINDING_HTTP_JSON.into(),
                tenant: String::new(),
                protocol_version: "1.0".into(),
            },
        ],
        provider: Some(AgentProvider {
            url: "https://agentweave.dev".into(),
            organization: "AgentWeave".into(),
        }),
        version: "1.0.0".into(),
        documentation_url: None,
        capabilities: AgentCapabilities {
            streaming: Some(true),
            push_notifications: Some(true),
            extensions: vec![],
            extended_agent_card: Some(true),
        },
        security_schemes: Default::default(),
        security_requirements: vec![],
        default_input_modes: vec!["text/plain".into(), "application/json".into()],
        default_output_modes: vec!["text/plain".into(), "application/json".into()],
        skills: vec![AgentSkill {
            id: "tck".into(),
            name: "TCK Conformance".into(),
            description: "Handles TCK conformance test messages".into(),
            tags: vec!["tck".into()],
            examples: vec![],
            input_modes: vec![],
            output_modes: vec![],
            security_requirements: vec![],
        }],
        signatures: vec![],
        icon_url: None,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let public = card(args.port);
    let mut extended = public.clone();
    extended.description =
        format!("{} (extended card for authenticated callers)", public.description);
    let server = A2aServer::builder(public, Arc::new(TckExecutor))
        .extended_card(extended)
        .rest_prefix("/a2a/rest")
        .push_policy(PushPolicy::default().danger_allow_private_targets())
        .danger_allow_anonymous_callers()
        .build()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    tracing::info!("A2A TCK SUT listening on http://127.0.0.1:{}", args.port);
    axum::serve(listener, server.router()).await?;
    Ok(())
}

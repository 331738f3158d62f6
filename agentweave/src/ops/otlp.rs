//! OTLP span export (feature `otlp`): the agent's `tracing` spans (`a2a.inbound`,
//! `agentweave.execute`, `agentweave.call`, and the application's own) go to an OpenTelemetry
//! collector over OTLP/HTTP with protobuf bodies, in batches.
//!
//! The exported spans belong to the W3C trace the agents propagate: the root span of each
//! inbound request and of each call made outside a request is parented on the
//! [`TraceContext`] (`traceparent`), so a collector groups every hop of a
//! call chain under the one trace id that handlers and audit records show.
//!
//! The client is plain HTTP (hyper, no TLS stack of its own): point it at a collector on the
//! same host or pod (`http://127.0.0.1:4318/v1/traces`), which forwards over TLS.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use super::trace::TraceContext;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why OTLP export could not be set up.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// Not called inside a tokio runtime (the exporter's HTTP client runs on it).
    #[error("OTLP export must be set up inside a tokio runtime")]
    NoRuntime,
    /// The endpoint is not a plain `http://` URL.
    #[error("OTLP endpoint {endpoint:?}: {detail}")]
    Endpoint {
        /// The endpoint given.
        endpoint: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// The exporter could not be built.
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    /// A global `tracing` subscriber was already installed ([`install`] only).
    #[error("a global tracing subscriber is already installed: {0}")]
    SubscriberInstalled(String),
}

/// Keeps the export pipeline running; dropping it flushes the spans still queued and stops the
/// exporter. Drop it outside async code or on a multi-threaded runtime: the final export runs
/// on the runtime the exporter was set up on.
#[derive(Debug)]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "OTLP exporter did not shut down cleanly");
        }
    }
}

/// The hyper client, run on the tokio runtime it was built on: the SDK's batch processor
/// exports from a thread of its own with a plain executor, where hyper and tokio timers have no
/// reactor.
#[derive(Clone, Debug)]
struct OnRuntime {
    client: HyperClient,
    runtime: tokio::runtime::Handle,
}

impl HttpClient for OnRuntime {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move { client.send_bytes(request).await });
        Box::pin(async move { task.await.map_err(|e| -> HttpError { Box::new(e) })? })
    }
}

fn provider(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, OtlpError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| OtlpError::NoRuntime)?;
    let bad = |detail| OtlpError::Endpoint { endpoint: endpoint.to_owned(), detail };
    let uri: http::Uri = endpoint.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(bad(
            "must be http://host:port/path (a local collector; no TLS client is built in)",
        ));
    }
    let client =
        OnRuntime { client: HyperClient::with_default_connector(EXPORT_TIMEOUT, None), runtime };
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| OtlpError::Exporter(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
        .build())
}

/// A `tracing` layer exporting spans to the OTLP/HTTP traces `endpoint` (for example
/// `http://127.0.0.1:4318/v1/traces`) as `service_name`, to add to the application's own
/// subscriber; keep the guard as long as spans should be exported.
pub fn layer<S>(
    endpoint: &str,
    service_name: &str,
) -> Result<(impl tracing_subscriber::Layer<S> + Send + Sync + 'static, OtlpGuard), OtlpError>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let provider = provider(endpoint, service_name)?;
    let tracer = provider.tracer("agentweave");
    Ok((tracing_opentelemetry::layer().with_tracer(tracer), OtlpGuard { provider }))
}

/// Installs the global `tracing` subscriber: log lines to stderr (filtered by `RUST_LOG`,
/// default `info`) and every span exported to `endpoint` as `service_name`. For programs that
/// set up logging themselves, use [`layer`] instead.
pub fn install(endpoint: &str, service_name: &str) -> Result<OtlpGuard, OtlpError> {
    let (otlp, guard) = layer(endpoint, service_name)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(otlp)
        .try_init()
        .map_err(|e| OtlpError::SubscriberInstalled(e.to_string()))?;
    Ok(guard)
}

/// Parents `span` on `trace`: its remote parent span when there is one, else the trace itself
/// (so that the exported span carries our trace id). Without an OpenTelemetry layer this does
/// nothing.
pub(crate) fn adopt(span: &tracing::Span, trace: &TraceContext) {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let parent = trace.parent_span_id.unwrap_or(trace.span_id);
    let context = SpanContext::new(
        TraceId::from_bytes(trace.trace_id.to_bytes()),
        SpanId::from_bytes(parent.to_bytes()),
        TraceFlags::new(trace.flags),
        true,
        TraceState::default(),
    );
    // An error means no OpenTelemetry layer sees this span: nothing to export.
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(context));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn endpoints_other_than_plain_http_are_refused() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert!(matches!(
            provider("http://127.0.0.1:4318/v1/traces", "x"),
            Err(OtlpError::NoRuntime)
        ));
        let _entered = runtime.enter();
        for endpoint in ["https://collector:4318/v1/traces", "collector:4318", "", "http:///v1"] {
            let error = provider(endpoint, "x").unwrap_err();
            assert!(matches!(error, OtlpError::Endpoint { .. }), "{endpoint}: {error}");
        }
    }

    /// A collector that accepts one export and hands back its request line, headers and body.
    async fn collector() -> (std::net::SocketAddr, tokio::sync::oneshot::Receiver<(String, Vec<u8>)>)
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let n = stream.read(&mut buf).await.unwrap();
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let head = text[..end].to_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap();
                    if raw.len() >= end + 4 + length {
                        break (head, raw[end + 4..end + 4 + length].to_vec());
                    }
                }
            };
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
            let _ = tx.send((head, body));
        });
        (addr, rx)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spans_are_exported_in_the_propagated_trace() {
        let (addr, exported) = collector().await;
        let endpoint = format!("http://{addr}/v1/traces");
        let (otlp, guard) = layer::<tracing_subscriber::Registry>(&endpoint, "otlp-test").unwrap();
        let subscriber = tracing_subscriber::registry().with(otlp);
        let trace = TraceContext::root();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("a2a.inbound");
            adopt(&span, &trace);
            span.in_scope(|| tracing::info!("inside"));
        });
        // Shutting down flushes the batch; it blocks, so not on a runtime worker.
        tokio::task::spawn_blocking(move || drop(guard)).await.unwrap();
        let (head, body) = exported.await.unwrap();
        assert!(head.starts_with("POST /v1/traces HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("content-type: application/x-protobuf"),
            "{head}"
        );
        let id = trace.trace_id.to_bytes();
        assert!(body.windows(16).any(|w| w == id), "the span carries the propagated trace id");
        assert!(body.windows(9).any(|w| w == b"otlp-test"), "the service name is exported");
    }
}

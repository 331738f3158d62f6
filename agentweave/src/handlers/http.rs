//! `kind: http`: POSTs the payload as JSON to a local business service and answers with its JSON
//! response, so business logic can live in any language next to the agent.
//!
//! The request carries `content-type: application/json`, `x-agentweave-caller` (the caller's
//! SPIFFE ID, proven by mTLS), `x-agentweave-capability`, and a W3C `traceparent` carrying the
//! request's trace id. A 2xx JSON body is the output; anything else (another status, a body that
//! is not JSON or is larger than [`MAX_RESPONSE_BYTES`], no answer within the timeout) is a
//! [`HandlerError`] naming what went wrong. The caller sees the status, not the service's URL
//! or body (those are logged here).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::agent::{Capability, HandlerError, RequestContext};
use crate::config::HttpTarget;

/// Largest response body accepted from the business service (4 MiB).
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// Header carrying the caller's SPIFFE ID.
pub const CALLER_HEADER: &str = "x-agentweave-caller";
/// Header carrying the capability name.
pub const CAPABILITY_HEADER: &str = "x-agentweave-capability";

/// A client for one business service URL (connections are pooled).
#[derive(Clone, Debug)]
pub struct HttpHandler {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: http::Uri,
    timeout: Duration,
}

impl HttpHandler {
    /// A handler posting to `url` (`http://` only; see the config rules) with `timeout_ms` for
    /// the whole exchange.
    pub fn new(url: &str, timeout_ms: u64) -> Result<Self, String> {
        HttpTarget::parse(url)?;
        let uri: http::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { client, uri, timeout: Duration::from_millis(timeout_ms) })
    }

    /// Sends one request's payload and returns the service's JSON answer.
    pub async fn handle(&self, ctx: RequestContext) -> Result<Value, HandlerError> {
        match tokio::time::timeout(self.timeout, self.exchange(&ctx)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(url = %self.uri, timeout_ms = self.timeout.as_millis(), "business service timed out");
                Err(HandlerError::new(format!(
                    "the business service did not answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }

    async fn exchange(&self, ctx: &RequestContext) -> Result<Value, HandlerError> {
        let body = serde_json::to_vec(&ctx.payload)
            .map_err(|e| HandlerError::new(format!("the payload cannot be encoded: {e}")))?;
        let header = |value: &str, name: &str| {
            HeaderValue::from_str(value)
                .map_err(|_| HandlerError::new(format!("{name} is not a valid header value")))
        };
        let mut request = http::Request::post(self.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(CALLER_HEADER, header(ctx.caller.as_str(), "the caller id")?)
            .header(CAPABILITY_HEADER, header(&ctx.capability, "the capability name")?);
        // The business service's work is a child span of this request, in the caller's trace.
        let traceparent = ctx.trace.child().traceparent();
        request = request.header("traceparent", header(&traceparent, "the trace context")?);
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HandlerError::new(format!("the request cannot be built: {e}")))?;
        let response = self.client.request(request).await.map_err(|e| {
            tracing::warn!(url = %self.uri, error = %chain(&e), "business service unreachable");
            HandlerError::new("the business service is unreachable")
        })?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                tracing::warn!(url = %self.uri, error = %e, "business service body failed");
                HandlerError::new(format!(
                    "the business service's answer (HTTP {status}) was cut off or exceeds {MAX_RESPONSE_BYTES} bytes"
                ))
            })?
            .to_bytes();
        if !status.is_success() {
            tracing::warn!(url = %self.uri, %status, "business service refused the request");
            return Err(HandlerError::new(format!("the business service answered HTTP {status}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(url = %self.uri, error = %e, "business service answered non-JSON");
            HandlerError::new(format!(
                "the business service answered HTTP {status} with a body that is not JSON"
            ))
        })
    }
}

/// A capability `name` handled by `handler`.
pub fn capability(name: &str, handler: HttpHandler) -> Capability {
    let handler = Arc::new(handler);
    Capability::new(name, move |ctx| {
        let handler = handler.clone();
        async move { handler.handle(ctx).await }
    })
}

/// An error with its sources, for logs (hyper's top-level messages are terse).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;

    use agentweave_identity::SpiffeId;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use serde_json::json;

    use super::*;
    use crate::ops::trace::TraceContext;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    async fn route(
        request: http::Request<hyper::body::Incoming>,
    ) -> Result<http::Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        let header = |name: &str| {
            request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let seen = json!({
            "method": request.method().as_str(),
            "content_type": header("content-type"),
            "caller": header(CALLER_HEADER),
            "capability": header(CAPABILITY_HEADER),
            "traceparent": header("traceparent"),
        });
        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let reply = |status: u16, body: Vec<u8>| {
            let mut response = http::Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            Ok(response)
        };
        match path.as_str() {
            "/echo" => {
                let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                reply(200, serde_json::to_vec(&json!({"seen": seen, "input": input})).unwrap())
            }
            "/fail" => reply(503, br#"{"secret": "internal detail"}"#.to_vec()),
            "/text" => reply(200, b"plain words".to_vec()),
            "/big" => reply(200, vec![b' '; MAX_RESPONSE_BYTES + 1]),
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                reply(200, b"{}".to_vec())
            }
            _ => reply(404, Vec::new()),
        }
    }

    async fn business_service() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(route)),
                );
            }
        });
        addr
    }

    /// The span of the request that reached the agent (the handler's parent).
    const REQUEST_SPAN: &str = "00f067aa0ba902b7";

    fn ctx(trace_id: &str) -> RequestContext {
        let header = format!("00-{trace_id}-{REQUEST_SPAN}-01");
        let trace = TraceContext::from_header_values(std::iter::once(header.as_bytes()));
        RequestContext {
            caller: SpiffeId::parse("spiffe://example.org/agent/caller").unwrap(),
            capability: "invoice.pay".into(),
            task_id: "t-1".into(),
            context_id: "c-1".into(),
            payload: json!({"amount": "12.50"}),
            trace_id: trace.trace_id.to_string(),
            trace,
            progress: crate::agent::Progress::detached(),
        }
    }

    #[tokio::test]
    async fn posts_the_payload_with_identity_headers_and_returns_the_json_answer() {
        let addr = business_service().await;
        let handler = HttpHandler::new(&format!("http://{addr}/echo"), 5_000).unwrap();
        let output = handler.handle(ctx(TRACE)).await.unwrap();
        assert_eq!(output["input"], json!({"amount": "12.50"}));
        let seen = &output["seen"];
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["content_type"], "application/json");
        assert_eq!(seen["caller"], "spiffe://example.org/agent/caller");
        assert_eq!(seen["capability"], "invoice.pay");
        // A child span of the request's trace: same trace id, a new span id.
        let traceparent = seen["traceparent"].as_str().unwrap();
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!((parts.len(), parts[0], parts[1]), (4, "00", TRACE), "{traceparent}");
        assert_ne!(parts[2], REQUEST_SPAN, "{traceparent}");
    }

    #[tokio::test]
    async fn failures_become_handler_errors_naming_what_went_wrong() {
        let addr = business_service().await;
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let cases = [
            (format!("http://{addr}/fail"), 5_000, "HTTP 503"),
            (format!("http://{addr}/missing"), 5_000, "HTTP 404"),
            (format!("http://{addr}/text"), 5_000, "not JSON"),
            (format!("http://{addr}/big"), 5_000, "exceeds 4194304 bytes"),
            (format!("http://{addr}/slow"), 200, "did not answer within 200 ms"),
            (format!("http://{closed}/echo"), 5_000, "unreachable"),
        ];
        for (url, timeout_ms, expected) in cases {
            let handler = HttpHandler::new(&url, timeout_ms).unwrap();
            let error = handler.handle(ctx(TRACE)).await.unwrap_err();
            assert!(error.0.contains(expected), "{url}: {error}");
            assert!(!error.0.contains("internal detail"), "the body is not passed on: {error}");
            assert!(!error.0.contains(&addr.to_string()), "the URL is not passed on: {error}");
        }
    }

    #[test]
    fn only_http_urls_build_a_handler() {
        for url in
            ["https://127.0.0.1:1/", "ftp://127.0.0.1/", "not a url", "http://u:p@127.0.0.1/"]
        {
            assert!(HttpHandler::new(url, 1_000).is_err(), "{url}");
        }
    }
}

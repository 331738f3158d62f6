//! The first inbound step: the request's trace context and its metrics.
//!
//! For each HTTP request on the mTLS listener it
//! * establishes the trace: the caller's `traceparent` when exactly one well-formed value was
//!   sent (a new span in the caller's trace), a new trace otherwise (never an error);
//! * runs the rest of the pipeline inside a `tracing` span carrying `trace_id` and `span_id`,
//!   with a per-request [`RequestState`] in a task-local that the later steps fill in: the
//!   authorizer names the A2A method and a refusal, the executor the outcome of a send;
//! * when the response head is ready, records `agentweave_inbound_requests_total` and
//!   `agentweave_inbound_request_duration_seconds` with the method and outcome known by then.
//!
//! The executor reads the state synchronously when the A2A server hands it a message (still in
//! this request's task), so the handler gets this request's trace even though it runs on
//! another task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use agentweave_a2a::A2aMethod;
use agentweave_a2a::card::AGENT_CARD_PATH;
use futures::future::BoxFuture;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::ops::labels::{InboundOutcome, METHOD_CARD, METHOD_OTHER, method_index};
use crate::ops::metrics::Metrics;
use crate::ops::trace::{TRACEPARENT, TraceContext};

tokio::task_local! {
    static REQUEST: Arc<RequestState>;
}

/// What the pipeline learns about one inbound request.
#[derive(Debug)]
pub(crate) struct RequestState {
    /// This request's trace context (its own span in the caller's trace, or a new trace).
    pub(crate) trace: TraceContext,
    method: AtomicU8,
    outcome: AtomicU8,
}

impl RequestState {
    fn new(trace: TraceContext, method: u8) -> Self {
        Self { trace, method: AtomicU8::new(method), outcome: AtomicU8::new(u8::MAX) }
    }

    /// The A2A method being served (set by the authorizer).
    pub(crate) fn set_method(&self, method: A2aMethod) {
        self.method.store(method_index(method), Ordering::Relaxed);
    }

    /// How the request ended, as far as the pipeline knows (set before the answer is produced).
    pub(crate) fn set_outcome(&self, outcome: InboundOutcome) {
        self.outcome.store(outcome as u8, Ordering::Relaxed);
    }

    fn outcome(&self, status: http::StatusCode) -> InboundOutcome {
        match self.outcome.load(Ordering::Relaxed) {
            u8::MAX if status.as_u16() >= 400 => InboundOutcome::HttpError,
            u8::MAX => InboundOutcome::Answered,
            v => InboundOutcome::from_u8(v),
        }
    }
}

/// The state of the inbound request this task is serving, if any.
pub(crate) fn current_request() -> Option<Arc<RequestState>> {
    REQUEST.try_with(Arc::clone).ok()
}

/// Wraps the rest of the inbound pipeline.
#[derive(Clone, Debug)]
pub(crate) struct Observed<S> {
    pub(crate) inner: S,
    pub(crate) metrics: Arc<Metrics>,
}

impl<S, B, R> tower::Service<http::Request<B>> for Observed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let values = request.headers().get_all(TRACEPARENT).iter().map(|v| v.as_bytes());
        let trace = TraceContext::from_header_values(values);
        let card = request.method() == http::Method::GET && request.uri().path() == AGENT_CARD_PATH;
        let state =
            Arc::new(RequestState::new(trace, if card { METHOD_CARD } else { METHOD_OTHER }));
        let span = tracing::info_span!(
            "a2a.inbound",
            trace_id = %trace.trace_id,
            span_id = %trace.span_id,
            parent_span_id = trace.parent_span_id.map(tracing::field::display),
        );
        crate::ops::otlp::adopt(&span, &trace);
        let future = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let result = REQUEST.scope(state.clone(), trace.scope(future)).await;
                let status = match &result {
                    Ok(response) => response.status(),
                    Err(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
                };
                let method = state.method.load(Ordering::Relaxed);
                metrics.inbound(method, state.outcome(status), started.elapsed());
                result
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Service, ServiceExt};

    #[tokio::test]
    async fn the_pipeline_sees_the_callers_trace_or_a_new_one() {
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry));
        let echo = tower::service_fn(|_r: http::Request<()>| async move {
            let state = current_request().unwrap();
            assert_eq!(TraceContext::current(), Some(state.trace));
            state.set_method(A2aMethod::GetTask);
            state.set_outcome(InboundOutcome::Denied);
            Ok::<_, std::convert::Infallible>(http::Response::new(state.trace.trace_id.to_string()))
        });
        let mut service = Observed { inner: echo, metrics };
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        for (header, continued) in [
            (Some(format!("00-{trace}-00f067aa0ba902b7-01")), true),
            (Some(format!("00-{trace}-00f067aa0ba902b7-01junk")), false),
            (Some("\u{7f}".to_owned()), false),
            (None, false),
        ] {
            let mut request = http::Request::new(());
            if let Some(h) = &header
                && let Ok(value) = http::HeaderValue::from_str(h)
            {
                request.headers_mut().insert(TRACEPARENT, value);
            }
            let seen = service.ready().await.unwrap().call(request).await.unwrap().into_body();
            assert_eq!(seen == trace, continued, "{header:?}");
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains(
            "agentweave_inbound_requests_total{method=\"GetTask\",outcome=\"denied\"} 4"
        ));
    }
}

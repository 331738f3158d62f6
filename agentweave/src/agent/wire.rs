//! What travels in A2A messages between AgentWeave agents, and the one place that builds and
//! reads the outbound `SendMessage` exchange.
//!
//! The outbound half is deliberately small: it encodes a JSON-RPC `SendMessage` with
//! `agentweave-a2a`'s own types and decodes the answer, so that switching to the A2A client (when
//! that crate has one) replaces only [`send_message`].
//!
//! | where | key | value |
//! | --- | --- | --- |
//! | request message metadata | [`CAPABILITY_KEY`] | the capability name (the policy action) |
//! | request HTTP header | `traceparent` | the W3C trace context (see [`crate::ops::trace`]): the trace id the callee continues |
//! | request message metadata | [`TRACE_ID_KEY`] | the same trace id (32 lowercase hex), informative, for readers of the message alone; the callee ignores it |
//! | request message | first data part | the payload (any JSON; an object when guarded) |
//! | response message metadata | [`VERDICT_KEY`] | the guard verdict summary, with its attestation |
//! | response message | first data part | the handler's result |

use agentweave_a2a::types::{
    Message, Part, SendMessageConfiguration, SendMessageRequest, SendMessageResponse,
};
use agentweave_a2a::version::{PROTOCOL_VERSION, VERSION_HEADER};
use agentweave_transport::{Peer, SendOptions, Transport, TransportError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Message metadata key naming the capability a message invokes.
pub const CAPABILITY_KEY: &str = "agentweave/capability";
/// Message metadata key repeating the caller's trace id in the message itself. Informative only:
/// the `traceparent` header is what the callee continues.
pub const TRACE_ID_KEY: &str = "agentweave/trace-id";
/// Response message metadata key carrying the guard verdict and its attestation.
pub const VERDICT_KEY: &str = "agentweave/verdict";

/// The guard verdict as the callee reports it to the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerdictSummary {
    /// `forwarded`, `blocked`, `heuristic_pass`, `unverifiable`, `rejected` or `error`.
    pub status: String,
    /// The machine-readable reason (`finance.mismatch`, …).
    pub reason_code: String,
    /// The human-readable reason, when the guard gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The guard's trace id (the attestation's `jti`).
    pub audit_trace_id: String,
    /// The engine that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The payload type the verdict is about (`financial_transaction`, …).
    pub payload_type: String,
    /// The ES256 compact JWS, when the verdict was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// The string value of `key` in a message's metadata.
pub(crate) fn metadata_str<'a>(message: &'a Message, key: &str) -> Option<&'a str> {
    message.metadata.as_ref()?.get(key)?.as_str()
}

/// The first data part of a message.
pub(crate) fn first_data(message: &Message) -> Option<&Value> {
    message.parts.iter().find_map(Part::as_data)
}

/// The user message invoking `capability` with `payload`.
pub(crate) fn request_message(capability: &str, payload: Value, trace_id: &str) -> Message {
    let mut metadata = Map::new();
    metadata.insert(CAPABILITY_KEY.to_owned(), Value::String(capability.to_owned()));
    metadata.insert(TRACE_ID_KEY.to_owned(), Value::String(trace_id.to_owned()));
    let mut message = Message::user(vec![Part::data(payload)]);
    message.metadata = Some(metadata);
    message
}

/// What came back from a `SendMessage`, before it is interpreted as a call outcome.
#[derive(Debug)]
pub(crate) enum Exchange {
    /// A JSON-RPC result.
    Result(Box<SendMessageResponse>),
    /// A JSON-RPC error (or an HTTP error carrying one).
    Error {
        /// The JSON-RPC code.
        code: i64,
        /// The message.
        message: String,
    },
}

/// Why the exchange failed below the A2A level.
#[derive(Debug)]
pub(crate) enum ExchangeFault {
    /// The transport failed (connect, TLS, breaker, timeout).
    Transport(TransportError),
    /// The peer answered something that is not an A2A `SendMessage` response.
    Protocol(String),
}

/// Largest response body read from a peer.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Sends one JSON-RPC `SendMessage` to `peer`, with `traceparent` as the W3C trace header, and
/// decodes the answer. Never retried: a send has side effects.
pub(crate) async fn send_message(
    transport: &dyn Transport,
    peer: &Peer,
    message: Message,
    traceparent: &str,
    options: SendOptions,
) -> Result<Exchange, ExchangeFault> {
    // The caller reads only the task's id and status: asking for no history spares both ends
    // encoding and parsing an echo of the request message (the payload) in the answer.
    let configuration =
        SendMessageConfiguration { history_length: Some(0), ..SendMessageConfiguration::default() };
    let params = SendMessageRequest {
        tenant: String::new(),
        message,
        configuration: Some(configuration),
        metadata: None,
    };
    let id = Value::String(uuid::Uuid::new_v4().to_string());
    let request = jsonrpc_request("SendMessage", &id, &params, traceparent, Accept::Json)
        .map_err(ExchangeFault::Protocol)?;
    let response =
        transport.send(peer, request, options).await.map_err(ExchangeFault::Transport)?;
    let status = response.status();
    let bytes = response.into_body().collect_bytes().await.map_err(ExchangeFault::Transport)?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(ExchangeFault::Protocol(format!(
            "response of {} bytes exceeds the {MAX_RESPONSE_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let envelope: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ExchangeFault::Protocol(format!("HTTP {status}: response is not JSON: {e}"))
    })?;
    decode_envelope(&id, envelope)
}

/// What the caller will read from the answer: one JSON document, or an SSE stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Accept {
    Json,
    EventStream,
}

/// The JSON-RPC request envelope, serialized in one pass (no intermediate `Value`).
#[derive(Serialize)]
struct Envelope<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    method: &'a str,
    params: &'a SendMessageRequest,
}

/// The HTTP request of an A2A JSON-RPC `method` call with `params`: the A2A version header and
/// the caller's `traceparent`, posted to `/`. The error is the reason it could not be built.
pub(crate) fn jsonrpc_request(
    method: &str,
    id: &Value,
    params: &SendMessageRequest,
    traceparent: &str,
    accept: Accept,
) -> Result<http::Request<bytes::Bytes>, String> {
    let envelope = Envelope { jsonrpc: "2.0", id, method, params };
    let body = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
    let accept = match accept {
        Accept::Json => "application/json",
        Accept::EventStream => "text/event-stream",
    };
    http::Request::post("/")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, accept)
        .header(VERSION_HEADER, PROTOCOL_VERSION)
        .header(crate::ops::trace::TRACEPARENT, traceparent)
        .body(bytes::Bytes::from(body))
        .map_err(|e| e.to_string())
}

fn decode_envelope(id: &Value, envelope: Value) -> Result<Exchange, ExchangeFault> {
    let Value::Object(mut envelope) = envelope else {
        return Err(ExchangeFault::Protocol("response is not a JSON object".into()));
    };
    if let Some(error) = envelope.remove("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(jsonrpc_internal());
        let message =
            error.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_owned();
        return Ok(Exchange::Error { code, message });
    }
    if envelope.get("id") != Some(id) {
        return Err(ExchangeFault::Protocol("response id does not match the request id".into()));
    }
    let result = envelope
        .remove("result")
        .ok_or_else(|| ExchangeFault::Protocol("response has neither result nor error".into()))?;
    serde_json::from_value(result)
        .map(|r| Exchange::Result(Box::new(r)))
        .map_err(|e| ExchangeFault::Protocol(format!("result is not a SendMessage response: {e}")))
}

fn jsonrpc_internal() -> i64 {
    agentweave_a2a::ErrorKind::Internal.jsonrpc_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_decode_to_results_errors_or_faults() {
        let id = Value::String("1".into());
        let err = serde_json::json!({"jsonrpc": "2.0", "id": "1", "error": {"code": -32031, "message": "no"}});
        assert!(matches!(
            decode_envelope(&id, err),
            Ok(Exchange::Error { code: -32031, ref message }) if message == "no"
        ));
        let wrong_id = serde_json::json!({"jsonrpc": "2.0", "id": "2", "result": {}});
        assert!(matches!(decode_envelope(&id, wrong_id), Err(ExchangeFault::Protocol(_))));
        let neither = serde_json::json!({"jsonrpc": "2.0", "id": "1"});
        assert!(matches!(decode_envelope(&id, neither), Err(ExchangeFault::Protocol(_))));
        let not_object = serde_json::json!([1]);
        assert!(matches!(decode_envelope(&id, not_object), Err(ExchangeFault::Protocol(_))));
        let msg = Message::agent(vec![Part::text("hi")]);
        let ok = serde_json::json!({"jsonrpc": "2.0", "id": "1", "result": {"message": msg}});
        let Ok(Exchange::Result(response)) = decode_envelope(&id, ok) else {
            panic!("a result was expected")
        };
        assert!(matches!(*response, SendMessageResponse::Message(_)));
    }
}

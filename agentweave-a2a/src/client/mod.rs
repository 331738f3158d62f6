//! The A2A 1.0 client, over the transport layer's [`Transport`] trait.
//!
//! [`A2aClient::discover`] fetches the agent card from `/.well-known/agent-card.json`, checks
//! the card's SPIFFE ID claim against the identity the transport proved in the mTLS
//! handshake (a card claiming another identity is refused) and pins that ID for every later
//! call, then picks a binding from `supportedInterfaces` (JSON-RPC first, then HTTP+JSON, by
//! default; see [`ClientConfig::bindings`]). Every request carries `A2A-Version: 1.0`.
//!
//! Everything the server sends is treated as hostile input: bodies are read up to
//! [`ClientConfig::max_response_bytes`], each server-sent event up to
//! [`ClientConfig::max_sse_event_bytes`], JSON-RPC ids must match, and every deviation is a
//! typed [`ClientError`], never a panic. Protocol errors the agent sends come back as
//! [`ClientError::Remote`] with the crate's [`A2aError`](crate::A2aError) (kind, message,
//! `ErrorInfo` metadata, `BadRequest` violations).
//!
//! Reads (`GetTask`, `ListTasks`, push configuration reads, the cards, subscriptions) are
//! marked safe to retry for the transport's retry policy; `SendMessage`, cancellation and
//! push configuration changes are sent at most once.
//!
//! Production traffic goes over `agentweave_transport::MtlsTransport`; the interface URL in
//! the card contributes its path (and tenant) only: the client keeps talking to the endpoint
//! and identity it was given, so a card cannot redirect calls to another host.
//!
//! ```no_run
//! # async fn run(transport: std::sync::Arc<dyn agentweave_transport::Transport>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use agentweave_a2a::client::{A2aClient, ClientConfig};
//! use agentweave_a2a::types::{Message, Part, SendMessageRequest, SendMessageResponse};
//! use agentweave_identity::SpiffeId;
//! use agentweave_transport::{Endpoint, ExpectedPeer, Peer};
//!
//! let peer = Peer::new(
//!     Endpoint::parse("search.internal:8443")?,
//!     ExpectedPeer::exact(SpiffeId::parse("spiffe://example.org/agent/search")?),
//! );
//! let client = A2aClient::discover(transport, peer, ClientConfig::default()).await?;
//! let request = SendMessageRequest {
//!     tenant: String::new(),
//!     message: Message::user(vec![Part::text("find flights to Lisbon")]),
//!     configuration: None,
//!     metadata: None,
//! };
//! if let SendMessageResponse::Task(task) = client.send_message(request).await? {
//!     println!("task {} is {:?}", task.id, task.status.state);
//! }
//! # Ok(()) }
//! ```

mod binding;
mod body;
mod error;
mod identity;
mod remote;
mod rest;
mod sse;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agentweave_transport::{
    ExpectedPeer, Peer, PeerIdentity, ResponseBody, Retry, SendOptions, Transport,
};
use bytes::Bytes;
use futures::stream::BoxStream;
use http::{HeaderValue, Method, Request, Response, header};
use serde::Serialize;
use serde_json::{Value, json};

pub use binding::{Binding, SelectedInterface};
pub use error::ClientError;

use crate::card::AGENT_CARD_PATH;
use crate::method::A2aMethod;
use crate::types::{
    AgentCard, CancelTaskRequest, DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest, GetTaskPushNotificationConfigRequest, GetTaskRequest,
    ListTaskPushNotificationConfigsRequest, ListTaskPushNotificationConfigsResponse,
    ListTasksRequest, ListTasksResponse, SendMessageRequest, SendMessageResponse, StreamResponse,
    SubscribeToTaskRequest, Task, TaskPushNotificationConfig,
};
use crate::version::{EXTENSIONS_HEADER, PROTOCOL_VERSION, VERSION_HEADER};

/// A stream of items from `SendStreamingMessage` or `SubscribeToTask`. It ends after the item
/// that closes the stream (a message, or a terminal or interrupted state), when the server
/// closes it, or after the first error.
pub type A2aStream = BoxStream<'static, Result<StreamResponse, ClientError>>;

/// Default bound on a response body: 4 MiB, the server's default request bound.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Default bound on one server-sent event: 4 MiB.
pub const DEFAULT_MAX_SSE_EVENT_BYTES: usize = 4 * 1024 * 1024;
/// Default bound on the agent card: 512 KiB.
pub const DEFAULT_MAX_CARD_BYTES: usize = 512 * 1024;

/// Client settings.
///
/// | setting | default |
/// | --- | --- |
/// | bindings, in preference order | JSON-RPC, HTTP+JSON |
/// | max response body | 4 MiB |
/// | max server-sent event | 4 MiB |
/// | max agent card | 512 KiB |
/// | request timeout (until the response head) | the transport's (30 s for `MtlsTransport`) |
/// | stream idle timeout | none (a task may legitimately be silent for long) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Bindings to use, most preferred first; interfaces of other bindings are ignored.
    pub bindings: Vec<Binding>,
    /// Largest response body read; larger bodies fail with [`ClientError::ResponseTooLarge`].
    pub max_response_bytes: usize,
    /// Largest single server-sent event; larger fail with [`ClientError::SseEventTooLarge`].
    pub max_sse_event_bytes: usize,
    /// Largest agent card read.
    pub max_card_bytes: usize,
    /// Overrides the transport's request timeout. A blocking `SendMessage` waits for the task
    /// to finish on the server, so raise this (or use `returnImmediately`) for slow agents.
    pub request_timeout: Option<Duration>,
    /// Fails a stream with [`ClientError::StreamIdle`] when nothing arrives for this long.
    pub stream_idle_timeout: Option<Duration>,
    /// Extension URIs to opt into, sent in `A2A-Extensions`.
    pub extensions: Vec<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            bindings: vec![Binding::JsonRpc, Binding::HttpJson],
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_sse_event_bytes: DEFAULT_MAX_SSE_EVENT_BYTES,
            max_card_bytes: DEFAULT_MAX_CARD_BYTES,
            request_timeout: None,
            stream_idle_timeout: None,
            extensions: Vec::new(),
        }
    }
}

/// An A2A client bound to one agent: its card, the chosen interface and the peer identity
/// pinned from the card. Share it behind an `Arc`; calls take `&self`.
pub struct A2aClient {
    transport: Arc<dyn Transport>,
    peer: Peer,
    card: AgentCard,
    interface: SelectedInterface,
    config: ClientConfig,
    next_id: AtomicU64,
}

impl std::fmt::Debug for A2aClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("A2aClient")
            .field("peer", &self.peer)
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

/// The ProtoJSON params of a request, as an object.
fn params<T: Serialize>(value: &T) -> Result<Value, ClientError> {
    serde_json::to_value(value)
        .map_err(|e| ClientError::InvalidRequest(format!("cannot serialize the request: {e}")))
}

fn retry_of(method: A2aMethod) -> Retry {
    match method {
        A2aMethod::GetTask
        | A2aMethod::ListTasks
        | A2aMethod::SubscribeToTask
        | A2aMethod::GetTaskPushNotificationConfig
        | A2aMethod::ListTaskPushNotificationConfigs
        | A2aMethod::GetExtendedAgentCard => Retry::SafeToRetry,
        _ => Retry::Never,
    }
}

fn verified_peer(response: &Response<ResponseBody>) -> Option<agentweave_identity::SpiffeId> {
    response.extensions().get::<PeerIdentity>().map(|p| p.spiffe_id().clone())
}

/// Checks a JSON-RPC response envelope and returns its `result`, or the error it carries.
fn envelope(value: Value, sent: u64) -> Result<Value, ClientError> {
    let Value::Object(mut obj) = value else {
        return Err(ClientError::malformed("the JSON-RPC response is not a JSON object"));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(ClientError::malformed("the JSON-RPC response lacks `\"jsonrpc\": \"2.0\"`"));
    }
    let id = obj.remove("id").unwrap_or(Value::Null);
    let id_matches = id.as_u64() == Some(sent);
    let mismatch = |id: &Value| ClientError::ResponseIdMismatch {
        sent,
        received: error::excerpt(&id.to_string(), 64),
    };
    match (obj.remove("result"), obj.remove("error")) {
        (Some(result), None) if id_matches => Ok(result),
        (Some(_), None) => Err(mismatch(&id)),
        // A server that could not read our request answers with a null id.
        (None, Some(e)) if id_matches || id.is_null() => Err(remote::from_jsonrpc_error(&e)),
        (None, Some(_)) => Err(mismatch(&id)),
        _ => Err(ClientError::malformed(
            "a JSON-RPC response must carry exactly one of `result` and `error`",
        )),
    }
}

impl A2aClient {
    /// Fetches the agent card from `peer`, checks its SPIFFE ID claim against the identity
    /// the transport verified, pins it, and selects an interface.
    pub async fn discover(
        transport: Arc<dyn Transport>,
        peer: Peer,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let request = Self::base_request(&config, Method::GET, AGENT_CARD_PATH, "application/json")
            .body(Bytes::new())
            .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        let options = SendOptions { retry: Retry::SafeToRetry, timeout: config.request_timeout };
        let response = transport.send(&peer, request, options).await?;
        let verified = verified_peer(&response);
        let (parts, body) = response.into_parts();
        let bytes = body::read_limited(&parts.headers, body, config.max_card_bytes).await?;
        if !parts.status.is_success() {
            return Err(ClientError::HttpStatus {
                status: parts.status.as_u16(),
                body: error::excerpt(&String::from_utf8_lossy(&bytes), 200),
            });
        }
        let card: AgentCard = body::from_value(body::parse_json(&bytes)?, "agent card")?;
        let pinned = identity::check_served_card(&card, &peer.expected, verified.as_ref())?;
        Self::assemble(transport, peer, card, pinned, config)
    }

    /// A client for a card obtained elsewhere (a registry, configuration). A SPIFFE ID the
    /// card claims must satisfy `peer.expected` and is then pinned, so the transport refuses
    /// any peer that does not prove it.
    pub fn from_card(
        transport: Arc<dyn Transport>,
        peer: Peer,
        card: AgentCard,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let pinned = identity::claimed_id(&card, &peer.expected)?;
        Self::assemble(transport, peer, card, pinned, config)
    }

    fn assemble(
        transport: Arc<dyn Transport>,
        mut peer: Peer,
        card: AgentCard,
        pinned: Option<agentweave_identity::SpiffeId>,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let interface = binding::select(&card, &config.bindings)?;
        if let Some(id) = pinned {
            peer.expected = ExpectedPeer::exact(id);
        }
        tracing::debug!(binding = %interface.binding, url = %interface.url, expected = %peer.expected,
            "A2A client ready");
        Ok(Self { transport, peer, card, interface, config, next_id: AtomicU64::new(1) })
    }

    /// The agent card the client was built from.
    pub fn card(&self) -> &AgentCard {
        &self.card
    }

    /// The interface in use.
    pub fn interface(&self) -> &SelectedInterface {
        &self.interface
    }

    /// The peer called, with the identity pinned from the card when it declared one.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// `SendMessage`: a task or a direct reply. Sent at most once (not safe to retry).
    pub async fn send_message(
        &self,
        request: SendMessageRequest,
    ) -> Result<SendMessageResponse, ClientError> {
        let value = self.unary(A2aMethod::SendMessage, self.with_tenant(params(&request)?)).await?;
        body::from_value(value, "SendMessage result")
    }

    /// `SendStreamingMessage`: the task's events as they happen, parsed incrementally.
    pub async fn send_streaming_message(
        &self,
        request: SendMessageRequest,
    ) -> Result<A2aStream, ClientError> {
        self.streaming(A2aMethod::SendStreamingMessage, self.with_tenant(params(&request)?)).await
    }

    /// `GetTask`.
    pub async fn task(&self, request: GetTaskRequest) -> Result<Task, ClientError> {
        let value = self.unary(A2aMethod::GetTask, self.with_tenant(params(&request)?)).await?;
        body::from_value(value, "task")
    }

    /// `ListTasks`: one page; pass `next_page_token` back for the next.
    pub async fn list_tasks(
        &self,
        request: ListTasksRequest,
    ) -> Result<ListTasksResponse, ClientError> {
        let value = self.unary(A2aMethod::ListTasks, self.with_tenant(params(&request)?)).await?;
        body::from_value(value, "ListTasks result")
    }

    /// `CancelTask`: the task as it stands after the cancellation.
    pub async fn cancel_task(&self, request: CancelTaskRequest) -> Result<Task, ClientError> {
        let value = self.unary(A2aMethod::CancelTask, self.with_tenant(params(&request)?)).await?;
        body::from_value(value, "task")
    }

    /// `SubscribeToTask`: the task's current state first, then its live events.
    pub async fn subscribe(
        &self,
        request: SubscribeToTaskRequest,
    ) -> Result<A2aStream, ClientError> {
        self.streaming(A2aMethod::SubscribeToTask, self.with_tenant(params(&request)?)).await
    }

    /// `CreateTaskPushNotificationConfig`: registers a webhook for `config.task_id`.
    pub async fn create_push_config(
        &self,
        config: TaskPushNotificationConfig,
    ) -> Result<TaskPushNotificationConfig, ClientError> {
        let value = self
            .unary(A2aMethod::CreateTaskPushNotificationConfig, self.with_tenant(params(&config)?))
            .await?;
        body::from_value(value, "push notification config")
    }

    /// `GetTaskPushNotificationConfig`.
    pub async fn push_config(
        &self,
        request: GetTaskPushNotificationConfigRequest,
    ) -> Result<TaskPushNotificationConfig, ClientError> {
        let value = self
            .unary(A2aMethod::GetTaskPushNotificationConfig, self.with_tenant(params(&request)?))
            .await?;
        body::from_value(value, "push notification config")
    }

    /// `ListTaskPushNotificationConfigs`.
    pub async fn list_push_configs(
        &self,
        request: ListTaskPushNotificationConfigsRequest,
    ) -> Result<ListTaskPushNotificationConfigsResponse, ClientError> {
        let value = self
            .unary(A2aMethod::ListTaskPushNotificationConfigs, self.with_tenant(params(&request)?))
            .await?;
        body::from_value(value, "ListTaskPushNotificationConfigs result")
    }

    /// `DeleteTaskPushNotificationConfig`.
    pub async fn delete_push_config(
        &self,
        request: DeleteTaskPushNotificationConfigRequest,
    ) -> Result<(), ClientError> {
        self.unary(A2aMethod::DeleteTaskPushNotificationConfig, self.with_tenant(params(&request)?))
            .await
            .map(drop)
    }

    /// `GetExtendedAgentCard`. A SPIFFE ID it claims must be the one the peer proved.
    pub async fn extended_card(&self) -> Result<AgentCard, ClientError> {
        let request = GetExtendedAgentCardRequest::default();
        let (value, verified) = self
            .unary_verified(A2aMethod::GetExtendedAgentCard, self.with_tenant(params(&request)?))
            .await?;
        let card: AgentCard = body::from_value(value, "extended agent card")?;
        identity::check_served_card(&card, &self.peer.expected, verified.as_ref())?;
        Ok(card)
    }

    /// Adds the interface's tenant to params that do not name one.
    fn with_tenant(&self, mut params: Value) -> Value {
        if !self.interface.tenant.is_empty()
            && let Some(obj) = params.as_object_mut()
            && obj.get("tenant").and_then(Value::as_str).is_none_or(str::is_empty)
        {
            obj.insert("tenant".into(), Value::String(self.interface.tenant.clone()));
        }
        params
    }

    fn base_request(
        config: &ClientConfig,
        method: Method,
        path_and_query: &str,
        accept: &'static str,
    ) -> http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(VERSION_HEADER, PROTOCOL_VERSION)
            .header(header::ACCEPT, accept);
        if !config.extensions.is_empty() {
            builder = builder.header(EXTENSIONS_HEADER, config.extensions.join(", "));
        }
        builder
    }

    /// Builds the HTTP request of `method` for the selected binding; returns it with the
    /// JSON-RPC id used (0 on HTTP+JSON).
    fn build(
        &self,
        method: A2aMethod,
        params: Value,
        accept: &'static str,
    ) -> Result<(Request<Bytes>, u64), ClientError> {
        let base = &self.interface.base_path;
        let invalid = |e: http::Error| ClientError::InvalidRequest(e.to_string());
        let serialize = |v: &Value| {
            serde_json::to_vec(v).map(Bytes::from).map_err(|e| {
                ClientError::InvalidRequest(format!("cannot serialize the request: {e}"))
            })
        };
        match self.interface.binding {
            Binding::JsonRpc => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let body = json!({"jsonrpc": "2.0", "id": id, "method": method.as_str(), "params": params});
                let path = if base.is_empty() { "/" } else { base.as_str() };
                let request = Self::base_request(&self.config, Method::POST, path, accept)
                    .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
                    .body(serialize(&body)?)
                    .map_err(invalid)?;
                Ok((request, id))
            }
            Binding::HttpJson => {
                let tenant = params.get("tenant").and_then(Value::as_str).unwrap_or_default();
                let mut path = base.clone();
                if !tenant.is_empty() {
                    path.push('/');
                    path.push_str(&rest::segment(tenant));
                }
                let route = rest::route(method, params.clone())?;
                path.push_str(&route.path);
                if let Some(q) = &route.query {
                    path.push('?');
                    path.push_str(q);
                }
                let mut builder = Self::base_request(&self.config, route.method, &path, accept);
                let body = match &route.body {
                    Some(b) => {
                        builder = builder.header(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        );
                        serialize(b)?
                    }
                    None => Bytes::new(),
                };
                Ok((builder.body(body).map_err(invalid)?, 0))
            }
        }
    }

    async fn send(
        &self,
        method: A2aMethod,
        params: Value,
        accept: &'static str,
    ) -> Result<(Response<ResponseBody>, u64), ClientError> {
        let (request, id) = self.build(method, params, accept)?;
        let options = SendOptions { retry: retry_of(method), timeout: self.config.request_timeout };
        tracing::debug!(%method, binding = %self.interface.binding, "A2A call");
        let response = self.transport.send(&self.peer, request, options).await?;
        Ok((response, id))
    }

    async fn unary(&self, method: A2aMethod, params: Value) -> Result<Value, ClientError> {
        self.unary_verified(method, params).await.map(|(v, _)| v)
    }

    /// A call answered with one JSON value; also returns the identity the peer proved.
    async fn unary_verified(
        &self,
        method: A2aMethod,
        params: Value,
    ) -> Result<(Value, Option<agentweave_identity::SpiffeId>), ClientError> {
        let (response, id) = self.send(method, params, "application/json").await?;
        let verified = verified_peer(&response);
        let (parts, body) = response.into_parts();
        let bytes =
            body::read_limited(&parts.headers, body, self.config.max_response_bytes).await?;
        self.decode_unary(parts.status, &bytes, id).map(|v| (v, verified))
    }

    fn decode_unary(
        &self,
        status: http::StatusCode,
        bytes: &[u8],
        id: u64,
    ) -> Result<Value, ClientError> {
        decode_unary(self.interface.binding, status, bytes, id)
    }

    async fn streaming(&self, method: A2aMethod, params: Value) -> Result<A2aStream, ClientError> {
        let (response, id) = self.send(method, params, "text/event-stream").await?;
        open_stream(self.interface.binding, &self.config, method, response, id).await
    }
}

/// Decodes a unary answer of `binding` to the request with JSON-RPC id `id`.
fn decode_unary(
    binding: Binding,
    status: http::StatusCode,
    bytes: &[u8],
    id: u64,
) -> Result<Value, ClientError> {
    let http_status = || ClientError::HttpStatus {
        status: status.as_u16(),
        body: error::excerpt(&String::from_utf8_lossy(bytes), 200),
    };
    match binding {
        Binding::JsonRpc => match body::parse_json(bytes) {
            Ok(value) if status.is_success() => envelope(value, id),
            // Errors such as 413 may carry a JSON-RPC error body.
            Ok(value) => match envelope(value, id) {
                Err(e @ (ClientError::Remote(_) | ClientError::UnknownRemoteError { .. })) => {
                    Err(e)
                }
                _ => Err(http_status()),
            },
            Err(_) if !status.is_success() => Err(http_status()),
            Err(e) => Err(e),
        },
        Binding::HttpJson if status.is_success() => {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                // DELETE may answer with an empty body.
                return Ok(Value::Object(serde_json::Map::new()));
            }
            body::parse_json(bytes)
        }
        Binding::HttpJson => {
            let value = body::parse_json(bytes).map_err(|_| http_status())?;
            Err(remote::from_http_error(status.as_u16(), &value).unwrap_or_else(http_status))
        }
    }
}

/// The answer of `binding` to a streaming request with JSON-RPC id `id`: the live stream, or the
/// error the agent answered instead of one.
async fn open_stream(
    binding: Binding,
    config: &ClientConfig,
    method: A2aMethod,
    response: Response<ResponseBody>,
    id: u64,
) -> Result<A2aStream, ClientError> {
    let (parts, body) = response.into_parts();
    if !(parts.status.is_success() && body::is_event_stream(&parts.headers)) {
        // Errors (and refusals to stream) come back as plain JSON.
        let bytes = body::read_limited(&parts.headers, body, config.max_response_bytes).await?;
        decode_unary(binding, parts.status, &bytes, id)?;
        return Err(ClientError::malformed(format!(
            "{method} was answered without an event stream (Content-Type {:?})",
            parts.headers.get(header::CONTENT_TYPE)
        )));
    }
    let decode: body::ItemDecoder = match binding {
        Binding::JsonRpc => Box::new(move |data: &str| {
            let result = envelope(body::parse_json(data.as_bytes())?, id)?;
            body::from_value(result, "stream item")
        }),
        Binding::HttpJson => Box::new(|data: &str| {
            let value = body::parse_json(data.as_bytes())?;
            if let Some(e) = remote::from_http_error(200, &value) {
                return Err(e);
            }
            body::from_value(value, "stream item")
        }),
    };
    Ok(body::event_stream(body, config.max_sse_event_bytes, config.stream_idle_timeout, decode))
}

/// Reads the answer to a JSON-RPC `SendStreamingMessage` or `SubscribeToTask` whose request the
/// caller built and sent itself over a [`Transport`] (to add headers of its own, such as a W3C
/// `traceparent`), with the id `request_id`. The answer is checked exactly as
/// [`A2aClient::send_streaming_message`] checks it: an error the agent sends instead of a stream
/// is the `Err` ([`ClientError::Remote`] for A2A errors), and the stream's events are bounded by
/// `config`'s limits and decoded incrementally.
pub async fn jsonrpc_stream(
    method: A2aMethod,
    response: Response<ResponseBody>,
    request_id: u64,
    config: &ClientConfig,
) -> Result<A2aStream, ClientError> {
    open_stream(Binding::JsonRpc, config, method, response, request_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_table() {
        let ok = |v: Value| envelope(v, 7);
        let cases: Vec<(Value, &str)> = vec![
            (json!({"jsonrpc": "2.0", "id": 7, "result": {"a": 1}}), "ok"),
            (json!({"jsonrpc": "2.0", "id": 8, "result": {}}), "id"),
            (json!({"jsonrpc": "2.0", "id": "7", "result": {}}), "id"),
            (json!({"jsonrpc": "2.0", "result": {}}), "id"),
            (
                json!({"jsonrpc": "2.0", "id": 7, "error": {"code": -32001, "message": "m"}}),
                "remote",
            ),
            (
                json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "m"}}),
                "remote",
            ),
            (json!({"jsonrpc": "2.0", "id": 9, "error": {"code": -32001, "message": "m"}}), "id"),
            (json!({"jsonrpc": "2.0", "id": 7}), "malformed"),
            (json!({"jsonrpc": "2.0", "id": 7, "result": {}, "error": {}}), "malformed"),
            (json!({"jsonrpc": "1.0", "id": 7, "result": {}}), "malformed"),
            (json!([1, 2]), "malformed"),
        ];
        for (input, want) in cases {
            let got = match ok(input.clone()) {
                Ok(_) => "ok",
                Err(ClientError::ResponseIdMismatch { .. }) => "id",
                Err(ClientError::Remote(_)) => "remote",
                Err(ClientError::MalformedResponse { .. }) => "malformed",
                Err(_) => "other",
            };
            assert_eq!(got, want, "{input}");
        }
    }
}

//! The axum service: agent card, JSON-RPC endpoint and HTTP+JSON routes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};

use super::authz::{Authorizer, OwnerOnly};
use super::body::{content_type_error, is_json_content_type, parse_json, read_body};
use super::core::{CallContext, Core, CoreConfig, Reply};
use super::executor::AgentExecutor;
use super::identity::CallerIdentity;
use super::push::PushPolicy;
use super::rest::{match_route, miss_error, query_params};
use super::store::{InMemoryTaskStore, TaskStore};
use crate::card::{
    AGENT_CARD_PATH, CardEndpoint, CardSigner, DEFAULT_CARD_MAX_AGE_SECS, SignError, sign_card,
};
use crate::error::{A2aError, ErrorKind};
use crate::jsonrpc::{self, RequestId};
use crate::limits::BodyLimits;
use crate::sse::encode_event;
use crate::types::{AgentCard, StreamResponse};
use crate::version::{EXTENSIONS_HEADER, VERSION_HEADER, VersionPolicy, check_version};

/// Default longest wait of a blocking `SendMessage` before it returns the task as it stands.
pub const DEFAULT_BLOCKING_TIMEOUT: Duration = Duration::from_secs(120);

/// The server could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The card could not be signed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The card could not be serialized.
    #[error("agent card cannot be serialized: {0}")]
    Card(String),
    /// A path setting is malformed.
    #[error("invalid path `{0}`: must start with `/`")]
    Path(String),
}

/// Configures an [`A2aServer`].
pub struct A2aServerBuilder {
    card: AgentCard,
    executor: Arc<dyn AgentExecutor>,
    store: Arc<dyn TaskStore>,
    authz: Arc<dyn Authorizer>,
    extended_card: Option<AgentCard>,
    signer: Option<Arc<dyn CardSigner>>,
    limits: BodyLimits,
    version_policy: VersionPolicy,
    push: PushPolicy,
    allow_anonymous: bool,
    blocking_timeout: Duration,
    card_max_age: u32,
    jsonrpc_path: String,
    rest_prefix: String,
}

impl A2aServerBuilder {
    /// Replaces the in-memory task store.
    #[must_use]
    pub fn task_store(mut self, store: Arc<dyn TaskStore>) -> Self {
        self.store = store;
        self
    }

    /// Replaces the default [`OwnerOnly`] authorization hook.
    #[must_use]
    pub fn authorizer(mut self, authz: Arc<dyn Authorizer>) -> Self {
        self.authz = authz;
        self
    }

    /// Serves this card from `GetExtendedAgentCard` (the public card must declare
    /// `capabilities.extendedAgentCard: true`).
    #[must_use]
    pub fn extended_card(mut self, card: AgentCard) -> Self {
        self.extended_card = Some(card);
        self
    }

    /// Signs the public (and extended) card at build time.
    #[must_use]
    pub fn card_signer(mut self, signer: Arc<dyn CardSigner>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Body size and JSON depth limits.
    #[must_use]
    pub fn limits(mut self, limits: BodyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// What a missing `A2A-Version` means.
    #[must_use]
    pub fn version_policy(mut self, policy: VersionPolicy) -> Self {
        self.version_policy = policy;
        self
    }

    /// Webhook delivery settings.
    #[must_use]
    pub fn push_policy(mut self, policy: PushPolicy) -> Self {
        self.push = policy;
        self
    }

    /// Longest wait of a blocking send.
    #[must_use]
    pub fn blocking_timeout(mut self, timeout: Duration) -> Self {
        self.blocking_timeout = timeout;
        self
    }

    /// `Cache-Control: max-age` of the card.
    #[must_use]
    pub fn card_max_age(mut self, secs: u32) -> Self {
        self.card_max_age = secs;
        self
    }

    /// Path of the JSON-RPC endpoint (default `/`).
    #[must_use]
    pub fn jsonrpc_path(mut self, path: impl Into<String>) -> Self {
        self.jsonrpc_path = path.into();
        self
    }

    /// Prefix of the HTTP+JSON routes (default: none, i.e. `/message:send`).
    #[must_use]
    pub fn rest_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.rest_prefix = prefix.into();
        self
    }

    /// DANGER: accepts requests that carry no caller identity (no mTLS peer). They all share
    /// the identity `anonymous`. For plain-HTTP conformance runs and local tests only.
    #[must_use]
    pub fn danger_allow_anonymous_callers(mut self) -> Self {
        self.allow_anonymous = true;
        self
    }

    /// Builds the server.
    pub fn build(mut self) -> Result<A2aServer, BuildError> {
        for p in [&self.jsonrpc_path] {
            if !p.starts_with('/') {
                return Err(BuildError::Path(p.clone()));
            }
        }
        if !self.rest_prefix.is_empty() && !self.rest_prefix.starts_with('/') {
            return Err(BuildError::Path(self.rest_prefix.clone()));
        }
        let rest_prefix = self.rest_prefix.trim_end_matches('/').to_owned();
        if let Some(signer) = &self.signer {
            self.card.signatures.clear();
            sign_card(&mut self.card, signer.as_ref())?;
            if let Some(ext) = self.extended_card.as_mut() {
                ext.signatures.clear();
                sign_card(ext, signer.as_ref())?;
            }
        }
        let card_endpoint = CardEndpoint::new(&self.card, self.card_max_age)
            .map_err(|e| BuildError::Card(e.to_string()))?;
        let core = Core::new(
            self.executor,
            self.store,
            self.authz,
            CoreConfig {
                card: self.card,
                extended_card: self.extended_card,
                push: self.push,
                blocking_timeout: self.blocking_timeout,
            },
        );
        Ok(A2aServer {
            inner: Arc::new(Inner {
                core: Arc::new(core),
                card: card_endpoint,
                limits: self.limits,
                version_policy: self.version_policy,
                allow_anonymous: self.allow_anonymous,
                jsonrpc_path: self.jsonrpc_path,
                rest_prefix,
            }),
        })
    }
}

struct Inner {
    core: Arc<Core>,
    card: CardEndpoint,
    limits: BodyLimits,
    version_policy: VersionPolicy,
    allow_anonymous: bool,
    jsonrpc_path: String,
    rest_prefix: String,
}

/// An A2A server: hand [`A2aServer::router`] to any axum/hyper listener (the mTLS listener in
/// production, plain TCP in tests).
#[derive(Clone)]
pub struct A2aServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for A2aServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("A2aServer")
            .field("jsonrpc_path", &self.inner.jsonrpc_path)
            .field("rest_prefix", &self.inner.rest_prefix)
            .finish_non_exhaustive()
    }
}

impl A2aServer {
    /// Starts configuring a server for `card`, running `executor`.
    pub fn builder(card: AgentCard, executor: Arc<dyn AgentExecutor>) -> A2aServerBuilder {
        A2aServerBuilder {
            card,
            executor,
            store: Arc::new(InMemoryTaskStore::default()),
            authz: Arc::new(OwnerOnly),
            extended_card: None,
            signer: None,
            limits: BodyLimits::default(),
            version_policy: VersionPolicy::default(),
            push: PushPolicy::default(),
            allow_anonymous: false,
            blocking_timeout: DEFAULT_BLOCKING_TIMEOUT,
            card_max_age: DEFAULT_CARD_MAX_AGE_SECS,
            jsonrpc_path: "/".to_owned(),
            rest_prefix: String::new(),
        }
    }

    /// The public card as served (with signatures when a signer was set).
    pub fn card(&self) -> &AgentCard {
        &self.inner.core.cfg.card
    }

    /// The axum router serving the card, the JSON-RPC endpoint and the REST routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route(AGENT_CARD_PATH, axum::routing::get(card_handler))
            .fallback(a2a_handler)
            .with_state(self.inner.clone())
    }
}

async fn card_handler(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    inner.card.respond(&headers).map(Body::from)
}

fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes_response(status, body),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn json_bytes_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn sse_response(stream: BoxStream<'static, Bytes>) -> Response {
    let mut r = Response::new(Body::from_stream(stream.map(Ok::<Bytes, Infallible>)));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn encode_or_log<T: Serialize>(value: &T) -> Option<Bytes> {
    match encode_event(value) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::error!(error = %e, "stream item could not be serialized; dropped");
            None
        }
    }
}

fn extensions_of(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(EXTENSIONS_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn requested_version<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<String> {
    if let Some(v) = headers.get(VERSION_HEADER) {
        return Some(v.to_str().unwrap_or("(invalid)").to_owned());
    }
    query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == VERSION_HEADER)
            .map(|(_, v)| v.into_owned())
    })
}

impl Inner {
    fn call_context(
        &self,
        req_ext: &http::Extensions,
        headers: &HeaderMap,
    ) -> Result<CallContext, A2aError> {
        let caller = CallerIdentity::from_extensions(req_ext);
        if caller.is_anonymous() && !self.allow_anonymous {
            return Err(A2aError::new(
                ErrorKind::Unauthenticated,
                "no caller identity: A2A requests must arrive over mutual TLS",
            ));
        }
        Ok(CallContext { caller, extensions: extensions_of(headers) })
    }
}

async fn a2a_handler(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if req.method() == Method::POST && path == inner.jsonrpc_path {
        return jsonrpc_handler(inner, req).await;
    }
    let rest_path = if inner.rest_prefix.is_empty() {
        Some(path.as_str())
    } else {
        path.strip_prefix(inner.rest_prefix.as_str()).filter(|p| p.starts_with('/'))
    };
    match rest_path {
        Some(p) => {
            let p = p.to_owned();
            rest_handler(inner, req, p).await
        }
        None => {
            let e = A2aError::new(ErrorKind::MethodNotFound, "not found");
            json_response(StatusCode::NOT_FOUND, &e.to_http_body())
        }
    }
}

async fn jsonrpc_handler(inner: Arc<Inner>, req: Request) -> Response {
    let fail = |id: &RequestId, e: &A2aError| {
        let status = if e.kind == ErrorKind::PayloadTooLarge {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::OK
        };
        json_response(status, &jsonrpc::failure(id, e))
    };
    let (parts, body) = req.into_parts();
    if !is_json_content_type(&parts.headers) {
        return fail(&Value::Null, &content_type_error(&parts.headers));
    }
    let bytes = match read_body(body, &parts.headers, &inner.limits).await {
        Ok(b) => b,
        Err(e) => return fail(&Value::Null, &e),
    };
    let value = match parse_json(&bytes, &inner.limits) {
        Ok(v) => v,
        Err(e) => return fail(&Value::Null, &e),
    };
    let rpc = match jsonrpc::parse_request(value) {
        Ok(r) => r,
        Err(env) => return fail(&env.id, &env.error),
    };
    let Some(id) = rpc.id else {
        // A notification: JSON-RPC forbids a reply and A2A methods are not fire-and-forget,
        // so nothing is executed.
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = check_version(
        requested_version(&parts.headers, parts.uri.query()).as_deref(),
        inner.version_policy,
    ) {
        return fail(&id, &e);
    }
    let call = match inner.call_context(&parts.extensions, &parts.headers) {
        Ok(c) => c,
        Err(e) => return fail(&id, &e),
    };
    match inner.core.dispatch(&call, rpc.method, rpc.params).await {
        Ok(Reply::Value(v)) => json_response(StatusCode::OK, &jsonrpc::success(&id, v)),
        Ok(Reply::Encoded(result)) => {
            json_bytes_response(StatusCode::OK, jsonrpc::success_encoded(&id, &result))
        }
        Ok(Reply::Stream(s)) => sse_response(
            s.filter_map(move |item| {
                let envelope =
                    serde_json::json!({"jsonrpc": "2.0", "id": id.clone(), "result": item});
                std::future::ready(encode_or_log(&envelope))
            })
            .boxed(),
        ),
        Err(e) => fail(&id, &e),
    }
}

fn rest_error(e: &A2aError) -> Response {
    json_response(e.kind.http_status(), &e.to_http_body())
}

async fn rest_handler(inner: Arc<Inner>, req: Request, path: String) -> Response {
    let route = match match_route(req.method(), &path) {
        Ok(r) => r,
        Err(miss) => {
            let e = miss_error(&miss, req.method(), &path);
            let status = match miss {
                super::rest::RouteMiss::NotFound => StatusCode::NOT_FOUND,
                super::rest::RouteMiss::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            };
            let mut body = e.to_http_body();
            if let Some(err) = body.get_mut("error").and_then(Value::as_object_mut) {
                err.insert("code".to_owned(), Value::from(status.as_u16()));
            }
            return json_response(status, &body);
        }
    };
    let (parts, body) = req.into_parts();
    if let Err(e) = check_version(
        requested_version(&parts.headers, parts.uri.query()).as_deref(),
        inner.version_policy,
    ) {
        return rest_error(&e);
    }
    let call = match inner.call_context(&parts.extensions, &parts.headers) {
        Ok(c) => c,
        Err(e) => return rest_error(&e),
    };
    let mut params: Map<String, Value> = match query_params(parts.uri.query()) {
        Ok(q) => q,
        Err(e) => return rest_error(&e),
    };
    if route.takes_body {
        let bytes = match read_body(body, &parts.headers, &inner.limits).await {
            Ok(b) => b,
            Err(e) => return rest_error(&e),
        };
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            if !is_json_content_type(&parts.headers) {
                return rest_error(&content_type_error(&parts.headers));
            }
            match parse_json(&bytes, &inner.limits) {
                Ok(Value::Object(o)) => {
                    for (k, v) in o {
                        params.insert(k, v);
                    }
                }
                Ok(_) => {
                    return rest_error(&A2aError::new(
                        ErrorKind::InvalidRequest,
                        "the request body must be a JSON object",
                    ));
                }
                Err(e) => return rest_error(&e),
            }
        }
    }
    for (k, v) in route.path_params {
        if let Some(existing) = params.get(&k)
            && existing.as_str().is_some_and(|s| !s.is_empty())
            && *existing != v
        {
            return rest_error(&A2aError::invalid_params(
                &k,
                "the body disagrees with the URL path",
            ));
        }
        params.insert(k, v);
    }
    match inner.core.dispatch(&call, route.method, Value::Object(params)).await {
        Ok(Reply::Value(v)) => json_response(StatusCode::OK, &v),
        Ok(Reply::Encoded(body)) => json_bytes_response(StatusCode::OK, body),
        Ok(Reply::Stream(s)) => sse_response(
            s.filter_map(|item: StreamResponse| std::future::ready(encode_or_log(&item))).boxed(),
        ),
        Err(e) => rest_error(&e),
    }
}

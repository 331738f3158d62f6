//! HTTP+JSON request shapes (spec section 11.3): the route, query and body of each method.

use http::Method;
use serde_json::{Map, Value};

use super::error::ClientError;
use crate::method::A2aMethod;

/// One HTTP+JSON request, before the base path and tenant are prepended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RestRequest {
    pub(crate) method: Method,
    /// Path below the interface's base (and tenant), starting with `/`.
    pub(crate) path: String,
    /// Encoded query string, if any.
    pub(crate) query: Option<String>,
    /// JSON body, if the route takes one.
    pub(crate) body: Option<Value>,
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn required<'a>(params: &'a Map<String, Value>, key: &str) -> Result<&'a str, ClientError> {
    match params.get(key).and_then(Value::as_str) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ClientError::InvalidRequest(format!("`{key}` must be a non-empty string"))),
    }
}

/// Every param except `skip` as a query string (numbers and booleans as their JSON text).
fn query(params: &Map<String, Value>, skip: &[&str]) -> Option<String> {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in params.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        q.append_pair(k, &text);
        any = true;
    }
    any.then(|| q.finish())
}

/// The request for `method` with ProtoJSON `params` (the same object the JSON-RPC binding
/// sends). `tenant` travels in the path, so it is left out of queries.
pub(crate) fn route(method: A2aMethod, params: Value) -> Result<RestRequest, ClientError> {
    use A2aMethod as M;
    let Value::Object(p) = params else {
        return Err(ClientError::InvalidRequest("params must be a JSON object".into()));
    };
    let req = |method: Method, path: String, query: Option<String>, body: Option<Value>| {
        Ok(RestRequest { method, path, query, body })
    };
    match method {
        M::SendMessage => req(Method::POST, "/message:send".into(), None, Some(Value::Object(p))),
        M::SendStreamingMessage => {
            req(Method::POST, "/message:stream".into(), None, Some(Value::Object(p)))
        }
        M::GetTask => {
            let path = format!("/tasks/{}", segment(required(&p, "id")?));
            req(Method::GET, path, query(&p, &["id", "tenant"]), None)
        }
        M::ListTasks => req(Method::GET, "/tasks".into(), query(&p, &["tenant"]), None),
        M::CancelTask => {
            let path = format!("/tasks/{}:cancel", segment(required(&p, "id")?));
            req(Method::POST, path, None, Some(Value::Object(p)))
        }
        M::SubscribeToTask => {
            let path = format!("/tasks/{}:subscribe", segment(required(&p, "id")?));
            req(Method::GET, path, None, None)
        }
        M::CreateTaskPushNotificationConfig => {
            let path =
                format!("/tasks/{}/pushNotificationConfigs", segment(required(&p, "taskId")?));
            req(Method::POST, path, None, Some(Value::Object(p)))
        }
        M::ListTaskPushNotificationConfigs => {
            let path =
                format!("/tasks/{}/pushNotificationConfigs", segment(required(&p, "taskId")?));
            req(Method::GET, path, query(&p, &["taskId", "tenant"]), None)
        }
        M::GetTaskPushNotificationConfig | M::DeleteTaskPushNotificationConfig => {
            let path = format!(
                "/tasks/{}/pushNotificationConfigs/{}",
                segment(required(&p, "taskId")?),
                segment(required(&p, "id")?)
            );
            let verb = if method == M::GetTaskPushNotificationConfig {
                Method::GET
            } else {
                Method::DELETE
            };
            req(verb, path, None, None)
        }
        M::GetExtendedAgentCard => req(Method::GET, "/extendedAgentCard".into(), None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// (method, params, HTTP verb, path, query, whether a body is sent).
    type Case = (A2aMethod, Value, Method, &'static str, Option<&'static str>, bool);

    #[test]
    fn route_table() {
        use A2aMethod as M;
        let cases: Vec<Case> = vec![
            (M::SendMessage, json!({"message": {}}), Method::POST, "/message:send", None, true),
            (
                M::GetTask,
                json!({"id": "t 1/x", "historyLength": 2}),
                Method::GET,
                "/tasks/t%201%2Fx",
                Some("historyLength=2"),
                false,
            ),
            (
                M::ListTasks,
                json!({"tenant": "acme", "status": "TASK_STATE_WORKING", "pageSize": 5, "includeArtifacts": true}),
                Method::GET,
                "/tasks",
                Some("includeArtifacts=true&pageSize=5&status=TASK_STATE_WORKING"),
                false,
            ),
            (M::ListTasks, json!({}), Method::GET, "/tasks", None, false),
            (M::CancelTask, json!({"id": "t1"}), Method::POST, "/tasks/t1:cancel", None, true),
            (
                M::SubscribeToTask,
                json!({"id": "t1"}),
                Method::GET,
                "/tasks/t1:subscribe",
                None,
                false,
            ),
            (
                M::CreateTaskPushNotificationConfig,
                json!({"taskId": "t1", "url": "u"}),
                Method::POST,
                "/tasks/t1/pushNotificationConfigs",
                None,
                true,
            ),
            (
                M::ListTaskPushNotificationConfigs,
                json!({"taskId": "t1", "pageSize": 3}),
                Method::GET,
                "/tasks/t1/pushNotificationConfigs",
                Some("pageSize=3"),
                false,
            ),
            (
                M::GetTaskPushNotificationConfig,
                json!({"taskId": "t1", "id": "c:1"}),
                Method::GET,
                "/tasks/t1/pushNotificationConfigs/c%3A1",
                None,
                false,
            ),
            (
                M::DeleteTaskPushNotificationConfig,
                json!({"taskId": "t1", "id": "c1"}),
                Method::DELETE,
                "/tasks/t1/pushNotificationConfigs/c1",
                None,
                false,
            ),
            (M::GetExtendedAgentCard, json!({}), Method::GET, "/extendedAgentCard", None, false),
        ];
        for (m, params, verb, path, q, body) in cases {
            let r = route(m, params).unwrap();
            assert_eq!(
                (r.method, r.path.as_str(), r.query.as_deref(), r.body.is_some()),
                (verb, path, q, body),
                "{m}"
            );
        }
        for (m, params) in [
            (M::GetTask, json!({})),
            (M::GetTask, json!({"id": ""})),
            (M::GetTaskPushNotificationConfig, json!({"taskId": "t"})),
        ] {
            assert!(matches!(route(m, params), Err(ClientError::InvalidRequest(_))), "{m}");
        }
    }
}

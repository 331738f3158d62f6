//! Maps the errors an agent sends (JSON-RPC `error` objects, HTTP+JSON `google.rpc.Status`
//! bodies) back to [`A2aError`], keeping `ErrorInfo` metadata and `BadRequest` violations.

use serde_json::{Map, Value};

use super::error::{ClientError, excerpt};
use crate::error::{
    A2A_ERROR_DOMAIN, A2aError, AGENTWEAVE_ERROR_DOMAIN, ERROR_INFO_TYPE, ErrorKind,
};

/// Longest remote message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 1024;
/// Most detail objects kept.
const MAX_DETAILS: usize = 16;

/// Every kind, to look kinds up by code or reason.
const KINDS: &[ErrorKind] = &[
    ErrorKind::ParseError,
    ErrorKind::InvalidRequest,
    ErrorKind::MethodNotFound,
    ErrorKind::InvalidParams,
    ErrorKind::Internal,
    ErrorKind::TaskNotFound,
    ErrorKind::TaskNotCancelable,
    ErrorKind::PushNotificationNotSupported,
    ErrorKind::UnsupportedOperation,
    ErrorKind::ContentTypeNotSupported,
    ErrorKind::InvalidAgentResponse,
    ErrorKind::ExtendedAgentCardNotConfigured,
    ErrorKind::ExtensionSupportRequired,
    ErrorKind::VersionNotSupported,
    ErrorKind::Unauthenticated,
    ErrorKind::PermissionDenied,
    ErrorKind::PayloadTooLarge,
];

/// The kind named by an `ErrorInfo` reason of a domain we know.
fn kind_by_reason(reason: &str, domain: &str) -> Option<ErrorKind> {
    if domain != A2A_ERROR_DOMAIN && domain != AGENTWEAVE_ERROR_DOMAIN {
        return None;
    }
    KINDS.iter().copied().find(|k| k.reason() == Some((reason, domain)))
}

/// The kind of a JSON-RPC code (-32600 is InvalidRequest; PayloadTooLarge shares it and is
/// told apart by its reason).
fn kind_by_code(code: i64) -> Option<ErrorKind> {
    KINDS.iter().copied().find(|k| *k != ErrorKind::PayloadTooLarge && k.jsonrpc_code() == code)
}

/// The kind of an HTTP+JSON error without a known reason, from its `google.rpc.Code` name.
fn kind_by_rpc_status(status: &str, http: u16) -> Option<ErrorKind> {
    match (status, http) {
        (_, 413) | ("RESOURCE_EXHAUSTED", _) => Some(ErrorKind::PayloadTooLarge),
        ("UNIMPLEMENTED", _) => Some(ErrorKind::MethodNotFound),
        ("INVALID_ARGUMENT", _) => Some(ErrorKind::InvalidParams),
        ("UNAUTHENTICATED", _) => Some(ErrorKind::Unauthenticated),
        ("PERMISSION_DENIED", _) => Some(ErrorKind::PermissionDenied),
        ("INTERNAL", _) => Some(ErrorKind::Internal),
        _ => None,
    }
}

/// What the `details` array says: the first `ErrorInfo`'s reason, domain and metadata, and
/// every `BadRequest` field violation.
struct Details {
    reason: Option<(String, String)>,
    metadata: Map<String, Value>,
    violations: Vec<(String, String)>,
}

fn read_details(details: &[Value]) -> Details {
    let mut out = Details { reason: None, metadata: Map::new(), violations: Vec::new() };
    for d in details.iter().take(MAX_DETAILS) {
        let Some(obj) = d.as_object() else { continue };
        let ty = obj.get("@type").and_then(Value::as_str).unwrap_or_default();
        if ty == ERROR_INFO_TYPE && out.reason.is_none() {
            let reason = obj.get("reason").and_then(Value::as_str).unwrap_or_default();
            let domain = obj.get("domain").and_then(Value::as_str).unwrap_or_default();
            out.reason = Some((reason.to_owned(), domain.to_owned()));
            if let Some(Value::Object(meta)) = obj.get("metadata") {
                out.metadata = meta.clone();
            }
        } else if let Some(Value::Array(vs)) = obj.get("fieldViolations") {
            for v in vs.iter().take(MAX_DETAILS) {
                let field = v.get("field").and_then(Value::as_str).unwrap_or_default();
                let desc = v.get("description").and_then(Value::as_str).unwrap_or_default();
                out.violations.push((excerpt(field, 256), excerpt(desc, 256)));
            }
        }
    }
    out
}

fn build(kind: Option<ErrorKind>, code: i64, message: &str, details: Vec<Value>) -> ClientError {
    let message = excerpt(message, MAX_MESSAGE_CHARS);
    let parsed = read_details(&details);
    let kind = parsed.reason.as_ref().and_then(|(r, d)| kind_by_reason(r, d)).or(kind);
    match kind {
        Some(kind) => ClientError::Remote(A2aError {
            kind,
            message,
            metadata: parsed.metadata,
            field_violations: parsed.violations,
        }),
        None => {
            let details = details.into_iter().take(MAX_DETAILS).collect();
            ClientError::UnknownRemoteError { code, message, details }
        }
    }
}

/// A JSON-RPC `error` member.
pub(crate) fn from_jsonrpc_error(error: &Value) -> ClientError {
    let Some(obj) = error.as_object() else {
        return ClientError::malformed("JSON-RPC `error` is not an object");
    };
    let Some(code) = obj.get("code").and_then(Value::as_i64) else {
        return ClientError::malformed("JSON-RPC `error.code` is not an integer");
    };
    let message = obj.get("message").and_then(Value::as_str).unwrap_or_default();
    let details = match obj.get("data") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    build(kind_by_code(code), code, message, details)
}

/// An HTTP+JSON error response: `{"error": {code, status, message, details}}`, or `None`
/// when the body is not one (the caller then reports the bare HTTP status).
pub(crate) fn from_http_error(http_status: u16, body: &Value) -> Option<ClientError> {
    let err = body.get("error")?.as_object()?;
    let message = err.get("message").and_then(Value::as_str).unwrap_or_default();
    let status = err.get("status").and_then(Value::as_str).unwrap_or_default();
    let details = match err.get("details") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    Some(build(kind_by_rpc_status(status, http_status), i64::from(http_status), message, details))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonrpc_errors_round_trip_through_our_own_encoding() {
        let sent = [
            A2aError::task_not_found("t1"),
            A2aError::invalid_params("message.parts", "at least one part is required"),
            A2aError::new(ErrorKind::VersionNotSupported, "v").with_meta("requestedVersion", "0.3"),
            A2aError::new(ErrorKind::PayloadTooLarge, "too big"),
            A2aError::new(ErrorKind::PermissionDenied, "no"),
            A2aError::new(ErrorKind::MethodNotFound, "nope"),
        ];
        for e in sent {
            let got = from_jsonrpc_error(&e.to_jsonrpc_error());
            assert_eq!(got.remote(), Some(&e), "JSON-RPC {e:?}");
            let body = e.to_http_body();
            let got = from_http_error(e.kind.http_status().as_u16(), &body).unwrap();
            assert_eq!(got.remote(), Some(&e), "HTTP {e:?}");
        }
    }

    #[test]
    fn unknown_and_malformed_errors_are_typed() {
        let cases = [
            (json!({"code": -31000, "message": "custom"}), "unknown"),
            (json!({"code": "x", "message": "m"}), "malformed"),
            (json!("boom"), "malformed"),
            (
                json!({"code": -32001, "data": [{"@type": ERROR_INFO_TYPE, "reason": "X", "domain": "evil.example"}]}),
                "TaskNotFound",
            ),
        ];
        for (input, want) in cases {
            let got = from_jsonrpc_error(&input);
            let name = match &got {
                ClientError::UnknownRemoteError { .. } => "unknown".to_owned(),
                ClientError::MalformedResponse { .. } => "malformed".to_owned(),
                ClientError::Remote(e) => format!("{:?}", e.kind),
                other => format!("{other:?}"),
            };
            assert_eq!(name, want, "{input}");
        }
        assert!(from_http_error(500, &json!({"detail": "x"})).is_none());
    }
}

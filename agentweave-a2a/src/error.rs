//! Protocol errors: the A2A error types, standard JSON-RPC errors and AgentWeave's own
//! authentication/authorization errors, each with its JSON-RPC code, HTTP status and
//! `google.rpc.ErrorInfo` reason.

use http::StatusCode;
use serde_json::{Map, Value, json};

/// The `ErrorInfo.domain` of A2A-defined errors.
pub const A2A_ERROR_DOMAIN: &str = "a2a-protocol.org";
/// The `ErrorInfo.domain` of AgentWeave-defined errors (authentication, authorization).
pub const AGENTWEAVE_ERROR_DOMAIN: &str = "agentweave.dev";
/// The ProtoJSON `@type` of `google.rpc.ErrorInfo`.
pub const ERROR_INFO_TYPE: &str = "type.googleapis.com/google.rpc.ErrorInfo";
/// The ProtoJSON `@type` of `google.rpc.BadRequest`.
pub const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

/// What kind of error, which fixes its codes on every binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// -32700: the body is not JSON (or too deep / too large to parse).
    ParseError,
    /// -32600: the JSON is not a valid JSON-RPC request.
    InvalidRequest,
    /// -32601: unknown method.
    MethodNotFound,
    /// -32602: parameters do not match the method.
    InvalidParams,
    /// -32603: a fault on our side.
    Internal,
    /// -32001
    TaskNotFound,
    /// -32002
    TaskNotCancelable,
    /// -32003
    PushNotificationNotSupported,
    /// -32004
    UnsupportedOperation,
    /// -32005
    ContentTypeNotSupported,
    /// -32006
    InvalidAgentResponse,
    /// -32007
    ExtendedAgentCardNotConfigured,
    /// -32008
    ExtensionSupportRequired,
    /// -32009
    VersionNotSupported,
    /// -32030 (AgentWeave): no acceptable caller identity.
    Unauthenticated,
    /// -32031 (AgentWeave): the authorization hook denied the call.
    PermissionDenied,
    /// HTTP 413 / -32600: the request body exceeds the configured limit.
    PayloadTooLarge,
}

impl ErrorKind {
    /// The JSON-RPC error code.
    pub fn jsonrpc_code(self) -> i64 {
        match self {
            Self::ParseError => -32700,
            Self::InvalidRequest | Self::PayloadTooLarge => -32600,
            Self::MethodNotFound => -32601,
            Self::InvalidParams => -32602,
            Self::Internal => -32603,
            Self::TaskNotFound => -32001,
            Self::TaskNotCancelable => -32002,
            Self::PushNotificationNotSupported => -32003,
            Self::UnsupportedOperation => -32004,
            Self::ContentTypeNotSupported => -32005,
            Self::InvalidAgentResponse => -32006,
            Self::ExtendedAgentCardNotConfigured => -32007,
            Self::ExtensionSupportRequired => -32008,
            Self::VersionNotSupported => -32009,
            Self::Unauthenticated => -32030,
            Self::PermissionDenied => -32031,
        }
    }

    /// The HTTP status of the HTTP+JSON binding.
    ///
    /// Follows the spec's table (section 5.4) except where the A2A TCK (1.0-dev) and the
    /// official SDKs use a more specific status: 409 for a task that cannot be canceled,
    /// 415 for an unsupported content type, 502 for an invalid upstream agent response.
    pub fn http_status(self) -> StatusCode {
        match self {
            Self::ParseError | Self::InvalidRequest | Self::InvalidParams => {
                StatusCode::BAD_REQUEST
            }
            Self::MethodNotFound | Self::TaskNotFound => StatusCode::NOT_FOUND,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TaskNotCancelable => StatusCode::CONFLICT,
            Self::ContentTypeNotSupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidAgentResponse => StatusCode::BAD_GATEWAY,
            Self::PushNotificationNotSupported
            | Self::UnsupportedOperation
            | Self::ExtendedAgentCardNotConfigured
            | Self::ExtensionSupportRequired
            | Self::VersionNotSupported => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The `google.rpc.Code` name used in the HTTP+JSON error body's `status`.
    pub fn rpc_status(self) -> &'static str {
        match self {
            Self::ParseError | Self::InvalidRequest | Self::InvalidParams => "INVALID_ARGUMENT",
            Self::ContentTypeNotSupported => "INVALID_ARGUMENT",
            Self::MethodNotFound => "UNIMPLEMENTED",
            Self::TaskNotFound => "NOT_FOUND",
            Self::Internal | Self::InvalidAgentResponse => "INTERNAL",
            Self::TaskNotCancelable
            | Self::PushNotificationNotSupported
            | Self::UnsupportedOperation
            | Self::ExtendedAgentCardNotConfigured
            | Self::ExtensionSupportRequired
            | Self::VersionNotSupported => "FAILED_PRECONDITION",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::PayloadTooLarge => "RESOURCE_EXHAUSTED",
        }
    }

    /// The `ErrorInfo` reason and domain, for errors that carry one.
    pub fn reason(self) -> Option<(&'static str, &'static str)> {
        let a2a = |r| Some((r, A2A_ERROR_DOMAIN));
        match self {
            Self::TaskNotFound => a2a("TASK_NOT_FOUND"),
            Self::TaskNotCancelable => a2a("TASK_NOT_CANCELABLE"),
            Self::PushNotificationNotSupported => a2a("PUSH_NOTIFICATION_NOT_SUPPORTED"),
            Self::UnsupportedOperation => a2a("UNSUPPORTED_OPERATION"),
            Self::ContentTypeNotSupported => a2a("CONTENT_TYPE_NOT_SUPPORTED"),
            Self::InvalidAgentResponse => a2a("INVALID_AGENT_RESPONSE"),
            Self::ExtendedAgentCardNotConfigured => a2a("EXTENDED_AGENT_CARD_NOT_CONFIGURED"),
            Self::ExtensionSupportRequired => a2a("EXTENSION_SUPPORT_REQUIRED"),
            Self::VersionNotSupported => a2a("VERSION_NOT_SUPPORTED"),
            Self::Unauthenticated => Some(("UNAUTHENTICATED", AGENTWEAVE_ERROR_DOMAIN)),
            Self::PermissionDenied => Some(("PERMISSION_DENIED", AGENTWEAVE_ERROR_DOMAIN)),
            Self::PayloadTooLarge => Some(("PAYLOAD_TOO_LARGE", AGENTWEAVE_ERROR_DOMAIN)),
            Self::ParseError
            | Self::InvalidRequest
            | Self::MethodNotFound
            | Self::InvalidParams
            | Self::Internal => None,
        }
    }
}

/// A protocol error as sent to a peer: kind, human-readable message, and structured details.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({kind:?})")]
pub struct A2aError {
    /// The kind, which fixes the codes.
    pub kind: ErrorKind,
    /// A message naming what was wrong.
    pub message: String,
    /// `ErrorInfo.metadata` (string values), e.g. `taskId`.
    pub metadata: Map<String, Value>,
    /// `google.rpc.BadRequest` field violations: (field path, description).
    pub field_violations: Vec<(String, String)>,
}

impl A2aError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), metadata: Map::new(), field_violations: Vec::new() }
    }

    /// Adds an `ErrorInfo.metadata` entry.
    #[must_use]
    pub fn with_meta(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.insert(key.to_owned(), Value::String(value.into()));
        self
    }

    /// Adds a `BadRequest` field violation.
    #[must_use]
    pub fn with_violation(
        mut self,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.field_violations.push((field.into(), description.into()));
        self
    }

    /// TaskNotFound for `task_id` (also used when the caller may not see the task, so that
    /// existence is not revealed).
    pub fn task_not_found(task_id: &str) -> Self {
        Self::new(ErrorKind::TaskNotFound, format!("task `{task_id}` was not found"))
            .with_meta("taskId", task_id)
    }

    /// InvalidParams naming the offending field.
    pub fn invalid_params(field: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        Self::new(ErrorKind::InvalidParams, format!("invalid parameter `{field}`: {description}"))
            .with_violation(field, description)
    }

    /// UnsupportedOperation with a reason.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnsupportedOperation, message)
    }

    /// Internal fault; the message must not leak internals.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The ProtoJSON `Any` details: an `ErrorInfo` (when the kind has a reason) and a
    /// `BadRequest` (when there are field violations).
    pub fn details(&self) -> Vec<Value> {
        let mut out = Vec::new();
        if let Some((reason, domain)) = self.kind.reason() {
            let mut info = json!({"@type": ERROR_INFO_TYPE, "reason": reason, "domain": domain});
            if !self.metadata.is_empty()
                && let Some(obj) = info.as_object_mut()
            {
                obj.insert("metadata".to_owned(), Value::Object(self.metadata.clone()));
            }
            out.push(info);
        }
        if !self.field_violations.is_empty() {
            let violations: Vec<Value> = self
                .field_violations
                .iter()
                .map(|(f, d)| json!({"field": f, "description": d}))
                .collect();
            out.push(json!({"@type": BAD_REQUEST_TYPE, "fieldViolations": violations}));
        }
        out
    }

    /// The JSON-RPC `error` object.
    pub fn to_jsonrpc_error(&self) -> Value {
        let mut err = json!({"code": self.kind.jsonrpc_code(), "message": self.message});
        let details = self.details();
        if !details.is_empty()
            && let Some(obj) = err.as_object_mut()
        {
            obj.insert("data".to_owned(), Value::Array(details));
        }
        err
    }

    /// The HTTP+JSON body (`google.rpc.Status` wrapped in `error`).
    pub fn to_http_body(&self) -> Value {
        json!({"error": {
            "code": self.kind.http_status().as_u16(),
            "status": self.kind.rpc_status(),
            "message": self.message,
            "details": self.details(),
        }})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_a2a_error_has_its_code_and_reason() {
        let table = [
            (ErrorKind::TaskNotFound, -32001, "TASK_NOT_FOUND", 404),
            (ErrorKind::TaskNotCancelable, -32002, "TASK_NOT_CANCELABLE", 409),
            (
                ErrorKind::PushNotificationNotSupported,
                -32003,
                "PUSH_NOTIFICATION_NOT_SUPPORTED",
                400,
            ),
            (ErrorKind::UnsupportedOperation, -32004, "UNSUPPORTED_OPERATION", 400),
            (ErrorKind::ContentTypeNotSupported, -32005, "CONTENT_TYPE_NOT_SUPPORTED", 415),
            (ErrorKind::InvalidAgentResponse, -32006, "INVALID_AGENT_RESPONSE", 502),
            (
                ErrorKind::ExtendedAgentCardNotConfigured,
                -32007,
                "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
                400,
            ),
            (ErrorKind::ExtensionSupportRequired, -32008, "EXTENSION_SUPPORT_REQUIRED", 400),
            (ErrorKind::VersionNotSupported, -32009, "VERSION_NOT_SUPPORTED", 400),
        ];
        for (kind, code, reason, status) in table {
            let e = A2aError::new(kind, "m").with_meta("taskId", "t1");
            let rpc = e.to_jsonrpc_error();
            assert_eq!(rpc["code"], code);
            assert_eq!(rpc["data"][0]["@type"], ERROR_INFO_TYPE);
            assert_eq!(rpc["data"][0]["reason"], reason);
            assert_eq!(rpc["data"][0]["domain"], A2A_ERROR_DOMAIN);
            assert_eq!(rpc["data"][0]["metadata"]["taskId"], "t1");
            let http = e.to_http_body();
            assert_eq!(http["error"]["code"], status);
            assert_eq!(http["error"]["details"][0]["reason"], reason);
        }
    }

    #[test]
    fn standard_errors_carry_no_error_info() {
        for kind in [ErrorKind::ParseError, ErrorKind::MethodNotFound, ErrorKind::Internal] {
            assert!(A2aError::new(kind, "m").to_jsonrpc_error().get("data").is_none());
        }
        let bad = A2aError::invalid_params("message.parts", "at least one part is required");
        assert_eq!(
            bad.to_jsonrpc_error()["data"][0]["fieldViolations"][0]["field"],
            "message.parts"
        );
    }
}

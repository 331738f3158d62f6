//! Request body intake shared by both bindings: content type, size and depth limits, JSON.

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt as _;
use serde_json::Value;

use crate::error::{A2aError, ErrorKind};
use crate::limits::{BodyLimits, exceeds_depth};

/// True for `application/json` and `application/a2a+json` (parameters such as charset allowed).
pub(crate) fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|ct| ct == "application/json" || ct == "application/a2a+json")
}

pub(crate) fn content_type_error(headers: &HeaderMap) -> A2aError {
    let got = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
        .chars()
        .take(100)
        .collect::<String>();
    A2aError::new(
        ErrorKind::ContentTypeNotSupported,
        format!("request Content-Type `{got}` is not supported; use application/json or application/a2a+json"),
    )
    .with_meta("contentType", got)
}

/// Reads the body up to the size limit.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limits: &BodyLimits,
) -> Result<Bytes, A2aError> {
    let too_large = || {
        A2aError::new(
            ErrorKind::PayloadTooLarge,
            format!("request body exceeds the limit of {} bytes", limits.max_body_bytes),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, limits.max_body_bytes).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(too_large())
        }
        Err(e) => Err(A2aError::new(
            ErrorKind::InvalidRequest,
            format!("request body could not be read: {e}"),
        )),
    }
}

/// Parses JSON after the depth check.
pub(crate) fn parse_json(bytes: &[u8], limits: &BodyLimits) -> Result<Value, A2aError> {
    if let Some(depth) = exceeds_depth(bytes, limits.max_json_depth) {
        return Err(A2aError::new(
            ErrorKind::ParseError,
            format!("JSON nesting deeper than {} levels (reached {depth})", limits.max_json_depth),
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| A2aError::new(ErrorKind::ParseError, format!("invalid JSON payload: {e}")))
}

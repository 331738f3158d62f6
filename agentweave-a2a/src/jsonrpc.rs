//! JSON-RPC 2.0 envelopes: parsing requests defensively and writing responses.

use serde_json::{Map, Value, json};

use crate::error::{A2aError, ErrorKind};
use crate::method::A2aMethod;

/// A JSON-RPC request id (string, number or null).
pub type RequestId = Value;

/// A request that passed envelope validation.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRpcRequest {
    /// The id to echo; `None` for a notification.
    pub id: Option<RequestId>,
    /// The A2A method.
    pub method: A2aMethod,
    /// The `params` object (empty when absent).
    pub params: Value,
}

/// Envelope validation failed: the error to send and the id to echo (null when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeError {
    /// The id to echo.
    pub id: RequestId,
    /// The error.
    pub error: A2aError,
}

/// Validates a parsed JSON value as a JSON-RPC 2.0 request for an A2A method.
///
/// Batches (arrays) are refused with InvalidRequest: A2A defines no batch semantics and a
/// batch would multiply the work one body can cause.
pub fn parse_request(value: Value) -> Result<JsonRpcRequest, EnvelopeError> {
    let invalid = |id: RequestId, msg: &str| EnvelopeError {
        id,
        error: A2aError::new(ErrorKind::InvalidRequest, msg.to_owned()),
    };
    let mut obj: Map<String, Value> = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Err(invalid(Value::Null, "batch requests are not supported"));
        }
        _ => return Err(invalid(Value::Null, "a JSON-RPC request must be a JSON object")),
    };
    let id = match obj.remove("id") {
        None => None,
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(v),
        Some(_) => {
            return Err(invalid(Value::Null, "`id` must be a string, a number or null"));
        }
    };
    let echo = id.clone().unwrap_or(Value::Null);
    match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        _ => return Err(invalid(echo, "`jsonrpc` must be exactly \"2.0\"")),
    }
    let method_name = match obj.remove("method") {
        Some(Value::String(m)) => m,
        _ => return Err(invalid(echo, "`method` must be a string")),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return Err(EnvelopeError {
                id: echo,
                error: A2aError::invalid_params("params", "A2A methods take a params object"),
            });
        }
    };
    let Some(method) = A2aMethod::from_name(&method_name) else {
        let shown: String = method_name.chars().take(64).collect();
        return Err(EnvelopeError {
            id: echo,
            error: A2aError::new(ErrorKind::MethodNotFound, format!("method `{shown}` not found")),
        });
    };
    Ok(JsonRpcRequest { id, method, params })
}

/// A success response.
pub fn success(id: &RequestId, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A success response around a `result` that is already encoded JSON (the same document as
/// [`success`] gives, written without a `Value` tree).
pub fn success_encoded(id: &RequestId, result: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(result.len() + 64);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    // A request id is a string, a number or null (see `parse_request`): always encodable.
    out.extend_from_slice(id.to_string().as_bytes());
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result);
    out.push(b'}');
    out
}

/// An error response.
pub fn failure(id: &RequestId, error: &A2aError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_jsonrpc_error()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_table() {
        let cases: Vec<(Value, Result<A2aMethod, i64>)> = vec![
            (
                json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}),
                Ok(A2aMethod::GetTask),
            ),
            (
                json!({"jsonrpc": "2.0", "id": "a", "method": "GetExtendedAgentCard"}),
                Ok(A2aMethod::GetExtendedAgentCard),
            ),
            (json!([{"jsonrpc": "2.0", "id": 1, "method": "GetTask"}]), Err(-32600)),
            (json!("hello"), Err(-32600)),
            (json!({"jsonrpc": "1.0", "id": 1, "method": "GetTask"}), Err(-32600)),
            (json!({"id": 1, "method": "GetTask"}), Err(-32600)),
            (json!({"jsonrpc": "2.0", "id": 1}), Err(-32600)),
            (json!({"jsonrpc": "2.0", "id": 1, "method": 7}), Err(-32600)),
            (json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "GetTask"}), Err(-32600)),
            (json!({"jsonrpc": "2.0", "id": 1, "method": "message/send"}), Err(-32601)),
            (json!({"jsonrpc": "2.0", "id": 1, "method": "getTask"}), Err(-32601)),
            (json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": [1]}), Err(-32602)),
        ];
        for (input, want) in cases {
            let got = parse_request(input.clone());
            match (got, want) {
                (Ok(r), Ok(m)) => assert_eq!(r.method, m, "{input}"),
                (Err(e), Err(code)) => assert_eq!(e.error.kind.jsonrpc_code(), code, "{input}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn encoded_success_is_the_same_document() {
        let result = json!({"task": {"id": "t\"1", "history": [], "n": 1.5}});
        let encoded = serde_json::to_vec(&result).unwrap();
        for id in [json!("abc"), json!("quote\"and\\slash"), json!(7), json!(-1.25), Value::Null] {
            let written: Value = serde_json::from_slice(&success_encoded(&id, &encoded)).unwrap();
            assert_eq!(written, success(&id, result.clone()), "{id}");
        }
    }

    #[test]
    fn echoes_id_when_known() {
        let e =
            parse_request(json!({"jsonrpc": "2.0", "id": "abc", "method": "Nope"})).unwrap_err();
        assert_eq!(e.id, json!("abc"));
        let n = parse_request(json!({"jsonrpc": "2.0", "method": "GetTask"})).unwrap();
        assert!(n.id.is_none());
    }
}

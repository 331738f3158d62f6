//! Reading response bodies with a hard size bound, and turning an SSE body into a stream of
//! [`StreamResponse`] items.

use std::time::Duration;

use agentweave_transport::ResponseBody;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt as _};
use http::HeaderMap;
use http_body_util::BodyExt as _;
use serde_json::Value;

use super::error::ClientError;
use super::sse::SseDecoder;
use crate::types::StreamResponse;

/// Reads the whole body, failing as soon as it would exceed `limit` bytes (a declared
/// `Content-Length` above the limit fails before anything is read).
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    mut body: ResponseBody,
    limit: usize,
) -> Result<Bytes, ClientError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ClientError::ResponseTooLarge { limit });
    }
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        if buf.len().saturating_add(data.len()) > limit {
            return Err(ClientError::ResponseTooLarge { limit });
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// True when the response declares an SSE body.
pub(crate) fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// Turns one event's `data` into a stream item, or the error it carries.
pub(crate) type ItemDecoder =
    Box<dyn Fn(&str) -> Result<StreamResponse, ClientError> + Send + Sync + 'static>;

/// A live stream of items decoded from an SSE body.
pub(crate) fn event_stream(
    body: ResponseBody,
    max_event_bytes: usize,
    idle_timeout: Option<Duration>,
    decode: ItemDecoder,
) -> BoxStream<'static, Result<StreamResponse, ClientError>> {
    struct State {
        body: ResponseBody,
        decoder: SseDecoder,
        ready: std::collections::VecDeque<String>,
        decode: ItemDecoder,
        idle_timeout: Option<Duration>,
        done: bool,
    }
    let state = State {
        body,
        decoder: SseDecoder::new(max_event_bytes),
        ready: std::collections::VecDeque::new(),
        decode,
        idle_timeout,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(data) = st.ready.pop_front() {
                let item = (st.decode)(&data);
                // After an error, or the item that ends the stream, nothing more is read: the
                // server has said all it may say.
                st.done = item.as_ref().map_or(true, StreamResponse::ends_stream);
                return Some((item, st));
            }
            let next = match st.idle_timeout {
                Some(after) => match tokio::time::timeout(after, st.body.frame()).await {
                    Ok(f) => f,
                    Err(_) => {
                        st.done = true;
                        return Some((Err(ClientError::StreamIdle { after }), st));
                    }
                },
                None => st.body.frame().await,
            };
            let fed = match next {
                None => {
                    st.done = true;
                    match st.decoder.finish() {
                        Ok(()) => return None,
                        Err(e) => return Some((Err(e), st)),
                    }
                }
                Some(Err(e)) => Err(ClientError::Transport(e)),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => st.decoder.feed(&data),
                    Err(_) => Ok(Vec::new()),
                },
            };
            match fed {
                Ok(events) => st.ready.extend(events),
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            }
        }
    })
    .boxed()
}

/// Parses JSON from a response body, naming the failure.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ClientError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ClientError::malformed(format!("the body is not valid JSON: {e}")))
}

/// Decodes a typed value, naming the failure.
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(
    value: Value,
    what: &str,
) -> Result<T, ClientError> {
    serde_json::from_value(value)
        .map_err(|e| ClientError::malformed(format!("the {what} does not match the schema: {e}")))
}

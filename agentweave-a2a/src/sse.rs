//! Server-Sent Events framing for streams.
//!
//! Each item is one `data:` line holding compact JSON (which never contains a raw newline,
//! so no multi-line splitting is needed) followed by a blank line.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// Encodes one SSE event whose data is `value` as compact JSON.
pub fn encode_event<T: Serialize>(value: &T) -> Result<Bytes, serde_json::Error> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_slice(b"data: ");
    let mut writer = buf.writer();
    serde_json::to_writer(&mut writer, value)?;
    let mut buf = writer.into_inner();
    buf.put_slice(b"\n\n");
    Ok(buf.freeze())
}

/// An SSE comment line, used as a keep-alive that clients ignore.
pub fn keep_alive() -> Bytes {
    Bytes::from_static(b": keep-alive\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_compact_json() {
        let ev = encode_event(&json!({"a": "line1\nline2"})).unwrap();
        assert_eq!(&ev[..], b"data: {\"a\":\"line1\\nline2\"}\n\n");
    }
}

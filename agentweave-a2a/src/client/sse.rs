//! An incremental Server-Sent Events decoder with a size bound per event.
//!
//! Bytes are fed as they arrive from the transport (in chunks of any size, split anywhere,
//! even inside a UTF-8 sequence or a CRLF pair); complete events come out. Only `data:` fields
//! matter to A2A; `event:`, `id:`, `retry:` and comment lines are skipped. Nothing is buffered
//! beyond `max_event_bytes` for the event being assembled, so a server that never ends an
//! event cannot make the client grow without bound.

use bytes::{Buf, BytesMut};

use super::error::ClientError;

/// Decodes an SSE byte stream into the `data` of each event.
#[derive(Debug)]
pub(crate) struct SseDecoder {
    /// Bytes not yet split into lines.
    pending: BytesMut,
    /// The `data` lines of the event being assembled, joined by `\n`.
    data: String,
    /// Whether the current event has at least one `data` field.
    has_data: bool,
    /// A `\r` ended the previous chunk: a `\n` starting the next one belongs to it.
    skip_lf: bool,
    max_event_bytes: usize,
}

impl SseDecoder {
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        Self {
            pending: BytesMut::new(),
            data: String::new(),
            has_data: false,
            skip_lf: false,
            max_event_bytes,
        }
    }

    /// Feeds a chunk; returns the events it completed, in order.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<String>, ClientError> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        loop {
            if self.skip_lf && !self.pending.is_empty() {
                if self.pending.first() == Some(&b'\n') {
                    self.pending.advance(1);
                }
                self.skip_lf = false;
            }
            let Some(end) = self.pending.iter().position(|b| *b == b'\n' || *b == b'\r') else {
                break;
            };
            let line = self.pending.split_to(end);
            let terminator = self.pending.first().copied();
            self.pending.advance(1);
            if terminator == Some(b'\r') {
                self.skip_lf = true;
            }
            if let Some(event) = self.line(&line)? {
                events.push(event);
            }
        }
        if self.pending.len() + self.data.len() > self.max_event_bytes {
            return Err(ClientError::SseEventTooLarge { limit: self.max_event_bytes });
        }
        Ok(events)
    }

    /// Called at the end of the body: an event still being assembled means the stream was
    /// cut (the SSE rules would drop it silently; a truncated A2A stream is a fault).
    pub(crate) fn finish(&self) -> Result<(), ClientError> {
        if self.has_data || !self.pending.is_empty() {
            return Err(ClientError::MalformedStream {
                detail: "the stream ended inside an event (no blank line after it)".into(),
            });
        }
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> Result<Option<String>, ClientError> {
        if line.is_empty() {
            if !self.has_data {
                return Ok(None);
            }
            self.has_data = false;
            return Ok(Some(std::mem::take(&mut self.data)));
        }
        let line = std::str::from_utf8(line).map_err(|_| ClientError::MalformedStream {
            detail: "an event line is not valid UTF-8".into(),
        })?;
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        if field == "data" {
            if self.data.len() + value.len() + 1 > self.max_event_bytes {
                return Err(ClientError::SseEventTooLarge { limit: self.max_event_bytes });
            }
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(value);
            self.has_data = true;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at every possible point and in one piece; all must agree.
    fn decode_all_splits(input: &[u8], max: usize) -> Result<Vec<String>, String> {
        let whole = {
            let mut d = SseDecoder::new(max);
            d.feed(input).and_then(|e| d.finish().map(|()| e)).map_err(|e| e.to_string())
        };
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let mut d = SseDecoder::new(max);
            let got = d
                .feed(a)
                .and_then(|mut e| {
                    e.extend(d.feed(b)?);
                    d.finish().map(|()| e)
                })
                .map_err(|e| e.to_string());
            assert_eq!(got, whole, "split at {split}");
        }
        whole
    }

    #[test]
    fn event_table() {
        let ok: &[(&[u8], &[&str])] = &[
            (b"data: {\"a\":1}\n\n", &["{\"a\":1}"]),
            (b"data:x\r\n\r\ndata: y\r\r", &["x", "y"]),
            (b": keep-alive\n\nevent: m\nid: 3\ndata: a\ndata: b\n\n", &["a\nb"]),
            (b"retry: 10\n\n\n\n", &[]),
            (b"data: \xc3\xa9\n\n", &["\u{e9}"]),
            (b"data\n\n", &[""]),
        ];
        for (input, want) in ok {
            let got = decode_all_splits(input, 1024).unwrap();
            assert_eq!(got, *want, "{}", String::from_utf8_lossy(input));
        }
        let bad: &[(&[u8], &str)] = &[
            (b"data: {\"a\":1}\n", "ended inside an event"),
            (b"data: partial", "ended inside an event"),
            (b"data: \xff\n\n", "not valid UTF-8"),
        ];
        for (input, want) in bad {
            let got = decode_all_splits(input, 1024).unwrap_err();
            assert!(got.contains(want), "{}: {got}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn events_and_unterminated_lines_are_bounded() {
        let mut d = SseDecoder::new(16);
        assert!(matches!(d.feed(&[b'x'; 17]), Err(ClientError::SseEventTooLarge { limit: 16 })));
        let mut d = SseDecoder::new(16);
        let many = b"data: 0123456789\ndata: 0123456789\n";
        assert!(matches!(d.feed(many), Err(ClientError::SseEventTooLarge { .. })));
        let mut d = SseDecoder::new(16);
        assert_eq!(d.feed(b"data: 0123456789\n\n").unwrap(), vec!["0123456789".to_owned()]);
    }
}

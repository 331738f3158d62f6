//! W3C Trace Context: the `traceparent` header that carries one trace across agents.
//!
//! Format (version `00`): `00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>`, lowercase.
//! An inbound header is parsed strictly ([`TraceParent::parse`]); anything malformed is ignored
//! and the request starts a new trace, so a peer can never make us fail, panic or log text of
//! its choosing under the trace id. Each unit of work (an inbound request, an outbound call) has
//! its own span id in the trace ([`TraceContext`]).
//!
//! The context of the work in progress is a tokio task-local ([`TraceContext::current`]): the
//! facade sets it around each handler, so that a `SecureAgent::call` made by the handler
//! continues the caller's trace. Work moved to another task keeps the trace only when it is
//! wrapped in [`TraceContext::scope`].

use std::fmt;
use std::future::Future;

/// The HTTP header name.
pub const TRACEPARENT: &str = "traceparent";

/// The one flag version `00` defines: the caller recorded (sampled) its span.
const SAMPLED: u8 = 0x01;

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// A 16-byte trace id, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// A fresh random trace id (122 random bits from the OS generator, via a v4 UUID).
    pub fn random() -> Self {
        loop {
            let bytes = uuid::Uuid::new_v4().as_u128().to_be_bytes();
            if bytes != [0; 16] {
                return Self(bytes);
            }
        }
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Parses 32 lowercase hex digits, not all zero.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut out = [0u8; 16];
        decode_lower_hex(hex, &mut out)?;
        (out != [0; 16]).then_some(Self(out))
    }
}

impl SpanId {
    /// A fresh random span id: 64 uniformly random bits (the two halves of a v4 UUID folded
    /// together; the fixed version and variant bits never line up, so every bit stays random).
    pub fn random() -> Self {
        loop {
            let v = uuid::Uuid::new_v4().as_u128();
            let folded = (v as u64) ^ ((v >> 64) as u64);
            if folded != 0 {
                return Self(folded.to_be_bytes());
            }
        }
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// Parses 16 lowercase hex digits, not all zero.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut out = [0u8; 8];
        decode_lower_hex(hex, &mut out)?;
        (out != [0; 8]).then_some(Self(out))
    }
}

fn decode_lower_hex(hex: &str, out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len() * 2 {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *slot = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(())
}

/// Lowercase hex of `bytes` (an id: at most 16 bytes) in one `write_str`. Ids are formatted
/// several times a call (span fields, message metadata, audit records), and a `write!` per byte
/// showed in the e2e bench's profile.
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut buf = [0u8; 32];
    let mut len = 0;
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = hex_digit(b >> 4);
            *lo = hex_digit(b & 0x0f);
            len += 2;
        }
    }
    f.write_str(buf.get(..len).and_then(|h| std::str::from_utf8(h).ok()).unwrap_or_default())
}

fn hex_digit(nibble: u8) -> u8 {
    if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// A parsed `traceparent` header: the caller's trace and the span that made the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace.
    pub trace_id: TraceId,
    /// The caller's span (our parent).
    pub parent_id: SpanId,
    /// The trace flags as sent (only bit 0, `sampled`, is defined for version `00`).
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value strictly; `None` for anything malformed.
    ///
    /// Rules (W3C Trace Context, level 1): lowercase hex only; `-` separators; version `ff` is
    /// invalid; trace id and parent id must not be all zero; version `00` is exactly 55
    /// characters; a later version may append fields after a `-` (the first four are read, as
    /// the spec asks, so that newer peers still join the trace). No surrounding whitespace.
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        let head = value.get(..55)?;
        let mut fields = head.split('-');
        let (version, trace, parent, flags) =
            (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() || version.len() != 2 || flags.len() != 2 {
            return None;
        }
        let mut v = [0u8; 1];
        decode_lower_hex(version, &mut v)?;
        match (v, bytes.len()) {
            ([0xff], _) => return None,
            ([0x00], 55) => {}
            ([0x00], _) => return None,
            (_, 55) => {}
            // A future version: more fields may follow, after a separator.
            (_, _) => {
                if bytes.get(55) != Some(&b'-') {
                    return None;
                }
            }
        }
        let mut f = [0u8; 1];
        decode_lower_hex(flags, &mut f)?;
        let [flags] = f;
        Some(Self {
            trace_id: TraceId::from_hex(trace)?,
            parent_id: SpanId::from_hex(parent)?,
            flags,
        })
    }

    /// True when the caller sampled its span.
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The header value, in version `00` form.
    pub fn to_header(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.parent_id, self.flags & SAMPLED)
    }
}

/// The trace context of one unit of work: its trace, its own span, and the span that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace this work belongs to.
    pub trace_id: TraceId,
    /// This unit of work's span.
    pub span_id: SpanId,
    /// The span that caused it (the caller's), if any.
    pub parent_span_id: Option<SpanId>,
    /// Trace flags propagated onwards (only `sampled` is kept).
    pub flags: u8,
}

impl TraceContext {
    /// A new trace (a fresh random trace id), sampled.
    pub fn root() -> Self {
        Self {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_span_id: None,
            flags: SAMPLED,
        }
    }

    /// Work caused by a remote parent: the same trace, a new span. Unknown flags are dropped.
    pub fn continue_from(parent: &TraceParent) -> Self {
        Self {
            trace_id: parent.trace_id,
            span_id: SpanId::random(),
            parent_span_id: Some(parent.parent_id),
            flags: parent.flags & SAMPLED,
        }
    }

    /// The context for an inbound request carrying `header` (the `traceparent` values it had):
    /// the caller's trace when exactly one well-formed value was sent, a new trace otherwise.
    pub fn from_header_values<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> Self {
        let parent = match (values.next(), values.next()) {
            (Some(only), None) => std::str::from_utf8(only).ok().and_then(TraceParent::parse),
            _ => None,
        };
        parent.as_ref().map_or_else(Self::root, Self::continue_from)
    }

    /// A child span of this work in the same trace (for an outbound call it makes).
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            span_id: SpanId::random(),
            parent_span_id: Some(self.span_id),
            flags: self.flags,
        }
    }

    /// The `traceparent` value announcing this span as the parent of the next hop.
    pub fn traceparent(&self) -> String {
        TraceParent { trace_id: self.trace_id, parent_id: self.span_id, flags: self.flags }
            .to_header()
    }

    /// The context of the work in progress on this task, if any was set.
    pub fn current() -> Option<TraceContext> {
        CURRENT.try_with(|c| *c).ok()
    }

    /// Runs `future` with this context as [`TraceContext::current`] (for work handed to another
    /// task that should stay in the trace).
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const P: &str = "00f067aa0ba902b7";

    #[test]
    fn traceparent_values_are_parsed_strictly() {
        let ok = |s: &str| TraceParent::parse(s).is_some();
        let cases: &[(&str, bool)] = &[
            (&format!("00-{T}-{P}-01"), true),
            (&format!("00-{T}-{P}-00"), true),
            (&format!("00-{T}-{P}-ff"), true),
            // A later version may carry more fields after a dash, or none.
            (&format!("01-{T}-{P}-01"), true),
            (&format!("cc-{T}-{P}-01-what-the-future-holds"), true),
            (&format!("cc-{T}-{P}-01x"), false),
            // Version ff is forbidden; version 00 is exactly 55 characters.
            (&format!("ff-{T}-{P}-01"), false),
            (&format!("00-{T}-{P}-01-"), false),
            (&format!("00-{T}-{P}-01 "), false),
            (&format!(" 00-{T}-{P}-01"), false),
            // All-zero ids.
            (&format!("00-{}-{P}-01", "0".repeat(32)), false),
            (&format!("00-{T}-{}-01", "0".repeat(16)), false),
            // Uppercase, non-hex, wrong lengths, wrong separators.
            (&format!("00-{}-{P}-01", T.to_uppercase()), false),
            (&format!("00-{T}-{}-01", P.to_uppercase()), false),
            (&format!("0A-{T}-{P}-01"), false),
            (&format!("00-{T}-{P}-0G"), false),
            (&format!("00-{}-{P}-01", &T[..31]), false),
            (&format!("00-{T}0-{P}-01"), false),
            (&format!("00_{T}_{P}_01"), false),
            (&format!("00-{T}-{P}"), false),
            (&format!("00-{T}-{P}-1"), false),
            (&format!("00-{}x-{P}-01", &T[..31]), false),
            ("", false),
            ("00", false),
            ("garbage-garbage-garbage-garbage-garbage-garbage-garbag", false),
            // Multi-byte characters never panic on a slice boundary.
            (&format!("00-{}é-{P}-01", &T[..30]), false),
            (&format!("00-{T}-{P}-0é"), false),
            (&"é".repeat(40), false),
        ];
        for (value, expected) in cases {
            assert_eq!(ok(value), *expected, "{value:?}");
        }
    }

    #[test]
    fn fields_round_trip_and_unknown_flags_are_dropped() {
        let parsed = TraceParent::parse(&format!("00-{T}-{P}-03")).unwrap();
        assert_eq!(parsed.trace_id.to_string(), T);
        assert_eq!(parsed.parent_id.to_string(), P);
        assert!(parsed.sampled());
        let next = TraceContext::continue_from(&parsed);
        assert_eq!(next.trace_id, parsed.trace_id);
        assert_ne!(next.span_id, parsed.parent_id);
        assert_eq!(next.parent_span_id, Some(parsed.parent_id));
        let header = next.traceparent();
        assert_eq!(header, format!("00-{T}-{}-01", next.span_id));
        assert_eq!(TraceParent::parse(&header).unwrap().trace_id, parsed.trace_id);
    }

    #[test]
    fn inbound_headers_continue_or_restart_the_trace() {
        let good = format!("00-{T}-{P}-01");
        let bad = format!("00-{T}-{P}-01-");
        let cases: [(Vec<&str>, bool); 4] = [
            (vec![good.as_str()], true),
            (vec![bad.as_str()], false),
            (vec![], false),
            // Two values are ambiguous: a new trace.
            (vec![good.as_str(), good.as_str()], false),
        ];
        for (values, continued) in cases {
            let ctx = TraceContext::from_header_values(values.iter().map(|v| v.as_bytes()));
            assert_eq!(ctx.trace_id.to_string() == T, continued, "{values:?}");
            assert_eq!(ctx.parent_span_id.is_some(), continued, "{values:?}");
        }
        let invalid_utf8: [&[u8]; 1] = [b"00-\xff"];
        assert!(
            TraceContext::from_header_values(invalid_utf8.into_iter()).parent_span_id.is_none()
        );
    }

    #[test]
    fn fresh_ids_are_valid_and_distinct() {
        let a = TraceContext::root();
        let b = TraceContext::root();
        assert_ne!(a.trace_id, b.trace_id);
        assert!(TraceId::from_hex(&a.trace_id.to_string()).is_some());
        assert!(SpanId::from_hex(&a.span_id.to_string()).is_some());
        let child = a.child();
        assert_eq!((child.trace_id, child.parent_span_id), (a.trace_id, Some(a.span_id)));
        assert!(TraceParent::parse(&a.traceparent()).is_some());
    }

    #[tokio::test]
    async fn the_current_context_is_scoped_to_the_future() {
        assert_eq!(TraceContext::current(), None);
        let ctx = TraceContext::root();
        let seen = ctx.scope(async { TraceContext::current() }).await;
        assert_eq!(seen, Some(ctx));
        assert_eq!(TraceContext::current(), None);
    }
}

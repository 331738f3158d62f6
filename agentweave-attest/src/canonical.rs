//! Canonical payload bytes and their hash (the `sub` claim).
//!
//! Two forms are supported. [`Canonicalization::Jcs`] (RFC 8785) is the default: it is a
//! published standard with implementations in many languages. [`Canonicalization::PythonJson`]
//! reproduces byte for byte what the Python reference (qwed-a2a 0.3.0) hashes,
//! `json.dumps(payload, sort_keys=True, default=str)` after `json.loads`, so that our
//! attestations can be checked by its verifier and vice versa.

use std::cmp::Ordering;

use ring::digest;

use crate::error::CanonicalError;
use crate::json::write::{Sink, write_string};
use crate::json::{Json, NumberKind};

/// How a payload is turned into the bytes that are hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Canonicalization {
    /// RFC 8785 JSON Canonicalization Scheme: keys sorted by UTF-16 code units, no spaces,
    /// numbers as ECMAScript doubles, minimal string escaping.
    #[default]
    Jcs,
    /// Python `json.dumps(sort_keys=True)`: `", "`/`": "` separators, keys sorted by code
    /// point, `ensure_ascii` escaping, exact integers and Python `float` repr.
    PythonJson,
}

impl Canonicalization {
    /// The name carried in the attestation's claims (`jcs` or `python-json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Canonicalization::Jcs => "jcs",
            Canonicalization::PythonJson => "python-json",
        }
    }

    /// Parses the claim value written by [`Canonicalization::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "jcs" => Some(Canonicalization::Jcs),
            "python-json" => Some(Canonicalization::PythonJson),
            _ => None,
        }
    }

    /// The canonical text of `payload`.
    pub fn canonicalize(self, payload: &Json<'_>) -> Result<String, CanonicalError> {
        let mut out = String::with_capacity(256);
        self.write(payload, &mut out)?;
        Ok(out)
    }

    /// `sha256:<lowercase hex>` of the canonical text: the `sub` claim.
    ///
    /// The canonical text is streamed into SHA-256 as it is produced (through a small
    /// stack buffer), never built as a `String`: the hash is the same as hashing
    /// [`Canonicalization::canonicalize`]'s output, without its allocation and copy.
    pub fn payload_hash(self, payload: &Json<'_>) -> Result<String, CanonicalError> {
        Ok(self.payload_hash_text(payload)?.as_str().to_owned())
    }

    /// [`Canonicalization::payload_hash`] on the stack (the signer writes it straight
    /// into the claims, so it needs no `String` of its own).
    pub(crate) fn payload_hash_text(self, payload: &Json<'_>) -> Result<HashText, CanonicalError> {
        let mut sink = HashSink::new();
        self.write(payload, &mut sink)?;
        let d = sink.finish();
        let mut text = HashText([0; HASH_TEXT_LEN]);
        let (prefix, hex) = text.0.split_at_mut(7);
        prefix.copy_from_slice(b"sha256:");
        for (pair, b) in hex.chunks_exact_mut(2).zip(d.as_ref()) {
            pair.copy_from_slice(&[hex_digit(b >> 4), hex_digit(b & 0xf)]);
        }
        Ok(text)
    }

    fn write<S: Sink>(self, payload: &Json<'_>, out: &mut S) -> Result<(), CanonicalError> {
        // One scratch vector serves the member sorting of every object in the payload
        // (a stack of sorted member lists), instead of one allocation per object.
        let mut scratch: Vec<(&str, &Json<'_>)> = Vec::new();
        match self {
            Canonicalization::Jcs => jcs(payload, out, &mut scratch),
            Canonicalization::PythonJson => {
                python(payload, out, &mut scratch);
                Ok(())
            }
        }
    }
}

/// Length of `sha256:` and 64 hex digits.
const HASH_TEXT_LEN: usize = 7 + 64;

/// The `sub` claim text, `sha256:<64 lowercase hex digits>`, in a stack array.
pub(crate) struct HashText([u8; HASH_TEXT_LEN]);

impl HashText {
    /// The text (always ASCII: a fixed prefix and hex digits).
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("sha256:")
    }
}

fn hex_digit(n: u8) -> u8 {
    if n < 10 { b'0' + n } else { b'a' + (n - 10) }
}

/// Feeds text to SHA-256 in blocks: small pieces are gathered in a stack buffer so the
/// digest sees a few large updates rather than one per token.
struct HashSink {
    ctx: digest::Context,
    buf: [u8; 512],
    len: usize,
}

impl HashSink {
    fn new() -> Self {
        Self { ctx: digest::Context::new(&digest::SHA256), buf: [0; 512], len: 0 }
    }

    fn flush(&mut self) {
        self.ctx.update(self.buf.get(..self.len).unwrap_or(&[]));
        self.len = 0;
    }

    fn finish(mut self) -> digest::Digest {
        self.flush();
        self.ctx.finish()
    }
}

impl Sink for HashSink {
    fn put_quoted(&mut self, s: &str) {
        let n = s.len() + 2;
        if let Some(dst) = self.buf.get_mut(self.len..self.len + n)
            && let Some((open, rest)) = dst.split_first_mut()
            && let Some((close, body)) = rest.split_last_mut()
        {
            *open = b'"';
            body.copy_from_slice(s.as_bytes());
            *close = b'"';
            self.len += n;
            return;
        }
        // Not enough room left in the buffer: the general path flushes as needed.
        self.put("\"");
        self.put(s);
        self.put("\"");
    }

    fn put(&mut self, s: &str) {
        let bytes = s.as_bytes();
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
            if bytes.len() >= self.buf.len() {
                self.ctx.update(bytes);
                return;
            }
        }
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }
}

/// Whether UTF-8 byte order equals RFC 8785's UTF-16 code-unit order for `k`.
///
/// UTF-8 byte order is code-point order; it differs from UTF-16 order only between
/// characters from U+E000 up and supplementary ones, whose UTF-8 lead bytes are 0xEE and
/// above. A key without such a byte (every character below U+E000) sorts by bytes.
fn bytes_sort_as_utf16(k: &str) -> bool {
    // `is_ascii` tests a word at a time: the common case costs almost nothing.
    k.is_ascii() || k.bytes().all(|c| c < 0xEE)
}

/// Byte order of two keys (what `str::cmp` computes), written out so that it inlines
/// into the sort: object keys are short and usually differ in their first bytes, where
/// a call to `memcmp` per comparison costs more than the comparison.
fn byte_order(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => x.cmp(y),
        None => a.len().cmp(&b.len()),
    }
}

/// RFC 8785 key order: by UTF-16 code units.
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Pushes the members of `o` onto `scratch` sorted by `order` and returns where they
/// start. Members already in order (common: senders often write sorted keys) skip the
/// sort; with `bytes_ok` true for every key, byte order is used instead of `order`.
fn push_sorted<'a>(
    o: &'a crate::json::Object<'a>,
    scratch: &mut Vec<(&'a str, &'a Json<'a>)>,
    order: fn(&str, &str) -> Ordering,
    bytes_ok: fn(&str) -> bool,
) -> usize {
    let start = scratch.len();
    scratch.extend(o.iter());
    if let Some(members) = scratch.get_mut(start..) {
        if members.iter().all(|m| bytes_ok(m.0)) {
            sort_members(members, byte_order);
        } else {
            sort_members(members, order);
        }
    }
    start
}

/// Sorts members by key with `order` unless they already are (generic so that the
/// common byte order inlines into the sort).
fn sort_members(members: &mut [(&str, &Json<'_>)], order: impl Fn(&str, &str) -> Ordering) {
    if !members.is_sorted_by(|a, b| order(a.0, b.0) == Ordering::Less) {
        members.sort_unstable_by(|a, b| order(a.0, b.0));
    }
}

/// Shortest round-trip decimal digits of a finite, non-zero `x` and the position of the
/// decimal point relative to them (value = 0.DIGITS × 10^decpt).
fn shortest_digits(x: f64) -> (String, i32) {
    // `{:e}` prints the shortest representation that round-trips, e.g. `1.5e2`.
    let s = format!("{:e}", x.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// Python's `float.__repr__` (format code `r`, "short" repr style).
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    let (d, decpt) = shortest_digits(x);
    let n = d.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let e = decpt - 1;
        let (first, rest) = d.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if e < 0 { '-' } else { '+' };
        format!("{first}{frac}e{esign}{:02}", e.abs())
    } else if decpt <= 0 {
        format!("0.{}{d}", "0".repeat((-decpt) as usize))
    } else if decpt >= n {
        format!("{d}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        let (a, b) = d.split_at(decpt as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

/// ECMAScript `Number.prototype.toString` for a finite double (RFC 8785 section 3.2.2.3).
pub fn ecmascript_number(x: f64) -> Result<String, CanonicalError> {
    if !x.is_finite() {
        return Err(CanonicalError::NonFiniteNumber(x.to_string()));
    }
    if x == 0.0 {
        return Ok("0".into());
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let (d, n) = shortest_digits(x);
    let k = d.len() as i32;
    let body = if k <= n && n <= 21 {
        format!("{d}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (a, b) = d.split_at(n as usize);
        format!("{a}.{b}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{d}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let (first, rest) = d.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if e < 0 { '-' } else { '+' };
        format!("{first}{frac}e{esign}{}", e.abs())
    };
    Ok(format!("{sign}{body}"))
}

/// Whether `text` (a validated JSON number) is a plain decimal whose ECMAScript form can
/// be written without going through `f64`: no exponent, at most 15 significant digits
/// (so the double's shortest round-trip digits are exactly these digits) and a magnitude
/// in the fixed-notation range [1e-6, 1e21) or zero.
fn plain_decimal_jcs(text: &str) -> Option<()> {
    let t = text.strip_prefix('-').unwrap_or(text);
    if t.bytes().any(|b| !(b.is_ascii_digit() || b == b'.')) {
        return None;
    }
    let (int, frac) = split_point(t);
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let sig: usize = if int.is_empty() {
        let lead = frac.len() - frac.trim_start_matches('0').len();
        if frac.is_empty() {
            return Some(()); // zero
        }
        if lead >= 6 {
            return None; // below 1e-6: exponent form
        }
        frac.len() - lead
    } else {
        if int.len() > 21 {
            return None;
        }
        int.len() + frac.len()
    };
    (sig <= 15).then_some(())
}

/// Splits number text at its decimal point (a byte search: cheaper than a `char`
/// pattern for these short ASCII texts).
fn split_point(t: &str) -> (&str, &str) {
    match t.bytes().position(|b| b == b'.') {
        Some(i) => (t.get(..i).unwrap_or(t), t.get(i + 1..).unwrap_or("")),
        None => (t, ""),
    }
}

/// Whether `text` (a validated JSON number) is a non-negative integer of at most 15
/// digits without a leading zero (counts, quantities): such text is its own ECMAScript
/// form, so it is written as it is, without the scans of [`plain_decimal_jcs`].
fn is_own_jcs_integer(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() <= 15
        && b.first().is_some_and(|&c| c != b'0' || b.len() == 1)
        && b.iter().all(u8::is_ascii_digit)
}

/// Writes a number accepted by [`plain_decimal_jcs`] in ECMAScript form.
fn push_plain_decimal<S: Sink>(text: &str, out: &mut S) {
    let (neg, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = split_point(t);
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.is_empty() && frac.is_empty() {
        out.put("0");
        return;
    }
    if neg {
        out.put("-");
    }
    out.put(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.put(".");
        out.put(frac);
    }
}

fn jcs<'a, S: Sink>(
    v: &'a Json<'a>,
    out: &mut S,
    scratch: &mut Vec<(&'a str, &'a Json<'a>)>,
) -> Result<(), CanonicalError> {
    match v {
        Json::Null => out.put("null"),
        Json::Bool(true) => out.put("true"),
        Json::Bool(false) => out.put("false"),
        Json::String(s) => write_string(s, out),
        Json::Number(n) => {
            if n.kind() == NumberKind::NonFinite {
                return Err(CanonicalError::NonFiniteNumber(n.as_str().to_owned()));
            }
            let t = n.as_str();
            if is_own_jcs_integer(t) {
                out.put(t);
                return Ok(());
            }
            match plain_decimal_jcs(n.as_str()) {
                Some(()) => push_plain_decimal(n.as_str(), out),
                None => out.put(&ecmascript_number(n.to_f64())?),
            }
        }
        Json::Array(items) => {
            out.put("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(",");
                }
                jcs(item, out, scratch)?;
            }
            out.put("]");
        }
        Json::Object(o) => {
            let start = push_sorted(o, scratch, utf16_order, bytes_sort_as_utf16);
            let end = scratch.len();
            out.put("{");
            for i in start..end {
                let Some(&(k, item)) = scratch.get(i) else { break };
                if i > start {
                    out.put(",");
                }
                write_string(k, out);
                out.put(":");
                jcs(item, out, scratch)?;
            }
            scratch.truncate(start);
            out.put("}");
        }
    }
    Ok(())
}

fn python_string<S: Sink>(s: &str, out: &mut S) {
    out.put("\"");
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            ' '..='~' => continue,
            _ => "",
        };
        out.put(s.get(run_start..i).unwrap_or(""));
        if esc.is_empty() {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let mut buf = *b"\\u0000";
                for (slot, shift) in buf.iter_mut().skip(2).zip([12u16, 8, 4, 0]) {
                    // The masked nibble is below 16, so the cast cannot truncate.
                    *slot = hex_digit(((*u >> shift) & 0xf) as u8);
                }
                // `buf` is ASCII, so this conversion cannot fail.
                out.put(std::str::from_utf8(&buf).unwrap_or("\\ufffd"));
            }
        } else {
            out.put(esc);
        }
        run_start = i + c.len_utf8();
    }
    out.put(s.get(run_start..).unwrap_or(""));
    out.put("\"");
}

fn python<'a, S: Sink>(v: &'a Json<'a>, out: &mut S, scratch: &mut Vec<(&'a str, &'a Json<'a>)>) {
    match v {
        Json::Null => out.put("null"),
        Json::Bool(true) => out.put("true"),
        Json::Bool(false) => out.put("false"),
        Json::String(s) => python_string(s, out),
        Json::Number(n) => match n.kind() {
            NumberKind::Integer => {
                // Python ints are exact; the only spelling change is `-0` -> `0`.
                let t = n.as_str();
                if t.trim_start_matches('-').bytes().all(|b| b == b'0') {
                    out.put("0");
                } else {
                    out.put(t);
                }
            }
            NumberKind::Float | NumberKind::NonFinite => out.put(&python_float_repr(n.to_f64())),
        },
        Json::Array(items) => {
            out.put("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(", ");
                }
                python(item, out, scratch);
            }
            out.put("]");
        }
        Json::Object(o) => {
            // Python compares str by code point, which is UTF-8 byte order.
            let start = push_sorted(o, scratch, byte_order, |_| true);
            let end = scratch.len();
            out.put("{");
            for i in start..end {
                let Some(&(k, item)) = scratch.get(i) else { break };
                if i > start {
                    out.put(", ");
                }
                python_string(k, out);
                out.put(": ");
                python(item, out, scratch);
            }
            scratch.truncate(start);
            out.put("}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{ParseOptions, parse};

    fn doc(t: &str) -> Json<'_> {
        parse(t, ParseOptions { max_depth: 64, allow_non_finite_tokens: true }).unwrap()
    }

    #[test]
    fn python_float_repr_matches_cpython() {
        let cases: &[(f64, &str)] = &[
            (150.0, "150.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-7, "1e-07"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (1.5e300, "1.5e+300"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (2.5, "2.5"),
            (f64::INFINITY, "Infinity"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float_repr(*x), *want, "{x}");
        }
    }

    #[test]
    fn ecmascript_numbers_match_rfc8785_examples() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (333333333.3333333, "333333333.3333333"),
            (4.5, "4.5"),
            (2e-3, "0.002"),
            (-1.5e-10, "-1.5e-10"),
            (9007199254740992.0, "9007199254740992"),
        ];
        for (x, want) in cases {
            assert_eq!(ecmascript_number(*x).unwrap(), *want, "{x}");
        }
        assert!(ecmascript_number(f64::NAN).is_err());
    }

    #[test]
    fn python_json_reproduces_json_dumps() {
        let v = doc(
            r#"{"b": [1, 2.50, 1e400, -0, 100000000000000000000000000000], "a": "é😀\u007f\t", "A": null}"#,
        );
        assert_eq!(
            Canonicalization::PythonJson.canonicalize(&v).unwrap(),
            r#"{"A": null, "a": "\u00e9\ud83d\ude00\u007f\t", "b": [1, 2.5, Infinity, 0, 100000000000000000000000000000]}"#
        );
    }

    #[test]
    fn jcs_sorts_by_utf16_and_refuses_non_finite() {
        // U+FF61 sorts before U+1F600 by code point but after it by UTF-16 code units.
        let v = doc(r#"{"😀": 1, "｡": 2, "a": 1.0}"#);
        assert_eq!(Canonicalization::Jcs.canonicalize(&v).unwrap(), r#"{"a":1,"😀":1,"｡":2}"#);
        let bad = doc(r#"{"x": NaN}"#);
        assert!(Canonicalization::Jcs.canonicalize(&bad).is_err());
    }

    #[test]
    fn jcs_plain_decimal_fast_path_agrees_with_the_f64_path() {
        let texts = [
            "0",
            "-0",
            "0.0",
            "1",
            "-1",
            "10",
            "1.50",
            "0.000001",
            "0.0000001",
            "123456789012345",
            "1234567890123456",
            "0.1",
            "100.00",
            "-0.5",
            "000",
            "999999999999999999999",
            "1000000000000000000000",
            "12.3400",
            "0.30000000000000004",
            "-12345.678",
        ];
        for t in texts {
            let slow = ecmascript_number(t.parse::<f64>().unwrap()).unwrap();
            let fast = plain_decimal_jcs(t).map(|()| {
                let mut s = String::new();
                push_plain_decimal(t, &mut s);
                s
            });
            if let Some(fast) = fast {
                assert_eq!(fast, slow, "{t}");
            }
            if is_own_jcs_integer(t) {
                assert_eq!(t, slow, "{t}");
            }
        }
        for (t, own) in [
            ("0", true),
            ("7", true),
            ("123456789012345", true),
            ("1234567890123456", false),
            ("-1", false),
            ("-0", false),
            ("000", false),
            ("10.0", false),
            ("1e5", false),
        ] {
            assert_eq!(is_own_jcs_integer(t), own, "{t}");
        }
        assert!(plain_decimal_jcs("0.0000001").is_none());
        assert!(plain_decimal_jcs("1234567890123456").is_none());
        assert!(plain_decimal_jcs("1e5").is_none());
    }

    #[test]
    fn byte_order_shortcut_agrees_with_utf16_order() {
        let keys = [
            "", "a", "b", "ab", "A", "é", "\u{d7ff}", "\u{e000}", "｡", "\u{ffff}", "😀", "a😀",
            "a｡",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(byte_order(a, b), a.cmp(b), "{a:?} {b:?}");
                if bytes_sort_as_utf16(a) && bytes_sort_as_utf16(b) {
                    assert_eq!(a.cmp(b), utf16_order(a, b), "{a:?} {b:?}");
                }
            }
        }
        // The shortcut is refused exactly where the orders can differ.
        assert!(!bytes_sort_as_utf16("｡") && !bytes_sort_as_utf16("😀"));
        assert_eq!(utf16_order("😀", "｡"), Ordering::Less);
        assert_eq!("😀".cmp("｡"), Ordering::Greater);
    }

    #[test]
    fn streamed_hash_equals_hash_of_text() {
        let long = "x".repeat(1500);
        // Strings of every length around the 512-byte buffer, so quoted strings land on,
        // just before and just past its end.
        let sizes: Vec<String> = (0..560).map(|n| format!(r#""{}""#, "y".repeat(n))).collect();
        let texts = [
            r#"{"b": [1, 2.50, {"z": null, "a": true}], "a": "é😀\u007f\t"}"#.to_owned(),
            format!(r#"{{"k": "{long}", "j": ["{long}", 1e400]}}"#),
            format!("[{}]", sizes.join(",")),
        ];
        for t in &texts {
            let v = doc(t);
            for c in [Canonicalization::Jcs, Canonicalization::PythonJson] {
                let Ok(text) = c.canonicalize(&v) else { continue };
                let d = digest::digest(&digest::SHA256, text.as_bytes());
                assert_eq!(c.payload_hash(&v).unwrap(), format!("sha256:{}", hex::encode(d)));
            }
        }
    }

    #[test]
    fn hash_has_sha256_prefix() {
        let h = Canonicalization::Jcs.payload_hash(&doc("{}")).unwrap();
        assert_eq!(h, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    }
}

//! Compact JSON output (no spaces), escaping only what JSON requires.

use super::Json;
use super::scan::next_special;

/// Where serialised JSON text goes: a `String`, or (for hashing) straight into a digest
/// without building the text first.
pub(crate) trait Sink {
    /// Appends `s`.
    fn put(&mut self, s: &str);

    /// Appends `s` between double quotes (a string with nothing to escape, the common
    /// case): one step for sinks that can do it at once.
    fn put_quoted(&mut self, s: &str) {
        self.put("\"");
        self.put(s);
        self.put("\"");
    }
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// Appends the compact JSON text of `v` to `out`.
pub fn write_compact(v: &Json<'_>, out: &mut String) {
    write_value(v, out);
}

fn write_value<S: Sink>(v: &Json<'_>, out: &mut S) {
    match v {
        Json::Null => out.put("null"),
        Json::Bool(true) => out.put("true"),
        Json::Bool(false) => out.put("false"),
        Json::Number(n) => out.put(n.as_str()),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.put("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(",");
                }
                write_value(item, out);
            }
            out.put("]");
        }
        Json::Object(o) => {
            out.put("{");
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.put(",");
                }
                write_string(k, out);
                out.put(":");
                write_value(item, out);
            }
            out.put("}");
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes a JSON string with the short escapes of RFC 8785 (and JSON): `\b \t \n \f \r`,
/// `\"`, `\\`, other control characters as lowercase `\u00xx`, everything else verbatim.
/// (This is also exactly what `serde_json` writes, which the claims encoder relies on.)
pub(crate) fn write_string<S: Sink>(s: &str, out: &mut S) {
    let bytes = s.as_bytes();
    let mut i = next_special(bytes, 0);
    if i == bytes.len() {
        out.put_quoted(s);
        return;
    }
    out.put("\"");
    let mut run_start = 0;
    loop {
        // Everything up to the next byte that needs an escape is copied as it is.
        out.put(s.get(run_start..i).unwrap_or(""));
        let Some(&b) = bytes.get(i) else { break };
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            _ => "",
        };
        if esc.is_empty() {
            let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
            let buf = [b'\\', b'u', b'0', b'0', hi, lo];
            out.put(std::str::from_utf8(&buf).unwrap_or("\\ufffd"));
        } else {
            out.put(esc);
        }
        run_start = i + 1;
        i = next_special(bytes, run_start);
    }
    out.put("\"");
}

//! Canonical payload bytes and their hash (the `sub` claim).
//!
//! Two forms are supported. [`Canonicalization::Jcs`] (RFC 8785) is the default: it is a
//! published standard with implementations in many languages. [`Canonicalization::PythonJson`]
//! reproduces byte for byte what the Python reference (qwed-a2a 0.3.0) hashes,
//! `json.dumps(payload, sort_keys=True, default=str)` after `json.loads`, so that our
//! attestations can be checked by its verifier and vice versa.

use std::fmt::Write as _;

use ring::digest;

use crate::error::CanonicalError;
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
    pub fn canonicalize(self, payload: &Json) -> Result<String, CanonicalError> {
        let mut out = String::with_capacity(256);
        match self {
            Canonicalization::Jcs => jcs(payload, &mut out)?,
            Canonicalization::PythonJson => python(payload, &mut out),
        }
        Ok(out)
    }

    /// `sha256:<lowercase hex>` of the canonical text: the `sub` claim.
    pub fn payload_hash(self, payload: &Json) -> Result<String, CanonicalError> {
        let text = self.canonicalize(payload)?;
        let d = digest::digest(&digest::SHA256, text.as_bytes());
        Ok(format!("sha256:{}", hex::encode(d.as_ref())))
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
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
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

/// Writes a number accepted by [`plain_decimal_jcs`] in ECMAScript form.
fn push_plain_decimal(text: &str, out: &mut String) {
    let (neg, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.is_empty() && frac.is_empty() {
        out.push('0');
        return;
    }
    if neg {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
}

fn jcs(v: &Json, out: &mut String) -> Result<(), CanonicalError> {
    match v {
        Json::Null | Json::Bool(_) | Json::String(_) => {
            crate::json::write_compact(v, out);
        }
        Json::Number(n) => {
            if n.kind() == NumberKind::NonFinite {
                return Err(CanonicalError::NonFiniteNumber(n.as_str().to_owned()));
            }
            match plain_decimal_jcs(n.as_str()) {
                Some(()) => push_plain_decimal(n.as_str(), out),
                None => out.push_str(&ecmascript_number(n.to_f64())?),
            }
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jcs(item, out)?;
            }
            out.push(']');
        }
        Json::Object(o) => {
            let mut members: Vec<(&str, &Json)> = o.iter().collect();
            // RFC 8785: sort by the UTF-16 code units of the keys.
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::json::write::write_string(k, out);
                out.push(':');
                jcs(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn python(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(true) => out.push_str("true"),
        Json::Bool(false) => out.push_str("false"),
        Json::String(s) => python_string(s, out),
        Json::Number(n) => match n.kind() {
            NumberKind::Integer => {
                // Python ints are exact; the only spelling change is `-0` -> `0`.
                let t = n.as_str();
                if t.trim_start_matches('-').bytes().all(|b| b == b'0') {
                    out.push('0');
                } else {
                    out.push_str(t);
                }
            }
            NumberKind::Float | NumberKind::NonFinite => {
                out.push_str(&python_float_repr(n.to_f64()))
            }
        },
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python(item, out);
            }
            out.push(']');
        }
        Json::Object(o) => {
            let mut members: Vec<(&str, &Json)> = o.iter().collect();
            // Python compares str by code point, which is UTF-8 byte order.
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_string(k, out);
                out.push_str(": ");
                python(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{ParseOptions, parse};

    fn doc(t: &str) -> Json {
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
        }
        assert!(plain_decimal_jcs("0.0000001").is_none());
        assert!(plain_decimal_jcs("1234567890123456").is_none());
        assert!(plain_decimal_jcs("1e5").is_none());
    }

    #[test]
    fn hash_has_sha256_prefix() {
        let h = Canonicalization::Jcs.payload_hash(&doc("{}")).unwrap();
        assert_eq!(h, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    }
}

//! RFC 8785 JSON Canonicalization Scheme.
//!
//! Object members sorted by their UTF-16 code units, no insignificant whitespace, strings
//! escaped as ECMAScript `JSON.stringify` does, numbers in ECMAScript `Number.prototype.toString`
//! form.

use std::fmt::Write as _;

use serde_json::Value;

/// A value that cannot be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// NaN and infinities have no JSON form.
    #[error("number `{0}` cannot be canonicalized (not finite)")]
    NonFinite(String),
}

/// Canonicalizes `value` per RFC 8785.
pub fn canonicalize(value: &Value) -> Result<String, JcsError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), JcsError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write_f64(i as f64, out, n)?;
            } else if let Some(u) = n.as_u64() {
                write_f64(u as f64, out, n)?;
            } else {
                let f = n.as_f64().ok_or_else(|| JcsError::NonFinite(n.to_string()))?;
                write_f64(f, out, n)?;
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_value(v, out)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript Number::toString for a finite double.
fn write_f64(f: f64, out: &mut String, original: &serde_json::Number) -> Result<(), JcsError> {
    if !f.is_finite() {
        return Err(JcsError::NonFinite(original.to_string()));
    }
    if f == 0.0 {
        out.push('0');
        return Ok(());
    }
    if f < 0.0 {
        out.push('-');
    }
    // Shortest round-trip digits and exponent from Rust's `{:e}` (e.g. "1.2345e-7").
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let n = exp + 1; // position of the decimal point relative to the digits
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(n).unwrap_or(0));
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_card_example() {
        // Section 8.4.1 of the A2A specification (after default-value removal).
        let v = json!({"name": "Example Agent", "description": "", "capabilities": {"streaming": false, "pushNotifications": false}, "skills": []});
        assert_eq!(
            canonicalize(&v).unwrap(),
            r#"{"capabilities":{"pushNotifications":false,"streaming":false},"description":"","name":"Example Agent","skills":[]}"#
        );
    }

    #[test]
    fn numbers_follow_ecmascript() {
        // Values from RFC 8785 appendix B and the ECMAScript algorithm.
        let cases: [(f64, &str); 12] = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (333333333.3333333, "333333333.3333333"),
        ];
        for (f, want) in cases {
            let n = serde_json::Number::from_f64(f).unwrap();
            assert_eq!(canonicalize(&Value::Number(n)).unwrap(), want, "{f}");
        }
        assert_eq!(canonicalize(&json!(42)).unwrap(), "42");
    }

    #[test]
    fn keys_sort_by_utf16_and_strings_escape() {
        // RFC 8785 section 3.2.3 sorting example (subset).
        let v = json!({"\u{20ac}": "Euro", "\r": "cr", "1": "one", "\u{1f600}": "smile", "\u{80}": "ctl"});
        assert_eq!(
            canonicalize(&v).unwrap(),
            "{\"\\r\":\"cr\",\"1\":\"one\",\"\u{80}\":\"ctl\",\"\u{20ac}\":\"Euro\",\"\u{1f600}\":\"smile\"}"
        );
        assert_eq!(canonicalize(&json!("a\u{1}\"\\")).unwrap(), "\"a\\u0001\\\"\\\\\"");
    }
}

//! Input limits applied before any JSON parsing, so that a hostile body costs at most one
//! linear scan: a size cap (enforced while the body is read) and a nesting-depth cap.

/// Default maximum request body: 4 MiB (enough for inline files of a few MiB in base64).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default maximum JSON nesting depth (arrays and objects).
pub const DEFAULT_MAX_JSON_DEPTH: usize = 64;

/// Limits on request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest accepted body in bytes; larger bodies are refused with HTTP 413 / -32600.
    pub max_body_bytes: usize,
    /// Deepest accepted nesting of JSON arrays/objects; deeper bodies are refused as a parse
    /// error before serde sees them.
    pub max_json_depth: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self { max_body_bytes: DEFAULT_MAX_BODY_BYTES, max_json_depth: DEFAULT_MAX_JSON_DEPTH }
    }
}

/// Returns the nesting depth first exceeding `max`, or `None` when the body stays within it.
///
/// Brackets inside JSON strings are skipped (escapes honoured). The scan does not validate
/// JSON; serde does that afterwards on bodies that pass.
pub fn exceeds_depth(body: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(depth);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_cases() {
        let deep = "[".repeat(100_000);
        let cases: [(&[u8], usize, bool); 6] = [
            (b"{}", 1, false),
            (b"{\"a\":[1,{\"b\":2}]}", 3, false),
            (b"{\"a\":[1,{\"b\":2}]}", 2, true),
            (b"{\"s\":\"[[[[[[[[[[\"}", 1, false),
            (b"{\"s\":\"\\\"[[[[\"}", 1, false),
            (deep.as_bytes(), 64, true),
        ];
        for (body, max, over) in cases {
            assert_eq!(
                exceeds_depth(body, max).is_some(),
                over,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

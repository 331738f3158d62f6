//! The reference's heuristic layer, applied to code tokens only.
//!
//! The reference runs six case-insensitive regexes over the raw text, so `'os.popen( is
//! banned'` in a string or a comment blocks the message (code-060/061). We run the same
//! patterns over [`super::tokens::Scanned::code_text`], where comments are gone, string
//! literals are `""` and identifiers are NFKC-normalised.
//!
//! `base64_exec` is narrowed: a module-qualified `base64.b64decode(…)` is an ordinary library
//! call whose result is data (corpus code-057 wants it clean; a decode that feeds `exec`/`eval`
//! is caught by the AST layer through the sink), while a bare `b64decode(…)` keeps the
//! reference's verdict because the corpus target for code-058 keeps it blocked.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

/// Label and pattern, in the reference's reporting order.
const PATTERNS: &[(&str, &str)] = &[
    ("getattr_builtin", r"getattr\s*\(\s*(?:__builtins__|builtins)\s*"),
    ("builtins_dict_access", r"__builtins__\s*\.\s*__dict__\s*\["),
    // Group 1 marks the module-qualified form (`base64.b64decode(`, `base64.urlsafe_b64decode(`),
    // which `scan` does not report (see the module docs); bare names match as in the reference.
    ("base64_exec", r"(\.\s*\w*)?b64decode\s*\("),
    ("dynamic_import", r"__import__\s*\("),
    ("os_system", r"\bos\.system\s*\("),
    ("os_popen", r"\bos\.popen\s*\("),
];

/// The compiled patterns; `None` only if a pattern failed to compile, in which case the layer
/// fails closed (see [`scan`]).
static COMPILED: LazyLock<Option<Vec<(&'static str, Regex)>>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|(label, pattern)| {
            RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
                .ok()
                .map(|regex| (*label, regex))
        })
        .collect()
});

/// Labels of the patterns that match `code_text`, in the reference's order.
pub(super) fn scan(code_text: &str) -> Vec<&'static str> {
    match COMPILED.as_ref() {
        Some(compiled) => compiled
            .iter()
            .filter(|(label, regex)| {
                if *label == "base64_exec" {
                    regex.captures_iter(code_text).any(|caps| caps.get(1).is_none())
                } else {
                    regex.is_match(code_text)
                }
            })
            .map(|(label, _)| *label)
            .collect(),
        // Fixed patterns cannot fail to compile; if they somehow did, block rather than pass.
        None => PATTERNS.iter().map(|(label, _)| *label).collect(),
    }
}

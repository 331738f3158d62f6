//! What a policy version can read of its input, and whether its decisions may be cached.
//!
//! Why: every A2A send carries a fresh `context.message_id`, so a cache keyed on the whole input
//! never hits, although the starter policies never read that field; and building input fields no
//! rule reads costs time on every decision. The enforcer therefore hands regorus, and keys its
//! cache on, only the input fields the loaded modules can read.
//!
//! How: a scan of the module sources, conservative by construction. Every `input` token outside
//! comments and strings is a read of the static path that follows it (`.name` and `["name"]`
//! steps); the path stops at the first step that is not static, so `input.context[k]` reads all of
//! `input.context`, and a bare `input` (passed to a function, iterated, `with input as …`, an
//! `import input` alias) reads everything. A source the scanner does not understand (a character
//! outside strings and comments it does not know, an unterminated string) reads everything and is
//! never cached: the scan can only widen what is read, never narrow it.
//!
//! Decisions are cacheable only when they depend on nothing but input and data: a module naming
//! a builtin whose answer changes over time or with the outside world (`time.now_ns`,
//! `http.send`, …) makes the version uncacheable.

use std::collections::BTreeSet;

use crate::input_mask::InputMask;

/// The input fields a policy version can read, as the enforcer's status reports them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputFields {
    /// The whole input (a read the scan cannot narrow, or a source it cannot scan).
    All,
    /// Only these paths under `input`, dotted (`"action"`, `"context.capability"`); a path
    /// covers everything below it. Empty when no module reads the input at all.
    Only(Vec<String>),
}

/// What the scan of a policy version found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputReads {
    /// What the status reports.
    pub(crate) fields: InputFields,
    /// The fields handed to regorus and compared by the cache.
    pub(crate) mask: InputMask,
    /// Why decisions of this version are never cached; `None` when they may be.
    pub(crate) uncacheable: Option<String>,
}

/// Builtins whose answer depends on the clock, randomness or the network: a policy naming one
/// may decide differently on the same input, so its decisions are never cached.
const UNSTABLE_BUILTINS: [&str; 9] = [
    "time.now_ns",
    "http.send",
    "rand.intn",
    "uuid.rfc4122",
    "opa.runtime",
    "net.lookup_ip_addr",
    "io.jwt.decode_verify",
    "crypto.x509.parse_and_verify_certificates",
    "crypto.x509.parse_and_verify_certificates_with_options",
];

impl InputReads {
    /// Scans the text of every module of a version.
    pub(crate) fn scan<'a>(modules: impl IntoIterator<Item = (&'a str, &'a str)>) -> InputReads {
        let mut paths: BTreeSet<Vec<String>> = BTreeSet::new();
        let mut uncacheable = None;
        for (name, text) in modules {
            let tokens = match tokenize(text) {
                Ok(tokens) => tokens,
                Err(what) => {
                    let why = format!("module {name} could not be scanned ({what})");
                    return InputReads::everything(Some(why));
                }
            };
            collect_input_paths(&tokens, &mut paths);
            if uncacheable.is_none()
                && let Some(builtin) = unstable_builtin(&tokens)
            {
                uncacheable = Some(format!("module {name} calls {builtin}"));
            }
        }
        if paths.contains(&Vec::new()) {
            return InputReads::everything(uncacheable);
        }
        let mask = InputMask::from_paths(paths.iter().map(Vec::as_slice));
        let fields = InputFields::Only(paths.iter().map(|path| path.join(".")).collect());
        InputReads { fields, mask, uncacheable }
    }

    fn everything(uncacheable: Option<String>) -> InputReads {
        InputReads { fields: InputFields::All, mask: InputMask::ALL, uncacheable }
    }
}

/// A token of Rego source; only what the scan needs is told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    /// A string literal: its value when it has no escapes (only those can name a path step).
    Str(Option<&'a str>),
    Symbol(u8),
    Number,
}

/// Splits Rego source into tokens, skipping whitespace and `#` comments. `Err` names the first
/// thing it does not understand (the caller then assumes the worst).
fn tokenize(text: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'#' => at = line_end(bytes, at),
            b'"' => {
                let (end, escaped) = string_end(bytes, at)?;
                let value = if escaped { None } else { text.get(at + 1..end - 1) };
                tokens.push(Token::Str(value));
                at = end;
            }
            b'`' => {
                let close = bytes
                    .get(at + 1..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'`'))
                    .ok_or_else(|| format!("unterminated raw string at byte {at}"))?;
                let end = at + 1 + close + 1;
                tokens.push(Token::Str(text.get(at + 1..end - 1)));
                at = end;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let end = run_end(bytes, at, |b| b.is_ascii_alphanumeric() || b == b'_');
                tokens.push(Token::Ident(text.get(at..end).unwrap_or_default()));
                at = end;
            }
            b'0'..=b'9' => {
                at = run_end(bytes, at, |b| b.is_ascii_alphanumeric() || b == b'.');
                tokens.push(Token::Number);
            }
            b'.' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b',' | b';' | b':' | b'=' | b'!'
            | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' => {
                tokens.push(Token::Symbol(byte));
                at += 1;
            }
            other => {
                return Err(format!("unexpected character {:?} at byte {at}", char::from(other)));
            }
        }
    }
    Ok(tokens)
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map_or(bytes.len(), |n| from + n)
}

fn run_end(bytes: &[u8], from: usize, part: impl Fn(u8) -> bool) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| !part(b)))
        .map_or(bytes.len(), |n| from + n)
}

/// The end (one past the closing quote) of the string starting at `from`, and whether it has
/// escapes.
fn string_end(bytes: &[u8], from: usize) -> Result<(usize, bool), String> {
    let mut at = from + 1;
    let mut escaped = false;
    loop {
        match bytes.get(at) {
            Some(b'"') => return Ok((at + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                at += 2;
            }
            Some(b'\n') | None => return Err(format!("unterminated string at byte {from}")),
            Some(_) => at += 1,
        }
    }
}

/// Adds the static path after every `input` root reference to `paths` (the empty path: all).
fn collect_input_paths(tokens: &[Token<'_>], paths: &mut BTreeSet<Vec<String>>) {
    for (index, token) in tokens.iter().enumerate() {
        if *token != Token::Ident("input") {
            continue;
        }
        // `x.input` is a field named input, not the input document.
        if index > 0 && tokens.get(index - 1) == Some(&Token::Symbol(b'.')) {
            continue;
        }
        let mut path = Vec::new();
        let mut at = index + 1;
        loop {
            match (tokens.get(at), tokens.get(at + 1), tokens.get(at + 2)) {
                (Some(Token::Symbol(b'.')), Some(Token::Ident(name)), _) => {
                    path.push((*name).to_owned());
                    at += 2;
                }
                (
                    Some(Token::Symbol(b'[')),
                    Some(Token::Str(Some(name))),
                    Some(Token::Symbol(b']')),
                ) => {
                    path.push((*name).to_owned());
                    at += 3;
                }
                _ => break,
            }
        }
        paths.insert(path);
    }
}

/// The first unstable builtin the tokens name, as a chain of identifiers joined by dots.
fn unstable_builtin(tokens: &[Token<'_>]) -> Option<&'static str> {
    let mut chain = String::new();
    let mut after_dot = false;
    for token in tokens {
        match token {
            Token::Ident(name) => {
                if after_dot {
                    chain.push('.');
                } else {
                    chain.clear();
                }
                chain.push_str(name);
                after_dot = false;
                if let Some(found) = UNSTABLE_BUILTINS.iter().find(|builtin| **builtin == chain) {
                    return Some(found);
                }
            }
            Token::Symbol(b'.') if !chain.is_empty() && !after_dot => after_dot = true,
            _ => {
                chain.clear();
                after_dot = false;
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "reads_tests.rs"]
mod tests;

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
//! `import input` alias) reads everything. A step is one only when its `.` or `[` touches what
//! precedes it: regorus ends a reference at a line break before either (a `[` on the next line
//! starts another literal, an array), so `req := input` followed by a line beginning `["x"]` is
//! a read of everything, not of `input.x`. A source the scanner does not understand (a character
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

/// A token and whether whitespace or a comment separates it from the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lexeme<'a> {
    token: Token<'a>,
    spaced: bool,
}

/// Splits Rego source into tokens, skipping whitespace and `#` comments. `Err` names the first
/// thing it does not understand (the caller then assumes the worst).
fn tokenize(text: &str) -> Result<Vec<Lexeme<'_>>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    // Where the last token ended: a token starting anywhere else follows a gap.
    let mut last_end = 0;
    while let Some(&byte) = bytes.get(at) {
        let start = at;
        let token = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                at += 1;
                continue;
            }
            b'#' => {
                at = line_end(bytes, at);
                continue;
            }
            b'"' => {
                let (end, escaped) = string_end(bytes, at)?;
                at = end;
                Token::Str(if escaped { None } else { text.get(start + 1..end - 1) })
            }
            b'`' => {
                let close = bytes
                    .get(at + 1..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'`'))
                    .ok_or_else(|| format!("unterminated raw string at byte {at}"))?;
                at += 1 + close + 1;
                Token::Str(text.get(start + 1..at - 1))
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                at = run_end(bytes, at, |b| b.is_ascii_alphanumeric() || b == b'_');
                Token::Ident(text.get(start..at).unwrap_or_default())
            }
            b'0'..=b'9' => {
                at = run_end(bytes, at, |b| b.is_ascii_alphanumeric() || b == b'.');
                Token::Number
            }
            b'.' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b',' | b';' | b':' | b'=' | b'!'
            | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' => {
                at += 1;
                Token::Symbol(byte)
            }
            other => {
                return Err(format!("unexpected character {:?} at byte {at}", char::from(other)));
            }
        };
        tokens.push(Lexeme { token, spaced: start != last_end });
        last_end = at;
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
fn collect_input_paths(lexemes: &[Lexeme<'_>], paths: &mut BTreeSet<Vec<String>>) {
    let token = |at: usize| lexemes.get(at).map(|lexeme| &lexeme.token);
    // A `.` or `[` continues a reference only when nothing separates it from what precedes.
    let step = |at: usize, symbol: u8| {
        lexemes.get(at).is_some_and(|l| !l.spaced && l.token == Token::Symbol(symbol))
    };
    for (index, lexeme) in lexemes.iter().enumerate() {
        if lexeme.token != Token::Ident("input") {
            continue;
        }
        // `x.input` is a field named input, not the input document.
        if index > 0 && token(index - 1) == Some(&Token::Symbol(b'.')) {
            continue;
        }
        let mut path = Vec::new();
        let mut at = index + 1;
        loop {
            match (token(at), token(at + 1), token(at + 2)) {
                (_, Some(Token::Ident(name)), _) if step(at, b'.') => {
                    path.push((*name).to_owned());
                    at += 2;
                }
                (_, Some(Token::Str(Some(name))), Some(Token::Symbol(b']'))) if step(at, b'[') => {
                    path.push((*name).to_owned());
                    at += 3;
                }
                _ => break,
            }
        }
        paths.insert(path);
    }
}

/// The first unstable builtin the tokens name: a reference from an identifier whose static path
/// (`.name` and `["name"]` steps: regorus calls `rand["intn"](…)` as `rand.intn`) is one of
/// [`UNSTABLE_BUILTINS`]. A bracketed step with escapes (not decoded here) under the namespace
/// of one of them counts as that builtin: the scan assumes the worst.
fn unstable_builtin(lexemes: &[Lexeme<'_>]) -> Option<&'static str> {
    let token = |at: usize| lexemes.get(at).map(|lexeme| &lexeme.token);
    let named = |chain: &str| UNSTABLE_BUILTINS.iter().copied().find(|builtin| *builtin == chain);
    let mut at = 0;
    while let Some(lexeme) = lexemes.get(at) {
        at += 1;
        let Token::Ident(root) = lexeme.token else { continue };
        // The whole reference is consumed here, so `data.time.now_ns` is never read again from
        // `time` on.
        let mut chain = root.to_owned();
        loop {
            if let Some(found) = named(&chain) {
                return Some(found);
            }
            match (token(at), token(at + 1), token(at + 2)) {
                (Some(Token::Symbol(b'.')), Some(Token::Ident(name)), _) => {
                    chain.push('.');
                    chain.push_str(name);
                    at += 2;
                }
                (
                    Some(Token::Symbol(b'[')),
                    Some(Token::Str(Some(name))),
                    Some(Token::Symbol(b']')),
                ) => {
                    chain.push('.');
                    chain.push_str(name);
                    at += 3;
                }
                (Some(Token::Symbol(b'[')), Some(Token::Str(None)), Some(Token::Symbol(b']'))) => {
                    chain.push('.');
                    let prefix = chain.as_str();
                    let under = UNSTABLE_BUILTINS.iter().copied().find(|b| b.starts_with(prefix));
                    if under.is_some() {
                        return under;
                    }
                    break;
                }
                _ => break,
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "reads_tests.rs"]
mod tests;

//! A strict JSON reader (RFC 8259) with the limits a peer-facing service needs.

use std::borrow::Cow;
use std::collections::HashSet;

use super::scan::next_special;
use super::{Json, Number, Object};

/// Objects up to this many members are checked for duplicate keys by a scan (faster for
/// the small objects of real messages); larger ones get a hash index.
const SCAN_LIMIT: usize = 16;
use crate::error::JsonError;

/// A reader fault, boxed: the error is large and rare, and keeping it behind a pointer
/// keeps every internal `Result` as small as the value it carries (values are moved on
/// every step of the reader).
type Fault = Box<JsonError>;

/// Limits and tolerances of the reader.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// Maximum nesting depth of arrays and objects (the outermost value counts as 1).
    /// Bounds recursion so a hostile document cannot exhaust the stack.
    pub max_depth: usize,
    /// Accept the non-standard tokens `NaN`, `Infinity` and `-Infinity`, which Python's
    /// `json.dumps` writes by default. They are kept as [`NumberKind::NonFinite`]
    /// numbers so that consumers can refuse them explicitly.
    ///
    /// [`NumberKind::NonFinite`]: super::NumberKind::NonFinite
    pub allow_non_finite_tokens: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self { max_depth: 128, allow_non_finite_tokens: false }
    }
}

/// Parses one JSON document. Duplicate keys are always an error: there is no safe
/// "winner" when two readers may pick different ones.
///
/// The value borrows from `text` (see [`Json`]); escape-free strings are not copied.
pub fn parse(text: &str, options: ParseOptions) -> Result<Json<'_>, JsonError> {
    let mut p = Parser { s: text.as_bytes(), text, pos: 0, opts: options, top_key: None };
    p.ws();
    let v = p.value(0, true).map_err(|e| *e)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(*p.syntax("trailing characters after the JSON value"));
    }
    Ok(v)
}

/// Splits a top-level JSON object into its members, each value as its exact source text.
///
/// Replaying a recorded HTTP body must hand the guard the bytes that were recorded (number
/// spellings, duplicate keys, size), not a re-serialisation; this gives those bytes back.
/// Values are checked for syntax (with non-finite tokens and duplicate keys tolerated) but
/// not converted.
pub fn raw_members(text: &str, max_depth: usize) -> Result<Vec<(String, &str)>, JsonError> {
    scan_members(text, max_depth).map_err(|e| *e)
}

fn scan_members(text: &str, max_depth: usize) -> Result<Vec<(String, &str)>, Fault> {
    let opts = ParseOptions { max_depth, allow_non_finite_tokens: true };
    let mut p = Parser { s: text.as_bytes(), text, pos: 0, opts, top_key: None };
    p.ws();
    p.expect(b'{')?;
    let mut out = Vec::new();
    p.ws();
    if p.eat(b'}') {
        return Ok(out);
    }
    loop {
        p.ws();
        let key = p.string()?.into_owned();
        p.ws();
        p.expect(b':')?;
        p.ws();
        let start = p.pos;
        p.skip_value(1)?;
        let raw = text.get(start..p.pos).ok_or_else(|| p.syntax("bad member boundary"))?;
        out.push((key, raw));
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.expect(b'}')?;
        break;
    }
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.syntax("trailing characters after the JSON value"));
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    opts: ParseOptions,
    /// The top-level member being read, named in duplicate-key errors.
    top_key: Option<Cow<'a, str>>,
}

impl<'a> Parser<'a> {
    #[cold]
    fn syntax(&self, what: &str) -> Fault {
        Box::new(JsonError::Syntax { offset: self.pos, message: what.to_owned() })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    #[inline(always)]
    fn expect(&mut self, b: u8) -> Result<(), Fault> {
        if self.eat(b) { Ok(()) } else { Err(self.expected(b)) }
    }

    #[cold]
    #[inline(never)]
    fn expected(&self, b: u8) -> Fault {
        self.syntax(&format!("expected '{}'", b as char))
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Checks that opening one more container at `depth` stays within the limit.
    fn enter(&self, depth: usize) -> Result<(), Fault> {
        if depth + 1 > self.opts.max_depth {
            return Err(Box::new(JsonError::TooDeep { max_depth: self.opts.max_depth }));
        }
        Ok(())
    }

    /// Reads one value of any nesting with an explicit stack (no recursion), so that
    /// depth is bounded only by `max_depth`, never by the thread's stack size.
    ///
    /// Children of the open containers wait on two shared stacks (`items` for arrays,
    /// `members` for objects) and move into a vector of exactly their number when their
    /// container closes: one allocation per non-empty container, no regrowth, and small
    /// frames (an index, not a partly built vector, is what the frame stack moves).
    fn value(&mut self, base_depth: usize, check_dups: bool) -> Result<Json<'a>, Fault> {
        enum Frame<'a> {
            /// An array whose items so far are `items[start..]`.
            Arr(usize),
            /// An object whose members so far are `members[start..]`; the last one holds
            /// the pending key (and a placeholder value). Large objects get a key index so
            /// duplicate detection stays O(1) per member instead of a scan.
            #[expect(clippy::box_collection, reason = "a thin pointer keeps the frame small")]
            Obj(usize, Option<Box<HashSet<Cow<'a, str>>>>),
        }
        // Room for the nesting and the open children of a typical message, so each
        // stack is allocated once.
        let mut stack: Vec<Frame<'a>> = Vec::with_capacity(8);
        let mut items: Vec<Json<'a>> = Vec::new();
        let mut members: Vec<(Cow<'a, str>, Json<'a>)> = Vec::with_capacity(16);
        loop {
            self.ws();
            let depth = base_depth + stack.len();
            let mut v = match self.peek() {
                Some(b'{') => {
                    self.enter(depth)?;
                    self.pos += 1;
                    self.ws();
                    if self.eat(b'}') {
                        Json::Object(Object::new())
                    } else {
                        let key = self.key()?;
                        if depth == 0 {
                            self.top_key = Some(key.clone());
                        }
                        stack.push(Frame::Obj(members.len(), None));
                        members.push((key, Json::Null));
                        continue;
                    }
                }
                Some(b'[') => {
                    self.enter(depth)?;
                    self.pos += 1;
                    self.ws();
                    if self.eat(b']') {
                        Json::Array(Vec::new())
                    } else {
                        if items.capacity() == 0 {
                            items.reserve(16);
                        }
                        stack.push(Frame::Arr(items.len()));
                        continue;
                    }
                }
                _ => self.scalar()?,
            };
            // Attach the finished value to its parent, closing containers as they end.
            loop {
                let at_root_frame = stack.len() == 1 && base_depth == 0;
                let Some(frame) = stack.last_mut() else { return Ok(v) };
                self.ws();
                match frame {
                    Frame::Arr(start) => {
                        let start = *start;
                        items.push(v);
                        if self.eat(b',') {
                            break;
                        }
                        self.expect(b']')?;
                        v = Json::Array(items.drain(start..).collect());
                    }
                    Frame::Obj(start, index) => {
                        let start = *start;
                        let Some(((key, slot), earlier)) =
                            members.get_mut(start..).and_then(|m| m.split_last_mut())
                        else {
                            return Err(self.syntax("internal parser state"));
                        };
                        let duplicate = match index {
                            Some(idx) => !idx.insert(key.clone()),
                            None if earlier.len() >= SCAN_LIMIT => {
                                let mut idx: HashSet<Cow<'a, str>> =
                                    earlier.iter().map(|(k, _)| k.clone()).collect();
                                let dup = !idx.insert(key.clone());
                                *index = Some(Box::new(idx));
                                dup
                            }
                            None => earlier.iter().any(|(k, _)| k == key),
                        };
                        if duplicate {
                            if check_dups {
                                let field = if at_root_frame {
                                    None
                                } else {
                                    self.top_key.clone().map(Cow::into_owned)
                                };
                                return Err(Box::new(JsonError::DuplicateKey {
                                    key: key.clone().into_owned(),
                                    top_level_field: field,
                                }));
                            }
                            // Tolerated (raw member scan): the first occurrence stays.
                            members.pop();
                        } else {
                            *slot = v;
                        }
                        if self.eat(b',') {
                            let next = self.key()?;
                            if at_root_frame {
                                self.top_key = Some(next.clone());
                            }
                            members.push((next, Json::Null));
                            break;
                        }
                        self.expect(b'}')?;
                        v = Json::Object(Object(members.drain(start..).collect()));
                    }
                }
                stack.pop();
            }
        }
    }

    #[inline(always)]
    fn key(&mut self) -> Result<Cow<'a, str>, Fault> {
        self.ws();
        let k = self.string()?;
        self.ws();
        self.expect(b':')?;
        Ok(k)
    }

    /// Validates any value (used by [`raw_members`]); duplicate keys are tolerated here
    /// because the value is re-read strictly by its consumer.
    fn skip_value(&mut self, depth: usize) -> Result<(), Fault> {
        self.value(depth, false).map(|_| ())
    }

    /// Inlined into [`Parser::value`] so scalars are built where they are stored.
    #[inline(always)]
    fn scalar(&mut self) -> Result<Json<'a>, Fault> {
        match self.peek() {
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'N' | b'I') => self.non_finite(),
            Some(b'-') if self.s.get(self.pos + 1) == Some(&b'I') => self.non_finite(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.syntax("unexpected character")),
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &str, v: Json<'a>) -> Result<Json<'a>, Fault> {
        if self.s.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.syntax("invalid literal"))
        }
    }

    fn non_finite(&mut self) -> Result<Json<'a>, Fault> {
        for word in ["NaN", "Infinity", "-Infinity"] {
            if self.s.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
                if !self.opts.allow_non_finite_tokens {
                    return Err(Box::new(JsonError::NonFiniteToken { offset: self.pos }));
                }
                self.pos += word.len();
                return Ok(Json::Number(Number::from_validated(word)));
            }
        }
        Err(self.syntax("invalid literal"))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    #[inline(always)]
    fn number(&mut self) -> Result<Json<'a>, Fault> {
        let start = self.pos;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.syntax("leading zero in number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.syntax("invalid number")),
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.syntax("missing digits after decimal point"));
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.syntax("missing exponent digits"));
            }
        }
        let text = self.text.get(start..self.pos).ok_or_else(|| self.syntax("bad number"))?;
        Ok(Json::Number(Number::from_validated(text)))
    }

    fn hex4(&mut self) -> Result<u32, Fault> {
        let chunk =
            self.s.get(self.pos..self.pos + 4).ok_or_else(|| self.syntax("short \\u escape"))?;
        let mut v = 0u32;
        for &b in chunk {
            let d = (b as char).to_digit(16).ok_or_else(|| self.syntax("bad \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    /// Reads a string: an escape-free string (the common case) is a slice of the source;
    /// only one with escapes is decoded into an owned copy.
    ///
    /// Inlined into its callers (the fast path is a scan and a slice) so the result is
    /// built in place rather than copied out of a call; the escape path is out of line.
    #[inline(always)]
    fn string(&mut self) -> Result<Cow<'a, str>, Fault> {
        self.expect(b'"')?;
        // Fast path: no escapes, so the string is the source text itself.
        let start = self.pos;
        let end = next_special(self.s, start);
        if self.s.get(end) == Some(&b'"') {
            let text = self.text.get(start..end).ok_or_else(|| self.syntax("bad string"))?;
            self.pos = end + 1;
            return Ok(Cow::Borrowed(text));
        }
        self.escaped_string()
    }

    /// The rest of a string that has escapes (or is malformed), from `self.pos` (just
    /// after the opening quote).
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self) -> Result<Cow<'a, str>, Fault> {
        let mut out = String::new();
        loop {
            // Copy the longest run of plain characters in one go (the common case).
            let run_start = self.pos;
            self.pos = next_special(self.s, run_start);
            let run =
                self.text.get(run_start..self.pos).ok_or_else(|| self.syntax("bad string"))?;
            out.push_str(run);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = self.peek().ok_or_else(|| self.syntax("unterminated escape"))?;
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(Box::new(JsonError::LoneSurrogate {
                                        offset: self.pos,
                                    }));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(Box::new(JsonError::LoneSurrogate {
                                        offset: self.pos,
                                    }));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(Box::new(JsonError::LoneSurrogate {
                                    offset: self.pos,
                                }));
                            } else {
                                hi
                            };
                            let c =
                                char::from_u32(cp).ok_or_else(|| self.syntax("bad code point"))?;
                            out.push(c);
                        }
                        _ => return Err(self.syntax("unknown escape")),
                    }
                }
                Some(_) => return Err(self.syntax("raw control character in string")),
                None => return Err(self.syntax("unterminated string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::NumberKind;

    fn p(t: &str) -> Result<Json<'_>, JsonError> {
        parse(t, ParseOptions::default())
    }

    #[test]
    fn rejects_bad_documents() {
        let cases: &[(&str, &str)] = &[
            (r#"{"a":1,"a":2}"#, "duplicate"),
            (r#"{"x":{"a":1,"a":2}}"#, "duplicate"),
            ("[01]", "leading zero"),
            ("[1.]", "decimal point"),
            ("[1e]", "exponent"),
            ("[NaN]", "non-finite"),
            ("[Infinity]", "non-finite"),
            ("[-Infinity]", "non-finite"),
            (r#"["\ud800"]"#, "surrogate"),
            (r#"["\udc00x"]"#, "surrogate"),
            ("[\"a\u{1}\"]", "control"),
            ("[1] x", "trailing"),
            ("[1,]", "unexpected"),
            ("{\"a\" 1}", "expected ':'"),
            ("", "end of input"),
            ("[tru]", "literal"),
        ];
        for (text, want) in cases {
            let err = p(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    /// Containers of every shape close into the right parents (children wait on shared
    /// stacks while their containers are open), and a duplicate deep inside an array of
    /// objects names the top-level member it sits in.
    #[test]
    fn nested_containers_round_trip() {
        let texts = [
            r#"{"a":[{"x":1,"y":[]},{},[[],[{}]],"s"],"b":{"c":{"d":[1,2,{"e":null}]}},"f":true}"#,
            r#"[[1,[2,[3,{"k":[4]}]]],{"z":{}},[]]"#,
            r#"{"e\u00e9":"v\n","o":{"p":[false,-0.5e3]}}"#,
        ];
        for t in texts {
            let mut out = String::new();
            crate::json::write_compact(&p(t).unwrap(), &mut out);
            assert_eq!(p(&out).unwrap(), p(t).unwrap(), "{t}");
            if !t.contains('\\') {
                assert_eq!(out, t);
            }
        }
        let dup = r#"{"ok":1,"items":[{"a":1},{"b":2,"b":3}]}"#;
        assert_eq!(
            p(dup),
            Err(JsonError::DuplicateKey { key: "b".into(), top_level_field: Some("items".into()) })
        );
    }

    #[test]
    fn large_objects_detect_duplicates_quickly() {
        let members: Vec<String> = (0..50_000).map(|i| format!("\"k{i}\": {i}")).collect();
        let ok = format!("{{{}}}", members.join(","));
        assert_eq!(p(&ok).unwrap().as_object().unwrap().len(), 50_000);
        let dup = format!("{{{}, \"k7\": 0}}", members.join(","));
        assert!(matches!(p(&dup), Err(JsonError::DuplicateKey { .. })));
        let dup_early = r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":0}"#;
        assert!(matches!(p(dup_early), Err(JsonError::DuplicateKey { .. })));
    }

    #[test]
    fn depth_limit_is_enforced() {
        let opts = ParseOptions { max_depth: 3, allow_non_finite_tokens: false };
        assert!(parse("[[[1]]]", opts).is_ok());
        assert!(matches!(parse("[[[[1]]]]", opts), Err(JsonError::TooDeep { max_depth: 3 })));
        let deep = "[".repeat(100_000);
        assert!(matches!(p(&deep), Err(JsonError::TooDeep { .. })));
    }

    #[test]
    fn keeps_number_text_and_kinds() {
        let v = p("[1000000000000000000000000000000, 1.50, 1e-7, -0]").unwrap();
        let Json::Array(items) = v else { panic!("array") };
        let texts: Vec<_> = items
            .iter()
            .map(|i| match i {
                Json::Number(n) => (n.as_str().to_owned(), n.kind()),
                _ => panic!("number"),
            })
            .collect();
        assert_eq!(texts[0], ("1000000000000000000000000000000".into(), NumberKind::Integer));
        assert_eq!(texts[1], ("1.50".into(), NumberKind::Float));
        assert_eq!(texts[2], ("1e-7".into(), NumberKind::Float));
        assert_eq!(texts[3], ("-0".into(), NumberKind::Integer));
    }

    #[test]
    fn non_finite_tokens_only_when_allowed() {
        let opts = ParseOptions { max_depth: 8, allow_non_finite_tokens: true };
        let v = parse("[NaN, Infinity, -Infinity]", opts).unwrap();
        assert!(v.contains_non_finite());
    }

    #[test]
    fn decodes_escapes_and_pairs() {
        let v = p(r#"["\u00e9\ud83d\ude00\n\/"]"#).unwrap();
        assert_eq!(v, Json::Array(vec![Json::String("é😀\n/".into())]));
    }

    #[test]
    fn raw_members_keep_source_text() {
        let m = raw_members(r#"{"a": {"x":1,"x":2}, "b": Infinity , "c":[1.50]}"#, 16).unwrap();
        assert_eq!(m[0], ("a".to_owned(), r#"{"x":1,"x":2}"#));
        assert_eq!(m[1], ("b".to_owned(), "Infinity"));
        assert_eq!(m[2], ("c".to_owned(), "[1.50]"));
    }
}

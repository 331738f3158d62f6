//! Token pre-scan: CPython 3.11 tokenizer limits, an early complexity bound, and the
//! comment- and string-free code text that the heuristic layer reads.
//!
//! Everything here is a single loop over the token stream, so no input can make it recurse.

use rustpython_parser::text_size::TextRange;
use rustpython_parser::{Mode, Tok, lexer};

use super::{MAX_AST_DEPTH, MAX_BRACKET_DEPTH, MAX_INDENT_DEPTH};
use crate::code::symbols::nfkc;

/// The tokens handed on to the parser plus the text for the heuristic layer.
pub(super) struct Scanned {
    /// Every token with its source range, in order, ready for `parse_tokens`.
    pub(super) tokens: Vec<(Tok, TextRange)>,
    /// The source with comments removed, every string literal replaced by `""` and every
    /// identifier NFKC-normalised (as CPython reads it). Tokens that touched in the source
    /// still touch; any gap becomes one space.
    pub(super) code_text: String,
}

/// Result of [`scan`].
pub(super) enum Scan {
    /// The source tokenised within every limit.
    Ok(Scanned),
    /// CPython's tokenizer would raise a `SyntaxError` with this message.
    Unparseable(String),
    /// The token stream alone proves the tree would exceed [`MAX_AST_DEPTH`].
    TooComplex,
}

/// 1-based line of a byte offset, as CPython reports it.
pub(super) fn line_of(source: &str, offset: usize) -> usize {
    let prefix = source.as_bytes().get(..offset).unwrap_or(source.as_bytes());
    prefix.iter().filter(|&&b| b == b'\n').count() + 1
}

fn located(what: &str, source: &str, offset: usize) -> String {
    format!("{what} (<unknown>, line {})", line_of(source, offset))
}

/// Tokenise `source` and apply the pre-parse checks.
pub(super) fn scan(source: &str) -> Scan {
    // CPython refuses NUL anywhere, even inside a string literal (code-068); the Rust lexer
    // would accept one inside a string, so this is checked on the raw text.
    if source.contains('\0') {
        return Scan::Unparseable("source code string cannot contain null bytes".to_owned());
    }
    // `ast.parse` of a *str* treats U+FEFF as an invalid character even in first position; the
    // Rust lexer skips a leading one as a byte-order mark. Elsewhere the lexer already refuses it.
    if source.starts_with('\u{feff}') {
        return Scan::Unparseable(located("invalid non-printable character U+FEFF", source, 0));
    }

    let mut tokens = Vec::new();
    let mut code_text = String::with_capacity(source.len());
    let mut brackets = 0usize;
    let mut indent = 0usize;
    let mut chain = ChainBound::default();
    let mut previous_end = 0usize;

    for item in lexer::lex(source, Mode::Module) {
        let (tok, range) = match item {
            Ok(pair) => pair,
            Err(error) => {
                return Scan::Unparseable(lexical_message(
                    &error.error,
                    source,
                    error.location.to_usize(),
                ));
            }
        };
        let start = range.start().to_usize();
        match &tok {
            Tok::Lpar | Tok::Lsqb | Tok::Lbrace => {
                brackets += 1;
                if brackets > MAX_BRACKET_DEPTH {
                    return Scan::Unparseable(located(
                        "too many nested parentheses",
                        source,
                        start,
                    ));
                }
            }
            Tok::Rpar | Tok::Rsqb | Tok::Rbrace => brackets = brackets.saturating_sub(1),
            Tok::Indent => {
                indent += 1;
                if indent >= MAX_INDENT_DEPTH {
                    return Scan::Unparseable(located(
                        "too many levels of indentation",
                        source,
                        start,
                    ));
                }
            }
            Tok::Dedent => indent = indent.saturating_sub(1),
            _ => {}
        }
        if chain.feed(&tok) > MAX_AST_DEPTH {
            return Scan::TooComplex;
        }

        append_code(&mut code_text, source, &tok, range, previous_end);
        previous_end = previous_end.max(range.end().to_usize());
        tokens.push((tok, range));
    }
    Scan::Ok(Scanned { tokens, code_text })
}

/// Append one token to the heuristic text.
fn append_code(out: &mut String, source: &str, tok: &Tok, range: TextRange, previous_end: usize) {
    let start = range.start().to_usize();
    if start > previous_end && !out.is_empty() {
        out.push(' ');
    }
    match tok {
        Tok::Name { name } => out.push_str(&nfkc(name)),
        Tok::String { .. } => out.push_str("\"\""),
        Tok::Newline => out.push('\n'),
        Tok::Indent | Tok::Dedent | Tok::EndOfFile => {}
        _ => {
            if let Some(text) = source.get(start..range.end().to_usize()) {
                out.push_str(text);
            }
        }
    }
}

/// CPython-like text for a lexer error.
fn lexical_message(error: &lexer::LexicalErrorType, source: &str, offset: usize) -> String {
    use lexer::LexicalErrorType as L;
    let what = match error {
        L::UnrecognizedToken { tok } if tok.is_control() || is_format_char(*tok) => {
            format!("invalid non-printable character U+{:04X}", u32::from(*tok))
        }
        L::UnrecognizedToken { tok } => {
            format!("invalid character '{tok}' (U+{:04X})", u32::from(*tok))
        }
        L::TabError | L::TabsAfterSpaces => {
            "inconsistent use of tabs and spaces in indentation".to_owned()
        }
        other => other.to_string(),
    };
    located(&what, source, offset)
}

/// Unicode "format" characters (general category Cf) that CPython names non-printable.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// A *lower* bound on the tree depth that some token runs force, so that obviously hopeless
/// input is refused before the parser builds a tree for it:
///
/// * a run of k prefix operators (`not`, `-`, `+`, `~`, `await`) that does not follow an
///   operand nests at least k deep;
/// * `atom op atom op atom …` with one precedence class of binary operator (or `.`) is a
///   left- or right-leaning chain as deep as its operator count.
///
/// A lower bound can only refuse input that CPython also refuses; anything it misses is
/// caught exactly by the depth measured during the walk.
#[derive(Default)]
struct ChainBound {
    prefix_run: u32,
    class: Option<u8>,
    chain: u32,
    last_was_atom: bool,
    expect_atom_after_op: bool,
}

impl ChainBound {
    /// Feed one token; returns the current lower bound, counting the module, the statement and
    /// the innermost operand as CPython does (`x = not not 1` is 5 levels deep).
    fn feed(&mut self, tok: &Tok) -> u32 {
        let is_atom = matches!(
            tok,
            Tok::Name { .. }
                | Tok::Int { .. }
                | Tok::Float { .. }
                | Tok::Complex { .. }
                | Tok::String { .. }
                | Tok::True
                | Tok::False
                | Tok::None
                | Tok::Ellipsis
        );
        // A prefix operator right after an operand is binary (`a - b`, `a not in b`).
        let prefix = matches!(tok, Tok::Not | Tok::Minus | Tok::Plus | Tok::Tilde | Tok::Await)
            && !self.last_was_atom;
        self.prefix_run = if prefix { self.prefix_run.saturating_add(1) } else { 0 };

        if is_atom {
            if !self.expect_atom_after_op {
                self.class = None;
                self.chain = 0;
            }
            self.expect_atom_after_op = false;
            self.last_was_atom = true;
        } else if let Some(class) = binary_class(tok).filter(|_| self.last_was_atom) {
            if self.class != Some(class) {
                self.class = Some(class);
                self.chain = 0;
            }
            self.chain = self.chain.saturating_add(1);
            self.expect_atom_after_op = true;
            self.last_was_atom = false;
        } else {
            self.class = None;
            self.chain = 0;
            self.expect_atom_after_op = false;
            self.last_was_atom = matches!(tok, Tok::Rpar | Tok::Rsqb | Tok::Rbrace);
        }
        self.prefix_run.max(self.chain).saturating_add(3)
    }
}

/// Precedence class of a binary operator token (attribute access counts as one).
fn binary_class(tok: &Tok) -> Option<u8> {
    Some(match tok {
        Tok::Plus | Tok::Minus => 1,
        Tok::Star | Tok::Slash | Tok::DoubleSlash | Tok::Percent | Tok::At => 2,
        Tok::LeftShift | Tok::RightShift => 3,
        Tok::Amper => 4,
        Tok::CircumFlex => 5,
        Tok::Vbar => 6,
        Tok::DoubleStar => 7,
        Tok::Dot => 8,
        _ => return None,
    })
}

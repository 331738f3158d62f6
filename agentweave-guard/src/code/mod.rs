//! Python source analysis for the code engine (`code_guard`).
//!
//! [`analyze_python`] decides whether a snippet of Python that one agent sends another contains
//! constructs that execute code, spawn processes, load untrusted objects or escape a sandbox.
//! It is stricter than the public reference (qwed-a2a 0.3.0, `guard-spec.md` §3.3) while keeping
//! the reference's outcome for every input the reference already blocks:
//!
//! 1. **Pre-scan** ([`tokens`]): the source is tokenised once (iteratively). CPython 3.11's
//!    tokenizer limits are applied deliberately because the Rust parser does not have them:
//!    NUL bytes, a leading U+FEFF, more than 200 nested brackets and 100 indentation levels are
//!    syntax errors. Token runs that certainly nest deeper than CPython's AST limit (a
//!    100,000-term sum, 5,000 × `not`) are refused as too complex before any tree is built.
//! 2. **Parse** with `rustpython-parser` (an LR parser: deep input cannot overflow the stack
//!    while parsing), then a post-parse check for syntax CPython 3.11 rejects but the parser
//!    accepts ([`syntax`]). We match the **CPython 3.11 grammar** on purpose: the reference runs
//!    on 3.11, so 3.12-only syntax (`type X = int`, `def f[T]()`) is unparseable (code-070).
//! 3. **Walk** ([`walk`]): one breadth-first pass over the *owned* tree (the order of Python's
//!    `ast.walk`), which measures the exact node depth, runs the rules on every node and takes
//!    the tree apart iteratively, so that even a tree deeper than the limit is freed without
//!    recursion. A tree deeper than CPython's limit (2,988 levels) is [`CodeOutcome::TooComplex`].
//! 4. **Rules** ([`rules`], [`symbols`]): the reference's own AST rules (same threat strings,
//!    same order), then our extended rules: names resolved through an alias table built from
//!    imports and assignments (scope- and flow-insensitive, documented in [`symbols`]), any
//!    *reference* to a dangerous callable (not only a call), dynamic lookups on the builtins,
//!    `globals()`, `sys.modules` and dangerous modules, dunder sandbox-escape attributes,
//!    sensitive file paths and the sinks the reference forgot (`guard-spec.md` weakness 2).
//! 5. **Heuristic layer** ([`heuristics`]): the reference's six regexes, applied to the code
//!    tokens only (comments and string literals removed by the tokenizer, identifiers
//!    NFKC-normalised).
//!
//! Outcome precedence keeps reference parity first: reference AST findings → [`CodeOutcome::AstThreat`]
//! (reference threats first, then ours); else heuristic findings → [`CodeOutcome::RegexThreat`];
//! else extended AST findings → [`CodeOutcome::AstThreat`]; else [`CodeOutcome::Clean`]. So every
//! input the reference blocks keeps its reason code, and inputs it passed may now be blocked.
//!
//! Threat strings (deterministic, in walk order, duplicates removed for our own rules):
//! `call:<symbol>()` a call of a dangerous callable (`call:eval()`, `call:os.execv()`);
//! `ref:<symbol>` a dangerous callable referenced as a value (`ref:eval` in `map(eval, xs)`);
//! `import:<module>` / `import:<module>.<name>` / `import:<module>.*` imports;
//! `dynamic:<namespace>` a computed-name lookup on a sensitive namespace (`getattr(os, n)`);
//! `attr:<dunder>` a sandbox-escape attribute (`attr:__subclasses__`);
//! `file:<path>` opening a sensitive absolute path (`file:/etc/passwd`).
//! Builtins are rendered without the `builtins.` prefix, as the reference does (`call:eval()`).

mod heuristics;
mod rules;
mod symbols;
mod syntax;
mod tokens;
mod walk;

#[cfg(test)]
mod tests;

use rustpython_parser::{Mode, ParseErrorType, parse_tokens};

/// CPython 3.11 refuses to build an AST deeper than this many nodes ("maximum recursion depth
/// exceeded during ast construction"); measured with `ast.parse` on 3.11.7: a 2,986-term sum
/// parses (depth 2,988 counting the module and the statement), a 2,987-term sum does not.
pub(crate) const MAX_AST_DEPTH: u32 = 2988;

/// CPython's tokenizer refuses more than 200 open brackets (`MAXLEVEL`).
pub(crate) const MAX_BRACKET_DEPTH: usize = 200;

/// CPython's tokenizer refuses 100 or more indentation levels (`MAXINDENT`).
pub(crate) const MAX_INDENT_DEPTH: usize = 100;

/// The message CPython raises for trees deeper than [`MAX_AST_DEPTH`]; the reference reports it
/// as an engine error (corpus code-121, code-122).
const TOO_DEEP_MESSAGE: &str = "maximum recursion depth exceeded during ast construction";

/// The result of analysing one Python snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeReport {
    /// What the analysis concluded.
    pub outcome: CodeOutcome,
    /// Threat strings in walk order (empty unless the outcome is a threat). For
    /// [`CodeOutcome::RegexThreat`] these are the heuristic labels (`os_system`, …).
    pub threats: Vec<String>,
    /// Which layer produced the outcome (the verdict's `details.analysis`).
    pub analysis: Analysis,
}

/// The conclusion of [`analyze_python`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Parsed, and neither layer found a known dangerous construct. Heuristic: a novel or
    /// obfuscated attack may still pass, which is why callers report it as a heuristic pass.
    Clean,
    /// The syntax tree contains a dangerous construct (`reason_code` `code.ast_threat`).
    AstThreat,
    /// Only the token-level heuristics matched (`reason_code` `code.regex_threat`).
    RegexThreat,
    /// Not valid CPython 3.11 source: code that cannot be parsed cannot be verified, so it is
    /// blocked (`code.unparseable`). `message` mimics CPython's (`invalid syntax (<unknown>, line 1)`).
    Unparseable {
        /// What was wrong and where.
        message: String,
    },
    /// Nested too deeply for CPython to build its AST; the reference fails with an engine error
    /// here, and callers map this to `engine_error` too.
    TooComplex {
        /// CPython's message for the same condition.
        message: String,
    },
}

/// The analysis layer that decided, serialised as the reference's `details.analysis`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Analysis {
    /// The syntax-tree layer (also used for unparseable and too-complex input).
    Ast,
    /// The token-level heuristic layer.
    Regex,
    /// Both layers ran and found nothing.
    AstAndRegex,
}

impl Analysis {
    /// The reference's wire spelling: `"ast"`, `"regex"` or `"ast+regex"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Analysis::Ast => "ast",
            Analysis::Regex => "regex",
            Analysis::AstAndRegex => "ast+regex",
        }
    }
}

impl CodeReport {
    fn unparseable(message: String) -> Self {
        CodeReport {
            outcome: CodeOutcome::Unparseable { message },
            threats: Vec::new(),
            analysis: Analysis::Ast,
        }
    }

    fn too_complex() -> Self {
        CodeReport {
            outcome: CodeOutcome::TooComplex { message: TOO_DEEP_MESSAGE.to_owned() },
            threats: Vec::new(),
            analysis: Analysis::Ast,
        }
    }
}

/// Analyse one Python source text (the non-empty string in `payload.code`).
///
/// Never panics and never recurses proportionally to the input: nesting is bounded before the
/// parse and the tree is walked and freed iteratively. Time and memory are linear in the input
/// size; the caller bounds that size.
pub fn analyze_python(source: &str) -> CodeReport {
    let scanned = match tokens::scan(source) {
        tokens::Scan::Ok(scanned) => scanned,
        tokens::Scan::Unparseable(message) => return CodeReport::unparseable(message),
        tokens::Scan::TooComplex => return CodeReport::too_complex(),
    };
    let tokens::Scanned { tokens, code_text } = scanned;
    let module = match parse_tokens(tokens.into_iter().map(Ok), Mode::Module, "<unknown>") {
        Ok(rustpython_parser::ast::Mod::Module(module)) => module,
        Ok(_) => return CodeReport::unparseable("invalid syntax (<unknown>, line 1)".to_owned()),
        Err(error) => {
            let line = tokens::line_of(source, error.offset.to_usize());
            return CodeReport::unparseable(parse_error_message(&error.error, line));
        }
    };

    let mut analyzer = rules::Analyzer::default();
    let walked = walk::walk_module(module.body, &mut analyzer);
    if let Some(message) = analyzer.syntax_error(source) {
        // A syntax error wins over depth, as in CPython (parsing precedes AST construction).
        return CodeReport::unparseable(message);
    }
    if walked == walk::Walked::TooDeep {
        return CodeReport::too_complex();
    }

    let findings = analyzer.finish();
    if !findings.reference.is_empty() {
        let mut threats = findings.reference;
        threats.extend(findings.extended);
        return CodeReport { outcome: CodeOutcome::AstThreat, threats, analysis: Analysis::Ast };
    }
    let labels = heuristics::scan(&code_text);
    if !labels.is_empty() {
        return CodeReport {
            outcome: CodeOutcome::RegexThreat,
            threats: labels.into_iter().map(str::to_owned).collect(),
            analysis: Analysis::Regex,
        };
    }
    if !findings.extended.is_empty() {
        return CodeReport {
            outcome: CodeOutcome::AstThreat,
            threats: findings.extended,
            analysis: Analysis::Ast,
        };
    }
    CodeReport { outcome: CodeOutcome::Clean, threats: Vec::new(), analysis: Analysis::AstAndRegex }
}

/// Render a parser error in CPython's shape (`<what> (<unknown>, line N)`).
fn parse_error_message(error: &ParseErrorType, line: usize) -> String {
    let what = if error.is_tab_error() {
        "inconsistent use of tabs and spaces in indentation".to_owned()
    } else if error.is_indentation_error() {
        match error {
            ParseErrorType::UnrecognizedToken(rustpython_parser::Tok::Indent, _) => {
                "unexpected indent".to_owned()
            }
            _ => "expected an indented block".to_owned(),
        }
    } else {
        match error {
            ParseErrorType::Lexical(lexical) => lexical.to_string(),
            // CPython says only "invalid syntax" for a token the grammar cannot take.
            _ => "invalid syntax".to_owned(),
        }
    };
    format!("{what} (<unknown>, line {line})")
}

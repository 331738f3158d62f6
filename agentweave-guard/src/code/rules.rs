//! The per-node rules: the reference's AST rules (exact parity) and our extended rules.
//!
//! Reference rules (`guard-spec.md` §3.3) produce their findings immediately. Extended rules
//! depend on name bindings that may appear later in the snippet, so they are recorded as
//! pending checks in walk order and resolved in [`Analyzer::finish`].

use std::collections::HashSet;

use rustpython_parser::ast::{Expr, ExprContext, Ranged, Stmt};

use super::symbols::{
    Bindings, Key, Sym, const_str, is_file_opener, is_sensitive_namespace, is_sensitive_path,
    is_sink, module_has_sinks, name_of, nfkc, render, sym_of,
};
use super::syntax::{TargetKind, check_target};
use super::walk::{Node, Visitor};

/// Builtins the reference flags when called by bare name.
const REFERENCE_CALLS: &[&str] = &["eval", "exec", "compile", "__import__"];
/// `subprocess.<attr>(…)` calls the reference flags (receiver matched by name only).
const REFERENCE_SUBPROCESS: &[&str] =
    &["run", "Popen", "call", "check_output", "check_call", "popen"];
/// `os.<attr>(…)` calls the reference flags.
const REFERENCE_OS: &[&str] = &["system", "popen"];
/// Module roots whose import the reference flags.
const REFERENCE_IMPORTS: &[&str] = &["subprocess", "importlib", "ctypes", "pty"];
/// Module roots whose import we flag in addition (every member runs code).
const EXTENDED_IMPORTS: &[&str] = &["runpy"];
/// Attributes used to climb from any object to arbitrary classes, frames or globals (the
/// classic `().__class__.__base__.__subclasses__()` sandbox escape).
const ESCAPE_ATTRIBUTES: &[&str] = &[
    "__subclasses__",
    "__globals__",
    "__builtins__",
    "__code__",
    "f_globals",
    "f_builtins",
    "f_locals",
    "gi_frame",
    "cr_frame",
    "tb_frame",
];
/// Longest path shown in a `file:` threat.
const MAX_SHOWN_PATH: usize = 80;

/// An extended check waiting for all bindings to be known.
#[derive(Debug)]
enum Pending {
    /// A finding that needs no resolution.
    Static(String),
    /// A call; `file` is the constant path argument, if any.
    Call { callee: Sym, file: Option<String> },
    /// An expression used as a value.
    Ref(Sym),
    /// A computed-key lookup on this base.
    Dynamic(Sym),
}

/// Findings of the AST layer.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// The reference's findings, in its order and format (duplicates kept, as it does).
    pub(super) reference: Vec<String>,
    /// Our additional findings, in walk order, without duplicates of either list.
    pub(super) extended: Vec<String>,
}

/// Collects findings and bindings while the tree is walked.
#[derive(Debug, Default)]
pub(super) struct Analyzer {
    reference: Vec<String>,
    pending: Vec<Pending>,
    bindings: Bindings,
    /// Ranges of expressions whose value is not a reference of its own: the callee of a call
    /// (the call reports it) and the whole value of an expression statement (`exec` alone on a
    /// line is evaluated and discarded, nothing can run: code-117).
    suppressed: HashSet<(u32, u32)>,
    /// First CPython-3.11 syntax error the parser let through: (message, byte offset).
    syntax: Option<(String, usize)>,
}

fn key_of(expr: &Expr) -> (u32, u32) {
    let range = expr.range();
    (range.start().to_u32(), range.end().to_u32())
}

impl Visitor for Analyzer {
    fn visit(&mut self, node: &Node) {
        match node {
            Node::Stmt(stmt) => self.stmt(stmt),
            Node::Expr(expr) => self.expr(expr),
            Node::Comprehension(c) => {
                self.bind_target(&c.target, Sym::Item(Box::new(sym_of(&c.iter)), Key::Dynamic));
                self.target(&c.target, TargetKind::Assign);
            }
            Node::WithItem(item) => {
                if let Some(vars) = &item.optional_vars {
                    self.target(vars, TargetKind::Assign);
                }
            }
            _ => {}
        }
    }
}

impl Analyzer {
    /// The first syntax error CPython 3.11 would raise that the parser accepted, rendered as
    /// CPython does.
    pub(super) fn syntax_error(&self, source: &str) -> Option<String> {
        self.syntax.as_ref().map(|(message, offset)| {
            format!("{message} (<unknown>, line {})", super::tokens::line_of(source, *offset))
        })
    }

    fn syntax_at(&mut self, message: String, offset: usize) {
        if self.syntax.is_none() {
            self.syntax = Some((message, offset));
        }
    }

    fn target(&mut self, target: &Expr, kind: TargetKind) {
        if let Err((message, offset)) = check_target(target, kind) {
            self.syntax_at(message, offset);
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Import(s) => {
                for alias in &s.names {
                    let name = nfkc(alias.name.as_str());
                    let root = name.split('.').next().unwrap_or_default().to_owned();
                    if REFERENCE_IMPORTS.contains(&root.as_str()) {
                        self.reference.push(format!("import:{root}"));
                    }
                    if EXTENDED_IMPORTS.contains(&root.as_str()) {
                        self.pending.push(Pending::Static(format!("import:{root}")));
                    }
                    match &alias.asname {
                        Some(asname) => {
                            self.bindings.bind(nfkc(asname.as_str()), Sym::Module(name))
                        }
                        None => self.bindings.bind(root.clone(), Sym::Module(root)),
                    }
                }
            }
            Stmt::ImportFrom(s) => self.import_from(s),
            Stmt::Assign(s) => {
                let value = sym_of(&s.value);
                for target in &s.targets {
                    self.bind_target(target, value.clone());
                    self.target(target, TargetKind::Assign);
                }
            }
            Stmt::AnnAssign(s) => {
                if let Some(value) = &s.value {
                    self.bind_target(&s.target, sym_of(value));
                }
                self.target(&s.target, TargetKind::Annotated);
            }
            Stmt::AugAssign(s) => self.target(&s.target, TargetKind::Augmented),
            Stmt::Expr(s) => {
                self.suppressed.insert(key_of(&s.value));
            }
            Stmt::For(s) => {
                self.bind_target(&s.target, Sym::Item(Box::new(sym_of(&s.iter)), Key::Dynamic));
                self.target(&s.target, TargetKind::Assign);
            }
            Stmt::AsyncFor(s) => {
                self.bind_target(&s.target, Sym::Item(Box::new(sym_of(&s.iter)), Key::Dynamic));
                self.target(&s.target, TargetKind::Assign);
            }
            Stmt::Delete(s) => {
                for target in &s.targets {
                    self.target(target, TargetKind::Delete);
                }
            }
            // 3.12-only syntax (PEP 695): CPython 3.11, which the reference runs, says
            // "invalid syntax" (code-070). We match 3.11 deliberately.
            Stmt::TypeAlias(s) => {
                self.syntax_at("invalid syntax".to_owned(), s.range.start().to_usize());
            }
            Stmt::FunctionDef(s) if !s.type_params.is_empty() => {
                self.syntax_at("expected '('".to_owned(), s.range.start().to_usize());
            }
            Stmt::AsyncFunctionDef(s) if !s.type_params.is_empty() => {
                self.syntax_at("expected '('".to_owned(), s.range.start().to_usize());
            }
            Stmt::ClassDef(s) if !s.type_params.is_empty() => {
                self.syntax_at("invalid syntax".to_owned(), s.range.start().to_usize());
            }
            _ => {}
        }
    }

    fn import_from(&mut self, s: &rustpython_parser::ast::StmtImportFrom) {
        let module = s.module.as_ref().map(|m| nfkc(m.as_str()));
        let Some(module) = module else {
            // `from . import subprocess`: the reference skips it (module is None, code-104).
            // A sibling module named like a dangerous one is treated as that module.
            for alias in &s.names {
                let name = nfkc(alias.name.as_str());
                if REFERENCE_IMPORTS.contains(&name.as_str())
                    || EXTENDED_IMPORTS.contains(&name.as_str())
                {
                    self.pending.push(Pending::Static(format!("import:{name}")));
                }
                let bound = alias.asname.as_ref().map_or(name.clone(), |a| nfkc(a.as_str()));
                self.bindings.bind(bound, Sym::Module(name));
            }
            return;
        };
        let root = module.split('.').next().unwrap_or_default().to_owned();
        if REFERENCE_IMPORTS.contains(&root.as_str()) {
            self.reference.push(format!("import:{root}"));
        }
        // The reference compares only the root (`from os.path import system` is flagged too).
        if root == "os" {
            for alias in &s.names {
                let name = nfkc(alias.name.as_str());
                if REFERENCE_OS.contains(&name.as_str()) {
                    self.reference.push(format!("import:os.{name}"));
                }
            }
        }
        if EXTENDED_IMPORTS.contains(&root.as_str()) {
            self.pending.push(Pending::Static(format!("import:{root}")));
        }
        for alias in &s.names {
            let name = nfkc(alias.name.as_str());
            if name == "*" {
                if module_has_sinks(&module) {
                    self.pending.push(Pending::Static(format!("import:{module}.*")));
                }
                self.bindings.star(module.clone());
                continue;
            }
            let mut path: Vec<String> = module.split('.').map(str::to_owned).collect();
            path.push(name.clone());
            if is_sink(&path) {
                self.pending.push(Pending::Static(format!("import:{module}.{name}")));
            }
            let bound = alias.asname.as_ref().map_or(name.clone(), |a| nfkc(a.as_str()));
            self.bindings.bind(bound, Sym::Attr(Box::new(Sym::Module(module.clone())), name));
        }
    }

    /// Record the names a binding target receives.
    fn bind_target(&mut self, target: &Expr, value: Sym) {
        // Iterative: targets nest only through brackets, but stay loop-based anyway.
        let mut stack = vec![(target, value)];
        while let Some((target, value)) = stack.pop() {
            match target {
                Expr::Name(n) => self.bindings.bind(nfkc(n.id.as_str()), value),
                Expr::Starred(s) => stack.push((&s.value, value)),
                Expr::Tuple(_) | Expr::List(_) => {
                    let elts = match target {
                        Expr::Tuple(t) => &t.elts,
                        Expr::List(l) => &l.elts,
                        _ => continue,
                    };
                    match &value {
                        Sym::Seq(items) if items.len() == elts.len() => {
                            for (elt, item) in elts.iter().zip(items) {
                                stack.push((elt, item.clone()));
                            }
                        }
                        _ => {
                            for elt in elts {
                                stack.push((elt, Sym::Item(Box::new(value.clone()), Key::Dynamic)));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::Call(call) => {
                // Reference rules, on NFKC-normalised names.
                match call.func.as_ref() {
                    Expr::Name(n) => {
                        let name = nfkc(n.id.as_str());
                        if REFERENCE_CALLS.contains(&name.as_str()) {
                            self.reference.push(format!("call:{name}()"));
                        }
                    }
                    Expr::Attribute(a) => {
                        if let Some(receiver) = name_of(&a.value) {
                            let attr = nfkc(a.attr.as_str());
                            let listed = match receiver.as_str() {
                                "subprocess" => REFERENCE_SUBPROCESS.contains(&attr.as_str()),
                                "os" => REFERENCE_OS.contains(&attr.as_str()),
                                _ => false,
                            };
                            if listed {
                                self.reference.push(format!("call:{receiver}.{attr}()"));
                            }
                        }
                    }
                    _ => {}
                }
                // Extended rules.
                self.suppressed.insert(key_of(&call.func));
                let file = call.args.first().and_then(const_str).or_else(|| {
                    call.keywords
                        .iter()
                        .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "file"))
                        .and_then(|k| const_str(&k.value))
                });
                self.pending.push(Pending::Call { callee: sym_of(&call.func), file });
                if name_of(&call.func).as_deref() == Some("getattr") {
                    match call.args.get(1).map(const_str) {
                        Some(Some(attr)) if ESCAPE_ATTRIBUTES.contains(&attr.as_str()) => {
                            self.pending.push(Pending::Static(format!("attr:{attr}")));
                        }
                        Some(None) => {
                            if let Some(object) = call.args.first() {
                                self.pending.push(Pending::Dynamic(sym_of(object)));
                            }
                        }
                        Some(Some(_)) | None => {}
                    }
                }
                self.reference_value(expr);
            }
            Expr::Name(n) if n.ctx == ExprContext::Load => self.reference_value(expr),
            Expr::Attribute(a) => {
                let attr = nfkc(a.attr.as_str());
                if ESCAPE_ATTRIBUTES.contains(&attr.as_str()) {
                    self.pending.push(Pending::Static(format!("attr:{attr}")));
                }
                if a.ctx == ExprContext::Load {
                    self.reference_value(expr);
                }
            }
            Expr::Subscript(s) => {
                if const_str(&s.slice).is_none() && !matches!(s.slice.as_ref(), Expr::Constant(_)) {
                    self.pending.push(Pending::Dynamic(sym_of(&s.value)));
                }
                if s.ctx == ExprContext::Load {
                    self.reference_value(expr);
                }
            }
            Expr::NamedExpr(n) => {
                self.bind_target(&n.target, sym_of(&n.value));
                self.target(&n.target, TargetKind::Named);
            }
            _ => {}
        }
    }

    /// An expression used as a value (not as the callee of a call, which the call reports).
    fn reference_value(&mut self, expr: &Expr) {
        if self.suppressed.contains(&key_of(expr)) {
            return;
        }
        let sym = sym_of(expr);
        if sym != Sym::Unknown {
            self.pending.push(Pending::Ref(sym));
        }
    }

    /// Resolve the pending checks now that every binding is known.
    pub(super) fn finish(self) -> Findings {
        let Analyzer { reference, pending, bindings, .. } = self;
        let mut seen: HashSet<String> = reference.iter().cloned().collect();
        let mut extended = Vec::new();
        let mut add = |threat: String| {
            if seen.insert(threat.clone()) {
                extended.push(threat);
            }
        };
        for check in pending {
            match check {
                Pending::Static(threat) => add(threat),
                Pending::Call { callee, file } => {
                    for path in bindings.resolve(&callee) {
                        if is_sink(&path) {
                            add(format!("call:{}()", render(&path)));
                        }
                        if let Some(file) = file.as_deref()
                            && is_file_opener(&path)
                            && is_sensitive_path(file)
                        {
                            add(format!("file:{}", shown_path(file)));
                        }
                    }
                }
                Pending::Ref(sym) => {
                    for path in bindings.resolve(&sym) {
                        if is_sink(&path) {
                            add(format!("ref:{}", render(&path)));
                        }
                    }
                }
                Pending::Dynamic(base) => {
                    for path in bindings.resolve(&base) {
                        if let Some(namespace) = is_sensitive_namespace(&path) {
                            add(format!("dynamic:{namespace}"));
                        }
                    }
                }
            }
        }
        Findings { reference, extended }
    }
}

/// A path as shown in a threat string: control characters escaped, length bounded.
fn shown_path(path: &str) -> String {
    let escaped: String = path.chars().flat_map(char::escape_debug).collect();
    escaped.chars().take(MAX_SHOWN_PATH).collect()
}

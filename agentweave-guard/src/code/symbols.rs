//! Symbolic values and their resolution to qualified names, plus the sink tables.
//!
//! While the tree is walked, the expressions that matter (callees, referenced values, right-hand
//! sides of bindings) are copied into small [`Sym`] values; after the walk, when every binding
//! is known, they are resolved to canonical dotted paths such as `["os", "system"]` or
//! `["builtins", "eval"]` and checked against the sink tables.
//!
//! Resolution is deliberately **scope- and flow-insensitive** (documented over-approximation):
//! a name means itself (so `subprocess.run` is flagged without an import, as in the reference,
//! and a shadowing `subprocess = None` does not hide it, code-114) *and* everything it is bound
//! to anywhere in the snippet (imports, assignments, walrus, `for` targets, `from m import *`),
//! regardless of function scope or statement order. Chains are followed to a fixed depth and
//! the set of meanings per expression is capped, so hostile binding graphs stay linear.

use std::collections::HashMap;

use rustpython_parser::ast::{Constant, Expr, Operator};
use unicode_normalization::UnicodeNormalization;

/// NFKC-normalise an identifier as CPython's parser does (`ｅｖａｌ` is `eval`).
pub(crate) fn nfkc(name: &str) -> String {
    if name.is_ascii() { name.to_owned() } else { name.nfkc().collect() }
}

/// How deep an expression is copied into a [`Sym`]; deeper parts become [`Sym::Unknown`].
const MAX_SYM_DEPTH: u8 = 24;
/// How many binding hops resolution follows.
const MAX_RESOLVE_DEPTH: u8 = 8;
/// Cap on the meanings of one expression.
const MAX_MEANINGS: usize = 64;

/// A lookup key applied to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Key {
    /// A constant string (`x['k']`, `getattr(x, 'k')`).
    Str(String),
    /// A constant integer index (`x[0]`).
    Int(i64),
    /// Anything computed at run time.
    Dynamic,
}

/// A symbolic copy of an expression, as far as name resolution needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Sym {
    /// A bare name (NFKC-normalised).
    Name(String),
    /// `value.attr` (also `getattr(value, 'attr')`).
    Attr(Box<Sym>, String),
    /// `value[key]` (also `getattr(value, computed)` as a dynamic key).
    Item(Box<Sym>, Key),
    /// A module object by dotted name (`__import__('os')`, `import_module('os')`).
    Module(String),
    /// The module namespace (`globals()`, `locals()`, `vars()`).
    Globals,
    /// `vars(value)`: the namespace dictionary of `value`.
    Vars(Box<Sym>),
    /// A container display or a choice (`[a, b]`, `a or b`, `a if c else b`).
    Seq(Vec<Sym>),
    /// Anything else.
    Unknown,
}

/// The constant string value of an expression, folding `'a' + 'b'` and constant f-strings.
pub(super) fn const_str(expr: &Expr) -> Option<String> {
    const_str_at(expr, 0)
}

fn const_str_at(expr: &Expr, depth: u8) -> Option<String> {
    if depth > MAX_SYM_DEPTH {
        return None;
    }
    match expr {
        Expr::Constant(c) => match &c.value {
            Constant::Str(s) => Some(s.clone()),
            _ => None,
        },
        Expr::BinOp(b) if b.op == Operator::Add => {
            let mut left = const_str_at(&b.left, depth + 1)?;
            left.push_str(&const_str_at(&b.right, depth + 1)?);
            Some(left)
        }
        Expr::JoinedStr(j) => {
            let mut out = String::new();
            for value in &j.values {
                out.push_str(&const_str_at(value, depth + 1)?);
            }
            Some(out)
        }
        _ => None,
    }
}

fn const_key(expr: &Expr) -> Key {
    if let Expr::Constant(c) = expr
        && let Constant::Int(i) = &c.value
    {
        return i64::try_from(i).map_or(Key::Dynamic, Key::Int);
    }
    const_str(expr).map_or(Key::Dynamic, Key::Str)
}

/// The NFKC name of a bare-name expression.
pub(super) fn name_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(n) => Some(nfkc(n.id.as_str())),
        _ => None,
    }
}

/// Copy an expression into a [`Sym`].
pub(super) fn sym_of(expr: &Expr) -> Sym {
    sym_at(expr, 0)
}

fn sym_at(expr: &Expr, depth: u8) -> Sym {
    if depth > MAX_SYM_DEPTH {
        return Sym::Unknown;
    }
    let next = depth + 1;
    match expr {
        Expr::Name(n) => Sym::Name(nfkc(n.id.as_str())),
        Expr::Attribute(a) => Sym::Attr(Box::new(sym_at(&a.value, next)), nfkc(a.attr.as_str())),
        Expr::Subscript(s) => Sym::Item(Box::new(sym_at(&s.value, next)), const_key(&s.slice)),
        Expr::Call(call) => call_sym(call, next),
        Expr::List(l) => Sym::Seq(l.elts.iter().map(|e| sym_at(e, next)).collect()),
        Expr::Tuple(t) => Sym::Seq(t.elts.iter().map(|e| sym_at(e, next)).collect()),
        Expr::Set(s) => Sym::Seq(s.elts.iter().map(|e| sym_at(e, next)).collect()),
        Expr::BoolOp(b) => Sym::Seq(b.values.iter().map(|e| sym_at(e, next)).collect()),
        Expr::IfExp(i) => Sym::Seq(vec![sym_at(&i.body, next), sym_at(&i.orelse, next)]),
        Expr::NamedExpr(n) => sym_at(&n.value, next),
        Expr::Starred(s) => sym_at(&s.value, next),
        _ => Sym::Unknown,
    }
}

/// The calls whose result is known by name: `getattr`, `__import__`, `import_module`,
/// `globals`, `locals`, `vars`. (Recognised by the callee's spelling, not through aliases.)
fn call_sym(call: &rustpython_parser::ast::ExprCall, depth: u8) -> Sym {
    let callee = match call.func.as_ref() {
        Expr::Name(n) => nfkc(n.id.as_str()),
        Expr::Attribute(a) => nfkc(a.attr.as_str()),
        _ => return Sym::Unknown,
    };
    let first = call.args.first();
    match (callee.as_str(), first) {
        ("getattr", Some(object)) => {
            let base = Box::new(sym_at(object, depth));
            match call.args.get(1).map(const_key) {
                Some(Key::Str(attr)) => Sym::Attr(base, attr),
                _ => Sym::Item(base, Key::Dynamic),
            }
        }
        ("__import__" | "import_module", Some(module)) => match const_str(module) {
            Some(name) => {
                // `__import__('os.path')` returns the top package; `import_module` the leaf.
                if callee == "__import__" {
                    Sym::Module(name.split('.').next().unwrap_or_default().to_owned())
                } else {
                    Sym::Module(name)
                }
            }
            None => Sym::Unknown,
        },
        ("globals" | "locals" | "vars", None) => Sym::Globals,
        ("vars", Some(object)) => Sym::Vars(Box::new(sym_at(object, depth))),
        _ => Sym::Unknown,
    }
}

/// A canonical dotted path (`["os", "system"]`, `["builtins", "eval"]`).
pub(super) type Path = Vec<String>;

/// Names bound in the snippet, gathered during the walk.
#[derive(Debug, Default)]
pub(super) struct Bindings {
    names: HashMap<String, Vec<Sym>>,
    star_modules: Vec<String>,
}

impl Bindings {
    /// Record `name = value` (any form of binding).
    pub(super) fn bind(&mut self, name: String, value: Sym) {
        let values = self.names.entry(name).or_default();
        if values.len() < MAX_MEANINGS && !values.contains(&value) {
            values.push(value);
        }
    }

    /// Record `from module import *`.
    pub(super) fn star(&mut self, module: String) {
        if self.star_modules.len() < MAX_MEANINGS && !self.star_modules.contains(&module) {
            self.star_modules.push(module);
        }
    }

    /// Every canonical path `sym` may denote.
    pub(super) fn resolve(&self, sym: &Sym) -> Vec<Path> {
        let mut out = Vec::new();
        self.resolve_into(sym, 0, &mut out);
        out
    }

    fn push(out: &mut Vec<Path>, path: Path) {
        if out.len() < MAX_MEANINGS && !out.contains(&path) {
            out.push(path);
        }
    }

    fn resolve_into(&self, sym: &Sym, depth: u8, out: &mut Vec<Path>) {
        if depth > MAX_RESOLVE_DEPTH || out.len() >= MAX_MEANINGS {
            return;
        }
        let next = depth + 1;
        match sym {
            Sym::Name(name) => {
                Self::push(out, canonical(vec![name.clone()]));
                if let Some(values) = self.names.get(name) {
                    for value in values {
                        self.resolve_into(value, next, out);
                    }
                }
                for module in &self.star_modules {
                    let mut path = split_module(module);
                    path.push(name.clone());
                    if is_sink(&path) {
                        Self::push(out, path);
                    }
                }
            }
            Sym::Attr(base, attr) => {
                for path in self.resolve_at(base, next) {
                    Self::push(out, member(path, attr));
                }
            }
            Sym::Item(base, key) => {
                match key {
                    Key::Str(k) => {
                        for path in self.resolve_at(base, next) {
                            if path == ["sys", "modules"] {
                                Self::push(out, split_module(k));
                            } else if path == ["<globals>"] {
                                self.resolve_into(&Sym::Name(k.clone()), next, out);
                            } else {
                                Self::push(out, member(path, k));
                            }
                        }
                    }
                    Key::Int(_) | Key::Dynamic => {}
                }
                // Element of a container: the indexed one, or any of them.
                for element in self.elements(base, key, next) {
                    self.resolve_into(element, next, out);
                }
            }
            Sym::Module(name) => Self::push(out, split_module(name)),
            Sym::Globals => Self::push(out, vec!["<globals>".to_owned()]),
            Sym::Vars(base) => {
                for mut path in self.resolve_at(base, next) {
                    path.push("__dict__".to_owned());
                    Self::push(out, path);
                }
            }
            Sym::Seq(items) => {
                // A container is not itself a module or callable; `a or b` style choices are
                // stored as Seq too, and denote any of their items.
                for item in items {
                    self.resolve_into(item, next, out);
                }
            }
            Sym::Unknown => {}
        }
    }

    fn resolve_at(&self, sym: &Sym, depth: u8) -> Vec<Path> {
        let mut out = Vec::new();
        self.resolve_into(sym, depth, &mut out);
        out
    }

    /// The container elements `base[key]` may select.
    fn elements<'s>(&'s self, base: &'s Sym, key: &Key, depth: u8) -> Vec<&'s Sym> {
        let mut out = Vec::new();
        self.elements_into(base, key, depth, &mut out);
        out
    }

    fn elements_into<'s>(&'s self, base: &'s Sym, key: &Key, depth: u8, out: &mut Vec<&'s Sym>) {
        if depth > MAX_RESOLVE_DEPTH || out.len() >= MAX_MEANINGS {
            return;
        }
        match base {
            Sym::Seq(items) => match key {
                Key::Int(i) => {
                    let index = if *i < 0 {
                        usize::try_from(i.unsigned_abs())
                            .ok()
                            .and_then(|back| items.len().checked_sub(back))
                    } else {
                        usize::try_from(*i).ok()
                    };
                    if let Some(item) = index.and_then(|ix| items.get(ix)) {
                        out.push(item);
                    }
                }
                _ => out.extend(items.iter().take(MAX_MEANINGS)),
            },
            Sym::Name(name) => {
                if let Some(values) = self.names.get(name) {
                    for value in values {
                        self.elements_into(value, key, depth + 1, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `path.name`, folding namespace dictionaries: `X.__dict__['k']` is `X.k`.
fn member(mut path: Path, name: &str) -> Path {
    if path.last().is_some_and(|last| last == "__dict__") {
        path.pop();
    }
    path.push(name.to_owned());
    canonical(path)
}

fn split_module(name: &str) -> Path {
    canonical(name.split('.').map(str::to_owned).collect())
}

/// Builtin names that denote `builtins.<name>` when not qualified.
const BUILTIN_NAMES: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "__import__",
    "open",
    "getattr",
    "globals",
    "locals",
    "vars",
    "breakpoint",
];

/// Canonical form: `__builtins__` (a module or its dict) is `builtins`; a bare builtin name
/// is `builtins.<name>`.
fn canonical(mut path: Path) -> Path {
    match path.first().map(String::as_str) {
        Some("__builtins__") => {
            if let Some(first) = path.first_mut() {
                "builtins".clone_into(first);
            }
        }
        Some(first) if path.len() == 1 && BUILTIN_NAMES.contains(&first) => {
            path.insert(0, "builtins".to_owned());
        }
        _ => {}
    }
    path
}

/// Modules whose members include sinks (for `from m import *` and dynamic lookups).
const SINK_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "subprocess",
    "shutil",
    "pickle",
    "_pickle",
    "cPickle",
    "marshal",
    "runpy",
    "asyncio",
    "importlib",
    "pty",
    "ctypes",
    "builtins",
];

/// Whether a canonical path is a dangerous callable.
pub(super) fn is_sink(path: &[String]) -> bool {
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["builtins", name] => matches!(*name, "eval" | "exec" | "compile" | "__import__"),
        ["os" | "posix" | "nt", name] => {
            matches!(
                *name,
                "system" | "popen" | "posix_spawn" | "posix_spawnp" | "dup2" | "forkpty"
            ) || name.starts_with("exec")
                || name.starts_with("spawn")
                || *name == "startfile"
        }
        ["subprocess", name] => matches!(
            *name,
            "run"
                | "Popen"
                | "call"
                | "check_output"
                | "check_call"
                | "popen"
                | "getoutput"
                | "getstatusoutput"
        ),
        ["shutil", "rmtree"] => true,
        ["pickle" | "_pickle" | "cPickle", name] => {
            matches!(*name, "loads" | "load" | "Unpickler")
        }
        ["marshal", "loads" | "load"] => true,
        ["runpy", _] => true,
        ["asyncio", "create_subprocess_shell" | "create_subprocess_exec"] => true,
        ["importlib", "import_module" | "__import__" | "reload"] => true,
        ["pty", "spawn"] => true,
        _ => false,
    }
}

/// Whether a star import of `module` puts sinks into scope.
pub(super) fn module_has_sinks(module: &str) -> bool {
    SINK_MODULES.contains(&module)
}

/// Whether a computed lookup on this namespace can reach a sink: the builtins, the module
/// namespace, `sys.modules`, or a module that has sinks (or its `__dict__`).
pub(super) fn is_sensitive_namespace(path: &[String]) -> Option<String> {
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    let base = match parts.as_slice() {
        [base, "__dict__"] | [base] => *base,
        ["sys", "modules"] => return Some("sys.modules".to_owned()),
        _ => return None,
    };
    match base {
        "<globals>" => Some("globals".to_owned()),
        _ if SINK_MODULES.contains(&base) => Some(base.to_owned()),
        _ => None,
    }
}

/// Callables that open a file named by their first argument.
pub(super) fn is_file_opener(path: &[String]) -> bool {
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        parts.as_slice(),
        ["builtins", "open"]
            | ["io", "open" | "FileIO" | "open_code"]
            | ["os", "open"]
            | ["codecs", "open"]
            | ["pathlib", "Path" | "PosixPath" | "PurePath" | "PurePosixPath"]
    )
}

/// Whether a constant path names a secret or system location. The rule: absolute paths
/// under the system's configuration, credential, process and device trees, any user's home
/// (`/home/…`, `/root`, `~`), and credential directories or key files anywhere. Ordinary
/// relative paths and scratch locations such as `/tmp` stay allowed.
pub(super) fn is_sensitive_path(path: &str) -> bool {
    let p = path.trim();
    const ROOTS: &[&str] = &[
        "/etc",
        "/root",
        "/home",
        "/proc",
        "/sys",
        "/dev",
        "/boot",
        "/var/run/secrets",
        "/run/secrets",
        "/var/lib",
        "/var/log",
        "/private/etc",
        "/Users",
    ];
    const ANYWHERE: &[&str] = &[
        "/.ssh",
        ".ssh/",
        "/.aws",
        ".aws/",
        "/.gnupg",
        "/.kube",
        "/.docker",
        "id_rsa",
        "id_ed25519",
        "/.netrc",
        "/.git-credentials",
    ];
    if p.starts_with('~') {
        return true;
    }
    let under_root = ROOTS
        .iter()
        .any(|root| p == *root || p.strip_prefix(root).is_some_and(|rest| rest.starts_with('/')));
    under_root || ANYWHERE.iter().any(|needle| p.contains(needle))
}

/// Render a canonical path for a threat string (builtins without their module).
pub(super) fn render(path: &[String]) -> String {
    match path {
        [module, name] if module == "builtins" => name.clone(),
        _ => path.join("."),
    }
}

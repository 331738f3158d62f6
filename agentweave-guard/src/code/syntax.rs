//! Assignment-target rules of CPython 3.11 that `rustpython-parser` does not enforce.
//!
//! The parser accepts `1 = x`, `f() = 1`, `del f()` and `[a, b] += 1`; CPython's `ast.parse`
//! refuses them with a `SyntaxError`, and so do we (the code could never run).

use rustpython_parser::ast::{Constant, Expr, Ranged};

/// Which binding construct a target belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetKind {
    /// `=`, `for`, `with … as`, comprehensions: names, attributes, subscripts, starred and
    /// tuples/lists of those.
    Assign,
    /// `del`: names, attributes, subscripts and tuples/lists of those.
    Delete,
    /// `+=` and friends: a single name, attribute or subscript.
    Augmented,
    /// `x: T = v`: a single name, attribute or subscript.
    Annotated,
    /// `(x := v)`: a name.
    Named,
}

/// Check one target; on error returns CPython's message and the offending offset.
pub(super) fn check_target(target: &Expr, kind: TargetKind) -> Result<(), (String, usize)> {
    let mut stack = vec![target];
    while let Some(expr) = stack.pop() {
        let offset = expr.range().start().to_usize();
        let allowed = match (kind, expr) {
            (_, Expr::Name(_)) => true,
            (TargetKind::Named, _) => false,
            (_, Expr::Attribute(_) | Expr::Subscript(_)) => true,
            (TargetKind::Assign, Expr::Starred(s)) => {
                stack.push(&s.value);
                true
            }
            (TargetKind::Assign | TargetKind::Delete, Expr::Tuple(t)) => {
                stack.extend(t.elts.iter());
                true
            }
            (TargetKind::Assign | TargetKind::Delete, Expr::List(l)) => {
                stack.extend(l.elts.iter());
                true
            }
            _ => false,
        };
        if !allowed {
            let what = describe(expr);
            let message = match kind {
                TargetKind::Assign => format!("cannot assign to {what}"),
                TargetKind::Delete => format!("cannot delete {what}"),
                TargetKind::Augmented => {
                    format!("'{}' is an illegal expression for augmented assignment", short(expr))
                }
                TargetKind::Annotated => "illegal target for annotation".to_owned(),
                TargetKind::Named => format!("cannot use assignment expressions with {what}"),
            };
            return Err((message, offset));
        }
    }
    Ok(())
}

/// CPython's name for an expression kind in target errors.
fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::Constant(c) => match c.value {
            Constant::None => "None",
            Constant::Bool(true) => "True",
            Constant::Bool(false) => "False",
            Constant::Ellipsis => "ellipsis",
            _ => "literal",
        },
        Expr::Call(_) => "function call",
        Expr::Compare(_) => "comparison",
        Expr::BinOp(_) | Expr::UnaryOp(_) | Expr::BoolOp(_) => "expression",
        Expr::Lambda(_) => "lambda",
        Expr::IfExp(_) => "conditional expression",
        Expr::Dict(_) => "dict literal",
        Expr::Set(_) => "set display",
        Expr::ListComp(_) => "list comprehension",
        Expr::SetComp(_) => "set comprehension",
        Expr::DictComp(_) => "dict comprehension",
        Expr::GeneratorExp(_) => "generator expression",
        Expr::Await(_) => "await expression",
        Expr::Yield(_) | Expr::YieldFrom(_) => "yield expression",
        Expr::JoinedStr(_) | Expr::FormattedValue(_) => "f-string expression",
        Expr::NamedExpr(_) => "named expression",
        Expr::Starred(_) => "starred",
        Expr::Tuple(_) => "tuple",
        Expr::List(_) => "list",
        Expr::Slice(_) => "slice",
        Expr::Name(_) | Expr::Attribute(_) | Expr::Subscript(_) => "expression",
    }
}

/// CPython's short type name used by the augmented-assignment message.
fn short(expr: &Expr) -> &'static str {
    match expr {
        Expr::Tuple(_) => "tuple",
        Expr::List(_) => "list",
        Expr::Starred(_) => "starred",
        _ => describe(expr),
    }
}

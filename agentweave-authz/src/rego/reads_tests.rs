//! The scan of what a policy reads: a table of sources, tricky ones included.

use super::*;

/// `None`: the whole input; `Some(paths)`: exactly those dotted paths.
fn fields(text: &str) -> Option<Vec<String>> {
    match InputReads::scan([("p.rego", text)]).fields {
        InputFields::All => None,
        InputFields::Only(paths) => Some(paths),
    }
}

fn only(paths: &[&str]) -> Option<Vec<String>> {
    Some(paths.iter().map(|p| (*p).to_owned()).collect())
}

#[test]
fn static_paths_are_read_and_everything_else_widens_to_the_whole_input() {
    let cases: &[(&str, &str, Option<Vec<String>>)] = &[
        ("no input at all", "package p\nallow := true", only(&[])),
        (
            "dotted paths",
            "package p\nallow if { input.action == \"x\"; input.context.capability }",
            only(&["action", "context.capability"]),
        ),
        (
            "static brackets",
            "package p\nallow if input[\"context\"][\"task_id\"] == \"t\"",
            only(&["context.task_id"]),
        ),
        ("raw string bracket", "package p\nallow if input[`action`] == \"x\"", only(&["action"])),
        (
            "dynamic bracket stops the path",
            "package p\nallow if { some k; input.context[k] }",
            only(&["context"]),
        ),
        (
            "number bracket stops the path",
            "package p\nallow if input.items[0] == 1",
            only(&["items"]),
        ),
        (
            "escaped string bracket stops the path",
            "package p\nallow if input[\"act\\u0069on\"] == 1",
            None,
        ),
        ("bare input passed to a function", "package p\nallow if f(input)\nf(x) if x.action", None),
        ("iteration over input", "package p\nallow if { some k, v in input; v == 1 }", None),
        (
            "with input as",
            "package p\na if input.action\nallow if a with input as {\"action\": 1}",
            None,
        ),
        ("import of the whole input", "package p\nimport input as req\nallow if req.action", None),
        (
            "import of a subtree",
            "package p\nimport input.context as ctx\nallow if ctx.task_id",
            only(&["context"]),
        ),
        (
            "a field named input is not the input",
            "package p\nallow if data.config.input == 1",
            only(&[]),
        ),
        (
            "identifiers containing input",
            "package p\nmy_input := 1\ninput2 := 2\nallow if my_input",
            only(&[]),
        ),
        (
            "comments and strings do not count",
            "package p\n# input.secret\nallow if \"input.x\" == `input`",
            only(&[]),
        ),
        (
            "subtree passed whole",
            "package p\nallow if count(input.context) > 0",
            only(&["context"]),
        ),
        ("walk over input", "package p\nallow if { walk(input, [p, v]); v == 1 }", None),
        (
            "object.get on input",
            "package p\nallow if object.get(input, \"action\", \"\") == \"x\"",
            None,
        ),
        (
            "every over a subtree",
            "package p\nallow if every k, v in input.context { v != \"\" }",
            only(&["context"]),
        ),
        (
            "comprehension",
            "package p\nxs := [x | some x in input.context.tags]\nallow if count(xs) > 0",
            only(&["context.tags"]),
        ),
        // regorus ends a reference at a line break before `[` or `.` (the bracket starts the
        // next literal, an array): the bare `input` before it is a read of everything.
        (
            "input at a line end, an array literal on the next line",
            "package p\nallow if {\n  req := input\n  [\"GET\"][_] == req.method\n}",
            None,
        ),
        (
            "the same with a comment between",
            "package p\nallow if {\n  req := input # the request\n  [\"action\"][0]\n  req.action\n}",
            None,
        ),
        (
            "a subtree at a line end",
            "package p\nallow if {\n  c := input.context\n  [\"task_id\"][0]\n  c.message_id\n}",
            only(&["context"]),
        ),
        ("an unknown character", "package p\nallow if $\"{input.action}\" == \"x\"", None),
        ("an unterminated string", "package p\nallow if \"input", None),
    ];
    for (name, text, expected) in cases {
        assert_eq!(&fields(text), expected, "{name}: {text}");
    }
}

#[test]
fn the_paths_of_several_modules_add_up_and_any_whole_read_wins() {
    let reads = InputReads::scan([
        ("a.rego", "package a\nx if input.action"),
        ("b.rego", "package b\ny if input.context.capability"),
    ]);
    assert_eq!(reads.fields, InputFields::Only(vec!["action".into(), "context.capability".into()]));
    let reads = InputReads::scan([
        ("a.rego", "package a\nx if input.action"),
        ("b.rego", "package b\ny if f(input)"),
    ]);
    assert_eq!(reads.fields, InputFields::All);
    assert_eq!(reads.mask, InputMask::ALL);
}

#[test]
fn unstable_builtins_make_a_version_uncacheable() {
    let cases: &[(&str, Option<&str>)] = &[
        ("package p\nallow if time.now_ns() > 0", Some("time.now_ns")),
        ("package p\nallow if time . now_ns() > 0", Some("time.now_ns")),
        ("package p\nallow if http.send({\"url\": \"x\"}).status_code == 200", Some("http.send")),
        ("package p\nallow if rand.intn(\"x\", 2) == 0", Some("rand.intn")),
        ("package p\nallow if uuid.rfc4122(\"x\") != \"\"", Some("uuid.rfc4122")),
        (
            "package p\nallow if io.jwt.decode_verify(input.token, {})[0]",
            Some("io.jwt.decode_verify"),
        ),
        ("package p\nallow if opa.runtime().env.X", Some("opa.runtime")),
        // regorus calls a string-indexed reference as the function of that path.
        ("package p\nallow if rand[\"intn\"](\"x\", 2) == 0", Some("rand.intn")),
        ("package p\nallow if time[\"now_ns\"]() > 0", Some("time.now_ns")),
        ("package p\nallow if http[`send`]({}).status_code == 200", Some("http.send")),
        (
            "package p\nallow if io[\"jwt\"].decode_verify(\"t\", {})[0]",
            Some("io.jwt.decode_verify"),
        ),
        ("package p\nallow if rand[\"int\\u006e\"](\"x\", 2) == 0", Some("rand.intn")),
        ("package p\nallow if data.x[\"time\"][\"now_ns\"] == 1", None),
        ("package p\nallow if data.x[\"\\u0074ime\"] == 1", None),
        ("package p\nallow if time.parse_rfc3339_ns(input.at) > 0", None),
        ("package p\n# time.now_ns()\nallow if \"http.send\" != \"\"", None),
        ("package p\nallow if data.time.now_ns == 1", None),
        ("package p\nallow if input.action", None),
    ];
    for (text, builtin) in cases {
        let reads = InputReads::scan([("p.rego", *text)]);
        match builtin {
            Some(builtin) => {
                let why = reads.uncacheable.unwrap_or_default();
                assert!(why.contains(builtin) && why.contains("p.rego"), "{text}: {why}");
            }
            None => assert_eq!(reads.uncacheable, None, "{text}"),
        }
    }
    let unscannable = InputReads::scan([("odd.rego", "package p\nallow if $\"x\"")]);
    assert!(unscannable.uncacheable.is_some_and(|why| why.contains("odd.rego")));
}

#[test]
fn the_starter_modules_read_only_the_top_level_contract_fields() {
    let reads = InputReads::scan(crate::starter::MODULES.iter().copied());
    let InputFields::Only(paths) = &reads.fields else {
        panic!("the starter modules should be narrowed, got {:?}", reads.fields)
    };
    assert!(!paths.iter().any(|p| p.starts_with("context")), "{paths:?}");
    assert!(paths.iter().any(|p| p == "action"), "{paths:?}");
    assert_eq!(reads.uncacheable, None);
}

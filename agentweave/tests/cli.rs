//! The `agentweave` binary as a script sees it: output and exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_agentweave");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "agent: {name: a, spiffe_id: spiffe://example.org/agent/a}\nidentity: {provider: workload-api}\nauthz: {provider: rego, policies: [p/]}\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "agent: {name: a, spiffe_id: spiffe://example.org/agent/a}\nidentity: {provider: dev}\nauthz: {provider: rego, policies: [p/]}\n",
    )
    .unwrap();

    let (code, stdout, _) = run(&["validate", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("valid"));

    let (code, _, stderr) = run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("identity.provider") && stderr.contains("production"), "{stderr}");

    let (code, _, stderr) = run(&["validate", dir.path().join("missing.yaml").to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");

    let (code, _, _) = run(&["validate"]);
    assert_eq!(code, 2, "usage error");

    let (code, stdout, _) = run(&["validate", "--print", good.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("breaker_failure_threshold: 5"), "defaults are printed: {stdout}");
}

#[test]
fn dev_identity_server_serves_identity_show() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let id = "spiffe://example.org/agent/cli";
    let mut server = Command::new(BIN)
        .args(["dev", "identity-server", "--serve", &format!("{id}={}", socket.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with(id) && first.contains("SPIFFE_ENDPOINT_SOCKET=unix:"), "{first}");
    let endpoint = format!("unix:{}", socket.display());

    let (code, stdout, stderr) = run(&["identity", "show", "--endpoint", &endpoint]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("spiffe_id: {id}")), "{stdout}");
    assert!(stdout.contains("trust_bundles: example.org"), "{stdout}");

    let (code, _, stderr) =
        run(&["identity", "show", "--endpoint", &endpoint, "--timeout-secs", "1"]);
    assert_eq!(code, 3, "no server any more");
    assert!(stderr.contains("is the SPIRE agent running"), "{stderr}");

    let (code, _, stderr) =
        run(&["dev", "identity-server", "--serve", "spiffe://other.org/agent/x=/tmp/x.sock"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn authz_test_runs_case_files_and_exits_by_outcome() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cases = root.join("agentweave-authz/policies/tests/role_matrix.json");
    let (code, stdout, stderr) = run(&["authz", "test", cases.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // The same table with one expectation flipped must fail with exit code 1 and name the case.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&cases).unwrap();
    let flipped = text.replacen(
        r#""allow": true, "reason_contains": "role reader of search allows search.query""#,
        r#""allow": false"#,
        1,
    );
    assert_ne!(flipped, text, "the fixture changed shape; update this test");
    let policies = cases.parent().unwrap().parent().unwrap().display().to_string();
    let flipped = flipped.replace("\"../", &format!("\"{policies}/"));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, flipped).unwrap();
    let (code, stdout, _) = run(&["authz", "test", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("reader may query"), "the failing case is named: {stdout}");

    let (code, _, _) = run(&["authz", "test", dir.path().join("missing.json").to_str().unwrap()]);
    assert_eq!(code, 3);
}

#[test]
fn guard_replay_writes_one_verdict_per_corpus_line() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("lines.jsonl");
    std::fs::write(
        &corpus,
        concat!(
            r#"{"id": "t-1", "input": {"sender_agent_id": "procurement-agent", "receiver_agent_id": "treasury-agent", "payload_type": "financial_transaction", "payload": {"data": {"claimed_total": "300.00", "line_items": [{"amount": "100.00"}, {"amount": "200.00"}]}}}, "trust_config": {"default_allow": false, "trusted": ["procurement-agent"]}}"#,
            "\n\n",
            r#"{"id": "t-2", "input": {"sender_agent_id": "stranger", "receiver_agent_id": "treasury-agent", "payload_type": "general", "payload": {}}, "trust_config": {"default_allow": false, "trusted": ["procurement-agent"]}}"#,
            "\n",
            "not json\n",
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["guard", "replay", corpus.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "one output per non-blank input line: {stdout}");
    assert_eq!(
        (lines[0]["id"].as_str(), lines[0]["verdict"].as_str()),
        (Some("t-1"), Some("forwarded"))
    );
    assert_eq!(lines[0]["reason_code"], "finance.verified");
    assert_eq!(lines[0]["jwt"], true);
    assert_eq!(lines[1]["reason_code"], "trust.not_allowlisted");
    assert_eq!(lines[2]["verdict"], "error");
}

// ---------------------------------------------------------------------------------------------
// serve, call, card: separate processes, identities from one dev Workload API server.

/// A child process killed when the test ends, even on failure.
struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn agent_id(name: &str) -> String {
    format!("spiffe://example.org/agent/{name}")
}

/// `agentweave dev identity-server` serving each name on its own socket; returns the endpoints.
fn identity_server(dir: &Path, names: &[&str]) -> (Proc, Vec<String>) {
    let mut command = Command::new(BIN);
    command.args(["dev", "identity-server"]);
    let mut endpoints = Vec::new();
    for name in names {
        let socket = dir.join(format!("{name}.sock"));
        command.args(["--serve", &format!("{}={}", agent_id(name), socket.display())]);
        endpoints.push(format!("unix:{}", socket.display()));
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Proc(child);
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("dev identity server ready") {
            return (child, endpoints);
        }
    }
    panic!("the identity server exited before it was ready");
}

/// A started `agentweave serve`: its ready line, and its standard error collected on exit.
struct Served {
    proc: Proc,
    ready: Value,
    stderr: std::thread::JoinHandle<String>,
}

impl Served {
    fn start(config: &Path) -> Served {
        let mut child = Command::new(BIN)
            .args(["serve", config.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let proc = Proc(child);
        let Some(Ok(first)) = lines.next() else {
            drop(proc);
            panic!("serve exited before its ready line: {}", stderr.join().unwrap());
        };
        let ready: Value = serde_json::from_str(&first).unwrap();
        Served { proc, ready, stderr }
    }

    fn listen(&self) -> String {
        self.ready["listen"].as_str().unwrap().to_owned()
    }

    /// SIGTERM, then the exit code and standard error.
    fn terminate(mut self) -> (i32, String) {
        let pid = self.proc.0.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success(), "kill -TERM {pid}");
        let code = self.proc.0.wait().unwrap().code().unwrap_or(-1);
        (code, self.stderr.join().unwrap())
    }
}

/// A one-route business service: answers `{"paid": true, "caller": <x-agentweave-caller>,
/// "input": <body>}` to every request.
fn business_service() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut caller, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("x-agentweave-caller:") {
                    caller = line["x-agentweave-caller:".len()..].trim().to_owned();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let answer = json!({"paid": true, "caller": caller, "input": input}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    addr
}

const CLI_POLICY: &str = r#"
package agentweave.authz

allowed := {
  ["outbound", "client", "search", "search.query"], ["inbound", "client", "search", "search.query"],
  ["outbound", "client", "search", "invoice.pay"],  ["inbound", "client", "search", "invoice.pay"],
  ["outbound", "client", "search", "biz.run"],      ["inbound", "client", "search", "biz.run"],
  ["outbound", "client", "front", "plan.trip"],     ["inbound", "client", "front", "plan.trip"],
  ["outbound", "front", "search", "search.query"],  ["inbound", "front", "search", "search.query"],
  ["outbound", "client", "search", "search.admin"],
  ["outbound", "client", "down", "search.query"],
}

name(id) := n if {
  parts := split(id, "/")
  n := parts[4]
}

default decision := {"allow": false, "reason": "default deny"}

decision := {"allow": true, "reason": "listed"} if {
  [input.direction, name(input.caller_spiffe_id), name(input.callee_spiffe_id), input.action] in allowed
}
"#;

fn agent_config(name: &str, endpoint: &str, policy: &Path, rest: &str) -> String {
    format!(
        "environment: development
agent: {{name: {name}, spiffe_id: \"{id}\"}}
identity: {{provider: workload-api, endpoint: \"{endpoint}\"}}
server: {{listen: \"127.0.0.1:0\"}}
authz: {{provider: rego, policies: [\"{policy}\"], hot_reload: false}}
{rest}",
        id = agent_id(name),
        policy = policy.display(),
    )
}

#[test]
fn serve_answers_calls_from_other_processes() {
    let dir = tempfile::tempdir().unwrap();
    let (_identities, endpoints) = identity_server(dir.path(), &["search", "front", "client"]);
    let policy = write(dir.path(), "policy.rego", CLI_POLICY);
    let audit = dir.path().join("search-audit.jsonl");
    let biz = business_service();

    let search = write(
        dir.path(),
        "search.yaml",
        &agent_config(
            "search",
            &endpoints[0],
            &policy,
            &format!(
                "operations: {{json_logs: true}}
audit: {{sink: file, path: \"{audit}\"}}
capabilities:
  - name: search.query
    description: Finds things
    handler: {{kind: echo}}
  - name: invoice.pay
    guard_payload: finance
    handler: {{kind: echo}}
  - name: biz.run
    handler: {{kind: http, url: \"http://{biz}/run\"}}
",
                audit = audit.display()
            ),
        ),
    );
    let search_agent = Served::start(&search);
    assert_eq!(search_agent.ready["event"], "ready");
    assert_eq!(search_agent.ready["spiffe_id"], agent_id("search"));
    let search_url = format!("https://{}", search_agent.listen());

    let front = write(
        dir.path(),
        "front.yaml",
        &agent_config(
            "front",
            &endpoints[1],
            &policy,
            &format!(
                "audit: {{sink: off}}
peers: [{{spiffe_id: \"{search_id}\", endpoint: \"{search_url}\"}}]
capabilities:
  - name: plan.trip
    handler: {{kind: forward, target: \"{search_id}\", capability: search.query}}
",
                search_id = agent_id("search")
            ),
        ),
    );
    let front_agent = Served::start(&front);
    let front_url = format!("https://{}", front_agent.listen());

    // The client keeps the default `audit.sink: stdout`: `call` moves it to stderr.
    let client = write(
        dir.path(),
        "client.yaml",
        &agent_config(
            "client",
            &endpoints[2],
            &policy,
            &format!(
                "peers:
  - {{spiffe_id: \"{}\", endpoint: \"{search_url}\"}}
  - {{spiffe_id: \"{}\", endpoint: \"{front_url}\"}}
  - {{spiffe_id: \"{}\", endpoint: \"https://127.0.0.1:1\"}}
",
                agent_id("search"),
                agent_id("front"),
                agent_id("down"),
            ),
        ),
    );
    let client_cfg = client.to_str().unwrap();
    let payload_file = write(dir.path(), "payload.json", r#"{"q": "from a file"}"#);
    let at_file = format!("@{}", payload_file.display());
    let good_invoice =
        r#"{"data": {"claimed_total": 300, "line_items": [{"amount": 100}, {"amount": 200}]}}"#;
    let bad_invoice = r#"{"data": {"claimed_total": 999.99, "line_items": [{"amount": 150}]}}"#;
    let search_id = agent_id("search");
    let client_id = agent_id("client");

    struct Case<'a> {
        name: &'a str,
        args: Vec<&'a str>,
        code: i32,
        stdout: Option<Value>,
        stderr: &'a str,
    }
    let front_id = agent_id("front");
    let down_id = agent_id("down");
    let cases = vec![
        Case {
            name: "echo answers with the proven caller",
            args: vec![
                "call",
                "--config",
                client_cfg,
                &search_id,
                "search.query",
                r#"{"q": "rust"}"#,
            ],
            code: 0,
            stdout: Some(
                json!({"capability": "search.query", "caller": client_id, "input": {"q": "rust"}}),
            ),
            stderr: "",
        },
        Case {
            name: "payload from a file",
            args: vec!["call", "--config", client_cfg, &search_id, "search.query", &at_file],
            code: 0,
            stdout: Some(
                json!({"capability": "search.query", "caller": client_id, "input": {"q": "from a file"}}),
            ),
            stderr: "",
        },
        Case {
            name: "http handler posts to the business service",
            args: vec!["call", "--config", client_cfg, &search_id, "biz.run", r#"{"n": 1}"#],
            code: 0,
            stdout: Some(json!({"paid": true, "caller": client_id, "input": {"n": 1}})),
            stderr: "",
        },
        Case {
            name: "guarded call with a verified attestation",
            args: vec![
                "call",
                "--config",
                client_cfg,
                "--verify-attestation",
                &search_id,
                "invoice.pay",
                good_invoice,
            ],
            code: 0,
            stdout: Some(
                json!({"capability": "invoice.pay", "caller": client_id, "input": serde_json::from_str::<Value>(good_invoice).unwrap()}),
            ),
            stderr: "\"attestation\":\"verified\"",
        },
        Case {
            name: "forward goes through the front agent with its identity",
            args: vec!["call", "--config", client_cfg, &front_id, "plan.trip", r#"{"to": "Lyon"}"#],
            code: 0,
            stdout: Some(
                json!({"capability": "search.query", "caller": agent_id("front"), "input": {"to": "Lyon"}}),
            ),
            stderr: "",
        },
        Case {
            name: "guard block",
            args: vec!["call", "--config", client_cfg, &search_id, "invoice.pay", bad_invoice],
            code: 1,
            stdout: None,
            stderr: "guard blocked the payload (finance.mismatch)",
        },
        Case {
            name: "outbound deny",
            args: vec!["call", "--config", client_cfg, &search_id, "secret.op", "{}"],
            code: 1,
            stdout: None,
            stderr: "denied by policy: default deny",
        },
        Case {
            name: "inbound deny",
            args: vec!["call", "--config", client_cfg, &search_id, "search.admin", "{}"],
            code: 1,
            stdout: None,
            stderr: "refused the call",
        },
        Case {
            name: "no attestation to verify",
            args: vec![
                "call",
                "--config",
                client_cfg,
                "--verify-attestation",
                &search_id,
                "search.query",
                "{}",
            ],
            code: 1,
            stdout: None,
            stderr: "carried no attestation",
        },
        Case {
            name: "unreachable peer",
            args: vec!["call", "--config", client_cfg, &down_id, "search.query", "{}"],
            code: 3,
            stdout: None,
            stderr: "unreachable",
        },
        Case {
            name: "peer not in the config",
            args: vec![
                "call",
                "--config",
                client_cfg,
                "spiffe://example.org/agent/nobody",
                "x",
                "{}",
            ],
            code: 2,
            stdout: None,
            stderr: "not in `peers:`",
        },
        Case {
            name: "payload not JSON",
            args: vec!["call", "--config", client_cfg, &search_id, "search.query", "{oops"],
            code: 2,
            stdout: None,
            stderr: "the payload is not valid JSON",
        },
        Case {
            name: "target not a SPIFFE ID",
            args: vec!["call", "--config", client_cfg, "https://search", "search.query", "{}"],
            code: 2,
            stdout: None,
            stderr: "target \"https://search\"",
        },
    ];
    for case in &cases {
        let (code, stdout, stderr) = run(&case.args);
        assert_eq!(code, case.code, "{}: stdout {stdout} stderr {stderr}", case.name);
        match &case.stdout {
            Some(expected) => {
                assert_eq!(
                    stdout.lines().count(),
                    1,
                    "{}: stdout is the result only: {stdout}",
                    case.name
                );
                let got: Value = serde_json::from_str(&stdout).unwrap();
                assert_eq!(&got, expected, "{}", case.name);
            }
            None => assert_eq!(stdout, "", "{}: no result printed", case.name),
        }
        assert!(stderr.contains(case.stderr), "{}: stderr {stderr}", case.name);
    }

    // `call --stream`: one JSON line per event, then the same exit codes and messages.
    let streamed = |extra: &[&str], target: &str, capability: &str, payload: &str| {
        let mut args = vec!["call", "--config", client_cfg, "--stream"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[target, capability, payload]);
        let (code, stdout, stderr) = run(&args);
        let events: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        (code, events, stderr)
    };
    let kinds = |events: &[Value]| -> Vec<String> {
        events.iter().map(|e| format!("{} {}", e["event"], e["state"])).collect()
    };
    let submitted = r#""task" "TASK_STATE_SUBMITTED""#;
    let completed = r#""completed" "TASK_STATE_COMPLETED""#;
    // (name, extra flags, target, capability, payload, exit code, events, stderr)
    type StreamCase<'a> =
        (&'a str, &'a [&'a str], &'a str, &'a str, &'a str, i32, &'a [&'a str], &'a str);
    let stream_cases: [StreamCase<'_>; 6] = [
        ("echo", &[], &search_id, "search.query", r#"{"q": "s"}"#, 0, &[submitted, completed], ""),
        (
            "guarded and verified",
            &["--verify-attestation"],
            &search_id,
            "invoice.pay",
            good_invoice,
            0,
            &[submitted, completed],
            "\"attestation\":\"verified\"",
        ),
        (
            "guard block",
            &[],
            &search_id,
            "invoice.pay",
            bad_invoice,
            1,
            &[submitted],
            "refused: spiffe://example.org/agent/search guard blocked the payload (finance.mismatch)",
        ),
        ("outbound deny", &[], &search_id, "secret.op", "{}", 1, &[], "denied by policy"),
        ("inbound deny", &[], &search_id, "search.admin", "{}", 1, &[], "refused the call"),
        ("unreachable", &[], &down_id, "search.query", "{}", 3, &[], "unreachable"),
    ];
    for (name, extra, target, capability, payload, want_code, want_events, want_stderr) in
        stream_cases
    {
        let (code, events, stderr) = streamed(extra, target, capability, payload);
        assert_eq!(code, want_code, "stream {name}: {events:?} {stderr}");
        assert_eq!(kinds(&events), want_events, "stream {name}: {stderr}");
        assert!(stderr.contains(want_stderr), "stream {name}: {stderr}");
        let task_ids: Vec<&Value> = events.iter().map(|e| &e["task_id"]).collect();
        assert!(task_ids.windows(2).all(|w| w[0] == w[1]), "stream {name}: one task: {events:?}");
    }
    let (_, events, _) = streamed(&[], &search_id, "search.query", r#"{"q": "s"}"#);
    let last = events.last().unwrap();
    assert_eq!(
        last["output"],
        json!({"capability": "search.query", "caller": client_id, "input": {"q": "s"}})
    );
    assert_eq!(last["verdict"], Value::Null);
    assert_eq!(last["trace_id"].as_str().map(str::len), Some(32), "{last}");
    let (_, events, _) = streamed(&[], &search_id, "invoice.pay", good_invoice);
    let verdict = &events.last().unwrap()["verdict"];
    assert_eq!(
        (&verdict["status"], &verdict["reason_code"]),
        (&json!("forwarded"), &json!("finance.verified"))
    );

    // The card the search agent's config would serve names its capabilities and keys.
    let (code, stdout, stderr) = run(&["card", search.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let card: Value = serde_json::from_str(&stdout).unwrap();
    let skills: Vec<&str> =
        card["skills"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(skills, ["search.query", "invoice.pay", "biz.run"], "{card}");
    assert!(stdout.contains("https://agentweave.dev/ext/attestation/v1"), "{stdout}");

    let (code, front_stderr) = front_agent.terminate();
    assert_eq!(code, 0, "SIGTERM stops serve cleanly: {front_stderr}");
    let (code, search_stderr) = search_agent.terminate();
    assert_eq!(code, 0, "SIGTERM stops serve cleanly: {search_stderr}");
    // `operations.json_logs: true`: every log line is a JSON object.
    assert!(search_stderr.contains("secure agent stopped"), "{search_stderr}");
    for line in search_stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    let records = std::fs::read_to_string(&audit).unwrap();
    assert!(records.contains("finance.mismatch"), "the guard block is audited: {records}");
}

#[test]
fn serve_with_a_dev_identity_prints_ready_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.rego", CLI_POLICY);
    let config = write(
        dir.path(),
        "dev.yaml",
        &format!(
            "environment: development
agent: {{name: search, spiffe_id: \"{id}\"}}
identity: {{provider: dev}}
server: {{listen: \"127.0.0.1:0\"}}
authz: {{provider: rego, policies: [\"{policy}\"]}}
audit: {{sink: off}}
capabilities:
  - name: search.query
    handler: {{kind: echo}}
",
            id = agent_id("search"),
            policy = policy.display()
        ),
    );
    let served = Served::start(&config);
    assert_eq!(served.ready["event"], "ready");
    assert_eq!(served.ready["spiffe_id"], agent_id("search"));
    let listen: std::net::SocketAddr = served.listen().parse().unwrap();
    assert_ne!(listen.port(), 0, "the bound port, not the configured one");
    let (code, stderr) = served.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.trim_start().starts_with('{'), "text logs without json_logs: {stderr}");

    // Errors before serving: each names what is wrong, with the documented exit code.
    let production = write(
        dir.path(),
        "prod.yaml",
        &format!(
            "agent: {{name: a, spiffe_id: \"{}\"}}\nidentity: {{provider: workload-api}}\nauthz: {{provider: rego, policies: [p/]}}\ncapabilities:\n  - name: pay\n    handler: {{kind: http, url: \"http://10.1.2.3:9000/pay\"}}\n",
            agent_id("a")
        ),
    );
    let missing = dir.path().join("missing.yaml");
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (
            "non-loopback business service in production",
            &["serve", production.to_str().unwrap()],
            2,
            "capabilities[0].handler.url",
        ),
        ("card of the same config", &["card", production.to_str().unwrap()], 2, "loopback"),
        ("unreadable config", &["serve", missing.to_str().unwrap()], 3, "cannot read config file"),
        ("no config argument", &["serve"], 2, "CONFIG"),
        (
            "call without --config",
            &["call", "spiffe://example.org/agent/a", "x", "{}"],
            2,
            "--config",
        ),
    ];
    for (name, args, code, needle) in cases {
        let (got, stdout, stderr) = run(args);
        assert_eq!(got, *code, "{name}: {stdout} {stderr}");
        assert!(stderr.contains(needle), "{name}: {stderr}");
    }
}

#[test]
fn authz_check_prints_the_decision_and_exits_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "roles.rego",
        "package agentweave.authz\n\ndefault decision := {\"allow\": false, \"reason\": \"default deny\"}\n\ndecision := {\"allow\": true, \"reason\": \"reader\"} if {\n  data.roles[input.caller_spiffe_id] == \"reader\"\n  input.action == \"search.query\"\n}\n",
    );
    let data =
        write(dir.path(), "roles.json", r#"{"roles": {"spiffe://example.org/agent/a": "reader"}}"#);
    let broken = write(dir.path(), "broken.rego", "package agentweave.authz\n\ndecision := {");
    let input = |caller: &str, action: &str| {
        json!({"direction": "inbound", "caller_spiffe_id": caller, "callee_spiffe_id": "spiffe://example.org/agent/s", "action": action}).to_string()
    };
    let allowed = input("spiffe://example.org/agent/a", "search.query");
    let denied = input("spiffe://example.org/agent/b", "search.query");
    let input_file = write(dir.path(), "input.json", &allowed);
    let at_input = format!("@{}", input_file.display());
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(&policy, folder.join("roles.rego")).unwrap();
    let (p, d) = (policy.to_str().unwrap(), data.to_str().unwrap());
    let cases: &[(&str, Vec<&str>, i32, &str)] = &[
        ("allowed", vec!["--policy", p, "--data", d, "--input", &allowed], 0, r#""allow":true"#),
        (
            "input from a file",
            vec!["--policy", p, "--data", d, "--input", &at_input],
            0,
            r#""reason":"reader""#,
        ),
        (
            "policy folder",
            vec!["--policy", folder.to_str().unwrap(), "--data", d, "--input", &allowed],
            0,
            r#""allow":true"#,
        ),
        (
            "denied",
            vec!["--policy", p, "--data", d, "--input", &denied],
            1,
            r#""reason":"default deny""#,
        ),
        ("no data: denied", vec!["--policy", p, "--input", &allowed], 1, r#""allow":false"#),
        ("input not JSON", vec!["--policy", p, "--input", "{nope"], 2, "--input is not valid JSON"),
        ("input not an object", vec!["--policy", p, "--input", "[1]"], 2, "must be a JSON object"),
        (
            "policy does not compile",
            vec!["--policy", broken.to_str().unwrap(), "--input", &allowed],
            3,
            "broken.rego",
        ),
        (
            "missing entrypoint",
            vec!["--policy", p, "--entrypoint", "data.nothing.here", "--input", &allowed],
            3,
            "data.nothing.here",
        ),
        ("no policy", vec!["--input", &allowed], 2, "--policy"),
    ];
    for (name, args, code, needle) in cases {
        let mut full = vec!["authz", "check"];
        full.extend(args.iter().copied());
        let (got, stdout, stderr) = run(&full);
        assert_eq!(got, *code, "{name}: {stdout} {stderr}");
        assert!(stdout.contains(needle) || stderr.contains(needle), "{name}: {stdout} {stderr}");
        if *code < 2 {
            let decision: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(decision["allow"], *code == 0, "{name}");
            assert!(decision["policy_id"].is_string(), "{name}");
        }
    }
}

#[test]
fn guard_check_prints_the_verdict_and_exits_by_it() {
    let good = r#"{"data": {"claimed_total": "300.00", "line_items": [{"amount": "100.00"}, {"amount": "200.00"}]}}"#;
    let bad = r#"{"data": {"claimed_total": "999.99", "line_items": [{"amount": "150.00"}]}}"#;
    let cases: &[(&str, &str, &str, i32, &str)] = &[
        ("verified invoice", "financial_transaction", good, 0, "finance.verified"),
        ("short type name", "finance", good, 0, "finance.verified"),
        ("wrong total", "finance", bad, 1, "finance.mismatch"),
        (
            "dangerous code",
            "code",
            r#"{"code": "import os\nos.system('rm -rf /')"}"#,
            1,
            "\"status\":\"blocked\"",
        ),
        ("passthrough type", "general", r#"{"x": 1}"#, 1, "passthrough.unverifiable"),
        ("payload not an object", "finance", "[1, 2]", 1, "schema.payload"),
        ("unknown type", "poetry", good, 2, "is not a payload type"),
        ("payload not JSON", "finance", "{", 2, "not valid JSON"),
    ];
    for (name, payload_type, payload, code, needle) in cases {
        let (got, stdout, stderr) = run(&["guard", "check", "--type", payload_type, payload]);
        assert_eq!(got, *code, "{name}: {stdout} {stderr}");
        assert!(stdout.contains(needle) || stderr.contains(needle), "{name}: {stdout} {stderr}");
        if *code == 0 {
            let verdict: Value = serde_json::from_str(&stdout).unwrap();
            assert!(verdict["attestation_jwt"].is_string(), "{name}: a pass is signed");
        }
    }
}

#[test]
fn attest_verify_checks_signature_issuer_and_bindings() {
    use agentweave::agent::agent_guard;
    use agentweave_attest::SigningKey;
    use agentweave_guard::PipelineConfig;
    use agentweave_identity::SpiffeId;

    let dir = tempfile::tempdir().unwrap();
    let issuer = agent_id("payments");
    let sender = agent_id("orchestrator");
    let key = SigningKey::generate(&issuer).unwrap();
    let jwk = key.jwk();
    let guard =
        agent_guard(&SpiffeId::parse(&issuer).unwrap(), PipelineConfig::default(), Some(key))
            .unwrap();
    let payload = json!({"data": {"claimed_total": "300.00", "line_items": [{"amount": "100.00"}, {"amount": "200.00"}]}});
    let message = json!({"sender_agent_id": sender, "receiver_agent_id": issuer, "payload_type": "financial_transaction", "payload": payload});
    let verdict = guard.intercept_json(message.to_string().as_bytes()).unwrap();
    let token = verdict.attestation_jwt.unwrap();

    let bare = write(dir.path(), "jwks.json", &json!({"keys": [jwk]}).to_string());
    let params = write(
        dir.path(),
        "params.json",
        &json!({"issuer": issuer, "jwks": {"keys": [jwk]}}).to_string(),
    );
    let other_key = SigningKey::generate(&issuer).unwrap();
    let other = write(
        dir.path(),
        "other.json",
        &json!({"issuer": issuer, "jwks": {"keys": [other_key.jwk()]}}).to_string(),
    );
    let token_file = write(dir.path(), "token.jwt", &format!("{token}\n"));
    let at_token = format!("@{}", token_file.display());
    let payload_text = payload.to_string();
    let tampered = payload_text.replace("300.00", "301.00");
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let (b, p) = (bare.to_str().unwrap(), params.to_str().unwrap());
    let missing = dir.path().join("missing.json");
    let mallory = agent_id("mallory");

    let cases: &[(&str, Vec<&str>, i32, &str)] = &[
        (
            "valid, issuer from the params",
            vec![
                "--jwks",
                p,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &token,
            ],
            0,
            "\"iss\"",
        ),
        (
            "bare JWKS with --issuer, token from a file",
            vec![
                "--jwks",
                b,
                "--issuer",
                &issuer,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                "--payload-type",
                "financial_transaction",
                &at_token,
            ],
            0,
            "sha256:",
        ),
        (
            "bare JWKS without --issuer",
            vec![
                "--jwks",
                b,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &token,
            ],
            2,
            "--issuer is required",
        ),
        (
            "another payload",
            vec![
                "--jwks",
                p,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &tampered,
                &token,
            ],
            1,
            "payload hash mismatch",
        ),
        (
            "another sender",
            vec![
                "--jwks",
                p,
                "--sender",
                &mallory,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &token,
            ],
            1,
            "qwed_a2a.sender",
        ),
        (
            "another payload type",
            vec![
                "--jwks",
                p,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                "--payload-type",
                "code_execution",
                &token,
            ],
            1,
            "qwed_a2a.payload_type",
        ),
        (
            "another issuer",
            vec![
                "--jwks",
                b,
                "--issuer",
                &sender,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &token,
            ],
            1,
            "issuer",
        ),
        (
            "keys of someone else",
            vec![
                "--jwks",
                other.to_str().unwrap(),
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &token,
            ],
            1,
            "unknown key id",
        ),
        (
            "forged signature",
            vec![
                "--jwks",
                p,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &forged,
            ],
            1,
            "invalid:",
        ),
        (
            "not a token",
            vec![
                "--jwks",
                p,
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                "abc",
            ],
            1,
            "malformed token",
        ),
        (
            "missing keys file",
            vec![
                "--jwks",
                missing.to_str().unwrap(),
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &token,
            ],
            3,
            "missing.json",
        ),
        (
            "keys file not keys",
            vec![
                "--jwks",
                token_file.to_str().unwrap(),
                "--sender",
                &sender,
                "--receiver",
                &issuer,
                "--payload",
                &payload_text,
                &token,
            ],
            2,
            "not JSON",
        ),
    ];
    for (name, args, code, needle) in cases {
        let mut full = vec!["attest", "verify"];
        full.extend(args.iter().copied());
        let (got, stdout, stderr) = run(&full);
        assert_eq!(got, *code, "{name}: {stdout} {stderr}");
        assert!(stdout.contains(needle) || stderr.contains(needle), "{name}: {stdout} {stderr}");
    }
}

#[test]
fn help_documents_every_command_and_the_exit_codes() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for command in
        ["serve", "call", "card", "validate", "identity", "authz", "guard", "attest", "dev"]
    {
        assert!(stdout.contains(command), "{command} in --help: {stdout}");
    }
    assert!(stdout.contains("Exit codes") && stdout.contains("3  fault"), "{stdout}");
    let (code, stdout, _) = run(&["call", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--verify-attestation") && stdout.contains("Exit codes"), "{stdout}");
    assert!(stdout.contains("--stream") && stdout.contains("one JSON line per event"), "{stdout}");
}

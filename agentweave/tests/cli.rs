//! The `agentweave` binary as a script sees it: output and exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
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
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
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

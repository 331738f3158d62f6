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

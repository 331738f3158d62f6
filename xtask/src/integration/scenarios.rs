//! The scenarios, in the order they run. Each one drives `agentweave call` processes against the
//! running mesh, asserts what each call must do, and books the audit records that outcome implies
//! in the ledger.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::ledger::Ledger;
use super::mesh::{Authz, BREAKER_FAILURES, BREAKER_RECOVERY_MS, Mesh, SVID_TTL_SECS, spiffe_id};
use super::process::{Outcome, Service};

/// How a call ended, read from the exit code and the message `agentweave call` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Ok,
    OutboundDenied,
    RemoteDenied,
    GuardBlocked,
    Unreachable,
    CircuitOpen,
    /// The callee's handler failed (for a forward: the onward call failed).
    HandlerFailed,
}

pub(crate) fn classify(outcome: &Outcome) -> anyhow::Result<Class> {
    let text = outcome.stderr.to_lowercase();
    Ok(match outcome.code {
        Some(0) => Class::Ok,
        Some(1) if text.contains("denied by policy") => Class::OutboundDenied,
        Some(1) if text.contains("refused the call") => Class::RemoteDenied,
        Some(1) if text.contains("guard blocked") => Class::GuardBlocked,
        // A forward whose onward call failed: the task failed, naming the onward error.
        Some(3) if text.contains("task_state_failed") => Class::HandlerFailed,
        Some(3) if text.contains("circuit open") => Class::CircuitOpen,
        Some(3) if text.contains("unreachable") => Class::Unreachable,
        _ => bail!("a call ended in a way no scenario expects:\n{}", outcome.describe()),
    })
}

/// The running mesh with its ledger.
pub(crate) struct Run {
    pub(crate) mesh: Mesh,
    pub(crate) ledger: Ledger,
    pub(crate) calls: usize,
}

fn invoice(total: u32) -> Value {
    json!({"data": {"claimed_total": total, "line_items": [{"amount": 100}, {"amount": 200}]}})
}

/// Whether `target`'s capability runs the guard (and so writes a guard record when reached).
fn guarded(target: &str, capability: &str) -> bool {
    target == "payments" && capability == "invoice.pay"
}

impl Run {
    /// One direct call (not through the orchestrator's forward handler); returns its class and
    /// output, after booking the records the class implies.
    fn call(
        &mut self,
        caller: &str,
        target: &str,
        capability: &str,
        payload: &Value,
    ) -> anyhow::Result<(Class, Outcome)> {
        self.call_with(caller, target, capability, payload, &[])
    }

    /// [`Run::call`] with extra `agentweave call` flags (`--stream`, `--verify-attestation`):
    /// a streamed call implies the same decisions, hence the same records, as a plain one.
    fn call_with(
        &mut self,
        caller: &str,
        target: &str,
        capability: &str,
        payload: &Value,
        extra: &[&str],
    ) -> anyhow::Result<(Class, Outcome)> {
        let outcome = self.mesh.call(caller, target, capability, payload, extra)?;
        let class = classify(&outcome)?;
        self.calls += 1;
        let file = format!("cli-{caller}");
        let l = &mut self.ledger;
        match class {
            Class::OutboundDenied => l.expect(&file, "outbound", caller, target, capability, false),
            Class::Unreachable | Class::CircuitOpen => {
                l.expect(&file, "outbound", caller, target, capability, true);
            }
            Class::RemoteDenied => {
                l.expect(&file, "outbound", caller, target, capability, true);
                l.expect(target, "inbound", caller, target, capability, false);
            }
            Class::Ok | Class::GuardBlocked | Class::HandlerFailed => {
                l.expect(&file, "outbound", caller, target, capability, true);
                l.expect(target, "inbound", caller, target, capability, true);
                if guarded(target, capability) {
                    l.expect(target, "guard", caller, target, capability, class == Class::Ok);
                }
            }
        }
        Ok((class, outcome))
    }

    /// A call that must end as `want`.
    fn call_expecting(
        &mut self,
        want: Class,
        caller: &str,
        target: &str,
        capability: &str,
        payload: &Value,
    ) -> anyhow::Result<Outcome> {
        let (class, outcome) = self.call(caller, target, capability, payload)?;
        if class != want {
            bail!(
                "{caller} -> {target} {capability}: expected {want:?}, got {class:?}\n{}",
                outcome.describe()
            );
        }
        Ok(outcome)
    }

    /// frontend -> orchestrator `plan.trip`, which forwards to search `search.query`.
    /// `search_up` says whether search answers; the orchestrator's outbound decision and the
    /// breaker are inside the orchestrator process.
    fn plan_trip(&mut self) -> anyhow::Result<(Class, Outcome)> {
        let payload = json!({"destination": "Lisbon"});
        let outcome = self.mesh.call("frontend", "orchestrator", "plan.trip", &payload, &[])?;
        let class = classify(&outcome)?;
        self.calls += 1;
        let l = &mut self.ledger;
        l.expect("cli-frontend", "outbound", "frontend", "orchestrator", "plan.trip", true);
        l.expect("orchestrator", "inbound", "frontend", "orchestrator", "plan.trip", true);
        l.expect("orchestrator", "outbound", "orchestrator", "search", "search.query", true);
        match class {
            Class::Ok => {
                l.expect("search", "inbound", "orchestrator", "search", "search.query", true)
            }
            Class::HandlerFailed => {}
            other => bail!(
                "plan.trip ended as {other:?}; a forward failure is a failed task\n{}",
                outcome.describe()
            ),
        }
        Ok((class, outcome))
    }
}

fn output(outcome: &Outcome) -> anyhow::Result<Value> {
    serde_json::from_str(outcome.stdout.trim())
        .with_context(|| format!("the call printed no JSON output:\n{}", outcome.describe()))
}

/// Allowed, denied both ways, guard block and a verified attestation.
pub(crate) fn decisions(run: &mut Run) -> anyhow::Result<()> {
    let out = run.call_expecting(
        Class::Ok,
        "orchestrator",
        "search",
        "search.query",
        &json!({"q": "mesh"}),
    )?;
    let out = output(&out)?;
    if out.to_string().contains(&spiffe_id("orchestrator")) {
        println!("    allowed: orchestrator -> search search.query answered {out}");
    } else {
        bail!("search did not see the orchestrator's SPIFFE ID as the caller: {out}");
    }
    run.call_expecting(
        Class::OutboundDenied,
        "orchestrator",
        "payments",
        "invoice.refund",
        &invoice(300),
    )?;
    println!(
        "    outbound deny: orchestrator -> payments invoice.refund refused before any traffic"
    );
    run.call_expecting(
        Class::RemoteDenied,
        "mallory",
        "search",
        "search.query",
        &json!({"q": "secrets"}),
    )?;
    println!("    inbound deny: mallory -> search refused by search's policy");
    let blocked = run.call_expecting(
        Class::GuardBlocked,
        "orchestrator",
        "payments",
        "invoice.pay",
        &invoice(350),
    )?;
    if !blocked.stderr.contains("finance.mismatch") {
        bail!("the guard block does not name finance.mismatch:\n{}", blocked.describe());
    }
    println!("    guard block: an invoice that does not add up never reached the handler");
    let (class, paid) = run.call("orchestrator", "payments", "invoice.pay", &invoice(300))?;
    if class != Class::Ok {
        bail!("a correct invoice was not paid:\n{}", paid.describe());
    }
    println!("    guard pass: a correct invoice was paid");
    Ok(())
}

/// A streamed call (`agentweave call --stream`, one JSON line per event) as `caller`; returns
/// its class, the `event state` of each line and the lines.
fn stream(
    run: &mut Run,
    caller: &str,
    target: &str,
    capability: &str,
    payload: &Value,
    extra: &[&str],
) -> anyhow::Result<(Class, Vec<String>, Vec<Value>, Outcome)> {
    let mut flags = vec!["--stream"];
    flags.extend_from_slice(extra);
    let (class, outcome) = run.call_with(caller, target, capability, payload, &flags)?;
    let mut lines = Vec::new();
    for line in outcome.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let event: Value = serde_json::from_str(line).with_context(|| {
            format!("call --stream printed a line that is not JSON: {line}\n{}", outcome.describe())
        })?;
        lines.push(event);
    }
    let kinds = lines
        .iter()
        .map(|e| {
            format!("{} {}", e["event"].as_str().unwrap_or("?"), e["state"].as_str().unwrap_or("?"))
        })
        .collect();
    Ok((class, kinds, lines, outcome))
}

/// Task streaming: `agentweave call --stream` gets the task's events in order and ends on its
/// final state, through the same policy, guard and attestation as a plain call.
pub(crate) fn streaming(run: &mut Run) -> anyhow::Result<()> {
    const SUBMITTED: &str = "task TASK_STATE_SUBMITTED";
    const COMPLETED: &str = "completed TASK_STATE_COMPLETED";
    let expect = |what: &str,
                  got: (Class, Vec<String>, Vec<Value>, Outcome),
                  class: Class,
                  kinds: &[&str]| {
        let (got_class, got_kinds, lines, outcome) = got;
        if got_class != class || got_kinds != kinds {
            bail!(
                "{what}: expected {class:?} with events {kinds:?}, got {got_class:?} with {got_kinds:?}\n{}",
                outcome.describe()
            );
        }
        let tasks: Vec<&Value> = lines.iter().map(|l| &l["task_id"]).collect();
        if tasks.windows(2).any(|w| w[0] != w[1]) {
            bail!("{what}: the events are about more than one task: {lines:?}");
        }
        Ok((lines, outcome))
    };
    let got = stream(run, "orchestrator", "search", "search.query", &json!({"q": "stream"}), &[])?;
    let (lines, _) =
        expect("stream orchestrator -> search", got, Class::Ok, &[SUBMITTED, COMPLETED])?;
    let output = lines.last().map(|l| l["output"].to_string()).unwrap_or_default();
    if !output.contains(&spiffe_id("orchestrator")) {
        bail!("the streamed result does not name the orchestrator as the caller: {output}");
    }
    println!("    streamed: orchestrator -> search search.query: submitted, completed {output}");

    let got = stream(
        run,
        "orchestrator",
        "payments",
        "invoice.pay",
        &invoice(300),
        &["--verify-attestation"],
    )?;
    let (lines, outcome) =
        expect("stream a correct invoice", got, Class::Ok, &[SUBMITTED, COMPLETED])?;
    let verdict = lines.last().map(|l| l["verdict"]["reason_code"].clone()).unwrap_or_default();
    if verdict != "finance.verified" || !outcome.stderr.contains("\"attestation\":\"verified\"") {
        bail!("the streamed invoice was not verified and attested:\n{}", outcome.describe());
    }
    println!("    streamed: a correct invoice was paid; its attestation verified at the end");

    let got = stream(run, "orchestrator", "payments", "invoice.pay", &invoice(350), &[])?;
    let (_, outcome) = expect("stream a wrong invoice", got, Class::GuardBlocked, &[SUBMITTED])?;
    if !outcome.stderr.contains("finance.mismatch") {
        bail!("the streamed guard block does not name finance.mismatch:\n{}", outcome.describe());
    }
    println!("    streamed: an invoice that does not add up ended the stream, guard blocked");

    let got = stream(run, "orchestrator", "payments", "invoice.refund", &invoice(300), &[])?;
    expect("stream an ungranted capability", got, Class::OutboundDenied, &[])?;
    let got = stream(run, "mallory", "search", "search.query", &json!({"q": "secrets"}), &[])?;
    expect("stream as mallory", got, Class::RemoteDenied, &[])?;
    println!("    streamed: denied by our policy (nothing sent) and by search's (no event)");
    Ok(())
}

/// Two hops: frontend -> orchestrator, whose handler calls search over its own pooled mTLS.
pub(crate) fn forward(run: &mut Run) -> anyhow::Result<()> {
    let (class, outcome) = run.plan_trip()?;
    if class != Class::Ok {
        bail!("plan.trip failed:\n{}", outcome.describe());
    }
    let out = output(&outcome)?;
    println!("    frontend -> orchestrator -> search answered {out}");
    Ok(())
}

/// Calls keep succeeding while every SVID rotates (the dev server renews them at half-life).
pub(crate) fn rotation(run: &mut Run) -> anyhow::Result<()> {
    let before = [run.mesh.svid_serial("search")?, run.mesh.svid_serial("orchestrator")?];
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_secs(SVID_TTL_SECS + 1) {
        let (class, outcome) = run.plan_trip()?;
        if class != Class::Ok {
            bail!("call {calls} failed during rotation:\n{}", outcome.describe());
        }
        run.call_expecting(
            Class::Ok,
            "orchestrator",
            "search",
            "search.query",
            &json!({"q": calls}),
        )?;
        calls += 2;
    }
    let after = [run.mesh.svid_serial("search")?, run.mesh.svid_serial("orchestrator")?];
    if before.iter().zip(&after).any(|(b, a)| b == a) {
        bail!("no rotation happened in {:?}: serials {before:?} -> {after:?}", started.elapsed());
    }
    println!("    {calls} calls, 0 failures, while the SVIDs rotated ({before:?} -> {after:?})");
    Ok(())
}

/// search dies: the orchestrator's calls fail, its breaker opens and then fails fast; search
/// comes back on the same port and the breaker closes after its recovery time.
pub(crate) fn peer_restart(run: &mut Run) -> anyhow::Result<()> {
    run.mesh.kill_agent("search")?;
    let mut messages = Vec::new();
    for _ in 0..BREAKER_FAILURES + 1 {
        let (class, outcome) = run.plan_trip()?;
        if class != Class::HandlerFailed {
            bail!("a call through a dead search did not fail:\n{}", outcome.describe());
        }
        messages.push(outcome.stderr.to_lowercase());
    }
    let Some(last) = messages.last() else { bail!("no calls made") };
    if !last.contains("circuit open") {
        bail!("after {BREAKER_FAILURES} failures the breaker is not open; last error: {last}");
    }
    let series = format!("agentweave_circuit_breaker_state{{peer=\"{}\"}}", spiffe_id("search"));
    let state = run.mesh.metric("orchestrator", &series)?;
    if state != 2.0 {
        bail!("the orchestrator's metrics show breaker state {state} for search, not 2 (open)");
    }
    println!(
        "    search killed: {BREAKER_FAILURES} calls failed, then the breaker opened (metrics: state 2) and failed fast"
    );
    run.mesh.start_agent("search", &Authz::Rego)?;
    std::thread::sleep(Duration::from_millis(BREAKER_RECOVERY_MS + 200));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (class, outcome) = run.plan_trip()?;
        if class == Class::Ok {
            break;
        }
        if Instant::now() > deadline {
            bail!("the breaker did not recover after search restarted:\n{}", outcome.describe());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    println!("    search restarted on the same port: the breaker closed and calls succeed");
    Ok(())
}

/// Polls `orchestrator -> search` until it ends as `want`.
fn until(run: &mut Run, want: Class, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let (class, outcome) =
            run.call("orchestrator", "search", "search.query", &json!({"q": "reload"}))?;
        if class == want {
            return Ok(started.elapsed());
        }
        if !matches!(class, Class::Ok | Class::RemoteDenied) || started.elapsed() > limit {
            bail!("expected {want:?} within {limit:?}, got {class:?}\n{}", outcome.describe());
        }
        std::thread::sleep(Duration::from_millis(400));
    }
}

/// search's policy file changes on disk: its decisions switch without a restart, and back.
pub(crate) fn policy_reload(run: &mut Run) -> anyhow::Result<()> {
    let file = run.mesh.policy_file("search");
    let original = std::fs::read_to_string(&file)?;
    let revoked =
        original.replace(r#"["inbound",  "orchestrator", "search",       "search.query"],"#, "");
    if revoked == original {
        bail!("the mesh policy no longer has the grant this scenario revokes");
    }
    std::fs::write(&file, revoked)?;
    let took = until(run, Class::RemoteDenied, Duration::from_secs(15))?;
    println!("    grant removed from search's policy file: denied after {took:.1?}");
    std::fs::write(&file, original)?;
    let took = until(run, Class::Ok, Duration::from_secs(15))?;
    println!("    grant restored: allowed again after {took:.1?}");
    Ok(())
}

/// payments switches to the OPA REST API (OPA's own engine behind a small local server), then
/// OPA goes away: every call is denied, none allowed.
pub(crate) fn opa(
    run: &mut Run,
    python: &std::path::Path,
    script: &std::path::Path,
) -> anyhow::Result<()> {
    let mut command = std::process::Command::new(python);
    command.arg(script).arg(run.mesh.policy_file("payments"));
    let mut server = Service::start("opa", command, &run.mesh.dir.join("logs"))?;
    let ready = server.wait_for_line("\"ready\"", Duration::from_secs(30))?;
    let port = serde_json::from_str::<Value>(&ready)?["port"]
        .as_u64()
        .context("the OPA server's ready line has no port")?;
    run.mesh.stop_agent("payments")?;
    run.mesh.start_agent("payments", &Authz::Opa(format!("http://127.0.0.1:{port}")))?;
    run.call_expecting(Class::Ok, "orchestrator", "payments", "invoice.pay", &invoice(300))?;
    run.call_expecting(Class::RemoteDenied, "mallory", "payments", "invoice.pay", &invoice(300))?;
    println!("    payments on OPA (port {port}): orchestrator allowed, mallory denied by OPA");
    server.kill();
    for _ in 0..3 {
        run.call_expecting(
            Class::RemoteDenied,
            "orchestrator",
            "payments",
            "invoice.pay",
            &invoice(300),
        )?;
    }
    println!("    OPA down: 3 of 3 calls denied (fail closed), none allowed");
    Ok(())
}

/// Every agent stops on SIGTERM with exit 0.
pub(crate) fn graceful_stop(run: &mut Run) -> anyhow::Result<()> {
    for name in super::mesh::AGENTS {
        run.mesh.stop_agent(name)?;
    }
    println!("    all agents stopped on SIGTERM with exit 0");
    Ok(())
}

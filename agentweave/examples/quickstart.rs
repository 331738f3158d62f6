//! The AgentWeave quickstart: three agents with dev identities talking over mTLS, with policy,
//! the guard, signed attestations and an audit trail. Embedded defaults only: the dev identity
//! server (the real SPIFFE Workload API on Unix sockets), Rego evaluated in-process, in-memory
//! tasks.
//!
//! ```text
//! cargo run --release -p agentweave --example quickstart
//! ```
//!
//! It exits 0 when every step behaves as described, and 1 (naming the step) otherwise.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agentweave::agent::{CallError, Capability, HandlerError, SecureAgent, agent_guard};
use agentweave_authz::audit::{AuditConfig, AuditLog, AuditSink};
use agentweave_authz::rego::{PolicySource, RegoConfig, RegoEnforcer};
use agentweave_guard::{PayloadType, PipelineConfig};
use agentweave_identity::dev::{DevIssuer, DevIssuerConfig, DevWorkloadApiServer};
use agentweave_identity::{SpiffeId, TrustDomain, WorkloadApiConfig, WorkloadApiProvider};
use serde_json::{Value, json};

/// Who may call whom, in both directions: the orchestrator may query search and pay invoices;
/// nothing else is allowed (default deny).
const POLICY: &str = r#"
package agentweave.authz

grants := {
  ["orchestrator", "search",   "search.query"],
  ["orchestrator", "payments", "invoice.pay"],
}

agent_name(id) := parts[4] if parts := split(id, "/")

default decision := {"allow": false, "reason": "default deny: no grant for this caller, callee and action"}

decision := {"allow": true, "reason": "granted by the quickstart role table"} if {
  [agent_name(input.caller_spiffe_id), agent_name(input.callee_spiffe_id), input.action] in grants
}
"#;

type Step = Result<(), String>;

struct Mesh {
    issuer: Arc<DevIssuer>,
    dir: tempfile::TempDir,
    servers: Vec<DevWorkloadApiServer>,
}

impl Mesh {
    fn id(name: &str) -> SpiffeId {
        let td = TrustDomain::new("example.org").unwrap_or_else(|e| unreachable!("constant: {e}"));
        SpiffeId::agent(&td, name, None)
            .unwrap_or_else(|e| unreachable!("constant agent names: {e}"))
    }

    fn audit_path(&self) -> std::path::PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// Serves `name`'s identity on its own Workload API socket and fetches it back through
    /// `WorkloadApiProvider`, exactly as an agent does with a SPIRE agent.
    async fn agent(&mut self, name: &str) -> Result<agentweave::agent::SecureAgentBuilder, String> {
        let id = Self::id(name);
        let socket = self.dir.path().join(format!("{name}.sock"));
        let server =
            DevWorkloadApiServer::start(self.issuer.clone(), std::slice::from_ref(&id), &socket)
                .await
                .map_err(|e| e.to_string())?;
        let provider = WorkloadApiProvider::connect(WorkloadApiConfig {
            endpoint: Some(server.endpoint()),
            initial_sync_timeout: Duration::from_secs(5),
        })
        .await
        .map_err(|e| e.to_string())?;
        self.servers.push(server);
        let policy =
            RegoEnforcer::new(RegoConfig::new(id.clone()).policy(PolicySource::Inline {
                name: "quickstart.rego".into(),
                rego: POLICY.into(),
            }))
            .map_err(|e| e.to_string())?;
        let audit = AuditLog::start(AuditSink::File(self.audit_path()), AuditConfig::default())
            .map_err(|e| e.to_string())?;
        Ok(SecureAgent::builder(id, name)
            .identity(Arc::new(provider))
            .policy(Arc::new(policy))
            .audit(audit))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => {
            println!("\nquickstart: every step behaved as expected");
            std::process::ExitCode::SUCCESS
        }
        Err(step) => {
            eprintln!("\nquickstart FAILED: {step}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run() -> Step {
    println!("AgentWeave quickstart: orchestrator, search and payments on their own mTLS ports\n");
    let trust_domain = TrustDomain::new("example.org").map_err(|e| e.to_string())?;
    let issuer =
        DevIssuer::start(trust_domain, DevIssuerConfig::default()).map_err(|e| e.to_string())?;
    let mut mesh =
        Mesh { issuer, dir: tempfile::tempdir().map_err(|e| e.to_string())?, servers: Vec::new() };

    let search = mesh
        .agent("search")
        .await?
        .description("Finds documents")
        .capability(Capability::new("search.query", |ctx| async move {
            let query = ctx.payload["q"].as_str().unwrap_or_default().to_owned();
            Ok::<_, HandlerError>(
                json!({"query": query, "results": ["spiffe.io", "a2a-protocol.org"]}),
            )
        }))
        .start()
        .await
        .map_err(|e| format!("search did not start: {e}"))?;

    let payments_id = Mesh::id("payments");
    let guard =
        agent_guard(&payments_id, PipelineConfig::default(), None).map_err(|e| e.to_string())?;
    let payments = mesh
        .agent("payments")
        .await?
        .description("Pays invoices whose totals add up")
        .guard(guard)
        .capability(
            Capability::new("invoice.pay", |ctx| async move {
                Ok::<_, HandlerError>(
                    json!({"paid": true, "invoice_total": ctx.payload["data"]["claimed_total"]}),
                )
            })
            .guard_payload(PayloadType::FinancialTransaction),
        )
        .start()
        .await
        .map_err(|e| format!("payments did not start: {e}"))?;

    let search_endpoint = search.endpoint().map_err(|e| e.to_string())?;
    let payments_endpoint = payments.endpoint().map_err(|e| e.to_string())?;
    let orchestrator = mesh
        .agent("orchestrator")
        .await?
        .peer(Mesh::id("search"), search_endpoint)
        .peer(payments_id.clone(), payments_endpoint)
        .start()
        .await
        .map_err(|e| format!("orchestrator did not start: {e}"))?;
    for agent in [&orchestrator, &search, &payments] {
        println!("  {:<42} listening on {}", agent.spiffe_id().as_str(), agent.local_addr());
    }

    println!("\n1. allowed: orchestrator -> search  search.query");
    let outcome = orchestrator
        .call(&Mesh::id("search"), "search.query", json!({"q": "secure agents"}))
        .await
        .map_err(|e| format!("step 1 should be allowed: {e}"))?;
    println!("   result: {}", outcome.output);

    println!("\n2. refused by policy: orchestrator -> payments  invoice.refund");
    match orchestrator.call(&payments_id, "invoice.refund", json!({"invoice": 7})).await {
        Err(CallError::Denied { reason, .. }) => {
            println!("   denied before any network traffic: {reason}");
        }
        other => return Err(format!("step 2 should be denied by outbound policy, got {other:?}")),
    }

    println!(
        "\n3. refused by the guard: an invoice whose total does not add up (100 + 200 != 350)"
    );
    match orchestrator.call(&payments_id, "invoice.pay", invoice(350)).await {
        Err(CallError::GuardBlocked { reason_code, .. }) => {
            println!("   blocked before the handler ran: reason_code={reason_code}");
        }
        other => {
            return Err(format!("step 3 should be blocked by the finance guard, got {other:?}"));
        }
    }

    println!("\n4. a correct invoice, with a signed attestation the caller verifies");
    let paid = orchestrator
        .call(&payments_id, "invoice.pay", invoice(300))
        .await
        .map_err(|e| format!("step 4 should pass: {e}"))?;
    let verdict = paid.verdict.clone().ok_or("step 4: the guarded call carried no verdict")?;
    println!("   result: {}  verdict: {} ({})", paid.output, verdict.status, verdict.reason_code);
    let claims = orchestrator
        .verify_attestation(&paid)
        .await
        .map_err(|e| format!("step 4: the attestation did not verify: {e}"))?;
    println!("   attestation verified: iss={} sub={}", claims.iss, claims.sub);

    orchestrator.stop().await;
    payments.stop().await;
    search.stop().await;
    for server in mesh.servers.drain(..) {
        let _ = server.shutdown().await;
    }

    println!("\n5. the audit trail (one record per decision):");
    print_audit(&mesh.audit_path())?;
    Ok(())
}

fn invoice(total: i64) -> Value {
    json!({"data": {"claimed_total": total, "line_items": [{"amount": 100}, {"amount": 200}]}})
}

fn print_audit(path: &Path) -> Step {
    let text = std::fs::read_to_string(path).map_err(|e| format!("audit file: {e}"))?;
    let mut count = 0;
    for line in text.lines() {
        let record: Value =
            serde_json::from_str(line).map_err(|e| format!("audit line is not JSON: {e}"))?;
        count += 1;
        let short =
            |v: &Value| v.as_str().and_then(|s| s.rsplit('/').next()).unwrap_or("-").to_owned();
        if record["event"] == "guard" {
            let verdict = if record["allowed"] == true { "allow" } else { "deny" };
            println!(
                "   {:<9} {:>12} -> {:<12} {:<15} {:<5} guard verdict {} ({})",
                "guard",
                short(&record["caller"]),
                short(&record["callee"]),
                str(&record["capability"]),
                verdict,
                str(&record["verdict"]),
                str(&record["reason_code"])
            );
        } else {
            let verdict = if record["allowed"] == true { "allow" } else { "deny" };
            println!(
                "   {:<9} {:>12} -> {:<12} {:<15} {:<5} {}",
                str(&record["direction"]),
                short(&record["caller"]),
                short(&record["callee"]),
                str(&record["action"]),
                verdict,
                str(&record["reason"])
            );
        }
    }
    if count == 0 {
        return Err("the audit trail is empty".into());
    }
    Ok(())
}

fn str(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

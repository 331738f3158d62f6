//! Loads the starter policy library, audits to stdout, and prints a few decisions.
//!
//! `cargo run -p agentweave-authz --example starter`

use std::sync::Arc;

use agentweave_authz::audit::{AuditConfig, AuditLog, AuditSink, AuditedEnforcer};
use agentweave_authz::rego::{RegoConfig, RegoEnforcer};
use agentweave_authz::{AuthzContext, PolicyEnforcer, SpiffeId, starter};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let me = SpiffeId::parse("spiffe://corp.example/agent/index")?;
    let mut config = RegoConfig::new(me.clone()).data(starter::example_data()?);
    for policy in starter::all_policies() {
        config = config.policy(policy);
    }
    let rego = RegoEnforcer::new(config)?;
    println!("policy {}", rego.policy_id());
    let log = AuditLog::start(AuditSink::Stdout, AuditConfig::default())?;
    let enforcer: Arc<dyn PolicyEnforcer> = Arc::new(AuditedEnforcer::new(rego, log.clone()));

    let inbound = [
        ("spiffe://corp.example/agent/search", "search.query"),
        ("spiffe://corp.example/agent/search", "ledger.post"),
        ("spiffe://corp.example/agent/orchestrator/prod", "reindex"),
        ("spiffe://partner.example/agent/broker", "search.query"),
        ("spiffe://stranger.example/agent/broker", "search.query"),
    ];
    for (caller, action) in inbound {
        let ctx =
            AuthzContext::for_method("SendMessage").with_capability(action).with_message_id("m-1");
        let d = enforcer.check_inbound(&SpiffeId::parse(caller)?, action, ctx).await;
        println!("inbound  {caller:<50} {action:<14} -> {} ({})", verdict(d.allowed), d.reason);
    }
    let partner = SpiffeId::parse("spiffe://partner.example/agent/broker")?;
    let d = enforcer
        .check_outbound(&me, &partner, "quote.request", AuthzContext::for_method("SendMessage"))
        .await;
    println!(
        "outbound {partner:<50} {:<14} -> {} ({})",
        "quote.request",
        verdict(d.allowed),
        d.reason
    );
    log.flush().await?;
    Ok(())
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "ALLOW" } else { "DENY" }
}

//! Starts the dev issuer and its SPIFFE Workload API server on a Unix socket, then fetches an
//! X.509-SVID through `WorkloadApiProvider` exactly as a production agent does with SPIRE, and
//! prints what it got.
//!
//! ```text
//! cargo run -p agentweave-identity --example dev_identity
//! cargo run -p agentweave-identity --example dev_identity -- --serve   # keep serving; Ctrl-C stops
//! ```

use std::time::{Duration, SystemTime};

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig, DevWorkloadApiServer};
use agentweave_identity::{
    IdentityProvider, SpiffeId, TrustDomain, WorkloadApiConfig, WorkloadApiProvider,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "--serve");
    let trust_domain = TrustDomain::new("example.org")?;
    let agent = SpiffeId::agent(&trust_domain, "search", Some("dev"))?;
    let issuer = DevIssuer::start(trust_domain, DevIssuerConfig::default())?;
    let socket = std::env::temp_dir().join(format!("agentweave-dev-{}.sock", std::process::id()));
    let server = DevWorkloadApiServer::start(issuer, std::slice::from_ref(&agent), &socket).await?;
    println!("dev Workload API: SPIFFE_ENDPOINT_SOCKET={}", server.endpoint());

    let provider = WorkloadApiProvider::connect(WorkloadApiConfig {
        endpoint: Some(server.endpoint()),
        initial_sync_timeout: Duration::from_secs(5),
    })
    .await?;
    let identity = provider.current();
    let svid = &identity.svid;
    let remaining = svid.not_after().duration_since(SystemTime::now()).unwrap_or_default();
    println!("fetched X.509-SVID over the Workload API:");
    println!("  spiffe id : {}", svid.spiffe_id());
    println!("  serial    : {}", svid.serial_hex());
    println!("  expires in: {} s (renewed at half-life)", remaining.as_secs());
    println!(
        "  bundles   : {}",
        identity.bundles.trust_domains().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
    );
    println!("{}", svid.chain_pem());

    if serve {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c().await?;
    }
    provider.shutdown().await;
    server.shutdown().await?;
    Ok(())
}

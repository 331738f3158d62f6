//! `agentweave identity show`: what the Workload API gives this workload.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use agentweave_identity::{IdentityProvider, WorkloadApiConfig, WorkloadApiProvider};

/// `identity` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(super) enum Command {
    /// Fetch this workload's X.509-SVID from the Workload API and print it.
    Show {
        /// Workload API endpoint. Default: `SPIFFE_ENDPOINT_SOCKET`.
        #[arg(long)]
        endpoint: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
        /// Also print the certificate chain as PEM.
        #[arg(long)]
        pem: bool,
    },
}

pub(super) async fn run(command: Command) -> ExitCode {
    let Command::Show { endpoint, timeout_secs, pem } = command;
    let config =
        WorkloadApiConfig { endpoint, initial_sync_timeout: Duration::from_secs(timeout_secs) };
    let provider = match WorkloadApiProvider::connect(config).await {
        Ok(provider) => provider,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(super::EXIT_FAULT);
        }
    };
    let identity = provider.current();
    let svid = &identity.svid;
    let expires_in = svid.not_after().duration_since(SystemTime::now()).unwrap_or_default();
    println!("spiffe_id: {}", svid.spiffe_id());
    println!("serial: {}", svid.serial_hex());
    println!("expires_in_secs: {}", expires_in.as_secs());
    let domains: Vec<String> = identity.bundles.trust_domains().map(ToString::to_string).collect();
    println!("trust_bundles: {}", domains.join(","));
    if pem {
        print!("{}", svid.chain_pem());
    }
    provider.shutdown().await;
    ExitCode::SUCCESS
}

//! `agentweave dev identity-server`: the dev issuer behind the real SPIFFE Workload API, one Unix
//! socket per SPIFFE ID (as each workload sees only its own identity under SPIRE).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig, DevWorkloadApiServer};
use agentweave_identity::{SpiffeId, TrustDomain};

/// `dev` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(super) enum Command {
    /// Serve dev SVIDs over the SPIFFE Workload API until interrupted.
    IdentityServer {
        /// The trust domain of the dev CA.
        #[arg(long, default_value = "example.org")]
        trust_domain: String,
        /// `SPIFFE_ID=SOCKET_PATH`, repeatable: serve that identity on that socket.
        #[arg(long = "serve", value_name = "SPIFFE_ID=SOCKET", required = true)]
        serve: Vec<String>,
        /// SVID lifetime; SVIDs renew at half of it.
        #[arg(long, default_value_t = 3600)]
        svid_ttl_secs: u64,
    },
}

pub(super) async fn run(command: Command) -> ExitCode {
    let Command::IdentityServer { trust_domain, serve, svid_ttl_secs } = command;
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(super::EXIT_USAGE)
    };
    let trust_domain = match TrustDomain::new(&trust_domain) {
        Ok(td) => td,
        Err(e) => return usage(format!("--trust-domain {trust_domain:?}: {e}")),
    };
    let mut wanted = Vec::new();
    for entry in &serve {
        let Some((id, socket)) = entry.split_once('=') else {
            return usage(format!("--serve {entry:?}: expected SPIFFE_ID=SOCKET_PATH"));
        };
        match SpiffeId::parse(id) {
            Ok(id) if id.is_member_of(&trust_domain) => wanted.push((id, PathBuf::from(socket))),
            Ok(id) => return usage(format!("--serve: {id} is not in trust domain {trust_domain}")),
            Err(e) => return usage(format!("--serve {id:?}: {e}")),
        }
    }
    let config = DevIssuerConfig {
        svid_ttl: Duration::from_secs(svid_ttl_secs.max(2)),
        ..DevIssuerConfig::default()
    };
    let issuer = match DevIssuer::start(trust_domain, config) {
        Ok(issuer) => issuer,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_FAULT);
        }
    };
    let mut servers = Vec::new();
    for (id, socket) in wanted {
        match DevWorkloadApiServer::start(issuer.clone(), std::slice::from_ref(&id), &socket).await
        {
            Ok(server) => {
                println!("{id} SPIFFE_ENDPOINT_SOCKET={}", server.endpoint());
                servers.push(server);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::EXIT_FAULT);
            }
        }
    }
    println!("dev identity server ready (Ctrl-C stops)");
    let _ = tokio::signal::ctrl_c().await;
    for server in servers {
        let _ = server.shutdown().await;
    }
    ExitCode::SUCCESS
}

//! `agentweave card <config>`: prints the agent card the config would serve.
//!
//! The card is the one the agent really builds: the agent is started on `127.0.0.1:0` (no
//! operations port, no dev socket, so a running `serve` is not disturbed) with the config's
//! identity and capabilities, its card printed, and stopped. The card's `url` is
//! `server.public_url`, or `https://<server.listen>` as `serve` would publish it. Without
//! `guard.signing_key`, the attestation key in the card is generated for this run only.

use std::path::PathBuf;
use std::process::ExitCode;

use super::input::{ephemeral, fail, load_config};
use super::{EXIT_FAULT, EXIT_USAGE, LogFormat};
use crate::agent::SecureAgent;
use crate::handlers::{AgentSlot, capabilities};

/// Arguments of `card`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The YAML config file.
    config: PathBuf,
}

pub(super) async fn run(args: Args) -> ExitCode {
    let mut config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    super::init_logs(LogFormat::of(&config));
    if config.server.public_url.is_none() {
        config.server.public_url = Some(format!("https://{}", config.server.listen));
    }
    ephemeral(&mut config);
    let capabilities = match capabilities(&config, &AgentSlot::default()) {
        Ok(capabilities) => capabilities,
        Err(e) => return fail(EXIT_USAGE, format!("{}: {e}", args.config.display())),
    };
    let agent = match SecureAgent::from_config(&config, capabilities).await {
        Ok(agent) => agent,
        Err(e) => return fail(EXIT_FAULT, format!("the agent did not start: {e}")),
    };
    let text = serde_json::to_string_pretty(agent.card());
    agent.stop().await;
    match text {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(EXIT_FAULT, format!("cannot print the agent card: {e}")),
    }
}

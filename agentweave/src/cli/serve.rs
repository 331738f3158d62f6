//! `agentweave serve <config>`: runs the agent a config file describes until SIGINT or SIGTERM.
//!
//! When the agent is listening, one line goes to standard output for harnesses to wait for:
//! `{"event":"ready","spiffe_id":"spiffe://…","listen":"127.0.0.1:8443"}`. Audit records (with
//! `audit.sink: stdout`) follow on the same stream, one JSON object a line; logs go to standard
//! error (JSON lines with `operations.json_logs: true`). A signal stops the agent gracefully
//! (in-flight requests finish, the audit log is flushed) and the process exits 0.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::input::{fail, load_config};
use super::{EXIT_FAULT, EXIT_USAGE, LogFormat};
use crate::agent::SecureAgent;
use crate::handlers::{AgentSlot, capabilities};

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The YAML config file; its `capabilities:` section says what is served.
    config: PathBuf,
}

pub(super) async fn run(args: Args) -> ExitCode {
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    super::init_logs(LogFormat::of(&config));
    // Installed before the ready line, so a signal sent as soon as it is read is handled.
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => return fail(EXIT_FAULT, format!("cannot install signal handlers: {e}")),
    };
    let slot = AgentSlot::default();
    let capabilities = match capabilities(&config, &slot) {
        Ok(capabilities) => capabilities,
        Err(e) => return fail(EXIT_USAGE, format!("{}: {e}", args.config.display())),
    };
    let agent = match SecureAgent::from_config(&config, capabilities).await {
        Ok(agent) => agent,
        Err(e) => return fail(EXIT_FAULT, format!("the agent did not start: {e}")),
    };
    slot.attach(&agent);
    let ready = serde_json::json!({
        "event": "ready",
        "spiffe_id": agent.spiffe_id().as_str(),
        "listen": agent.local_addr().to_string(),
    });
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{ready}").and_then(|()| stdout.flush()).is_err() {
        agent.stop().await;
        return fail(EXIT_FAULT, "cannot write the ready line to standard output");
    }
    drop(stdout);
    let signal = signals.next().await;
    tracing::info!(signal, "stopping");
    agent.stop().await;
    ExitCode::SUCCESS
}

/// SIGINT and SIGTERM, registered eagerly.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// Waits for the first signal and names it.
    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

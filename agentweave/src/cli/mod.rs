//! The `agentweave` CLI. Exit codes are part of the interface, so that scripts can rely on them:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success (the check passed, the config is valid, the call returned a result, `serve` stopped on a signal) |
//! | 1 | the check ran and said no (invalid config for `validate`, policy denied locally or remotely, guard blocked, attestation invalid) |
//! | 2 | usage error (bad arguments, unparsable JSON argument, invalid config given to `serve`/`call`/`card`, call target not in `peers:`) |
//! | 3 | fault (unreadable file, unreachable peer, circuit open, timeout, remote error, engine failure, agent did not start) |
//!
//! Commands print results on standard output (JSON where a program reads them) and errors on
//! standard error, prefixed `error:` for faults and usage and `refused:` / `invalid:` for a no.

mod attest;
mod authz;
mod call;
mod card;
mod dev;
mod guard;
mod identity;
mod input;
mod serve;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::AgentConfig;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the check ran and said no.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: bad arguments (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a fault prevented the check.
pub const EXIT_FAULT: u8 = 3;

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (check passed, config valid, call answered, serve stopped by a signal)
  1  the answer is no (denied locally or remotely, guard blocked, attestation or config invalid)
  2  usage error (bad arguments or JSON, invalid config for serve/call/card, unknown peer)
  3  fault (unreadable file, unreachable peer, circuit open, timeout, remote error)";

#[derive(Parser, Debug)]
#[command(
    name = "agentweave",
    version,
    about = "Secure agent-to-agent communication: identity, mTLS, policy, A2A, guard",
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the agent a config describes until SIGINT/SIGTERM; prints a JSON ready line.
    #[command(after_help = EXIT_CODES_HELP)]
    Serve(serve::Args),
    /// Call a capability of a peer with the config's identity; prints the result JSON (with
    /// --stream, one JSON line per task event as it arrives).
    #[command(after_help = EXIT_CODES_HELP)]
    Call(call::Args),
    /// Print the agent card a config would serve.
    Card(card::Args),
    /// Validate a config file (every error names its key path).
    Validate(validate::Args),
    /// Workload identity commands.
    #[command(subcommand)]
    Identity(identity::Command),
    /// Policy commands.
    #[command(subcommand)]
    Authz(authz::Command),
    /// Guard commands.
    #[command(subcommand)]
    Guard(guard::Command),
    /// Attestation commands.
    #[command(subcommand)]
    Attest(attest::Command),
    /// Development helpers (never for production).
    #[command(subcommand)]
    Dev(dev::Command),
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::from(EXIT_OK)
            };
        }
    };
    // Commands that run an agent choose the log format from their config once it is loaded.
    if !matches!(cli.command, Command::Serve(_) | Command::Call(_) | Command::Card(_)) {
        init_logs(LogFormat::Text);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAULT);
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Call(args) => call::run(args).await,
            Command::Card(args) => card::run(args).await,
            Command::Validate(args) => validate::run(args),
            Command::Identity(command) => identity::run(command).await,
            Command::Authz(command) => authz::run(command),
            Command::Guard(command) => guard::run(command),
            Command::Attest(command) => attest::run(command),
            Command::Dev(command) => dev::run(command).await,
        }
    })
}

/// How logs are written (always to standard error, filtered by `RUST_LOG`, default `warn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line (`operations.json_logs: true`), for log collectors.
    Json,
}

impl LogFormat {
    fn of(config: &AgentConfig) -> Self {
        if config.operations.json_logs { Self::Json } else { Self::Text }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

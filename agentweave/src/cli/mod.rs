//! The `agentweave` CLI. Exit codes are part of the interface, so that scripts can rely on them:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success (the check passed, the config is valid, the call was allowed) |
//! | 1 | the check ran and said no (invalid config, denied, blocked) |
//! | 2 | usage error (bad arguments) |
//! | 3 | fault (unreachable endpoint, unreadable file, engine failure) |

mod authz;
mod dev;
mod guard;
mod identity;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: the check ran and said no.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: bad arguments (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a fault prevented the check.
pub const EXIT_FAULT: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "agentweave",
    version,
    about = "Secure agent-to-agent communication: identity, mTLS, policy, A2A, guard"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
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
            return if e.use_stderr() { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS };
        }
    };
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAULT);
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Validate(args) => validate::run(args),
            Command::Identity(command) => identity::run(command).await,
            Command::Authz(command) => authz::run(command),
            Command::Guard(command) => guard::run(command),
            Command::Dev(command) => dev::run(command).await,
        }
    })
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

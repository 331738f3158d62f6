//! `agentweave authz test`: run policy case files (the `agentweave-authz` case format).

use std::path::PathBuf;
use std::process::ExitCode;

/// `authz` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(super) enum Command {
    /// Run case files against the policies they name; exit 1 when any case fails.
    Test {
        /// Case files (JSON; see the agentweave-authz README for the format).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub(super) fn run(command: Command) -> ExitCode {
    let Command::Test { files } = command;
    let mut failed = false;
    for file in files {
        match agentweave_authz::cases::run_case_file(&file) {
            Ok(report) => {
                print!("{report}");
                failed |= !report.passed();
            }
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                return ExitCode::from(super::EXIT_FAULT);
            }
        }
    }
    if failed { ExitCode::from(super::EXIT_REFUSED) } else { ExitCode::SUCCESS }
}

//! `agentweave guard replay`: guard corpus lines in, one JSON verdict per line out.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use agentweave_attest::Canonicalization;

/// `guard` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(super) enum Command {
    /// Replay corpus lines (the `guard-corpus/*.jsonl` format) through fresh pipelines and print
    /// `{id, verdict, engine, reason_code, jwt}` per line.
    Replay {
        /// The corpus file; `-` or absent reads standard input.
        file: Option<PathBuf>,
        /// Hash payloads as the Python reference does (`json.dumps(sort_keys=True)`) instead of
        /// RFC 8785, so that `payload_hash` can be compared with the reference's.
        #[arg(long)]
        python_json: bool,
    },
}

pub(super) fn run(command: Command) -> ExitCode {
    let Command::Replay { file, python_json } = command;
    let canonicalization =
        if python_json { Canonicalization::PythonJson } else { Canonicalization::Jcs };
    let input: Box<dyn BufRead> = match file {
        Some(path) if path.as_os_str() != "-" => match std::fs::File::open(&path) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(super::EXIT_FAULT);
            }
        },
        _ => Box::new(BufReader::new(std::io::stdin())),
    };
    match agentweave_guard::replay::replay_stream(input, std::io::stdout().lock(), canonicalization)
    {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAULT)
        }
    }
}

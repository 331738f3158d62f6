//! `agentweave-guard-replay`: replays guard corpus lines and prints one JSON verdict per
//! line (`{id, verdict, engine, reason_code, jwt}`), for cross-checking against the
//! corpus targets or another implementation.
//!
//! Usage: `agentweave-guard-replay [--python-json] [FILE]` (stdin when FILE is absent
//! or `-`). See the crate README.

use agentweave_attest::Canonicalization;
use agentweave_guard::replay::replay_stream;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentweave-guard-replay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut canon = Canonicalization::Jcs;
    let mut path: Option<String> = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--python-json" => canon = Canonicalization::PythonJson,
            "--jcs" => canon = Canonicalization::Jcs,
            "-h" | "--help" => {
                println!("usage: agentweave-guard-replay [--python-json|--jcs] [FILE|-]");
                return Ok(());
            }
            other if path.is_none() => path = Some(other.to_owned()),
            other => return Err(format!("unexpected argument {other:?}").into()),
        }
    }
    let reader: Box<dyn BufRead> = match path.as_deref() {
        None | Some("-") => Box::new(BufReader::new(std::io::stdin())),
        Some(p) => {
            Box::new(BufReader::new(std::fs::File::open(p).map_err(|e| format!("{p}: {e}"))?))
        }
    };
    replay_stream(reader, std::io::stdout().lock(), canon)?;
    Ok(())
}

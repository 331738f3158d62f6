//! `agentweave-guard-replay`: replays guard corpus lines and prints one JSON verdict per
//! line (`{id, verdict, engine, reason_code, jwt}`), for cross-checking against the
//! corpus targets or another implementation.
//!
//! Usage: `agentweave-guard-replay [--python-json] [FILE]` (stdin when FILE is absent
//! or `-`). See the crate README.

use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::sync::Arc;

use agentweave_attest::{Attestor, AttestorConfig, Canonicalization, Es256Attestor, SigningKey};
use agentweave_guard::PipelineConfig;
use agentweave_guard::replay::replay_line_or_error;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentweave-guard-replay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
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
    let config = AttestorConfig { canonicalization: canon, ..AttestorConfig::default() };
    let key = SigningKey::generate(&config.issuer)?;
    let attestor: Arc<dyn Attestor> = Arc::new(Es256Attestor::new(config, key)?);
    let base = PipelineConfig::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result = replay_line_or_error(&line, &attestor, &base);
        serde_json::to_writer(&mut out, &result)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

//! `agentweave guard check`: one payload through the guard pipeline an agent runs;
//! `agentweave guard replay`: guard corpus lines in, one JSON verdict per line out.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use agentweave_attest::Canonicalization;
use agentweave_guard::{PayloadType, PipelineConfig, VerdictStatus};
use agentweave_identity::SpiffeId;

use super::input::{fail, json_arg};
use super::{EXIT_FAULT, EXIT_REFUSED, EXIT_USAGE};
use crate::agent::agent_guard;

/// `guard` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(super) enum Command {
    /// Run one payload through the guard pipeline an agent uses for a guarded capability (with
    /// a signing key generated for this run) and print the verdict JSON. Exit 0 when the
    /// payload passes (`forwarded`, `heuristic_pass`), 1 when it does not (`blocked`,
    /// `rejected`, `unverifiable`), 3 on a guard fault.
    Check {
        /// The payload type: `financial_transaction` (or `finance`), `logic_assertion`
        /// (`logic`), `code_execution` (`code`), `data_query`, `general`.
        #[arg(long = "type", value_name = "PAYLOAD_TYPE")]
        payload_type: String,
        /// The payload: a JSON object, `@file`, or `@-` for standard input.
        payload: String,
        /// The sender recorded in the verdict and its attestation.
        #[arg(long, default_value = "spiffe://agentweave.local/agent/cli-sender")]
        sender: String,
        /// The receiver, which is also the attestation issuer.
        #[arg(long, default_value = "spiffe://agentweave.local/agent/cli-guard")]
        receiver: String,
    },
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
    match command {
        Command::Check { payload_type, payload, sender, receiver } => {
            check(&payload_type, &payload, &sender, &receiver)
        }
        Command::Replay { file, python_json } => replay(file, python_json),
    }
}

/// The payload type named on the command line: the guard's wire names, or the short names the
/// config's `guard_payload` accepts.
fn payload_type(name: &str) -> Option<PayloadType> {
    match name {
        "finance" => Some(PayloadType::FinancialTransaction),
        "logic" => Some(PayloadType::LogicAssertion),
        "code" => Some(PayloadType::CodeExecution),
        other => PayloadType::from_wire(other),
    }
}

fn check(type_name: &str, payload: &str, sender: &str, receiver: &str) -> ExitCode {
    let Some(payload_type) = payload_type(type_name) else {
        return fail(
            EXIT_USAGE,
            format!(
                "--type {type_name:?} is not a payload type (financial_transaction, \
                 logic_assertion, code_execution, data_query, general)"
            ),
        );
    };
    let payload = match json_arg(payload, "the payload") {
        Ok(payload) => payload,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let (sender, receiver) = match (SpiffeId::parse(sender), SpiffeId::parse(receiver)) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(e), _) => return fail(EXIT_USAGE, format!("--sender {sender:?}: {e}")),
        (_, Err(e)) => return fail(EXIT_USAGE, format!("--receiver {receiver:?}: {e}")),
    };
    let pipeline = match agent_guard(&receiver, PipelineConfig::default(), None) {
        Ok(pipeline) => pipeline,
        Err(e) => return fail(EXIT_FAULT, e),
    };
    let message = serde_json::json!({
        "sender_agent_id": sender.as_str(),
        "receiver_agent_id": receiver.as_str(),
        "payload_type": payload_type.as_str(),
        "payload": payload,
    });
    let body = message.to_string();
    let verdict = match pipeline.intercept_json(body.as_bytes()) {
        Ok(verdict) => verdict,
        Err(e) => return fail(EXIT_FAULT, format!("guard fault: {e}")),
    };
    match serde_json::to_string(&verdict) {
        Ok(text) => println!("{text}"),
        Err(e) => return fail(EXIT_FAULT, format!("cannot print the verdict: {e}")),
    }
    if matches!(verdict.status, VerdictStatus::Forwarded | VerdictStatus::HeuristicPass) {
        ExitCode::SUCCESS
    } else {
        eprintln!("refused: {} ({})", verdict.status.as_str(), verdict.reason_code);
        ExitCode::from(EXIT_REFUSED)
    }
}

fn replay(file: Option<PathBuf>, python_json: bool) -> ExitCode {
    let canonicalization =
        if python_json { Canonicalization::PythonJson } else { Canonicalization::Jcs };
    let input: Box<dyn BufRead> = match file {
        Some(path) if path.as_os_str() != "-" => match std::fs::File::open(&path) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(EXIT_FAULT);
            }
        },
        _ => Box::new(BufReader::new(std::io::stdin())),
    };
    match agentweave_guard::replay::replay_stream(input, std::io::stdout().lock(), canonicalization)
    {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAULT)
        }
    }
}

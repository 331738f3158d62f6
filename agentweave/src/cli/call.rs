//! `agentweave call --config <file> <target> <capability> <payload>`: one call from the config's
//! identity, as a script would make it.
//!
//! The config's identity, policy, audit, transport and peers are used as `serve` would use them,
//! but the agent listens on `127.0.0.1:0` with no operations port, so the same file can be
//! `serve`d at the same time. Standard output carries only the result (one JSON line); with
//! `audit.sink: stdout` this process's audit records go to standard error instead.

use std::path::PathBuf;
use std::process::ExitCode;

use agentweave_identity::SpiffeId;

use super::input::{ephemeral, fail, json_arg, load_config};
use super::{EXIT_FAULT, EXIT_REFUSED, EXIT_USAGE, LogFormat};
use crate::agent::{CallError, SecureAgent};
use crate::config::AuditSink;

/// Arguments of `call`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The caller's config file (identity, policy, peers).
    #[arg(long)]
    config: PathBuf,
    /// The agent called (it must be in the config's `peers:`).
    target: String,
    /// The capability invoked.
    capability: String,
    /// The payload: JSON, `@file`, or `@-` for standard input.
    payload: String,
    /// Verify the target's signed guard verdict (with the keys its agent card publishes) before
    /// printing the result; the verified claims go to standard error. A call without an
    /// attestation, or with one that does not verify, exits 1 and prints no result.
    #[arg(long)]
    verify_attestation: bool,
}

pub(super) async fn run(args: Args) -> ExitCode {
    let target = match SpiffeId::parse(&args.target) {
        Ok(target) => target,
        Err(e) => return fail(EXIT_USAGE, format!("target {:?}: {e}", args.target)),
    };
    let payload = match json_arg(&args.payload, "the payload") {
        Ok(payload) => payload,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let mut config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    super::init_logs(LogFormat::of(&config));
    ephemeral(&mut config);
    // A client serves nothing; its capabilities (and their forward targets) do not matter.
    config.capabilities.clear();
    if config.audit.sink == AuditSink::Stdout && cfg!(unix) {
        config.audit.sink = AuditSink::File;
        config.audit.path = Some(PathBuf::from("/dev/stderr"));
    }
    if !config.peers.iter().any(|p| p.spiffe_id == target) {
        return fail(
            EXIT_USAGE,
            format!(
                "{target} is not in `peers:` of {}: no endpoint to call",
                args.config.display()
            ),
        );
    }
    let agent = match SecureAgent::from_config(&config, Vec::new()).await {
        Ok(agent) => agent,
        Err(e) => return fail(EXIT_FAULT, format!("the caller agent did not start: {e}")),
    };
    let code = match agent.call(&target, &args.capability, payload).await {
        Ok(outcome) => {
            let verified = if args.verify_attestation {
                match agent.verify_attestation(&outcome).await {
                    Ok(claims) => {
                        let line = serde_json::json!({"attestation": "verified", "claims": claims});
                        eprintln!("{line}");
                        true
                    }
                    Err(e) => {
                        eprintln!("refused: attestation not verified: {e}");
                        false
                    }
                }
            } else {
                true
            };
            if verified {
                println!("{}", outcome.output);
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_REFUSED)
            }
        }
        Err(error) => {
            let code = exit_code(&error);
            let label = if code == EXIT_REFUSED { "refused" } else { "error" };
            eprintln!("{label}: {error}");
            ExitCode::from(code)
        }
    };
    agent.stop().await;
    code
}

/// The exit code of a failed call: 1 when someone said no (our policy, the target's policy, the
/// target's guard), 2 for a target we have no endpoint for, 3 for every fault.
pub(super) fn exit_code(error: &CallError) -> u8 {
    match error {
        CallError::Denied { .. }
        | CallError::RemoteDenied { .. }
        | CallError::GuardBlocked { .. } => EXIT_REFUSED,
        CallError::UnknownPeer(_) => EXIT_USAGE,
        _ => EXIT_FAULT,
    }
}

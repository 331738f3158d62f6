//! `agentweave call --config <file> <target> <capability> <payload>`: one call from the config's
//! identity, as a script would make it.
//!
//! The config's identity, policy, audit, transport and peers are used as `serve` would use them,
//! but the agent listens on `127.0.0.1:0` with no operations port, so the same file can be
//! `serve`d at the same time. Standard output carries only the result (one JSON line); with
//! `audit.sink: stdout` this process's audit records go to standard error instead.
//!
//! With `--stream` the call is an A2A `SendStreamingMessage` and standard output carries one
//! JSON line per event as it arrives (see [`event_line`]); the exit codes are those of a plain
//! call.

use std::path::PathBuf;
use std::process::ExitCode;

use agentweave_identity::SpiffeId;

use super::input::{ephemeral, fail, json_arg, load_config};
use super::{EXIT_FAULT, EXIT_REFUSED, EXIT_USAGE, LogFormat};
use agentweave_a2a::types::{Part, TaskState};
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::agent::{CallError, CallOutcome, SecureAgent, StreamEvent};
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
    /// Stream the task's events (A2A SendStreamingMessage): one JSON line per event on standard
    /// output, in order, each with an "event" field: "task" (created, TASK_STATE_SUBMITTED),
    /// "status" (TASK_STATE_WORKING, with the handler's "progress"), "artifact", and last
    /// "completed" (with "output" and "verdict"). A refusal or fault ends the stream with no
    /// further line and the same message and exit code as a plain call.
    #[arg(long)]
    stream: bool,
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
    let code = if args.stream {
        stream(&agent, &target, &args.capability, payload, args.verify_attestation).await
    } else {
        match agent.call(&target, &args.capability, payload).await {
            Ok(outcome) => {
                if verified(&agent, &outcome, args.verify_attestation).await {
                    println!("{}", outcome.output);
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_REFUSED)
                }
            }
            Err(error) => failed(&error),
        }
    };
    agent.stop().await;
    code
}

/// The streamed call: each event printed as it arrives.
async fn stream(
    agent: &SecureAgent,
    target: &SpiffeId,
    capability: &str,
    payload: Value,
    verify_attestation: bool,
) -> ExitCode {
    let mut events = match agent.call_stream(target, capability, payload).await {
        Ok(events) => events,
        Err(error) => return failed(&error),
    };
    while let Some(event) = events.next().await {
        match event {
            Ok(StreamEvent::Completed(outcome)) => {
                if !verified(agent, &outcome, verify_attestation).await {
                    return ExitCode::from(EXIT_REFUSED);
                }
                println!("{}", event_line(&StreamEvent::Completed(outcome)));
                return ExitCode::SUCCESS;
            }
            Ok(event) => println!("{}", event_line(&event)),
            Err(error) => return failed(&error),
        }
    }
    // A CallStream always ends with Completed or an error; anything else is a fault.
    eprintln!("error: the stream of {target} ended without a final event");
    ExitCode::from(EXIT_FAULT)
}

/// One stream event as a JSON line:
///
/// | `event` | other fields |
/// | --- | --- |
/// | `task` | `task_id`, `state` |
/// | `status` | `task_id`, `state`, `progress` (the status message's data part, or null), `text` |
/// | `artifact` | `task_id`, `artifact_id`, `name`, `data` (its first data part, or null), `append`, `last_chunk` |
/// | `completed` | `task_id`, `state`, `output`, `verdict` (null when the capability is not guarded), `trace_id` |
pub(super) fn event_line(event: &StreamEvent) -> Value {
    let data =
        |parts: &[Part]| parts.iter().find_map(Part::as_data).cloned().unwrap_or(Value::Null);
    match event {
        StreamEvent::Task(task) => json!({
            "event": "task", "task_id": task.id, "state": task.status.state.to_string(),
        }),
        StreamEvent::Status(update) => {
            let message = update.status.message.as_ref();
            json!({
                "event": "status",
                "task_id": update.task_id,
                "state": update.status.state.to_string(),
                "progress": message.map_or(Value::Null, |m| data(&m.parts)),
                "text": message.map(|m| m.text()).unwrap_or_default(),
            })
        }
        StreamEvent::Artifact(update) => json!({
            "event": "artifact",
            "task_id": update.task_id,
            "artifact_id": update.artifact.artifact_id,
            "name": update.artifact.name,
            "data": data(&update.artifact.parts),
            "append": update.append,
            "last_chunk": update.last_chunk,
        }),
        StreamEvent::Completed(outcome) => json!({
            "event": "completed",
            "task_id": outcome.task_id,
            "state": TaskState::Completed.to_string(),
            "output": outcome.output,
            "verdict": outcome.verdict,
            "trace_id": outcome.trace_id,
        }),
    }
}

/// Verifies the outcome's attestation when asked (the claims go to standard error); false when
/// it was asked and did not verify.
async fn verified(agent: &SecureAgent, outcome: &CallOutcome, wanted: bool) -> bool {
    if !wanted {
        return true;
    }
    match agent.verify_attestation(outcome).await {
        Ok(claims) => {
            let line = json!({"attestation": "verified", "claims": claims});
            eprintln!("{line}");
            true
        }
        Err(e) => {
            eprintln!("refused: attestation not verified: {e}");
            false
        }
    }
}

/// Prints a failed call's message and returns its exit code.
fn failed(error: &CallError) -> ExitCode {
    let code = exit_code(error);
    let label = if code == EXIT_REFUSED { "refused" } else { "error" };
    eprintln!("{label}: {error}");
    ExitCode::from(code)
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

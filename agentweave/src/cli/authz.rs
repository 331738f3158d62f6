//! `agentweave authz test`: run policy case files (the `agentweave-authz` case format);
//! `agentweave authz check`: one decision for one input.

use std::path::PathBuf;
use std::process::ExitCode;

use agentweave_authz::rego::{DEFAULT_ENTRYPOINT, DataSource, PolicySet, PolicySource};

use super::input::{fail, json_arg};
use super::{EXIT_FAULT, EXIT_REFUSED, EXIT_USAGE};

/// `authz` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(super) enum Command {
    /// Run case files against the policies they name; exit 1 when any case fails.
    Test {
        /// Case files (JSON; see the agentweave-authz README for the format).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Evaluate the policy on one input and print `{"allow", "reason", "policy_id"}`; exit 0
    /// when allowed, 1 when denied, 3 when the policy cannot be loaded or evaluated.
    Check {
        /// A `.rego` file or a folder of them; repeatable.
        #[arg(long = "policy", value_name = "FILE|DIR", required = true)]
        policies: Vec<PathBuf>,
        /// A JSON data document or a folder of them; repeatable.
        #[arg(long = "data", value_name = "FILE|DIR")]
        data: Vec<PathBuf>,
        /// The rule to evaluate.
        #[arg(long, default_value = DEFAULT_ENTRYPOINT)]
        entrypoint: String,
        /// The policy input (the documented shape: direction, caller_spiffe_id, …): JSON,
        /// `@file`, or `@-` for standard input.
        #[arg(long)]
        input: String,
    },
}

pub(super) fn run(command: Command) -> ExitCode {
    match command {
        Command::Test { files } => test(files),
        Command::Check { policies, data, entrypoint, input } => {
            check(&policies, &data, &entrypoint, &input)
        }
    }
}

fn check(policies: &[PathBuf], data: &[PathBuf], entrypoint: &str, input: &str) -> ExitCode {
    let input = match json_arg(input, "--input") {
        Ok(input) => input,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    if !input.is_object() {
        return fail(EXIT_USAGE, "--input must be a JSON object (the policy input)");
    }
    let policies: Vec<PolicySource> =
        policies
            .iter()
            .map(|p| {
                if p.is_dir() {
                    PolicySource::Dir(p.clone())
                } else {
                    PolicySource::File(p.clone())
                }
            })
            .collect();
    let data: Vec<DataSource> = data
        .iter()
        .map(|p| if p.is_dir() { DataSource::Dir(p.clone()) } else { DataSource::File(p.clone()) })
        .collect();
    let set = match PolicySet::load(&policies, &data, entrypoint) {
        Ok(set) => set,
        Err(e) => return fail(EXIT_FAULT, format!("cannot load the policy: {e}")),
    };
    match set.evaluate_json(&input) {
        Ok((allow, reason)) => {
            let decision = serde_json::json!({
                "allow": allow,
                "reason": &*reason,
                "policy_id": set.policy_id(),
                "entrypoint": set.entrypoint(),
            });
            println!("{decision}");
            if allow { ExitCode::SUCCESS } else { ExitCode::from(EXIT_REFUSED) }
        }
        Err(fault) => {
            fail(EXIT_FAULT, format!("policy evaluation failed (a deny in an agent): {fault}"))
        }
    }
}

fn test(files: Vec<PathBuf>) -> ExitCode {
    let mut failed = false;
    for file in files {
        match agentweave_authz::cases::run_case_file(&file) {
            Ok(report) => {
                print!("{report}");
                failed |= !report.passed();
            }
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                return ExitCode::from(EXIT_FAULT);
            }
        }
    }
    if failed { ExitCode::from(EXIT_REFUSED) } else { ExitCode::SUCCESS }
}

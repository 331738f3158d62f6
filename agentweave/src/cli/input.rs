//! Argument helpers shared by the commands: JSON given inline or as `@file` (`@-` reads standard
//! input), and config loading with the exit codes of config errors.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use crate::config::{AgentConfig, ConfigError};

/// The text of an argument that is inline or `@file` / `@-`. `what` names it in errors.
pub(super) fn text_arg(arg: &str, what: &str) -> Result<String, String> {
    match arg.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("{what}: cannot read standard input: {e}"))?;
            Ok(text)
        }
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("{what}: cannot read file {path:?}: {e}")),
        None => Ok(arg.to_owned()),
    }
}

/// A JSON argument, inline or `@file` / `@-`.
pub(super) fn json_arg(arg: &str, what: &str) -> Result<Value, String> {
    let text = text_arg(arg, what)?;
    serde_json::from_str(&text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

/// Loads and validates a config for a command that runs it. Prints the error and returns the
/// exit code on failure: 3 when the file cannot be read, 2 when it is invalid (a wrong input to
/// this command; `agentweave validate` explains it the same way).
pub(super) fn load_config(path: &Path) -> Result<AgentConfig, ExitCode> {
    AgentConfig::load(path).map_err(|error| match error {
        ConfigError::Read { .. } => {
            eprintln!("error: {error}");
            ExitCode::from(super::EXIT_FAULT)
        }
        error => {
            eprintln!("error: {}: invalid config: {error}", path.display());
            ExitCode::from(super::EXIT_USAGE)
        }
    })
}

/// Prints `message` as an error and returns `code`.
pub(super) fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// Adapts a config for a short-lived helper agent of the same identity (`call`, `card`): its
/// listener on `127.0.0.1:0` and no operations port, so that it never clashes with a running
/// `serve` of the same file, and no dev Workload API socket of its own for the same reason.
pub(super) fn ephemeral(config: &mut AgentConfig) {
    use std::net::{Ipv4Addr, SocketAddr};

    use crate::config::IdentitySection;

    config.server.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.operations.listen = None;
    if let IdentitySection::Dev { socket, .. } = &mut config.identity {
        *socket = None;
    }
}

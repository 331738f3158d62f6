//! `agentweave validate <config>`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{AgentConfig, ConfigError};

/// Arguments of `validate`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The YAML config file.
    config: PathBuf,
    /// Print the effective configuration (defaults filled in) as YAML.
    #[arg(long)]
    print: bool,
}

pub(super) fn run(args: Args) -> ExitCode {
    match AgentConfig::load(&args.config) {
        Ok(config) => {
            if args.print {
                match serde_yaml_ng::to_string(&config) {
                    Ok(text) => print!("{text}"),
                    Err(e) => {
                        eprintln!("error: cannot print the configuration: {e}");
                        return ExitCode::from(super::EXIT_FAULT);
                    }
                }
            } else {
                println!("{}: valid ({:?} environment)", args.config.display(), config.environment);
            }
            ExitCode::SUCCESS
        }
        Err(error @ ConfigError::Read { .. }) => {
            eprintln!("error: {error}");
            ExitCode::from(super::EXIT_FAULT)
        }
        Err(error) => {
            eprintln!("{}: invalid: {error}", args.config.display());
            ExitCode::from(super::EXIT_REFUSED)
        }
    }
}

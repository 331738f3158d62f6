//! `AgentConfig`: the one validated way to build an agent from a file.
//!
//! Loading is four steps, each reporting errors by key path (`authz.rego.policies[0]`):
//!
//! 1. parse YAML;
//! 2. replace `${NAME}` (and `${NAME:-default}`) in every string value from the environment —
//!    values, never keys, and never by editing the text, so a variable cannot inject structure;
//! 3. apply overrides `AGENTWEAVE__<PATH>` (`AGENTWEAVE__SERVER__LISTEN=0.0.0.0:8443` sets
//!    `server.listen`; the value is parsed as a YAML scalar);
//! 4. deserialize into typed sections with unknown keys rejected, then check cross-field rules and,
//!    for `environment: production`, the production rules ([`AgentConfig::validate`]).

mod error;
mod interpolate;
mod model;
mod validate;

pub use error::ConfigError;
pub use model::*;
pub(crate) use validate::HttpTarget;

use std::collections::BTreeMap;
use std::path::Path;

/// The prefix of environment overrides, `AGENTWEAVE__SECTION__KEY=value`.
pub const OVERRIDE_PREFIX: &str = "AGENTWEAVE__";

impl AgentConfig {
    /// Reads, interpolates, overrides from the process environment, and validates a config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_yaml_with_env(&text, &env)
    }

    /// As [`AgentConfig::load`], from text and an explicit environment (tests, embedding).
    pub fn from_yaml_with_env(
        text: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        interpolate::substitute(&mut value, env, &mut String::new())?;
        interpolate::apply_overrides(&mut value, env)?;
        let config: AgentConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::Invalid {
                path: if path == "." { String::new() } else { path },
                message: e.inner().to_string(),
            }
        })?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests;

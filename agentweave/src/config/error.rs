//! Configuration errors: every one names the key path and what is wrong with it.

use std::path::PathBuf;

/// Why a configuration was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("config is not valid YAML: {0}")]
    Syntax(String),
    /// A key has a wrong type or value, or is unknown.
    #[error("config key `{path}`: {message}")]
    Invalid {
        /// Dotted key path, e.g. `authz.rego.policies[0]`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// `${NAME}` names a variable that is not set and has no default.
    #[error(
        "config key `{path}`: environment variable {name} is not set (write ${{{name}:-default}} for a default)"
    )]
    MissingEnv {
        /// Where the reference is.
        path: String,
        /// The variable.
        name: String,
    },
    /// A production rule is broken.
    #[error("config key `{path}`: not allowed in production: {message}")]
    Production {
        /// The key that breaks the rule.
        path: String,
        /// The rule.
        message: String,
    },
}

impl ConfigError {
    /// The key path the error is about (empty for whole-file errors).
    pub fn path(&self) -> &str {
        match self {
            Self::Invalid { path, .. }
            | Self::MissingEnv { path, .. }
            | Self::Production { path, .. } => path,
            Self::Read { .. } | Self::Syntax(_) => "",
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { path: path.into(), message: message.into() }
    }
}

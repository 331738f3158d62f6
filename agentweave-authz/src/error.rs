//! Faults raised while building or reloading an enforcer (never by a check: see the crate docs).

use std::path::PathBuf;

/// What went wrong configuring an enforcer, loading policy, or running a case file.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    /// A policy or data file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Rego module failed to parse or compile.
    #[error("policy {name} does not compile: {message}")]
    Compile {
        /// The module (file path or inline name).
        name: String,
        /// The compiler's message.
        message: String,
    },
    /// A data document is not valid JSON or does not merge with the others.
    #[error("data document {name} is invalid: {message}")]
    Data {
        /// The document (file path or inline name).
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// The policy set has no module, or the entrypoint does not exist in it.
    #[error("entrypoint {entrypoint}: {message}")]
    Entrypoint {
        /// The configured entrypoint.
        entrypoint: String,
        /// What is wrong.
        message: String,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration {field}: {message}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A case file is malformed.
    #[error("case file {path}: {message}")]
    CaseFile {
        /// The case file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A background thread (policy watcher, audit writer) could not be started.
    #[error("cannot start the {what} thread: {source}")]
    Spawn {
        /// Which thread.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The audit sink could not be opened.
    #[error("audit sink {path}: {source}")]
    AuditSink {
        /// The audit file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

//! Fixtures shared by the facade's test binaries: agent identities on `example.org`, a dev
//! issuer, a Rego policy made from a table of grants, and a file audit log. Each test binary
//! uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use agentweave_authz::PolicyEnforcer;
use agentweave_authz::audit::{AuditConfig, AuditLog, AuditSink};
use agentweave_authz::rego::{PolicySource, RegoConfig, RegoEnforcer};
use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::{SpiffeId, TrustDomain};

/// `spiffe://example.org/agent/<name>`.
pub(crate) fn id(name: &str) -> SpiffeId {
    SpiffeId::parse(&format!("spiffe://example.org/agent/{name}")).unwrap()
}

/// A fresh dev issuer for `example.org`.
pub(crate) fn issuer() -> Arc<DevIssuer> {
    DevIssuer::start(TrustDomain::new("example.org").unwrap(), DevIssuerConfig::default()).unwrap()
}

/// A default-deny Rego policy that allows exactly the rows of `grants`, each
/// `["<direction>", "<caller name>", "<callee name>", "<action>"],` (names are the last segment
/// of `/agent/<name>` IDs). Denials say "default deny", grants "listed".
pub(crate) fn grants_policy(grants: &str) -> String {
    format!(
        r#"
package agentweave.authz

allowed := {{
{grants}
}}

name(id) := n if {{
  parts := split(id, "/")
  n := parts[4]
}}

default decision := {{"allow": false, "reason": "default deny"}}

decision := {{"allow": true, "reason": "listed"}} if {{
  [input.direction, name(input.caller_spiffe_id), name(input.callee_spiffe_id), input.action] in allowed
}}
"#
    )
}

/// An in-process Rego enforcer for `me` over [`grants_policy`]`(grants)`.
pub(crate) fn policy(me: &SpiffeId, grants: &str) -> Arc<dyn PolicyEnforcer> {
    let config = RegoConfig::new(me.clone())
        .policy(PolicySource::Inline { name: "test.rego".into(), rego: grants_policy(grants) });
    Arc::new(RegoEnforcer::new(config).unwrap())
}

/// An audit log appending JSON lines to `path`.
pub(crate) fn audit(path: &Path) -> AuditLog {
    AuditLog::start(AuditSink::File(path.to_path_buf()), AuditConfig::default()).unwrap()
}

/// What a test mesh shares: one dev issuer, a temporary folder holding the common audit file,
/// and a count of handler runs (to show that a refused request never reached business code).
/// Each test binary adds its own agent builders in an `impl Fixture` of its own.
pub(crate) struct Fixture {
    pub(crate) issuer: Arc<DevIssuer>,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) handled: Arc<AtomicUsize>,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        Self { issuer: issuer(), dir: tempfile::tempdir().unwrap(), handled: Arc::default() }
    }

    /// The audit file every agent of the mesh appends to.
    pub(crate) fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// The audit file's records so far (none when it does not exist yet).
    pub(crate) fn audit_lines(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.audit_path()).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

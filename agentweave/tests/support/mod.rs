//! Fixtures shared by the facade's test binaries: agent identities on `example.org`, a dev
//! issuer, a Rego policy made from a table of grants, and a file audit log. Each test binary
//! uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

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

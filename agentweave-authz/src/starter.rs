//! The starter policy library, shipped in the crate (also on disk under `policies/`).
//!
//! Modules compose: [`CORE`] holds the `decision` rule (default deny, explicit denials win) and
//! every other module only adds reasons to its `grants` set, so a deployment loads `CORE` plus the
//! modules it wants, and its own modules follow the same pattern. The behaviour is data-driven:
//! [`DATA`] is an example document; replace it with your own roles and partners.
//!
//! | module | grants |
//! | --- | --- |
//! | [`CORE`] | nothing: default deny, structural denials (direction, action, trust domains; checked in one `structural_ok` body first, the fast path) |
//! | [`ORCHESTRATION`] | orchestrators may call any agent of their own trust domain; workers may send `worker_actions` back |
//! | [`ROLE_MATRIX`] | roles by `/agent/<name>`, actions by role, optional callee restriction, same trust domain only |
//! | [`FEDERATION`] | per-partner-trust-domain inbound and outbound actions, optional partner agent list |

use crate::error::AuthzError;
use crate::rego::{DataSource, PolicySource};

/// Package `agentweave.authz`: the `decision` rule, default deny and shared helpers.
pub const CORE: &str = include_str!("../policies/core.rego");
/// Same-trust-domain orchestration.
pub const ORCHESTRATION: &str = include_str!("../policies/orchestration.rego");
/// Role matrix keyed on the agent name.
pub const ROLE_MATRIX: &str = include_str!("../policies/role_matrix.rego");
/// Cross-trust-domain federation with per-partner actions.
pub const FEDERATION: &str = include_str!("../policies/federation.rego");
/// An example data document for all modules above.
pub const DATA: &str = include_str!("../policies/data.json");

/// Every starter module as `(file name, source)`, `CORE` first.
pub const MODULES: [(&str, &str); 4] = [
    ("core.rego", CORE),
    ("orchestration.rego", ORCHESTRATION),
    ("role_matrix.rego", ROLE_MATRIX),
    ("federation.rego", FEDERATION),
];

/// All starter modules as inline policy sources.
pub fn all_policies() -> Vec<PolicySource> {
    MODULES
        .iter()
        .map(|(name, rego)| PolicySource::Inline {
            name: format!("starter/{name}"),
            rego: (*rego).to_owned(),
        })
        .collect()
}

/// Only the core module: every request is denied.
pub fn default_deny() -> Vec<PolicySource> {
    vec![PolicySource::Inline { name: "starter/core.rego".into(), rego: CORE.to_owned() }]
}

/// The example data document as a data source.
pub fn example_data() -> Result<DataSource, AuthzError> {
    let json = serde_json::from_str(DATA).map_err(|e| AuthzError::Data {
        name: "starter/data.json".into(),
        message: e.to_string(),
    })?;
    Ok(DataSource::Inline { name: "starter/data.json".into(), json })
}

//! The agent card, generated from the capabilities.
//!
//! Besides the skills (one per capability: id and name = the capability name) the card declares:
//!
//! * the mTLS security scheme (`mtls`) and a requirement on it;
//! * `agentweave-a2a`'s SPIFFE ID extension ([`SPIFFE_ID_EXTENSION_URI`], `params.spiffeId`), so a
//!   client can pin the server identity in the handshake;
//! * AgentWeave's attestation extension ([`ATTESTATION_EXTENSION_URI`]) with `params.issuer` (the
//!   `iss` of this agent's attestations: its SPIFFE ID) and `params.jwks` (the public keys, a JWKS
//!   document), so a caller can verify the verdicts this agent signs. Absent when the agent has
//!   no guard.

use std::collections::BTreeMap;

use agentweave_a2a::types::{
    AgentCapabilities, AgentCard, AgentExtension, AgentInterface, AgentSkill, BINDING_JSONRPC,
    MutualTlsSecurityScheme, SPIFFE_ID_EXTENSION_PARAM, SPIFFE_ID_EXTENSION_URI,
    SecurityRequirement, SecurityScheme, StringList,
};
use agentweave_attest::{Attestor, Jwks};
use agentweave_identity::SpiffeId;
use serde_json::{Map, Value};

use super::capability::Capability;

/// The URI of AgentWeave's attestation extension (see the module documentation).
pub const ATTESTATION_EXTENSION_URI: &str = "https://agentweave.dev/ext/attestation/v1";

/// The security scheme name declared in the card.
const MTLS_SCHEME: &str = "mtls";

/// What the card says about the agent besides its capabilities.
#[derive(Clone, Debug)]
pub(crate) struct CardInfo {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) version: String,
    pub(crate) url: String,
}

/// Builds the card.
pub(crate) fn agent_card(
    info: &CardInfo,
    spiffe_id: &SpiffeId,
    capabilities: &[Capability],
    attestor: Option<&dyn Attestor>,
) -> AgentCard {
    let mut extensions = vec![AgentExtension {
        uri: SPIFFE_ID_EXTENSION_URI.into(),
        description: "The SPIFFE ID this agent proves in the mTLS handshake".into(),
        required: false,
        params: Some(Map::from_iter([(
            SPIFFE_ID_EXTENSION_PARAM.to_owned(),
            Value::String(spiffe_id.to_string()),
        )])),
    }];
    if let Some(attestor) = attestor {
        let jwks = serde_json::to_value(attestor.jwks()).unwrap_or(Value::Null);
        extensions.push(AgentExtension {
            uri: ATTESTATION_EXTENSION_URI.into(),
            description: "Keys verifying the ES256 attestations of this agent's guard verdicts"
                .into(),
            required: false,
            params: Some(Map::from_iter([
                ("issuer".to_owned(), Value::String(attestor.issuer().to_owned())),
                ("jwks".to_owned(), jwks),
            ])),
        });
    }
    let mut modes_in: Vec<String> = Vec::new();
    let mut modes_out: Vec<String> = Vec::new();
    for c in capabilities {
        for m in &c.input_modes {
            if !modes_in.contains(m) {
                modes_in.push(m.clone());
            }
        }
        for m in &c.output_modes {
            if !modes_out.contains(m) {
                modes_out.push(m.clone());
            }
        }
    }
    if modes_in.is_empty() {
        modes_in.push("application/json".into());
    }
    if modes_out.is_empty() {
        modes_out.push("application/json".into());
    }
    AgentCard {
        name: info.name.clone(),
        description: info.description.clone(),
        supported_interfaces: vec![AgentInterface {
            url: info.url.clone(),
            protocol_binding: BINDING_JSONRPC.into(),
            tenant: String::new(),
            protocol_version: agentweave_a2a::version::PROTOCOL_VERSION.into(),
        }],
        provider: None,
        version: info.version.clone(),
        documentation_url: None,
        capabilities: AgentCapabilities {
            // `SendStreamingMessage` and `SubscribeToTask` run the same pipeline as a send.
            streaming: Some(true),
            push_notifications: None,
            extensions,
            extended_agent_card: None,
        },
        security_schemes: BTreeMap::from([(
            MTLS_SCHEME.to_owned(),
            SecurityScheme::MutualTls(MutualTlsSecurityScheme {
                description: "Mutual TLS with X.509-SVIDs (SPIFFE)".into(),
            }),
        )]),
        security_requirements: vec![SecurityRequirement {
            schemes: BTreeMap::from([(MTLS_SCHEME.to_owned(), StringList::default())]),
        }],
        default_input_modes: modes_in,
        default_output_modes: modes_out,
        skills: capabilities
            .iter()
            .map(|c| AgentSkill {
                id: c.name.clone(),
                name: c.name.clone(),
                description: c.description.clone(),
                tags: c.payload_type.map(|t| vec![t.as_str().to_owned()]).unwrap_or_default(),
                examples: Vec::new(),
                input_modes: c.input_modes.clone(),
                output_modes: c.output_modes.clone(),
                security_requirements: Vec::new(),
            })
            .collect(),
        signatures: Vec::new(),
        icon_url: None,
    }
}

/// The attestation issuer and keys a card publishes, if it does.
pub fn attestation_keys(card: &AgentCard) -> Option<(String, Jwks)> {
    let params = card
        .capabilities
        .extensions
        .iter()
        .find(|e| e.uri == ATTESTATION_EXTENSION_URI)?
        .params
        .as_ref()?;
    let issuer = params.get("issuer")?.as_str()?.to_owned();
    let jwks = serde_json::from_value(params.get("jwks")?.clone()).ok()?;
    Some((issuer, jwks))
}

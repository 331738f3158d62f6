//! The agent card and the security objects it declares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The URI of AgentWeave's A2A extension that publishes the agent's SPIFFE ID.
///
/// Declared in `capabilities.extensions` with `params: {"spiffeId": "spiffe://…"}` so that a
/// client can learn, from the card alone, which SPIFFE ID the server's mTLS certificate must
/// carry (and pin it in the handshake). `required` is false: clients that do not know the
/// extension can still talk to the agent; they simply cannot pin the identity.
pub const SPIFFE_ID_EXTENSION_URI: &str = "https://agentweave.dev/ext/spiffe-id/v1";

/// The `params` key under which [`SPIFFE_ID_EXTENSION_URI`] carries the SPIFFE ID.
pub const SPIFFE_ID_EXTENSION_PARAM: &str = "spiffeId";

/// Binding name of the JSON-RPC binding in `supportedInterfaces`.
pub const BINDING_JSONRPC: &str = "JSONRPC";
/// Binding name of the HTTP+JSON (REST) binding.
pub const BINDING_HTTP_JSON: &str = "HTTP+JSON";
/// Binding name of the gRPC binding (not served by this crate yet).
pub const BINDING_GRPC: &str = "GRPC";

/// A self-describing manifest for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    /// Human-readable name.
    pub name: String,
    /// What the agent does.
    pub description: String,
    /// Interfaces in preference order (first is preferred).
    #[serde(alias = "supported_interfaces")]
    pub supported_interfaces: Vec<AgentInterface>,
    /// Who runs the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<AgentProvider>,
    /// Version of the agent (not of the protocol).
    pub version: String,
    /// Documentation link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "documentation_url")]
    pub documentation_url: Option<String>,
    /// Optional capabilities.
    pub capabilities: AgentCapabilities,
    /// Security schemes by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[serde(alias = "security_schemes")]
    pub security_schemes: BTreeMap<String, SecurityScheme>,
    /// Which schemes a caller must satisfy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "security_requirements")]
    pub security_requirements: Vec<SecurityRequirement>,
    /// Accepted input media types.
    #[serde(alias = "default_input_modes")]
    pub default_input_modes: Vec<String>,
    /// Produced output media types.
    #[serde(alias = "default_output_modes")]
    pub default_output_modes: Vec<String>,
    /// What the agent can do.
    pub skills: Vec<AgentSkill>,
    /// JWS signatures over the canonical card.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<AgentCardSignature>,
    /// Icon link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "icon_url")]
    pub icon_url: Option<String>,
}

impl AgentCard {
    /// The SPIFFE ID published through AgentWeave's extension, if declared.
    pub fn spiffe_id(&self) -> Option<&str> {
        self.capabilities
            .extensions
            .iter()
            .find(|e| e.uri == SPIFFE_ID_EXTENSION_URI)
            .and_then(|e| e.params.as_ref())
            .and_then(|p| p.get(SPIFFE_ID_EXTENSION_PARAM))
            .and_then(Value::as_str)
    }
}

/// One way of reaching the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInterface {
    /// Endpoint URL.
    pub url: String,
    /// `JSONRPC`, `HTTP+JSON`, `GRPC` or a custom binding URI.
    #[serde(alias = "protocol_binding")]
    pub protocol_binding: String,
    /// Tenant value clients must send (empty means unset).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// Protocol version served, e.g. `1.0`.
    #[serde(alias = "protocol_version")]
    pub protocol_version: String,
}

/// The organisation behind the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentProvider {
    /// Website.
    pub url: String,
    /// Organisation name.
    pub organization: String,
}

/// Optional capabilities; unset means unsupported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCapabilities {
    /// Streaming (`SendStreamingMessage`, `SubscribeToTask`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    /// Push notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "push_notifications")]
    pub push_notifications: Option<bool>,
    /// Protocol extensions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<AgentExtension>,
    /// An extended card for authenticated callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "extended_agent_card")]
    pub extended_agent_card: Option<bool>,
}

/// A protocol extension the agent supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentExtension {
    /// Identifying URI.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Clients must use it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Extension parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
}

/// A skill the agent offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSkill {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Keywords.
    pub tags: Vec<String>,
    /// Example prompts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Accepted media types (overrides the card default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "input_modes")]
    pub input_modes: Vec<String>,
    /// Produced media types (overrides the card default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "output_modes")]
    pub output_modes: Vec<String>,
    /// Security requirements for this skill.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "security_requirements")]
    pub security_requirements: Vec<SecurityRequirement>,
}

/// A JWS signature in flattened form (`payload` detached: it is the canonical card).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCardSignature {
    /// Base64url of the protected header JSON.
    pub protected: String,
    /// Base64url of the signature bytes.
    pub signature: String,
    /// Unprotected header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Map<String, Value>>,
}

/// A list of strings (proto `StringList`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringList {
    /// The strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<String>,
}

/// Scheme names (keys of `securitySchemes`) with the scopes each requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityRequirement {
    /// Scheme name to required scopes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schemes: BTreeMap<String, StringList>,
}

/// How callers authenticate (proto `oneof scheme`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum SecurityScheme {
    /// API key in a header, query or cookie.
    #[serde(rename = "apiKeySecurityScheme", alias = "api_key_security_scheme")]
    ApiKey(ApiKeySecurityScheme),
    /// HTTP authentication (Bearer, Basic…).
    #[serde(rename = "httpAuthSecurityScheme", alias = "http_auth_security_scheme")]
    HttpAuth(HttpAuthSecurityScheme),
    /// OAuth 2.0.
    #[serde(rename = "oauth2SecurityScheme", alias = "oauth2_security_scheme")]
    OAuth2(OAuth2SecurityScheme),
    /// OpenID Connect.
    #[serde(rename = "openIdConnectSecurityScheme", alias = "open_id_connect_security_scheme")]
    OpenIdConnect(OpenIdConnectSecurityScheme),
    /// Mutual TLS: the scheme AgentWeave agents declare.
    #[serde(rename = "mtlsSecurityScheme", alias = "mtls_security_scheme")]
    MutualTls(MutualTlsSecurityScheme),
}

/// API key scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySecurityScheme {
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `query`, `header` or `cookie`.
    pub location: String,
    /// Parameter name.
    pub name: String,
}

/// HTTP authentication scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpAuthSecurityScheme {
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Scheme name, e.g. `Bearer`.
    pub scheme: String,
    /// Token format hint, e.g. `JWT`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "bearer_format")]
    pub bearer_format: String,
}

/// OAuth 2.0 scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2SecurityScheme {
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The flow.
    pub flows: OAuthFlows,
    /// RFC 8414 metadata URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "oauth2_metadata_url")]
    pub oauth2_metadata_url: String,
}

/// OpenID Connect scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenIdConnectSecurityScheme {
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Discovery URL.
    #[serde(alias = "open_id_connect_url")]
    pub open_id_connect_url: String,
}

/// Mutual TLS scheme.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutualTlsSecurityScheme {
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// One OAuth flow (proto `oneof flow`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum OAuthFlows {
    /// Authorization code.
    #[serde(alias = "authorization_code")]
    AuthorizationCode(AuthorizationCodeOAuthFlow),
    /// Client credentials.
    #[serde(alias = "client_credentials")]
    ClientCredentials(ClientCredentialsOAuthFlow),
    /// Implicit (deprecated by the spec).
    Implicit(ImplicitOAuthFlow),
    /// Password (deprecated by the spec).
    Password(PasswordOAuthFlow),
    /// Device code.
    #[serde(alias = "device_code")]
    DeviceCode(DeviceCodeOAuthFlow),
}

/// Authorization code flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationCodeOAuthFlow {
    /// Authorization URL.
    #[serde(alias = "authorization_url")]
    pub authorization_url: String,
    /// Token URL.
    #[serde(alias = "token_url")]
    pub token_url: String,
    /// Refresh URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "refresh_url")]
    pub refresh_url: String,
    /// Scopes and descriptions.
    pub scopes: BTreeMap<String, String>,
    /// PKCE is mandatory.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[serde(alias = "pkce_required")]
    pub pkce_required: bool,
}

/// Client credentials flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientCredentialsOAuthFlow {
    /// Token URL.
    #[serde(alias = "token_url")]
    pub token_url: String,
    /// Refresh URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "refresh_url")]
    pub refresh_url: String,
    /// Scopes and descriptions.
    pub scopes: BTreeMap<String, String>,
}

/// Implicit flow (deprecated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImplicitOAuthFlow {
    /// Authorization URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "authorization_url")]
    pub authorization_url: String,
    /// Refresh URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "refresh_url")]
    pub refresh_url: String,
    /// Scopes and descriptions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scopes: BTreeMap<String, String>,
}

/// Password flow (deprecated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordOAuthFlow {
    /// Token URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "token_url")]
    pub token_url: String,
    /// Refresh URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "refresh_url")]
    pub refresh_url: String,
    /// Scopes and descriptions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scopes: BTreeMap<String, String>,
}

/// Device code flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCodeOAuthFlow {
    /// Device authorization URL.
    #[serde(alias = "device_authorization_url")]
    pub device_authorization_url: String,
    /// Token URL.
    #[serde(alias = "token_url")]
    pub token_url: String,
    /// Refresh URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[serde(alias = "refresh_url")]
    pub refresh_url: String,
    /// Scopes and descriptions.
    pub scopes: BTreeMap<String, String>,
}

//! Choosing a protocol binding from the card's `supportedInterfaces`.

use std::fmt;

use super::error::ClientError;
use crate::types::{AgentCard, AgentInterface, BINDING_HTTP_JSON, BINDING_JSONRPC};
use crate::version::PROTOCOL_VERSION;

/// A protocol binding this client speaks.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    /// JSON-RPC 2.0 over HTTP (`JSONRPC`).
    JsonRpc,
    /// HTTP+JSON, the REST binding (`HTTP+JSON`).
    HttpJson,
}

impl Binding {
    /// The name used in `supportedInterfaces[].protocolBinding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JsonRpc => BINDING_JSONRPC,
            Self::HttpJson => BINDING_HTTP_JSON,
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The interface the client settled on: binding, the path of its URL, and its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedInterface {
    /// The binding.
    pub binding: Binding,
    /// The path of the interface URL without a trailing `/` (empty for the root).
    pub base_path: String,
    /// The tenant to send (empty when unset).
    pub tenant: String,
    /// The interface URL as the card gave it.
    pub url: String,
}

/// True when `version` is served by this crate (`1.0`, any patch).
fn speaks(version: &str) -> bool {
    let v = version.trim();
    v == PROTOCOL_VERSION || v.strip_prefix(PROTOCOL_VERSION).is_some_and(|r| r.starts_with('.'))
}

fn base_path(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("interface URL `{url}`: {e}"))?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(format!("interface URL `{url}` is not http(s)"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("interface URL `{url}` has a query or fragment"));
    }
    Ok(parsed.path().trim_end_matches('/').to_owned())
}

/// The first interface, in the order of `preference`, that speaks protocol 1.0 and has a
/// usable URL. Within one binding, the card's own order wins (it lists its preferred first).
pub(crate) fn select(
    card: &AgentCard,
    preference: &[Binding],
) -> Result<SelectedInterface, ClientError> {
    let usable = |want: Binding, i: &AgentInterface| {
        i.protocol_binding == want.as_str() && speaks(&i.protocol_version)
    };
    for want in preference {
        for iface in card.supported_interfaces.iter().filter(|i| usable(*want, i)) {
            match base_path(&iface.url) {
                Ok(base_path) => {
                    return Ok(SelectedInterface {
                        binding: *want,
                        base_path,
                        tenant: iface.tenant.clone(),
                        url: iface.url.clone(),
                    });
                }
                Err(why) => tracing::debug!(%why, "skipping an unusable interface"),
            }
        }
    }
    let offered: Vec<String> = card
        .supported_interfaces
        .iter()
        .take(16)
        .map(|i| {
            super::error::excerpt(&format!("{}@{}", i.protocol_binding, i.protocol_version), 64)
        })
        .collect();
    let wanted: Vec<&str> = preference.iter().map(|b| b.as_str()).collect();
    Err(ClientError::NoCompatibleInterface {
        wanted: format!("{}@{PROTOCOL_VERSION}", wanted.join(", ")),
        offered: if offered.is_empty() { "nothing".into() } else { offered.join(", ") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(binding: &str, url: &str, version: &str) -> AgentInterface {
        AgentInterface {
            url: url.into(),
            protocol_binding: binding.into(),
            tenant: String::new(),
            protocol_version: version.into(),
        }
    }

    /// (interfaces, preference, expected binding and base path).
    type Case = (Vec<AgentInterface>, Vec<Binding>, Option<(Binding, &'static str)>);

    #[test]
    fn selection_table() {
        use Binding::*;
        let both = vec![
            iface("HTTP+JSON", "https://a.example/rest/", "1.0"),
            iface("JSONRPC", "https://a.example/rpc", "1.0"),
        ];
        let cases: Vec<Case> = vec![
            (both.clone(), vec![JsonRpc, HttpJson], Some((JsonRpc, "/rpc"))),
            (both.clone(), vec![HttpJson, JsonRpc], Some((HttpJson, "/rest"))),
            (both.clone(), vec![HttpJson], Some((HttpJson, "/rest"))),
            (
                vec![iface("JSONRPC", "https://a.example", "1.0.2")],
                vec![JsonRpc],
                Some((JsonRpc, "")),
            ),
            (vec![iface("JSONRPC", "https://a.example/", "0.3")], vec![JsonRpc], None),
            (vec![iface("JSONRPC", "https://a.example/", "1.01")], vec![JsonRpc], None),
            (vec![iface("GRPC", "https://a.example/", "1.0")], vec![JsonRpc, HttpJson], None),
            (vec![iface("JSONRPC", "not a url", "1.0")], vec![JsonRpc], None),
            (vec![iface("JSONRPC", "ftp://a.example/", "1.0")], vec![JsonRpc], None),
            (
                vec![
                    iface("JSONRPC", "https://a.example/?x=1", "1.0"),
                    iface("JSONRPC", "https://a.example/second", "1.0"),
                ],
                vec![JsonRpc],
                Some((JsonRpc, "/second")),
            ),
            (vec![], vec![JsonRpc], None),
        ];
        let mut card: AgentCard =
            serde_json::from_str(include_str!("../../tests/fixtures/agent_card.json")).unwrap();
        for (interfaces, pref, want) in cases {
            card.supported_interfaces = interfaces.clone();
            let got = select(&card, &pref);
            match (got, want) {
                (Ok(s), Some((b, path))) => {
                    assert_eq!((s.binding, s.base_path.as_str()), (b, path), "{interfaces:?}");
                }
                (Err(ClientError::NoCompatibleInterface { .. }), None) => {}
                (got, want) => panic!("{interfaces:?} {pref:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}

//! SPIFFE IDs and trust domains, parsed exactly as the SPIFFE ID specification says.
//!
//! We parse rather than validate: a [`SpiffeId`] or [`TrustDomain`] value that exists is valid, so
//! the layers above never re-check strings. The rules (SPIFFE-ID spec, section 2):
//!
//! * the scheme is exactly `spiffe://` (lowercase);
//! * the trust domain is 1 to 255 bytes of `[a-z0-9.-_]` (no uppercase, no port, no userinfo);
//! * the path is empty or a sequence of `/segment`, each segment non-empty, not `.` or `..`,
//!   made of `[A-Za-z0-9.-_]` (no percent-encoding, no trailing slash);
//! * no query and no fragment; the whole ID is at most 2048 bytes.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The URI scheme prefix every SPIFFE ID starts with.
const SCHEME_PREFIX: &str = "spiffe://";
/// The longest SPIFFE ID we accept, in bytes (SPIFFE-ID spec 2.3).
pub const MAX_SPIFFE_ID_LEN: usize = 2048;
/// The longest trust domain name we accept, in bytes (SPIFFE-ID spec 2.1).
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;
/// The first path segment of an agent ID: `spiffe://<td>/agent/<name>[/<env>]`.
pub const AGENT_SEGMENT: &str = "agent";

/// Why a string is not a SPIFFE ID or trust domain.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpiffeIdError {
    /// The input was empty.
    #[error("SPIFFE ID is empty")]
    Empty,
    /// The input does not start with `spiffe://`.
    #[error("scheme is missing or is not \"spiffe://\"")]
    WrongScheme,
    /// The trust domain part is empty.
    #[error("trust domain is missing")]
    MissingTrustDomain,
    /// A character outside `[a-z0-9.-_]` in the trust domain (uppercase, `:port`, `user@`, …).
    #[error(
        "trust domain contains {found:?} at byte {at}: only lowercase letters, digits, '.', '-' and '_' are allowed"
    )]
    BadTrustDomainChar {
        /// The offending character.
        found: char,
        /// Its byte offset in the trust domain.
        at: usize,
    },
    /// The trust domain is longer than [`MAX_TRUST_DOMAIN_LEN`].
    #[error("trust domain is {len} bytes long; the limit is {MAX_TRUST_DOMAIN_LEN}")]
    TrustDomainTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A path segment is empty (`//` or a trailing `/`).
    #[error("path has an empty segment (a '//' or a trailing '/')")]
    EmptySegment,
    /// A path segment is `.` or `..`.
    #[error("path segment {segment:?} is not allowed ('.' and '..' are relative)")]
    DotSegment {
        /// The segment.
        segment: String,
    },
    /// A character outside `[A-Za-z0-9.-_]` in the path (`%`, `?`, `#`, space, …).
    #[error(
        "path contains {found:?}: only letters, digits, '.', '-' and '_' are allowed in segments"
    )]
    BadPathChar {
        /// The offending character.
        found: char,
    },
    /// The whole ID is longer than [`MAX_SPIFFE_ID_LEN`].
    #[error("SPIFFE ID is {len} bytes long; the limit is {MAX_SPIFFE_ID_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The ID is valid SPIFFE but does not follow the agent convention.
    #[error(
        "{id} is not an agent ID of the form spiffe://<trust-domain>/agent/<name>[/<environment>]"
    )]
    NotAnAgentId {
        /// The ID as given.
        id: String,
    },
}

/// A trust domain name such as `example.org`: the root of trust of a set of SPIFFE IDs.
///
/// Cloning is cheap (a reference count).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustDomain(Arc<str>);

impl TrustDomain {
    /// Parses a bare trust domain name (`example.org`, not `spiffe://example.org`).
    pub fn new(name: &str) -> Result<Self, SpiffeIdError> {
        check_trust_domain(name)?;
        Ok(Self(Arc::from(name)))
    }

    /// The trust domain name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SPIFFE ID of the trust domain itself, `spiffe://<name>` (what bundles are keyed by in
    /// the Workload API's federated bundle maps).
    pub fn id_string(&self) -> String {
        format!("{SCHEME_PREFIX}{}", self.0)
    }
}

/// Lets maps keyed by trust domain be searched with a plain name; equality, ordering and hashing of
/// a `TrustDomain` are those of its name, as `Borrow` requires.
impl std::borrow::Borrow<str> for TrustDomain {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustDomain({})", self.0)
    }
}

impl FromStr for TrustDomain {
    type Err = SpiffeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A SPIFFE ID such as `spiffe://example.org/agent/search/prod`.
///
/// Cloning is cheap (a reference count). Equality is byte equality of the canonical string: the
/// spec allows no alternative spellings, so there is nothing to normalise.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId {
    /// The whole ID, `spiffe://td/path`.
    full: Arc<str>,
    /// Byte length of the trust domain name (it starts right after the scheme).
    td_len: usize,
}

impl SpiffeId {
    /// Parses and validates a SPIFFE ID.
    pub fn parse(id: &str) -> Result<Self, SpiffeIdError> {
        if id.is_empty() {
            return Err(SpiffeIdError::Empty);
        }
        if id.len() > MAX_SPIFFE_ID_LEN {
            return Err(SpiffeIdError::TooLong { len: id.len() });
        }
        let rest = id.strip_prefix(SCHEME_PREFIX).ok_or(SpiffeIdError::WrongScheme)?;
        let (td, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        check_trust_domain(td)?;
        check_path(path)?;
        Ok(Self { full: Arc::from(id), td_len: td.len() })
    }

    /// Builds `spiffe://<trust_domain><path>`; `path` is empty or starts with `/`.
    pub fn from_parts(trust_domain: &TrustDomain, path: &str) -> Result<Self, SpiffeIdError> {
        Self::parse(&format!("{SCHEME_PREFIX}{trust_domain}{path}"))
    }

    /// Builds an agent ID, `spiffe://<td>/agent/<name>` or `spiffe://<td>/agent/<name>/<env>`.
    pub fn agent(
        trust_domain: &TrustDomain,
        name: &str,
        environment: Option<&str>,
    ) -> Result<Self, SpiffeIdError> {
        let path = match environment {
            Some(env) => format!("/{AGENT_SEGMENT}/{name}/{env}"),
            None => format!("/{AGENT_SEGMENT}/{name}"),
        };
        Self::from_parts(trust_domain, &path)
    }

    /// The whole ID as a string.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The trust domain name of this ID.
    pub fn trust_domain_name(&self) -> &str {
        let start = SCHEME_PREFIX.len();
        self.full.get(start..start + self.td_len).unwrap_or_default()
    }

    /// The trust domain of this ID.
    pub fn trust_domain(&self) -> TrustDomain {
        TrustDomain(Arc::from(self.trust_domain_name()))
    }

    /// The path, empty or starting with `/`.
    pub fn path(&self) -> &str {
        self.full.get(SCHEME_PREFIX.len() + self.td_len..).unwrap_or_default()
    }

    /// The path's segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path().split('/').skip(1)
    }

    /// True when this ID belongs to `trust_domain`.
    pub fn is_member_of(&self, trust_domain: &TrustDomain) -> bool {
        self.trust_domain_name() == trust_domain.as_str()
    }

    /// The agent view of this ID, when it follows `spiffe://<td>/agent/<name>[/<env>]`.
    pub fn as_agent(&self) -> Result<AgentId<'_>, SpiffeIdError> {
        let mut segments = self.segments();
        let not_agent = || SpiffeIdError::NotAnAgentId { id: self.as_str().to_owned() };
        if segments.next() != Some(AGENT_SEGMENT) {
            return Err(not_agent());
        }
        let name = segments.next().ok_or_else(not_agent)?;
        let environment = segments.next();
        if segments.next().is_some() {
            return Err(not_agent());
        }
        Ok(AgentId { name, environment })
    }
}

/// The agent-convention parts of a [`SpiffeId`] (`/agent/<name>[/<environment>]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentId<'a> {
    /// The agent's name, the segment after `agent`; policies key roles on it.
    pub name: &'a str,
    /// The optional environment segment (`prod`, `staging`, …).
    pub environment: Option<&'a str>,
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpiffeId({})", self.full)
    }
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for SpiffeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for SpiffeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for TrustDomain {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TrustDomain {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&raw).map_err(serde::de::Error::custom)
    }
}

fn check_trust_domain(td: &str) -> Result<(), SpiffeIdError> {
    if td.is_empty() {
        return Err(SpiffeIdError::MissingTrustDomain);
    }
    if let Some((at, found)) = td.char_indices().find(|&(_, c)| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
    }) {
        return Err(SpiffeIdError::BadTrustDomainChar { found, at });
    }
    if td.len() > MAX_TRUST_DOMAIN_LEN {
        return Err(SpiffeIdError::TrustDomainTooLong { len: td.len() });
    }
    Ok(())
}

/// `path` is empty or starts with '/'.
fn check_path(path: &str) -> Result<(), SpiffeIdError> {
    if path.is_empty() {
        return Ok(());
    }
    for segment in path.split('/').skip(1) {
        match segment {
            "" => return Err(SpiffeIdError::EmptySegment),
            "." | ".." => {
                return Err(SpiffeIdError::DotSegment { segment: segment.to_owned() });
            }
            _ => {}
        }
        if let Some(found) =
            segment.chars().find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        {
            return Err(SpiffeIdError::BadPathChar { found });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_parse_and_expose_parts() {
        let table: &[(&str, &str, &str)] = &[
            ("spiffe://example.org", "example.org", ""),
            ("spiffe://example.org/workload", "example.org", "/workload"),
            ("spiffe://a", "a", ""),
            ("spiffe://td-1.b_c/x/Y/z9", "td-1.b_c", "/x/Y/z9"),
            ("spiffe://example.org/agent/search/prod", "example.org", "/agent/search/prod"),
            ("spiffe://example.org/a.b/..c/c..", "example.org", "/a.b/..c/c.."),
            ("spiffe://example.org/-_.", "example.org", "/-_."),
            ("spiffe://1.2.3.4/ip", "1.2.3.4", "/ip"),
        ];
        for (input, td, path) in table {
            let id = SpiffeId::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(id.trust_domain_name(), *td, "{input}");
            assert_eq!(id.path(), *path, "{input}");
            assert_eq!(id.as_str(), *input);
            assert_eq!(id.to_string(), *input);
        }
    }

    #[test]
    fn invalid_ids_are_refused_with_the_rule_they_break() {
        use SpiffeIdError as E;
        let long_path = format!("spiffe://example.org/{}", "a".repeat(MAX_SPIFFE_ID_LEN));
        let long_td = format!("spiffe://{}", "a".repeat(MAX_TRUST_DOMAIN_LEN + 1));
        let table: Vec<(&str, E)> = vec![
            ("", E::Empty),
            ("example.org/workload", E::WrongScheme),
            ("SPIFFE://example.org", E::WrongScheme),
            ("Spiffe://example.org", E::WrongScheme),
            ("https://example.org/x", E::WrongScheme),
            ("spiffe:/example.org", E::WrongScheme),
            ("spiffe://", E::MissingTrustDomain),
            ("spiffe:///path", E::MissingTrustDomain),
            ("spiffe://Example.org", E::BadTrustDomainChar { found: 'E', at: 0 }),
            ("spiffe://example.org:8080/x", E::BadTrustDomainChar { found: ':', at: 11 }),
            ("spiffe://user@example.org", E::BadTrustDomainChar { found: '@', at: 4 }),
            ("spiffe://example.org?x=1", E::BadTrustDomainChar { found: '?', at: 11 }),
            ("spiffe://example.org#frag", E::BadTrustDomainChar { found: '#', at: 11 }),
            ("spiffe://exa mple.org", E::BadTrustDomainChar { found: ' ', at: 3 }),
            ("spiffe://exämple.org", E::BadTrustDomainChar { found: 'ä', at: 2 }),
            ("spiffe://example.org/", E::EmptySegment),
            ("spiffe://example.org//x", E::EmptySegment),
            ("spiffe://example.org/x/", E::EmptySegment),
            ("spiffe://example.org/.", E::DotSegment { segment: ".".into() }),
            ("spiffe://example.org/x/..", E::DotSegment { segment: "..".into() }),
            ("spiffe://example.org/x/../y", E::DotSegment { segment: "..".into() }),
            ("spiffe://example.org/a%20b", E::BadPathChar { found: '%' }),
            ("spiffe://example.org/a?q=1", E::BadPathChar { found: '?' }),
            ("spiffe://example.org/a#f", E::BadPathChar { found: '#' }),
            ("spiffe://example.org/a b", E::BadPathChar { found: ' ' }),
            ("spiffe://example.org/a:b", E::BadPathChar { found: ':' }),
            ("spiffe://example.org/é", E::BadPathChar { found: 'é' }),
            ("spiffe://example.org/a\u{0}", E::BadPathChar { found: '\u{0}' }),
        ];
        for (input, expected) in table {
            assert_eq!(SpiffeId::parse(input), Err(expected), "{input:?}");
        }
        assert!(matches!(SpiffeId::parse(&long_path), Err(E::TooLong { .. })));
        assert!(matches!(SpiffeId::parse(&long_td), Err(E::TrustDomainTooLong { len: 256 })));
    }

    #[test]
    fn limits_are_inclusive() {
        let td = "a".repeat(MAX_TRUST_DOMAIN_LEN);
        assert!(SpiffeId::parse(&format!("spiffe://{td}")).is_ok());
        let prefix = "spiffe://example.org/";
        let exact = format!("{prefix}{}", "a".repeat(MAX_SPIFFE_ID_LEN - prefix.len()));
        assert_eq!(exact.len(), MAX_SPIFFE_ID_LEN);
        assert!(SpiffeId::parse(&exact).is_ok());
    }

    #[test]
    fn trust_domains_follow_the_same_rules() {
        assert!(TrustDomain::new("example.org").is_ok());
        for bad in ["", "spiffe://example.org", "Example.org", "a/b", "a:1"] {
            assert!(TrustDomain::new(bad).is_err(), "{bad:?}");
        }
        let td = TrustDomain::new("example.org").unwrap();
        assert_eq!(td.id_string(), "spiffe://example.org");
        let id = SpiffeId::parse("spiffe://example.org/x").unwrap();
        assert_eq!(id.trust_domain(), td);
        assert!(id.is_member_of(&td));
        assert!(!id.is_member_of(&TrustDomain::new("example.com").unwrap()));
    }

    #[test]
    fn agent_convention() {
        let td = TrustDomain::new("example.org").unwrap();
        let id = SpiffeId::agent(&td, "search", Some("prod")).unwrap();
        assert_eq!(id.as_str(), "spiffe://example.org/agent/search/prod");
        assert_eq!(id.as_agent().unwrap(), AgentId { name: "search", environment: Some("prod") });
        let id = SpiffeId::agent(&td, "payments", None).unwrap();
        assert_eq!(id.as_agent().unwrap(), AgentId { name: "payments", environment: None });
        for not_agent in [
            "spiffe://example.org",
            "spiffe://example.org/agent",
            "spiffe://example.org/service/search",
            "spiffe://example.org/agent/a/b/c",
        ] {
            let id = SpiffeId::parse(not_agent).unwrap();
            assert!(
                matches!(id.as_agent(), Err(SpiffeIdError::NotAnAgentId { .. })),
                "{not_agent}"
            );
        }
        assert!(SpiffeId::agent(&td, "bad name", None).is_err());
        assert!(SpiffeId::agent(&td, "", None).is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let id: SpiffeId = serde_json::from_str("\"spiffe://example.org/agent/a\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"spiffe://example.org/agent/a\"");
        let err = serde_json::from_str::<SpiffeId>("\"spiffe://Example.org\"").unwrap_err();
        assert!(err.to_string().contains("trust domain contains"), "{err}");
    }
}

//! Who is on the other end: the identity a peer proved ([`PeerIdentity`]), the identity a caller
//! expects ([`ExpectedPeer`]), and where the peer listens ([`Endpoint`], [`Peer`]).

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use agentweave_identity::{SpiffeId, TrustDomain};

use crate::error::TransportError;

/// The SPIFFE ID the peer proved in the TLS handshake.
///
/// The server puts it in the extensions of every request it hands to the service (extracted once
/// per connection, after the certificate was verified); the client puts the server's in the
/// extensions of every response. Code above the transport reads it from there and never from a
/// header, which a peer could forge.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerIdentity(pub SpiffeId);

impl PeerIdentity {
    /// The proven SPIFFE ID.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.0
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A named test on a SPIFFE ID, for expectations that the other forms cannot express.
///
/// Two predicates are the same expectation only when they are the same `Arc` (so a connection
/// verified for one predicate is never reused for another, even with the same name).
#[derive(Clone)]
pub struct PeerPredicate {
    name: Arc<str>,
    test: Arc<dyn Fn(&SpiffeId) -> bool + Send + Sync>,
}

impl PeerPredicate {
    /// A predicate; `name` appears in errors and logs ("expected <name>").
    pub fn new(name: &str, test: impl Fn(&SpiffeId) -> bool + Send + Sync + 'static) -> Self {
        Self { name: Arc::from(name), test: Arc::new(test) }
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn identity(&self) -> *const () {
        Arc::as_ptr(&self.test).cast::<()>()
    }
}

impl fmt::Debug for PeerPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerPredicate").field("name", &self.name).finish_non_exhaustive()
    }
}

impl PartialEq for PeerPredicate {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.identity(), other.identity())
    }
}

impl Eq for PeerPredicate {}

impl Hash for PeerPredicate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

/// The identity a caller requires of a peer. The handshake fails unless the peer's proven SPIFFE
/// ID matches.
///
/// There is deliberately no "any peer" form: a caller always states whom it means to talk to; the
/// broadest expectation is a whole trust domain.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedPeer {
    /// Exactly this ID.
    Exact(SpiffeId),
    /// Any ID of this set (an empty set matches nothing).
    OneOf(BTreeSet<SpiffeId>),
    /// Any ID in this trust domain.
    MemberOf(TrustDomain),
    /// Any ID the predicate accepts.
    Predicate(PeerPredicate),
}

impl ExpectedPeer {
    /// Exactly `id`.
    pub fn exact(id: SpiffeId) -> Self {
        Self::Exact(id)
    }

    /// Any of `ids`.
    pub fn one_of(ids: impl IntoIterator<Item = SpiffeId>) -> Self {
        Self::OneOf(ids.into_iter().collect())
    }

    /// Any ID in `trust_domain`.
    pub fn member_of(trust_domain: TrustDomain) -> Self {
        Self::MemberOf(trust_domain)
    }

    /// Any ID `test` accepts; `name` describes it in errors.
    pub fn predicate(name: &str, test: impl Fn(&SpiffeId) -> bool + Send + Sync + 'static) -> Self {
        Self::Predicate(PeerPredicate::new(name, test))
    }

    /// Whether `id` satisfies the expectation.
    pub fn matches(&self, id: &SpiffeId) -> bool {
        match self {
            Self::Exact(expected) => expected == id,
            Self::OneOf(set) => set.contains(id),
            Self::MemberOf(td) => id.is_member_of(td),
            Self::Predicate(p) => (p.test)(id),
        }
    }
}

impl fmt::Display for ExpectedPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(id) => write!(f, "{id}"),
            Self::OneOf(set) => {
                f.write_str("one of [")?;
                for (i, id) in set.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{id}")?;
                }
                f.write_str("]")
            }
            Self::MemberOf(td) => write!(f, "any ID in trust domain {td}"),
            Self::Predicate(p) => write!(f, "an ID accepted by predicate {:?}", p.name()),
        }
    }
}

/// Where a peer listens: a host (DNS name or IP address) and a port.
///
/// The host is used to connect and as the TLS SNI value only; it plays no part in verification,
/// which is by SPIFFE ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    host: String,
    port: u16,
}

impl Endpoint {
    /// An endpoint from its parts.
    pub fn new(host: &str, port: u16) -> Result<Self, TransportError> {
        let invalid = |reason: &str| TransportError::InvalidEndpoint {
            endpoint: format!("{host}:{port}"),
            reason: reason.to_owned(),
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        if host.chars().any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#')) {
            return Err(invalid("the host contains a character not allowed in a host name"));
        }
        Ok(Self { host: host.trim_start_matches('[').trim_end_matches(']').to_owned(), port })
    }

    /// Parses `host:port`, `[v6]:port` or `https://host:port` (a trailing `/` is allowed; any
    /// other path, and the `http` scheme, are refused: every connection is mTLS).
    pub fn parse(input: &str) -> Result<Self, TransportError> {
        let invalid = |reason: &str| TransportError::InvalidEndpoint {
            endpoint: input.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = if let Some(rest) = input.strip_prefix("https://") {
            rest
        } else if input.contains("://") {
            return Err(invalid(
                "only https:// (or no scheme) is allowed: every connection is mTLS",
            ));
        } else {
            input
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) =
                v6.split_once(']').ok_or_else(|| invalid("unterminated '[' in IPv6 host"))?;
            let port = after.strip_prefix(':').ok_or_else(|| invalid("missing ':port'"))?;
            (host, port)
        } else {
            authority.rsplit_once(':').ok_or_else(|| invalid("missing ':port'"))?
        };
        let port: u16 = port.parse().map_err(|_| invalid("the port is not a number 0-65535"))?;
        if port == 0 {
            return Err(invalid("port 0 cannot be connected to"));
        }
        Self::new(host, port).map_err(|_| invalid("the host is empty or has forbidden characters"))
    }

    /// The host (without brackets for IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` as it goes in an HTTP `Host` header or `:authority`.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Self { host: addr.ip().to_string(), port: addr.port() }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority())
    }
}

/// A peer to call: where it listens and who it must prove to be.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Where it listens.
    pub endpoint: Endpoint,
    /// Whom it must prove to be in the handshake.
    pub expected: ExpectedPeer,
}

impl Peer {
    /// A peer at `endpoint` that must prove `expected`.
    pub fn new(endpoint: Endpoint, expected: ExpectedPeer) -> Self {
        Self { endpoint, expected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_or_are_refused_with_a_reason() {
        let ok: &[(&str, &str, u16)] = &[
            ("127.0.0.1:8443", "127.0.0.1", 8443),
            ("https://agent.example.org:443", "agent.example.org", 443),
            ("https://agent.example.org:443/", "agent.example.org", 443),
            ("[::1]:9000", "::1", 9000),
            ("https://[::1]:9000", "::1", 9000),
        ];
        for (input, host, port) in ok {
            let e = Endpoint::parse(input).unwrap();
            assert_eq!((e.host(), e.port()), (*host, *port), "{input}");
        }
        for bad in [
            "http://agent:80",
            "agent",
            "agent:http",
            "agent:0",
            ":443",
            "https://agent:443/path",
            "[::1:443",
            "user@agent:443",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(TransportError::InvalidEndpoint { .. })),
                "{bad} must be refused"
            );
        }
        assert_eq!(Endpoint::parse("[::1]:9000").unwrap().authority(), "[::1]:9000");
    }

    #[test]
    fn expectations_match_as_documented() {
        let a = SpiffeId::parse("spiffe://example.org/agent/a").unwrap();
        let b = SpiffeId::parse("spiffe://example.org/agent/b").unwrap();
        let other = SpiffeId::parse("spiffe://other.org/agent/a").unwrap();
        let td = TrustDomain::new("example.org").unwrap();
        let cases: Vec<(ExpectedPeer, &SpiffeId, bool)> = vec![
            (ExpectedPeer::exact(a.clone()), &a, true),
            (ExpectedPeer::exact(a.clone()), &b, false),
            (ExpectedPeer::one_of([a.clone(), b.clone()]), &b, true),
            (ExpectedPeer::one_of([a.clone()]), &other, false),
            (ExpectedPeer::one_of([]), &a, false),
            (ExpectedPeer::member_of(td.clone()), &b, true),
            (ExpectedPeer::member_of(td), &other, false),
            (ExpectedPeer::predicate("path ends in /a", |id| id.path().ends_with("/a")), &a, true),
            (ExpectedPeer::predicate("path ends in /a", |id| id.path().ends_with("/a")), &b, false),
        ];
        for (expected, id, want) in cases {
            assert_eq!(expected.matches(id), want, "{expected} vs {id}");
        }
    }

    #[test]
    fn predicates_are_equal_only_to_themselves() {
        let p = ExpectedPeer::predicate("x", |_| true);
        let q = ExpectedPeer::predicate("x", |_| true);
        assert_eq!(p, p.clone());
        assert_ne!(p, q, "same name, different predicate: different pool keys");
    }
}

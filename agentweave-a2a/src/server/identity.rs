//! Who is calling: taken from the request's extensions, where the transport layer put it.

use std::fmt;

use agentweave_identity::SpiffeId;

/// The authenticated caller of an A2A request.
///
/// The mTLS listener inserts the peer's [`SpiffeId`] (or a `CallerIdentity`) into the HTTP
/// request's extensions; the server reads a `CallerIdentity` first, then a `SpiffeId`. A
/// request with neither is [`CallerIdentity::Anonymous`], which the server refuses unless it
/// was built with `danger_allow_anonymous_callers` (plain-HTTP conformance runs only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallerIdentity {
    /// A workload authenticated by its SPIFFE ID.
    Spiffe(SpiffeId),
    /// Another authenticated principal (e.g. from a gateway), by name.
    Named(String),
    /// No identity was established.
    Anonymous,
}

impl CallerIdentity {
    /// Reads the caller from request extensions.
    pub fn from_extensions(ext: &http::Extensions) -> Self {
        if let Some(c) = ext.get::<CallerIdentity>() {
            return c.clone();
        }
        if let Some(id) = ext.get::<SpiffeId>() {
            return Self::Spiffe(id.clone());
        }
        Self::Anonymous
    }

    /// True when no identity was established.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }

    /// The SPIFFE ID, if the caller has one.
    pub fn spiffe_id(&self) -> Option<&SpiffeId> {
        match self {
            Self::Spiffe(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for CallerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spiffe(id) => write!(f, "{id}"),
            Self::Named(n) => write!(f, "principal:{n}"),
            Self::Anonymous => f.write_str("anonymous"),
        }
    }
}

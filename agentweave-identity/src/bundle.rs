//! Trust bundles: the CA certificates that vouch for the SVIDs of one trust domain, and sets of
//! them for federation.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use crate::der;
use crate::id::TrustDomain;
use crate::svid::{SvidError, parse_certificate};

/// The X.509 authorities (CA certificates) of one trust domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustBundle {
    trust_domain: TrustDomain,
    authorities: Vec<CertificateDer<'static>>,
}

impl TrustBundle {
    /// Builds a bundle from DER certificates; each must parse as X.509, and there must be one.
    pub fn from_der(
        trust_domain: TrustDomain,
        authorities: Vec<CertificateDer<'static>>,
    ) -> Result<Self, SvidError> {
        if authorities.is_empty() {
            return Err(SvidError::EmptyChain);
        }
        for (index, cert) in authorities.iter().enumerate() {
            parse_certificate(cert, index)?;
        }
        Ok(Self { trust_domain, authorities })
    }

    /// Builds a bundle from the Workload API encoding (concatenated DER).
    pub fn from_concatenated_der(
        trust_domain: TrustDomain,
        bytes: &[u8],
    ) -> Result<Self, SvidError> {
        Self::from_der(trust_domain, der::split_concatenated_der(bytes)?)
    }

    /// Builds a bundle from a PEM file's contents (one or more `CERTIFICATE` blocks).
    pub fn from_pem(trust_domain: TrustDomain, pem: &[u8]) -> Result<Self, SvidError> {
        Self::from_der(trust_domain, der::certs_from_pem(pem)?)
    }

    /// The trust domain these authorities vouch for.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The CA certificates.
    pub fn authorities(&self) -> &[CertificateDer<'static>] {
        &self.authorities
    }

    /// The authorities as PEM `CERTIFICATE` blocks.
    pub fn to_pem(&self) -> String {
        self.authorities.iter().map(|c| der::pem_encode("CERTIFICATE", c.as_ref())).collect()
    }

    /// The authorities as concatenated DER (the Workload API's bundle encoding).
    pub fn concatenated_der(&self) -> Vec<u8> {
        self.authorities.iter().flat_map(|c| c.as_ref().iter().copied()).collect()
    }
}

/// Bundles for several trust domains: our own plus every federated one.
///
/// A peer is trusted only when the set holds a bundle for the peer's own trust domain; there is no
/// fallback to another domain's authorities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustBundleSet {
    bundles: BTreeMap<TrustDomain, Arc<TrustBundle>>,
}

impl TrustBundleSet {
    /// An empty set (trusts nobody).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the bundle of its trust domain.
    pub fn insert(&mut self, bundle: TrustBundle) {
        self.bundles.insert(bundle.trust_domain.clone(), Arc::new(bundle));
    }

    /// The bundle for `trust_domain`, if we trust that domain.
    pub fn bundle_for(&self, trust_domain: &TrustDomain) -> Option<&Arc<TrustBundle>> {
        self.bundles.get(trust_domain)
    }

    /// The bundle for a trust domain given by name.
    pub fn bundle_for_name(&self, trust_domain: &str) -> Option<&Arc<TrustBundle>> {
        self.bundles.get(trust_domain)
    }

    /// Every bundle, ordered by trust domain.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TrustBundle>> {
        self.bundles.values()
    }

    /// The trust domains in the set.
    pub fn trust_domains(&self) -> impl Iterator<Item = &TrustDomain> {
        self.bundles.keys()
    }

    /// How many trust domains the set holds.
    pub fn len(&self) -> usize {
        self.bundles.len()
    }

    /// True when the set trusts no domain.
    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty()
    }
}

impl FromIterator<TrustBundle> for TrustBundleSet {
    fn from_iter<I: IntoIterator<Item = TrustBundle>>(iter: I) -> Self {
        let mut set = Self::new();
        for bundle in iter {
            set.insert(bundle);
        }
        set
    }
}

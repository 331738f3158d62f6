//! The SPIFFE Workload API messages we serve, written from the public `workload.proto` of the
//! SPIFFE specification (service `SpiffeWorkloadAPI`, no proto package). Only the X.509 profile is
//! served; the JWT methods answer `UNIMPLEMENTED`.

use std::collections::HashMap;

/// `X509SVIDRequest`: no parameters.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct X509SvidRequest {}

/// `X509SVIDResponse`: the SVIDs the workload is entitled to, CRLs, federated bundles.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct X509SvidResponse {
    /// One entry per identity; the first is the default.
    #[prost(message, repeated, tag = "1")]
    pub(super) svids: Vec<X509Svid>,
    /// ASN.1 DER CRLs (we never revoke, so always empty).
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub(super) crl: Vec<Vec<u8>>,
    /// Bundles of foreign trust domains keyed by the domain's SPIFFE ID (`spiffe://td`), DER.
    #[prost(map = "string, bytes", tag = "3")]
    pub(super) federated_bundles: HashMap<String, Vec<u8>>,
}

/// `X509SVID`: one SVID with its key and its trust domain's bundle.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct X509Svid {
    /// The SPIFFE ID.
    #[prost(string, tag = "1")]
    pub(super) spiffe_id: String,
    /// Concatenated DER certificates, leaf first.
    #[prost(bytes = "vec", tag = "2")]
    pub x509_svid: Vec<u8>,
    /// PKCS#8 DER private key.
    #[prost(bytes = "vec", tag = "3")]
    pub x509_svid_key: Vec<u8>,
    /// Concatenated DER bundle of the SVID's trust domain.
    #[prost(bytes = "vec", tag = "4")]
    pub(super) bundle: Vec<u8>,
    /// Operator hint (unused by the dev issuer).
    #[prost(string, tag = "5")]
    pub(super) hint: String,
}

/// `X509BundlesRequest`: no parameters.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct X509BundlesRequest {}

/// `X509BundlesResponse`: every bundle the workload should trust.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct X509BundlesResponse {
    /// ASN.1 DER CRLs.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub(super) crl: Vec<Vec<u8>>,
    /// Bundles keyed by trust domain SPIFFE ID, DER.
    #[prost(map = "string, bytes", tag = "2")]
    pub(super) bundles: HashMap<String, Vec<u8>>,
}

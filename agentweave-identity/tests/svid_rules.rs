//! Every X.509-SVID refusal rule, exercised on forged certificates signed by a real CA.

use std::time::{Duration, SystemTime};

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::test_util::{LeafSpec, forge_leaf};
use agentweave_identity::{SpiffeId, SvidError, TrustBundle, TrustDomain, X509Svid};

const ID: &str = "spiffe://example.org/agent/search";

fn issuer() -> std::sync::Arc<DevIssuer> {
    DevIssuer::start(TrustDomain::new("example.org").unwrap(), DevIssuerConfig::default()).unwrap()
}

#[tokio::test]
async fn a_well_formed_svid_is_accepted_and_exposes_its_parts() {
    let issuer = issuer();
    let forged = forge_leaf(&issuer, &LeafSpec::valid(ID)).unwrap();
    let svid = X509Svid::from_der(forged.chain, &forged.pkcs8_key).unwrap();
    assert_eq!(svid.spiffe_id().as_str(), ID);
    assert!(svid.is_valid_at(SystemTime::now()));
    assert_eq!(svid.serial_hex().len(), 32);
    assert!(!format!("{svid:?}").contains("PRIVATE"), "Debug must not print the key");
}

#[tokio::test]
async fn malformed_svids_are_refused_with_the_rule_they_break() {
    let issuer = issuer();
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    type Check = fn(&SvidError) -> bool;
    let cases: Vec<(&str, LeafSpec, Check)> = vec![
        ("no URI SAN", LeafSpec { uris: vec![], ..LeafSpec::valid(ID) }, |e| {
            matches!(e, SvidError::NoUriSan)
        }),
        (
            "two URI SANs",
            LeafSpec {
                uris: vec![ID.into(), "spiffe://example.org/agent/other".into()],
                ..LeafSpec::valid(ID)
            },
            |e| matches!(e, SvidError::MultipleUriSans { count: 2 }),
        ),
        (
            "non-spiffe URI SAN",
            LeafSpec {
                uris: vec!["https://example.org/agent/search".into()],
                ..LeafSpec::valid(ID)
            },
            |e| matches!(e, SvidError::NotSpiffeUri { .. }),
        ),
        (
            "invalid SPIFFE ID in the SAN",
            LeafSpec { uris: vec!["spiffe://Example.org/x".into()], ..LeafSpec::valid(ID) },
            |e| matches!(e, SvidError::NotSpiffeUri { .. }),
        ),
        (
            "leaf naming a bare trust domain",
            LeafSpec { uris: vec!["spiffe://example.org".into()], ..LeafSpec::valid(ID) },
            |e| matches!(e, SvidError::LeafIdWithoutPath { .. }),
        ),
        ("CA certificate as leaf", LeafSpec { is_ca: true, ..LeafSpec::valid(ID) }, |e| {
            matches!(e, SvidError::LeafIsCa)
        }),
        (
            "expired",
            LeafSpec { not_before: now - 2 * hour, not_after: now - hour, ..LeafSpec::valid(ID) },
            |e| matches!(e, SvidError::Expired { .. }),
        ),
        (
            "not yet valid",
            LeafSpec { not_before: now + hour, not_after: now + 2 * hour, ..LeafSpec::valid(ID) },
            |e| matches!(e, SvidError::NotYetValid { .. }),
        ),
        (
            "key of another certificate",
            LeafSpec { mismatched_key: true, ..LeafSpec::valid(ID) },
            |e| matches!(e, SvidError::KeyMismatch),
        ),
    ];
    for (name, spec, check) in cases {
        let forged = forge_leaf(&issuer, &spec).unwrap();
        let err = X509Svid::from_der(forged.chain, &forged.pkcs8_key).expect_err(name);
        assert!(check(&err), "{name}: unexpected error {err:?}");
        assert!(!err.to_string().is_empty());
    }
}

#[tokio::test]
async fn garbage_material_is_refused() {
    let issuer = issuer();
    let good = forge_leaf(&issuer, &LeafSpec::valid(ID)).unwrap();
    assert!(matches!(X509Svid::from_der(vec![], &good.pkcs8_key), Err(SvidError::EmptyChain)));
    assert!(matches!(
        X509Svid::from_der(vec![vec![0x30, 0x03, 1, 2, 3].into()], &good.pkcs8_key),
        Err(SvidError::BadCertificate { index: 0, .. })
    ));
    assert!(matches!(
        X509Svid::from_der(good.chain.clone(), b"not a key"),
        Err(SvidError::UnsupportedKey)
    ));
    assert!(matches!(
        X509Svid::from_concatenated_der(&[0x30, 0x82, 0xff], &good.pkcs8_key),
        Err(SvidError::MalformedDer { index: 0 })
    ));
    assert!(matches!(X509Svid::from_pem(b"hello", b"world"), Err(SvidError::Pem(_))));
}

#[tokio::test]
async fn pem_and_concatenated_der_round_trip() {
    let issuer = issuer();
    let id = SpiffeId::parse(ID).unwrap();
    let svid = issuer.issue(&id).unwrap();
    let from_pem =
        X509Svid::from_pem(svid.chain_pem().as_bytes(), svid.private_key_pem().as_bytes()).unwrap();
    assert_eq!(from_pem.serial_hex(), svid.serial_hex());
    let from_der = X509Svid::from_concatenated_der(
        &svid.chain_concatenated_der(),
        svid.private_key_pkcs8_der(),
    )
    .unwrap();
    assert_eq!(from_der.chain(), svid.chain());
    let bundle = issuer.bundle();
    let again =
        TrustBundle::from_pem(bundle.trust_domain().clone(), bundle.to_pem().as_bytes()).unwrap();
    assert_eq!(&again, bundle);
}

#[tokio::test]
async fn issued_svids_carry_what_tls_stacks_require() {
    use x509_parser::prelude::*;
    let issuer = issuer();
    let svid = issuer.issue(&SpiffeId::parse(ID).unwrap()).unwrap();
    let (_, leaf) = X509Certificate::from_der(svid.leaf().as_ref()).unwrap();
    let eku = leaf.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth, "both EKUs are required for mTLS");
    assert!(!leaf.basic_constraints().unwrap().unwrap().value.ca, "CA:false must be explicit");
    let lifetime = svid.not_after().duration_since(svid.not_before()).unwrap();
    let config = DevIssuerConfig::default();
    assert_eq!(lifetime, config.svid_ttl + config.backdate);
}

#[tokio::test]
async fn the_issuer_refuses_ids_of_other_trust_domains() {
    let issuer = issuer();
    let foreign = SpiffeId::parse("spiffe://other.org/agent/x").unwrap();
    assert!(issuer.issue(&foreign).is_err());
    assert!(issuer.register(&foreign).is_err());
    let own_bundle = issuer.bundle().clone();
    assert!(issuer.federate_with(own_bundle).is_err(), "cannot federate with ourselves");
}

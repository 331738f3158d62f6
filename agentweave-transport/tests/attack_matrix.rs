//! The attack matrix: every way a peer can fail to prove a SPIFFE identity is refused in the TLS
//! handshake, before the HTTP service sees a request (each test counts requests and asserts 0).

mod common;

use std::time::{Duration, SystemTime};

use agentweave_identity::SvidError;
use agentweave_identity::rustls_pki_types::CertificateDer;
use agentweave_identity::test_util::{LeafSpec, forge_leaf};
use agentweave_transport::{
    Endpoint, ExpectedPeer, HandshakeRefusal, MtlsTransport, Peer, SendOptions, ServerConfig,
    Transport, TransportConfig, TransportError,
};
use bytes::Bytes;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOUR: Duration = Duration::from_secs(3600);

/// A raw client presenting a leaf forged by `env`'s own (trusted) CA.
async fn attack_with_forged(env: &Env, spec: LeafSpec) -> Result<String, String> {
    let forged = forge_leaf(&env.issuer, &spec).unwrap();
    raw_request(env.addr(), raw_client(Some((forged.chain, forged.pkcs8_key)), TLS13)).await
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let env = env().await;
    let result = raw_request(env.addr(), raw_client(None, TLS13)).await;
    assert!(result.is_err(), "{result:?}");
    env.assert_refused(|r| matches!(r, HandshakeRefusal::NoPeerCertificate)).await;
}

#[tokio::test]
async fn a_client_certificate_from_an_untrusted_ca_is_refused() {
    let env = env().await;
    // Same trust domain name, different CA: the name alone proves nothing.
    let rogue = issuer("example.org");
    let result = raw_request(env.addr(), raw_client(Some(issued(&rogue, CLIENT)), TLS13)).await;
    assert!(result.is_err(), "{result:?}");
    env.assert_refused(
        |r| matches!(r, HandshakeRefusal::UntrustedIssuer { spiffe_id } if spiffe_id == CLIENT),
    )
    .await;
}

#[tokio::test]
async fn a_client_from_a_trust_domain_that_is_not_federated_is_refused() {
    let env = env().await;
    let foreign = issuer("partner.org");
    let cert = issued(&foreign, "spiffe://partner.org/agent/client");
    let result = raw_request(env.addr(), raw_client(Some(cert), TLS13)).await;
    assert!(result.is_err(), "{result:?}");
    env.assert_refused(|r| {
        matches!(r, HandshakeRefusal::TrustDomainNotTrusted { trust_domain } if trust_domain == "partner.org")
    })
    .await;
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused() {
    let env = env().await;
    let now = SystemTime::now();
    let spec =
        LeafSpec { not_before: now - 2 * HOUR, not_after: now - HOUR, ..LeafSpec::valid(CLIENT) };
    assert!(attack_with_forged(&env, spec).await.is_err());
    env.assert_refused(|r| matches!(r, HandshakeRefusal::InvalidSvid(SvidError::Expired { .. })))
        .await;
}

#[tokio::test]
async fn a_client_certificate_not_yet_valid_is_refused() {
    let env = env().await;
    let now = SystemTime::now();
    let spec =
        LeafSpec { not_before: now + HOUR, not_after: now + 2 * HOUR, ..LeafSpec::valid(CLIENT) };
    assert!(attack_with_forged(&env, spec).await.is_err());
    env.assert_refused(|r| {
        matches!(r, HandshakeRefusal::InvalidSvid(SvidError::NotYetValid { .. }))
    })
    .await;
}

#[tokio::test]
async fn a_server_presenting_another_spiffe_id_than_expected_is_refused() {
    let env = env().await;
    let client = identity(&env.issuer, CLIENT);
    let transport = MtlsTransport::new(&*client, TransportConfig::default()).unwrap();
    // The server is spiffe://example.org/agent/server, validly signed by our CA: only the
    // expectation differs.
    let expected = ExpectedPeer::exact(id("spiffe://example.org/agent/payments"));
    let peer = Peer::new(Endpoint::from(env.addr()), expected);
    let error = transport
        .send(&peer, http::Request::get("/").body(Bytes::new()).unwrap(), SendOptions::default())
        .await
        .unwrap_err();
    match error {
        TransportError::HandshakeRefused {
            reason: HandshakeRefusal::PeerMismatch { expected, presented },
            ..
        } => {
            assert_eq!(expected, "spiffe://example.org/agent/payments");
            assert_eq!(presented.as_str(), SERVER);
        }
        other => panic!("expected a peer mismatch, got {other:?}"),
    }
    assert_eq!(env.hits(), 0, "no request may reach the server");
    assert_eq!(transport.stats().handshakes_refused, 1);
}

#[tokio::test]
async fn a_certificate_with_two_uri_sans_is_refused() {
    let env = env().await;
    let spec = LeafSpec {
        uris: vec![CLIENT.into(), "spiffe://example.org/agent/admin".into()],
        ..LeafSpec::valid(CLIENT)
    };
    assert!(attack_with_forged(&env, spec).await.is_err());
    env.assert_refused(|r| {
        matches!(r, HandshakeRefusal::InvalidSvid(SvidError::MultipleUriSans { count: 2 }))
    })
    .await;
}

#[tokio::test]
async fn a_certificate_with_a_non_spiffe_uri_san_is_refused() {
    let env = env().await;
    let spec = LeafSpec {
        uris: vec!["https://example.org/agent/client".into()],
        ..LeafSpec::valid(CLIENT)
    };
    assert!(attack_with_forged(&env, spec).await.is_err());
    env.assert_refused(|r| {
        matches!(r, HandshakeRefusal::InvalidSvid(SvidError::NotSpiffeUri { .. }))
    })
    .await;
}

#[tokio::test]
async fn a_ca_certificate_used_as_a_leaf_is_refused() {
    let env = env().await;
    let spec = LeafSpec { is_ca: true, ..LeafSpec::valid(CLIENT) };
    assert!(attack_with_forged(&env, spec).await.is_err());
    env.assert_refused(|r| matches!(r, HandshakeRefusal::InvalidSvid(SvidError::LeafIsCa))).await;
}

#[tokio::test]
async fn a_tls12_only_peer_is_refused_when_tls13_is_required() {
    let env = env().await;
    // A perfectly valid SVID: only the protocol version is wrong.
    let result =
        raw_request(env.addr(), raw_client(Some(issued(&env.issuer, CLIENT)), TLS12)).await;
    assert!(result.is_err(), "{result:?}");
    env.assert_refused(|r| matches!(r, HandshakeRefusal::ProtocolVersion { .. })).await;
}

#[tokio::test]
async fn plain_http_sent_to_the_tls_port_is_refused() {
    let env = env().await;
    let mut tcp = tokio::net::TcpStream::connect(env.addr()).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/"), "the server must not answer in HTTP: {answer:?}");
    env.assert_refused(|r| matches!(r, HandshakeRefusal::NotTls { .. })).await;
}

// Beyond the required matrix: the other X.509-SVID rules and the server's own client policy.

#[tokio::test]
async fn a_certificate_without_a_uri_san_is_refused() {
    let env = env().await;
    let spec = LeafSpec { uris: vec![], ..LeafSpec::valid(CLIENT) };
    assert!(attack_with_forged(&env, spec).await.is_err());
    env.assert_refused(|r| matches!(r, HandshakeRefusal::InvalidSvid(SvidError::NoUriSan))).await;
}

#[tokio::test]
async fn a_leaf_naming_a_bare_trust_domain_is_refused() {
    let env = env().await;
    let spec = LeafSpec { uris: vec!["spiffe://example.org".into()], ..LeafSpec::valid(CLIENT) };
    assert!(attack_with_forged(&env, spec).await.is_err());
    env.assert_refused(|r| {
        matches!(r, HandshakeRefusal::InvalidSvid(SvidError::LeafIdWithoutPath { .. }))
    })
    .await;
}

#[tokio::test]
async fn a_stolen_certificate_without_its_key_is_refused() {
    let env = env().await;
    // The certificate is genuine; the client signs the handshake with another key.
    let spec = LeafSpec { mismatched_key: true, ..LeafSpec::valid(CLIENT) };
    assert!(attack_with_forged(&env, spec).await.is_err());
    let stats = wait_for_refusal(&env.server).await;
    assert_eq!(env.hits(), 0);
    assert_eq!(stats.connections_accepted, 0);
}

#[tokio::test]
async fn a_federated_domains_ca_cannot_vouch_for_our_ids() {
    let env = env().await;
    let partner = issuer("partner.org");
    env.issuer.federate_with(partner.bundle().clone()).unwrap();
    env.server_identity.publish_now().unwrap();
    // Signed by partner.org's (trusted) CA but claiming an example.org ID: verified against
    // example.org's bundle only, so refused.
    let forged = forge_leaf(&partner, &LeafSpec::valid(CLIENT)).unwrap();
    let result =
        raw_request(env.addr(), raw_client(Some((forged.chain, forged.pkcs8_key)), TLS13)).await;
    assert!(result.is_err(), "{result:?}");
    env.assert_refused(|r| matches!(r, HandshakeRefusal::UntrustedIssuer { .. })).await;
}

#[tokio::test]
async fn a_client_outside_the_servers_allowed_set_is_refused() {
    let allowed = ExpectedPeer::exact(id("spiffe://example.org/agent/orchestrator"));
    let env =
        env_with(ServerConfig { allowed_clients: Some(allowed), ..ServerConfig::default() }).await;
    let result =
        raw_request(env.addr(), raw_client(Some(issued(&env.issuer, CLIENT)), TLS13)).await;
    assert!(result.is_err(), "{result:?}");
    env.assert_refused(|r| {
        matches!(r, HandshakeRefusal::PeerMismatch { presented, .. } if presented.as_str() == CLIENT)
    })
    .await;
}

#[tokio::test]
async fn a_valid_client_is_accepted_and_the_service_sees_its_proven_id() {
    let env = env().await;
    let body = raw_request(env.addr(), raw_client(Some(issued(&env.issuer, CLIENT)), TLS13))
        .await
        .unwrap();
    assert!(body.starts_with(&format!("peer={CLIENT};")), "{body}");
    assert_eq!(env.hits(), 1);
    assert_eq!(env.server.stats().handshakes_refused, 0);
}

/// Servers presenting broken SVIDs to our client: refused by the client before any request.
#[tokio::test]
async fn our_client_refuses_servers_with_broken_svids() {
    let ca = issuer("example.org");
    let rogue = issuer("example.org");
    let client_identity = identity(&ca, CLIENT);
    let transport = MtlsTransport::new(&*client_identity, TransportConfig::default()).unwrap();
    let now = SystemTime::now();
    type Check = fn(&HandshakeRefusal) -> bool;
    let forged = |spec: LeafSpec| {
        let f = forge_leaf(&ca, &spec).unwrap();
        (f.chain, f.pkcs8_key)
    };
    type Material = (Vec<CertificateDer<'static>>, Vec<u8>);
    let cases: Vec<(&str, Material, Check)> = vec![
        ("untrusted CA", issued(&rogue, SERVER), |r| {
            matches!(r, HandshakeRefusal::UntrustedIssuer { .. })
        }),
        (
            "expired",
            forged(LeafSpec {
                not_before: now - 2 * HOUR,
                not_after: now - HOUR,
                ..LeafSpec::valid(SERVER)
            }),
            |r| matches!(r, HandshakeRefusal::InvalidSvid(SvidError::Expired { .. })),
        ),
        (
            "not yet valid",
            forged(LeafSpec {
                not_before: now + HOUR,
                not_after: now + 2 * HOUR,
                ..LeafSpec::valid(SERVER)
            }),
            |r| matches!(r, HandshakeRefusal::InvalidSvid(SvidError::NotYetValid { .. })),
        ),
        (
            "two URI SANs",
            forged(LeafSpec {
                uris: vec![SERVER.into(), CLIENT.into()],
                ..LeafSpec::valid(SERVER)
            }),
            |r| matches!(r, HandshakeRefusal::InvalidSvid(SvidError::MultipleUriSans { .. })),
        ),
        (
            "non-spiffe URI",
            forged(LeafSpec {
                uris: vec!["https://example.org/agent/server".into()],
                ..LeafSpec::valid(SERVER)
            }),
            |r| matches!(r, HandshakeRefusal::InvalidSvid(SvidError::NotSpiffeUri { .. })),
        ),
        ("CA as leaf", forged(LeafSpec { is_ca: true, ..LeafSpec::valid(SERVER) }), |r| {
            matches!(r, HandshakeRefusal::InvalidSvid(SvidError::LeafIsCa))
        }),
        (
            "foreign trust domain",
            issued(&issuer("partner.org"), "spiffe://partner.org/agent/server"),
            |r| matches!(r, HandshakeRefusal::TrustDomainNotTrusted { .. }),
        ),
    ];
    for (name, (chain, key), check) in cases {
        let (addr, hits) = raw_server(chain, &key).await;
        let peer = Peer::new(Endpoint::from(addr), ExpectedPeer::member_of(td("example.org")));
        let error = transport
            .send(
                &peer,
                http::Request::get("/").body(Bytes::new()).unwrap(),
                SendOptions::default(),
            )
            .await
            .unwrap_err();
        let reason = error.handshake_refusal().unwrap_or_else(|| panic!("{name}: {error:?}"));
        assert!(check(reason), "{name}: refused for the wrong reason: {reason:?}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "{name}: request leaked");
    }
}

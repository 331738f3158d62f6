//! `SecureAgent::from_config` with the identity and TLS settings the other suites do not use:
//! static PEM files (what an operator mounts when SPIRE is not in reach) and the TLS version
//! floor `server.min_tls_version`, checked by handshakes a client pinned to one version makes.

mod support;
use support::{id, issuer};

use std::path::Path;
use std::sync::Arc;

use agentweave::AgentConfig;
use agentweave::agent::{Capability, HandlerError, SecureAgent};
use agentweave_identity::X509Svid;
use agentweave_transport::test_util::AcceptAnyServer;
use rustls::ProtocolVersion;
use rustls::pki_types::ServerName;
use serde_json::json;

/// Writes payments' SVID, its key and the trust bundle as PEM files into `dir`, and returns
/// the YAML of a development config that reads them, with `server_extra` added to `server:`.
fn static_config(dir: &Path, server_extra: &str) -> String {
    let issuer = issuer();
    let svid = issuer.issue(&id("payments")).unwrap();
    std::fs::write(dir.join("svid.pem"), svid.chain_pem()).unwrap();
    std::fs::write(dir.join("svid.key"), svid.private_key_pem()).unwrap();
    std::fs::write(dir.join("bundle.pem"), issuer.bundle().to_pem()).unwrap();
    let deny =
        "package agentweave.authz\ndefault decision := {\"allow\": false, \"reason\": \"deny\"}\n";
    std::fs::write(dir.join("policy.rego"), deny).unwrap();
    // The client's SVID, from the same issuer, for the handshakes below.
    let client = issuer.issue(&id("orchestrator")).unwrap();
    std::fs::write(dir.join("client.pem"), client.chain_pem()).unwrap();
    std::fs::write(dir.join("client.key"), client.private_key_pem()).unwrap();
    let d = dir.display();
    format!(
        "environment: development\n\
         agent: {{name: payments, spiffe_id: spiffe://example.org/agent/payments}}\n\
         identity:\n  provider: static\n  cert_chain: {d}/svid.pem\n  private_key: {d}/svid.key\n  \
         bundles: [{{trust_domain: example.org, path: {d}/bundle.pem}}]\n\
         server: {{listen: 127.0.0.1:0{server_extra}}}\n\
         authz: {{provider: rego, policies: [{d}/policy.rego], hot_reload: false}}\n\
         audit: {{sink: stdout}}\n"
    )
}

async fn start(yaml: &str) -> SecureAgent {
    let config = AgentConfig::from_yaml_with_env(yaml, &Default::default()).unwrap();
    let echo = Capability::new("echo", |_| async { Ok::<_, HandlerError>(json!({})) });
    SecureAgent::from_config(&config, vec![echo]).await.unwrap()
}

/// A handshake as orchestrator offering only `version`; the negotiated version, or the error.
async fn handshake(
    dir: &Path,
    agent: &SecureAgent,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<ProtocolVersion, std::io::Error> {
    served(dir, agent, version).await.map(|(version, _)| version)
}

/// A handshake as orchestrator offering only `version`: the negotiated version and the leaf
/// certificate the agent presented.
async fn served(
    dir: &Path,
    agent: &SecureAgent,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<(ProtocolVersion, Vec<u8>), std::io::Error> {
    let chain = std::fs::read(dir.join("client.pem")).unwrap();
    let key = std::fs::read(dir.join("client.key")).unwrap();
    let svid = X509Svid::from_pem(&chain, &key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Any server certificate: these handshakes test the server's version floor.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer))
        .with_client_auth_cert(svid.chain().to_vec(), svid.private_key())
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(agent.local_addr()).await?;
    let name = ServerName::try_from("payments.example.org").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
    let session = tls.get_ref().1;
    let leaf = session.peer_certificates().unwrap()[0].to_vec();
    Ok((session.protocol_version().unwrap(), leaf))
}

#[tokio::test]
async fn static_pem_files_give_the_agent_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(&static_config(dir.path(), "")).await;
    assert_eq!(agent.spiffe_id(), &id("payments"));
    assert_eq!(agent.card().spiffe_id(), Some("spiffe://example.org/agent/payments"));
    // The served certificate is the leaf of the files (TLS 1.3, the default floor).
    let (version, leaf) = served(dir.path(), &agent, &rustls::version::TLS13).await.unwrap();
    assert_eq!(version, ProtocolVersion::TLSv1_3);
    let chain = std::fs::read(dir.path().join("svid.pem")).unwrap();
    let key = std::fs::read(dir.path().join("svid.key")).unwrap();
    let files = X509Svid::from_pem(&chain, &key).unwrap();
    assert_eq!(leaf, files.leaf().to_vec(), "the agent serves the SVID from its files");
    agent.stop().await;
}

#[tokio::test]
async fn min_tls_version_sets_the_floor_the_server_accepts() {
    // (server.min_tls_version, client offers, negotiated or refused)
    let cases: [(&str, &'static rustls::SupportedProtocolVersion, Option<ProtocolVersion>); 4] = [
        ("", &rustls::version::TLS12, None),
        ("", &rustls::version::TLS13, Some(ProtocolVersion::TLSv1_3)),
        (", min_tls_version: \"1.2\"", &rustls::version::TLS12, Some(ProtocolVersion::TLSv1_2)),
        (", min_tls_version: \"1.2\"", &rustls::version::TLS13, Some(ProtocolVersion::TLSv1_3)),
    ];
    for (server_extra, offered, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let agent = start(&static_config(dir.path(), server_extra)).await;
        let outcome = handshake(dir.path(), &agent, offered).await.ok();
        assert_eq!(outcome, expected, "server{server_extra:?}, client offers {offered:?}");
        agent.stop().await;
    }
}

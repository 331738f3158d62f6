//! Baselines for benchmarks (feature `test-util`): a private CA and stock rustls configurations
//! that verify it with rustls's own webpki verifiers, so that a bench can measure plain
//! "hyper + rustls mutual TLS" beside our SPIFFE-verifying stack with the same provider (ring),
//! the same key type (P-256) and the same protocol (TLS 1.3).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::tls::crypto_provider;

/// Why a boxed error: this is bench scaffolding; every failure here is a setup fault.
type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// Server and client configurations for mutual TLS between `localhost` (server certificate) and
/// `client.localhost` (client certificate), both issued by a fresh in-memory CA. Session
/// resumption is off on both sides so that every new connection is a full handshake.
pub fn stock_mtls_configs()
-> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>), SetupError> {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca = Issuer::new(ca_params, ca_key);
    let leaf =
        |name: &str| -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), SetupError> {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let mut params = CertificateParams::new(vec![name.to_owned()])?;
            params.extended_key_usages =
                vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
            let cert = params.signed_by(&key, &ca)?;
            Ok((
                CertificateDer::from(cert.der().to_vec()),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            ))
        };
    let (server_cert, server_key) = leaf("localhost")?;
    let (client_cert, client_key) = leaf("client.localhost")?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca_cert.der().to_vec()))?;
    let roots = Arc::new(roots);
    let provider = crypto_provider();
    let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(vec![server_cert], server_key)?;
    server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![client_cert], client_key)?;
    client.resumption = rustls::client::Resumption::disabled();
    Ok((Arc::new(server), Arc::new(client)))
}

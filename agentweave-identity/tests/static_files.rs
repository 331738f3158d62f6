//! `StaticProvider`: PEM files rotated on disk by someone else (cert-manager style).

use std::sync::Arc;
use std::time::Duration;

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig};
use agentweave_identity::{
    IdentityError, IdentityProvider, SpiffeId, StaticFilesConfig, StaticProvider, TrustDomain,
};

struct Files {
    dir: tempfile::TempDir,
    issuer: Arc<DevIssuer>,
    id: SpiffeId,
}

impl Files {
    fn new() -> Self {
        let issuer =
            DevIssuer::start(TrustDomain::new("example.org").unwrap(), DevIssuerConfig::default())
                .unwrap();
        let files = Self {
            dir: tempfile::tempdir().unwrap(),
            issuer,
            id: SpiffeId::parse("spiffe://example.org/agent/payments").unwrap(),
        };
        files.write_new_svid();
        std::fs::write(files.path("bundle.pem"), files.issuer.bundle().to_pem()).unwrap();
        files
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a freshly issued SVID and returns its serial.
    fn write_new_svid(&self) -> String {
        let svid = self.issuer.issue(&self.id).unwrap();
        std::fs::write(self.path("svid.pem"), svid.chain_pem()).unwrap();
        std::fs::write(self.path("key.pem"), svid.private_key_pem()).unwrap();
        svid.serial_hex().to_owned()
    }

    fn config(&self, poll: Duration) -> StaticFilesConfig {
        let mut config = StaticFilesConfig::new(
            self.path("svid.pem"),
            self.path("key.pem"),
            (TrustDomain::new("example.org").unwrap(), self.path("bundle.pem")),
        );
        config.poll_interval = poll;
        config
    }
}

#[tokio::test]
async fn loads_and_follows_rotated_files() {
    let files = Files::new();
    let provider = StaticProvider::load(files.config(Duration::from_millis(50))).await.unwrap();
    assert_eq!(provider.spiffe_id(), files.id);
    let mut watch = provider.watch();
    let new_serial = files.write_new_svid();
    tokio::time::timeout(Duration::from_secs(5), watch.changed())
        .await
        .expect("rotation noticed")
        .unwrap();
    assert_eq!(provider.current().svid.serial_hex(), new_serial);
}

#[tokio::test]
async fn an_invalid_rotation_keeps_the_previous_identity() {
    let files = Files::new();
    let provider = StaticProvider::load(files.config(Duration::ZERO)).await.unwrap();
    let serial = provider.current().svid.serial_hex().to_owned();
    assert!(!provider.reload().await.unwrap(), "unchanged files publish nothing");

    // A key from another SVID: the pair no longer matches.
    let other = files.issuer.issue(&files.id).unwrap();
    std::fs::write(files.path("key.pem"), other.private_key_pem()).unwrap();
    let err = provider.reload().await.unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    assert_eq!(provider.current().svid.serial_hex(), serial, "old identity still in force");

    // A half-written certificate file.
    std::fs::write(files.path("svid.pem"), "-----BEGIN CERTIFICATE-----\nMIIB").unwrap();
    let err = provider.reload().await.unwrap_err();
    assert!(err.to_string().contains("svid.pem"), "the error names the file: {err}");
    assert_eq!(provider.current().svid.serial_hex(), serial);
}

#[tokio::test]
async fn refuses_to_start_without_valid_files() {
    let files = Files::new();
    let mut missing = files.config(Duration::ZERO);
    missing.private_key = files.path("absent.pem");
    let err = StaticProvider::load(missing).await.unwrap_err();
    assert!(
        matches!(err, IdentityError::Io { .. }) && err.to_string().contains("absent.pem"),
        "{err}"
    );

    let mut wrong_domain = files.config(Duration::ZERO);
    wrong_domain.bundles = vec![(TrustDomain::new("other.org").unwrap(), files.path("bundle.pem"))];
    let err = StaticProvider::load(wrong_domain).await.unwrap_err();
    assert!(matches!(err, IdentityError::MissingOwnBundle { .. }), "{err}");
}

//! `StaticProvider`: identity from PEM files on disk, re-read when they change.
//!
//! This is the cert-manager / Kubernetes-secret deployment: something else rotates the files and we
//! follow. We poll the files' contents (default every 5 s) rather than relying on inotify, because
//! Kubernetes swaps a secret volume through a symlink rename that inotify watches on the old target
//! miss. A change that does not parse (a half-written file, a key that does not match its
//! certificate) is logged and the previous identity stays in force, so a rotation in progress never
//! takes the workload down.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::bundle::{TrustBundle, TrustBundleSet};
use crate::error::IdentityError;
use crate::id::TrustDomain;
use crate::provider::{IdentityProvider, IdentityPublisher, IdentitySnapshot};
use crate::svid::X509Svid;

/// Where the PEM files are.
#[derive(Clone, Debug)]
pub struct StaticFilesConfig {
    /// The certificate chain, leaf first (`CERTIFICATE` blocks).
    pub cert_chain: PathBuf,
    /// The PKCS#8 private key (`PRIVATE KEY` block). A warning is logged when others can read it.
    pub private_key: PathBuf,
    /// Trust bundles: `(trust domain, PEM file of CA certificates)`; include our own domain.
    pub bundles: Vec<(TrustDomain, PathBuf)>,
    /// How often to look for changed files. Default: 5 seconds. `Duration::ZERO` disables
    /// watching (use [`StaticProvider::reload`] instead).
    pub poll_interval: Duration,
}

impl StaticFilesConfig {
    /// Files for one trust domain's bundle, polled every 5 seconds.
    pub fn new(
        cert_chain: impl Into<PathBuf>,
        private_key: impl Into<PathBuf>,
        bundle: (TrustDomain, PathBuf),
    ) -> Self {
        Self {
            cert_chain: cert_chain.into(),
            private_key: private_key.into(),
            bundles: vec![bundle],
            poll_interval: Duration::from_secs(5),
        }
    }
}

/// Identity read from PEM files. See the module documentation.
#[derive(Debug)]
pub struct StaticProvider {
    config: StaticFilesConfig,
    publisher: Arc<IdentityPublisher>,
    last_contents: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl StaticProvider {
    /// Reads the files (they must hold a valid identity now) and, unless the poll interval is
    /// zero, starts watching them on the current tokio runtime.
    pub async fn load(config: StaticFilesConfig) -> Result<Arc<Self>, IdentityError> {
        let contents = read_all(&config).await?;
        warn_if_key_readable_by_others(&config.private_key).await;
        let snapshot = parse(&config, &contents)?;
        let provider = Arc::new(Self {
            publisher: Arc::new(IdentityPublisher::new(snapshot)),
            last_contents: std::sync::Mutex::new(contents),
            config,
        });
        if !provider.config.poll_interval.is_zero() {
            tokio::spawn(watch_files(Arc::downgrade(&provider)));
        }
        Ok(provider)
    }

    /// Re-reads the files now. Returns `Ok(true)` when a new identity was published, `Ok(false)`
    /// when nothing changed, and `Err` (keeping the previous identity) when the new files are
    /// invalid.
    pub async fn reload(&self) -> Result<bool, IdentityError> {
        let contents = read_all(&self.config).await?;
        {
            let last = self.last_contents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last == contents {
                return Ok(false);
            }
        }
        let snapshot = parse(&self.config, &contents)?;
        tracing::info!(
            serial = snapshot.svid.serial_hex(),
            "static identity files changed: SVID rotated"
        );
        self.publisher.publish(snapshot);
        *self.last_contents.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = contents;
        Ok(true)
    }
}

impl IdentityProvider for StaticProvider {
    fn watch(&self) -> watch::Receiver<Arc<IdentitySnapshot>> {
        self.publisher.subscribe()
    }
    fn current(&self) -> Arc<IdentitySnapshot> {
        self.publisher.current()
    }
}

async fn watch_files(provider: std::sync::Weak<StaticProvider>) {
    loop {
        let Some(interval) = provider.upgrade().map(|p| p.config.poll_interval) else { return };
        tokio::time::sleep(interval).await;
        let Some(provider) = provider.upgrade() else { return };
        if let Err(error) = provider.reload().await {
            tracing::error!(%error, "static identity files changed but are invalid; keeping the previous identity");
        }
    }
}

async fn read_all(config: &StaticFilesConfig) -> Result<Vec<Vec<u8>>, IdentityError> {
    let mut paths: Vec<&Path> = vec![&config.cert_chain, &config.private_key];
    paths.extend(config.bundles.iter().map(|(_, p)| p.as_path()));
    let mut contents = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| IdentityError::Io { path: path.to_path_buf(), source })?;
        contents.push(bytes);
    }
    Ok(contents)
}

/// `contents` is in `read_all` order: chain, key, then each bundle.
fn parse(
    config: &StaticFilesConfig,
    contents: &[Vec<u8>],
) -> Result<IdentitySnapshot, IdentityError> {
    let file_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IdentityError::File { path, source }
    };
    let [chain, key, bundle_files @ ..] = contents else {
        return Err(IdentityError::Issuer("internal: file list out of order".into()));
    };
    let chain = crate::der::certs_from_pem(chain).map_err(file_error(&config.cert_chain))?;
    let key = crate::der::pkcs8_key_from_pem(key).map_err(file_error(&config.private_key))?;
    let svid = X509Svid::from_der(chain, &key).map_err(file_error(&config.cert_chain))?;
    let mut bundles = TrustBundleSet::new();
    for ((td, path), pem) in config.bundles.iter().zip(bundle_files) {
        bundles.insert(TrustBundle::from_pem(td.clone(), pem).map_err(file_error(path))?);
    }
    IdentitySnapshot::new(svid, bundles)
}

#[cfg(unix)]
async fn warn_if_key_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = tokio::fs::metadata(path).await {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the private key file is readable by group or others; restrict it to the owner (chmod 600)"
            );
        }
    }
}

#[cfg(not(unix))]
async fn warn_if_key_readable_by_others(_path: &Path) {}

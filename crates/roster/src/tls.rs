//! HTTPS: the certificate and key read from their files, a TLS configuration offering
//! TLS 1.2 and 1.3 with HTTP/2 and HTTP/1.1 by ALPN, and a certificate that can be replaced
//! while the server runs. Handshakes ask for the current certificate each time, so a reload
//! changes what new connections see and leaves open connections alone.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// ALPN names, in the server's order of preference.
pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The TLS side of a server: what accepts handshakes, and what a reload swaps.
pub struct Tls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Arc<CurrentCertificate>,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Reads both files and builds the configuration. Every failure names the setting
    /// whose file is at fault.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = certified_key(files, &provider)?;
        let current = Arc::new(CurrentCertificate(RwLock::new(Arc::new(key))));
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
        Ok(Self {
            files: files.clone(),
            provider,
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Reads both files again and, when they make a valid pair, hands the new certificate
    /// to every later handshake. On failure the current certificate stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let key = certified_key(&self.files, &self.provider)?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    /// Reloads on every SIGHUP until the task is dropped, logging each outcome.
    #[cfg(unix)]
    pub async fn reload_on_hangup(self: Arc<Self>) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; the TLS certificate will not be reloaded");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match self.reload() {
                Ok(()) => tracing::info!(
                    cert = %self.files.cert.display(),
                    key = %self.files.key.display(),
                    "SIGHUP: TLS certificate reloaded; new connections use it"
                ),
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "SIGHUP: TLS certificate not reloaded; keeping the current one"
                ),
            }
        }
    }

    /// Without SIGHUP there is nothing to wait for.
    #[cfg(not(unix))]
    pub async fn reload_on_hangup(self: Arc<Self>) {}
}

/// The certificate handshakes are answered with, swapped whole on reload.
struct CurrentCertificate(RwLock<Arc<CertifiedKey>>);

impl std::fmt::Debug for CurrentCertificate {
    // The key never shows, not even its type.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CurrentCertificate")
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.0.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// The certificate chain and its private key, checked to belong together.
fn certified_key(files: &TlsFiles, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let signing_key = provider.key_provider.load_private_key(key).map_err(|_| {
        invalid(
            "tls_key",
            format!(
                "{}: the key is not one TLS can sign with (RSA, ECDSA P-256/P-384 or Ed25519)",
                files.key.display()
            ),
        )
    })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(rustls::Error::InconsistentKeys(_)) => Err(invalid(
            "tls_key",
            format!(
                "{} is not the key of the first certificate in {}",
                files.key.display(),
                files.cert.display()
            ),
        )),
        Err(error) => Err(invalid(
            "tls_cert",
            format!(
                "{}: the first certificate cannot be read: {error}",
                files.cert.display()
            ),
        )),
    }
}

fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let describe = |error: pem::Error| match error {
        pem::Error::Io(error) => invalid(
            "tls_cert",
            format!("cannot read {}: {error}", path.display()),
        ),
        other => invalid(
            "tls_cert",
            format!("{} is not valid PEM: {other}", path.display()),
        ),
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(describe)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(describe)?;
    if chain.is_empty() {
        return Err(invalid(
            "tls_cert",
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(chain)
}

/// Reads the first private key in the file. The reason a key file is refused never quotes
/// the file: its lines are the secret.
fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| {
        let reason = match error {
            pem::Error::Io(error) => format!("cannot read {}: {error}", path.display()),
            pem::Error::NoItemsFound => format!(
                "{} holds no PEM private key (PKCS#8, RSA or EC)",
                path.display()
            ),
            _ => format!("{} is not valid PEM", path.display()),
        };
        invalid("tls_key", reason)
    })
}

fn invalid(setting: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("invalid setting {setting}: {reason}")
}

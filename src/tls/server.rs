//! Terminating TLS from clients: wstap as the TLS server (`record --tls`,
//! `--proxy` interception, `replay --tls`, `serve --tls`).
//!
//! The certificate is either the user's (`--cert FILE --key FILE`, a PEM
//! chain and key) or minted by wstap's CA ([`super::ca`]) for the server
//! name the client asks for (SNI), falling back to a name the caller gives
//! (the listen address, or a `CONNECT` target). ALPN offers `http/1.1`.
//! The handshake is bounded by [`HANDSHAKE_TIMEOUT`] and runs in the
//! connection's own task.

use super::ca::Ca;
use super::{HANDSHAKE_TIMEOUT, TlsFailure, failure, info_of, provider, x509};
use crate::session::{CertInfo, TlsClose, TlsInfo, TlsLeg};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{KeyLog, ServerConfig};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Where the server certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// The user's certificate chain and key.
    Fixed(Arc<CertifiedKey>),
    /// Minted by wstap's CA per server name.
    Ca(Arc<Ca>),
}

impl CertSource {
    /// Loads `--cert` and `--key`. Errors name the file.
    pub fn from_files(cert: &Path, key: &Path) -> Result<CertSource, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("--cert {}: {e}", cert.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--cert {}: not a PEM certificate file: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("--cert {}: no PEM certificate in the file", cert.display()));
        }
        let der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("--key {}: not a PEM private key file: {e}", key.display()))?;
        let signing = provider()
            .key_provider
            .load_private_key(der)
            .map_err(|e| format!("--key {}: unusable key: {e}", key.display()))?;
        let certified = CertifiedKey::new(chain, signing);
        certified
            .keys_match()
            .map_err(|e| format!("--key {} does not match --cert {}: {e}", key.display(), cert.display()))?;
        Ok(CertSource::Fixed(Arc::new(certified)))
    }

    fn for_name(&self, name: &str) -> Result<Arc<CertifiedKey>, String> {
        match self {
            CertSource::Fixed(k) => Ok(k.clone()),
            CertSource::Ca(ca) => ca.leaf(name),
        }
    }
}

#[derive(Debug)]
struct Resolver {
    source: CertSource,
    fallback: String,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().unwrap_or(&self.fallback);
        match self.source.for_name(name) {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        }
    }
}

/// TLS termination settings shared by every connection of a listener.
#[derive(Clone, Debug)]
pub struct ServerTls {
    source: CertSource,
    fallback: String,
    keylog: Option<Arc<dyn KeyLog>>,
    config: Arc<ServerConfig>,
}

impl ServerTls {
    /// Terminates with certificates from `source`; a client that sends no
    /// SNI gets one for `fallback` (the listen address, say).
    pub fn new(source: CertSource, fallback: &str, keylog: Option<Arc<dyn KeyLog>>) -> ServerTls {
        let config = config(&source, fallback, keylog.as_ref());
        ServerTls { source, fallback: fallback.to_string(), keylog, config }
    }

    /// Runs the handshake with a client over `tcp`; `fallback` overrides
    /// the name used when the client sends no SNI.
    pub async fn accept(
        &self,
        tcp: TcpStream,
        fallback: Option<&str>,
    ) -> Result<(tokio_rustls::TlsStream<TcpStream>, TlsInfo), TlsFailure> {
        let config = match fallback {
            Some(name) if name != self.fallback => config(&self.source, name, self.keylog.as_ref()),
            _ => self.config.clone(),
        };
        let peer = tcp.peer_addr().map_or_else(|_| "the client".to_string(), |a| format!("the client {a}"));
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Err(_) => {
                let detail = format!("TLS handshake with {peer} timed out after {} s", HANDSHAKE_TIMEOUT.as_secs());
                return Err(TlsFailure { how: TlsClose::Failed, detail });
            }
            // The name the client asked for is not known when its hello failed.
            Ok(Err(e)) => return Err(failure(&e, "", "the client")),
            Ok(Ok(s)) => s,
        };
        let (_, conn) = stream.get_ref();
        let sni = conn.server_name().map(str::to_string);
        let name = sni.clone().unwrap_or_else(|| fallback.unwrap_or(&self.fallback).to_string());
        let presented = self.presented(&name);
        let info = info_of(TlsLeg::Client, conn, sni, presented);
        Ok((tokio_rustls::TlsStream::Server(stream), info))
    }

    fn presented(&self, name: &str) -> Option<CertInfo> {
        let key = self.source.for_name(name).ok()?;
        key.cert.first().and_then(|der| x509::cert_info(der))
    }
}

fn config(source: &CertSource, fallback: &str, keylog: Option<&Arc<dyn KeyLog>>) -> Arc<ServerConfig> {
    let resolver = Resolver { source: source.clone(), fallback: fallback.to_string() };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if let Some(k) = keylog {
        config.key_log = k.clone();
    }
    Arc::new(config)
}

//! TLS to `wss://` upstreams: wstap as the TLS client.
//!
//! The server's certificate is verified against the machine's roots (the
//! same store curl and python use, read by rustls-native-certs) plus any
//! `--upstream-ca` files; `--insecure-upstream` skips verification and
//! says so on every connection. SNI is the upstream's host name, ALPN
//! offers `http/1.1` only (WebSocket upgrades are HTTP/1.1). A handshake
//! runs inside its connection's own task and is bounded by
//! [`HANDSHAKE_TIMEOUT`], so it never holds up other connections or the
//! accept loop.

use super::{failure, info_of, peer_cert, provider};
use crate::net::{Host, Target};
use crate::session::{TlsClose, TlsInfo, TlsLeg};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Longest a TLS handshake (either leg) may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How to check upstream servers.
#[derive(Clone, Debug, Default)]
pub struct UpstreamOptions {
    /// PEM files of extra trusted roots (`--upstream-ca`).
    pub extra_roots: Vec<PathBuf>,
    /// Skip certificate verification (`--insecure-upstream`).
    pub insecure: bool,
    /// Where to write key-log lines, if anywhere.
    pub keylog: Option<Arc<dyn rustls::KeyLog>>,
}

/// A ready client configuration for upstream TLS.
#[derive(Clone, Debug)]
pub struct UpstreamTls {
    config: Arc<ClientConfig>,
    /// True when certificates are not verified.
    pub insecure: bool,
}

/// Why a TLS handshake failed, as recorded and reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFailure {
    /// An alert from the peer, or a failure on our side.
    pub how: TlsClose,
    /// What happened, naming the host.
    pub detail: String,
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl UpstreamTls {
    /// Loads the roots and builds the configuration. Errors name the file.
    pub fn new(options: &UpstreamOptions) -> Result<UpstreamTls, String> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let mut config = if options.insecure {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification)).with_no_client_auth()
        } else {
            builder.with_root_certificates(roots(&options.extra_roots)?).with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if let Some(keylog) = &options.keylog {
            config.key_log = keylog.clone();
        }
        Ok(UpstreamTls { config: Arc::new(config), insecure: options.insecure })
    }

    /// Runs the handshake with `target` over `tcp`.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        target: &Target,
    ) -> Result<(tokio_rustls::TlsStream<TcpStream>, TlsInfo), TlsFailure> {
        let name = match &target.host {
            Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
            Host::Name(n) => ServerName::try_from(n.clone()).map_err(|e| TlsFailure {
                how: TlsClose::Failed,
                detail: format!("{n} cannot be a TLS server name: {e}"),
            })?,
        };
        let host = target.host.to_string();
        let connector = TlsConnector::from(self.config.clone());
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
            Err(_) => {
                let detail = format!("TLS handshake with {host} timed out after {} s", HANDSHAKE_TIMEOUT.as_secs());
                return Err(TlsFailure { how: TlsClose::Failed, detail });
            }
            Ok(Err(e)) => return Err(failure(&e, &host, "the server")),
            Ok(Ok(s)) => s,
        };
        let (_, conn) = stream.get_ref();
        let sni = target.name().map(str::to_string);
        let info = info_of(TlsLeg::Upstream, conn, sni, peer_cert(conn));
        Ok((tokio_rustls::TlsStream::Client(stream), info))
    }
}

/// The machine's roots plus `extra` PEM files.
fn roots(extra: &[PathBuf]) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = store.add_parsable_certificates(native.certs);
    if added == 0 && extra.is_empty() {
        tracing::warn!("no trusted roots found on this machine; wss upstreams will fail unless --upstream-ca is given");
    }
    for path in extra {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("--upstream-ca {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--upstream-ca {}: not a PEM certificate file: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("--upstream-ca {}: no PEM certificate in the file", path.display()));
        }
        for cert in certs {
            store.add(cert).map_err(|e| format!("--upstream-ca {}: {e}", path.display()))?;
        }
    }
    Ok(store)
}

/// `--insecure-upstream`: any certificate is accepted; the handshake's
/// signatures are still checked, so the key exchange is real.
#[derive(Debug)]
struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

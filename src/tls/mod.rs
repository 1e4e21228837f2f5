//! TLS at the edge: originating TLS to `wss://` upstreams, terminating it
//! from clients, wstap's own certificate authority, key logging.
//!
//! rustls with the *ring* provider only (see `docs/tls.md` for why): no
//! OpenSSL, no aws-lc. The relay and the recorder never see ciphertext:
//! a TLS connection reaches them as a [`Duplex`](crate::net::stream::Duplex)
//! of plaintext, and what the handshake settled is recorded as a `tls`
//! event ([`crate::session::TlsInfo`]).

/// The name of a TLS alert as the RFCs spell it (`bad_certificate`).
/// (see [`failure`] for handshakes).
pub fn alert_name(alert: rustls::AlertDescription) -> String {
    let debug = format!("{alert:?}");
    // rustls spells them in CamelCase (`BadCertificate`): snake_case them.
    let mut out = String::with_capacity(debug.len() + 4);
    let mut prev_lower = false;
    for c in debug.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

pub mod ca;
pub mod client;
pub mod hello;
pub mod keylog;
pub mod server;
pub mod x509;

use crate::session::{CertInfo, TlsClose, TlsInfo, TlsLeg};
pub use ca::Ca;
pub use client::{HANDSHAKE_TIMEOUT, TlsFailure, UpstreamOptions, UpstreamTls};
pub use keylog::KeyLogFile;
use rustls::CertificateError;
use rustls::crypto::CryptoProvider;
pub use server::{CertSource, ServerTls};
use std::sync::{Arc, OnceLock};

/// The one crypto provider wstap uses: *ring*. Configurations are built
/// with it explicitly, so no process-wide default is needed.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// The facts of a completed handshake.
pub(crate) fn info_of(
    leg: TlsLeg,
    state: &rustls::CommonState,
    sni: Option<String>,
    server_cert: Option<CertInfo>,
) -> TlsInfo {
    let version = state.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        other => format!("{other:?}"),
    });
    let cipher_suite = state.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite()));
    let alpn = state.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
    TlsInfo { leg, version, cipher_suite, sni, alpn, server_cert }
}

/// The certificate a TLS client saw from its server.
pub(crate) fn peer_cert(state: &rustls::CommonState) -> Option<CertInfo> {
    state.peer_certificates().and_then(|chain| chain.first()).and_then(|der| x509::cert_info(der))
}

/// A failed handshake with `host` as a recorded ending and a clear message.
/// `peer` says who the other end is ("the server", "the client").
pub(crate) fn failure(e: &std::io::Error, host: &str, peer: &str) -> TlsFailure {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let with = if host.is_empty() { peer } else { host };
    match inner {
        Some(rustls::Error::AlertReceived(alert)) => TlsFailure {
            how: TlsClose::Alert,
            detail: format!(
                "{peer} refused the TLS handshake{} with the alert {}{}",
                if host.is_empty() { String::new() } else { format!(" for {host}") },
                alert_name(*alert),
                alert_hint(*alert, peer)
            ),
        },
        Some(rustls::Error::InvalidCertificate(ce)) => TlsFailure {
            how: TlsClose::Failed,
            detail: format!(
                "certificate verification failed for {host}: {} ({})",
                cert_reason(ce, host),
                inner_text(e)
            ),
        },
        Some(other) => {
            TlsFailure { how: TlsClose::Failed, detail: format!("TLS handshake with {with} failed: {other}") }
        }
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => TlsFailure {
            how: TlsClose::Failed,
            detail: format!("TLS handshake with {with} failed: {peer} closed the connection (is it speaking TLS?)"),
        },
        None => TlsFailure { how: TlsClose::Failed, detail: format!("TLS handshake with {with} failed: {e}") },
    }
}

fn inner_text(e: &std::io::Error) -> String {
    e.get_ref().map_or_else(|| e.to_string(), |i| i.to_string())
}

fn cert_reason(e: &CertificateError, host: &str) -> String {
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "the certificate has expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the certificate is not valid yet".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("the certificate is not valid for the name {host}")
        }
        CertificateError::UnknownIssuer => {
            "the certificate's issuer is not trusted (not in this machine's roots nor in --upstream-ca)".into()
        }
        CertificateError::BadSignature => "the certificate's signature does not verify".into(),
        CertificateError::Revoked => "the certificate has been revoked".into(),
        other => format!("{other:?}"),
    }
}

fn alert_hint(alert: rustls::AlertDescription, peer: &str) -> &'static str {
    use rustls::AlertDescription as A;
    match alert {
        A::UnknownCA | A::BadCertificate | A::CertificateUnknown if peer == "the client" => {
            " (the client does not trust wstap's certificate: see `wstap ca` for how to trust wstap's CA)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alerts_are_named_as_the_rfcs_spell_them() {
        use rustls::AlertDescription as A;
        assert_eq!(super::alert_name(A::UnknownCA), "unknown_ca");
        assert_eq!(super::alert_name(A::BadCertificate), "bad_certificate");
        assert_eq!(super::alert_name(A::NoApplicationProtocol), "no_application_protocol");
    }
}

//! TLS facts in a recording: what each TLS leg negotiated and how it ended.
//!
//! wstap records the *decrypted* stream, exactly as for ws; these events
//! say what the encryption around it was. A leg is one TLS session:
//! `client` between the client and wstap (`record --tls`, `--proxy`
//! interception, `replay --tls`), `upstream` between wstap and the server
//! (`--upstream wss://…`), and `passthrough` for a TLS stream wstap saw but
//! did not decrypt (only its ClientHello was read).

use serde::{Deserialize, Serialize};

/// Which TLS session an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsLeg {
    /// Between the client and wstap (wstap is the TLS server).
    Client,
    /// Between wstap and the server (wstap is the TLS client).
    Upstream,
    /// A TLS stream relayed without decryption.
    Passthrough,
}

impl TlsLeg {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsLeg::Client => "client",
            TlsLeg::Upstream => "upstream",
            TlsLeg::Passthrough => "passthrough",
        }
    }
}

/// What a TLS handshake settled (a `tls` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// The leg.
    pub leg: TlsLeg,
    /// Protocol version, e.g. `TLSv1.3`; absent for a passthrough stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Cipher suite, IANA name (`TLS13_AES_128_GCM_SHA256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// The server name the client asked for (SNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The application protocol agreed by ALPN (`http/1.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The certificate the TLS server of this leg presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cert: Option<CertInfo>,
}

/// Subject and issuer of a certificate, as RFC 4514 strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// The subject's distinguished name (`CN=localhost,O=…`).
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
}

/// How a TLS leg ended (a `tls_end` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsClose {
    /// The sender ended with a close_notify alert: an orderly TLS close.
    CloseNotify,
    /// TCP ended without a close_notify (a truncation attack looks the same).
    NoCloseNotify,
    /// The sender sent a fatal alert (named in `detail`).
    Alert,
    /// The handshake or the session failed on wstap's side (a certificate
    /// that does not verify, a protocol error); `detail` says why.
    Failed,
}

impl TlsClose {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsClose::CloseNotify => "close_notify",
            TlsClose::NoCloseNotify => "no_close_notify",
            TlsClose::Alert => "alert",
            TlsClose::Failed => "failed",
        }
    }
}

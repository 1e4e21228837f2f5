//! TLS at the edge: originating TLS to `wss://` upstreams, terminating it
//! from clients, wstap's own certificate authority, key logging.
//!
//! rustls with the *ring* provider only (see `docs/tls.md` for why): no
//! OpenSSL, no aws-lc. The relay and the recorder never see ciphertext:
//! a TLS connection reaches them as a [`Duplex`](crate::net::stream::Duplex)
//! of plaintext, and what the handshake settled is recorded as a `tls`
//! event ([`crate::session::TlsInfo`]).

/// The name of a TLS alert as the RFCs spell it (`bad_certificate`).
pub fn alert_name(alert: rustls::AlertDescription) -> String {
    let debug = format!("{alert:?}");
    // rustls spells them in CamelCase (`BadCertificate`): snake_case them.
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

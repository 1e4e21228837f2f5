//! Recognising a TLS ClientHello and the server name it asks for, from the
//! first bytes of a stream, without decrypting anything.
//!
//! Used to name a TLS stream that wstap does not terminate (a `--proxy`
//! tunnel passed through, or a client speaking TLS to a plaintext listener)
//! as TLS in the recording, and to pick the certificate name for `--proxy`
//! interception. Pure and total: any bytes give an answer, never a panic.

/// What the first bytes of a stream say about TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hello {
    /// Not a TLS handshake record.
    NotTls,
    /// A TLS handshake record, too short yet to read the server name.
    Partial,
    /// A ClientHello, with its SNI if it has one.
    ClientHello {
        /// The server name asked for.
        sni: Option<String>,
    },
}

/// Reads the start of a stream.
pub fn parse(bytes: &[u8]) -> Hello {
    // Record header: type 22 (handshake), version 3.x, length.
    match bytes {
        [t, ..] if *t != 22 => return Hello::NotTls,
        [_, v, ..] if *v != 3 => return Hello::NotTls,
        _ if bytes.len() < 6 => return Hello::Partial,
        _ => {}
    }
    let record_len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    let body = &bytes[5..];
    if body[0] != 1 {
        return Hello::NotTls; // a handshake record, but not a ClientHello
    }
    match sni(&body[..body.len().min(record_len)]) {
        Some(found) => Hello::ClientHello { sni: found },
        None if body.len() < record_len => Hello::Partial,
        None => Hello::ClientHello { sni: None },
    }
}

/// The SNI of a ClientHello handshake message: `Some(None)` if it has
/// none, `None` if the message is cut short.
fn sni(msg: &[u8]) -> Option<Option<String>> {
    let mut r = Reader(msg);
    r.take(4)?; // handshake type, length
    r.take(2 + 32)?; // client_version, random
    let session = r.u8()?;
    r.take(session.into())?;
    let suites = r.u16()?;
    r.take(suites.into())?;
    let compression = r.u8()?;
    r.take(compression.into())?;
    if r.0.is_empty() {
        return Some(None);
    }
    let ext_len = r.u16()?;
    let mut exts = Reader(r.take(ext_len.into())?);
    while !exts.0.is_empty() {
        let (kind, len) = (exts.u16()?, exts.u16()?);
        let data = exts.take(len.into())?;
        if kind == 0 {
            let mut list = Reader(data);
            list.u16()?;
            while !list.0.is_empty() {
                let (name_type, len) = (list.u8()?, list.u16()?);
                let name = list.take(len.into())?;
                if name_type == 0 {
                    return Some(Some(String::from_utf8_lossy(name).into_owned()));
                }
            }
        }
    }
    Some(None)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real ClientHello, from rustls, for `name`.
    fn client_hello(name: &str) -> Vec<u8> {
        let config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let server = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), server).unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn the_server_name_is_read_from_a_real_hello() {
        let hello = client_hello("example.com");
        assert_eq!(parse(&hello), Hello::ClientHello { sni: Some("example.com".into()) });
        for cut in [1, 3, 5, 20, hello.len() - 1] {
            assert_eq!(parse(&hello[..cut]), Hello::Partial, "cut at {cut}");
        }
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        assert_eq!(parse(&[22, 9, 9]), Hello::NotTls);
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| if i < 2 { [22, 3][i] } else { (i * 37) as u8 }).collect();
            let _ = parse(&bytes);
        }
    }
}

//! The HTTP/1.1 upgrade (RFC 6455 §4): finding, parsing and checking heads.
//!
//! Heads are kept byte-exact by the caller; this module only reads them.
//! Limits are explicit because httparse puts none on the total head size.

use base64::Engine;
use sha1::{Digest, Sha1};

/// Longest HTTP head accepted before the stream is treated as raw bytes.
pub const MAX_HEAD_LEN: usize = 64 * 1024;

/// Most header lines parsed in one head (tungstenite uses the same bound).
pub const MAX_HEADERS: usize = 124;

/// The GUID appended to the key when deriving Sec-WebSocket-Accept.
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Where an HTTP head ends in `buf`: the index just past the blank line.
/// Accepts CRLF and bare LF line endings. `None` if not there yet.
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(nl) = buf[i..].iter().position(|&b| b == b'\n') {
        let at = i + nl + 1;
        match buf.get(at..) {
            Some([b'\n', ..]) => return Some(at + 1),
            Some([b'\r', b'\n', ..]) => return Some(at + 2),
            _ => i = at,
        }
    }
    None
}

/// A parsed request or response head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Request method (`GET`), empty for responses.
    pub method: String,
    /// Request target, empty for responses.
    pub path: String,
    /// Response status code, 0 for requests.
    pub status: u16,
    /// Header names and raw values in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    /// Parses a complete request head.
    pub fn parse_request(head: &[u8]) -> Result<Head, String> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut storage);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => Ok(Head {
                method: req.method.unwrap_or_default().to_string(),
                path: req.path.unwrap_or_default().to_string(),
                status: 0,
                headers: collect(req.headers),
            }),
            Ok(httparse::Status::Partial) => Err("incomplete request head".into()),
            Err(e) => Err(format!("not an HTTP request: {e}")),
        }
    }

    /// Parses a complete response head.
    pub fn parse_response(head: &[u8]) -> Result<Head, String> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut storage);
        match resp.parse(head) {
            Ok(httparse::Status::Complete(_)) => {
                Ok(Head { status: resp.code.unwrap_or(0), headers: collect(resp.headers), ..Head::default() })
            }
            Ok(httparse::Status::Partial) => Err("incomplete response head".into()),
            Err(e) => Err(format!("not an HTTP response: {e}")),
        }
    }

    /// Every value of a header (case-insensitive name), joined by ", ".
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// True if a comma-separated header contains `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// True for a request asking to upgrade to WebSocket.
    pub fn is_websocket_request(&self) -> bool {
        self.method == "GET"
            && self.has_token("upgrade", "websocket")
            && self.has_token("connection", "upgrade")
            && self.header("sec-websocket-key").is_some()
    }

    /// True for a 101 response that switches to WebSocket.
    pub fn is_websocket_response(&self) -> bool {
        self.status == 101 && self.has_token("upgrade", "websocket")
    }
}

fn collect(headers: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect()
}

/// Derives Sec-WebSocket-Accept from Sec-WebSocket-Key.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// One extension from a Sec-WebSocket-Extensions header, with its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order; a value is `None` for a bare flag.
    pub params: Vec<(String, Option<String>)>,
}

impl Extension {
    /// The value of a parameter, `Some(None)` for a bare flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_deref())
    }
}

/// Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1).
pub fn parse_extensions(value: &str) -> Vec<Extension> {
    value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().filter(|n| !n.is_empty())?.to_ascii_lowercase();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.trim().to_string(), Some(v.trim().trim_matches('"').to_string())),
                    None => (p.to_string(), None),
                })
                .collect();
            Some(Extension { name, params })
        })
        .collect()
}

/// What the server accepted in its 101 response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// Extensions the server accepted, in order.
    pub extensions: Vec<Extension>,
    /// The selected subprotocol.
    pub protocol: Option<String>,
}

impl Negotiated {
    /// Reads the negotiation out of a 101 response.
    pub fn from_response(response: &Head) -> Negotiated {
        Negotiated {
            extensions: response.header("sec-websocket-extensions").map(|v| parse_extensions(&v)).unwrap_or_default(),
            protocol: response.header("sec-websocket-protocol"),
        }
    }

    /// The permessage-deflate agreement, if one was made.
    pub fn deflate(&self) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.name == "permessage-deflate")
    }

    /// RSV bits the negotiated extensions may use. permessage-deflate owns
    /// RSV1; any extension wstap does not know may use all three.
    pub fn allowed_rsv(&self) -> u8 {
        self.extensions.iter().fold(0, |bits, e| match e.name.as_str() {
            "permessage-deflate" => bits | 0b100,
            _ => 0b111,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn rfc6455_accept_example() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn finds_head_end_with_either_line_ending() {
        assert_eq!(find_head_end(REQUEST), Some(REQUEST.len()));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nA: b\n\nrest"), Some(21));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }

    #[test]
    fn upgrade_request_and_response() {
        let req = Head::parse_request(REQUEST).unwrap();
        assert!(req.is_websocket_request());
        let resp = Head::parse_response(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10; server_no_context_takeover\r\n\r\n",
        )
        .unwrap();
        assert!(resp.is_websocket_response());
        let neg = Negotiated::from_response(&resp);
        let pmd = neg.deflate().unwrap();
        assert_eq!(pmd.param("client_max_window_bits"), Some(Some("10")));
        assert_eq!(pmd.param("server_no_context_takeover"), Some(None));
        assert_eq!(neg.allowed_rsv(), 0b100);
        assert!(Head::parse_request(b"\x16\x03\x01garbage\r\n\r\n").is_err());
    }
}

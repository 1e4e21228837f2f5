//! `record --proxy`: the listen port is an HTTP forward proxy.
//!
//! Clients configured with `HTTPS_PROXY`/`HTTP_PROXY` (or an agent) send
//! either `CONNECT host:port` (a tunnel; wss and anything else over TLS)
//! or an absolute-URI request, `GET http://host/path` (plain ws). Each
//! becomes one connection, one recording, whose `upstream` names the
//! target.
//!
//! - `CONNECT`: the target is connected first (a failure answers `502` with
//!   the reason, and is recorded); then `200`, and the tunnel's first bytes
//!   are looked at without consuming them. A TLS ClientHello is
//!   **intercepted** by default: wstap answers with a certificate for the
//!   name asked for (SNI, else the CONNECT host) from its CA, and speaks
//!   TLS to the target itself (verified as for `wss://` upstreams), so the
//!   recording holds the decrypted WebSocket stream. Hosts matching a
//!   `--no-intercept` glob are passed through byte for byte, recorded raw
//!   and named as TLS. Anything that is not TLS is relayed and decoded as
//!   usual.
//! - Absolute URI: the request is forwarded with its request-target in
//!   origin form (`GET /path`), a recorded rewrite; the rest is unchanged.
//!
//! The `CONNECT` request and its `200` are the proxy protocol, not part of
//! the tunnel: the recording starts with the tunnel's bytes and notes the
//! request (`proxy_connect`).

use crate::net::Target;
use crate::wire::{Head, MAX_HEAD_LEN, find_head_end};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Longest wait for a client's proxy request, and for a tunnel's first bytes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `--proxy` settings.
#[derive(Clone, Debug, Default)]
pub struct ForwardOptions {
    /// Host globs whose TLS is passed through, not intercepted.
    pub no_intercept: Vec<String>,
}

/// What a proxy client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyRequest {
    /// `CONNECT host:port`: a tunnel; the head was consumed.
    Connect(Target),
    /// `GET http://host[:port]/path`: forward with the request-target in
    /// origin form; the head is still unread (the relay forwards it).
    Absolute(Target),
}

/// Reads the client's proxy request. A `CONNECT` head is consumed; an
/// absolute-URI request is only peeked at (the relay forwards it).
pub async fn read_request(client: &mut TcpStream) -> Result<ProxyRequest, String> {
    let head = tokio::time::timeout(REQUEST_TIMEOUT, peek_until(client, |b| find_head_end(b).is_some()))
        .await
        .map_err(|_| format!("no proxy request within {} s", REQUEST_TIMEOUT.as_secs()))??;
    let end = find_head_end(&head).ok_or_else(|| format!("no end of the request head within {MAX_HEAD_LEN} bytes"))?;
    let parsed = Head::parse_request(&head[..end])?;
    let (method, target) = (parsed.method.as_str(), parsed.path.as_str());
    if method.eq_ignore_ascii_case("CONNECT") {
        let target = Target::parse(target).map_err(|e| format!("CONNECT target: {e}"))?;
        let mut consumed = vec![0u8; end];
        client.read_exact(&mut consumed).await.map_err(|e| e.to_string())?;
        return Ok(ProxyRequest::Connect(target));
    }
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("ws://") {
        let url = format!("ws://{}", &target[target.find("://").unwrap_or(0) + 3..]);
        return Ok(ProxyRequest::Absolute(Target::parse(&url)?));
    }
    Err(format!(
        "not a proxy request ({method} {target}): a proxy client sends CONNECT host:port or GET http://host/path"
    ))
}

/// Peeks at what the client has sent until `done` says it is enough (or
/// [`MAX_HEAD_LEN`] bytes are there), without consuming it.
pub async fn peek_until(stream: &TcpStream, done: impl Fn(&[u8]) -> bool) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; MAX_HEAD_LEN + 1];
    let mut last = 0;
    loop {
        let n = stream.peek(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the client closed the connection before its request".into());
        }
        if done(&buf[..n]) || n > MAX_HEAD_LEN {
            buf.truncate(n);
            return Ok(buf);
        }
        if n == last {
            // More is on its way: peek returns at once while data is queued.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        last = n;
    }
}

/// True if `host` matches the glob `pattern` (`*` any run, `?` one
/// character; case-insensitive), as `--no-intercept` patterns do.
pub fn glob_match(pattern: &str, host: &str) -> bool {
    fn go(p: &[u8], h: &[u8]) -> bool {
        match (p.first(), h.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], h) || (!h.is_empty() && go(p, &h[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &h[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &h[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), host.as_bytes())
}

/// The response to a failed CONNECT.
pub fn bad_gateway(why: &str) -> Vec<u8> {
    let body = format!("wstap: {why}\n");
    format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The response to a request that is not a proxy request.
pub fn bad_request(why: &str) -> Vec<u8> {
    let body = format!("wstap: {why}\n");
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The response that opens a tunnel.
pub const CONNECTED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_intercept_globs() {
        assert!(glob_match("*.example.com", "api.Example.com"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(glob_match("example.???", "example.org"));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("a*b", "ac"));
    }
}

//! Where to connect and where to listen, as the user writes them.
//!
//! `--upstream` takes `HOST:PORT`, `[v6]:PORT`, `ws://HOST[:PORT][/...]`
//! and `wss://HOST[:PORT][/...]` (default ports 80 and 443). A name is kept
//! as a name: it is resolved for each connection ([`super::connect`]), so a
//! server whose address changes is followed, and a name that does not
//! resolve yet is not an error at startup. `--listen` takes `HOST:PORT`
//! and `:PORT` (loopback).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A host as written: an IP literal or a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A DNS name (lowercased), resolved per connection.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// An upstream: host, port, and whether to speak TLS to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
    /// True for `wss://`: wstap originates TLS to the server.
    pub tls: bool,
}

impl Target {
    /// A plaintext target at a socket address.
    pub fn addr(addr: SocketAddr) -> Target {
        Target { host: Host::Ip(addr.ip().to_canonical()), port: addr.port(), tls: false }
    }

    /// Parses `HOST:PORT`, `[v6]:PORT`, `ws://HOST[:PORT][/path]` or
    /// `wss://HOST[:PORT][/path]`. The path of a URL is ignored (the
    /// client's request line is forwarded as sent).
    pub fn parse(text: &str) -> Result<Target, String> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let (rest, tls, default_port) = if lower.starts_with("wss://") {
            (&t[6..], true, Some(443))
        } else if lower.starts_with("ws://") {
            (&t[5..], false, Some(80))
        } else if let Some((scheme, _)) = t.split_once("://") {
            return Err(format!("{text:?}: unknown scheme {scheme:?}; use ws://, wss:// or HOST:PORT"));
        } else {
            (t, false, None)
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(format!("{text:?}: user info (`user@`) is not supported in an upstream"));
        }
        let (host, port) = split_host_port(authority).map_err(|e| format!("{text:?}: {e}"))?;
        let port = match (port, default_port) {
            (Some(p), _) => p,
            (None, Some(p)) => p,
            (None, None) => return Err(format!("{text:?}: no port; write HOST:PORT, or ws://HOST or wss://HOST")),
        };
        Ok(Target { host: parse_host(host).map_err(|e| format!("{text:?}: {e}"))?, port, tls })
    }

    /// `host:port`, with IPv6 literals in brackets.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The value a `Host` header names this target by: the port is left
    /// out when it is the scheme's default (80 for ws, 443 for wss).
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { self.host.to_string() } else { self.authority() }
    }

    /// The name, if the host is one (not an IP literal).
    pub fn name(&self) -> Option<&str> {
        match &self.host {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }

    /// The URL form (`ws://…` or `wss://…`).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "wss" } else { "ws" }, self.authority())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls { f.write_str(&self.url()) } else { f.write_str(&self.authority()) }
    }
}

impl From<SocketAddr> for Target {
    fn from(addr: SocketAddr) -> Target {
        Target::addr(addr)
    }
}

/// A listen address as written: `HOST:PORT`, `[v6]:PORT`, or `:PORT` for
/// loopback. A name is resolved once, at startup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// The host (loopback for `:PORT`).
    pub host: Host,
    /// The port (0 for any).
    pub port: u16,
}

impl Listen {
    /// Parses a listen address.
    pub fn parse(text: &str) -> Result<Listen, String> {
        let t = text.trim();
        if let Some(port) = t.strip_prefix(':') {
            let port = parse_port(port).map_err(|e| format!("{text:?}: {e}"))?;
            return Ok(Listen { host: Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), port });
        }
        let (host, port) = split_host_port(t).map_err(|e| format!("{text:?}: {e}"))?;
        let port = port.ok_or_else(|| format!("{text:?}: no port; write HOST:PORT or :PORT"))?;
        Ok(Listen { host: parse_host(host).map_err(|e| format!("{text:?}: {e}"))?, port })
    }

    /// The addresses to try binding, in resolver order.
    pub async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        match &self.host {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(name) => Ok(tokio::net::lookup_host((name.as_str(), self.port)).await?.collect()),
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Listen {
        Listen { host: Host::Ip(addr.ip()), port: addr.port() }
    }
}

/// Splits `host[:port]`, `[v6][:port]`.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    if authority.is_empty() {
        return Err("no host".into());
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("`[` without a closing `]`")?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(parse_port(port)?))),
                None => Err(format!("unexpected {after:?} after `]`")),
            },
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Err("an IPv6 address must be in brackets, e.g. [::1]:8080".into()),
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((authority, None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>().map_err(|_| format!("{text:?} is not a port number (0-65535)"))
}

fn parse_host(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("no host".into());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    let valid = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !valid || host.len() > 253 {
        return Err(format!("{host:?} is neither an IP address nor a host name"));
    }
    Ok(Host::Name(host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_in_every_spelling() {
        let t = Target::parse("localhost:8080").unwrap();
        assert_eq!((t.name(), t.port, t.tls), (Some("localhost"), 8080, false));
        assert_eq!(t.host_header(), "localhost:8080");
        let t = Target::parse("wss://Example.COM/chat?x=1").unwrap();
        assert_eq!((t.name(), t.port, t.tls), (Some("example.com"), 443, true));
        assert_eq!(t.host_header(), "example.com");
        assert_eq!(t.to_string(), "wss://example.com:443");
        let t = Target::parse("ws://127.0.0.1:9000/").unwrap();
        assert_eq!((t.host.clone(), t.port), (Host::Ip([127, 0, 0, 1].into()), 9000));
        assert_eq!(Target::parse("ws://h").unwrap().port, 80);
        let t = Target::parse("[::1]:8080").unwrap();
        assert_eq!(t.authority(), "[::1]:8080");
        assert_eq!(Target::parse("wss://[::1]").unwrap().authority(), "[::1]:443");
    }

    #[test]
    fn bad_upstreams_say_why() {
        for (text, why) in [
            ("localhost", "no port"),
            ("http://x:1", "unknown scheme"),
            ("::1:80", "brackets"),
            ("x:99999", "not a port"),
            ("ws://", "no host"),
            ("bad host:1", "neither an IP"),
            ("ws://u@h", "user info"),
            ("[::1", "closing"),
        ] {
            let e = Target::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn listen_addresses() {
        let l = Listen::parse(":9001").unwrap();
        assert_eq!((l.host, l.port), (Host::Ip([127, 0, 0, 1].into()), 9001));
        assert_eq!(Listen::parse("[::1]:0").unwrap().host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(Listen::parse("localhost:5").unwrap().host, Host::Name("localhost".into()));
        assert!(Listen::parse("localhost").unwrap_err().contains("no port"));
    }
}

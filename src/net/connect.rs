//! Connecting to an upstream: resolve the name for this connection, try
//! each address in turn, and refuse to connect the proxy to itself.
//!
//! Every outgoing socket is bound (port 0) before it connects, and its
//! port is registered with the [`LoopGuard`] for as long as the connection
//! lives. A connection accepted from one of those ports on this host is
//! the proxy talking to itself; the accept loop drops it at once
//! ([`LoopGuard::is_own`]), so a proxy pointed at itself makes one
//! recording that says so instead of recursing. The connecting side also
//! compares the address it reached with the listen address
//! ([`LoopGuard::check`]) and gives the user the reason.

use super::target::{Host, Target};
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// The proxy's own listen address and the ports of its outgoing
/// connections, to detect a proxy pointed at itself.
#[derive(Debug)]
pub struct LoopGuard {
    listen: SocketAddr,
    outgoing: Mutex<HashSet<u16>>,
}

/// Keeps an outgoing port registered until dropped.
#[derive(Debug)]
pub struct Registered {
    guard: Arc<LoopGuard>,
    port: u16,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.guard.outgoing.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.port);
    }
}

impl LoopGuard {
    /// A guard for a proxy listening on `listen`.
    pub fn new(listen: SocketAddr) -> Arc<LoopGuard> {
        Arc::new(LoopGuard { listen, outgoing: Mutex::default() })
    }

    /// True if `peer`, accepted on `local`, is one of our own outgoing
    /// connections (same host, a registered port).
    pub fn is_own(&self, peer: SocketAddr, local: SocketAddr) -> bool {
        peer.ip().to_canonical() == local.ip().to_canonical()
            && self.outgoing.lock().unwrap_or_else(|e| e.into_inner()).contains(&peer.port())
    }

    /// True if a connection from `local` to `peer` reached our own listener.
    pub fn is_loop(&self, local: SocketAddr, peer: SocketAddr) -> bool {
        let (peer_ip, listen_ip) = (peer.ip().to_canonical(), self.listen.ip().to_canonical());
        peer.port() == self.listen.port()
            && (peer_ip == listen_ip || (listen_ip.is_unspecified() && peer_ip == local.ip().to_canonical()))
    }

    fn register(self: &Arc<Self>, port: u16) -> Registered {
        self.outgoing.lock().unwrap_or_else(|e| e.into_inner()).insert(port);
        Registered { guard: self.clone(), port }
    }
}

/// A connected upstream socket.
#[derive(Debug)]
pub struct Connected {
    /// The socket.
    pub stream: TcpStream,
    /// The address it reached.
    pub addr: SocketAddr,
    /// Addresses tried before it, with why each failed.
    pub failed: Vec<String>,
    /// Keeps the port registered with the loop guard.
    pub registered: Option<Registered>,
}

/// Why no upstream connection could be made.
#[derive(Debug)]
pub enum ConnectError {
    /// The name did not resolve (or resolved to nothing).
    Resolve {
        /// The name.
        name: String,
        /// The resolver's error.
        error: String,
    },
    /// Every address failed.
    Connect {
        /// `host:port` as the user named it.
        target: String,
        /// Each address tried, with its error.
        failed: Vec<String>,
    },
    /// The upstream is this proxy's own listen address.
    Loop {
        /// `host:port` as the user named it.
        target: String,
        /// The address reached.
        addr: SocketAddr,
        /// The proxy's listen address.
        listen: SocketAddr,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Resolve { name, error } => write!(f, "cannot resolve the upstream {name}: {error}"),
            ConnectError::Connect { target, failed } => match failed.as_slice() {
                [one] if one.starts_with(&format!("{target}: ")) => write!(f, "upstream {one}"),
                _ => write!(f, "cannot connect to the upstream {target}: {}", failed.join("; ")),
            },
            ConnectError::Loop { target, addr, listen } => write!(
                f,
                "refused: the upstream {target} ({addr}) is this proxy's own listen address {listen}; \
                 a proxy pointed at itself would recurse"
            ),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Resolves `target` now and connects to the first address that answers,
/// giving each address `timeout`.
pub async fn connect(
    target: &Target,
    guard: Option<&Arc<LoopGuard>>,
    timeout: Duration,
) -> Result<Connected, ConnectError> {
    let addrs = resolve(target).await?;
    let mut failed = Vec::new();
    for addr in addrs {
        let attempt = match tokio::time::timeout(timeout, connect_one(addr, guard)).await {
            Ok(attempt) => attempt.map_err(|e| e.to_string()),
            Err(_) => Err(format!("connect timed out after {}", human(timeout))),
        };
        match attempt {
            Ok((stream, registered)) => {
                let local = stream.local_addr().unwrap_or(addr);
                if let Some(g) = guard.filter(|g| g.is_loop(local, addr)) {
                    return Err(ConnectError::Loop { target: target.authority(), addr, listen: g.listen });
                }
                return Ok(Connected { stream, addr, failed, registered });
            }
            Err(e) => failed.push(format!("{addr}: {e}")),
        }
    }
    Err(ConnectError::Connect { target: target.authority(), failed })
}

/// `5s`, `250ms`, `1.5s`: a timeout as a person writes it.
pub fn human(t: Duration) -> String {
    match t.subsec_millis() {
        0 if t.as_secs() > 0 => format!("{}s", t.as_secs()),
        _ if t < Duration::from_secs(1) => format!("{}ms", t.as_millis()),
        _ => format!("{:.3}s", t.as_secs_f64()),
    }
}

/// The addresses of `target`, in resolver order.
pub async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, ConnectError> {
    match &target.host {
        Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, target.port)]),
        Host::Name(name) => {
            let err = |error: String| ConnectError::Resolve { name: name.clone(), error };
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), target.port)).await.map_err(|e| err(e.to_string()))?.collect();
            if addrs.is_empty() {
                return Err(err("no addresses".into()));
            }
            Ok(addrs)
        }
    }
}

async fn connect_one(
    addr: SocketAddr,
    guard: Option<&Arc<LoopGuard>>,
) -> std::io::Result<(TcpStream, Option<Registered>)> {
    let Some(guard) = guard else { return Ok((TcpStream::connect(addr).await?, None)) };
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    let any: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    socket.bind(any)?;
    let registered = guard.register(socket.local_addr()?.port());
    Ok((socket.connect(addr).await?, Some(registered)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_written() {
        assert_eq!(human(Duration::from_secs(5)), "5s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.500s");
    }

    #[test]
    fn loops_are_recognised() {
        let g = LoopGuard::new("127.0.0.1:9001".parse().unwrap());
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(g.is_loop(local, "127.0.0.1:9001".parse().unwrap()));
        assert!(!g.is_loop(local, "127.0.0.1:9002".parse().unwrap()));
        assert!(!g.is_loop(local, "127.0.0.2:9001".parse().unwrap()));
        let any = LoopGuard::new("0.0.0.0:9001".parse().unwrap());
        let lan: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        assert!(any.is_loop(lan, "10.1.2.3:9001".parse().unwrap()), "to our own interface");
        assert!(!any.is_loop(lan, "10.1.2.4:9001".parse().unwrap()), "another host");
        let _r = g.register(5000);
        assert!(g.is_own(local, "127.0.0.1:9001".parse().unwrap()));
        assert!(!g.is_own("127.0.0.9:5000".parse().unwrap(), "127.0.0.1:9001".parse().unwrap()));
        drop(_r);
        assert!(!g.is_own(local, "127.0.0.1:9001".parse().unwrap()));
    }
}

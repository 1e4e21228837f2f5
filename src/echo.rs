//! The embedded echo server: the default upstream, so wstap runs with
//! nothing outside itself.
//!
//! It echoes every message with its opcode, answers pings with pongs, and
//! answers a close with a close carrying the same code (1000 when the peer
//! sent none or an invalid one), then closes TCP.

use crate::accept::Acceptor;
use crate::peer::{Incoming, WsPeer};
use crate::wire::{CodePolicy, OpCode};
use std::io;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// A running echo server.
pub struct EchoServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl EchoServer {
    /// Binds `addr` (port 0 for any) and starts serving.
    pub async fn start(addr: SocketAddr) -> io::Result<EchoServer> {
        let mut listener = Acceptor::new(TcpListener::bind(addr).await?, "echo server");
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await;
                tokio::spawn(async move {
                    if let Ok(peer) = WsPeer::accept_simple(stream).await {
                        let _ = echo(peer).await;
                    }
                });
            }
        });
        Ok(EchoServer { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn echo(mut peer: WsPeer) -> io::Result<()> {
    while let Some(item) = peer.recv().await? {
        match item {
            Incoming::Message { opcode, payload } => peer.send(opcode, true, &payload).await?,
            Incoming::Ping(p) => peer.send(OpCode::PONG, true, &p).await?,
            Incoming::Pong(_) => {}
            Incoming::Close(close) => {
                let code = close.code.filter(|c| CodePolicy::Rfc.allows(*c)).unwrap_or(1000);
                peer.close(Some(code), "").await?;
                return peer.shutdown().await;
            }
        }
    }
    Ok(())
}

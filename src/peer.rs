//! A small async WebSocket endpoint built on the wire core, used by the
//! embedded echo server, the demo client and the replay engine.
//!
//! It is deliberately not a general WebSocket library: it performs the
//! upgrade, sends frames exactly as asked (any header, via
//! [`WsPeer::send_raw`]), and turns incoming bytes into [`Incoming`] items.
//! It never answers pings or closes by itself; the caller decides.

use crate::wire::{self, ClosePayload, Direction, FrameDecoder, FrameHeader, Head, OpCode, accept_key, find_head_end};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Something the peer received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text or binary message.
    Message {
        /// TEXT or BINARY.
        opcode: OpCode,
        /// The reassembled payload.
        payload: Vec<u8>,
    },
    /// A ping and its payload.
    Ping(Vec<u8>),
    /// A pong and its payload.
    Pong(Vec<u8>),
    /// A close frame.
    Close(ClosePayload),
}

/// One end of an upgraded connection.
pub struct WsPeer {
    stream: TcpStream,
    decoder: FrameDecoder,
    inbox: VecDeque<Incoming>,
    frame: Vec<u8>,
    message: Vec<u8>,
    masks: bool,
}

/// A masking key that differs per frame (not cryptographic: wstap is a test tool).
pub fn next_mask() -> [u8; 4] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut x = nanos ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x as u32).to_be_bytes()
}

async fn read_head(stream: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find_head_end(&buf) {
            let rest = buf.split_off(end);
            return Ok((buf, rest));
        }
        if buf.len() > wire::MAX_HEAD_LEN {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "HTTP head too long"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed during the HTTP upgrade"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The 101 response for `request`, with `extra` header lines (each `Name: value`).
pub fn switching_protocols(request: &Head, extra: &[String]) -> Vec<u8> {
    let key = request.header("sec-websocket-key").unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        accept_key(&key)
    );
    for line in extra {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

impl WsPeer {
    /// Server side: reads the upgrade request. The caller answers with
    /// [`WsPeer::send_bytes`] (see [`switching_protocols`]) or rejects it.
    pub async fn accept(mut stream: TcpStream) -> io::Result<(WsPeer, Head, Vec<u8>)> {
        let (head, rest) = read_head(&mut stream).await?;
        let request = Head::parse_request(&head).map_err(invalid)?;
        let mut peer = WsPeer::over(stream, Direction::ClientToServer, false);
        peer.feed(&rest);
        Ok((peer, request, head))
    }

    /// Server side in one step: accepts any upgrade with a plain 101.
    pub async fn accept_simple(stream: TcpStream) -> io::Result<WsPeer> {
        let (mut peer, request, _) = WsPeer::accept(stream).await?;
        if !request.is_websocket_request() {
            peer.send_bytes(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await?;
            return Err(invalid("not a WebSocket upgrade request".into()));
        }
        peer.send_bytes(&switching_protocols(&request, &[])).await?;
        Ok(peer)
    }

    /// Client side: sends the upgrade for `path` to `host` and checks the 101.
    pub async fn connect(mut stream: TcpStream, host: &str, path: &str) -> io::Result<WsPeer> {
        let _ = stream.set_nodelay(true);
        let nonce: Vec<u8> = (0..4).flat_map(|_| next_mask()).collect();
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce);
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wstap\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let (head, rest) = read_head(&mut stream).await?;
        let response = Head::parse_response(&head).map_err(invalid)?;
        if !response.is_websocket_response() {
            return Err(invalid(format!("upgrade refused: HTTP status {}", response.status)));
        }
        if response.header("sec-websocket-accept") != Some(accept_key(&key)) {
            return Err(invalid("wrong Sec-WebSocket-Accept".into()));
        }
        let mut peer = WsPeer::over(stream, Direction::ServerToClient, true);
        peer.feed(&rest);
        Ok(peer)
    }

    fn over(stream: TcpStream, incoming: Direction, masks: bool) -> WsPeer {
        let _ = stream.set_nodelay(true);
        WsPeer {
            stream,
            decoder: FrameDecoder::new(incoming, 0, 0),
            inbox: VecDeque::new(),
            frame: Vec::new(),
            message: Vec::new(),
            masks,
        }
    }

    /// Writes bytes as they are.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends one frame with exactly this header (masked if it has a key).
    pub async fn send_raw(&mut self, header: &FrameHeader, payload: &[u8]) -> io::Result<()> {
        let bytes = header.encode_frame(payload);
        self.send_bytes(&bytes).await
    }

    /// Sends a well-formed frame; clients mask with a fresh key.
    pub async fn send(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) -> io::Result<()> {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        header.mask = self.masks.then(next_mask);
        self.send_raw(&header, payload).await
    }

    /// Sends a close frame with `code` and `reason`.
    pub async fn close(&mut self, code: Option<u16>, reason: &str) -> io::Result<()> {
        let payload = ClosePayload { code, reason: reason.as_bytes().to_vec() }.to_bytes();
        self.send(OpCode::CLOSE, true, &payload).await
    }

    /// Shuts down our sending side (FIN).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }

    /// The next thing received; `None` at end of stream.
    pub async fn recv(&mut self) -> io::Result<Option<Incoming>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(item) = self.inbox.pop_front() {
                return Ok(Some(item));
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.feed(&buf[..n]);
        }
    }

    /// The underlying stream.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    fn feed(&mut self, bytes: &[u8]) {
        let (frame, message, inbox) = (&mut self.frame, &mut self.message, &mut self.inbox);
        self.decoder.push(bytes, &mut |event| match event {
            wire::Event::FrameStart { .. } => frame.clear(),
            wire::Event::Payload(p) => frame.extend_from_slice(p),
            wire::Event::FrameEnd { header, .. } => match header.opcode {
                OpCode::PING => inbox.push_back(Incoming::Ping(std::mem::take(frame))),
                OpCode::PONG => inbox.push_back(Incoming::Pong(std::mem::take(frame))),
                OpCode::CLOSE => inbox.push_back(Incoming::Close(ClosePayload::parse(frame))),
                _ => message.append(frame),
            },
            wire::Event::MessageEnd { opcode, .. } => {
                inbox.push_back(Incoming::Message { opcode, payload: std::mem::take(message) })
            }
            _ => {}
        });
    }
}

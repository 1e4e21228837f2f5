//! Both directions of one TCP connection: upgrade first, then frames.
//!
//! The two directions are linked: the server's answer decides whether the
//! client's later bytes are frames or plain HTTP. Bytes the client sends
//! after its request but before the server has answered are held (at most
//! [`MAX_HELD`]) and decoded once the answer is known; so are bytes the
//! server sends before the client's request head is complete (a server
//! that speaks first), with the same bound, past which they turn raw.
//!
//! Anything that is not a WebSocket upgrade, or a head that never ends,
//! turns the rest of that direction into [`Event::Raw`] with a reason:
//! every byte is accounted for, so the stream can be rebuilt exactly.

use super::resync::{Search, find_boundary};
use super::{Direction, Event, FrameDecoder, Head, MAX_HEAD_LEN, Negotiated, accept_key};
use super::{Violation, ViolationKind, find_head_end};

/// Most bytes held from one side while the other's head is awaited: the
/// client's after its request, the server's before the request.
pub const MAX_HELD: usize = 1024 * 1024;

#[derive(Debug)]
enum Stage {
    Head(Vec<u8>),
    Held(Vec<u8>),
    Frames(Box<FrameDecoder>),
    Raw(String),
    /// Looking for a frame boundary (joined mid-stream, or after a gap);
    /// bytes skipped turn raw with this reason.
    Resync(Vec<u8>, String),
}

/// Decoder state for one connection.
#[derive(Debug)]
pub struct ConnectionDecoder {
    stages: [Stage; 2],
    offsets: [u64; 2],
    request: Option<Head>,
    negotiated: Negotiated,
    /// The client ended its side (while its bytes were held for the
    /// answer, or before its request head began).
    client_ended: bool,
    /// The server ended its side; a request completed after that gets no
    /// answer, so what follows it turns raw at once instead of being held.
    server_ended: bool,
}

impl Default for ConnectionDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionDecoder {
    /// A decoder expecting an HTTP upgrade from the client.
    pub fn new() -> ConnectionDecoder {
        ConnectionDecoder {
            stages: [Stage::Head(Vec::new()), Stage::Head(Vec::new())],
            offsets: [0, 0],
            request: None,
            negotiated: Negotiated::default(),
            client_ended: false,
            server_ended: false,
        }
    }

    /// A decoder that skips the upgrade and decodes frames from the first byte
    /// (for captures that start mid-connection).
    pub fn mid_stream(negotiated: Negotiated) -> ConnectionDecoder {
        let rsv = negotiated.allowed_rsv();
        let frames = |d| Stage::Frames(Box::new(FrameDecoder::new(d, 0, rsv)));
        ConnectionDecoder {
            stages: [frames(Direction::ClientToServer), frames(Direction::ServerToClient)],
            offsets: [0, 0],
            request: None,
            negotiated,
            client_ended: false,
            server_ended: false,
        }
    }

    /// A decoder for a connection whose start was not seen: each direction
    /// decodes frames from its first plausible boundary ([`super::resync`]);
    /// bytes before it turn raw with `reason`.
    pub fn joined(negotiated: Negotiated, reason: &str) -> ConnectionDecoder {
        let resync = || Stage::Resync(Vec::new(), reason.to_string());
        ConnectionDecoder { stages: [resync(), resync()], ..ConnectionDecoder::mid_stream(negotiated) }
    }

    /// A decoder for a stream known not to be WebSocket (TLS that is not
    /// decrypted, say): every byte of both directions is raw, with `reason`.
    pub fn opaque(reason: &str) -> ConnectionDecoder {
        let raw = || Stage::Raw(reason.to_string());
        ConnectionDecoder { stages: [raw(), raw()], ..ConnectionDecoder::new() }
    }

    /// Bytes of `dir` were lost: whatever was being decoded ends (a frame
    /// cut short, a head turned raw) and frames are looked for afresh in
    /// what follows.
    pub fn gap<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, sink: &mut F) {
        let reason = "after a gap in the capture, before the next plausible frame boundary".to_string();
        match &mut self.stages[dir.index()] {
            Stage::Frames(dec) => dec.finish(&mut |e| sink(dir, e)),
            Stage::Raw(_) => return,
            Stage::Resync(..) => self.resync(dir, true, sink),
            Stage::Head(_) | Stage::Held(_) => {
                return self.switch_to_raw(dir, "a gap in the capture inside the HTTP upgrade".into(), sink);
            }
        }
        self.stages[dir.index()] = Stage::Resync(Vec::new(), reason);
    }

    /// What the server accepted (empty until the 101 has been decoded).
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Bytes seen so far in `dir`.
    pub fn offset(&self, dir: Direction) -> u64 {
        self.offsets[dir.index()]
    }

    /// Decodes bytes that travelled in `dir`.
    pub fn push<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, data: &[u8], sink: &mut F) {
        let start = self.offsets[dir.index()];
        self.offsets[dir.index()] += data.len() as u64;
        match &mut self.stages[dir.index()] {
            Stage::Frames(dec) => dec.push(data, &mut |e| sink(dir, e)),
            Stage::Raw(reason) => sink(dir, Event::Raw { offset: start, bytes: data, reason }),
            Stage::Resync(buf, _) => {
                buf.extend_from_slice(data);
                self.resync(dir, false, sink);
            }
            Stage::Held(buf) => {
                buf.extend_from_slice(data);
                if buf.len() > MAX_HELD {
                    let why = format!("client sent over {MAX_HELD} bytes before the server answered the upgrade");
                    self.switch_to_raw(dir, why, sink);
                }
            }
            Stage::Head(buf) => {
                buf.extend_from_slice(data);
                self.try_head(dir, sink);
            }
        }
    }

    /// `dir` reached end of stream: reports whatever was left undecoded.
    ///
    /// A client that half-closes while its bytes are held still gets them
    /// decoded once the server answers; they turn raw only if the server's
    /// side ends without an answer.
    pub fn finish<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, sink: &mut F) {
        let client = Direction::ClientToServer;
        match dir {
            Direction::ClientToServer => self.client_ended = true,
            Direction::ServerToClient => self.server_ended = true,
        }
        let why = match &mut self.stages[dir.index()] {
            Stage::Frames(dec) => return dec.finish(&mut |e| sink(dir, e)),
            Stage::Resync(..) => {
                self.resync(dir, true, sink);
                if let Stage::Frames(dec) = &mut self.stages[dir.index()] {
                    dec.finish(&mut |e| sink(dir, e));
                }
                return;
            }
            Stage::Raw(_) => None,
            Stage::Held(_) => return,
            Stage::Head(buf) if buf.is_empty() => None,
            Stage::Head(_) => Some("stream ended inside the HTTP head"),
        };
        if let Some(why) = why {
            self.switch_to_raw(dir, why.to_string(), sink);
        }
        match dir {
            Direction::ClientToServer => self.try_head(Direction::ServerToClient, sink),
            Direction::ServerToClient if matches!(self.stages[client.index()], Stage::Held(_)) => {
                let why = "connection ended before the server answered the upgrade";
                self.switch_to_raw(client, why.to_string(), sink);
            }
            Direction::ServerToClient => {}
        }
    }

    fn try_head<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, sink: &mut F) {
        // A server may answer before the request has fully arrived (or been
        // read); its head is judged only once the request is known.
        let request_pending = matches!(self.stages[0], Stage::Head(_)) && !self.client_ended;
        if dir == Direction::ServerToClient && request_pending {
            // Held like the client's early bytes, and bounded the same way.
            if matches!(&self.stages[dir.index()], Stage::Head(buf) if buf.len() > MAX_HELD) {
                let why = format!("server sent over {MAX_HELD} bytes before the client's request head");
                self.switch_to_raw(dir, why, sink);
            }
            return;
        }
        let Stage::Head(buf) = &mut self.stages[dir.index()] else { return };
        let Some(end) = find_head_end(buf) else {
            if buf.len() > MAX_HEAD_LEN {
                self.switch_to_raw(dir, format!("no end of HTTP head within {MAX_HEAD_LEN} bytes"), sink);
            } else if looks_wrong(dir, buf) {
                self.switch_to_raw(dir, "not HTTP: does not start like an HTTP head".to_string(), sink);
            }
            return;
        };
        let mut buf = std::mem::take(buf);
        let rest = buf.split_off(end);
        let head_offset = self.offsets[dir.index()] - (end + rest.len()) as u64;
        sink(dir, Event::Head { offset: head_offset, bytes: &buf });
        match dir {
            Direction::ClientToServer => self.after_request(&buf, rest, sink),
            Direction::ServerToClient => self.after_response(&buf, head_offset, rest, sink),
        }
    }

    fn after_request<F: FnMut(Direction, Event<'_>)>(&mut self, head: &[u8], rest: Vec<u8>, sink: &mut F) {
        let dir = Direction::ClientToServer;
        match Head::parse_request(head) {
            Ok(_) if matches!(self.stages[1], Stage::Raw(_)) => {
                self.raw_with(dir, "the server did not answer with HTTP".into(), rest, sink)
            }
            Ok(req) if req.is_websocket_request() && self.server_ended => {
                self.request = Some(req);
                let why = "connection ended before the server answered the upgrade";
                self.raw_with(dir, why.into(), rest, sink)
            }
            Ok(req) if req.is_websocket_request() => {
                self.request = Some(req);
                self.stages[dir.index()] = Stage::Held(rest);
                if matches!(self.stages[1], Stage::Head(ref b) if !b.is_empty()) {
                    self.try_head(Direction::ServerToClient, sink);
                }
            }
            Ok(_) => self.raw_with(dir, "not a WebSocket upgrade request".into(), rest, sink),
            Err(e) => self.raw_with(dir, e, rest, sink),
        }
    }

    fn after_response<F: FnMut(Direction, Event<'_>)>(
        &mut self,
        head: &[u8],
        head_offset: u64,
        rest: Vec<u8>,
        sink: &mut F,
    ) {
        let dir = Direction::ServerToClient;
        let response = match Head::parse_response(head) {
            Ok(r) => r,
            Err(e) => return self.raw_with(dir, e, rest, sink),
        };
        let Some(request) = self.request.as_ref().filter(|_| response.is_websocket_response()) else {
            let why = match self.request {
                Some(_) => format!("upgrade refused: HTTP status {}", response.status),
                None => "not a WebSocket connection".to_string(),
            };
            sink(dir, Event::Upgrade { upgraded: false, negotiated: &self.negotiated });
            self.raw_with(dir, why.clone(), rest, sink);
            return self.switch_to_raw(Direction::ClientToServer, why, sink);
        };
        let key = request.header("sec-websocket-key").unwrap_or_default();
        if response.header("sec-websocket-accept").as_deref() != Some(accept_key(&key).as_str()) {
            let v = Violation { offset: head_offset, kind: ViolationKind::BadAcceptKey };
            sink(dir, Event::Violation(v));
        }
        self.negotiated = Negotiated::from_response(&response);
        sink(dir, Event::Upgrade { upgraded: true, negotiated: &self.negotiated });
        let rsv = self.negotiated.allowed_rsv();
        let offset = head_offset + head.len() as u64;
        self.stages[dir.index()] = Stage::Frames(Box::new(FrameDecoder::new(dir, offset, rsv)));
        self.replay_into_frames(dir, rest, sink);
        let client = Direction::ClientToServer;
        if let Stage::Held(held) = &mut self.stages[client.index()] {
            let held = std::mem::take(held);
            let at = self.offsets[client.index()] - held.len() as u64;
            self.stages[client.index()] = Stage::Frames(Box::new(FrameDecoder::new(client, at, rsv)));
            self.replay_into_frames(client, held, sink);
            if self.client_ended {
                self.finish(client, sink);
            }
        }
    }

    /// Looks for a frame boundary in what `dir` has buffered: bytes that
    /// cannot start frames are reported raw, and at a boundary `dir` moves
    /// on to frames.
    fn resync<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, at_end: bool, sink: &mut F) {
        let rsv = self.negotiated.allowed_rsv();
        let end = self.offsets[dir.index()];
        let Stage::Resync(buf, reason) = &mut self.stages[dir.index()] else { return };
        let start = end - buf.len() as u64;
        let search = find_boundary(buf, dir, rsv, at_end);
        let skip = match search {
            Search::Found(off) => off,
            Search::Wait(off) => off,
            Search::NotFound => buf.len(),
        };
        if skip > 0 {
            sink(dir, Event::Raw { offset: start, bytes: &buf[..skip], reason });
        }
        let rest = buf.split_off(skip);
        buf.clear();
        if let Search::Found(_) = search {
            self.stages[dir.index()] = Stage::Frames(Box::new(FrameDecoder::new(dir, start + skip as u64, rsv)));
            self.replay_into_frames(dir, rest, sink);
        } else {
            *buf = rest;
        }
    }

    /// Feeds bytes already counted in `offsets` to the new stage of `dir`.
    fn replay_into_frames<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, bytes: Vec<u8>, sink: &mut F) {
        if let Stage::Frames(dec) = &mut self.stages[dir.index()] {
            dec.push(&bytes, &mut |e| sink(dir, e));
        }
    }

    fn raw_with<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, why: String, rest: Vec<u8>, sink: &mut F) {
        let offset = self.offsets[dir.index()] - rest.len() as u64;
        if !rest.is_empty() {
            sink(dir, Event::Raw { offset, bytes: &rest, reason: &why });
        }
        self.stages[dir.index()] = Stage::Raw(why);
    }

    /// Turns `dir` raw, first reporting anything it was still holding.
    fn switch_to_raw<F: FnMut(Direction, Event<'_>)>(&mut self, dir: Direction, why: String, sink: &mut F) {
        let pending = match std::mem::replace(&mut self.stages[dir.index()], Stage::Raw(String::new())) {
            Stage::Head(buf) | Stage::Held(buf) | Stage::Resync(buf, _) => buf,
            Stage::Frames(mut dec) => {
                dec.finish(&mut |e| sink(dir, e));
                Vec::new()
            }
            Stage::Raw(_) => Vec::new(),
        };
        self.raw_with(dir, why, pending, sink);
    }
}

/// A head that cannot become valid HTTP, judged on its first bytes.
fn looks_wrong(dir: Direction, buf: &[u8]) -> bool {
    let probe = &buf[..buf.len().min(16)];
    let mut storage = [httparse::EMPTY_HEADER; 4];
    match dir {
        Direction::ClientToServer => httparse::Request::new(&mut storage).parse(probe).is_err(),
        Direction::ServerToClient => httparse::Response::new(&mut storage).parse(probe).is_err(),
    }
}

//! Turning bytes into session events: the one path from the wire decoder to
//! the data model, shared by the recording proxy, replay and pcap import.
//!
//! [`SessionBuilder`] is sans-IO apart from its [`PayloadStore`]: it takes
//! timestamped reads and TCP endings, runs the [`ConnectionDecoder`], and
//! queues [`Event`]s for the caller to drain. Payloads larger than
//! [`INLINE_MAX`] are streamed to the store piece by piece as they arrive
//! and never held in memory; the event keeps their length and digest (BLAKE3).
//!
//! Under permessage-deflate, compressed messages are also inflated here
//! (see `session/inflate.rs`), on the recorder's side of the tap: the relay
//! forwards the compressed bytes untouched and never waits for this.

use super::data::{Data, Digest, Hasher, INLINE_MAX, SidecarRef, hex};
use super::inflate::Inflation;
use super::{Event, EventKind, Frame, InflatedPayload, Message, TcpEnd};
use crate::wire::{
    self, ConnectionDecoder, DEFAULT_INFLATE_CAP, DeflateParams, Direction, FrameHeader, Negotiated, OpCode,
};
use std::io;

/// Where large payloads go.
pub trait PayloadStore {
    /// Appends `bytes` to the store for `dir`; returns the offset of the first.
    fn append(&mut self, dir: Direction, bytes: &[u8]) -> io::Result<u64>;
    /// The file name that sidecar references for `dir` carry.
    fn file_name(&self, dir: Direction) -> String;

    /// Appends inflated message bytes for `dir` to a store kept apart from
    /// the wire payloads (so the two never interleave); returns the offset of
    /// the first. `Ok(None)`, the default, means this store keeps no inflated
    /// bytes, and large inflated messages are recorded by digest only.
    fn append_inflated(&mut self, dir: Direction, bytes: &[u8]) -> io::Result<Option<u64>> {
        let _ = (dir, bytes);
        Ok(None)
    }

    /// The file name that inflated sidecar references for `dir` carry.
    fn inflated_file_name(&self, dir: Direction) -> String {
        format!("{}.inflated", self.file_name(dir))
    }
}

/// A store that keeps payloads in memory (tests and small imports).
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// The bytes stored for each direction, indexed by [`Direction::index`].
    pub bytes: [Vec<u8>; 2],
    /// Inflated message bytes for each direction.
    pub inflated: [Vec<u8>; 2],
}

impl PayloadStore for MemoryStore {
    fn append(&mut self, dir: Direction, bytes: &[u8]) -> io::Result<u64> {
        let buf = &mut self.bytes[dir.index()];
        let at = buf.len() as u64;
        buf.extend_from_slice(bytes);
        Ok(at)
    }

    fn file_name(&self, dir: Direction) -> String {
        format!("memory.{}.bin", dir.short())
    }

    fn append_inflated(&mut self, dir: Direction, bytes: &[u8]) -> io::Result<Option<u64>> {
        let buf = &mut self.inflated[dir.index()];
        let at = buf.len() as u64;
        buf.extend_from_slice(bytes);
        Ok(Some(at))
    }

    fn inflated_file_name(&self, dir: Direction) -> String {
        format!("memory.{}.inflated.bin", dir.short())
    }
}

#[derive(Default)]
struct FrameAcc {
    in_message: bool,
    inline: Vec<u8>,
    sidecar: Option<(u64, Hasher)>,
    received: u64,
}

struct MessageAcc {
    inline: Option<Vec<u8>>,
    /// Made and fed only once `inline` is given up (see
    /// [`MessageAcc::add`]): a BLAKE3 state is ~2 KiB, too much to set up
    /// for every small message.
    hasher: Option<Hasher>,
    /// The message so far is one sidecar frame, whose own hasher stands in
    /// for `hasher` until the frame ends: each byte is hashed once.
    deferred: bool,
    /// The message is one inline frame (FIN on its first): its bytes are
    /// the frame's, so they are neither copied again nor spelled again;
    /// the frame's spelling is kept here when it ends (the hot path of
    /// small messages: one `Data::inline` per message, not two).
    single: Option<Data>,
}

/// The state the decoder callback writes into.
struct Acc<S> {
    store: S,
    now: u64,
    frames: [Option<FrameAcc>; 2],
    messages: [Option<MessageAcc>; 2],
    /// One inflater per direction once permessage-deflate is negotiated.
    inflation: [Option<Inflation>; 2],
    inflate_cap: u64,
    out: Vec<Event>,
    /// Each direction's last frame payload buffer, emptied, for the next
    /// frame: one allocation per direction instead of one per frame.
    spare: [Vec<u8>; 2],
    error: Option<io::Error>,
}

/// Builds session events from a connection's bytes.
pub struct SessionBuilder<S: PayloadStore> {
    decoder: ConnectionDecoder,
    acc: Acc<S>,
    ended: [bool; 2],
}

impl<S: PayloadStore> SessionBuilder<S> {
    /// A builder for a connection that starts with the HTTP upgrade.
    pub fn new(store: S) -> Self {
        Self::with_decoder(ConnectionDecoder::new(), store)
    }

    /// A builder for a connection joined mid-stream (frames from byte 0).
    ///
    /// Compressed messages are inflated from the first one seen, which fails
    /// under context takeover if earlier messages were missed.
    pub fn mid_stream(negotiated: Negotiated, store: S) -> Self {
        let mut builder = Self::with_decoder(ConnectionDecoder::mid_stream(negotiated.clone()), store);
        builder.acc.setup_inflation(0, &negotiated);
        builder
    }

    /// A builder for a connection whose start was not captured: frames are
    /// decoded from each direction's first plausible boundary, and bytes
    /// skipped before it are recorded as `raw` with `reason`.
    pub fn joined(reason: &str, store: S) -> Self {
        Self::with_decoder(ConnectionDecoder::joined(Negotiated::default(), reason), store)
    }

    fn with_decoder(decoder: ConnectionDecoder, store: S) -> Self {
        let acc = Acc {
            store,
            now: 0,
            frames: [None, None],
            messages: [None, None],
            inflation: [None, None],
            inflate_cap: DEFAULT_INFLATE_CAP,
            out: Vec::new(),
            spare: [Vec::new(), Vec::new()],
            error: None,
        };
        SessionBuilder { decoder, acc, ended: [false; 2] }
    }

    /// Treats the whole connection as opaque (every byte `raw` with
    /// `reason`), if no byte has been decoded yet; returns whether it did.
    pub fn set_opaque(&mut self, reason: &str) -> bool {
        let fresh = Direction::BOTH.iter().all(|d| self.decoder.offset(*d) == 0);
        if fresh {
            self.decoder = ConnectionDecoder::opaque(reason);
        }
        fresh
    }

    /// Sets the per-message cap on inflated bytes (default
    /// [`DEFAULT_INFLATE_CAP`]); call before the first read.
    pub fn with_inflate_cap(mut self, cap: u64) -> Self {
        self.acc.inflate_cap = cap;
        self
    }

    /// Records one TCP read of `bytes` in `dir` at `at` microseconds.
    pub fn read(&mut self, at: u64, dir: Direction, bytes: &[u8]) -> io::Result<()> {
        self.acc.now = at;
        self.acc.push(at, dir, EventKind::Read { len: bytes.len() as u64 });
        let acc = &mut self.acc;
        self.decoder.push(dir, bytes, &mut |d, e| acc.on_event(d, e));
        self.take_error()
    }

    /// Records that `len` bytes of `dir` were lost at `at` microseconds
    /// (a capture gap). What was being decoded ends there, a `gap` event is
    /// recorded, and decoding resumes at the next plausible frame boundary.
    pub fn gap(&mut self, at: u64, dir: Direction, len: u64) -> io::Result<()> {
        self.acc.now = at;
        let offset = self.decoder.offset(dir);
        let acc = &mut self.acc;
        self.decoder.gap(dir, &mut |d, e| acc.on_event(d, e));
        self.acc.messages[dir.index()] = None;
        self.acc.push(at, dir, EventKind::Gap { offset, len });
        self.take_error()
    }

    /// Records that `dir`'s sender ended TCP (FIN, or a reset with its error).
    pub fn end(&mut self, at: u64, dir: Direction, how: TcpEnd, error: Option<String>) -> io::Result<()> {
        self.acc.now = at;
        self.finish_dir(dir);
        let kind = match how {
            TcpEnd::Fin => EventKind::Fin,
            TcpEnd::Rst => EventKind::Rst { error },
        };
        self.acc.push(at, dir, kind);
        self.take_error()
    }

    /// Records an event that no byte of the stream carries: a note, TLS
    /// facts, a rewrite. Content events (`http`, `frame`, `message`, `raw`,
    /// `read`, `gap`, `fin`, `rst`) come only from the bytes and endings.
    pub fn event(&mut self, at: u64, dir: Direction, kind: EventKind) {
        debug_assert!(matches!(
            kind,
            EventKind::Note { .. }
                | EventKind::Tls(_)
                | EventKind::TlsEnd { .. }
                | EventKind::Rewrite { .. }
                | EventKind::Fault { .. }
        ));
        self.acc.push(at, dir, kind);
    }

    /// Flushes whatever is undecoded in directions that never ended.
    pub fn finish(&mut self) -> io::Result<()> {
        for dir in Direction::BOTH {
            self.finish_dir(dir);
        }
        self.take_error()
    }

    /// Takes the events produced so far.
    pub fn drain(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.acc.out)
    }

    /// Moves the events produced so far to the end of `events`; both keep
    /// their capacity (the recorder reuses one vector per recording).
    pub fn drain_into(&mut self, events: &mut Vec<Event>) {
        events.append(&mut self.acc.out);
    }

    /// The payload store.
    pub fn store(&self) -> &S {
        &self.acc.store
    }

    /// The payload store, mutably (to flush it).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.acc.store
    }

    /// True once `dir` has ended (FIN, reset, or [`finish`](Self::finish)).
    pub fn has_ended(&self, dir: Direction) -> bool {
        self.ended[dir.index()]
    }

    /// Gives back the payload store.
    pub fn into_store(self) -> S {
        self.acc.store
    }

    fn finish_dir(&mut self, dir: Direction) {
        if !std::mem::replace(&mut self.ended[dir.index()], true) {
            let acc = &mut self.acc;
            self.decoder.finish(dir, &mut |d, e| acc.on_event(d, e));
        }
    }

    fn take_error(&mut self) -> io::Result<()> {
        self.acc.error.take().map_or(Ok(()), Err)
    }
}

impl<S: PayloadStore> Acc<S> {
    fn push(&mut self, at: u64, dir: Direction, kind: EventKind) {
        self.out.push(Event { at, dir, kind });
    }

    fn on_event(&mut self, dir: Direction, event: wire::Event<'_>) {
        let at = self.now;
        match event {
            wire::Event::Head { offset, bytes } => {
                // Heads stay inline: at most MAX_HEAD_LEN, and read as text.
                self.push(at, dir, EventKind::Http { offset, data: Data::inline(bytes) })
            }
            wire::Event::Upgrade { upgraded, negotiated } => {
                self.push(at, dir, upgrade_event(upgraded, negotiated));
                if upgraded {
                    self.setup_inflation(at, negotiated);
                }
            }
            wire::Event::FrameStart { offset, header } => self.start_frame(dir, offset, &header),
            wire::Event::Payload(piece) => self.payload(dir, piece),
            wire::Event::FrameEnd { offset, header, close, cut } => {
                let frame = self.end_frame(dir, offset, &header, close, cut);
                self.push(at, dir, EventKind::Frame(frame));
            }
            wire::Event::MessageEnd { offset, opcode, len, frames, compressed } => {
                let payload = self.end_message(dir);
                let mut msg = Message::new(offset, opcode.value(), len, frames, compressed, payload);
                if let Some(done) = self.end_inflation(dir) {
                    done.violations.into_iter().for_each(|v| self.violation(dir, v));
                    if let Some(detail) = done.budget_exhausted {
                        self.note(at, "inflate_budget_exhausted", detail);
                    }
                    msg.inflated = Some(InflatedPayload { len: done.len, cut: done.cut, data: done.data });
                }
                self.push(at, dir, EventKind::Message(msg));
            }
            wire::Event::Violation(v) => self.violation(dir, v),
            wire::Event::Raw { offset, bytes, reason } => {
                let data = self.stored(dir, bytes);
                self.push(at, dir, EventKind::Raw { offset, reason: reason.into(), data })
            }
        }
    }

    /// Bytes of a raw run: inline up to [`INLINE_MAX`], beyond
    /// that appended to the sidecar like frame payloads.
    fn stored(&mut self, dir: Direction, bytes: &[u8]) -> Data {
        if bytes.len() <= INLINE_MAX {
            return Data::inline(bytes);
        }
        match self.store.append(dir, bytes) {
            Ok(offset) => {
                Data::Sidecar(SidecarRef::new(self.store.file_name(dir), offset, bytes.len() as u64, Digest::of(bytes)))
            }
            Err(e) => {
                self.error.get_or_insert(e);
                Digest::of(bytes).into_data()
            }
        }
    }

    fn violation(&mut self, dir: Direction, v: wire::Violation) {
        let kind = EventKind::Violation { offset: v.offset, kind: v.kind.name().into(), detail: v.kind.to_string() };
        self.push(self.now, dir, kind);
    }

    /// Prepares inflation for permessage-deflate, and notes extensions whose
    /// frames are kept as sent.
    fn setup_inflation(&mut self, at: u64, negotiated: &Negotiated) {
        for ext in &negotiated.extensions {
            if ext.name != "permessage-deflate" {
                let detail = format!(
                    "extension {} is not decoded by wstap: its frames are recorded as sent, not inflated",
                    ext.name
                );
                self.note(at, "extension_not_decoded", detail);
            }
        }
        let Some(ext) = negotiated.deflate() else { return };
        let (params, problems) = DeflateParams::from_extension_lenient(ext);
        if !problems.is_empty() {
            let detail = format!("permessage-deflate parameters ignored: {}", problems.join("; "));
            self.note(at, "deflate_params", detail);
        }
        for dir in Direction::BOTH {
            let inflater = params.inflater(dir).with_cap(self.inflate_cap);
            self.inflation[dir.index()] = Some(Inflation::new(inflater));
        }
    }

    fn note(&mut self, at: u64, kind: &str, detail: String) {
        self.push(at, Direction::ServerToClient, EventKind::Note { kind: kind.into(), detail });
    }

    fn end_inflation(&mut self, dir: Direction) -> Option<super::inflate::Done> {
        let inflation = self.inflation[dir.index()].as_mut()?;
        match inflation.end(dir, &mut self.store) {
            Ok(done) => done,
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn start_frame(&mut self, dir: Direction, offset: u64, header: &FrameHeader) {
        if let Some(inflation) = self.inflation[dir.index()].as_mut().filter(|_| !header.opcode.is_control()) {
            let compressed = header.rsv & 0b100 != 0;
            inflation.frame(offset, header.opcode.starts_message(), compressed, header.opcode == OpCode::TEXT);
        }
        let inline = std::mem::take(&mut self.spare[dir.index()]);
        let mut acc = FrameAcc { in_message: !header.opcode.is_control(), inline, ..FrameAcc::default() };
        if header.len > INLINE_MAX as u64 {
            match self.store.append(dir, &[]) {
                Ok(at) => acc.sidecar = Some((at, Hasher::default())),
                Err(e) => self.error = Some(e),
            }
        }
        if header.opcode.starts_message() {
            let deferred = acc.sidecar.is_some();
            let single = (header.fin && !deferred).then(|| Data::Text(String::new()));
            let inline = (!deferred && single.is_none()).then(Vec::new);
            self.messages[dir.index()] = Some(MessageAcc { inline, hasher: None, deferred, single });
        }
        self.frames[dir.index()] = Some(acc);
    }

    fn payload(&mut self, dir: Direction, piece: &[u8]) {
        let Some(frame) = self.frames[dir.index()].as_mut() else { return };
        frame.received += piece.len() as u64;
        match frame.sidecar.as_mut() {
            Some((_, hasher)) => {
                hasher.update(piece);
                if let Err(e) = self.store.append(dir, piece) {
                    self.error.get_or_insert(e);
                }
            }
            None => frame.inline.extend_from_slice(piece),
        }
        if let Some(msg) =
            self.messages[dir.index()].as_mut().filter(|m| frame.in_message && !m.deferred && m.single.is_none())
        {
            msg.add(piece);
        }
        if let Some(inflation) = self.inflation[dir.index()].as_mut().filter(|i| frame.in_message && i.active())
            && let Err(e) = inflation.push(dir, piece, &mut self.store)
        {
            self.error.get_or_insert(e);
        }
    }

    fn end_frame(
        &mut self,
        dir: Direction,
        offset: u64,
        header: &FrameHeader,
        close: Option<wire::ClosePayload>,
        cut: bool,
    ) -> Frame {
        let acc = self.frames[dir.index()].take().unwrap_or_default();
        if let (Some((_, hasher)), Some(msg)) = (&acc.sidecar, self.messages[dir.index()].as_mut())
            && acc.in_message
            && std::mem::take(&mut msg.deferred)
        {
            msg.hasher = Some(hasher.clone());
        }
        let payload = match acc.sidecar {
            Some((start, hasher)) => {
                Data::Sidecar(SidecarRef::new(self.store.file_name(dir), start, acc.received, hasher.finish()))
            }
            None => Data::inline(&acc.inline),
        };
        let mut spare = acc.inline;
        spare.clear();
        self.spare[dir.index()] = spare;
        if let Some(msg) = self.messages[dir.index()].as_mut().filter(|_| acc.in_message)
            && let Some(single) = msg.single.as_mut()
        {
            *single = payload.clone();
        }
        let close_reason = close.as_ref().and_then(|c| c.reason_text().filter(|t| !t.is_empty()).map(str::to_string));
        Frame {
            offset,
            fin: header.fin,
            rsv: header.rsv,
            opcode: header.opcode.value(),
            mask: header.mask.map(|m| hex(&m)),
            len: header.len,
            len_bits: (!header.is_minimal()).then(|| header.len_form.bits()),
            close_code: close.as_ref().and_then(|c| c.code),
            close_reason,
            cut,
            payload,
        }
    }

    fn end_message(&mut self, dir: Direction) -> Data {
        match self.messages[dir.index()].take() {
            Some(MessageAcc { single: Some(data), .. }) => data,
            Some(MessageAcc { inline: Some(bytes), .. }) => Data::inline(&bytes),
            Some(MessageAcc { hasher, .. }) => hasher.unwrap_or_default().finish().into_data(),
            None => Data::Text(String::new()),
        }
    }
}

impl MessageAcc {
    /// Adds a piece. A message kept inline is never hashed (its bytes are
    /// in the recording); one that grows past [`INLINE_MAX`] hashes what it
    /// kept, once, and each later piece as it comes.
    fn add(&mut self, piece: &[u8]) {
        match self.inline.as_mut() {
            Some(buf) if buf.len() + piece.len() <= INLINE_MAX => buf.extend_from_slice(piece),
            Some(buf) => {
                let hasher = self.hasher.get_or_insert_with(Hasher::default);
                hasher.update(buf);
                hasher.update(piece);
                self.inline = None;
            }
            None => self.hasher.get_or_insert_with(Hasher::default).update(piece),
        }
    }
}

fn upgrade_event(upgraded: bool, negotiated: &Negotiated) -> EventKind {
    let extensions = (!negotiated.extensions.is_empty()).then(|| {
        negotiated
            .extensions
            .iter()
            .map(|e| {
                let mut s = e.name.clone();
                for (k, v) in &e.params {
                    s.push_str("; ");
                    s.push_str(k);
                    if let Some(v) = v {
                        s.push('=');
                        s.push_str(v);
                    }
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    EventKind::Upgrade { upgraded, extensions, protocol: negotiated.protocol.clone() }
}

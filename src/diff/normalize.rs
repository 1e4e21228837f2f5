//! A recording reduced to what should be the same when behaviour is the
//! same: the normalised wire log plus the per-side facts the change finder
//! and the timing check read.
//!
//! The log is split by direction: within a direction the order is the TCP
//! stream's and cannot vary, while the interleaving of the two directions
//! depends on read timing, which is noise. Cross-direction behaviour (a close
//! answered, a pong after the peer's close) is kept as facts instead: each
//! ping or pong carries its phase relative to the closes, and the summary
//! says who closed first.
//!
//! One pass over the events builds everything ([`View::new`]), so memory is
//! proportional to the number of events and lines are bounded in length:
//! long payloads are shown as a short preview plus length and digest.
//!
//! Digests are shown as BLAKE3 whatever the recording's format version, so
//! that a version-1 recording (SHA-256) diffs cleanly against a new one: a
//! version-1 sidecar range is hashed again from its bytes (streamed), and a
//! version-1 digest-only message gets the BLAKE3 of its frames' bytes.

use super::DiffOptions;
use crate::session::data::{Digest, Hasher, SidecarRef, hex};
use crate::session::{Data, Event, EventKind, Frame, Message, Recording, Side, Summary};
use crate::wire::handshake::parse_extensions;
use crate::wire::{DeflateParams, Direction, Inflater, OpCode};

/// Payloads up to this many bytes are shown whole; longer ones by digest.
pub const SHOW_MAX: usize = 64;

/// Headers that differ on every connection, always ignored.
pub const VOLATILE_HEADERS: [&str; 3] = ["sec-websocket-key", "sec-websocket-accept", "date"];

/// A data message as the change finder compares it.
#[derive(Clone, Debug)]
pub struct Msg {
    /// When it completed (µs).
    pub at: u64,
    /// `text`, `binary`, …
    pub opcode: u8,
    /// Normalised payload (inflated if compressed): preview or digest.
    pub payload: String,
    /// Frames it was split into.
    pub frames: u32,
}

/// A ping or pong, with where it fell relative to the closing handshake.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Control {
    /// When it was seen (µs).
    pub at: u64,
    /// 9 (ping) or 10 (pong).
    pub opcode: u8,
    /// Normalised payload.
    pub payload: String,
    /// `""`, `after the server's close` or `after its own close`.
    pub phase: &'static str,
}

/// Everything one side sent, normalised.
#[derive(Clone, Debug, Default)]
pub struct SideView {
    /// The request or status line.
    pub start_line: Option<String>,
    /// Kept headers, `(lowercase name, value)`, in order.
    pub headers: Vec<(String, String)>,
    /// Data messages, in order.
    pub messages: Vec<Msg>,
    /// Pings and pongs, in order.
    pub controls: Vec<Control>,
    /// Time of the first close frame sent.
    pub close_at: Option<u64>,
    /// Time TCP ended in this direction.
    pub end_at: Option<u64>,
    /// Violation names, in order.
    pub violations: Vec<String>,
    /// TCP read sizes.
    pub reads: Vec<u64>,
    /// Faults applied to what this side sent (`--fault`): rule and what was done.
    pub faults: Vec<String>,
}

/// A recording, normalised for comparison.
#[derive(Clone, Debug)]
pub struct View {
    /// One line per normalised event: every client-to-server line in stream
    /// order, then every server-to-client line.
    pub lines: Vec<String>,
    /// Client (index 0) and server (index 1).
    pub sides: [SideView; 2],
    /// The negotiated extensions and subprotocol, if upgraded.
    pub upgrade: Option<(Option<String>, Option<String>)>,
    /// The closing summary.
    pub summary: Summary,
}

impl View {
    /// Normalises `rec` under `opts`.
    pub fn new(rec: &Recording, opts: &DiffOptions) -> View {
        let mut b = Builder::new(rec, opts);
        for event in &rec.events {
            b.event(event);
        }
        b.flush_raw();
        View { lines: b.lines.concat(), sides: b.sides, upgrade: b.upgrade, summary: rec.summary() }
    }

    /// What `side` sent.
    pub fn side(&self, side: Side) -> &SideView {
        &self.sides[side.sends().index()]
    }
}

struct Builder<'a> {
    rec: &'a Recording,
    opts: &'a DiffOptions,
    lines: [Vec<String>; 2],
    sides: [SideView; 2],
    upgrade: Option<(Option<String>, Option<String>)>,
    raw: Option<(Direction, String, Vec<u8>)>,
    compressed: [Vec<u8>; 2],
    inflaters: [Option<Inflater>; 2],
    /// Version-1 recordings only: the BLAKE3 of the current message's frame
    /// bytes so far, per direction (for a message recorded by SHA-256 alone).
    message_digest: [Option<Hasher>; 2],
}

impl<'a> Builder<'a> {
    fn new(rec: &'a Recording, opts: &'a DiffOptions) -> Self {
        Builder {
            rec,
            opts,
            lines: Default::default(),
            sides: Default::default(),
            upgrade: None,
            raw: None,
            compressed: Default::default(),
            inflaters: [None, None],
            message_digest: [None, None],
        }
    }

    fn line(&mut self, dir: Direction, text: String) {
        self.lines[dir.index()].push(format!("{} {text}", dir.short()));
    }

    fn event(&mut self, e: &Event) {
        if !matches!(e.kind, EventKind::Raw { .. } | EventKind::Read { .. }) {
            self.flush_raw();
        }
        let side = e.dir.index();
        match &e.kind {
            EventKind::Read { len } => {
                self.sides[side].reads.push(*len);
                if self.opts.segments {
                    self.line(e.dir, format!("read {len}"));
                }
            }
            EventKind::Http { data, .. } => self.http(e.dir, data),
            EventKind::Upgrade { upgraded, extensions, protocol } => {
                self.upgraded(e.dir, *upgraded, extensions, protocol)
            }
            EventKind::Frame(f) => self.frame(e, f),
            EventKind::Message(m) => self.message(e, m),
            EventKind::Note { kind, .. } => self.line(e.dir, format!("note {kind}")),
            // The cipher suite and certificates are left out: suites follow
            // the hardware and certificates are minted per run.
            EventKind::Tls(t) => {
                let mut text = format!("tls {} {}", t.leg.as_str(), t.version.as_deref().unwrap_or("-"));
                for (name, value) in [("sni", &t.sni), ("alpn", &t.alpn)] {
                    if let Some(v) = value {
                        text.push_str(&format!(" {name}={}", crate::escape::quoted(v)));
                    }
                }
                self.line(e.dir, text)
            }
            EventKind::TlsEnd { leg, how, .. } => {
                self.line(e.dir, format!("tls_end {} {}", leg.as_str(), how.as_str()))
            }
            EventKind::Rewrite { header, .. } => self.line(e.dir, format!("rewrite {header}")),
            EventKind::Fault { rule, spec, action, detail, .. } => {
                let spec = crate::escape::quoted(spec);
                self.sides[side].faults.push(format!("rule {rule} {spec}: {detail}"));
                self.line(e.dir, format!("fault {action} (rule {rule}: {spec})"))
            }
            EventKind::Violation { kind, .. } => {
                self.sides[side].violations.push(kind.clone());
                self.line(e.dir, format!("violation {kind}"));
            }
            EventKind::Raw { reason, data, .. } => self.raw(e.dir, reason, data),
            EventKind::Gap { len, .. } => self.line(e.dir, format!("gap {len}")),
            EventKind::Fin | EventKind::Rst { .. } => {
                self.sides[side].end_at.get_or_insert(e.at);
                let how = if matches!(e.kind, EventKind::Fin) { "fin" } else { "rst" };
                self.line(e.dir, how.to_string());
            }
        }
    }

    fn http(&mut self, dir: Direction, data: &Data) {
        let text = self.rec.data_bytes(data).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
        let start = start_line(lines.next().unwrap_or_default());
        self.line(dir, format!("http {start}"));
        self.sides[dir.index()].start_line = Some(start);
        for header in lines {
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if let Some(value) = keep_header(name.trim(), value.trim(), &self.opts.ignore_headers) {
                let value = crate::escape::line(&value).into_owned();
                self.line(dir, format!("header {}: {value}", crate::escape::line(name.trim())));
                self.sides[dir.index()].headers.push((name.trim().to_ascii_lowercase(), value));
            }
        }
    }

    fn upgraded(&mut self, dir: Direction, upgraded: bool, ext: &Option<String>, proto: &Option<String>) {
        if !upgraded {
            self.line(dir, "upgrade refused".into());
            return;
        }
        let mut text = "upgrade ok".to_string();
        for (name, value) in [("extensions", ext), ("protocol", proto)] {
            if let Some(v) = value {
                text.push_str(&format!(" {name}={}", crate::escape::quoted(v)));
            }
        }
        self.line(dir, text);
        self.upgrade = Some((ext.clone(), proto.clone()));
        self.setup_inflaters(ext.as_deref().unwrap_or(""));
    }

    fn setup_inflaters(&mut self, ext: &str) {
        let Some(pmd) = parse_extensions(ext).into_iter().find(|e| e.name == "permessage-deflate") else { return };
        let (params, _) = DeflateParams::from_extension_lenient(&pmd);
        for dir in Direction::BOTH {
            self.inflaters[dir.index()] = Some(params.inflater(dir));
        }
    }

    fn frame(&mut self, e: &Event, f: &Frame) {
        let op = f.opcode();
        let compressed = self.inflaters[e.dir.index()].is_some() && (f.rsv & 4 != 0 || self.in_compressed(e.dir, op));
        let mut text = format!("frame {} fin={} rsv={}", op.name(), u8::from(f.fin), f.rsv);
        text.push_str(&if compressed { " len=*".to_string() } else { format!(" len={}", f.len) });
        text.push_str(if f.mask.is_some() { " mask=*" } else { " unmasked" });
        if let Some(bits) = f.len_bits {
            text.push_str(&format!(" len_bits={bits}"));
        }
        if f.cut {
            text.push_str(" cut");
        }
        text.push(' ');
        text.push_str(&self.frame_payload(e, f, compressed));
        self.add_to_message_digest(e.dir, f);
        self.line(e.dir, text);
        self.note_control(e, f);
    }

    /// True while `dir` is inside a compressed message (a continuation of one).
    fn in_compressed(&self, dir: Direction, op: OpCode) -> bool {
        op == OpCode::CONTINUATION && !self.compressed[dir.index()].is_empty()
    }

    fn frame_payload(&mut self, e: &Event, f: &Frame, compressed: bool) -> String {
        if compressed {
            if let Ok(bytes) = self.rec.data_bytes(&f.payload) {
                self.compressed[e.dir.index()].extend_from_slice(&bytes);
            }
            return "<compressed>".into();
        }
        if f.opcode() == OpCode::CLOSE && !f.cut {
            let code = f.close_code.map_or("none".to_string(), |c| c.to_string());
            let reason =
                f.close_reason.as_deref().map(|r| format!(" reason={}", crate::escape::quoted(r))).unwrap_or_default();
            return format!("code={code}{reason}");
        }
        self.show(&f.payload)
    }

    fn note_control(&mut self, e: &Event, f: &Frame) {
        let side = Side::sender(e.dir);
        let op = f.opcode();
        if op == OpCode::CLOSE {
            self.sides[e.dir.index()].close_at.get_or_insert(e.at);
        }
        if op != OpCode::PING && op != OpCode::PONG {
            return;
        }
        let phase = if self.sides[e.dir.reverse().index()].close_at.is_some() {
            match side {
                Side::Client => "after the server's close",
                Side::Server => "after the client's close",
            }
        } else if self.sides[e.dir.index()].close_at.is_some() {
            "after its own close"
        } else {
            ""
        };
        let payload = self.show(&f.payload);
        self.sides[e.dir.index()].controls.push(Control { at: e.at, opcode: f.opcode, payload, phase });
    }

    /// Version-1 recordings: feeds a data frame's bytes to its message's
    /// BLAKE3 (see [`message_digest`](Builder::message_digest)).
    fn add_to_message_digest(&mut self, dir: Direction, f: &Frame) {
        let op = f.opcode();
        if self.rec.wstap_recording != 1 || op.is_control() {
            return;
        }
        if op != OpCode::CONTINUATION {
            self.message_digest[dir.index()] = Some(Hasher::default());
        }
        let Some(hasher) = self.message_digest[dir.index()].as_mut() else { return };
        let fed = match &f.payload {
            Data::Sidecar(r) => {
                let home = self.rec.dir.clone().unwrap_or_default();
                crate::session::sidecar::scan(&home, r, |chunk| hasher.update(chunk)).is_ok()
            }
            data => data.inline_bytes().ok().flatten().map(|b| hasher.update(&b)).is_some(),
        };
        if !fed {
            self.message_digest[dir.index()] = None;
        }
    }

    fn message(&mut self, e: &Event, m: &Message) {
        let op = OpCode::new(m.opcode).name();
        let from_frames = self.message_digest[e.dir.index()].take();
        let (payload, len) = match (&m.payload, from_frames) {
            _ if m.compressed => self.inflate(e.dir, m),
            (Data::Sha256(_), Some(h)) => (short_digest(&h.finish()), m.len),
            _ => (self.show(&m.payload), m.len),
        };
        let tag = if m.compressed { " compressed" } else { "" };
        self.line(e.dir, format!("message {op} frames={} len={len}{tag} {payload}", m.frames));
        let msg = Msg { at: e.at, opcode: m.opcode, payload, frames: m.frames };
        self.sides[e.dir.index()].messages.push(msg);
    }

    /// The inflated payload of a compressed message, shown, and its length.
    fn inflate(&mut self, dir: Direction, m: &Message) -> (String, u64) {
        let mut input = std::mem::take(&mut self.compressed[dir.index()]);
        if input.is_empty() {
            input = self.rec.data_bytes(&m.payload).unwrap_or_default();
        }
        let Some(inf) = self.inflaters[dir.index()].as_mut() else {
            return (self.show(&m.payload), m.len);
        };
        match inf.inflate_message(&input) {
            Ok(bytes) => (show_bytes(&bytes), bytes.len() as u64),
            Err(_) => (format!("<does not inflate> {}", self.show(&m.payload)), m.len),
        }
    }

    fn raw(&mut self, dir: Direction, reason: &str, data: &Data) {
        let bytes = self.rec.data_bytes(data).unwrap_or_default();
        match self.raw.as_mut() {
            Some((d, r, buf)) if *d == dir && r == reason => buf.extend_from_slice(&bytes),
            _ => {
                self.flush_raw();
                self.raw = Some((dir, reason.to_string(), bytes));
            }
        }
    }

    fn flush_raw(&mut self) {
        if let Some((dir, reason, bytes)) = self.raw.take() {
            self.line(
                dir,
                format!("raw {} len={} {}", crate::escape::quoted(&reason), bytes.len(), show_bytes(&bytes)),
            );
        }
    }

    fn show(&self, data: &Data) -> String {
        match data {
            Data::Sidecar(r) => format!("len={} {}", r.len, short_digest(&self.blake3_of(r))),
            Data::Blake3(d) => short_digest(&Digest::Blake3(d.clone())),
            Data::Sha256(d) => short_digest(&Digest::Sha256(d.clone())),
            _ => show_bytes(&self.rec.data_bytes(data).unwrap_or_default()),
        }
    }

    /// The BLAKE3 of a sidecar range: as recorded, or (version 1) hashed
    /// from its bytes; the recorded SHA-256 if they cannot be read.
    fn blake3_of(&self, r: &SidecarRef) -> Digest {
        if let Some(d) = &r.blake3 {
            return Digest::Blake3(d.clone());
        }
        let mut hasher = Hasher::default();
        let home = self.rec.dir.clone().unwrap_or_default();
        match crate::session::sidecar::scan(&home, r, |chunk| hasher.update(chunk)) {
            Ok(()) => hasher.finish(),
            Err(_) => r.digest().unwrap_or(Digest::Sha256(String::new())),
        }
    }
}

/// `blake3=<first 16 hex digits>` (or `sha256=…`). A recorded digest is
/// untrusted text: anything but hex digits is shown quoted and escaped.
fn short_digest(d: &Digest) -> String {
    let shown: String = d.hex().chars().take(16).collect();
    if shown.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("{}={shown}", d.key())
    } else {
        format!("{}={}", d.key(), crate::escape::quoted(&shown))
    }
}

#[cfg(test)]
#[test]
fn a_recorded_digest_is_shown_as_data() {
    assert_eq!(short_digest(&Digest::Blake3("00112233445566778899".into())), "blake3=0011223344556677");
    let hostile = short_digest(&Digest::Sha256("\u{1b}[2Jééééééééééééééé".into()));
    assert!(hostile.starts_with("sha256=\"") && !hostile.contains('\u{1b}'), "{hostile}");
}

/// A payload as one bounded token: quoted text, `0x…` hex, or preview + digest.
pub fn show_bytes(bytes: &[u8]) -> String {
    let whole = bytes.len() <= SHOW_MAX;
    let shown = &bytes[..bytes.len().min(SHOW_MAX)];
    let mut text = match std::str::from_utf8(shown) {
        Ok(s) => crate::escape::quoted(s),
        Err(_) if whole || std::str::from_utf8(bytes).is_err() => format!("0x{}", hex(shown)),
        Err(e) => crate::escape::quoted(std::str::from_utf8(&shown[..e.valid_up_to()]).unwrap_or_default()),
    };
    if !whole {
        text.push_str(&format!("… len={} {}", bytes.len(), short_digest(&Digest::of(bytes))));
    }
    text
}

/// The header value to compare, or `None` if the header is ignored.
pub fn keep_header(name: &str, value: &str, ignore: &[String]) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if VOLATILE_HEADERS.contains(&lower.as_str()) || ignore.iter().any(|i| i.eq_ignore_ascii_case(name)) {
        return None;
    }
    if lower == "host" {
        return Some(mask_port(value));
    }
    Some(value.to_string())
}

/// An HTTP head's first line as compared: [`mask_run_case`], escaped.
/// Recordings and report directories both go through it.
pub fn start_line(line: &str) -> String {
    crate::escape::line(&mask_run_case(line)).into_owned()
}

/// `GET /runCase?case=3&agent=A HTTP/1.1` → `GET /runCase?case=*&agent=* HTTP/1.1`:
/// the agent name and the case number of Autobahn's `/runCase` URL say who
/// ran the case and where it fell in that run's selection, not how the
/// client behaved (cases are paired by ID). Other request lines are kept.
pub fn mask_run_case(start: &str) -> String {
    let mut parts: Vec<&str> = start.split(' ').collect();
    let Some((path, query)) = parts.get(1).and_then(|t| t.split_once('?')) else { return start.to_string() };
    if path != "/runCase" {
        return start.to_string();
    }
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key @ ("agent" | "case"), _)) => format!("{key}=*"),
            _ => pair.to_string(),
        })
        .collect();
    let target = format!("{path}?{}", masked.join("&"));
    parts[1] = &target;
    parts.join(" ")
}

/// `host:1234` → `host:*`; values without a port are kept.
fn mask_port(value: &str) -> String {
    match value.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{host}:*")
        }
        _ => value.to_string(),
    }
}

//! The per-direction fault tap: bytes one side sent in, [`Op`]s out.
//!
//! The tap passes the HTTP head through as it comes, then follows the
//! frames: at each frame header it asks the rules (in order) what to do.
//! At most one rule decides the frame's fate (drop, cut, end, close code,
//! inject), plus at most one `delay` and one `slice` rule shape how it is
//! written. Bytes with nothing to do are passed on as they came, runs of
//! them as one write. Offsets in [`Fault`]s are in the sent stream, the
//! one the recording holds.

use super::{Action, HELD_MAX, Injected, Rule, Trigger};
use crate::wire::{Direction, FrameHeader, OpCode, apply_mask};
use bytes::Bytes;
use std::ops::Range;
use std::time::Duration;

/// Longest HTTP head the tap scans for its end; past it, the direction is
/// passed through undecoded (the recorder names such a head, not the tap).
const HEAD_MAX: usize = 64 * 1024;

/// One thing for the IO edge to do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Write these bytes to the receiving side.
    Write(Bytes),
    /// Wait this long before the next op.
    Sleep(Duration),
    /// Record this fault.
    Fault(Fault),
    /// End the receiving side this way; the tap forwards nothing more.
    End(Ending),
}

/// How a rule ends the receiving side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// An orderly TCP end (FIN) towards the receiver.
    Fin,
    /// A reset of both sides.
    Rst,
    /// Nothing more, not even the sender's end, until the other direction ends.
    Hold,
}

/// A departure from forwarding, for the recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// The rule's number (from 1, in the order given).
    pub rule: usize,
    /// The rule as written.
    pub spec: String,
    /// What was done ([`Action::name`]).
    pub action: &'static str,
    /// Offset of the frame in the sent stream of the direction.
    pub offset: u64,
    /// Bytes of the frame not forwarded.
    pub withheld: u64,
    /// What happened, in words.
    pub detail: String,
    /// Bytes written instead of or besides the frame (a new close, an injected frame).
    pub delivered: Option<Vec<u8>>,
}

/// A rule armed on one connection.
#[derive(Debug)]
struct Armed {
    number: usize,
    rule: Rule,
    fired: bool,
    /// An `every slice` rule is recorded once, at its first frame.
    noted: bool,
}

#[derive(Debug)]
enum Head {
    Scanning(Vec<u8>),
    Frames,
    Raw,
}

/// The frame being passed.
#[derive(Debug)]
struct Cur {
    header: FrameHeader,
    hdr_len: u64,
    offset: u64,
    ws_start: u64,
    total: u64,
    done: u64,
    at: Duration,
    fate: Fate,
    slice: Option<(usize, Duration, bool)>,
    after: Option<Vec<u8>>,
    /// Where the frame starts in the current read, if it does (a held
    /// frame passed unchanged is then written from the read, not a copy).
    start_pos: Option<usize>,
    /// A held frame was rewritten (close code).
    replaced: bool,
}

#[derive(Debug, PartialEq)]
enum Fate {
    Pass,
    Drop,
    Cut {
        keep: u64,
        end: Ending,
    },
    /// Buffered until whole, then decided.
    Held(Vec<u8>),
}

/// What the rules know of a payload when asked.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Unknown,
    Unavailable,
    Known(&'a [u8]),
}

/// Rules chosen for a frame (indices into the armed rules).
#[derive(Default)]
struct Decision {
    fate: Option<usize>,
    delay: Option<usize>,
    slice: Option<usize>,
}

/// The tap of one direction of one connection.
#[derive(Debug)]
pub struct DirTap {
    dir: Direction,
    rules: Vec<Armed>,
    head: Head,
    offset: u64,
    sent_head: Option<u64>,
    hdr: Vec<u8>,
    cur: Option<Cur>,
    frames: u64,
    messages: u64,
    ws_bytes: u64,
    text_message: bool,
    drop_message: Option<usize>,
    dead: bool,
    fill: usize,
}

/// Ops being built for one read.
struct Out<'a> {
    input: &'a Bytes,
    ops: Vec<Op>,
    run: Option<Range<usize>>,
}

impl Out<'_> {
    fn flush(&mut self) {
        if let Some(r) = self.run.take() {
            self.ops.push(Op::Write(self.input.slice(r)));
        }
    }

    fn op(&mut self, op: Op) {
        self.flush();
        self.ops.push(op);
    }

    fn pass(&mut self, r: Range<usize>) {
        match &mut self.run {
            Some(run) if run.end == r.start => run.end = r.end,
            _ => {
                self.flush();
                self.run = Some(r);
            }
        }
    }
}

/// Bytes of a frame to write: borrowed from the read, or made by the tap.
enum Piece {
    Read(Range<usize>),
    Owned(Vec<u8>),
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Read(r) => r.len(),
            Piece::Owned(v) => v.len(),
        }
    }

    fn take(self, n: usize) -> Piece {
        match self {
            Piece::Read(r) => Piece::Read(r.start..r.start + n),
            Piece::Owned(mut v) => {
                v.truncate(n);
                Piece::Owned(v)
            }
        }
    }
}

impl DirTap {
    /// A tap for `dir` with these rules (numbered as given).
    pub fn new(dir: Direction, rules: Vec<(usize, Rule)>) -> DirTap {
        let rules =
            rules.into_iter().map(|(number, rule)| Armed { number, rule, fired: false, noted: false }).collect();
        DirTap {
            dir,
            rules,
            head: Head::Scanning(Vec::new()),
            offset: 0,
            sent_head: None,
            hdr: Vec::new(),
            cur: None,
            frames: 0,
            messages: 0,
            ws_bytes: 0,
            text_message: false,
            drop_message: None,
            dead: false,
            fill: 0,
        }
    }

    /// The sent head was `len` bytes though the tap is given another (the
    /// `Host` rewrite): offsets after the head count the sent one.
    pub fn set_sent_head_len(&mut self, len: u64) {
        self.sent_head = Some(len);
    }

    /// True once a rule has ended the receiving side: nothing more is forwarded.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// The ops for one read of `input`, `now` after the connection opened.
    pub fn push(&mut self, input: &Bytes, now: Duration) -> Vec<Op> {
        let mut out = Out { input, ops: Vec::new(), run: None };
        let mut pos = 0;
        while pos < input.len() && !self.dead {
            pos += match self.head {
                Head::Scanning(_) => self.scan_head(&mut out, pos),
                Head::Raw => {
                    out.pass(pos..input.len());
                    input.len() - pos
                }
                Head::Frames if self.cur.is_none() => self.header(&mut out, pos, now),
                Head::Frames => self.payload(&mut out, pos),
            };
        }
        out.flush();
        self.fill = 0;
        if let Some(cur) = &mut self.cur {
            cur.start_pos = None;
        }
        out.ops
    }

    fn scan_head(&mut self, out: &mut Out, pos: usize) -> usize {
        let Head::Scanning(seen) = &mut self.head else { return 0 };
        let before = seen.len();
        let rest = &out.input[pos..];
        // Look for the blank line across the previous read's tail.
        let from = before.saturating_sub(3);
        seen.extend_from_slice(rest);
        let end = seen[from..].windows(4).position(|w| w == b"\r\n\r\n").map(|i| from + i + 4);
        let taken = match end {
            Some(end) => end - before,
            None => rest.len(),
        };
        out.pass(pos..pos + taken);
        self.offset += taken as u64;
        match end {
            Some(_) => {
                let upgraded = self.dir == Direction::ClientToServer || seen.starts_with(b"HTTP/1.1 101");
                if let Some(len) = self.sent_head.take() {
                    self.offset = len;
                }
                self.head = if upgraded { Head::Frames } else { Head::Raw };
            }
            None if seen.len() > HEAD_MAX => self.head = Head::Raw,
            None => {}
        }
        taken
    }

    /// Collects a frame header (possibly across reads) and decides the frame.
    fn header(&mut self, out: &mut Out, pos: usize, now: Duration) -> usize {
        let input = &out.input[pos..];
        if self.hdr.is_empty()
            && let Some((h, n)) = FrameHeader::parse(input)
        {
            let offset = self.offset;
            self.offset += n as u64;
            self.start(out, h, n, Piece::Read(pos..pos + n), offset, now, pos + n);
            return n;
        }
        let had = self.hdr.len();
        let room = (crate::wire::MAX_HEADER_LEN - had).min(input.len());
        self.hdr.extend_from_slice(&input[..room]);
        match FrameHeader::parse(&self.hdr) {
            Some((h, n)) => {
                let used = n - had;
                let bytes = std::mem::take(&mut self.hdr)[..n].to_vec();
                let offset = self.offset - had as u64;
                self.offset += used as u64;
                self.start(out, h, n, Piece::Owned(bytes), offset, now, pos + used);
                used
            }
            None => {
                self.offset += room as u64;
                room
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        out: &mut Out,
        h: FrameHeader,
        hdr_len: usize,
        bytes: Piece,
        offset: u64,
        at: Duration,
        end: usize,
    ) {
        self.frames += 1;
        if h.opcode.starts_message() {
            self.messages += 1;
            self.text_message = h.opcode == OpCode::TEXT;
            self.drop_message = None;
        }
        let total = hdr_len as u64 + h.len;
        let ws_start = self.ws_bytes;
        self.ws_bytes += total;
        let fate = Fate::Pass;
        let cur = Cur {
            header: h,
            hdr_len: hdr_len as u64,
            offset,
            ws_start,
            total,
            done: 0,
            at,
            fate,
            slice: None,
            after: None,
            start_pos: match &bytes {
                Piece::Read(r) => Some(r.start),
                Piece::Owned(_) => None,
            },
            replaced: false,
        };
        self.cur = Some(cur);
        if let Some(rule) = self.drop_message.filter(|_| h.opcode == OpCode::CONTINUATION) {
            let detail = format!("{}, a continuation of the message dropped, was not forwarded", self.describe(None));
            self.fault(out, rule, offset, total, detail, None);
            self.set_fate(Fate::Drop);
        } else {
            // A close frame (small by rule) is decided whole, so that its
            // fault names its code.
            let close = h.opcode == OpCode::CLOSE && h.len <= crate::wire::MAX_CONTROL_PAYLOAD;
            match self.decide(Payload::Unknown).filter(|_| !close) {
                Some(d) => {
                    self.apply(out, d, None);
                }
                None if total <= HELD_MAX => self.set_fate(Fate::Held(Vec::with_capacity(total as usize))),
                None => {
                    let d = self.decide(Payload::Unavailable).unwrap_or_default();
                    self.apply(out, d, None);
                }
            }
        }
        self.frame_bytes(out, bytes);
        self.maybe_end_frame(out, end);
    }

    fn set_fate(&mut self, fate: Fate) {
        if let Some(cur) = &mut self.cur {
            cur.fate = fate;
        }
    }

    fn payload(&mut self, out: &mut Out, pos: usize) -> usize {
        let Some(cur) = &self.cur else { return 0 };
        let n = ((cur.total - cur.done) as usize).min(out.input.len() - pos);
        self.offset += n as u64;
        self.frame_bytes(out, Piece::Read(pos..pos + n));
        self.maybe_end_frame(out, pos + n);
        n
    }

    /// At the frame's end (`end`: the position after it in the read).
    fn maybe_end_frame(&mut self, out: &mut Out, end: usize) {
        let Some(cur) = &self.cur else { return };
        if cur.done < cur.total || self.dead {
            return;
        }
        let mut cur = self.cur.take().expect("checked");
        if let Fate::Held(frame) = std::mem::replace(&mut cur.fate, Fate::Pass) {
            let mut payload = frame[cur.hdr_len as usize..].to_vec();
            if let Some(key) = cur.header.mask {
                apply_mask(&mut payload, key, 0);
            }
            cur.done = 0;
            let start_pos = cur.start_pos;
            self.cur = Some(cur);
            let d = self.decide(Payload::Known(&payload)).unwrap_or_default();
            let frame = self.apply(out, d, Some((&payload, frame)));
            if let Some(frame) = frame {
                let replaced = self.cur.as_ref().is_some_and(|c| c.replaced);
                let piece = match start_pos {
                    Some(start) if !replaced => Piece::Read(start..end),
                    _ => Piece::Owned(frame),
                };
                self.frame_bytes(out, piece);
            }
            if self.dead {
                return;
            }
            let Some(c) = self.cur.take() else { return };
            cur = c;
        }
        if let Fate::Cut { end, .. } = cur.fate {
            // Cut at or past the frame's end: the end comes after it.
            out.op(Op::End(end));
            self.dead = true;
            return;
        }
        if let Some(after) = cur.after.take() {
            self.write(out, Piece::Owned(after), cur.slice);
        }
        if cur.slice.is_some_and(|(_, _, aligned)| aligned) {
            self.fill = 0;
        }
    }

    /// Bytes of the current frame, through its fate.
    fn frame_bytes(&mut self, out: &mut Out, piece: Piece) {
        if self.dead {
            return;
        }
        let Some(cur) = &mut self.cur else { return };
        let n = piece.len() as u64;
        let slice = cur.slice;
        match &mut cur.fate {
            Fate::Pass => {
                cur.done += n;
                self.write(out, piece, slice);
            }
            Fate::Drop => cur.done += n,
            Fate::Held(buf) => {
                cur.done += n;
                match piece {
                    Piece::Read(r) => buf.extend_from_slice(&out.input[r]),
                    Piece::Owned(v) => buf.extend_from_slice(&v),
                }
            }
            Fate::Cut { keep, end } => {
                let (keep, end) = (*keep, *end);
                let send = keep.saturating_sub(cur.done).min(n);
                cur.done += n;
                if send > 0 {
                    self.write(out, piece.take(send as usize), slice);
                }
                let cur = self.cur.as_ref().expect("still here");
                if cur.done >= keep && keep < cur.total {
                    out.op(Op::End(end));
                    self.dead = true;
                }
            }
        }
    }

    fn write(&mut self, out: &mut Out, piece: Piece, slice: Option<(usize, Duration, bool)>) {
        let Some((size, gap, _)) = slice else {
            match piece {
                Piece::Read(r) => out.pass(r),
                Piece::Owned(v) => out.op(Op::Write(Bytes::from(v))),
            }
            return;
        };
        let (start, bytes) = match piece {
            Piece::Read(r) => (Some(r.start), out.input.slice(r)),
            Piece::Owned(v) => (None, Bytes::from(v)),
        };
        let mut at = 0;
        while at < bytes.len() {
            if self.fill == 0 {
                out.flush();
            }
            let n = (size - self.fill).min(bytes.len() - at);
            match start {
                // Contiguous read bytes join one piece (a header and its payload).
                Some(s) => out.pass(s + at..s + at + n),
                None => out.op(Op::Write(bytes.slice(at..at + n))),
            }
            at += n;
            self.fill += n;
            if self.fill == size {
                self.fill = 0;
                out.flush();
                if !gap.is_zero() {
                    out.op(Op::Sleep(gap));
                }
            }
        }
    }

    /// The rules for the current frame, or `None` if one needs its payload.
    fn decide(&self, payload: Payload) -> Option<Decision> {
        let cur = self.cur.as_ref()?;
        let mut d = Decision::default();
        for (i, armed) in self.rules.iter().enumerate() {
            if armed.fired && armed.rule.trigger != Trigger::Every {
                continue;
            }
            let slot = match armed.rule.action {
                Action::Delay(_) => &mut d.delay,
                Action::Slice { .. } => &mut d.slice,
                _ => &mut d.fate,
            };
            if slot.is_some() {
                continue;
            }
            match self.matches(cur, &armed.rule, payload) {
                Some(true) => *slot = Some(i),
                Some(false) => {}
                None => return None,
            }
        }
        Some(d)
    }

    /// Whether `rule` fires on the current frame; `None`: it needs the payload.
    fn matches(&self, cur: &Cur, rule: &Rule, payload: Payload) -> Option<bool> {
        let h = &cur.header;
        let known = |f: &dyn Fn(&[u8]) -> bool| match payload {
            Payload::Unknown => None,
            Payload::Unavailable => Some(false),
            Payload::Known(p) => Some(f(p)),
        };
        if matches!(rule.action, Action::CloseCode { .. }) && h.opcode != OpCode::CLOSE {
            return Some(false);
        }
        let fired = match &rule.trigger {
            Trigger::Frame(n) => self.frames == *n,
            Trigger::Message(n) => h.opcode.starts_message() && self.messages == *n,
            Trigger::First(op) => h.opcode == *op,
            Trigger::Text(s) => {
                let texty = h.opcode == OpCode::TEXT || (h.opcode == OpCode::CONTINUATION && self.text_message);
                texty && known(&|p| contains(p, s.as_bytes()))?
            }
            Trigger::Bytes(n) => cur.ws_start + cur.total > *n,
            Trigger::After(d) => cur.at >= *d,
            Trigger::Every => true,
        };
        if fired && matches!(rule.action, Action::CloseCode { .. }) {
            return known(&|_| true);
        }
        Some(fired)
    }

    /// Carries out a decision at the start of the frame (or, for a held
    /// frame, once whole: then `held` is its payload and bytes, and the
    /// bytes to write for it are returned).
    fn apply(&mut self, out: &mut Out, d: Decision, held: Option<(&[u8], Vec<u8>)>) -> Option<Vec<u8>> {
        for i in [d.fate, d.delay, d.slice].into_iter().flatten() {
            self.rules[i].fired = true;
        }
        let payload = held.as_ref().map(|(p, _)| *p);
        let cur = self.cur.as_ref().expect("a frame");
        let (offset, total, hdr_len, len) = (cur.offset, cur.total, cur.hdr_len, cur.header.len);
        if let Some(i) = d.slice {
            let Action::Slice { size, gap, aligned } = self.rules[i].rule.action else { unreachable!() };
            let every = self.rules[i].rule.trigger == Trigger::Every;
            if !every || !self.rules[i].noted {
                self.rules[i].noted = true;
                let gap_text = if gap.is_zero() { String::new() } else { format!(", {gap:?} apart") };
                let which = if every { "this frame and every later one".into() } else { self.describe(payload) };
                let detail = format!("{which} written in pieces of {size} byte(s){gap_text}");
                self.fault(out, i, offset, 0, detail, None);
            }
            self.cur.as_mut().expect("a frame").slice = Some((size, gap, aligned));
        }
        if let Some(i) = d.delay {
            let Action::Delay(by) = self.rules[i].rule.action else { unreachable!() };
            let detail = format!("{} forwarded {by:?} late", self.describe(payload));
            self.fault(out, i, offset, 0, detail, None);
            out.op(Op::Sleep(by));
        }
        let Some(i) = d.fate else { return held.map(|(_, frame)| frame) };
        let action = self.rules[i].rule.action.clone();
        let what = self.describe(payload);
        match action {
            Action::Drop => {
                let whole = matches!(self.rules[i].rule.trigger, Trigger::Message(_) | Trigger::Text(_));
                if whole && !self.cur.as_ref().expect("a frame").header.fin {
                    self.drop_message = Some(i);
                }
                self.fault(out, i, offset, total, format!("{what} was not forwarded"), None);
                self.set_fate(Fate::Drop);
                None
            }
            Action::End(end) => {
                let how = match end {
                    Ending::Fin => "the receiver's side was closed (FIN)",
                    Ending::Rst => "both sides were reset (RST)",
                    Ending::Hold => "the connection is held open",
                };
                let detail = format!("instead of forwarding {what}, {how}; nothing more is forwarded this way");
                self.fault(out, i, offset, total, detail, None);
                out.op(Op::End(end));
                self.dead = true;
                None
            }
            Action::Cut { keep, end } => {
                let keep = match (keep, &self.rules[i].rule.trigger) {
                    (Some(payload_bytes), _) => hdr_len + payload_bytes,
                    (None, Trigger::Bytes(n)) => n.saturating_sub(self.cur.as_ref().expect("a frame").ws_start),
                    (None, _) => hdr_len + len / 2,
                }
                .min(total);
                let how =
                    if end == Ending::Rst { "both sides reset (RST)" } else { "the receiver's side closed (FIN)" };
                let detail = format!("{what}: {keep} of its {total} bytes forwarded, then {how}");
                self.fault(out, i, offset, total - keep, detail, None);
                self.set_fate(Fate::Cut { keep, end });
                held.map(|(_, frame)| frame)
            }
            Action::CloseCode { code, reason } => {
                let (payload, frame) = held.expect("close-code rules hold the frame");
                let old = crate::wire::ClosePayload::parse(payload);
                let reason = reason.unwrap_or_else(|| {
                    if code.is_some() { old.reason_text().unwrap_or("").into() } else { String::new() }
                });
                let new = super::close_payload(code, &reason);
                let mut header = self.cur.as_ref().expect("a frame").header;
                header.len = new.len() as u64;
                header.len_form = crate::wire::LenForm::minimal(header.len);
                let bytes = header.encode_frame(&new);
                let shown = |c: Option<u16>| c.map_or("no code".to_string(), |c| c.to_string());
                let detail = format!("close code {} replaced by {} (reason {reason:?})", shown(old.code), shown(code));
                self.fault(out, i, offset, 0, detail, Some(bytes.clone()));
                let _ = frame;
                self.cur.as_mut().expect("a frame").replaced = true;
                Some(bytes)
            }
            Action::Inject { what: injected, after } => {
                let bytes = injected.encode(self.dir);
                let (kind, detail) = (injected_name(&injected), if after { "after" } else { "before" });
                let detail = format!("{kind} injected {detail} {what}");
                self.fault(out, i, offset, 0, detail, Some(bytes.clone()));
                if after {
                    self.cur.as_mut().expect("a frame").after = Some(bytes);
                } else {
                    let slice = self.cur.as_ref().and_then(|c| c.slice);
                    self.write(out, Piece::Owned(bytes), slice);
                }
                held.map(|(_, frame)| frame)
            }
            Action::Delay(_) | Action::Slice { .. } => held.map(|(_, frame)| frame),
        }
    }

    fn fault(
        &mut self,
        out: &mut Out,
        i: usize,
        offset: u64,
        withheld: u64,
        detail: String,
        delivered: Option<Vec<u8>>,
    ) {
        let armed = &self.rules[i];
        let fault = Fault {
            rule: armed.number,
            spec: armed.rule.spec.clone(),
            action: armed.rule.action.name(),
            offset,
            withheld,
            detail,
            delivered,
        };
        out.op(Op::Fault(fault));
    }

    /// "frame 3 (text, 5 bytes)", "the close frame (1000)".
    fn describe(&self, payload: Option<&[u8]>) -> String {
        let Some(cur) = &self.cur else { return "the frame".into() };
        let h = &cur.header;
        let name = h.opcode.name();
        match payload.filter(|_| h.opcode == OpCode::CLOSE) {
            Some(p) => {
                let code = crate::wire::ClosePayload::parse(p).code;
                let code = code.map_or("no code".to_string(), |c| c.to_string());
                format!("frame {} ({name}, {code})", self.frames)
            }
            None => format!("frame {} ({name}, {} bytes)", self.frames, h.len),
        }
    }
}

fn injected_name(i: &Injected) -> &'static str {
    match i {
        Injected::Ping(_) => "a ping",
        Injected::Pong(_) => "a pong",
        Injected::Close(..) => "a close frame",
        Injected::Text(_) => "a text frame",
        Injected::Binary(_) => "a binary frame",
        Injected::Raw(_) => "raw bytes",
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

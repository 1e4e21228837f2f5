//! Frame-aware faults: rules that make a real peer's traffic misbehave on
//! purpose, decided per frame, and recorded.
//!
//! This module is pure and sans-IO, like [`crate::wire`]: [`parse`] turns
//! rule text into [`Rule`]s (errors carry the column, and the line for a
//! `--faults` file), [`Plan`] picks the rules that apply to a connection
//! (seeded, so a run can be repeated), and [`DirTap`] turns the bytes one
//! side sent into [`Op`]s: what to write to the other side, when to wait,
//! when to end, and the [`Fault`]s to record. The proxy
//! (`src/proxy/fault.rs`) and replay carry the ops out; nothing here
//! touches a socket or a clock (time comes in as an argument).
//!
//! Contracts:
//! - a connection with no rule never gets a tap: the relay stays a byte
//!   pump ([`Plan::for_connection`] returns `None`);
//! - a tap forwards every byte it is given, unchanged and in order, except
//!   where a rule says otherwise, and each such departure is a [`Fault`]
//!   naming its rule;
//! - a tap holds bytes back only while it cannot decide yet: a frame header
//!   split across reads, or a frame a text match or a close-code rule must
//!   see whole (at most [`HELD_MAX`] bytes; a larger frame is not matched).
//!
//! The rule language is documented in `docs/faults.md` and by
//! `wstap record --fault help` ([`CATALOGUE`]).

mod catalogue;
mod parse;
mod plan;
mod tap;

pub use catalogue::CATALOGUE;
pub use parse::{ParseError, parse_file, parse_rule};
pub use plan::{ConnFaults, Plan};
pub use tap::{DirTap, Ending, Fault, Op};

use crate::wire::{Direction, OpCode};
use std::time::Duration;

/// The largest frame a tap buffers to decide on it (text match, close code).
pub const HELD_MAX: u64 = 1024 * 1024;

/// The masking key of frames injected towards a server (client frames
/// must be masked); fixed, so faulted runs diff clean against each other.
pub const INJECT_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One fault rule: in direction `dir`, when `trigger` fires, do `action`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The direction whose frames the rule watches (and alters).
    pub dir: Direction,
    /// When it applies.
    pub trigger: Trigger,
    /// What it does.
    pub action: Action,
    /// Applies only to some connections: `p=` and `seed=`.
    pub chance: Option<Chance>,
    /// The rule as written, for the recording and messages.
    pub spec: String,
}

/// When a rule applies. Every trigger but [`Trigger::Every`] fires once per
/// connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// The Nth frame of the direction (1-based, control frames included).
    Frame(u64),
    /// The Nth text or binary message (its frames).
    Message(u64),
    /// The first frame with this opcode.
    First(OpCode),
    /// The first text message (frame) whose payload contains these bytes.
    Text(String),
    /// The frame during which the direction's WebSocket bytes pass N.
    Bytes(u64),
    /// The first frame that starts this long after the connection opened.
    After(Duration),
    /// Every frame.
    Every,
}

/// What a rule does to the frame it fires on.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Not forwarded (a message's continuation frames neither, when the
    /// trigger names a message).
    Drop,
    /// Forwarded after this long (the frames after it wait too: order is kept).
    Delay(Duration),
    /// Forward the first bytes of the frame, then end the receiver's side.
    Cut {
        /// Frame bytes (header included) to forward; `None` is the header
        /// and half the payload (for `bytes=N`, up to byte N).
        keep: Option<u64>,
        /// How the receiver's side ends.
        end: Ending,
    },
    /// End the receiver's side instead of forwarding the frame (`rst`, `fin`,
    /// `hold`).
    End(Ending),
    /// Replace a close frame's code (`None`: an empty close) and reason.
    CloseCode {
        /// The new code.
        code: Option<u16>,
        /// The new reason; `None` keeps the old one (empty if the code is none).
        reason: Option<String>,
    },
    /// Write a frame (or bytes) before or after the frame.
    Inject {
        /// What to write.
        what: Injected,
        /// After the frame instead of before it.
        after: bool,
    },
    /// Write the frame in pieces of `size` bytes, `gap` apart.
    Slice {
        /// Bytes per write.
        size: usize,
        /// Wait between writes.
        gap: Duration,
        /// Each frame starts a new piece (otherwise pieces run on across
        /// the frames of a read).
        aligned: bool,
    },
}

/// Something a rule injects.
#[derive(Clone, Debug, PartialEq)]
pub enum Injected {
    /// A ping with this payload.
    Ping(Vec<u8>),
    /// A pong with this payload.
    Pong(Vec<u8>),
    /// A close frame with this code (none: empty) and reason.
    Close(Option<u16>, String),
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// Bytes written as they are (anything, not necessarily a frame).
    Raw(Vec<u8>),
}

/// A rule that applies to some connections only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chance {
    /// Probability that a connection gets the rule, 0 to 1.
    pub p: f64,
    /// Seed: the same seed picks the same connections.
    pub seed: u64,
}

impl Action {
    /// The action's name as recorded (`drop`, `close_code`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Delay(_) => "delay",
            Action::Cut { .. } => "cut",
            Action::End(Ending::Rst) => "rst",
            Action::End(Ending::Fin) => "fin",
            Action::End(Ending::Hold) => "hold",
            Action::CloseCode { .. } => "close_code",
            Action::Inject { .. } => "inject",
            Action::Slice { .. } => "slice",
        }
    }
}

impl Injected {
    /// The bytes written for it in direction `dir` (masked towards a server).
    pub fn encode(&self, dir: Direction) -> Vec<u8> {
        let (opcode, payload) = match self {
            Injected::Raw(bytes) => return bytes.clone(),
            Injected::Ping(p) => (OpCode::PING, p.clone()),
            Injected::Pong(p) => (OpCode::PONG, p.clone()),
            Injected::Text(t) => (OpCode::TEXT, t.as_bytes().to_vec()),
            Injected::Binary(b) => (OpCode::BINARY, b.clone()),
            Injected::Close(code, reason) => (OpCode::CLOSE, close_payload(*code, reason)),
        };
        encode_frame(dir, opcode, &payload, INJECT_MASK)
    }
}

/// A close payload: the code (if any) and the reason.
pub(crate) fn close_payload(code: Option<u16>, reason: &str) -> Vec<u8> {
    match code {
        None => Vec::new(),
        Some(code) => {
            let mut out = code.to_be_bytes().to_vec();
            out.extend_from_slice(reason.as_bytes());
            out
        }
    }
}

/// A final frame of `opcode` for direction `dir`, masked with `mask` when
/// it goes to the server.
pub(crate) fn encode_frame(dir: Direction, opcode: OpCode, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut header = crate::wire::FrameHeader::new(opcode, payload.len() as u64);
    if dir == Direction::ClientToServer {
        header.mask = Some(mask);
    }
    header.encode_frame(payload)
}

#[cfg(test)]
mod tests;

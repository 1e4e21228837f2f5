//! The steps a scenario performs, in order, once the upgrade is answered.
//!
//! Each action is one YAML map with a single key naming its kind. Field
//! ranges that a header cannot hold (opcode > 15, RSV > 7, a length form
//! other than 7/16/64) are rejected while parsing, so they are reported with
//! a line and column. Cross-field checks (a length that does not fit the
//! requested length form) run afterwards in [`Action::check`].

use std::time::Duration;

use serde::Deserialize;

use super::payload::{HexBytes, MaskKey, Payload};
use crate::scenario::Event;
use crate::wire::{LenForm, OpCode};

/// Largest `repeat_to`: the repeated payload is built in memory.
pub const MAX_REPEAT: u64 = 256 << 20;

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Send one frame, any header allowed.
    Frame(FrameSpec),
    /// Send bytes exactly as given.
    Raw(RawSpec),
    /// Start the closing handshake: the server's *first* close.
    Close(CloseSpec),
    /// Pause for this many milliseconds.
    Delay(u64),
    /// Pause until the client has done something.
    Wait(WaitFor),
    /// Drop the TCP connection without a close frame.
    DropTcp,
    /// Arm the case timer: after this many seconds, fail the connection if
    /// it is still open (Autobahn's `killAfter`).
    KillAfter(f64),
    /// Arm the close timer: after this many seconds, if the connection is
    /// not yet closed, close it with an empty close through the normal API
    /// (Autobahn's `closeAfter`; `TI` when armed, `TIE` when it fires).
    CloseAfter(f64),
    /// Switch the wire log's traffic entries off or on (categories 9, 12,
    /// 13 skip their bulk traffic); statistics are kept either way.
    Wirelog(WirelogSpec),
    /// Record a marker event (`["timeout", tag]`) in the received events,
    /// as 6.4.x does when its wait ends with the connection still open.
    Timeout(String),
    /// Run the following actions only if the connection is OPEN here;
    /// otherwise skip the rest of the plan (6.4.x's `if state == OPEN`).
    IfOpen,
    /// Send one message as Autobahn's `sendMessage` does: one frame, or
    /// fragments of `fragment` bytes (a trailing empty FIN frame when the
    /// length is a multiple of it).
    Message(MessageSpec),
    /// Run the *following* actions this many seconds later, and only if the
    /// connection is not closed by then (Autobahn's `continueLater`; `CT`
    /// when armed, `CTE` when it fires).
    ContinueLater(ContinueSpec),
    /// Autobahn 12.x/13.x's message loop: message k is the k-th slice of a
    /// test-data file; the first goes out here, the next after each right
    /// echo (`expect.echo`).
    Series(super::series::SeriesSpec),
    /// Without a permessage-deflate agreement, the case is UNIMPLEMENTED:
    /// the server closes through the normal API with `close` and skips the
    /// remaining actions (Autobahn 12.x/13.x's `onOpen`).
    RequireDeflate(RequireSpec),
    /// A compressed message from a recording (not written in scenario
    /// files): sent as recorded when the agreement is the recorded one.
    #[serde(skip)]
    Recorded(RecordedMessage),
}

/// A compressed server message as recorded, and how to send it again under
/// another agreement.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedMessage {
    /// The recorded frames (and any control frames and waits between them),
    /// byte for byte.
    pub as_recorded: Vec<Action>,
    /// The same without the message's own frames, followed by the message
    /// (inflated, with `compress: true`); `None` if it did not inflate in
    /// the recording, so only the recorded bytes can be sent.
    pub recompressed: Option<Vec<Action>>,
}

impl Action {
    /// Checks rules that span several fields. The error says what was
    /// expected; the caller adds where.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Action::Frame(frame) => frame.check(),
            Action::Message(message) => message.check(),
            Action::Series(series) => series.check(),
            Action::KillAfter(secs) => seconds("kill_after", *secs),
            Action::CloseAfter(secs) => seconds("close_after", *secs),
            Action::ContinueLater(spec) => seconds("continue_later.after", spec.after),
            _ => Ok(()),
        }
    }
}

fn seconds(what: &str, secs: f64) -> Result<(), String> {
    if secs > 0.0 && Duration::try_from_secs_f64(secs).is_ok() {
        Ok(())
    } else {
        Err(format!("expected {what} to be a positive number of seconds, got {secs}"))
    }
}

/// What `require_deflate` does without an agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequireSpec {
    /// The close code the server then closes with (through the API).
    pub close: u16,
}

/// A wire-log switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WirelogSpec {
    /// Log traffic from here on.
    pub on: bool,
    /// `quiet` (no `WLM` entry, Autobahn's `createWirelog = ...`) or
    /// `logged` (a `WLM` entry when it changes, `enableWirelog`).
    #[serde(default)]
    pub how: crate::scenario::expect::WirelogSwitch,
}

/// A message sent the way Autobahn's `sendMessage` sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// `text` or `binary`.
    pub opcode: Opcode,
    /// The whole message; default empty.
    #[serde(default)]
    pub payload: Option<Payload>,
    /// Fragment size (Autobahn's `fragmentSize`/`autoFragmentSize`);
    /// default one frame.
    #[serde(default)]
    pub fragment: Option<usize>,
    /// Each frame written synchronously.
    #[serde(default)]
    pub sync: bool,
}

impl MessageSpec {
    fn check(&self) -> Result<(), String> {
        if !matches!(self.opcode.0, OpCode::TEXT | OpCode::BINARY) {
            return Err("expected a message opcode of text or binary".into());
        }
        if self.fragment == Some(0) {
            return Err("expected fragment to be at least 1".into());
        }
        Ok(())
    }

    /// The frames Autobahn sends, in order: `(opcode, fin, payload)`. A
    /// message longer than `fragment` is cut into pieces of `fragment`
    /// bytes, the first with the message opcode, the rest continuations;
    /// the last is FIN. When the length is a multiple of `fragment`, the
    /// last piece is empty (Autobahn's loop ends only past the end).
    pub fn frames(&self) -> Vec<(OpCode, bool, Vec<u8>)> {
        let payload = self.payload.as_ref().map_or(&[][..], Payload::bytes);
        let size = match self.fragment {
            Some(size) if payload.len() > size => size,
            _ => return vec![(self.opcode.0, true, payload.to_vec())],
        };
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let end = at + size;
            let done = end > payload.len();
            let piece = payload[at..end.min(payload.len())].to_vec();
            let opcode = if at == 0 { self.opcode.0 } else { OpCode::CONTINUATION };
            out.push((opcode, done, piece));
            if done {
                return out;
            }
            at = end;
        }
    }
}

/// A delayed continuation: the actions after it wait this long.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinueSpec {
    /// Seconds to wait.
    pub after: f64,
    /// The tag the wire log shows (`CT`/`CTE`); default none.
    #[serde(default)]
    pub tag: Option<String>,
}

/// A frame to send. Everything but the opcode has a default that gives a
/// valid unmasked single-frame message.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameSpec {
    /// Opcode: a number 0–15 or a name (`text`, `binary`, `close`, `ping`,
    /// `pong`, `continuation`).
    pub opcode: Opcode,
    /// FIN bit; default true.
    #[serde(default = "yes")]
    pub fin: bool,
    /// RSV1–RSV3 as a number 0–7 (RSV1 = 4); default 0.
    #[serde(default)]
    pub rsv: Rsv,
    /// Masking key; default none (server frames are unmasked).
    #[serde(default)]
    pub mask: Option<MaskKey>,
    /// The payload argument; default empty.
    #[serde(default)]
    pub payload: Option<Payload>,
    /// Repeat the payload cyclically up to this many bytes (Autobahn's
    /// `payload_len`); the TF log shows the pattern length, not this.
    #[serde(default)]
    pub repeat_to: Option<u64>,
    /// Declared length in the header, if it should lie about the payload.
    #[serde(default)]
    pub len: Option<u64>,
    /// Length form: 7, 16 or 64; default the smallest that holds the length.
    #[serde(default)]
    pub len_form: Option<Form>,
    /// Write the frame in pieces of at most this many bytes.
    #[serde(default)]
    pub chop: Option<usize>,
    /// Write synchronously (flush each piece before the next).
    #[serde(default)]
    pub sync: bool,
    /// Send the payload as one permessage-deflate compressed message (RSV1
    /// set) when the connection negotiated permessage-deflate; otherwise
    /// send it uncompressed. Only for a whole text or binary message.
    #[serde(default)]
    pub compress: bool,
}

impl FrameSpec {
    fn check(&self) -> Result<(), String> {
        if self.compress && !(matches!(self.opcode.0, OpCode::TEXT | OpCode::BINARY) && self.fin) {
            return Err("expected compress only on a text or binary frame with fin: true".into());
        }
        if self.compress && (self.len.is_some() || self.len_form.is_some()) {
            return Err("expected no len or len_form with compress (the compressed length decides)".into());
        }
        if self.repeat_to.is_some() && self.payload.as_ref().is_none_or(|p| p.bytes().is_empty()) {
            return Err("expected a non-empty payload pattern with repeat_to".into());
        }
        if self.repeat_to.is_some_and(|n| n > MAX_REPEAT) {
            return Err(format!("expected repeat_to of at most {MAX_REPEAT} bytes"));
        }
        if self.chop == Some(0) {
            return Err("expected chop to be at least 1".into());
        }
        let len = self.declared_len();
        match self.len_form {
            Some(Form(form)) if LenForm::minimal(len).bits() > form.bits() => {
                Err(format!("expected a length that fits len_form {}, got {len}", form.bits()))
            }
            _ => Ok(()),
        }
    }

    /// A single unmasked frame carrying `payload` as given.
    pub fn message(opcode: Opcode, payload: Vec<u8>) -> FrameSpec {
        FrameSpec {
            opcode,
            fin: true,
            rsv: Rsv(0),
            mask: None,
            payload: Some(Payload::Hex(HexBytes(payload))),
            repeat_to: None,
            len: None,
            len_form: None,
            chop: None,
            sync: false,
            compress: false,
        }
    }

    /// The payload bytes actually sent (pattern repeated if asked).
    pub fn payload_bytes(&self) -> Vec<u8> {
        let pattern = self.payload.as_ref().map_or(&[][..], Payload::bytes);
        match self.repeat_to {
            Some(n) => pattern.iter().copied().cycle().take(n as usize).collect(),
            None => pattern.to_vec(),
        }
    }

    /// The length the header declares: `len` if given, else the payload's.
    pub fn declared_len(&self) -> u64 {
        self.len
            .unwrap_or_else(|| self.repeat_to.unwrap_or(self.payload.as_ref().map_or(0, |p| p.bytes().len() as u64)))
    }
}

/// Raw bytes to write, with no framing at all.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// The bytes, as hex.
    pub hex: HexBytes,
    /// Write in pieces of at most this many bytes.
    #[serde(default)]
    pub chop: Option<usize>,
    /// Write synchronously.
    #[serde(default)]
    pub sync: bool,
}

/// The server's own close. Sending it moves the connection to CLOSING, sets
/// `closedByMe`, arms the close-handshake timer, and records the code and
/// reason as `localCloseCode`/`localCloseReason`. Like Autobahn, it is
/// skipped when the connection is no longer OPEN; a second close frame on
/// the wire is a [`FrameSpec`] with opcode `close` instead.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseSpec {
    /// Status code; absent means no code.
    #[serde(default)]
    pub code: Option<u16>,
    /// Reason bytes after the code (or the whole payload without a code).
    #[serde(default)]
    pub reason: Option<Payload>,
    /// Which Autobahn call sends it; default `raw`.
    #[serde(default)]
    pub via: CloseVia,
}

/// How a close is sent: the two Autobahn entry points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseVia {
    /// `sendCloseFrame`: payload exactly as given.
    #[default]
    Raw,
    /// `sendClose`, the normal API: a reason over 123 bytes is cut to 120
    /// bytes plus `...`.
    Api,
}

/// What a `wait` action waits for, counted from the start of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WaitFor {
    /// At least this many messages received.
    Messages(usize),
    /// At least this many pongs received.
    Pongs(usize),
    /// At least this many recorded events of any kind.
    Events(usize),
    /// The client's close frame has arrived.
    Close,
}

impl WaitFor {
    /// True once `received` (and whether a client close arrived) satisfies
    /// the wait.
    pub fn is_met(self, received: &[Event], close_received: bool) -> bool {
        let count = |pong: bool| received.iter().filter(|e| e.is_pong() == pong).count();
        match self {
            WaitFor::Messages(n) => count(false) >= n,
            WaitFor::Pongs(n) => count(true) >= n,
            WaitFor::Events(n) => received.len() >= n,
            WaitFor::Close => close_received,
        }
    }
}

/// An opcode from a number 0–15 or a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "OpcodeText")]
pub struct Opcode(pub OpCode);

#[derive(Deserialize)]
#[serde(untagged)]
enum OpcodeText {
    Number(u64),
    Name(String),
}

impl TryFrom<OpcodeText> for Opcode {
    type Error = String;

    fn try_from(text: OpcodeText) -> Result<Opcode, String> {
        let value = match text {
            OpcodeText::Number(n) if n <= 15 => n as u8,
            OpcodeText::Name(name) => match crate::wire::OpCode::from_name(&name) {
                Some(op) => op.value(),
                None => return Err(opcode_expected(&name)),
            },
            OpcodeText::Number(n) => return Err(opcode_expected(&n.to_string())),
        };
        Ok(Opcode(OpCode::new(value)))
    }
}

fn opcode_expected(got: &str) -> String {
    format!("expected an opcode 0-15 or continuation/text/binary/close/ping/pong, got {got}")
}

/// The three RSV bits as a number 0–7.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u8")]
pub struct Rsv(pub u8);

impl TryFrom<u8> for Rsv {
    type Error = String;

    fn try_from(value: u8) -> Result<Rsv, String> {
        if value <= 7 { Ok(Rsv(value)) } else { Err(format!("expected rsv 0-7, got {value}")) }
    }
}

/// A length form written as its width: 7, 16 or 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u8")]
pub struct Form(pub LenForm);

impl TryFrom<u8> for Form {
    type Error = String;

    fn try_from(bits: u8) -> Result<Form, String> {
        LenForm::from_bits(bits).map(Form).ok_or_else(|| format!("expected len_form 7, 16 or 64, got {bits}"))
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fragment_like_autobahn_with_a_trailing_empty_frame() {
        let spec = |yaml: &str| crate::scenario::from_yaml::<MessageSpec>(yaml).unwrap();
        let lens =
            |m: MessageSpec| m.frames().iter().map(|(op, fin, p)| (op.value(), *fin, p.len())).collect::<Vec<_>>();
        assert_eq!(lens(spec("{opcode: text, payload: {text: abcde}}")), [(1, true, 5)]);
        assert_eq!(lens(spec("{opcode: text, payload: {text: abcde}, fragment: 5}")), [(1, true, 5)]);
        assert_eq!(
            lens(spec("{opcode: binary, payload: {text: abcde}, fragment: 2}")),
            [(2, false, 2), (0, false, 2), (0, true, 1)]
        );
        assert_eq!(
            lens(spec("{opcode: text, payload: {text: abcd}, fragment: 2}")),
            [(1, false, 2), (0, false, 2), (0, true, 0)]
        );
        let ten = spec("{opcode: text, payload: {repeat: {text: '*', len: 65536}}, fragment: 1300}").frames();
        assert_eq!((ten.len(), ten.last().unwrap().2.len()), (51, 536));
    }

    #[test]
    fn waits_count_the_right_events() {
        let got = [Event::text("a"), Event::Pong(vec![]), Event::binary("b")];
        let wait = |yaml: &str| crate::scenario::from_yaml::<WaitFor>(yaml).unwrap();
        assert!(wait("messages: 2").is_met(&got, false));
        assert!(!wait("messages: 3").is_met(&got, false));
        assert!(wait("pongs: 1").is_met(&got, false) && !wait("pongs: 2").is_met(&got, false));
        assert!(wait("events: 3").is_met(&got, false) && !wait("events: 4").is_met(&got, false));
        assert!(!wait("close").is_met(&got, false) && wait("close").is_met(&[], true));
    }
}

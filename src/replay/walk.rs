//! The walk over a recording that both derivations share: one side of the
//! recorded connection is *played* (its frames become actions, sent again
//! byte for byte) and the other is the *peer* under test (what it did
//! becomes the expectation). [`super::from_recording`] plays the server to
//! a new client; [`super::against`] plays the client to a new server. The
//! rules are the same with the roles swapped, so they live here once:
//!
//! - Played frames are sent in recorded order with their recorded header
//!   fields, length form and payload. Their masks are the recorded ones,
//!   or, when the caller asks for fresh masks (the client side by default),
//!   a new key per masked frame, with the payload masked under it. A
//!   played frame that was recorded unmasked stays unmasked, as raw bytes.
//! - Pacing: with [`Timing::Reactive`] each played frame waits until the
//!   peer has sent as many messages and pongs as it had before that frame
//!   in the recording; with [`Timing::Recorded`] the recorded gaps between
//!   played frames are kept, measured from the 101 and rounded up to whole
//!   ms so none is shorter than recorded.
//! - Pongs the played side sent to answer the peer's pings are not played:
//!   the engine answers pings itself while OPEN, as Autobahn does.
//! - The first close decides who closes: the played side's is played as
//!   its own close (`closedByMe`); if the peer's came first, the played
//!   side's recorded reply (code and reason) is the reply the engine sends
//!   to the new peer's close ([`Walked::close_reply`]).
//! - Expected events (`OK`) are the peer's messages and pongs (compressed
//!   ones inflated); the allowed close code is the peer's (no code is
//!   always allowed; 1000 and 1001 too when the recording does not show
//!   how the peer ended, [`expected_codes`]); a clean close is required if
//!   the recording had one; a wrong code fails the case.
//! - A kill timer of [`KILL_SLACK`] (plus the recording's length when the
//!   timing is recorded) is armed first, so a stalled peer still ends.
//! - Compressed played messages become [`RecordedMessage`]s: sent byte for
//!   byte when the new agreement equals the recorded one, otherwise their
//!   inflated payload is compressed again under the new agreement (or sent
//!   uncompressed without one). The engine decides which at run time.

use super::from_recording::{KILL_SLACK, Timing};
use crate::scenario::action::{Form, Opcode, Rsv};
use crate::scenario::payload::{HexBytes, MaskKey};
use crate::scenario::{
    Action, CloseSpec, CloseVia, Event, Expect, ExpectedClose, ExpectedEvents, FrameSpec, LocalClose, Payload, RawSpec,
    RecordedMessage, WaitFor,
};
use crate::session::{Direction, EventKind, Frame, Message, Recording};
use crate::wire::{ClosePayload, LenForm, OpCode};

/// A source of masking keys for played frames.
pub type MaskSource<'a> = &'a mut dyn FnMut() -> [u8; 4];

/// What to play and how.
pub struct Played<'a> {
    /// The direction of the played side's bytes.
    pub dir: Direction,
    /// Fresh masks for the played side's masked frames; `None` keeps the
    /// recorded ones.
    pub masks: Option<MaskSource<'a>>,
    /// How played frames are paced.
    pub timing: Timing,
}

/// The result of a walk.
#[derive(Debug)]
pub struct Walked {
    /// The played side's actions, the kill timer first.
    pub actions: Vec<Action>,
    /// What the peer is expected to do.
    pub expect: Expect,
    /// The played side's recorded reply to the peer's close, if the peer
    /// closed first and a reply was recorded.
    pub close_reply: Option<LocalClose>,
}

/// Walks `rec`: `opened_at` is when the 101 was sent (µs), `deflate` whether
/// it negotiated permessage-deflate.
pub fn walk(rec: &Recording, opened_at: u64, deflate: bool, played: Played<'_>) -> Result<Walked, String> {
    let timing = played.timing;
    let mut walk = Walk { played: played.dir, masks: played.masks, last_played_at: opened_at, deflate, ..Walk::new() };
    for event in &rec.events {
        match &event.kind {
            EventKind::Frame(frame) => {
                let payload = rec.data_bytes(&frame.payload).map_err(|e| e.to_string())?;
                match event.dir == walk.played {
                    false => walk.peer_frame(frame, payload),
                    true => walk.played_frame(frame, payload, event.at, timing),
                }
            }
            EventKind::Message(m) if m.compressed => walk.compressed_message(rec, event.dir, m)?,
            _ => {}
        }
    }
    walk.end_group(None);
    let duration = rec.summary().duration_us.saturating_sub(opened_at) as f64 / 1e6;
    let kill = KILL_SLACK + if timing == Timing::Recorded { duration } else { 0.0 };
    walk.actions.insert(0, Action::KillAfter(kill));
    let expect = Expect {
        events: ExpectedEvents { ok: Some(walk.expected), non_strict: None },
        close: ExpectedClose {
            closed_by_me: walk.first_close == Some(walk.played),
            codes: expected_codes(rec, walk.played.reverse(), walk.peer_code),
            require_clean: rec.summary().clean,
        },
        auto_close: false,
        wrong_code_fails: true,
        closed_by_wrong_endpoint_is_fatal: false,
        informational: None,
        echo: None,
    };
    Ok(Walked { actions: walk.actions, expect, close_reply: walk.close_reply })
}

/// The close codes the new peer may send: the recorded peer's. A
/// recording that does not say how the peer ended (no close frame and no
/// TCP end from it: a HAR import, a connection still open when `record`
/// was stopped) allows a normal close (1000, 1001), since no recorded
/// behaviour forbids one; otherwise no code is the only one allowed.
fn expected_codes(rec: &Recording, peer: Direction, recorded: Option<u16>) -> Vec<u16> {
    let ended = rec.events_in(peer).any(|e| {
        matches!(e.kind, EventKind::Fin | EventKind::Rst { .. })
            || matches!(&e.kind, EventKind::Frame(f) if f.opcode() == OpCode::CLOSE)
    });
    match recorded {
        Some(code) => vec![code],
        None if ended => Vec::new(),
        None => vec![1000, 1001],
    }
}

/// What the walk over the recording collects.
struct Walk<'a> {
    played: Direction,
    masks: Option<MaskSource<'a>>,
    actions: Vec<Action>,
    expected: Vec<Event>,
    peer_events: usize,
    waited_for: usize,
    /// The peer's pings the played side has not answered yet.
    pending_pings: usize,
    message: Vec<u8>,
    message_binary: bool,
    /// The peer's current message is compressed: it is expected as
    /// inflated, from its `message` event.
    message_compressed: bool,
    /// The recorded 101 negotiated permessage-deflate.
    deflate: bool,
    /// The compressed played message being walked, if any.
    group: Option<Group>,
    first_close: Option<Direction>,
    peer_code: Option<u16>,
    /// The played side's recorded reply to the peer's close.
    close_reply: Option<LocalClose>,
    last_played_at: u64,
}

impl<'a> Walk<'a> {
    fn new() -> Walk<'a> {
        Walk {
            played: Direction::ServerToClient,
            masks: None,
            actions: Vec::new(),
            expected: Vec::new(),
            peer_events: 0,
            waited_for: 0,
            pending_pings: 0,
            message: Vec::new(),
            message_binary: false,
            message_compressed: false,
            deflate: false,
            group: None,
            first_close: None,
            peer_code: None,
            close_reply: None,
            last_played_at: 0,
        }
    }

    fn peer_frame(&mut self, frame: &Frame, payload: Vec<u8>) {
        match frame.opcode() {
            OpCode::PING => self.pending_pings += 1,
            OpCode::PONG => self.peer_event(Event::Pong(payload)),
            OpCode::CLOSE => {
                if self.peer_code.is_none() {
                    self.peer_code = ClosePayload::parse(&payload).code;
                }
                self.first_close.get_or_insert(self.played.reverse());
            }
            op if op.is_control() || op.is_reserved() => {}
            op => {
                if op.starts_message() {
                    self.message.clear();
                    self.message_binary = op == OpCode::BINARY;
                    self.message_compressed = self.deflate && frame.rsv & RSV1 != 0;
                }
                self.message.extend_from_slice(&payload);
                if frame.fin && !self.message_compressed {
                    let data = std::mem::take(&mut self.message);
                    self.peer_event(Event::Message { data, binary: self.message_binary });
                }
            }
        }
    }

    fn peer_event(&mut self, event: Event) {
        self.peer_events += 1;
        self.expected.push(event);
    }

    fn played_frame(&mut self, frame: &Frame, payload: Vec<u8>, at: u64, timing: Timing) {
        let op = frame.opcode();
        if op == OpCode::PONG && self.pending_pings > 0 {
            self.pending_pings -= 1;
            return;
        }
        let first_close = op == OpCode::CLOSE && self.first_close.is_none();
        if op == OpCode::CLOSE && self.first_close == Some(self.played.reverse()) {
            // The reply: sent by the engine when the new peer closes.
            if self.close_reply.is_none() && !frame.cut {
                let close = ClosePayload::parse(&payload);
                let reason = (!close.reason.is_empty()).then(|| close.reason.to_vec());
                self.close_reply = Some(LocalClose { code: close.code, reason });
            }
            return;
        }
        if self.deflate && op.starts_message() && frame.rsv & RSV1 != 0 {
            self.end_group(None);
            self.group = Some(Group::default());
        }
        self.pace(at, timing);
        if first_close {
            self.first_close = Some(self.played);
            let close = ClosePayload::parse(&payload);
            let reason = (payload.len() > 2).then_some(Payload::Hex(HexBytes(close.reason)));
            let reason = reason.or_else(|| (payload.len() == 1).then(|| Payload::Hex(HexBytes(payload.clone()))));
            self.push(Action::Close(CloseSpec { code: close.code, reason, via: CloseVia::Raw }), false);
        } else {
            let own = self.group.is_some() && !op.is_control();
            let fresh = self.masks.as_mut().map(|next| next());
            let masker = self.played == Direction::ClientToServer;
            let action = frame_action(frame, payload, fresh, masker);
            if let (true, Some(group), Action::Frame(spec)) = (own, self.group.as_mut(), &action) {
                group.mask = group.mask.or(spec.mask);
            }
            self.push(action, own);
        }
    }

    /// Adds a played action, to the compressed message being walked if
    /// there is one; `own` for that message's own frames.
    fn push(&mut self, action: Action, own: bool) {
        match self.group.as_mut() {
            Some(group) => {
                if !own {
                    group.others.push(action.clone());
                }
                group.as_recorded.push(action);
            }
            None => self.actions.push(action),
        }
    }

    /// A compressed message ended: the peer's is expected inflated; the
    /// played side's closes its group.
    fn compressed_message(&mut self, rec: &Recording, dir: Direction, m: &Message) -> Result<(), String> {
        let inflated = match m.inflated.as_ref().filter(|i| !i.cut) {
            Some(i) => Some(rec.data_bytes(&i.data).map_err(|e| e.to_string())?),
            None => None,
        };
        if dir == self.played {
            let message = inflated.map(|data| (Opcode(OpCode::new(m.opcode)), data));
            self.end_group(message);
        } else if self.message_compressed {
            self.message_compressed = false;
            let data = inflated.unwrap_or_else(|| std::mem::take(&mut self.message));
            self.peer_event(Event::Message { data, binary: self.message_binary });
        }
        Ok(())
    }

    /// Ends the compressed played message being walked: recompressible if
    /// `message` (its opcode and inflated payload) is known.
    fn end_group(&mut self, message: Option<(Opcode, Vec<u8>)>) {
        let Some(group) = self.group.take() else { return };
        let recompressed = message.map(|(opcode, data)| {
            let mut again = group.others;
            let mask = group.mask;
            again.push(Action::Frame(FrameSpec { compress: true, mask, ..FrameSpec::message(opcode, data) }));
            again
        });
        self.actions.push(Action::Recorded(RecordedMessage { as_recorded: group.as_recorded, recompressed }));
    }

    fn pace(&mut self, at: u64, timing: Timing) {
        match timing {
            Timing::Reactive if self.peer_events > self.waited_for => {
                self.waited_for = self.peer_events;
                self.actions.push(Action::Wait(WaitFor::Events(self.peer_events)));
            }
            Timing::Recorded => {
                // Rounded up: a replayed gap is never shorter than the recorded one.
                let gap_ms = at.saturating_sub(self.last_played_at).div_ceil(1000);
                if gap_ms > 0 {
                    self.actions.push(Action::Delay(gap_ms));
                }
                self.last_played_at = at;
            }
            Timing::Reactive => {}
        }
    }
}

/// The RSV bit of a compressed message's first frame.
const RSV1: u8 = 0b100;

/// A compressed played message being walked.
#[derive(Default)]
struct Group {
    /// Everything the played side did while it was being sent, as recorded.
    as_recorded: Vec<Action>,
    /// The same without the message's own frames.
    others: Vec<Action>,
    /// The mask of its first frame, for the recompressed frame.
    mask: Option<MaskKey>,
}

/// A recorded frame as an action that sends it again byte for byte, under
/// the `fresh` mask instead of the recorded one if given. A frame recorded
/// unmasked stays unmasked: for a `masker` (the client side, whose engine
/// masks what it sends) it becomes raw bytes.
fn frame_action(frame: &Frame, payload: Vec<u8>, fresh: Option<[u8; 4]>, masker: bool) -> Action {
    let header = frame.header().ok().map(|mut h| {
        h.mask = h.mask.and(fresh).or(h.mask);
        h
    });
    let unmasked_from_a_masker = masker && header.is_some_and(|h| h.mask.is_none());
    if let (true, Some(header)) = (frame.cut || unmasked_from_a_masker, header) {
        // Cut short in the recording (the header, then the bytes that came),
        // or unmasked where the engine would mask: exact bytes.
        let mut bytes = Vec::new();
        header.emit(&mut bytes);
        let mut payload = payload;
        if let Some(key) = header.mask {
            crate::wire::apply_mask(&mut payload, key, 0);
        }
        bytes.extend_from_slice(&payload);
        return Action::Raw(RawSpec { hex: HexBytes(bytes), chop: None, sync: false });
    }
    let mask = header.and_then(|h| h.mask).map(MaskKey);
    let len_form = frame.len_bits.and_then(LenForm::from_bits).map(Form);
    Action::Frame(FrameSpec {
        opcode: Opcode(frame.opcode()),
        fin: frame.fin,
        rsv: Rsv(frame.rsv),
        mask,
        payload: Some(Payload::Hex(HexBytes(payload))),
        repeat_to: None,
        len: None,
        len_form,
        chop: None,
        sync: false,
        compress: false,
    })
}

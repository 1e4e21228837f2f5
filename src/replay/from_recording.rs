//! A recording from `wstap record` as a case: the recorded server is played
//! back to a new client, and what the recorded client did becomes the
//! expectation. A recording is therefore a regression test as it stands.
//!
//! Derivation rules:
//! - The server's frames are sent in recorded order, byte for byte (header
//!   fields, length form and payload as recorded). With [`Timing::Reactive`]
//!   each frame waits until the client has sent as many messages and pongs
//!   as it had before that frame in the recording; with
//!   [`Timing::Recorded`] the original gaps between server frames are kept
//!   instead (measured from the 101, each rounded up to whole ms so none
//!   is shorter than recorded).
//! - Pongs that answered a client ping are not replayed: the fuzzer answers
//!   pings itself while OPEN, as Autobahn does.
//! - The first close decides who closes: if the server's came first it is
//!   replayed as the server's own close (`closedByMe`); if the client's
//!   came first, the server's recorded reply (code and reason) is the reply
//!   the fuzzer sends when the new client closes ([`Fixture::close_reply`];
//!   Autobahn's 1000 if none was recorded).
//! - The client is sent to the recorded request target (path and query,
//!   [`Fixture::request_target`]) rather than to `/runCase?…`, so the
//!   request line it sends is the recorded one.
//! - Expected events (`OK`) are the recorded client's messages and pongs;
//!   the allowed close code is the recorded client's (no code is always
//!   allowed; 1000 and 1001 too when the recording does not show how the
//!   client ended, [`expected_codes`]); a clean close is required if the
//!   recording had one. A wrong code fails the case.
//! - A kill timer of [`KILL_SLACK`] (plus the recording's length when the
//!   timing is recorded) is armed first, so a client that stalls still ends
//!   its case.
//! - The 101 response is the recorded one with a fresh
//!   `Sec-WebSocket-Accept` for the new key, and, if permessage-deflate
//!   was negotiated, the agreement made with the new client's offer.
//! - Compressed server messages become [`RecordedMessage`]s: sent byte for
//!   byte when the new agreement equals the recorded one, otherwise their
//!   inflated payload is compressed again under the new agreement (or sent
//!   uncompressed if the client did not agree to permessage-deflate).
//!   Expected client messages are their inflated payloads.

use std::path::Path;

use super::{Case, Fixture, Response};
use crate::scenario::action::{Form, Opcode, Rsv};
use crate::scenario::payload::{HexBytes, MaskKey};
use crate::scenario::{
    Action, CloseSpec, CloseVia, Event, Expect, ExpectedClose, ExpectedEvents, FrameSpec, LocalClose, Payload, RawSpec,
    RecordedMessage, Scenario, ScenarioError, WaitFor,
};
use crate::session::{Direction, EventKind, Frame, Message, Recording};
use crate::wire::{ClosePayload, LenForm, OpCode};

/// Seconds the kill timer allows beyond the recording.
pub const KILL_SLACK: f64 = 5.0;

/// How server frames are paced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Timing {
    /// Send each server frame once the client has caught up with the
    /// recording (same number of messages and pongs); no sleeping.
    #[default]
    Reactive,
    /// Keep the recorded delays between server frames.
    Recorded,
}

/// Loads a recording file as a case (unnumbered).
pub fn load(path: &Path, timing: Timing) -> Result<Case, ScenarioError> {
    let error = |line, message| ScenarioError { file: path.to_path_buf(), position: line, message };
    let rec = crate::store::load(path).map_err(|e| error(e.line.map(|l| (l, 1)), e.message))?;
    let id = path.file_stem().map_or("recording".into(), |s| s.to_string_lossy().into_owned());
    let (scenario, response, fixture) = derive(&rec, &id, timing).map_err(|m| error(None, m))?;
    Ok(Case { scenario, number: 0, response, origin: path.to_path_buf(), fixture })
}

/// What the walk over the recording collects.
#[derive(Default)]
struct Walk {
    actions: Vec<Action>,
    expected: Vec<Event>,
    client_events: usize,
    waited_for: usize,
    pending_pings: usize,
    message: Vec<u8>,
    message_binary: bool,
    /// The client's current message is compressed: it is expected as
    /// inflated, from its `message` event.
    message_compressed: bool,
    /// The recorded 101 negotiated permessage-deflate.
    deflate: bool,
    /// The compressed server message being walked, if any.
    group: Option<Group>,
    first_close: Option<Direction>,
    client_code: Option<u16>,
    /// The server's recorded reply to the client's close.
    close_reply: Option<LocalClose>,
    last_server_at: u64,
}

/// Derives the scenario, the 101 response and what else is reproduced
/// ([`Fixture`]) from a recording.
pub fn derive(rec: &Recording, id: &str, timing: Timing) -> Result<(Scenario, Response, Fixture), String> {
    let (headers, opened_at) = recorded_response(rec)?;
    let deflate = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("sec-websocket-extensions") && crate::wire::deflate::negotiate::wanted(v).is_some()
    });
    let mut walk = Walk { last_server_at: opened_at, deflate, ..Walk::default() };
    for event in &rec.events {
        match &event.kind {
            EventKind::Frame(frame) => {
                let payload = rec.data_bytes(&frame.payload).map_err(|e| e.to_string())?;
                match event.dir {
                    Direction::ClientToServer => walk.client_frame(frame, payload),
                    Direction::ServerToClient => walk.server_frame(frame, payload, event.at, timing),
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
    let scenario = Scenario {
        id: id.to_owned(),
        description: format!("Replay of the recording {id} (server side as recorded)"),
        expectation: "The client behaves as the recorded client: same messages, same close.".into(),
        handshake: Default::default(),
        expect: Expect {
            events: ExpectedEvents { ok: Some(walk.expected), non_strict: None },
            close: ExpectedClose {
                closed_by_me: walk.first_close == Some(Direction::ServerToClient),
                codes: expected_codes(rec, walk.client_code),
                require_clean: rec.summary().clean,
            },
            auto_close: false,
            wrong_code_fails: true,
            closed_by_wrong_endpoint_is_fatal: false,
            informational: None,
            echo: None,
        },
        actions: walk.actions,
        report: Default::default(),
    };
    let fixture = Fixture { request_target: request_target(rec), close_reply: walk.close_reply };
    Ok((scenario, Response::Recorded(headers), fixture))
}

/// The close codes the new client may send: the recorded client's. A
/// recording that does not say how the client ended (no close frame and
/// no TCP end from it: a HAR import, a session cut by stopping `record`)
/// allows a normal close (1000, 1001), since no recorded behaviour forbids
/// one; otherwise no code is the only one allowed, as recorded.
fn expected_codes(rec: &Recording, recorded: Option<u16>) -> Vec<u16> {
    let client_ended = rec.events_in(Direction::ClientToServer).any(|e| {
        matches!(e.kind, EventKind::Fin | EventKind::Rst { .. })
            || matches!(&e.kind, EventKind::Frame(f) if f.opcode() == OpCode::CLOSE)
    });
    match recorded {
        Some(code) => vec![code],
        None if client_ended => Vec::new(),
        None => vec![1000, 1001],
    }
}

/// The recorded request's target (`/chat?x=1`), if the head has one that
/// can go into a URL: an origin-form target of printable ASCII. A `'` is
/// sent as `%27`, since the URL is single-quoted for the shell.
fn request_target(rec: &Recording) -> Option<String> {
    let data = rec.events_in(Direction::ClientToServer).find_map(|e| match &e.kind {
        EventKind::Http { data, .. } => Some(data),
        _ => None,
    })?;
    let bytes = rec.data_bytes(data).ok()?;
    let line = bytes.split(|&b| b == b'\r' || b == b'\n').next()?;
    let target = std::str::from_utf8(line).ok()?.split(' ').nth(1)?;
    let printable = target.starts_with('/') && target.bytes().all(|b| b.is_ascii_graphic());
    printable.then(|| target.replace('\'', "%27"))
}

/// The recorded 101's header lines, and when it was sent (µs).
fn recorded_response(rec: &Recording) -> Result<(Vec<(String, String)>, u64), String> {
    let (at, data) = rec
        .events_in(Direction::ServerToClient)
        .find_map(|e| match &e.kind {
            EventKind::Http { data, .. } => Some((e.at, data)),
            _ => None,
        })
        .ok_or("the recording has no server response head")?;
    let bytes = rec.data_bytes(data).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.contains(" 101") {
        return Err(format!("the recorded response is not a 101: {status:?}"));
    }
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((headers, at))
}

impl Walk {
    fn client_frame(&mut self, frame: &Frame, payload: Vec<u8>) {
        match frame.opcode() {
            OpCode::PING => self.pending_pings += 1,
            OpCode::PONG => self.client_event(Event::Pong(payload)),
            OpCode::CLOSE => {
                if self.client_code.is_none() {
                    self.client_code = ClosePayload::parse(&payload).code;
                }
                self.first_close.get_or_insert(Direction::ClientToServer);
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
                    self.client_event(Event::Message { data, binary: self.message_binary });
                }
            }
        }
    }

    fn client_event(&mut self, event: Event) {
        self.client_events += 1;
        self.expected.push(event);
    }

    fn server_frame(&mut self, frame: &Frame, payload: Vec<u8>, at: u64, timing: Timing) {
        let op = frame.opcode();
        if op == OpCode::PONG && self.pending_pings > 0 {
            self.pending_pings -= 1;
            return;
        }
        let first_close = op == OpCode::CLOSE && self.first_close.is_none();
        if op == OpCode::CLOSE && self.first_close == Some(Direction::ClientToServer) {
            // The reply: sent by the fuzzer when the new client closes.
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
            self.first_close = Some(Direction::ServerToClient);
            let close = ClosePayload::parse(&payload);
            let reason = (payload.len() > 2).then_some(Payload::Hex(HexBytes(close.reason)));
            let reason = reason.or_else(|| (payload.len() == 1).then(|| Payload::Hex(HexBytes(payload.clone()))));
            self.push(Action::Close(CloseSpec { code: close.code, reason, via: CloseVia::Raw }), false);
        } else {
            let own = self.group.is_some() && !op.is_control();
            self.push(frame_action(frame, payload), own);
        }
    }

    /// Adds a server action, to the compressed message being walked if
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

    /// A compressed message ended: the client's is expected inflated; the
    /// server's closes its group.
    fn compressed_message(&mut self, rec: &Recording, dir: Direction, m: &Message) -> Result<(), String> {
        let inflated = match m.inflated.as_ref().filter(|i| !i.cut) {
            Some(i) => Some(rec.data_bytes(&i.data).map_err(|e| e.to_string())?),
            None => None,
        };
        match dir {
            Direction::ClientToServer if self.message_compressed => {
                self.message_compressed = false;
                let data = inflated.unwrap_or_else(|| std::mem::take(&mut self.message));
                self.client_event(Event::Message { data, binary: self.message_binary });
            }
            Direction::ClientToServer => {}
            Direction::ServerToClient => {
                let message = inflated.map(|data| (Opcode(OpCode::new(m.opcode)), data));
                self.end_group(message);
            }
        }
        Ok(())
    }

    /// Ends the compressed server message being walked: recompressible if
    /// `message` (its opcode and inflated payload) is known.
    fn end_group(&mut self, message: Option<(Opcode, Vec<u8>)>) {
        let Some(group) = self.group.take() else { return };
        let recompressed = message.map(|(opcode, data)| {
            let mut again = group.others;
            again.push(Action::Frame(FrameSpec { compress: true, ..FrameSpec::message(opcode, data) }));
            again
        });
        self.actions.push(Action::Recorded(RecordedMessage { as_recorded: group.as_recorded, recompressed }));
    }

    fn pace(&mut self, at: u64, timing: Timing) {
        match timing {
            Timing::Reactive if self.client_events > self.waited_for => {
                self.waited_for = self.client_events;
                self.actions.push(Action::Wait(WaitFor::Events(self.client_events)));
            }
            Timing::Recorded => {
                // Rounded up: a replayed gap is never shorter than the recorded one.
                let gap_ms = at.saturating_sub(self.last_server_at).div_ceil(1000);
                if gap_ms > 0 {
                    self.actions.push(Action::Delay(gap_ms));
                }
                self.last_server_at = at;
            }
            Timing::Reactive => {}
        }
    }
}

/// The RSV bit of a compressed message's first frame.
const RSV1: u8 = 0b100;

/// A compressed server message being walked.
#[derive(Default)]
struct Group {
    /// Everything the server did while it was being sent, as recorded.
    as_recorded: Vec<Action>,
    /// The same without the message's own frames.
    others: Vec<Action>,
}

/// A recorded server frame as an action that re-sends it byte for byte.
fn frame_action(frame: &Frame, payload: Vec<u8>) -> Action {
    if let (true, Ok(header)) = (frame.cut, frame.header()) {
        // Cut short in the recording: the header, then the bytes that came.
        let mut bytes = Vec::new();
        header.emit(&mut bytes);
        let mut payload = payload;
        if let Some(key) = header.mask {
            crate::wire::apply_mask(&mut payload, key, 0);
        }
        bytes.extend_from_slice(&payload);
        return Action::Raw(RawSpec { hex: HexBytes(bytes), chop: None, sync: false });
    }
    let mask = frame.header().ok().and_then(|h| h.mask).map(MaskKey);
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

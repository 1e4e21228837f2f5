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
//!   instead (measured from the 101).
//! - Pongs that answered a client ping are not replayed: the fuzzer answers
//!   pings itself while OPEN, as Autobahn does.
//! - The first close decides who closes: if the server's came first it is
//!   replayed as the server's own close (`closedByMe`); if the client's
//!   came first, the server's recorded reply is left to the fuzzer, which
//!   replies with 1000 like Autobahn.
//! - Expected events (`OK`) are the recorded client's messages and pongs;
//!   the allowed close code is the recorded client's (no code is always
//!   allowed); a clean close is required if the recording had one. A wrong
//!   code fails the case.
//! - A kill timer of [`KILL_SLACK`] (plus the recording's length when the
//!   timing is recorded) is armed first, so a client that stalls still ends
//!   its case.
//! - The 101 response is the recorded one with a fresh
//!   `Sec-WebSocket-Accept` for the new key.

use std::path::Path;

use super::{Case, Response};
use crate::scenario::action::{Form, Opcode, Rsv};
use crate::scenario::payload::{HexBytes, MaskKey};
use crate::scenario::{
    Action, CloseSpec, CloseVia, Event, Expect, ExpectedClose, ExpectedEvents, FrameSpec, Payload, RawSpec, Scenario,
    ScenarioError, WaitFor,
};
use crate::session::{Direction, EventKind, Frame, Recording};
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
    let (scenario, response) = derive(&rec, &id, timing).map_err(|m| error(None, m))?;
    Ok(Case { scenario, number: 0, response, origin: path.to_path_buf() })
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
    first_close: Option<Direction>,
    client_code: Option<u16>,
    last_server_at: u64,
}

/// Derives the scenario and the 101 response from a recording.
pub fn derive(rec: &Recording, id: &str, timing: Timing) -> Result<(Scenario, Response), String> {
    let (headers, opened_at) = recorded_response(rec)?;
    let mut walk = Walk { last_server_at: opened_at, ..Walk::default() };
    for event in &rec.events {
        if let EventKind::Frame(frame) = &event.kind {
            let payload = rec.data_bytes(&frame.payload).map_err(|e| e.to_string())?;
            match event.dir {
                Direction::ClientToServer => walk.client_frame(frame, payload),
                Direction::ServerToClient => walk.server_frame(frame, payload, event.at, timing),
            }
        }
    }
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
                codes: walk.client_code.into_iter().collect(),
                require_clean: rec.summary().clean,
            },
            auto_close: false,
            wrong_code_fails: true,
            closed_by_wrong_endpoint_is_fatal: false,
            informational: None,
        },
        actions: walk.actions,
        report: Default::default(),
    };
    Ok((scenario, Response::Recorded(headers)))
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
                }
                self.message.extend_from_slice(&payload);
                if frame.fin {
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
            return; // the reply: the fuzzer sends its own
        }
        self.pace(at, timing);
        if first_close {
            self.first_close = Some(Direction::ServerToClient);
            let close = ClosePayload::parse(&payload);
            let reason = (payload.len() > 2).then_some(Payload::Hex(HexBytes(close.reason)));
            let reason = reason.or_else(|| (payload.len() == 1).then(|| Payload::Hex(HexBytes(payload.clone()))));
            self.actions.push(Action::Close(CloseSpec { code: close.code, reason, via: CloseVia::Raw }));
        } else {
            self.actions.push(frame_action(frame, payload));
        }
    }

    fn pace(&mut self, at: u64, timing: Timing) {
        match timing {
            Timing::Reactive if self.client_events > self.waited_for => {
                self.waited_for = self.client_events;
                self.actions.push(Action::Wait(WaitFor::Events(self.client_events)));
            }
            Timing::Recorded => {
                let gap_ms = at.saturating_sub(self.last_server_at) / 1000;
                if gap_ms > 0 {
                    self.actions.push(Action::Delay(gap_ms));
                }
                self.last_server_at = at;
            }
            Timing::Reactive => {}
        }
    }
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
    })
}

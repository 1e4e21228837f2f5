//! A recording seen as an Autobahn case report, from one side's point of view.
//!
//! Autobahn writes its reports as the server ("me"); RX is what the client
//! sent. `wstap show` does the same by default and can take the client's
//! side instead. The closing-behaviour keys are derived from the recorded
//! facts through the same [`Observation`] the replay judge produces, so both
//! fill the report one way; two of them are inferences a passive tap has to
//! make and are documented on [`observation`].
//!
//! Wire log order follows Autobahn: a read (`RO`) precedes the frames
//! decoded from it (`RF`), while a sent frame (`TF`) is logged before the
//! write (`TO`) that carried it.
//!
//! Compressed messages (permessage-deflate) are shown inflated: the final
//! frame of a compressed message carries the whole inflated message as its
//! payload text, so the report is readable; its RSV (4) still marks it as
//! compressed, and the octets lines keep the wire bytes.

use super::autobahn::{CaseEvent, CaseReport};
use super::wirelog::{TxFrameSpec, WireLogEntry, WireTrace};
use crate::judge::Observation;
use crate::session::{
    CloseInfo, Direction, Event, EventKind, Frame, Preview, RebuildError, Recording, Side, Summary, TcpEnd, time,
};
use std::collections::VecDeque;

/// Close codes that mean "I failed the connection" rather than a normal close.
const FAILING_CODES: [u16; 7] = [1002, 1003, 1007, 1008, 1009, 1010, 1011];

/// Builds the report of `rec` as seen by `me`.
pub fn from_recording(rec: &Recording, me: Side) -> Result<CaseReport, RebuildError> {
    let summary = rec.summary();
    let peer = match me {
        Side::Server => &rec.client,
        Side::Client => &rec.server,
    };
    let mut report = CaseReport::new(peer.clone());
    report.started = time::parse_rfc3339(&rec.started).map(time::rfc3339_millis).unwrap_or_else(|| rec.started.clone());
    report.duration = summary.duration_us.div_ceil(1000);
    report.http_request = head_text(rec, Direction::ClientToServer);
    report.http_response = head_text(rec, Direction::ServerToClient);
    let mut obs = observation(&summary, me);
    if !obs.was_clean && ended_by_proxy(rec) {
        obs.was_not_clean_reason = Some(ENDED_BY_WSTAP.into());
    }
    report.set_closing(&obs, false);
    let (trace, received) = trace(rec, me)?;
    report.received = received;
    report.set_trace(trace);
    Ok(report)
}

/// `wasNotCleanReason` of a connection the proxy ended (`wstap record` stopped).
pub const ENDED_BY_WSTAP: &str = "wstap record was stopped with the connection open; the proxy closed it";

fn ended_by_proxy(rec: &Recording) -> bool {
    rec.events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Note { kind, .. } if kind == crate::session::NOTE_ENDED_BY_PROXY))
}

fn head_text(rec: &Recording, dir: Direction) -> String {
    match rec.head(dir).map(|d| rec.data_bytes(d)) {
        Some(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => "?".to_owned(),
    }
}

/// The closing facts of a recording as the judge's [`Observation`], seen by `me`.
///
/// Inferred, since a tap cannot see intent: `failedByMe` is true when my
/// close carried a failure code (1002, 1003, 1007–1011) or I reset TCP
/// without closing; `wasNotCleanReason` names the peer dropping TCP first,
/// or not answering my close, when those are what the record shows. The
/// timeout flags stay false: a tap runs no timers.
pub fn observation(s: &Summary, me: Side) -> Observation {
    let them = match me {
        Side::Server => Side::Client,
        Side::Client => Side::Server,
    };
    let (mine, theirs) = (s.close_of(me), s.close_of(them));
    let my_end = match me {
        Side::Server => s.server_tcp_end,
        Side::Client => s.client_tcp_end,
    };
    // A reason that is not UTF-8 is shown as its hex, both ways.
    let reason_bytes = |c: &CloseInfo| c.reason.as_ref().or(c.reason_hex.as_ref()).map(|r| r.as_bytes().to_vec());
    Observation {
        received: Vec::new(),
        handshake_completed: s.upgraded,
        is_server: me == Side::Server,
        closed_by_me: s.closed_first_by == Some(me),
        failed_by_me: mine.and_then(|c| c.code).is_some_and(|c| FAILING_CODES.contains(&c))
            || (mine.is_none() && my_end == Some(TcpEnd::Rst)),
        dropped_by_me: s.tcp_closed_first_by == Some(me),
        was_clean: s.clean,
        was_not_clean_reason: match (s.clean, mine, theirs) {
            (true, _, _) => None,
            (false, Some(_), None) => Some("peer did not respond (in time) in closing handshake".into()),
            (false, _, _) if s.tcp_closed_first_by == Some(them) => {
                Some("peer dropped the TCP connection without previous WebSocket closing handshake".into())
            }
            _ => None,
        },
        was_server_connection_drop_timeout: false,
        was_open_handshake_timeout: false,
        was_close_handshake_timeout: false,
        local_close_code: mine.and_then(|c| c.code),
        local_close_reason: mine.and_then(reason_bytes),
        remote_close_code: theirs.and_then(|c| c.code),
        remote_close_reason: theirs.and_then(|c| c.reason.clone().or_else(|| c.reason_hex.clone())),
        echo: None,
        unimplemented: false,
    }
}

/// The wire log and statistics, and Autobahn's `received` list (the peer's
/// messages and pongs), from one pass over the events. Payloads and reads
/// are [`Preview`]s: the report shows no more of them, so a recording with
/// a 256 MiB message is rendered without holding it.
fn trace(rec: &Recording, me: Side) -> Result<(WireTrace, Vec<CaseEvent>), RebuildError> {
    let previews = |dir| rec.read_previews(dir).map(VecDeque::from);
    let mut reads = [previews(Direction::ClientToServer)?, previews(Direction::ServerToClient)?];
    let mine = me.sends();
    let mut shown = Shown::new(rec);
    let mut t = WireTrace::default();
    let mut received = Vec::new();
    let mut pending_tx: Option<Preview> = None;
    for event in &rec.events {
        let is_mine = event.dir == mine;
        match &event.kind {
            EventKind::Frame(f) if is_mine => tx_frame(&mut t, f, &shown.frame(rec, event.dir, f)?)?,
            EventKind::Message(_) | EventKind::Violation { .. } if is_mine => {}
            _ => {
                if let Some(p) = pending_tx.take() {
                    t.tx_octets_of(&p, false);
                }
                let mut step = Step { t: &mut t, reads: &mut reads, pending_tx: &mut pending_tx, shown: &mut shown };
                step.log_event(rec, event, is_mine, &mut received)?;
            }
        }
    }
    if let Some(p) = pending_tx {
        t.tx_octets_of(&p, false);
    }
    Ok((t, received))
}

/// What [`trace`] carries from event to event.
struct Step<'a> {
    t: &'a mut WireTrace,
    reads: &'a mut [VecDeque<Preview>; 2],
    pending_tx: &'a mut Option<Preview>,
    shown: &'a mut Shown,
}

impl Step<'_> {
    fn log_event(
        &mut self,
        rec: &Recording,
        event: &Event,
        is_mine: bool,
        received: &mut Vec<CaseEvent>,
    ) -> Result<(), RebuildError> {
        match &event.kind {
            EventKind::Read { .. } => {
                let read = self.reads[event.dir.index()].pop_front().unwrap_or_default();
                if is_mine {
                    *self.pending_tx = Some(read);
                } else {
                    self.t.rx_octets_of(&read);
                }
            }
            EventKind::Frame(f) => {
                let header = f.header().map_err(|message| RebuildError::Corrupt { index: None, message })?;
                let payload = self.shown.frame(rec, event.dir, f)?;
                self.t.rx_frame_of(&payload, f.opcode, f.fin, f.rsv, header.mask);
                if f.opcode == 10 {
                    received.push(CaseEvent::pong_of(&payload));
                }
            }
            EventKind::Message(m) => {
                received.push(CaseEvent::message_of(&self.shown.message(event.dir), m.opcode == 2))
            }
            EventKind::Fault { rule, spec, action, detail, .. } => {
                let entry = WireLogEntry::Fault {
                    rule: *rule,
                    spec: spec.clone(),
                    action: action.clone(),
                    detail: detail.clone(),
                };
                self.t.log(entry);
            }
            _ => {}
        }
        Ok(())
    }
}

fn tx_frame(t: &mut WireTrace, f: &Frame, payload: &Preview) -> Result<(), RebuildError> {
    let header = f.header().map_err(|message| RebuildError::Corrupt { index: None, message })?;
    let spec = TxFrameSpec {
        payload: &[],
        opcode: f.opcode,
        fin: f.fin,
        rsv: f.rsv,
        mask: header.mask,
        repeat: None,
        chopsize: None,
        sync: false,
    };
    t.tx_frame_of(&spec, payload);
    Ok(())
}

/// What is shown of frames and messages: a frame's wire payload, except
/// that the final frame of a compressed message shows the inflated message.
struct Shown {
    /// The shown payloads of compressed messages, in order, per direction.
    pending: [VecDeque<crate::session::Data>; 2],
    in_compressed: [bool; 2],
    /// The message being received, per direction: its wire payload so far,
    /// or, once its compressed final frame was shown, the inflated message.
    message: [Preview; 2],
}

impl Shown {
    fn new(rec: &Recording) -> Shown {
        let mut pending = [VecDeque::new(), VecDeque::new()];
        for e in &rec.events {
            if let EventKind::Message(m) = &e.kind
                && m.compressed
            {
                pending[e.dir.index()].push_back(m.shown_payload().clone());
            }
        }
        Shown { pending, in_compressed: [false; 2], message: Default::default() }
    }

    /// The payload to display for `f`.
    fn frame(&mut self, rec: &Recording, dir: Direction, f: &Frame) -> Result<Preview, RebuildError> {
        let i = dir.index();
        let wire = rec.data_preview(&f.payload)?;
        if matches!(f.opcode, 1 | 2) {
            self.in_compressed[i] = f.rsv & 4 != 0;
            self.message[i] = Preview::default();
        }
        let data_frame = matches!(f.opcode, 0..=2);
        if data_frame {
            self.message[i].append(&wire);
        }
        if data_frame && f.fin && std::mem::take(&mut self.in_compressed[i]) {
            let inflated = self.pending[i].pop_front().map(|d| rec.data_preview(&d));
            if let Some(Ok(p)) = inflated {
                self.message[i] = p.clone();
                return Ok(p);
            }
        }
        Ok(wire)
    }

    /// The message of `dir` that just ended, as shown.
    fn message(&mut self, dir: Direction) -> Preview {
        std::mem::take(&mut self.message[dir.index()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::WireLogEntry;
    use crate::session::{MemoryStore, SessionBuilder};
    use crate::wire::{Deflater, FrameHeader, OpCode};

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

    fn recording() -> Recording {
        let mut b = SessionBuilder::new(MemoryStore::default());
        let compressed = Deflater::new(15, false).unwrap().compress_message(b"hello, compressed world");
        let client =
            FrameHeader { rsv: 4, mask: Some([1, 2, 3, 4]), ..FrameHeader::new(OpCode::TEXT, compressed.len() as u64) }
                .encode_frame(&compressed);
        b.read(0, Direction::ClientToServer, REQUEST).unwrap();
        b.read(1, Direction::ServerToClient, RESPONSE).unwrap();
        b.read(2, Direction::ClientToServer, &client).unwrap();
        b.read(3, Direction::ServerToClient, &FrameHeader::new(OpCode::CLOSE, 2).encode_frame(&[3, 232])).unwrap();
        Recording { started: "2026-11-24T00:00:00.000000Z".into(), events: b.drain(), ..Recording::default() }
    }

    #[test]
    fn compressed_messages_are_shown_inflated_and_marked_by_rsv() {
        let report = from_recording(&recording(), Side::Server).unwrap();
        let rf: Vec<&WireLogEntry> = report.wirelog.iter().filter(|e| e.tag() == "RF").collect();
        let json = serde_json::to_value(rf[0]).unwrap();
        assert_eq!(json[1][1], "hello, compressed world");
        assert_eq!(json[4], 4, "RSV1 marks the frame compressed");
        assert_eq!(report.received, vec![CaseEvent::message(b"hello, compressed world", false)]);
        assert!(report.closed_by_me, "the server closed first");
        assert_eq!(report.local_close_code, Some(1000));
        assert_eq!(report.was_not_clean_reason.as_deref(), Some("peer did not respond (in time) in closing handshake"));
    }

    #[test]
    fn the_client_perspective_flips_rx_and_tx() {
        let report = from_recording(&recording(), Side::Client).unwrap();
        assert!(!report.is_server && !report.closed_by_me);
        assert_eq!(report.remote_close_code, Some(1000));
        let tags: Vec<&str> = report.wirelog.iter().map(|e| e.tag()).collect();
        assert_eq!(tags, ["TO", "RO", "TF", "TO", "RO", "RF"]);
    }
}

//! The closing summary: how the connection ended, in the terms of
//! Autobahn's closing-behaviour keys, derived from the events alone.
//!
//! The summary is a pure function of the events ([`Summary::from_events`]);
//! the recorder writes it at the end so a reader need not recompute it, and
//! a recording cut short by a killed recorder gets it recomputed on load.

use super::{Event, EventKind};
use crate::wire::{Direction, OpCode};
use serde::{Deserialize, Serialize};

/// One end of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The WebSocket client (the side that sent the upgrade request).
    Client,
    /// The WebSocket server.
    Server,
}

impl Side {
    /// The side that sends in `dir`.
    pub fn sender(dir: Direction) -> Side {
        match dir {
            Direction::ClientToServer => Side::Client,
            Direction::ServerToClient => Side::Server,
        }
    }

    /// The direction this side sends in.
    pub fn sends(self) -> Direction {
        match self {
            Side::Client => Direction::ClientToServer,
            Side::Server => Direction::ServerToClient,
        }
    }
}

/// How a side ended its half of TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpEnd {
    /// An orderly FIN.
    Fin,
    /// A reset, or an error that ended the connection.
    Rst,
}

/// Code and reason of a close frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseInfo {
    /// The close code, absent for an empty close.
    #[serde(default)]
    pub code: Option<u16>,
    /// The reason, when present and valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reason as hex, when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_hex: Option<String>,
}

/// How the connection closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// True if the connection switched to WebSocket.
    pub upgraded: bool,
    /// Time of the last event, in microseconds.
    pub duration_us: u64,
    /// Which side sent a close frame first.
    pub closed_first_by: Option<Side>,
    /// True if both sides sent a close frame (a full closing handshake).
    pub clean: bool,
    /// The client's first close frame.
    pub client_close: Option<CloseInfo>,
    /// The server's first close frame.
    pub server_close: Option<CloseInfo>,
    /// Which side ended TCP first (FIN or reset).
    pub tcp_closed_first_by: Option<Side>,
    /// How the client ended its half of TCP.
    pub client_tcp_end: Option<TcpEnd>,
    /// How the server ended its half of TCP.
    pub server_tcp_end: Option<TcpEnd>,
    /// Frames sent by the client.
    pub client_frames: u64,
    /// Frames sent by the server.
    pub server_frames: u64,
    /// Protocol violations seen, both ways.
    pub violations: u64,
}

impl Summary {
    /// Computes the summary from the events.
    pub fn from_events(events: &[Event]) -> Summary {
        let mut s = Summary::default();
        events.iter().for_each(|e| s.observe(e));
        s
    }

    /// Updates the summary with one more event, so a recorder can keep it
    /// current without holding the events.
    pub fn observe(&mut self, event: &Event) {
        self.duration_us = self.duration_us.max(event.at);
        let side = Side::sender(event.dir);
        match &event.kind {
            EventKind::Upgrade { upgraded, .. } => self.upgraded = *upgraded,
            EventKind::Frame(f) => self.note_frame(side, f),
            EventKind::Violation { .. } => self.violations += 1,
            EventKind::Fin => self.note_end(side, TcpEnd::Fin),
            EventKind::Rst { .. } => self.note_end(side, TcpEnd::Rst),
            _ => {}
        }
        self.clean = self.client_close.is_some() && self.server_close.is_some();
    }

    fn note_frame(&mut self, side: Side, f: &super::Frame) {
        *match side {
            Side::Client => &mut self.client_frames,
            Side::Server => &mut self.server_frames,
        } += 1;
        if f.opcode() != OpCode::CLOSE || f.cut {
            return;
        }
        let slot = match side {
            Side::Client => &mut self.client_close,
            Side::Server => &mut self.server_close,
        };
        if slot.is_none() {
            *slot = Some(CloseInfo::from_frame(f));
            self.closed_first_by.get_or_insert(side);
        }
    }

    fn note_end(&mut self, side: Side, how: TcpEnd) {
        let slot = match side {
            Side::Client => &mut self.client_tcp_end,
            Side::Server => &mut self.server_tcp_end,
        };
        if slot.is_none() {
            *slot = Some(how);
            self.tcp_closed_first_by.get_or_insert(side);
        }
    }

    /// The close frame `side` sent first.
    pub fn close_of(&self, side: Side) -> Option<&CloseInfo> {
        match side {
            Side::Client => self.client_close.as_ref(),
            Side::Server => self.server_close.as_ref(),
        }
    }
}

impl CloseInfo {
    /// Code and reason of a recorded close frame.
    pub fn from_frame(f: &super::Frame) -> CloseInfo {
        let payload = f.payload.inline_bytes().ok().flatten().unwrap_or_default();
        let parsed = crate::wire::ClosePayload::parse(&payload);
        let text = parsed.reason_text().map(str::to_string);
        CloseInfo {
            code: parsed.code,
            reason_hex: match (&text, parsed.reason.is_empty()) {
                (None, false) => Some(super::data::hex(&parsed.reason)),
                _ => None,
            },
            reason: text.filter(|t| !t.is_empty()),
        }
    }
}

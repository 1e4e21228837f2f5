//! The session data model: one recorded TCP connection, as every part of
//! wstap sees it.
//!
//! Record writes it, `show` renders it, replay plays it and saves what it
//! observed as one, diff compares two, and pcap import produces one. Keeping
//! a single model is what stops those features drifting apart.
//!
//! A recording is a header, an ordered list of [`Event`]s, and a closing
//! [`Summary`]. Events carry a microsecond offset from the start and the
//! direction the bytes travelled. Content events (`http`, `frame`, `raw`)
//! account for every byte of each direction in order, and `read` events give
//! the TCP read boundaries, so both byte streams can be rebuilt exactly
//! ([`Recording::stream`]). The file format is documented in
//! `docs/recording-format.md`.

pub mod builder;
pub mod closing;
pub mod data;
mod inflate;
pub mod preview;
pub mod sidecar;
pub mod streams;
pub mod time;
pub mod tls;

pub use builder::{MemoryStore, PayloadStore, SessionBuilder};
pub use closing::{CloseInfo, Side, Summary, TcpEnd};
pub use data::{Data, INLINE_MAX, SidecarRef};
pub use inflate::{INFLATE_BUDGET_RATIO, INFLATE_BUDGET_SLACK};
pub use preview::{PREVIEW_LEN, Preview};
pub use streams::RebuildError;
pub use tls::{CertInfo, TlsClose, TlsInfo, TlsLeg};

pub use crate::wire::Direction;
use crate::wire::{FrameHeader, LenForm, OpCode};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The recording format version this build writes. Version 2 records
/// digests as BLAKE3 (`blake3`) where version 1 had SHA-256 (`sha256`);
/// nothing else changed, and version-1 recordings are still read, their
/// digests checked with SHA-256 (docs/recording-format.md).
pub const FORMAT_VERSION: u32 = 2;

/// The `note` kind recorded when the proxy itself ended a connection that
/// was still open, because `wstap record` was stopped.
pub const NOTE_ENDED_BY_PROXY: &str = "ended_by_proxy";

/// One recorded connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// Format version; always [`FORMAT_VERSION`] when written by this build.
    pub wstap_recording: u32,
    /// UTC start time, RFC 3339 with microseconds (`2026-11-24T10:00:00.000123Z`).
    pub started: String,
    /// The client's address as the proxy saw it.
    pub client: String,
    /// The server's address (the one connected to, when a name was resolved).
    pub server: String,
    /// The upstream as named (`wss://example.com:443`, `localhost:8080`, a
    /// `--proxy` target), when it says more than `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// What produced this recording: `record`, `replay`, `import` or `demo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Remarks on how the recording was made (on import: capture problems,
    /// a missing handshake). Written only when there are some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Everything that happened, in order.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub events: Vec<Event>,
    /// Written when the connection is finalised; absent if the recorder was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Directory of the YAML file, for resolving sidecars. Not serialised.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
    /// Problems found while loading (a cut-short file, say). Not serialised.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Event>, D::Error> {
    Ok(Option::<Vec<Event>>::deserialize(d)?.unwrap_or_default())
}

/// One thing that happened on the connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Microseconds since [`Recording::started`].
    pub at: u64,
    /// Which way the bytes went (for `fin`/`rst`: whose sending side ended).
    pub dir: Direction,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of event, tagged by `type` in YAML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// One TCP read of `len` bytes: the read boundaries of the stream.
    Read {
        /// Bytes read.
        len: u64,
    },
    /// An HTTP head, exactly as sent.
    Http {
        /// Offset of its first byte in this direction's stream.
        offset: u64,
        /// The head.
        #[serde(flatten)]
        data: Data,
    },
    /// The upgrade was decided by the server's answer.
    Upgrade {
        /// True if the connection switched to WebSocket.
        upgraded: bool,
        /// The accepted Sec-WebSocket-Extensions value, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extensions: Option<String>,
        /// The accepted subprotocol, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
    },
    /// One WebSocket frame.
    Frame(Frame),
    /// A text or binary message, reassembled from its frames.
    Message(Message),
    /// Something the recorder wants the reader to know that is not a broken
    /// rule, e.g. that an extension's frames are kept as sent.
    Note {
        /// Stable snake_case name, e.g. `extension_not_decoded`.
        kind: String,
        /// Human explanation.
        detail: String,
    },
    /// A broken protocol rule.
    Violation {
        /// Offset in this direction's stream.
        offset: u64,
        /// Stable snake_case name, e.g. `unmasked_client_frame`.
        kind: String,
        /// Human explanation.
        detail: String,
    },
    /// Bytes not decoded as WebSocket, and why.
    Raw {
        /// Offset of the first byte in this direction's stream.
        offset: u64,
        /// Why these bytes are raw.
        reason: String,
        /// The bytes.
        #[serde(flatten)]
        data: Data,
    },
    /// `len` bytes of this direction are missing (not captured). They are
    /// not part of the recorded stream: offsets after a gap count only the
    /// bytes recorded. Decoding restarts after it at the first plausible
    /// frame boundary.
    Gap {
        /// Offset in the recorded stream where the missing bytes belong.
        offset: u64,
        /// Number of missing bytes.
        len: u64,
    },
    /// A TLS handshake completed on one leg (see [`tls`]).
    Tls(TlsInfo),
    /// A TLS leg ended: close_notify, none, an alert, or a failure.
    TlsEnd {
        /// The leg.
        leg: TlsLeg,
        /// How.
        how: TlsClose,
        /// The alert's name or the error, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The request head was forwarded changed by an explicit rule: the
    /// recorded stream keeps what the client sent, this event holds what
    /// the server received instead of the head at `offset..offset + len`.
    Rewrite {
        /// Offset of the client's head in the c2s stream.
        offset: u64,
        /// Length of the client's head.
        len: u64,
        /// The header rewritten (`Host`).
        header: String,
        /// Its value as the client sent it (absent if it had none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Its value as forwarded.
        to: String,
        /// The head as forwarded, byte for byte.
        #[serde(flatten)]
        forwarded: Data,
    },
    /// A fault rule (`--fault`) changed what was forwarded: the recorded
    /// stream keeps what the sender sent; this event says what the
    /// receiver got instead (see `docs/faults.md`).
    Fault {
        /// The rule's number, from 1, in the order the rules were given.
        rule: u32,
        /// The rule as written.
        spec: String,
        /// What was done: `drop`, `delay`, `cut`, `rst`, `fin`, `hold`,
        /// `close_code`, `inject` or `slice`.
        action: String,
        /// Offset of the frame concerned in this direction's stream.
        offset: u64,
        /// Bytes of that frame not forwarded.
        #[serde(default, skip_serializing_if = "is_zero")]
        withheld: u64,
        /// What happened, in words.
        detail: String,
        /// Bytes written to the receiver instead of or besides the frame (a
        /// new close frame, an injected frame), exactly, as hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivered: Option<String>,
    },
    /// The sender closed its side of TCP (FIN).
    Fin,
    /// The connection was reset or failed in this direction.
    Rst {
        /// What the socket reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// A frame with every header field and its unmasked payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Offset of the header's first byte in this direction's stream.
    pub offset: u64,
    /// FIN bit.
    pub fin: bool,
    /// RSV1–3 as a number (RSV1 = 4).
    pub rsv: u8,
    /// Opcode, 0–15.
    pub opcode: u8,
    /// Masking key as 8 hex digits, absent if unmasked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// Declared payload length.
    pub len: u64,
    /// Length encoding (7, 16 or 64 bits); written only when not minimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len_bits: Option<u8>,
    /// Close code, for close frames that carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
    /// Close reason, for close frames whose reason is valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// True if the stream ended before `len` payload bytes arrived.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
    /// The payload received (unmasked); shorter than `len` only if `cut`.
    #[serde(flatten)]
    pub payload: Data,
}

impl Frame {
    /// The header as it was on the wire.
    pub fn header(&self) -> Result<FrameHeader, String> {
        let mask = match &self.mask {
            None => None,
            Some(m) => {
                Some(data::unhex(m)?.try_into().map_err(|_| format!("mask {m:?} is not 4 bytes (8 hex digits)"))?)
            }
        };
        let len_form = match self.len_bits {
            None => LenForm::minimal(self.len),
            Some(b) => LenForm::from_bits(b).ok_or_else(|| format!("len_bits must be 7, 16 or 64, not {b}"))?,
        };
        Ok(FrameHeader {
            fin: self.fin,
            rsv: self.rsv,
            opcode: OpCode::new(self.opcode),
            mask,
            len: self.len,
            len_form,
        })
    }

    /// The opcode.
    pub fn opcode(&self) -> OpCode {
        OpCode::new(self.opcode)
    }
}

/// A reassembled text or binary message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Offset of its first frame.
    pub offset: u64,
    /// 1 (text) or 2 (binary).
    pub opcode: u8,
    /// Total payload length over all frames.
    pub len: u64,
    /// Number of frames.
    pub frames: u32,
    /// True if sent compressed (permessage-deflate).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compressed: bool,
    /// The inflated payload of a compressed message. Absent if not
    /// compressed, or compressed under an extension wstap cannot decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflated: Option<InflatedPayload>,
    /// The payload as sent (compressed if `compressed`), inline when small,
    /// otherwise only its digest (BLAKE3; SHA-256 in version 1).
    #[serde(flatten)]
    pub payload: Data,
}

/// A compressed message's payload after inflating (permessage-deflate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InflatedPayload {
    /// Bytes inflated (at most the recorder's inflate cap).
    pub len: u64,
    /// True if inflation stopped early (cap hit or corrupt data; a violation
    /// precedes the message): the bytes are only the first part.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
    /// The inflated bytes: inline when small, otherwise in the inflated
    /// sidecar, or only their digest if the store keeps none.
    #[serde(flatten)]
    pub data: Data,
}

impl Message {
    /// A message with no inflated payload.
    pub fn new(offset: u64, opcode: u8, len: u64, frames: u32, compressed: bool, payload: Data) -> Message {
        Message { offset, opcode, len, frames, compressed, inflated: None, payload }
    }

    /// The payload to show a reader: the inflated bytes if the message was
    /// compressed and inflated, otherwise the payload as sent.
    pub fn shown_payload(&self) -> &Data {
        self.inflated.as_ref().map_or(&self.payload, |i| &i.data)
    }

    /// The length of [`shown_payload`](Self::shown_payload).
    pub fn shown_len(&self) -> u64 {
        self.inflated.as_ref().map_or(self.len, |i| i.len)
    }
}

impl Recording {
    /// Events that travelled in `dir`.
    pub fn events_in(&self, dir: Direction) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.dir == dir)
    }

    /// The frames, with their direction and time, in order.
    pub fn frames(&self) -> impl Iterator<Item = (&Event, &Frame)> {
        self.events.iter().filter_map(|e| match &e.kind {
            EventKind::Frame(f) => Some((e, f)),
            _ => None,
        })
    }

    /// The HTTP head sent in `dir`, if one was decoded.
    pub fn head(&self, dir: Direction) -> Option<&Data> {
        self.events_in(dir).find_map(|e| match &e.kind {
            EventKind::Http { data, .. } => Some(data),
            _ => None,
        })
    }

    /// The summary as written, or computed from the events when the file has none.
    pub fn summary(&self) -> Summary {
        self.summary.clone().unwrap_or_else(|| Summary::from_events(&self.events))
    }
}

#[cfg(test)]
mod tests;

//! Connection tracking: TCP segments from many connections in, one
//! [`Conversation`] per connection out.
//!
//! A connection is keyed by its unordered address pair; a SYN on a pair
//! whose previous connection was closed (FIN both ways, or RST) starts a
//! new one. The client is the sender of the SYN (or the receiver of the
//! SYN-ACK); without a handshake, the side whose first payload looks like
//! an HTTP request, else the side with the higher port (servers usually
//! listen on the lower one). Guesses are written into the notes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::conversation::{Conversation, Item};
use super::link::Segment;
use super::reassembly::{Piece, Reassembler};
use crate::wire::Direction;

/// Most per-gap notes kept per connection.
const MAX_GAP_NOTES: usize = 10;

/// One connection being reassembled. Side 0 sends from `ends[0]`.
struct Conn {
    ends: [SocketAddr; 2],
    first: Duration,
    last: Duration,
    /// Side that sent a bare SYN / a SYN-ACK.
    syn: Option<usize>,
    syn_ack: Option<usize>,
    streams: [Reassembler; 2],
    /// Stream offset of the next piece emitted per side.
    offsets: [u64; 2],
    first_payload: [Option<Vec<u8>>; 2],
    fin: [bool; 2],
    rst: bool,
    items: Vec<(Duration, usize, Item)>,
    notes: Vec<String>,
    gap_notes: usize,
}

/// All connections of a capture.
#[derive(Default)]
pub struct Tracker {
    conns: Vec<Conn>,
    by_pair: HashMap<(SocketAddr, SocketAddr), usize>,
}

impl Tracker {
    /// Takes one segment from packet `number`, captured at `ts`;
    /// `lens` is (captured, original) frame length.
    pub fn segment(&mut self, number: u64, ts: Duration, lens: (usize, u32), seg: &Segment) {
        let idx = self.conn_for(ts, seg);
        let conn = &mut self.conns[idx];
        conn.last = conn.last.max(ts);
        let side = usize::from(seg.src != conn.ends[0]);
        if seg.missing > 0 {
            let (captured, orig) = lens;
            conn.notes.push(format!(
                "packet {number} truncated to {captured} of {orig} bytes (snaplen): {} bytes missing",
                seg.missing
            ));
        }
        conn.take(ts, side, seg);
    }

    /// The conversations, in order of their first packet.
    pub fn finish(self) -> Vec<Conversation> {
        self.conns.into_iter().map(Conn::finish).collect()
    }

    fn conn_for(&mut self, ts: Duration, seg: &Segment) -> usize {
        let pair = if seg.src <= seg.dst { (seg.src, seg.dst) } else { (seg.dst, seg.src) };
        let bare_syn = seg.syn && seg.ack.is_none();
        match self.by_pair.get(&pair) {
            Some(&i) if !(bare_syn && self.conns[i].closed()) => i,
            _ => {
                self.conns.push(Conn::new([seg.src, seg.dst], ts));
                self.by_pair.insert(pair, self.conns.len() - 1);
                self.conns.len() - 1
            }
        }
    }
}

impl Conn {
    fn new(ends: [SocketAddr; 2], ts: Duration) -> Conn {
        Conn {
            ends,
            first: ts,
            last: ts,
            syn: None,
            syn_ack: None,
            streams: Default::default(),
            offsets: [0; 2],
            first_payload: [None, None],
            fin: [false; 2],
            rst: false,
            items: Vec::new(),
            notes: Vec::new(),
            gap_notes: 0,
        }
    }

    fn closed(&self) -> bool {
        self.rst || self.fin == [true, true]
    }

    fn take(&mut self, ts: Duration, side: usize, seg: &Segment) {
        let mut seq = seg.seq;
        if seg.syn {
            let slot = if seg.ack.is_some() { &mut self.syn_ack } else { &mut self.syn };
            slot.get_or_insert(side);
            self.streams[side].syn(seg.seq);
            seq = seq + 1;
        }
        if !seg.payload.is_empty() && self.first_payload[side].is_none() {
            self.first_payload[side] = Some(seg.payload[..seg.payload.len().min(16)].to_vec());
        }
        if !seg.payload.is_empty() || seg.fin {
            let pieces = self.streams[side].segment(seq, seg.payload, seg.fin);
            self.emit(ts, side, pieces);
        }
        if let Some(ack) = seg.ack {
            let pieces = self.streams[1 - side].acked(ack);
            self.emit(ts, 1 - side, pieces);
        }
        if seg.rst && !self.rst {
            self.rst = true;
            self.items.push((ts, side, Item::Rst));
        }
    }

    fn emit(&mut self, ts: Duration, side: usize, pieces: Vec<Piece>) {
        for piece in pieces {
            let item = match piece {
                Piece::Data(d) => {
                    self.offsets[side] += d.len() as u64;
                    Item::Data(Bytes::from(d))
                }
                Piece::Fin => {
                    self.fin[side] = true;
                    Item::Fin
                }
                Piece::Gap(len) => {
                    self.note_gap(side, len);
                    self.offsets[side] += len;
                    Item::Gap { len }
                }
            };
            self.items.push((ts, side, item));
        }
    }

    fn note_gap(&mut self, side: usize, len: u64) {
        self.gap_notes += 1;
        if self.gap_notes <= MAX_GAP_NOTES {
            let at = self.offsets[side];
            let from = self.ends[side];
            self.notes.push(format!("{len} bytes from {from} not captured (stream offset {at})"));
        }
    }

    fn finish(mut self) -> Conversation {
        let last = self.last;
        for side in 0..2 {
            let pieces = self.streams[side].finish();
            self.emit(last, side, pieces);
        }
        if self.gap_notes > MAX_GAP_NOTES {
            self.notes.push(format!("{} gaps in total", self.gap_notes));
        }
        let client = self.client_side();
        let dir = |side: usize| {
            if side == client { Direction::ClientToServer } else { Direction::ServerToClient }
        };
        if !self.closed() {
            self.notes.push("capture ends mid-connection (no FIN both ways, no RST)".into());
        }
        let start_us = self.first.as_micros() as u64;
        let mut conv = Conversation::new(self.ends[client], self.ends[1 - client], start_us);
        for (ts, side, item) in self.items {
            conv.push(ts.saturating_sub(self.first).as_micros() as u64, dir(side), item);
        }
        conv.notes = self.notes;
        conv
    }

    /// Decides which side is the client, noting any guess.
    fn client_side(&mut self) -> usize {
        if let Some(side) = self.syn {
            return side;
        }
        if let Some(side) = self.syn_ack {
            self.notes.push("SYN not captured; client taken from the SYN-ACK".into());
            return 1 - side;
        }
        let http = (0..2).find(|&s| self.first_payload[s].as_deref().is_some_and(looks_like_request));
        let (side, how) = match http {
            Some(side) => (side, "the side that sent an HTTP request"),
            None => (usize::from(self.ends[1].port() > self.ends[0].port()), "the higher port"),
        };
        self.notes.push(format!("TCP handshake not captured; client guessed as {how}"));
        side
    }
}

/// Whether `bytes` start like an HTTP/1 request line.
fn looks_like_request(bytes: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] =
        [b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE "];
    METHODS.iter().any(|m| bytes.starts_with(m))
}

//! One direction of a TCP connection, reassembled into an ordered stream.
//!
//! Contract:
//! - bytes are delivered once, in sequence order: retransmitted bytes are
//!   dropped, early (out-of-order) segments are held until the bytes before
//!   them arrive;
//! - bytes are never joined across a hole. A hole becomes an explicit
//!   [`Piece::Gap`] when it can no longer be filled: the receiver
//!   acknowledged past it ([`Reassembler::acked`]), or the capture ended
//!   ([`Reassembler::finish`]). Delivery then continues after it;
//! - sequence numbers compare with wrapping arithmetic ([`SeqNumber`]), and
//!   stream offsets are 64-bit, so streams longer than 4 GiB are fine.

use std::collections::BTreeMap;

use super::seq::SeqNumber;

/// What the reassembler releases, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// In-order bytes.
    Data(Vec<u8>),
    /// Bytes that were never captured.
    Gap(u64),
    /// The sender's FIN, after all its bytes.
    Fin,
}

/// Reassembly state for one direction.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset `delivered`; `None` until the SYN
    /// or the first segment is seen.
    next: Option<SeqNumber>,
    /// Stream offset of the next byte to deliver.
    delivered: u64,
    /// Early segments by stream offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    fin_done: bool,
    /// Whether the stream started at a SYN (so offset 0 is the real start).
    from_syn: bool,
}

impl Reassembler {
    /// Records the sender's SYN: its data starts at `isn + 1`.
    pub fn syn(&mut self, isn: SeqNumber) {
        if self.next.is_none() {
            self.next = Some(isn + 1);
            self.from_syn = true;
        }
    }

    /// Whether the stream's start was seen (a SYN).
    pub fn from_syn(&self) -> bool {
        self.from_syn
    }

    /// Bytes delivered or declared missing so far.
    pub fn offset(&self) -> u64 {
        self.delivered
    }

    /// Takes a segment carrying `payload` at `seq`, with the FIN flag `fin`.
    pub fn segment(&mut self, seq: SeqNumber, payload: &[u8], fin: bool) -> Vec<Piece> {
        let next = *self.next.get_or_insert(seq);
        let rel = i64::from(seq - next);
        let start = self.delivered as i64 + rel;
        let end = start + payload.len() as i64;
        if fin && self.fin_at.is_none() && end >= 0 {
            self.fin_at = Some(end as u64);
        }
        if end > self.delivered as i64 {
            let skip = (self.delivered as i64 - start).max(0) as usize;
            let at = start.max(self.delivered as i64) as u64;
            let bytes = &payload[skip..];
            let keep = self.pending.get(&at).is_none_or(|old| old.len() < bytes.len());
            if keep {
                self.pending.insert(at, bytes.to_vec());
            }
        }
        let mut out = Vec::new();
        self.drain(&mut out);
        out
    }

    /// The receiver acknowledged up to `ack`: anything before it that is
    /// still missing was sent but not captured.
    pub fn acked(&mut self, ack: SeqNumber) -> Vec<Piece> {
        let mut out = Vec::new();
        let Some(next) = self.next else { return out };
        let rel = ack - next;
        if rel <= 0 {
            return out;
        }
        let mut limit = self.delivered + rel as u64;
        if let Some(fin_at) = self.fin_at {
            limit = limit.min(fin_at);
        }
        self.fill_to(limit, &mut out);
        out
    }

    /// The capture ended: declares every remaining hole, then the FIN if
    /// one was seen.
    pub fn finish(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        let last_pending = self.pending.iter().next_back().map(|(k, v)| k + v.len() as u64);
        let limit = last_pending.into_iter().chain(self.fin_at).max().unwrap_or(self.delivered);
        self.fill_to(limit, &mut out);
        out
    }

    /// Declares holes before `limit` as gaps, delivering held data between.
    fn fill_to(&mut self, limit: u64, out: &mut Vec<Piece>) {
        while self.delivered < limit {
            let hole_end = self.pending.keys().next().map_or(limit, |k| (*k).min(limit));
            if hole_end > self.delivered {
                out.push(Piece::Gap(hole_end - self.delivered));
                self.advance(hole_end - self.delivered);
            }
            self.drain(out);
        }
        self.drain(out);
    }

    /// Delivers held data that starts at or before `delivered`.
    fn drain(&mut self, out: &mut Vec<Piece>) {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at > self.delivered {
                break;
            }
            let bytes = entry.remove();
            let skip = (self.delivered - at) as usize;
            if skip < bytes.len() {
                let fresh = bytes[skip..].to_vec();
                self.advance(fresh.len() as u64);
                out.push(Piece::Data(fresh));
            }
        }
        if self.fin_at == Some(self.delivered) && !self.fin_done {
            self.fin_done = true;
            out.push(Piece::Fin);
        }
    }

    fn advance(&mut self, len: u64) {
        self.delivered += len;
        if let Some(next) = self.next.as_mut() {
            *next = *next + len as u32;
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn data(p: &[Piece]) -> Vec<u8> {
        p.iter().flat_map(|p| if let Piece::Data(d) = p { d.clone() } else { vec![] }).collect()
    }

    #[test]
    fn in_order_across_wrap() {
        let mut r = Reassembler::default();
        r.syn(SeqNumber(u32::MAX - 2));
        let mut out = r.segment(SeqNumber(u32::MAX - 1), b"abcd", false);
        out.extend(r.segment(SeqNumber(2), b"ef", true));
        assert_eq!(out, vec![Piece::Data(b"abcd".to_vec()), Piece::Data(b"ef".to_vec()), Piece::Fin]);
    }

    #[test]
    fn retransmission_and_overlap_are_dropped() {
        let mut r = Reassembler::default();
        r.syn(SeqNumber(99));
        let mut out = r.segment(SeqNumber(100), b"hello", false);
        out.extend(r.segment(SeqNumber(100), b"hello", false));
        out.extend(r.segment(SeqNumber(103), b"lo world", false));
        assert_eq!(data(&out), b"hello world");
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn out_of_order_is_held_then_delivered() {
        let mut r = Reassembler::default();
        r.syn(SeqNumber(0));
        assert!(r.segment(SeqNumber(4), b"def", false).is_empty());
        let out = r.segment(SeqNumber(1), b"abc", false);
        assert_eq!(out, vec![Piece::Data(b"abc".to_vec()), Piece::Data(b"def".to_vec())]);
    }

    #[test]
    fn hole_becomes_gap_on_ack_and_delivery_continues() {
        let mut r = Reassembler::default();
        r.syn(SeqNumber(0));
        r.segment(SeqNumber(1), b"ab", false);
        assert!(r.segment(SeqNumber(6), b"fg", false).is_empty());
        let out = r.acked(SeqNumber(8));
        assert_eq!(out, vec![Piece::Gap(3), Piece::Data(b"fg".to_vec())]);
        assert_eq!(r.offset(), 7);
    }

    #[test]
    fn finish_declares_trailing_holes_and_fin() {
        let mut r = Reassembler::default();
        r.syn(SeqNumber(0));
        r.segment(SeqNumber(3), b"cd", true);
        assert_eq!(r.finish(), vec![Piece::Gap(2), Piece::Data(b"cd".to_vec()), Piece::Fin]);
    }
}

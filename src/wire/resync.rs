//! Finding frame boundaries in a stream joined part-way (a capture that
//! starts after the handshake, or resumes after lost bytes).
//!
//! Any two bytes parse as *a* header, so one header proves nothing. An
//! offset is taken as a boundary when [`CONFIRM_FRAMES`] consecutive frames
//! from it are each plausible (known opcode, only negotiated RSV bits, the
//! mask bit right for the sender, minimal length, control frames final and
//! short) and consistent with each other (no data frame inside a fragmented
//! message, no continuation outside one). At the end of the stream fewer
//! frames are accepted if they run exactly to the end (or the last is cut).
//!
//! The search is pure and bounded: a run that would need more than
//! [`MAX_RESYNC`] bytes to confirm is rejected rather than waited for.

use super::{Direction, FrameHeader, OpCode};

/// Consecutive plausible frames that confirm a boundary.
pub const CONFIRM_FRAMES: usize = 3;

/// Most bytes a candidate run may span before it must be confirmed.
pub const MAX_RESYNC: usize = 4 * 1024 * 1024;

/// The outcome of a boundary search over buffered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Frames start at this offset.
    Found(usize),
    /// No boundary yet; bytes before this offset can never be one.
    Wait(usize),
    /// The stream has ended and no offset starts plausible frames.
    NotFound,
}

enum Probe {
    Confirmed,
    NeedMore,
    Invalid,
}

/// Looks for the first frame boundary in `buf`, frames sent in `sender`'s
/// direction with `allowed_rsv` bits. `at_end`: no more bytes will come.
pub fn find_boundary(buf: &[u8], sender: Direction, allowed_rsv: u8, at_end: bool) -> Search {
    for off in 0..buf.len() {
        match probe(&buf[off..], sender, allowed_rsv, at_end) {
            Probe::Confirmed => return Search::Found(off),
            Probe::NeedMore => return Search::Wait(off),
            Probe::Invalid => {}
        }
    }
    if at_end { Search::NotFound } else { Search::Wait(buf.len()) }
}

/// Judges the run of frames starting at `buf[0]`.
fn probe(buf: &[u8], sender: Direction, allowed_rsv: u8, at_end: bool) -> Probe {
    let (mut pos, mut frames) = (0usize, 0usize);
    let mut in_message: Option<bool> = None;
    loop {
        let Some((header, size)) = FrameHeader::parse(&buf[pos..]) else {
            return if !at_end {
                Probe::NeedMore
            } else if frames > 0 {
                Probe::Confirmed
            } else {
                Probe::Invalid
            };
        };
        if !plausible(&header, sender, allowed_rsv) || !follows(&header, &mut in_message) {
            return Probe::Invalid;
        }
        let end = (pos + size).saturating_add(usize::try_from(header.len).unwrap_or(usize::MAX));
        if end > buf.len() {
            return match (at_end, end > MAX_RESYNC) {
                (true, _) => Probe::Confirmed,
                (false, true) => Probe::Invalid,
                (false, false) => Probe::NeedMore,
            };
        }
        frames += 1;
        pos = end;
        if frames >= CONFIRM_FRAMES || (at_end && pos == buf.len()) {
            return Probe::Confirmed;
        }
    }
}

fn plausible(h: &FrameHeader, sender: Direction, allowed_rsv: u8) -> bool {
    let known = matches!(h.opcode.value(), 0..=2 | 8..=10);
    let control_ok = !h.opcode.is_control() || (h.fin && h.len <= super::MAX_CONTROL_PAYLOAD);
    let mask_ok = h.mask.is_some() == (sender == Direction::ClientToServer);
    known && control_ok && mask_ok && h.rsv & !allowed_rsv == 0 && h.is_minimal()
}

/// Fragmentation order: `in_message` is `None` until the first data frame.
fn follows(h: &FrameHeader, in_message: &mut Option<bool>) -> bool {
    if h.opcode.is_control() {
        return true;
    }
    let continuing = h.opcode == OpCode::CONTINUATION;
    if in_message.is_some_and(|inside| inside != continuing) {
        return false;
    }
    *in_message = Some(!h.fin);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;

    fn frame(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let header = FrameHeader { fin, mask, ..FrameHeader::new(OpCode::new(opcode), payload.len() as u64) };
        header.encode_frame(payload)
    }

    #[test]
    fn finds_frames_after_junk() {
        let frames = [frame(1, true, b"hello", None), frame(2, true, &[1; 200], None), frame(9, true, b"", None)];
        let mut buf = b"\xff\xfe tail of a lost frame".to_vec();
        let junk = buf.len();
        buf.extend(frames.concat());
        assert_eq!(find_boundary(&buf, S2C, 0, false), Search::Found(junk));
    }

    #[test]
    fn client_frames_need_masks_and_fragments_need_order() {
        let m = Some([1, 2, 3, 4]);
        let ok = [frame(1, false, b"a", m), frame(0, true, b"b", m), frame(10, true, b"", m)].concat();
        assert_eq!(find_boundary(&ok, C2S, 0, false), Search::Found(0));
        let unmasked = [frame(1, true, b"a", None), frame(1, true, b"b", None), frame(1, true, b"c", None)].concat();
        assert_eq!(find_boundary(&unmasked, C2S, 0, true), Search::NotFound);
        let disorder = [frame(1, false, b"a", None), frame(1, true, b"b", None)].concat();
        assert_ne!(find_boundary(&disorder, S2C, 0, true), Search::Found(0));
    }

    #[test]
    fn waits_for_more_and_accepts_short_runs_at_the_end() {
        let one = frame(2, true, &[7; 300], None);
        assert_eq!(find_boundary(&one[..100], S2C, 0, false), Search::Wait(0));
        assert_eq!(find_boundary(&one, S2C, 0, true), Search::Found(0));
        assert_eq!(find_boundary(&one[..100], S2C, 0, true), Search::Found(0));
    }
}

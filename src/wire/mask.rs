//! Payload masking (RFC 6455 §5.3).
//!
//! Masking is an XOR with a 4-byte key that continues across calls, so the
//! functions take the position within the payload (`phase`) of the first byte.

/// XORs `data` in place with `key`, starting at payload position `phase`.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], phase: usize) {
    let (rotated, word) = mask_word(key, phase);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes(chunk.try_into().expect("8-byte chunk")) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[i % 4];
    }
}

/// Writes `src` with the mask applied into `dst`, which is as long.
///
/// One pass that reads each byte once and writes it once: copying first
/// and masking in place read the payload twice (a profile of the recorder
/// at 1 MiB messages put that copy at a fifth of its instructions).
pub fn unmask_to(dst: &mut [u8], src: &[u8], key: [u8; 4], phase: usize) {
    assert_eq!(dst.len(), src.len(), "unmask_to: buffers of different lengths");
    let (rotated, word) = mask_word(key, phase);
    let mut out = dst.chunks_exact_mut(8);
    let mut from = src.chunks_exact(8);
    for (o, s) in (&mut out).zip(&mut from) {
        let value = u64::from_ne_bytes(s.try_into().expect("8-byte chunk")) ^ word;
        o.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, (o, s)) in out.into_remainder().iter_mut().zip(from.remainder()).enumerate() {
        *o = s ^ rotated[i % 4];
    }
}

/// Masks a client's outgoing byte stream frame by frame, for a fuzzer
/// playing the client side from a scenario written with unmasked frames.
///
/// Each frame header whose MASK bit is clear gets the bit and a key from
/// the caller (the rest of the header is kept bit for bit: opcode, RSV,
/// length form), and its payload is masked as it passes, however the
/// stream is cut into writes. A header that already carries a key (the
/// scenario asked for that key) passes unchanged, with its payload. A
/// header cut across writes is held until it is complete, then written
/// whole with its key, as autobahn-python's `beginMessageFrame` writes it.
#[derive(Debug, Default)]
pub struct OutboundMasker {
    header: Vec<u8>,
    /// Inside a payload: the key to apply (none if it was masked already),
    /// the bytes left and the position within the payload.
    payload: Option<(Option<[u8; 4]>, u64, usize)>,
}

impl OutboundMasker {
    /// A masker at a frame boundary.
    pub fn new() -> OutboundMasker {
        OutboundMasker::default()
    }

    /// Masks `bytes`; returns what to write instead and the first key it
    /// inserted, if any. `key` is asked once per frame that needs one.
    pub fn push(&mut self, bytes: &[u8], key: &mut dyn FnMut() -> [u8; 4]) -> (Vec<u8>, Option<[u8; 4]>) {
        let (mut out, mut first, mut rest) = (Vec::with_capacity(bytes.len() + 4), None, bytes);
        while !rest.is_empty() {
            match self.payload.as_mut() {
                Some((mask, left, phase)) => {
                    let n = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    let start = out.len();
                    out.extend_from_slice(&rest[..n]);
                    if let Some(k) = mask {
                        apply_mask(&mut out[start..], *k, *phase);
                    }
                    (*left, *phase, rest) = (*left - n as u64, *phase + n, &rest[n..]);
                    if *left == 0 {
                        self.payload = None;
                    }
                }
                None => {
                    self.header.push(rest[0]);
                    rest = &rest[1..];
                    let Some((mut header, _)) = super::FrameHeader::parse(&self.header) else { continue };
                    self.header.clear();
                    let mask = match header.mask {
                        Some(_) => None,
                        None => {
                            let k = key();
                            first.get_or_insert(k);
                            header.mask = Some(k);
                            Some(k)
                        }
                    };
                    header.emit(&mut out);
                    if header.len > 0 {
                        self.payload = Some((mask, header.len, 0));
                    }
                }
            }
        }
        (out, first)
    }
}

fn rotate(key: [u8; 4], phase: usize) -> [u8; 4] {
    let s = phase % 4;
    [key[s], key[(s + 1) % 4], key[(s + 2) % 4], key[(s + 3) % 4]]
}

/// The key rotated to `phase`, and twice over as a word for 8 bytes at a time.
fn mask_word(key: [u8; 4], phase: usize) -> ([u8; 4], u64) {
    let r = rotate(key, phase);
    (r, u64::from_ne_bytes([r[0], r[1], r[2], r[3], r[0], r[1], r[2], r[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(data: &[u8], key: [u8; 4], phase: usize) -> Vec<u8> {
        data.iter().enumerate().map(|(i, b)| b ^ key[(i + phase) % 4]).collect()
    }

    #[test]
    fn matches_naive_for_every_phase_and_length() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..67u8).collect();
        for phase in 0..8 {
            for len in 0..data.len() {
                let mut got = data[..len].to_vec();
                apply_mask(&mut got, key, phase);
                assert_eq!(got, naive(&data[..len], key, phase), "phase {phase} len {len}");
            }
        }
    }

    #[test]
    fn the_outbound_masker_masks_unmasked_frames_however_they_are_cut() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut keys = || key;
        // RFC 6455 §5.7: "Hello" unmasked, then masked with 37fa213d.
        let (out, first) = OutboundMasker::new().push(b"\x81\x05Hello", &mut keys);
        assert_eq!((out.as_slice(), first), (&b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"[..], Some(key)));
        // The same frame one byte at a time: the header waits until whole.
        let mut masker = OutboundMasker::new();
        let pieces: Vec<Vec<u8>> = b"\x81\x05Hello".iter().map(|b| masker.push(&[*b], &mut keys).0).collect();
        assert_eq!(pieces.iter().map(Vec::len).collect::<Vec<_>>(), [0, 6, 1, 1, 1, 1, 1]);
        assert_eq!(pieces.concat(), out);
        // An empty frame, then a frame already masked with another key (kept), then a 16-bit length.
        let mut masker = OutboundMasker::new();
        let (out, _) = masker.push(b"\x89\x00\x82\x81\x01\x02\x03\x04\xaa", &mut keys);
        assert_eq!(out, b"\x89\x80\x37\xfa\x21\x3d\x82\x81\x01\x02\x03\x04\xaa");
        let long = [&b"\x02\x7e\x00\x7e"[..], &[0u8; 126]].concat();
        let (out, _) = masker.push(&long, &mut keys);
        assert_eq!((&out[..8], out.len()), (&b"\x02\xfe\x00\x7e\x37\xfa\x21\x3d"[..], 4 + 4 + 126));
        assert_eq!(&out[8..12], &key, "zeros masked are the key");
    }

    #[test]
    fn unmask_to_matches_masking_in_place_at_every_length_and_phase() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let src: Vec<u8> = (0..67u8).map(|i| i.wrapping_mul(151)).collect();
        for len in 0..src.len() {
            for phase in 0..8 {
                let mut want = src[..len].to_vec();
                apply_mask(&mut want, key, phase);
                let mut got = vec![0xee; len];
                unmask_to(&mut got, &src[..len], key, phase);
                assert_eq!(got, want, "len {len}, phase {phase}");
                // Masking is its own inverse.
                let mut back = vec![0; len];
                unmask_to(&mut back, &got, key, phase);
                assert_eq!(back, &src[..len], "len {len}, phase {phase}");
            }
        }
    }

    #[test]
    fn rfc6455_hello_example() {
        // RFC 6455 §5.7: masked "Hello" with key 37 fa 21 3d.
        let mut out = [0; 5];
        unmask_to(&mut out, &[0x7f, 0x9f, 0x4d, 0x51, 0x58], [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&out, b"Hello");
    }
}

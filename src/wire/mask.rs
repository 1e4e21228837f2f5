//! Payload masking (RFC 6455 §5.3).
//!
//! Masking is an XOR with a 4-byte key that continues across calls, so the
//! functions take the position within the payload (`phase`) of the first byte.

/// XORs `data` in place with `key`, starting at payload position `phase`.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], phase: usize) {
    let rotated = rotate(key, phase);
    let word = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2], rotated[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes(chunk.try_into().expect("8-byte chunk")) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[i % 4];
    }
}

/// Copies `src` into `dst` (cleared first) with the mask applied.
pub fn unmask_into(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], phase: usize) {
    dst.clear();
    dst.extend_from_slice(src);
    apply_mask(dst, key, phase);
}

fn rotate(key: [u8; 4], phase: usize) -> [u8; 4] {
    let s = phase % 4;
    [key[s], key[(s + 1) % 4], key[(s + 2) % 4], key[(s + 3) % 4]]
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
    fn rfc6455_hello_example() {
        // RFC 6455 §5.7: masked "Hello" with key 37 fa 21 3d.
        let mut out = Vec::new();
        unmask_into(&mut out, &[0x7f, 0x9f, 0x4d, 0x51, 0x58], [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(out, b"Hello");
    }
}

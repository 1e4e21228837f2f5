//! The frame header (RFC 6455 §5.2): parse any header, emit any header.
//!
//! Every byte sequence of sufficient length is *a* header; validity is a
//! separate question answered by the decoder as violations. So
//! [`FrameHeader::parse`] has only two outcomes: not enough bytes yet
//! (`None`, nothing consumed), or a header and its encoded length.
//!
//! The header keeps the length *encoding* that was on the wire, so a
//! non-minimal encoding (say, 5 in the 64-bit form) survives a round trip
//! through a recording and can be replayed byte for byte.

use super::OpCode;

/// Largest possible header: 2 fixed bytes, 8 length bytes, 4 mask bytes.
pub const MAX_HEADER_LEN: usize = 14;

/// Largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// Which of the three length forms a header used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LenForm {
    /// Length in the 7-bit field (0–125).
    Bits7,
    /// Field value 126, then a 16-bit length.
    Bits16,
    /// Field value 127, then a 64-bit length.
    Bits64,
}

impl LenForm {
    /// The smallest form that can hold `len`.
    pub fn minimal(len: u64) -> LenForm {
        match len {
            0..=125 => LenForm::Bits7,
            126..=0xffff => LenForm::Bits16,
            _ => LenForm::Bits64,
        }
    }

    /// Extra length bytes after the two fixed header bytes.
    pub fn extra_bytes(self) -> usize {
        match self {
            LenForm::Bits7 => 0,
            LenForm::Bits16 => 2,
            LenForm::Bits64 => 8,
        }
    }

    /// The width as a number: 7, 16 or 64.
    pub fn bits(self) -> u8 {
        match self {
            LenForm::Bits7 => 7,
            LenForm::Bits16 => 16,
            LenForm::Bits64 => 64,
        }
    }

    /// The inverse of [`LenForm::bits`].
    pub fn from_bits(bits: u8) -> Option<LenForm> {
        match bits {
            7 => Some(LenForm::Bits7),
            16 => Some(LenForm::Bits16),
            64 => Some(LenForm::Bits64),
            _ => None,
        }
    }

    fn holds(self, len: u64) -> bool {
        match self {
            LenForm::Bits7 => len <= 125,
            LenForm::Bits16 => len <= 0xffff,
            LenForm::Bits64 => true,
        }
    }
}

/// A decoded frame header, valid or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// The FIN bit.
    pub fin: bool,
    /// RSV1–RSV3 as a 3-bit number (RSV1 = 4).
    pub rsv: u8,
    /// The opcode, reserved values included.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit was set.
    pub mask: Option<[u8; 4]>,
    /// The declared payload length.
    pub len: u64,
    /// How the length was encoded.
    pub len_form: LenForm,
}

impl FrameHeader {
    /// A header with the minimal length form, no mask, FIN set and RSV 0.
    pub fn new(opcode: OpCode, len: u64) -> FrameHeader {
        FrameHeader { fin: true, rsv: 0, opcode, mask: None, len, len_form: LenForm::minimal(len) }
    }

    /// Parses a header from the start of `buf`. Returns `None` and consumes
    /// nothing when `buf` is too short; otherwise the header and its size.
    pub fn parse(buf: &[u8]) -> Option<(FrameHeader, usize)> {
        let (&b0, &b1) = (buf.first()?, buf.get(1)?);
        let masked = b1 & 0x80 != 0;
        let (len_form, len_field) = match b1 & 0x7f {
            126 => (LenForm::Bits16, None),
            127 => (LenForm::Bits64, None),
            short => (LenForm::Bits7, Some(u64::from(short))),
        };
        let extra = len_form.extra_bytes();
        let size = 2 + extra + if masked { 4 } else { 0 };
        if buf.len() < size {
            return None;
        }
        let len = len_field.unwrap_or_else(|| buf[2..2 + extra].iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)));
        let mask = masked.then(|| {
            let at = 2 + extra;
            [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]
        });
        let header =
            FrameHeader { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x07, opcode: OpCode::new(b0), mask, len, len_form };
        Some((header, size))
    }

    /// Size of the encoded header in bytes.
    pub fn encoded_len(&self) -> usize {
        2 + self.effective_form().extra_bytes() + if self.mask.is_some() { 4 } else { 0 }
    }

    /// True if the length used the smallest possible form.
    pub fn is_minimal(&self) -> bool {
        self.len_form == LenForm::minimal(self.len)
    }

    /// Appends the encoded header to `out`. Any header can be written,
    /// including invalid ones (reserved opcodes, RSV bits, non-minimal
    /// lengths, a 64-bit length with its top bit set). If `len` does not fit
    /// `len_form`, the smallest form that holds it is used instead.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.value();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let form = self.effective_form();
        match form {
            LenForm::Bits7 => out.extend_from_slice(&[b0, mask_bit | self.len as u8]),
            LenForm::Bits16 => {
                out.extend_from_slice(&[b0, mask_bit | 126]);
                out.extend_from_slice(&(self.len as u16).to_be_bytes());
            }
            LenForm::Bits64 => {
                out.extend_from_slice(&[b0, mask_bit | 127]);
                out.extend_from_slice(&self.len.to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
    }

    /// Encodes header plus payload (given unmasked; masked here if the header
    /// has a key). `payload.len()` need not equal `len`: a lying header is
    /// written as asked.
    pub fn encode_frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len() + payload.len());
        self.emit(&mut out);
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = self.mask {
            super::apply_mask(&mut out[start..], key, 0);
        }
        out
    }

    fn effective_form(&self) -> LenForm {
        if self.len_form.holds(self.len) { self.len_form } else { LenForm::minimal(self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_examples_parse_and_emit() {
        // RFC 6455 §5.7 examples.
        let cases: [(&[u8], FrameHeader); 3] = [
            (&[0x81, 0x05], FrameHeader::new(OpCode::TEXT, 5)),
            (
                &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                FrameHeader { mask: Some([0x37, 0xfa, 0x21, 0x3d]), ..FrameHeader::new(OpCode::TEXT, 5) },
            ),
            (&[0x82, 0x7e, 0x01, 0x00], FrameHeader::new(OpCode::BINARY, 256)),
        ];
        for (bytes, expect) in cases {
            assert_eq!(FrameHeader::parse(bytes), Some((expect, bytes.len())));
            let mut out = Vec::new();
            expect.emit(&mut out);
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn short_input_consumes_nothing() {
        let full = [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for n in 0..full.len() {
            assert_eq!(FrameHeader::parse(&full[..n]), None, "prefix {n}");
        }
        let (h, n) = FrameHeader::parse(&full).unwrap();
        assert_eq!((h.len, n, h.len_form, h.mask), (65536, 14, LenForm::Bits64, Some([1, 2, 3, 4])));
    }

    #[test]
    fn non_minimal_and_huge_lengths_round_trip() {
        let odd = FrameHeader { len_form: LenForm::Bits64, ..FrameHeader::new(OpCode::new(3), 5) };
        assert!(!odd.is_minimal());
        let mut out = Vec::new();
        odd.emit(&mut out);
        assert_eq!(FrameHeader::parse(&out), Some((odd, 10)));

        let huge = FrameHeader { rsv: 7, fin: false, ..FrameHeader::new(OpCode::new(15), u64::MAX) };
        out.clear();
        huge.emit(&mut out);
        assert_eq!(out[..2], [0x7f, 0x7f]);
        assert_eq!(FrameHeader::parse(&out), Some((huge, 10)));
    }

    #[test]
    fn a_length_that_does_not_fit_its_form_is_widened() {
        let h = FrameHeader { len_form: LenForm::Bits7, ..FrameHeader::new(OpCode::TEXT, 300) };
        assert_eq!(h.encoded_len(), 4);
        assert_eq!(FrameHeader::parse(&h.encode_frame(&[0; 300])).unwrap().0.len, 300);
    }
}

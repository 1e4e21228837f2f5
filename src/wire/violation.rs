//! Protocol violations: what the decoder noticed, never why it stopped.
//!
//! The recorder must stay lenient, so breaking RFC 6455 is *data*: each
//! violation carries the byte offset in its direction's stream where the
//! offending frame (or byte) begins, and decoding carries on.

use std::fmt;

/// One rule of RFC 6455 (or the upgrade handshake) that a peer broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// A client frame without the MASK bit (§5.1).
    UnmaskedClientFrame,
    /// A server frame with the MASK bit (§5.1).
    MaskedServerFrame,
    /// RSV bits set that no negotiated extension defines (§5.2).
    ReservedBits(u8),
    /// An opcode RFC 6455 reserves (§5.2).
    ReservedOpcode(u8),
    /// A control frame with FIN clear (§5.5).
    FragmentedControlFrame,
    /// A control frame with a payload over 125 bytes (§5.5).
    ControlFrameTooLong(u64),
    /// A length written in a longer form than needed (§5.2).
    NonMinimalLength {
        /// The declared length.
        len: u64,
        /// The form used: 16 or 64 bits.
        bits: u8,
    },
    /// A 64-bit length with its most significant bit set (§5.2).
    LengthTopBitSet,
    /// A continuation frame with no message in progress (§5.4).
    UnexpectedContinuation,
    /// A new text/binary frame while a fragmented message is unfinished (§5.4).
    ExpectedContinuation(u8),
    /// RSV1 (compression) on a continuation or control frame (RFC 7692 §6).
    CompressedBitOnWrongFrame,
    /// A close payload of exactly one byte (§5.5.1).
    CloseOneByte,
    /// A close code outside the allowed ranges (§7.4).
    InvalidCloseCode(u16),
    /// A close reason that is not UTF-8 (§5.5.1).
    InvalidCloseReason,
    /// A text message that is not UTF-8 (§8.1).
    InvalidUtf8Text,
    /// A frame sent after this side's close frame (§5.5.1).
    FrameAfterClose,
    /// The server's Sec-WebSocket-Accept does not match the client's key (§4.1).
    BadAcceptKey,
    /// A compressed message that does not inflate (RFC 7692 §7.2.2).
    InflateFailed(String),
    /// A compressed message inflated past the recorder's cap.
    InflateCapHit(u64),
}

impl ViolationKind {
    /// A stable snake_case name, used as the `kind` field in recordings.
    pub fn name(&self) -> &'static str {
        use ViolationKind::*;
        match self {
            UnmaskedClientFrame => "unmasked_client_frame",
            MaskedServerFrame => "masked_server_frame",
            ReservedBits(_) => "reserved_bits",
            ReservedOpcode(_) => "reserved_opcode",
            FragmentedControlFrame => "fragmented_control_frame",
            ControlFrameTooLong(_) => "control_frame_too_long",
            NonMinimalLength { .. } => "non_minimal_length",
            LengthTopBitSet => "length_top_bit_set",
            UnexpectedContinuation => "unexpected_continuation",
            ExpectedContinuation(_) => "expected_continuation",
            CompressedBitOnWrongFrame => "compressed_bit_on_wrong_frame",
            CloseOneByte => "close_one_byte",
            InvalidCloseCode(_) => "invalid_close_code",
            InvalidCloseReason => "invalid_close_reason",
            InvalidUtf8Text => "invalid_utf8_text",
            FrameAfterClose => "frame_after_close",
            BadAcceptKey => "bad_accept_key",
            InflateFailed(_) => "inflate_failed",
            InflateCapHit(_) => "inflate_cap_hit",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ViolationKind::*;
        match self {
            UnmaskedClientFrame => write!(f, "client frame is not masked"),
            MaskedServerFrame => write!(f, "server frame is masked"),
            ReservedBits(rsv) => write!(f, "RSV bits {rsv:03b} set without an extension that defines them"),
            ReservedOpcode(op) => write!(f, "reserved opcode {op}"),
            FragmentedControlFrame => write!(f, "control frame has FIN clear"),
            ControlFrameTooLong(len) => write!(f, "control frame payload is {len} bytes (at most 125)"),
            NonMinimalLength { len, bits } => write!(f, "length {len} written in the {bits}-bit form"),
            LengthTopBitSet => write!(f, "64-bit length has its most significant bit set"),
            UnexpectedContinuation => write!(f, "continuation frame with no message in progress"),
            ExpectedContinuation(op) => write!(f, "opcode {op} frame inside an unfinished fragmented message"),
            CompressedBitOnWrongFrame => write!(f, "RSV1 set on a continuation or control frame"),
            CloseOneByte => write!(f, "close payload of one byte"),
            InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            InvalidCloseReason => write!(f, "close reason is not valid UTF-8"),
            InvalidUtf8Text => write!(f, "text message is not valid UTF-8"),
            FrameAfterClose => write!(f, "frame sent after this side's close frame"),
            BadAcceptKey => write!(f, "Sec-WebSocket-Accept does not match Sec-WebSocket-Key"),
            InflateFailed(why) => write!(f, "compressed message does not inflate: {why}"),
            InflateCapHit(cap) => write!(f, "inflated message exceeds the {cap}-byte cap; rest not inflated"),
        }
    }
}

/// A violation and where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Byte offset in this direction's stream of the offending frame or byte.
    pub offset: u64,
    /// What rule was broken.
    pub kind: ViolationKind,
}

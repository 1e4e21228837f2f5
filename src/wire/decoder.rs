//! The frame decoder for one direction of an upgraded connection.
//!
//! Contract:
//! - [`FrameDecoder::push`] accepts bytes in any chunking and reports
//!   [`Event`]s through a callback. Feeding the same bytes split differently
//!   yields the same events, except that [`Event::Payload`] pieces follow the
//!   input's chunking (concatenate them to compare).
//! - Payload is handed out in pieces as it arrives, already unmasked. A
//!   declared length is never allocated: a header claiming 2^63 bytes costs
//!   the 14 bytes of header buffer and nothing else. Only control-frame
//!   payloads (at most [`MAX_CONTROL_PAYLOAD`] bytes kept) are buffered, to
//!   parse close codes.
//! - Nothing is ever an error. Broken rules become [`Event::Violation`]s and
//!   decoding carries on with the next frame boundary the header declared.

use super::{
    ClosePayload, CloseProblem, CodePolicy, Direction, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode,
    Utf8Validator, Violation, ViolationKind, unmask_to,
};

/// What the decoder saw, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// An HTTP head (upgrade request or response), byte-exact.
    Head {
        /// Offset of its first byte.
        offset: u64,
        /// The head including the blank line.
        bytes: &'a [u8],
    },
    /// The server's answer decided the connection: upgraded or not.
    Upgrade {
        /// True if both heads agreed on WebSocket.
        upgraded: bool,
        /// What was negotiated (empty if not upgraded).
        negotiated: &'a super::Negotiated,
    },
    /// A frame header was decoded.
    FrameStart {
        /// Offset of the header's first byte.
        offset: u64,
        /// The header as sent.
        header: FrameHeader,
    },
    /// A piece of the current frame's payload, unmasked.
    Payload(&'a [u8]),
    /// The current frame is complete, or the stream ended inside it (`cut`).
    FrameEnd {
        /// Offset of the frame's header.
        offset: u64,
        /// The header as sent.
        header: FrameHeader,
        /// Code and reason, for close frames.
        close: Option<ClosePayload>,
        /// True if the stream ended before the declared length arrived.
        cut: bool,
    },
    /// The final frame of a text or binary message was decoded.
    MessageEnd {
        /// Offset of the message's first frame.
        offset: u64,
        /// TEXT or BINARY.
        opcode: OpCode,
        /// Total payload bytes over all fragments (compressed size if compressed).
        len: u64,
        /// Number of frames, the first included.
        frames: u32,
        /// RSV1 on the first frame under permessage-deflate.
        compressed: bool,
    },
    /// A rule was broken.
    Violation(Violation),
    /// Bytes that are not decoded as WebSocket, and why.
    Raw {
        /// Offset of the first byte.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
        /// Why they are raw.
        reason: &'a str,
    },
}

#[derive(Debug)]
struct Current {
    header: FrameHeader,
    offset: u64,
    payload_offset: u64,
    received: u64,
    control: Vec<u8>,
    /// Message bytes before this frame, to place UTF-8 errors.
    message_base: u64,
    /// A UTF-8 error found in this frame, reported at its end so that
    /// event order does not depend on chunking.
    bad_utf8: Option<u64>,
}

#[derive(Debug)]
struct Message {
    opcode: OpCode,
    offset: u64,
    len: u64,
    frames: u32,
    compressed: bool,
    utf8: Utf8Validator,
}

/// Decodes frames sent by one side.
#[derive(Debug)]
pub struct FrameDecoder {
    sender: Direction,
    allowed_rsv: u8,
    offset: u64,
    header_buf: [u8; MAX_HEADER_LEN],
    header_len: usize,
    current: Option<Current>,
    message: Option<Message>,
    closed: bool,
    scratch: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder for frames sent in direction `sender`, whose first byte is at
    /// stream offset `offset`. `allowed_rsv` are the RSV bits extensions own.
    pub fn new(sender: Direction, offset: u64, allowed_rsv: u8) -> FrameDecoder {
        FrameDecoder {
            sender,
            allowed_rsv,
            offset,
            header_buf: [0; MAX_HEADER_LEN],
            header_len: 0,
            current: None,
            message: None,
            closed: false,
            scratch: Vec::new(),
        }
    }

    /// Stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Decodes `data`, reporting events to `sink`.
    pub fn push<F: FnMut(Event<'_>)>(&mut self, mut data: &[u8], sink: &mut F) {
        while !data.is_empty() {
            let used =
                if self.current.is_some() { self.take_payload(data, sink) } else { self.take_header(data, sink) };
            data = &data[used..];
        }
    }

    /// The stream ended: reports a frame or header that was cut short.
    pub fn finish<F: FnMut(Event<'_>)>(&mut self, sink: &mut F) {
        if self.header_len > 0 {
            let offset = self.offset - self.header_len as u64;
            let reason = "stream ended inside a frame header";
            sink(Event::Raw { offset, bytes: &self.header_buf[..self.header_len], reason });
            self.header_len = 0;
        }
        if let Some(cur) = self.current.take() {
            if let Some(at) = cur.bad_utf8 {
                sink(Event::Violation(Violation { offset: at, kind: ViolationKind::InvalidUtf8Text }));
            }
            sink(Event::FrameEnd { offset: cur.offset, header: cur.header, close: None, cut: true });
        }
    }

    fn take_header<F: FnMut(Event<'_>)>(&mut self, data: &[u8], sink: &mut F) -> usize {
        let have = self.header_len;
        let add = (MAX_HEADER_LEN - have).min(data.len());
        self.header_buf[have..have + add].copy_from_slice(&data[..add]);
        match FrameHeader::parse(&self.header_buf[..have + add]) {
            None => {
                self.header_len += add;
                self.offset += add as u64;
                add
            }
            Some((header, size)) => {
                let used = size - have;
                let offset = self.offset - have as u64;
                self.header_len = 0;
                self.offset += used as u64;
                self.start_frame(header, offset, sink);
                used
            }
        }
    }

    fn start_frame<F: FnMut(Event<'_>)>(&mut self, header: FrameHeader, offset: u64, sink: &mut F) {
        for kind in self.header_violations(&header) {
            sink(Event::Violation(Violation { offset, kind }));
        }
        self.track_message_start(&header, offset);
        sink(Event::FrameStart { offset, header });
        if header.opcode == OpCode::CLOSE {
            self.closed = true;
        }
        let message_base = self.message.as_ref().map_or(0, |m| m.len);
        self.current = Some(Current {
            header,
            offset,
            payload_offset: self.offset,
            received: 0,
            control: Vec::new(),
            message_base,
            bad_utf8: None,
        });
        if header.len == 0 {
            self.end_frame(sink);
        }
    }

    fn header_violations(&self, h: &FrameHeader) -> Vec<ViolationKind> {
        use ViolationKind::*;
        let mut found = Vec::new();
        match (self.sender, h.mask.is_some()) {
            (Direction::ClientToServer, false) => found.push(UnmaskedClientFrame),
            (Direction::ServerToClient, true) => found.push(MaskedServerFrame),
            _ => {}
        }
        if self.closed {
            found.push(FrameAfterClose);
        }
        let extra_rsv = h.rsv & !self.allowed_rsv;
        if extra_rsv != 0 {
            found.push(ReservedBits(h.rsv));
        } else if h.rsv & 0b100 != 0 && !h.opcode.starts_message() && self.allowed_rsv == 0b100 {
            found.push(CompressedBitOnWrongFrame);
        }
        if h.opcode.is_reserved() {
            found.push(ReservedOpcode(h.opcode.value()));
        }
        if h.len >> 63 != 0 {
            found.push(LengthTopBitSet);
        }
        if !h.is_minimal() {
            found.push(NonMinimalLength { len: h.len, bits: h.len_form.bits() });
        }
        if h.opcode.is_control() && !h.fin {
            found.push(FragmentedControlFrame);
        }
        if h.opcode.is_control() && h.len > MAX_CONTROL_PAYLOAD {
            found.push(ControlFrameTooLong(h.len));
        }
        match (h.opcode, &self.message) {
            (OpCode::CONTINUATION, None) => found.push(UnexpectedContinuation),
            (op, Some(_)) if op.starts_message() => found.push(ExpectedContinuation(op.value())),
            _ => {}
        }
        found
    }

    fn track_message_start(&mut self, h: &FrameHeader, offset: u64) {
        if h.opcode.starts_message() {
            self.message = Some(Message {
                opcode: h.opcode,
                offset,
                len: 0,
                frames: 0,
                compressed: h.rsv & 0b100 != 0 && self.allowed_rsv & 0b100 != 0,
                utf8: Utf8Validator::new(),
            });
        }
    }

    fn take_payload<F: FnMut(Event<'_>)>(&mut self, data: &[u8], sink: &mut F) -> usize {
        let cur = self.current.as_mut().expect("payload without a frame");
        let remaining = cur.header.len - cur.received;
        let n = remaining.min(data.len() as u64) as usize;
        let piece = match cur.header.mask {
            Some(key) => {
                // The scratch only grows (to the longest piece so far, at
                // most one read): no clearing or zeroing per piece.
                if self.scratch.len() < n {
                    self.scratch.resize(n, 0);
                }
                unmask_to(&mut self.scratch[..n], &data[..n], key, (cur.received % 4) as usize);
                &self.scratch[..n]
            }
            None => &data[..n],
        };
        if cur.header.opcode.is_control() {
            let keep = (MAX_CONTROL_PAYLOAD as usize).saturating_sub(cur.control.len()).min(n);
            cur.control.extend_from_slice(&piece[..keep]);
        } else if let Some(msg) = self.message.as_mut().filter(|m| m.opcode == OpCode::TEXT && !m.compressed)
            && let Err(at) = msg.utf8.feed(piece)
        {
            cur.bad_utf8 = Some(cur.payload_offset + at.saturating_sub(cur.message_base));
        }
        sink(Event::Payload(piece));
        cur.received += n as u64;
        self.offset += n as u64;
        if cur.received == cur.header.len {
            self.end_frame(sink);
        }
        n
    }

    fn end_frame<F: FnMut(Event<'_>)>(&mut self, sink: &mut F) {
        let cur = self.current.take().expect("end of a frame that never started");
        let (header, offset) = (cur.header, cur.offset);
        if let Some(at) = cur.bad_utf8 {
            sink(Event::Violation(Violation { offset: at, kind: ViolationKind::InvalidUtf8Text }));
        }
        let close = (header.opcode == OpCode::CLOSE).then(|| {
            self.check_close(&cur.control, cur.payload_offset, sink);
            ClosePayload::parse(&cur.control)
        });
        if !header.opcode.is_control() {
            self.account_data_frame(&header);
        }
        sink(Event::FrameEnd { offset, header, close, cut: false });
        if header.fin && !header.opcode.is_control() {
            self.end_message(sink);
        }
    }

    fn check_close<F: FnMut(Event<'_>)>(&self, payload: &[u8], at: u64, sink: &mut F) {
        let (offset, kind) = match ClosePayload::problem(payload, CodePolicy::Rfc) {
            None => return,
            Some(CloseProblem::OneByte) => (at, ViolationKind::CloseOneByte),
            Some(CloseProblem::InvalidCode(code)) => (at, ViolationKind::InvalidCloseCode(code)),
            Some(CloseProblem::InvalidUtf8(i)) => (at + i as u64, ViolationKind::InvalidCloseReason),
        };
        sink(Event::Violation(Violation { offset, kind }));
    }

    fn account_data_frame(&mut self, h: &FrameHeader) {
        if let Some(msg) = self.message.as_mut() {
            msg.len += h.len;
            msg.frames += 1;
        }
    }

    fn end_message<F: FnMut(Event<'_>)>(&mut self, sink: &mut F) {
        let Some(mut msg) = self.message.take() else { return };
        if msg.opcode == OpCode::TEXT && !msg.compressed && msg.utf8.finish().is_err() {
            // The message ended inside a code point: blame the last byte.
            let offset = self.offset.saturating_sub(1);
            sink(Event::Violation(Violation { offset, kind: ViolationKind::InvalidUtf8Text }));
        }
        sink(Event::MessageEnd {
            offset: msg.offset,
            opcode: msg.opcode,
            len: msg.len,
            frames: msg.frames,
            compressed: msg.compressed,
        });
    }
}

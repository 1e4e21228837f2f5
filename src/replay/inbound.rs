//! The peer's bytes, decoded into what the fuzzer reacts to: the client's
//! in the server role, the server's in the client role (where a masked
//! frame is the violation instead of an unmasked one).
//!
//! [`Inbound::push`] runs the wire decoder and returns [`Item`]s in stream
//! order: complete frames (for the `RF` wire-log entry and the frame
//! statistics), complete messages, and protocol violations. The engine turns
//! them into [`crate::judge::Occurrence`]s.
//!
//! Under permessage-deflate, compressed messages are inflated here, so the
//! judge compares application payloads (as Autobahn does). Data that does
//! not inflate is a protocol error (1002); inflated text that is not UTF-8
//! is invalid payload (1007).
//!
//! A one-byte close payload is a violation of the frame header, as in
//! Autobahn: it comes before the frame, so a fuzzer that is already
//! CLOSING drops TCP without logging the frame (no `RF`, nothing in
//! `rxFrameStats`). Other close-frame problems (invalid code, non-UTF-8
//! reason) are *not* reported here: the tracker checks close payloads
//! itself, under the chosen [`crate::wire::CodePolicy`], because Autobahn
//! handles them as part of the close (§2.5).
//!
//! Once the fuzzer has failed the connection (`failedByMe`: a violation
//! seen here, or [`Inbound::set_failed`] from the tracker), the payload of
//! data frames is no longer kept, as Autobahn keeps none after
//! `failConnection`: such a frame's `RF` shows only what arrived before the
//! failure. A frame whose payload is not UTF-8 fails the connection at the
//! read that holds the bad byte; earlier reads of that frame are kept.
//! Violations name what was broken in Autobahn's words (they become the
//! fuzzer's close reason).

use crate::judge::tracker::{INVALID_PAYLOAD, PROTOCOL_ERROR};
use crate::wire::{self, DeflateParams, Direction, FrameDecoder, FrameHeader, Inflater, OpCode, ViolationKind};

/// One thing decoded from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A complete frame with its unmasked payload.
    Frame {
        /// The header as sent.
        header: FrameHeader,
        /// The payload, unmasked.
        payload: Vec<u8>,
    },
    /// A complete text or binary message.
    Message {
        /// The whole payload.
        data: Vec<u8>,
        /// Binary (true) or text.
        binary: bool,
    },
    /// A broken rule the fuzzer fails the connection for.
    Violation {
        /// 1002 (protocol error) or 1007 (invalid payload).
        code: u16,
        /// Reason text for the fuzzer's close.
        reason: String,
        /// Found in a frame's payload (not UTF-8): the frame's end follows
        /// and is logged even if the fuzzer dropped TCP for it, as
        /// Autobahn finishes the frame it is decoding.
        in_payload: bool,
    },
}

/// Decoder state for the client-to-server direction.
pub struct Inbound {
    decoder: FrameDecoder,
    frame: Vec<u8>,
    message: Vec<u8>,
    inflater: Option<Inflater>,
    /// The fuzzer has failed the connection: data payloads are not kept.
    failed: bool,
    /// The current frame's pieces: (index in the frame, length kept before it).
    pieces: Vec<(u64, usize)>,
    /// Stream offset of the current frame's payload, and bytes of it seen.
    payload_at: u64,
    seen: u64,
    /// The current frame is a control frame (its payload is always kept).
    control: bool,
    /// A frame has started and not ended.
    in_frame: bool,
}

impl Default for Inbound {
    fn default() -> Self {
        Inbound::new()
    }
}

impl Inbound {
    /// A decoder for frames right after the upgrade (no extensions).
    pub fn new() -> Inbound {
        Inbound::with_deflate(None)
    }

    /// A decoder for a connection that negotiated `deflate`, if it did:
    /// RSV1 is allowed and compressed messages are inflated.
    pub fn with_deflate(deflate: Option<DeflateParams>) -> Inbound {
        Inbound::for_role(crate::judge::Role::Server, deflate)
    }

    /// [`Inbound::with_deflate`] for the fuzzer playing `role`: decodes the
    /// other side's direction.
    pub fn for_role(role: crate::judge::Role, deflate: Option<DeflateParams>) -> Inbound {
        let rsv = if deflate.is_some() { 0b100 } else { 0 };
        let theirs = if role.is_server() { Direction::ClientToServer } else { Direction::ServerToClient };
        Inbound {
            decoder: FrameDecoder::new(theirs, 0, rsv),
            frame: Vec::new(),
            message: Vec::new(),
            inflater: deflate.map(|p| p.inflater(theirs)),
            failed: false,
            pieces: Vec::new(),
            payload_at: 0,
            seen: 0,
            control: false,
            in_frame: false,
        }
    }

    /// The fuzzer failed the connection (the tracker's `failedByMe`): from
    /// now on data payloads are not kept.
    pub fn set_failed(&mut self) {
        self.failed = true;
    }

    /// Decodes `bytes`; returns what completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Item> {
        let mut items = Vec::new();
        let (frame, message, inflater) = (&mut self.frame, &mut self.message, &mut self.inflater);
        let (failed, pieces, control) = (&mut self.failed, &mut self.pieces, &mut self.control);
        let (payload_at, seen) = (&mut self.payload_at, &mut self.seen);
        let in_frame = &mut self.in_frame;
        self.decoder.push(bytes, &mut |event| match event {
            wire::Event::FrameStart { header, offset } => {
                frame.clear();
                pieces.clear();
                (*payload_at, *seen) = (offset + header.encoded_len() as u64, 0);
                *control = header.opcode.is_control();
                *in_frame = true;
                if header.opcode == OpCode::CLOSE && header.len == 1 {
                    *failed = true;
                    let reason = "received close control frame with payload len 1".into();
                    items.push(Item::Violation { code: PROTOCOL_ERROR, reason, in_payload: false });
                }
            }
            wire::Event::Payload(piece) => {
                pieces.push((*seen, frame.len()));
                *seen += piece.len() as u64;
                if !*failed || *control {
                    frame.extend_from_slice(piece);
                }
            }
            wire::Event::FrameEnd { header, cut: false, .. } => {
                *in_frame = false;
                if !header.opcode.is_control() {
                    message.extend_from_slice(frame);
                }
                items.push(Item::Frame { header, payload: std::mem::take(frame) });
            }
            wire::Event::MessageEnd { opcode, compressed, .. } => {
                let data = std::mem::take(message);
                let binary = opcode == OpCode::BINARY;
                match inflater.as_mut().filter(|_| compressed) {
                    Some(inflater) => items.extend(inflate(inflater, &data, binary)),
                    None => items.push(Item::Message { data, binary }),
                }
            }
            wire::Event::Violation(v) => {
                if v.kind == ViolationKind::InvalidUtf8Text && !*failed {
                    // Autobahn fails at the read holding the bad byte: keep the reads before it.
                    let at = v.offset.saturating_sub(*payload_at);
                    if let Some((_, kept)) = pieces.iter().rev().find(|(start, _)| *start <= at) {
                        frame.truncate(*kept);
                    }
                }
                let in_payload = *in_frame && v.kind == ViolationKind::InvalidUtf8Text;
                if let Some(item) = violation(&v.kind, in_payload) {
                    *failed = true;
                    items.push(item);
                }
            }
            _ => {}
        });
        items
    }
}

/// A compressed message, inflated: the message, or the violation it is.
fn inflate(inflater: &mut Inflater, compressed: &[u8], binary: bool) -> Option<Item> {
    match inflater.inflate_message(compressed) {
        Ok(data) if binary || std::str::from_utf8(&data).is_ok() => Some(Item::Message { data, binary }),
        Ok(_) => Some(Item::Violation {
            code: INVALID_PAYLOAD,
            reason: ViolationKind::InvalidUtf8Text.to_string(),
            in_payload: false,
        }),
        Err(stop) => Some(Item::Violation { code: PROTOCOL_ERROR, reason: stop.to_string(), in_payload: false }),
    }
}

/// The fuzzer's reaction to a violation, if it has one.
fn violation(kind: &ViolationKind, in_payload: bool) -> Option<Item> {
    use ViolationKind::*;
    let code = match kind {
        // Reported at the frame's start (one byte), or judged by the tracker as part of the close.
        CloseOneByte | InvalidCloseCode(_) | InvalidCloseReason => return None,
        // After the client's close the fuzzer has already dropped TCP.
        FrameAfterClose => return None,
        InvalidUtf8Text => INVALID_PAYLOAD,
        _ => PROTOCOL_ERROR,
    };
    Some(Item::Violation { code, reason: autobahn_reason(kind), in_payload })
}

/// Autobahn's reason for failing the connection over a broken header rule
/// (its close reason); wstap's own text for the rest.
fn autobahn_reason(kind: &ViolationKind) -> String {
    use ViolationKind::*;
    match kind {
        ReservedBits(rsv) => format!("RSV = {} and no extension negotiated", rsv),
        UnmaskedClientFrame => "unmasked client-to-server frame".into(),
        MaskedServerFrame => "masked server-to-client frame".into(),
        FragmentedControlFrame => "fragmented control frame".into(),
        ControlFrameTooLong(_) => "control frame with payload length > 125 octets".into(),
        ReservedOpcode(op) if *op > 7 => format!("control frame using reserved opcode {op}"),
        ReservedOpcode(op) => format!("data frame using reserved opcode {op}"),
        UnexpectedContinuation => "received continuation data frame outside fragmented message".into(),
        ExpectedContinuation(_) => "received non-continuation data frame while inside fragmented message".into(),
        NonMinimalLength { .. } => "invalid data frame length (not using minimal length encoding)".into(),
        LengthTopBitSet => "invalid data frame length (>2^63)".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        header.mask = Some([1, 2, 3, 4]);
        header.encode_frame(payload)
    }

    #[test]
    fn fragments_become_one_message_after_their_frames() {
        let mut inbound = Inbound::new();
        let mut bytes = masked(OpCode::TEXT, false, b"He");
        bytes.extend(masked(OpCode::PING, true, b"p"));
        bytes.extend(masked(OpCode::CONTINUATION, true, b"llo"));
        let items = inbound.push(&bytes[..5]);
        assert!(items.is_empty(), "{items:?}");
        let items = inbound.push(&bytes[5..]);
        let kinds: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Frame { header, payload } => format!("F{}:{}", header.opcode.value(), payload.len()),
                Item::Message { data, binary } => format!("M{binary}:{}", String::from_utf8_lossy(data)),
                Item::Violation { code, .. } => format!("V{code}"),
            })
            .collect();
        assert_eq!(kinds, ["F1:2", "F9:1", "F0:3", "Mfalse:Hello"]);
    }

    #[test]
    fn in_the_client_role_masked_frames_are_the_violation() {
        let mut inbound = Inbound::for_role(crate::judge::Role::Client, None);
        let items = inbound.push(&FrameHeader::new(OpCode::TEXT, 2).encode_frame(b"ok"));
        assert_eq!(items.last(), Some(&Item::Message { data: b"ok".to_vec(), binary: false }));
        let items = inbound.push(&masked(OpCode::TEXT, true, b"no"));
        let reason = "masked server-to-client frame".into();
        assert!(items.contains(&Item::Violation { code: 1002, reason, in_payload: false }), "{items:?}");
    }

    #[test]
    fn compressed_messages_are_inflated_when_negotiated() {
        let mut compressed = masked(OpCode::TEXT, true, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        compressed[0] |= 0x40;
        let mut inbound = Inbound::with_deflate(Some(DeflateParams::default()));
        let items = inbound.push(&compressed);
        assert_eq!(items.last(), Some(&Item::Message { data: b"Hello".to_vec(), binary: false }));
        let items = Inbound::new().push(&compressed);
        assert!(items.iter().any(|i| matches!(i, Item::Violation { code: 1002, .. })), "RSV1 without deflate");
    }

    #[test]
    fn unmasked_frames_and_bad_utf8_are_violations_but_bad_close_codes_are_not() {
        let mut inbound = Inbound::new();
        let unmasked = FrameHeader::new(OpCode::TEXT, 1).encode_frame(b"a");
        assert!(inbound.push(&unmasked).contains(&Item::Violation {
            code: 1002,
            reason: "unmasked client-to-server frame".into(),
            in_payload: false
        }));
        let mut inbound = Inbound::new();
        let items = inbound.push(&masked(OpCode::TEXT, true, &[0xff]));
        assert!(items.iter().any(|i| matches!(i, Item::Violation { code: 1007, .. })), "{items:?}");
        let mut inbound = Inbound::new();
        let items = inbound.push(&masked(OpCode::CLOSE, true, &[0x03, 0xed]));
        assert!(items.iter().all(|i| !matches!(i, Item::Violation { .. })), "{items:?}");
    }

    #[test]
    fn a_one_byte_close_is_a_violation_before_its_frame() {
        let items = Inbound::new().push(&masked(OpCode::CLOSE, true, &[0x03]));
        let reason = "received close control frame with payload len 1".to_owned();
        assert_eq!(items[0], Item::Violation { code: 1002, reason, in_payload: false });
        assert!(matches!(&items[1], Item::Frame { payload, .. } if payload == &[0x03]), "{items:?}");
        assert_eq!(items.len(), 2, "{items:?}");
    }

    #[test]
    fn after_a_failure_data_payloads_are_not_kept_but_control_payloads_are() {
        // Bad UTF-8 in one read: the frame is logged with nothing of its payload.
        let items = Inbound::new().push(&masked(OpCode::TEXT, true, &[0xce, 0xba, 0xff, 0xfe]));
        assert!(matches!(&items[0], Item::Violation { code: 1007, in_payload: true, .. }), "{items:?}");
        assert!(matches!(&items[1], Item::Frame { payload, .. } if payload.is_empty()), "{items:?}");
        // Over two reads, the bad byte in the second: the first read is kept.
        let bytes = masked(OpCode::TEXT, true, &[b'a', b'b', 0xff, b'c']);
        let mut inbound = Inbound::new();
        assert!(inbound.push(&bytes[..8]).is_empty());
        let items = inbound.push(&bytes[8..]);
        assert!(matches!(&items[1], Item::Frame { payload, .. } if payload == b"ab"), "{items:?}");
        // Failed by the tracker (say, its kill timer): a later text keeps nothing, a ping all.
        let mut inbound = Inbound::new();
        inbound.set_failed();
        let mut bytes = masked(OpCode::TEXT, true, b"late");
        bytes.extend(masked(OpCode::PING, true, b"p"));
        let payloads: Vec<Vec<u8>> = inbound
            .push(&bytes)
            .into_iter()
            .filter_map(|i| match i {
                Item::Frame { payload, .. } => Some(payload),
                _ => None,
            })
            .collect();
        assert_eq!(payloads, [b"".to_vec(), b"p".to_vec()]);
    }

    #[test]
    fn header_violations_carry_autobahns_reasons() {
        let mut frame = masked(OpCode::BINARY, true, b"x");
        frame[0] |= 0x30;
        let items = Inbound::new().push(&frame);
        let reason = "RSV = 3 and no extension negotiated".to_owned();
        assert_eq!(items[0], Item::Violation { code: 1002, reason, in_payload: false });
        let items = Inbound::new().push(&masked(OpCode::new(11), true, b""));
        assert!(
            matches!(&items[0], Item::Violation { reason, .. } if reason == "control frame using reserved opcode 11")
        );
    }
}

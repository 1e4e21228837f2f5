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
//! Close-frame problems (one-byte payload, invalid code, non-UTF-8 reason)
//! are *not* reported as violations here: the tracker checks close payloads
//! itself, under the chosen [`crate::wire::CodePolicy`], because Autobahn
//! handles them as part of the close (§2.5).

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
    },
}

/// Decoder state for the client-to-server direction.
pub struct Inbound {
    decoder: FrameDecoder,
    frame: Vec<u8>,
    message: Vec<u8>,
    inflater: Option<Inflater>,
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
        }
    }

    /// Decodes `bytes`; returns what completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Item> {
        let mut items = Vec::new();
        let (frame, message, inflater) = (&mut self.frame, &mut self.message, &mut self.inflater);
        self.decoder.push(bytes, &mut |event| match event {
            wire::Event::FrameStart { .. } => frame.clear(),
            wire::Event::Payload(piece) => frame.extend_from_slice(piece),
            wire::Event::FrameEnd { header, cut: false, .. } => {
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
            wire::Event::Violation(v) => items.extend(violation(&v.kind)),
            _ => {}
        });
        items
    }
}

/// A compressed message, inflated: the message, or the violation it is.
fn inflate(inflater: &mut Inflater, compressed: &[u8], binary: bool) -> Option<Item> {
    match inflater.inflate_message(compressed) {
        Ok(data) if binary || std::str::from_utf8(&data).is_ok() => Some(Item::Message { data, binary }),
        Ok(_) => Some(Item::Violation { code: INVALID_PAYLOAD, reason: ViolationKind::InvalidUtf8Text.to_string() }),
        Err(stop) => Some(Item::Violation { code: PROTOCOL_ERROR, reason: stop.to_string() }),
    }
}

/// The fuzzer's reaction to a violation, if it has one.
fn violation(kind: &ViolationKind) -> Option<Item> {
    use ViolationKind::*;
    let code = match kind {
        // Judged by the tracker as part of the close frame.
        CloseOneByte | InvalidCloseCode(_) | InvalidCloseReason => return None,
        // After the client's close the fuzzer has already dropped TCP.
        FrameAfterClose => return None,
        InvalidUtf8Text => INVALID_PAYLOAD,
        _ => PROTOCOL_ERROR,
    };
    Some(Item::Violation { code, reason: kind.to_string() })
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
        assert!(items.contains(&Item::Violation { code: 1002, reason: "server frame is masked".into() }), "{items:?}");
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
        assert!(
            inbound
                .push(&unmasked)
                .contains(&Item::Violation { code: 1002, reason: "client frame is not masked".into() })
        );
        let mut inbound = Inbound::new();
        let items = inbound.push(&masked(OpCode::TEXT, true, &[0xff]));
        assert!(items.iter().any(|i| matches!(i, Item::Violation { code: 1007, .. })), "{items:?}");
        let mut inbound = Inbound::new();
        let items = inbound.push(&masked(OpCode::CLOSE, true, &[0x03, 0xed]));
        assert!(items.iter().all(|i| !matches!(i, Item::Violation { .. })), "{items:?}");
    }
}

//! Decoder tests over whole connections: RFC fixtures, violations, and the
//! chunking-invariance property.

use super::*;
use proptest::prelude::*;

/// An owned, chunking-normalised copy of an [`Event`].
#[derive(Debug, PartialEq, Eq, Clone)]
pub(crate) enum Owned {
    Head(Direction, u64, Vec<u8>),
    Upgrade(Direction, bool),
    Start(Direction, u64, FrameHeader),
    Payload(Direction, Vec<u8>),
    End(Direction, u64, Option<ClosePayload>, bool),
    Message(Direction, u64, OpCode, u64, u32),
    Violation(Direction, u64, String),
    Raw(Direction, u64, Vec<u8>, String),
}

pub(crate) fn collect(chunks: &[(Direction, &[u8])], finish: bool) -> Vec<Owned> {
    let mut dec = ConnectionDecoder::new();
    let mut out: Vec<Owned> = Vec::new();
    let mut sink = |d: Direction, e: Event<'_>| {
        let ev = match e {
            Event::Head { offset, bytes } => Owned::Head(d, offset, bytes.to_vec()),
            Event::Upgrade { upgraded, .. } => Owned::Upgrade(d, upgraded),
            Event::FrameStart { offset, header } => Owned::Start(d, offset, header),
            Event::Payload(p) => {
                if let Some(Owned::Payload(pd, buf)) = out.last_mut()
                    && *pd == d
                {
                    buf.extend_from_slice(p);
                    return;
                }
                Owned::Payload(d, p.to_vec())
            }
            Event::FrameEnd { offset, close, cut, .. } => Owned::End(d, offset, close, cut),
            Event::MessageEnd { offset, opcode, len, frames, .. } => Owned::Message(d, offset, opcode, len, frames),
            Event::Violation(v) => Owned::Violation(d, v.offset, v.kind.name().to_string()),
            Event::Raw { offset, bytes, reason } => {
                if let Some(Owned::Raw(rd, _, buf, r)) = out.last_mut()
                    && *rd == d
                    && r == reason
                {
                    buf.extend_from_slice(bytes);
                    return;
                }
                Owned::Raw(d, offset, bytes.to_vec(), reason.to_string())
            }
        };
        out.push(ev);
    };
    for (d, c) in chunks {
        dec.push(*d, c, &mut sink);
    }
    if finish {
        dec.finish(Direction::ClientToServer, &mut sink);
        dec.finish(Direction::ServerToClient, &mut sink);
    }
    out
}

pub(crate) const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
pub(crate) const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn masked(op: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let h = FrameHeader { fin, mask: Some([1, 2, 3, 4]), ..FrameHeader::new(OpCode::new(op), payload.len() as u64) };
    h.encode_frame(payload)
}

fn violations(events: &[Owned]) -> Vec<(Direction, u64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Owned::Violation(d, o, k) => Some((*d, *o, k.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn clean_session_decodes_frames_and_messages() {
    let mut client = masked(1, false, b"Hel");
    client.extend(masked(0, true, b"lo"));
    client.extend(masked(8, true, b"\x03\xe8bye"));
    let server = FrameHeader::new(OpCode::TEXT, 5).encode_frame(b"Hello");
    let ev = collect(&[(C2S, REQUEST), (S2C, RESPONSE), (C2S, &client), (S2C, &server)], true);
    assert!(violations(&ev).is_empty(), "{ev:?}");
    let base = REQUEST.len() as u64;
    assert!(ev.contains(&Owned::Message(C2S, base, OpCode::TEXT, 5, 2)));
    assert!(ev.contains(&Owned::Message(S2C, RESPONSE.len() as u64, OpCode::TEXT, 5, 1)));
    let close = ClosePayload { code: Some(1000), reason: b"bye".to_vec() };
    assert!(ev.iter().any(|e| matches!(e, Owned::End(d, _, Some(c), false) if *d == C2S && *c == close)));
}

#[test]
fn violations_are_reported_with_offsets_and_decoding_continues() {
    let base = REQUEST.len() as u64;
    let mut client = FrameHeader::new(OpCode::TEXT, 2).encode_frame(b"hi"); // unmasked
    let second = client.len() as u64;
    client.extend(masked(0, true, b"x")); // continuation without message
    let third = client.len() as u64;
    client.extend(masked(9, false, b"p")); // fragmented ping
    let fourth = client.len() as u64;
    client.extend(masked(1, true, b"a\xffb")); // bad utf-8
    let fifth = client.len() as u64;
    client.extend(masked(8, true, &[0x03, 0xed])); // 1005
    let ev = collect(&[(C2S, REQUEST), (S2C, RESPONSE), (C2S, &client)], true);
    let got = violations(&ev);
    let expect = vec![
        (C2S, base, "unmasked_client_frame".to_string()),
        (C2S, base + second, "unexpected_continuation".to_string()),
        (C2S, base + third, "fragmented_control_frame".to_string()),
        (C2S, base + fourth + 6 + 1, "invalid_utf8_text".to_string()),
        (C2S, base + fifth + 6, "invalid_close_code".to_string()),
    ];
    assert_eq!(got, expect);
}

#[test]
fn huge_declared_length_costs_nothing() {
    let header = [0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4];
    let ev = collect(&[(C2S, REQUEST), (S2C, RESPONSE), (C2S, &header), (C2S, b"abc")], true);
    assert!(ev.iter().any(|e| matches!(e, Owned::Start(_, _, h) if h.len == i64::MAX as u64)));
    assert!(ev.iter().any(|e| matches!(e, Owned::End(_, _, None, true))));
}

#[test]
fn non_websocket_traffic_is_raw_with_reason() {
    let tls = b"\x16\x03\x01\x02\x00binary tls hello";
    let ev = collect(&[(C2S, tls)], true);
    assert!(matches!(&ev[0], Owned::Raw(C2S, 0, b, r) if b == tls && r.starts_with("not HTTP")), "{ev:?}");
    let refused = collect(&[(C2S, REQUEST), (S2C, b"HTTP/1.1 404 Not Found\r\n\r\nnope"), (C2S, b"more")], true);
    assert!(refused.contains(&Owned::Upgrade(S2C, false)));
    assert!(refused.iter().any(|e| matches!(e, Owned::Raw(C2S, _, b, r) if b == b"more" && r.contains("404"))));
}

#[test]
fn a_response_read_before_the_request_waits_for_it() {
    let frame = FrameHeader::new(OpCode::TEXT, 2).encode_frame(b"hi");
    let mut response = RESPONSE.to_vec();
    response.extend(&frame);
    let ev = collect(&[(S2C, &response), (C2S, REQUEST)], true);
    assert!(ev.contains(&Owned::Upgrade(S2C, true)), "{ev:?}");
    assert!(ev.contains(&Owned::Message(S2C, RESPONSE.len() as u64, OpCode::TEXT, 2, 1)));
}

#[test]
fn a_client_that_half_closes_before_the_answer_is_still_decoded() {
    let frame = masked(2, true, b"bye");
    let mut dec = ConnectionDecoder::new();
    let mut kinds = Vec::new();
    let mut sink =
        |d: Direction, e: Event<'_>| kinds.push(format!("{}:{e:?}", d.short()).chars().take(40).collect::<String>());
    dec.push(C2S, REQUEST, &mut sink);
    dec.push(C2S, &frame, &mut sink);
    dec.finish(C2S, &mut sink);
    dec.push(S2C, RESPONSE, &mut sink);
    assert!(kinds.iter().any(|k| k.starts_with("c2s:MessageEnd")), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k.contains("Raw")), "{kinds:?}");
}

#[test]
fn client_bytes_before_the_answer_are_held_then_decoded() {
    let frame = masked(2, true, b"early");
    let ev = collect(&[(C2S, REQUEST), (C2S, &frame), (S2C, RESPONSE)], true);
    assert!(ev.contains(&Owned::Message(C2S, REQUEST.len() as u64, OpCode::BINARY, 5, 1)), "{ev:?}");
}

/// Found by the `session_rebuild` fuzz target: a server that ends its side
/// before the client's request head is complete never answers, so the
/// bytes after the request are raw at once (they used to be held for an
/// answer that could not come, and were lost).
#[test]
fn a_request_completed_after_the_server_ended_keeps_its_trailing_bytes() {
    let mut dec = ConnectionDecoder::new();
    let mut raw = Vec::new();
    let mut sink = |d: Direction, e: Event<'_>| {
        if let Event::Raw { offset, bytes, reason } = e {
            raw.push((d, offset, bytes.to_vec(), reason.to_string()));
        }
    };
    let (first, second) = REQUEST.split_at(20);
    dec.push(C2S, first, &mut sink);
    dec.finish(S2C, &mut sink);
    let mut rest = second.to_vec();
    rest.extend(masked(1, true, b"late"));
    dec.push(C2S, &rest, &mut sink);
    dec.push(C2S, b"more", &mut sink);
    dec.finish(C2S, &mut sink);
    let late = masked(1, true, b"late");
    let why = "connection ended before the server answered the upgrade".to_string();
    assert_eq!(
        raw,
        vec![
            (C2S, REQUEST.len() as u64, late.clone(), why.clone()),
            (C2S, (REQUEST.len() + late.len()) as u64, b"more".to_vec(), why)
        ]
    );
}

fn arb_frame() -> impl Strategy<Value = Vec<u8>> {
    (0u8..16, any::<bool>(), 0u8..8, proptest::collection::vec(any::<u8>(), 0..300), any::<bool>(), 0u8..3).prop_map(
        |(op, fin, rsv, payload, mask, form)| {
            let len_form = [LenForm::Bits7, LenForm::Bits16, LenForm::Bits64][form as usize];
            let h = FrameHeader {
                fin,
                rsv,
                opcode: OpCode::new(op),
                mask: mask.then_some([9, 8, 7, 6]),
                len: payload.len() as u64,
                len_form,
            };
            h.encode_frame(&payload)
        },
    )
}

proptest! {
    #[test]
    fn chunking_never_changes_events(
        frames in proptest::collection::vec(arb_frame(), 0..12),
        tail in proptest::collection::vec(any::<u8>(), 0..20),
        cuts in proptest::collection::vec(1usize..40, 1..200),
    ) {
        let mut stream = frames.concat();
        stream.extend(tail);
        let whole = collect(&[(C2S, REQUEST), (S2C, RESPONSE), (C2S, &stream)], true);
        let mut chunks: Vec<(Direction, &[u8])> = vec![(C2S, REQUEST), (S2C, RESPONSE)];
        let mut rest = &stream[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() { break; }
            let (a, b) = rest.split_at((*cut).min(rest.len()));
            chunks.push((C2S, a));
            rest = b;
        }
        prop_assert_eq!(&collect(&chunks, true), &whole);
        let bytewise: Vec<(Direction, &[u8])> = REQUEST.chunks(1).map(|c| (C2S, c))
            .chain(RESPONSE.chunks(1).map(|c| (S2C, c)))
            .chain(stream.chunks(1).map(|c| (C2S, c))).collect();
        prop_assert_eq!(&collect(&bytewise, true), &whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(a in proptest::collection::vec(any::<u8>(), 0..600), b in proptest::collection::vec(any::<u8>(), 0..600)) {
        collect(&[(C2S, &a), (S2C, &b), (C2S, REQUEST), (S2C, RESPONSE)], true);
        collect(&[(C2S, REQUEST), (S2C, RESPONSE), (C2S, &a), (S2C, &b)], true);
    }
}

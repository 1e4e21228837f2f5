//! Builder and model tests: events from bytes, YAML round trip, and exact
//! stream rebuilding.

use super::*;
use crate::wire::tests::{REQUEST, RESPONSE};
use crate::wire::{FrameHeader, LenForm, OpCode};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn masked(op: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    FrameHeader { fin, mask: Some([0xa1, 0xb2, 0xc3, 0xd4]), ..FrameHeader::new(OpCode::new(op), payload.len() as u64) }
        .encode_frame(payload)
}

/// Builds a recording from reads, keeping sidecar payloads in memory.
fn record(reads: &[(Direction, Vec<u8>)]) -> (Recording, MemoryStore) {
    let mut b = SessionBuilder::new(MemoryStore::default());
    for (i, (dir, bytes)) in reads.iter().enumerate() {
        b.read(i as u64 * 10, *dir, bytes).unwrap();
    }
    b.end(1000, C2S, TcpEnd::Fin, None).unwrap();
    b.end(1001, S2C, TcpEnd::Fin, None).unwrap();
    let events = b.drain();
    let rec = Recording {
        wstap_recording: FORMAT_VERSION,
        started: "2026-11-24T00:00:00.000000Z".into(),
        client: "127.0.0.1:1".into(),
        server: "127.0.0.1:2".into(),
        summary: Some(Summary::from_events(&events)),
        events,
        ..Recording::default()
    };
    (rec, b.into_store())
}

fn sample_reads() -> Vec<(Direction, Vec<u8>)> {
    let mut split = masked(1, false, "κόσ".as_bytes());
    split.extend(masked(9, true, b"ping"));
    split.extend(masked(0, true, "με".as_bytes()));
    let odd =
        FrameHeader { len_form: LenForm::Bits64, ..FrameHeader::new(OpCode::BINARY, 3) }.encode_frame(&[0, 255, 7]);
    vec![
        (C2S, REQUEST[..20].to_vec()),
        (C2S, REQUEST[20..].to_vec()),
        (S2C, RESPONSE.to_vec()),
        (C2S, split[..5].to_vec()),
        (C2S, split[5..].to_vec()),
        (S2C, odd),
        (S2C, FrameHeader::new(OpCode::CLOSE, 4).encode_frame(b"\x03\xe8ok")),
        (C2S, masked(8, true, b"\x03\xe8")),
        (C2S, b"trailing garbage after close".to_vec()),
    ]
}

#[test]
fn events_describe_frames_messages_and_closing() {
    let (rec, _) = record(&sample_reads());
    let messages: Vec<&Message> = rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(messages[0].payload, Data::Text("κόσμε".into()));
    assert_eq!((messages[0].frames, messages[0].len), (2, "κόσμε".len() as u64));
    assert_eq!(messages[1].payload, Data::Hex("00ff07".into()));
    let s = rec.summary();
    assert_eq!(s.closed_first_by, Some(Side::Server));
    assert!(s.clean && s.upgraded);
    assert_eq!(s.server_close, Some(CloseInfo { code: Some(1000), reason: Some("ok".into()), reason_hex: None }));
    assert_eq!(s.client_close.as_ref().unwrap().code, Some(1000));
    assert_eq!(s.tcp_closed_first_by, Some(Side::Client));
    let kinds: Vec<&str> = rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Violation { kind, .. } => Some(kind.as_str()),
            _ => None,
        })
        .collect();
    // The garbage after the client's close still decodes as a frame ('t' =
    // 0x74: RSV 7, opcode 4): decoding never stops.
    let expect =
        ["non_minimal_length", "unmasked_client_frame", "frame_after_close", "reserved_bits", "reserved_opcode"];
    assert_eq!(kinds, expect);
}

#[test]
fn yaml_round_trip_and_exact_rebuild() {
    let reads = sample_reads();
    let (rec, _) = record(&reads);
    let yaml = serde_yaml::to_string(&rec).unwrap();
    let back: Recording = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, rec, "{yaml}");
    for dir in Direction::BOTH {
        let sent: Vec<Vec<u8>> = reads.iter().filter(|r| r.0 == dir).map(|r| r.1.clone()).collect();
        let got: Vec<Vec<u8>> = back.read_chunks(dir).unwrap().into_iter().map(|c| c.1).collect();
        assert_eq!(got, sent, "{dir:?}");
    }
}

#[test]
fn large_payloads_go_to_the_store_with_a_digest() {
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let frame = masked(2, true, &big);
    let mut reads = vec![(C2S, REQUEST.to_vec()), (S2C, RESPONSE.to_vec())];
    reads.extend(frame.chunks(7000).map(|c| (C2S, c.to_vec())));
    let (rec, store) = record(&reads);
    let (_, f) = rec.frames().next().unwrap();
    let Data::Sidecar(r) = &f.payload else { panic!("expected a sidecar, got {:?}", f.payload) };
    assert_eq!((r.offset, r.len), (0, big.len() as u64));
    assert_eq!(r.digest(), Some(data::Digest::of(&big)));
    assert!(r.sha256.is_none(), "version 2 records BLAKE3 only");
    assert_eq!(store.bytes[0], big);
}

#[test]
fn gap_cuts_the_frame_and_decoding_resumes_at_a_plausible_boundary() {
    let mut b = SessionBuilder::new(MemoryStore::default());
    b.read(0, C2S, REQUEST).unwrap();
    b.read(1, S2C, RESPONSE).unwrap();
    let big = masked(2, true, &[5; 300]);
    b.read(2, C2S, &big[..100]).unwrap();
    b.gap(3, C2S, 150).unwrap();
    // The tail of the lost frame, then three whole frames.
    let after = [&big[250..], &masked(1, true, b"one"), &masked(9, true, b""), &masked(1, true, b"two")].concat();
    b.read(4, C2S, &after).unwrap();
    b.finish().unwrap();
    let events = b.drain();
    let kinds: Vec<&EventKind> = events.iter().filter(|e| e.dir == C2S).map(|e| &e.kind).collect();
    let cut = kinds.iter().position(|k| matches!(k, EventKind::Frame(f) if f.cut && f.len == 300)).unwrap();
    let Some(EventKind::Gap { offset, len: 150 }) = kinds.get(cut + 1) else { panic!("{kinds:?}") };
    assert_eq!(*offset, (REQUEST.len() + 100) as u64);
    let raw = kinds.iter().find_map(|k| match k {
        EventKind::Raw { offset, data, reason } => Some((*offset, data.inline_bytes().unwrap().unwrap(), reason)),
        _ => None,
    });
    let (raw_at, raw_bytes, reason) = raw.expect("the lost frame's tail is raw");
    assert_eq!((raw_at, raw_bytes.as_slice()), ((REQUEST.len() + 100) as u64, &big[250..]));
    assert!(reason.contains("after a gap"), "{reason}");
    let texts: Vec<Data> = kinds
        .iter()
        .filter_map(|k| match k {
            EventKind::Frame(f) if f.opcode == 1 => Some(f.payload.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, [Data::Text("one".into()), Data::Text("two".into())]);
    let rec = Recording { events, ..Recording::default() };
    let mut want = REQUEST.to_vec();
    want.extend_from_slice(&big[..100]);
    want.extend_from_slice(&after);
    assert_eq!(rec.stream(C2S).unwrap(), want, "the recorded bytes rebuild, the gap excluded");
}

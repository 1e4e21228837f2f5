//! Recording compressed sessions: inflated payloads, caps, notes.

use crate::session::{Data, EventKind, MemoryStore, Message, Recording, SessionBuilder, TcpEnd, data};
use crate::wire::tests::REQUEST;
use crate::wire::{Deflater, Direction, FrameHeader, OpCode};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn response(extensions: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n"
    )
    .into_bytes()
}

fn frame(dir: Direction, op: u8, fin: bool, rsv: u8, payload: &[u8]) -> Vec<u8> {
    let mask = (dir == C2S).then_some([9, 8, 7, 6]);
    FrameHeader { fin, rsv, mask, ..FrameHeader::new(OpCode::new(op), payload.len() as u64) }.encode_frame(payload)
}

fn record_with(cap: Option<u64>, reads: &[(Direction, Vec<u8>)]) -> (Recording, MemoryStore) {
    let mut b = SessionBuilder::new(MemoryStore::default());
    if let Some(cap) = cap {
        b = b.with_inflate_cap(cap);
    }
    for (i, (dir, bytes)) in reads.iter().enumerate() {
        b.read(i as u64, *dir, bytes).unwrap();
    }
    b.end(1000, C2S, TcpEnd::Fin, None).unwrap();
    b.end(1001, S2C, TcpEnd::Fin, None).unwrap();
    (Recording { events: b.drain(), ..Recording::default() }, b.into_store())
}

fn messages(rec: &Recording, dir: Direction) -> Vec<&Message> {
    rec.events_in(dir)
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn kinds(rec: &Recording, want_notes: bool) -> Vec<(Direction, String, u64)> {
    rec.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Violation { kind, offset, .. } if !want_notes => Some((e.dir, kind.clone(), *offset)),
            EventKind::Note { kind, .. } if want_notes => Some((e.dir, kind.clone(), 0)),
            _ => None,
        })
        .collect()
}

#[test]
fn both_directions_inflate_with_fragments_and_takeover() {
    let mut client = Deflater::new(15, false).unwrap();
    let mut server = Deflater::new(15, true).unwrap();
    let hello = client.compress_message(b"Hello, compressed world");
    let again = client.compress_message(b"Hello, compressed world");
    let reply = server.compress_message("κόσμε κόσμε κόσμε".as_bytes());
    // A fragmented compressed message with a ping in the middle.
    let mut split = frame(C2S, 1, false, 4, &again[..3]);
    split.extend(frame(C2S, 9, true, 0, b"ping"));
    split.extend(frame(C2S, 0, true, 0, &again[3..]));
    let reads = vec![
        (C2S, REQUEST.to_vec()),
        (S2C, response("permessage-deflate; server_no_context_takeover")),
        (C2S, frame(C2S, 1, true, 4, &hello)),
        (C2S, split[..7].to_vec()),
        (C2S, split[7..].to_vec()),
        (S2C, frame(S2C, 1, true, 4, &reply)),
        (S2C, frame(S2C, 2, true, 0, b"plain")),
    ];
    let (rec, _) = record_with(None, &reads);
    assert_eq!(kinds(&rec, false), [], "no violations");
    assert_eq!(kinds(&rec, true), [], "no notes");
    let c2s = messages(&rec, C2S);
    assert_eq!(c2s.len(), 2);
    for m in &c2s {
        assert!(m.compressed);
        let inflated = m.inflated.as_ref().unwrap();
        assert_eq!((inflated.len, inflated.cut), (23, false));
        assert_eq!(inflated.data, Data::Text("Hello, compressed world".into()));
        assert_eq!(m.shown_payload(), &Data::Text("Hello, compressed world".into()));
        assert_eq!(m.shown_len(), 23);
    }
    assert_eq!(c2s[1].frames, 2);
    assert!(c2s[1].len < 23, "the second message refers back to the first");
    assert_eq!(c2s[1].payload, Data::inline(&again), "the wire payload is kept");
    let s2c = messages(&rec, S2C);
    assert_eq!(s2c[0].shown_payload(), &Data::Text("κόσμε κόσμε κόσμε".into()));
    assert_eq!((s2c[1].compressed, &s2c[1].inflated), (false, &None));
    assert_eq!(s2c[1].shown_payload(), &Data::Text("plain".into()));
    // The YAML round trip keeps the new fields.
    let back: Recording = serde_yaml::from_str(&serde_yaml::to_string(&rec).unwrap()).unwrap();
    assert_eq!(back.events, rec.events);
}

#[test]
fn inflated_text_is_checked_for_utf8() {
    let mut def = Deflater::new(15, true).unwrap();
    let bad = def.compress_message(b"ok \xff not utf-8");
    let good_binary = def.compress_message(b"\xff binary is fine");
    let body = [frame(C2S, 1, true, 4, &bad), frame(C2S, 2, true, 4, &good_binary)].concat();
    let reads =
        [(C2S, REQUEST.to_vec()), (S2C, response("permessage-deflate; client_no_context_takeover")), (C2S, body)];
    let (rec, _) = record_with(None, &reads);
    let at = REQUEST.len() as u64;
    assert_eq!(kinds(&rec, false), [(C2S, "invalid_utf8_text".to_string(), at)]);
    let m = messages(&rec, C2S);
    assert_eq!(m[0].shown_payload().inline_bytes().unwrap().unwrap(), b"ok \xff not utf-8");
}

#[test]
fn cap_and_corruption_are_violations_and_recording_goes_on() {
    let mut def = Deflater::new(15, true).unwrap();
    let bomb = def.compress_message(&vec![b'a'; 200_000]);
    let small = def.compress_message(b"after");
    let garbage = [0xff, 0xff, 0xff, 0x00, 0x12];
    let reads = vec![
        (C2S, REQUEST.to_vec()),
        (S2C, response("permessage-deflate; server_no_context_takeover; client_no_context_takeover")),
        (S2C, frame(S2C, 1, true, 4, &bomb)),
        (S2C, frame(S2C, 1, true, 4, &garbage)),
        (S2C, frame(S2C, 1, true, 4, &small)),
    ];
    let cap = 50_000;
    let (rec, store) = record_with(Some(cap), &reads);
    let v = kinds(&rec, false);
    let names: Vec<&str> = v.iter().map(|k| k.1.as_str()).collect();
    assert_eq!(names, ["inflate_cap_hit", "inflate_failed"]);
    let m = messages(&rec, S2C);
    let inflated = m[0].inflated.as_ref().unwrap();
    assert_eq!((inflated.len, inflated.cut), (cap, true));
    // Over INLINE_MAX: the inflated bytes went to the inflated sidecar.
    let Data::Sidecar(r) = &inflated.data else { panic!("{inflated:?}") };
    assert_eq!((r.file.as_str(), r.offset, r.len), ("memory.s2c.inflated.bin", 0, cap));
    assert_eq!(store.inflated[1], vec![b'a'; cap as usize]);
    assert_eq!(r.digest(), Some(data::Digest::of(&store.inflated[1])));
    assert!(m[1].inflated.as_ref().unwrap().cut);
    assert_eq!(m[2].shown_payload(), &Data::Text("after".into()));
    assert!(store.bytes[1].is_empty(), "wire payloads stayed inline");
}

#[test]
fn unknown_extensions_are_noted_and_kept_raw() {
    let payload = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let reads = vec![
        (C2S, REQUEST.to_vec()),
        (S2C, response("x-webkit-deflate-frame")),
        (S2C, frame(S2C, 1, true, 4, &payload)),
    ];
    let (rec, _) = record_with(None, &reads);
    assert_eq!(kinds(&rec, true), [(S2C, "extension_not_decoded".to_string(), 0)]);
    assert_eq!(kinds(&rec, false), []);
    let m = messages(&rec, S2C);
    assert!(m[0].compressed && m[0].inflated.is_none());
    assert_eq!(m[0].shown_payload(), &Data::inline(&payload));
    let back: Recording = serde_yaml::from_str(&serde_yaml::to_string(&rec).unwrap()).unwrap();
    assert_eq!(back.events, rec.events, "notes survive the YAML round trip");
}

#[test]
fn a_bomb_runs_out_of_budget_and_later_messages_stay_compressed() {
    use crate::session::inflate::{INFLATE_BUDGET_RATIO, INFLATE_BUDGET_SLACK};
    let mut client = Deflater::new(15, false).unwrap();
    let zeros = vec![0u8; 3 * 1024 * 1024];
    let mut reads = vec![(C2S, REQUEST.to_vec()), (S2C, response("permessage-deflate"))];
    let mut compressed = 0;
    for _ in 0..4 {
        let bomb = client.compress_message(&zeros);
        compressed += bomb.len() as u64;
        reads.push((C2S, frame(C2S, 2, true, 4, &bomb)));
    }
    let (rec, store) = record_with(None, &reads);
    let m = messages(&rec, C2S);
    assert_eq!(m.len(), 4, "every message is recorded");
    let budget = INFLATE_BUDGET_SLACK + INFLATE_BUDGET_RATIO * compressed;
    let inflated: Vec<Option<(u64, bool)>> = m.iter().map(|m| m.inflated.as_ref().map(|i| (i.len, i.cut))).collect();
    assert_eq!(inflated[0], Some((3 << 20, false)), "within the budget");
    let (second, cut) = inflated[1].expect("the message that runs the budget out is inflated in part");
    assert!(cut && second < 3 << 20, "{second}");
    assert_eq!(inflated[2..], [None, None], "after the budget: compressed only");
    let total: u64 = inflated.iter().flatten().map(|i| i.0).sum();
    assert!(total <= budget, "{total} inflated, budget {budget}");
    assert_eq!(store.inflated[0].len() as u64, total, "the inflated sidecar holds no more");
    let notes = kinds(&rec, true);
    assert_eq!(notes, [(S2C, "inflate_budget_exhausted".to_string(), 0)]);
    assert!(kinds(&rec, false).is_empty(), "running out of budget is not a violation: {:?}", kinds(&rec, false));
    assert!(m.iter().all(|m| m.compressed), "the wire payloads are kept");
}

//! `show` in bounded memory: a recording whose message lives in a sidecar
//! is reported from previews, without reading the message into memory, and
//! its entries equal those built from the bytes themselves.

use super::*;
use crate::session::sidecar::MATERIALISED;
use crate::session::{Direction, Recording, Side};
use crate::store::LiveRecording;
use crate::wire::{FrameHeader, OpCode};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// The session's reads: a 1 MiB + 3 binary message each way (masked from
/// the client), in 64 KiB reads, then a close each way.
fn big() -> Vec<u8> {
    (0..(1 << 20) + 3u32).map(|i| (i % 251) as u8).collect()
}

fn reads() -> Vec<(Direction, Vec<u8>)> {
    let (c2s, s2c) = (Direction::ClientToServer, Direction::ServerToClient);
    let big = big();
    let masked = FrameHeader { mask: Some([1, 2, 3, 4]), ..FrameHeader::new(OpCode::BINARY, big.len() as u64) };
    let mut out = vec![(c2s, REQUEST.to_vec()), (s2c, RESPONSE.to_vec())];
    for (dir, frame) in
        [(c2s, masked.encode_frame(&big)), (s2c, FrameHeader::new(OpCode::BINARY, big.len() as u64).encode_frame(&big))]
    {
        out.extend(frame.chunks(64 * 1024).map(|c| (dir, c.to_vec())));
    }
    let close = FrameHeader { mask: Some([5, 6, 7, 8]), ..FrameHeader::new(OpCode::CLOSE, 2) }.encode_frame(&[3, 232]);
    out.push((c2s, close));
    out.push((s2c, FrameHeader::new(OpCode::CLOSE, 2).encode_frame(&[3, 232])));
    out
}

fn header() -> Recording {
    Recording {
        wstap_recording: crate::session::FORMAT_VERSION,
        started: "2026-11-24T00:00:00.000000Z".into(),
        client: "c".into(),
        server: "s".into(),
        ..Recording::default()
    }
}

#[test]
fn a_sidecar_message_is_reported_without_reading_it_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let mut live = LiveRecording::create(&path, &header()).unwrap();
    for (at, (d, bytes)) in reads().into_iter().enumerate() {
        live.builder().read(at as u64, d, &bytes).unwrap();
    }
    live.close().unwrap();
    let on_disk = crate::store::load(&path).unwrap();
    let sidecar = dir.path().join("big.c2s.bin");
    assert!(std::fs::metadata(&sidecar).unwrap().len() > 1 << 20, "the message went to the sidecar");

    for me in [Side::Server, Side::Client] {
        MATERIALISED.with(|m| m.set(0));
        let report = from_recording(&on_disk, me).unwrap();
        assert_eq!(MATERIALISED.with(|m| m.get()), 0, "no sidecar payload read whole ({me:?})");
        // Every read as the byte-slice constructors render it.
        let rx = me.sends().reverse();
        for tag in ["RO", "TO"] {
            let want: Vec<WireLogEntry> = reads()
                .iter()
                .filter(|(d, _)| (*d == rx) == (tag == "RO"))
                .map(|(d, b)| if *d == rx { WireLogEntry::rx_octets(b) } else { WireLogEntry::tx_octets(b, false) })
                .collect();
            let got: Vec<&WireLogEntry> = report.wirelog.iter().filter(|e| e.tag() == tag).collect();
            assert_eq!(got, want.iter().collect::<Vec<_>>(), "{me:?} {tag}");
        }
        let mask = if rx == Direction::ClientToServer { Some([1, 2, 3, 4]) } else { None };
        let rf = WireLogEntry::rx_frame(&big(), 2, true, 0, mask);
        assert!(report.wirelog.contains(&rf), "{me:?}: {rf:?}");
        assert_eq!(report.received, [CaseEvent::message(&big(), true)], "{me:?}");
    }
    // Sidecar digests are still checked: a changed byte fails the report.
    let mut bytes = std::fs::read(&sidecar).unwrap();
    bytes[500_000] ^= 1;
    std::fs::write(&sidecar, bytes).unwrap();
    let err = from_recording(&on_disk, Side::Server).unwrap_err().to_string();
    assert!(err.contains("BLAKE3 mismatch"), "{err}");
}

//! Diffing two 100 000-frame recordings that differ in a few places.
//!
//! Both recordings are built through `SessionBuilder` from byte streams (an
//! echo session: 50 000 masked client messages, each echoed by the server),
//! with different masks and read boundaries, then three payloads changed,
//! one message dropped and the close code changed in the second. The
//! one-shot timing is printed first; criterion then measures the diff alone.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use wstap::diff::{DiffOptions, diff_recordings};
use wstap::session::{MemoryStore, Recording, SessionBuilder, TcpEnd};
use wstap::wire::{Direction, FrameHeader, OpCode};

/// Client messages; the server echoes each, so frames = 2 × this + closes.
const MESSAGES: u32 = 50_000;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

fn frame(op: OpCode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    FrameHeader { mask, ..FrameHeader::new(op, payload.len() as u64) }.encode_frame(payload)
}

/// The payload of message `i`, altered at a few indices when `changed`.
fn payload(i: u32, changed: bool) -> Vec<u8> {
    let altered = changed && matches!(i, 1_000 | 25_000 | 49_000);
    format!("message {i} {}", if altered { "CHANGED" } else { "payload" }).into_bytes()
}

/// An echo session; `changed` alters payloads, drops message 30 000 and the close code.
fn build(changed: bool, seed: u8, read_size: usize) -> Recording {
    let mut b = SessionBuilder::new(MemoryStore::default());
    b.read(0, Direction::ClientToServer, REQUEST).unwrap();
    b.read(1, Direction::ServerToClient, RESPONSE).unwrap();
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    for i in (0..MESSAGES).filter(|&i| !(changed && i == 30_000)) {
        let p = payload(i, changed);
        c2s.extend(frame(OpCode::TEXT, &p, Some([seed, i as u8, (i >> 8) as u8, 7])));
        s2c.extend(frame(OpCode::TEXT, &p, None));
    }
    let code: u16 = if changed { 1001 } else { 1000 };
    s2c.extend(frame(OpCode::CLOSE, &1000u16.to_be_bytes(), None));
    let close_reply = frame(OpCode::CLOSE, &code.to_be_bytes(), Some([seed; 4]));
    let (c, s) = (chunks(&c2s, read_size), chunks(&s2c, read_size));
    let mut t = 10;
    for i in 0..c.len().max(s.len()) {
        for (dir, chunk) in [(Direction::ClientToServer, c.get(i)), (Direction::ServerToClient, s.get(i))] {
            if let Some(chunk) = chunk {
                b.read(t, dir, chunk).unwrap();
            }
        }
        t += 2;
    }
    b.read(t + 1, Direction::ClientToServer, &close_reply).unwrap();
    b.end(t + 2, Direction::ServerToClient, TcpEnd::Fin, None).unwrap();
    b.end(t + 3, Direction::ClientToServer, TcpEnd::Fin, None).unwrap();
    Recording { events: b.drain(), ..Recording::default() }
}

fn chunks(bytes: &[u8], size: usize) -> Vec<&[u8]> {
    bytes.chunks(size).collect()
}

fn bench(c: &mut Criterion) {
    let started = Instant::now();
    let (a, b) = (build(false, 0x11, 4096), build(true, 0x99, 1500));
    let frames = |r: &Recording| r.frames().count();
    println!("built 2 recordings ({} and {} frames) in {:.2?}", frames(&a), frames(&b), started.elapsed());
    let opts = DiffOptions { timing: Some(Duration::from_millis(50)), ..DiffOptions::default() };
    let started = Instant::now();
    let outcome = diff_recordings(&a, &b, &opts, false);
    println!(
        "one diff: {:.2?}, {} changes, {} unified bytes",
        started.elapsed(),
        outcome.changes.len(),
        outcome.unified.len()
    );
    for change in &outcome.changes {
        println!("  - {change}");
    }
    let mut group = c.benchmark_group("diff");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("100k frames, few changes", |bench| {
        bench.iter(|| diff_recordings(black_box(&a), black_box(&b), &opts, false))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

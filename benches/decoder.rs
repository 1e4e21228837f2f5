//! Wire decoder throughput: decode and unmask client frames.
//!
//! A stream of masked binary frames is fed to a [`FrameDecoder`] in 64 KiB
//! pieces (the proxy's read size), the way the recorder sees it; every
//! event is consumed. `cargo bench --bench decoder`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wstap::wire::{Direction, FrameDecoder, FrameHeader, OpCode};

/// Bytes of frames per iteration.
const STREAM: usize = 4 << 20;
/// Bytes per `push`, as the relay reads them.
const READ: usize = 64 * 1024;

/// Masked binary frames of `size` payload bytes, about [`STREAM`] bytes in all.
fn stream(size: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let mut out = Vec::with_capacity(STREAM + size + 14);
    let mut n = 0u32;
    while out.len() < STREAM {
        let mask = Some(n.wrapping_mul(0x9e37_79b9).to_be_bytes());
        out.extend(FrameHeader { mask, ..FrameHeader::new(OpCode::BINARY, size as u64) }.encode_frame(&payload));
        n += 1;
    }
    out
}

fn decode(bytes: &[u8]) -> u64 {
    let mut decoder = FrameDecoder::new(Direction::ClientToServer, 0, 0);
    let mut payload = 0u64;
    for piece in bytes.chunks(READ) {
        decoder.push(piece, &mut |e| {
            if let wstap::wire::Event::Payload(p) = &e {
                payload += p.len() as u64;
            }
            black_box(e);
        });
    }
    payload
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode+unmask");
    for (name, size) in [("64 B frames", 64), ("64 KiB frames", 64 * 1024)] {
        let bytes = stream(size);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| b.iter(|| decode(black_box(&bytes))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Capture export throughput: items to pcap/pcapng bytes.
//!
//! The recorder's `--pcap` tee pushes each read (≤ 256 KiB) as one item to a
//! [`Writer`]; here the output is a `BufWriter` over `io::sink()`, so the
//! figure is packet synthesis and record framing only, no file system.
//! `cargo bench --bench pcap`.

use std::io::{self, BufWriter};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wstap::pcap::{Format, Item, Writer};
use wstap::wire::Direction;

/// Payload bytes per iteration.
const STREAM: usize = 1 << 20;

fn export(c: &mut Criterion) {
    let mut group = c.benchmark_group("pcap export");
    for (name, read) in [("64 KiB reads", 64 * 1024), ("64 B reads", 64)] {
        let item = Item::Data(Bytes::from((0..read).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>()));
        for format in [Format::Pcap, Format::PcapNg] {
            group.throughput(Throughput::Bytes(STREAM as u64));
            group.bench_function(format!("{name}, {format:?}"), |b| {
                let out = BufWriter::with_capacity(64 * 1024, io::sink());
                let (client, server) = ("192.0.2.1:50000".parse().unwrap(), "192.0.2.2:80".parse().unwrap());
                let mut writer = Writer::new(out, format, client, server, 0).unwrap();
                let mut at = 0;
                b.iter(|| {
                    for n in 0..STREAM / read {
                        let dir = if n % 2 == 0 { Direction::ClientToServer } else { Direction::ServerToClient };
                        writer.push_unflushed(at, dir, &item).unwrap();
                        at += 1;
                    }
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);

//! Shared test data and helpers.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;

use crate::pcap::{Conversation, Flow, Item};
use crate::wire::{Direction, accept_key};

pub const C2S: Direction = Direction::ClientToServer;
pub const S2C: Direction = Direction::ServerToClient;
/// 2023-11-14T22:13:20.123456Z
pub const START_US: u64 = 1_700_000_000_123_456;
/// Size of the server's big text frame payload (more than two MSS).
pub const BIG: usize = 3000;
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Encodes one WebSocket frame (FIN set).
pub fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(bit | n as u8),
        n if n < 65536 => {
            out.push(bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

fn close(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// Upgrade, 101, two masked client texts in one read, a server text bigger
/// than one MSS, a close each way, then FIN from the server and the client.
pub fn ws_conversation(client: &str, server: &str) -> Conversation {
    let (client, server): (SocketAddr, SocketAddr) = (client.parse().unwrap(), server.parse().unwrap());
    let mut c = Conversation::new(client, server, START_US);
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(KEY)
    );
    let mut texts = frame(1, b"hello", Some([1, 2, 3, 4]));
    texts.extend(frame(1, b"second", Some([0xaa, 0xbb, 0xcc, 0xdd])));
    let big: Vec<u8> = (0..BIG).map(|i| b'a' + (i % 26) as u8).collect();
    let items = [
        (1_000, C2S, request.into_bytes()),
        (2_000, S2C, response.into_bytes()),
        (3_000, C2S, texts),
        (4_000, S2C, frame(1, &big, None)),
        (5_000, C2S, frame(8, &close(1000, "bye"), Some([9, 8, 7, 6]))),
        (6_000, S2C, frame(8, &close(1000, ""), None)),
    ];
    for (at, dir, data) in items {
        c.push(at, dir, Item::Data(Bytes::from(data)));
    }
    c.push(7_000, S2C, Item::Fin);
    c.push(8_000, C2S, Item::Fin);
    c
}

/// The conversation as (direction, item) with adjacent data of one
/// direction merged: what survives segmentation and reassembly.
pub fn logical(c: &Conversation) -> Vec<(Direction, Item)> {
    let mut out: Vec<(Direction, Item)> = Vec::new();
    for e in &c.entries {
        if let (Some((dir, Item::Data(prev))), Item::Data(more)) = (out.last_mut(), &e.item)
            && *dir == e.dir
        {
            *prev = Bytes::from([&prev[..], &more[..]].concat());
            continue;
        }
        out.push((e.dir, e.item.clone()));
    }
    out
}

/// All Ethernet frames of a conversation, as the writer would emit them.
pub fn frames(c: &Conversation) -> Vec<(Duration, Vec<u8>)> {
    let mut flow = Flow::new(c.client, c.server, c.start_us);
    let mut packets = flow.handshake();
    for e in &c.entries {
        packets.extend(flow.push(e.at_us, e.dir, &e.item));
    }
    packets.into_iter().map(|p| (p.ts, p.data)).collect()
}

/// A classic little-endian microsecond pcap; each record is
/// (time, captured bytes, original length).
pub fn raw_pcap(link: u32, snaplen: u32, records: &[(Duration, Vec<u8>, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, snaplen, link] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for (ts, data, orig) in records {
        let fields = [ts.as_secs() as u32, ts.subsec_micros(), data.len() as u32, *orig];
        fields.iter().for_each(|f| out.extend_from_slice(&f.to_le_bytes()));
        out.extend_from_slice(data);
    }
    out
}

/// Rewrites an Ethernet frame for another link type.
pub fn relink(eth: &[u8], link: u32) -> Vec<u8> {
    let (ether_type, ip) = (&eth[12..14], &eth[14..]);
    let v6 = ip[0] >> 4 == 6;
    let mut out = match link {
        113 => [&[0, 4, 0, 1, 0, 6][..], &eth[6..12], &[0, 0], ether_type].concat(),
        276 => [ether_type, &[0, 0, 0, 0, 0, 1, 0, 1, 4, 6], &eth[6..12], &[0, 0]].concat(),
        0 => (if v6 { 24u32 } else { 2 }).to_le_bytes().to_vec(),
        108 => (if v6 { 24u32 } else { 2 }).to_be_bytes().to_vec(),
        _ => Vec::new(),
    };
    out.extend_from_slice(ip);
    out
}

/// Whether an external tool can be run; prints why a test is skipped.
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: `{tool}` is not installed (apt-get install tshark tcpdump)");
    }
    ok
}

/// Runs a tool and returns its stdout, asserting success.
pub fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{tool} {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

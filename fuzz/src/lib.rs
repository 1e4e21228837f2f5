//! The bodies of wstap's fuzz targets, one function per target.
//!
//! Each takes arbitrary bytes and panics only when a promise of the format
//! or the wire core is broken (a round trip that does not return its input,
//! a byte not accounted for) or when wstap itself panics. The files in
//! `fuzz_targets/` hand libFuzzer's input to these; the root crate's
//! integration tests compile this same file and run every input under
//! `fuzz/regressions/<target>/` through [`run`] on stable, so a crash once
//! found stays fixed. Uses nothing but `wstap` and `std` for that reason.

use std::path::{Path, PathBuf};
use wstap::session::{Direction, MemoryStore, PayloadStore, Recording, SessionBuilder, Side, TcpEnd};
use wstap::wire::{self, Event, FrameDecoder};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of `fuzz_targets/*.rs`).
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_decoder", frame_decoder),
    ("handshake", handshake),
    ("utf8", utf8),
    ("deflate_roundtrip", deflate_roundtrip),
    ("session_rebuild", session_rebuild),
    ("recording_roundtrip", recording_roundtrip),
    ("recording_loader", recording_loader),
    ("pcap_import", pcap_import),
    ("scenario", scenario),
];

/// Runs target `name` on `data`; panics on an unknown name.
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = TARGETS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no fuzz target {name}"));
    target(data)
}

/// Chunk sizes drawn from `seed` (a tiny xorshift), 1 to 64 bytes.
fn chunks(seed: u8, data: &[u8]) -> Vec<&[u8]> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let (piece, tail) = rest.split_at((state % 64 + 1).min(rest.len() as u32) as usize);
        out.push(piece);
        rest = tail;
    }
    out
}

/// Decoder events with payload pieces joined per frame, so that two
/// chunkings compare equal; and the bytes accounted for.
fn decode(dir: Direction, rsv: u8, pieces: &[&[u8]]) -> (Vec<String>, u64) {
    let mut dec = FrameDecoder::new(dir, 0, rsv);
    let mut events: Vec<String> = Vec::new();
    let mut payload: Option<Vec<u8>> = None;
    let mut accounted = 0u64;
    let mut sink = |e: Event<'_>| {
        if let Event::Payload(p) = e {
            accounted += p.len() as u64;
            payload.get_or_insert_with(Vec::new).extend_from_slice(p);
            return;
        }
        if let Some(p) = payload.take() {
            events.push(format!("payload {p:?}"));
        }
        match &e {
            Event::FrameStart { offset, header } => {
                assert_eq!(*offset, accounted, "a frame starts where the previous bytes end");
                accounted += header.encoded_len() as u64;
            }
            Event::Raw { offset, bytes, .. } => {
                assert_eq!(*offset, accounted, "raw bytes start where the previous bytes end");
                accounted += bytes.len() as u64;
            }
            _ => {}
        }
        events.push(format!("{e:?}"));
    };
    for piece in pieces {
        dec.push(piece, &mut sink);
    }
    dec.finish(&mut sink);
    if let Some(p) = payload.take() {
        events.push(format!("payload {p:?}"));
    }
    (events, accounted)
}

/// The frame decoder: chunking does not change the events, and every byte
/// is a header, payload or raw byte.
pub fn frame_decoder(data: &[u8]) {
    let Some((&knobs, stream)) = data.split_first() else { return };
    let dir = if knobs & 1 == 0 { Direction::ClientToServer } else { Direction::ServerToClient };
    let rsv = (knobs >> 1) & 7;
    let (whole, accounted) = decode(dir, rsv, &[stream]);
    assert_eq!(accounted, stream.len() as u64, "every byte accounted for");
    let (chunked, _) = decode(dir, rsv, &chunks(knobs, stream));
    assert_eq!(whole, chunked, "chunking changed the events");
}

/// Handshake parsing and extension negotiation: no panic on any head, and
/// an agreement reads back as the parameters agreed.
pub fn handshake(data: &[u8]) {
    let end = wire::find_head_end(data);
    if let Some(end) = end {
        assert!(end <= data.len());
    }
    let head = &data[..end.unwrap_or(data.len())];
    for parsed in [wire::Head::parse_request(head), wire::Head::parse_response(head)] {
        let Ok(h) = parsed else { continue };
        let _ = (h.is_websocket_request(), h.is_websocket_response());
        let key = h.header("sec-websocket-key").unwrap_or_default();
        let _ = wire::accept_key(&key);
        let negotiated = wire::Negotiated::from_response(&h);
        let _ = negotiated.allowed_rsv();
        if let Some(ext) = negotiated.deflate() {
            let _ = wire::DeflateParams::from_extension_lenient(ext);
        }
        let offers = h.header("sec-websocket-extensions").unwrap_or_default();
        negotiate(&offers, &String::from_utf8_lossy(head));
    }
    negotiate(&String::from_utf8_lossy(data), "permessage-deflate; client_max_window_bits");
}

fn negotiate(offers: &str, wanted: &str) {
    use wire::deflate::negotiate::{negotiate, wanted as wanted_params};
    let offers = wire::handshake::parse_extensions(offers);
    for ext in &offers {
        let _ = wire::DeflateParams::from_extension(ext);
        let _ = wire::DeflateParams::from_extension_lenient(ext);
    }
    let Some(wanted) = wanted_params(wanted).or_else(|| wanted_params("permessage-deflate")) else { return };
    if let Some(agreement) = negotiate(&offers, &wanted) {
        let answer = wire::handshake::parse_extensions(&agreement.element);
        assert_eq!(answer.len(), 1, "{:?}", agreement.element);
        let back = wire::DeflateParams::from_extension(&answer[0]);
        assert_eq!(back.as_ref(), Ok(&agreement.params), "{:?}", agreement.element);
    }
}

/// The streaming UTF-8 validator agrees with the standard library, in any
/// chunking, on where the first error is.
pub fn utf8(data: &[u8]) {
    let Some((&seed, text)) = data.split_first() else { return };
    let mut v = wire::Utf8Validator::new();
    let mut verdict = Ok(());
    for piece in chunks(seed, text) {
        if let Err(at) = v.feed(piece) {
            verdict = verdict.and(Err(at));
        }
    }
    verdict = verdict.and(v.finish());
    let std = std::str::from_utf8(text).map_err(|e| e.valid_up_to() as u64);
    assert_eq!(verdict, std.map(drop), "{text:?}");
}

/// Deflate then inflate is the identity, under every window size and both
/// takeover modes; inflating anything never passes the cap.
pub fn deflate_roundtrip(data: &[u8]) {
    let Some((&knobs, rest)) = data.split_first() else { return };
    let bits = 9 + knobs % 7;
    let no_takeover = knobs & 0x80 != 0;
    let mut deflater = wire::Deflater::new(bits, no_takeover).expect("9 to 15 bits");
    let mut inflater = wire::Inflater::new(no_takeover);
    for message in chunks(knobs, rest) {
        let compressed = deflater.compress_message(message);
        assert_eq!(inflater.inflate_message(&compressed).as_deref(), Ok(message), "{bits} bits");
    }
    let cap = u64::from(knobs) * 16;
    let mut any = wire::Inflater::new(knobs & 1 == 0).with_cap(cap);
    let mut got = 0u64;
    for piece in chunks(knobs.rotate_left(3), rest) {
        any.push(piece, &mut |c| got += c.len() as u64);
    }
    let done = any.end_message(&mut |c| got += c.len() as u64);
    assert!(got <= cap && done.len <= cap, "{got} inflated past the cap {cap}");
}

/// A connection script decoded from fuzz bytes: who sent what, when each
/// side ended. See [`Script::parse`].
#[derive(Debug, Default)]
pub struct Script {
    /// Which canned upgrade starts the connection (0: none).
    pub preamble: u8,
    /// Reads and endings, in order.
    pub steps: Vec<Step>,
}

/// Most bytes a script's reads may add up to (repeats included), for the
/// in-memory `session_rebuild`.
pub const MAX_SCRIPT_BYTES: usize = 16 * 1024 * 1024;

/// Most bytes for `recording_roundtrip`, which writes and loads YAML: a few
/// MiB of tiny frames are millions of events, and writing them under the
/// fuzzer's instrumentation took 77 s for one 14 MB input (a timeout, not a
/// finding). 256 KiB still holds frames large enough for the sidecars.
pub const MAX_ROUNDTRIP_BYTES: usize = 256 * 1024;

/// One step of a [`Script`].
#[derive(Debug)]
pub enum Step {
    /// One TCP read.
    Read(Direction, Vec<u8>),
    /// One side ended TCP.
    End(Direction, TcpEnd),
}

/// A client request that upgrades, offering permessage-deflate.
pub const REQUEST: &[u8] = b"GET /fuzz HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// The server's 101, without and with permessage-deflate.
pub const RESPONSES: [&[u8]; 2] = [
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
];

impl Script {
    /// Byte 0 picks the preamble (0 none, 1 plain upgrade, 2 with
    /// permessage-deflate). Then each step is an op byte `b`: bit 0 the
    /// direction, bits 1–2 the kind (0, 1: a read; 2: FIN, or RST if bit 3;
    /// 3: a read repeated `repeat_unit` × the next byte times). A read's
    /// length is the next byte + 1, or with bit 4 the next two bytes
    /// (little-endian); its bytes follow.
    pub fn parse(data: &[u8], repeat_unit: usize, max_total: usize) -> Script {
        let mut it = data.iter().copied();
        let mut script = Script { preamble: it.next().unwrap_or(0) % 3, steps: Vec::new() };
        let mut total = 0usize;
        while let Some(b) = it.next() {
            let dir = if b & 1 == 0 { Direction::ClientToServer } else { Direction::ServerToClient };
            let kind = (b >> 1) & 3;
            if kind == 2 {
                script.steps.push(Step::End(dir, if b & 8 == 0 { TcpEnd::Fin } else { TcpEnd::Rst }));
                continue;
            }
            let times = if kind == 3 { usize::from(it.next().unwrap_or(1)) * repeat_unit } else { 1 };
            let len = if b & 0x10 == 0 {
                usize::from(it.next().unwrap_or(0)) + 1
            } else {
                usize::from(u16::from_le_bytes([it.next().unwrap_or(0), it.next().unwrap_or(0)]))
            };
            let bytes: Vec<u8> = it.by_ref().take(len).collect();
            total += bytes.len() * times;
            if total > max_total {
                break;
            }
            if !bytes.is_empty() && times > 0 {
                script.steps.push(Step::Read(dir, bytes.repeat(times)));
            }
        }
        script
    }

    /// Encodes reads and endings so that [`Script::parse`] gives them back
    /// (for seeds made from real recordings).
    pub fn encode(preamble: u8, steps: &[Step]) -> Vec<u8> {
        let mut out = vec![preamble];
        for step in steps {
            match step {
                Step::End(dir, how) => out.push(4 | dir.index() as u8 | if *how == TcpEnd::Rst { 8 } else { 0 }),
                Step::Read(dir, bytes) => {
                    for piece in bytes.chunks(u16::MAX as usize) {
                        out.push(0x10 | dir.index() as u8);
                        out.extend_from_slice(&(piece.len() as u16).to_le_bytes());
                        out.extend_from_slice(piece);
                    }
                }
            }
        }
        out
    }

    /// Feeds the script to `builder` as the proxy would (reads after an
    /// end of their direction are dropped, as the proxy never reads them).
    fn feed<S: wstap::session::PayloadStore>(&self, builder: &mut SessionBuilder<S>) -> Vec<(Direction, Vec<u8>)> {
        let mut fed = Vec::new();
        let mut at = 0;
        let mut read = |b: &mut SessionBuilder<S>, dir: Direction, bytes: &[u8], at: u64| {
            if !b.has_ended(dir) {
                b.read(at, dir, bytes).expect("store");
                fed.push((dir, bytes.to_vec()));
            }
        };
        if self.preamble > 0 {
            read(builder, Direction::ClientToServer, REQUEST, 0);
            read(builder, Direction::ServerToClient, RESPONSES[usize::from(self.preamble - 1)], 0);
        }
        for step in &self.steps {
            at += 1;
            match step {
                Step::Read(dir, bytes) => read(builder, *dir, bytes, at),
                Step::End(dir, how) if !builder.has_ended(*dir) => builder.end(at, *dir, *how, None).expect("store"),
                Step::End(..) => {}
            }
        }
        builder.finish().expect("store");
        fed
    }
}

/// Every read of `dir`, as fed.
fn sent(fed: &[(Direction, Vec<u8>)], dir: Direction) -> Vec<Vec<u8>> {
    fed.iter().filter(|(d, _)| *d == dir).map(|(_, b)| b.clone()).collect()
}

/// Decoding a connection into session events and rebuilding its streams
/// from them gives back every read exactly. The memory store's bytes are
/// written out as the sidecar files its references name.
pub fn session_rebuild(data: &[u8]) {
    let script = Script::parse(data, 1, MAX_SCRIPT_BYTES);
    let mut builder = SessionBuilder::new(MemoryStore::default());
    let fed = script.feed(&mut builder);
    let events = builder.drain();
    let store = builder.into_store();
    let dir = scratch("rebuild");
    for d in Direction::BOTH {
        let wire = MemoryStore::default().file_name(d);
        std::fs::write(dir.join(wire), &store.bytes[d.index()]).expect("write the store");
    }
    let rec = Recording { wstap_recording: 1, events, dir: Some(dir), ..Recording::default() };
    check_rebuild(&rec, &fed);
    let _ = rec.summary();
}

fn check_rebuild(rec: &Recording, fed: &[(Direction, Vec<u8>)]) {
    for dir in Direction::BOTH {
        let chunks = rec.read_chunks(dir).unwrap_or_else(|e| panic!("{dir:?} does not rebuild: {e}"));
        let got: Vec<Vec<u8>> = chunks.into_iter().map(|c| c.1).collect();
        assert_eq!(got, sent(fed, dir), "{dir:?} reads");
    }
}

/// A scratch directory of this process, emptied for each input.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wstap-fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Most events a `recording_roundtrip` script may record and still be
/// loaded back.
pub const MAX_LOADED_EVENTS: u64 = 100_000;

/// A recording written to disk (YAML and sidecars) loads back and rebuilds
/// every read exactly; large reads exercise the sidecars.
pub fn recording_roundtrip(data: &[u8]) {
    let script = Script::parse(data, 4096, MAX_ROUNDTRIP_BYTES);
    let dir = scratch("roundtrip");
    let path = dir.join("r.yaml");
    let header = Recording {
        wstap_recording: wstap::session::FORMAT_VERSION,
        started: "2026-11-24T10:00:00.000000Z".into(),
        client: "127.0.0.1:1".into(),
        server: "127.0.0.1:2".into(),
        ..Recording::default()
    };
    let mut live = wstap::store::LiveRecording::create(&path, &header).expect("create");
    let fed = script.feed(live.builder());
    let recorded = live.close().expect("close");
    if recorded.events > MAX_LOADED_EVENTS {
        // Loading holds every event in memory (about 1 KiB each): a script
        // of a few MiB of tiny frames would decode to millions of events
        // and exhaust the fuzzer's memory limit, which is a known cost of
        // the loader, not a finding. Large payloads still load (sidecars).
        return;
    }
    let rec = wstap::store::load(&path).unwrap_or_else(|e| panic!("a written recording does not load: {e}"));
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    assert_eq!(rec.events.len() as u64, recorded.events);
    assert_eq!(rec.summary.as_ref(), Some(&recorded.summary));
    check_rebuild(&rec, &fed);
}

/// The recording loader, and every consumer of what it loads, on any text:
/// errors, never panics. Sidecars resolve in an empty directory.
pub fn recording_loader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(mut rec) = wstap::store::load::parse(text) else { return };
    rec.dir = Some(empty_dir());
    consume(&rec);
}

fn empty_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wstap-fuzz-{}-empty", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Everything wstap does with a loaded recording.
fn consume(rec: &Recording) {
    let _ = rec.summary();
    for dir in Direction::BOTH {
        let _ = rec.read_chunks(dir);
    }
    for side in [Side::Server, Side::Client] {
        if let Ok(report) = wstap::report::from_recording(rec, side) {
            let _ = wstap::report::render_text(&report);
            let _ = wstap::report::render_json(&report);
            let _ = wstap::report::render_html(&report);
        }
    }
    if let Ok(conv) = wstap::convert::export::conversation(rec) {
        for format in [wstap::pcap::sink::Format::Pcap, wstap::pcap::sink::Format::PcapNg] {
            let _ = wstap::pcap::writer::write_to(Vec::new(), format, std::slice::from_ref(&conv));
        }
    }
    let _ = wstap::convert::har::har(rec);
    let opts = wstap::diff::DiffOptions { timing: Some(std::time::Duration::from_millis(1)), ..Default::default() };
    let _ = wstap::diff::diff_recordings(rec, rec, &opts, true).to_text();
    let _ = wstap::replay::from_recording::derive(rec, "fuzz", Default::default());
}

/// pcap and pcapng import: any file is an error or conversations, and the
/// recordings written from them load back and are consumable.
pub fn pcap_import(data: &[u8]) {
    if wstap::pcap::read_bytes(data).is_err() {
        return;
    }
    let dir = scratch("pcap");
    let input = dir.join("in.pcap");
    std::fs::write(&input, data).expect("write the capture");
    let out = dir.join("out");
    let Ok(converted) = wstap::convert::import::convert(&input, &out) else { return };
    for path in &converted.written {
        let rec = wstap::store::load(path).unwrap_or_else(|e| panic!("an imported recording does not load: {e}"));
        consume(&rec);
    }
}

/// Scenario load and compile: any text is an error or a plan.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(s) = wstap::scenario::Scenario::parse(text, Path::new("fuzz.yaml")) else { return };
    for as_recorded in [true, false] {
        for step in s.plan_with(as_recorded) {
            let _ = format!("{step:?}");
        }
    }
}

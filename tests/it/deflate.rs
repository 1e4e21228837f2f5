//! permessage-deflate through the recording proxy: Python `websockets` (an
//! independent implementation) on both ends, and raw peers for corrupt data
//! and a decompression bomb.
//!
//! The Python tests need `pip install websockets`; without it they print why
//! and pass without running, or fail when `CI` is set (`util::have`).

use crate::util::*;
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use wstap::session::{Data, Direction, EventKind, Message, Recording};
use wstap::wire::deflate::SYNC_TAIL;
use wstap::wire::{DEFAULT_INFLATE_CAP, Deflater, FrameHeader, OpCode};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

pub(crate) fn script(name: &str) -> String {
    format!("{}/tests/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// True if `python3` can import `websockets` (see [`have`]).
pub(crate) fn have_websockets(test: &str) -> bool {
    have(Tool::PythonWebsockets, test)
}

/// A Python server; killed when dropped.
pub(crate) struct PyServer {
    pub(crate) port: u16,
    _child: Child,
}

/// The Python echo server.
async fn py_server(settings: &Value) -> PyServer {
    py_server_from("pmd_echo_server.py", settings).await
}

/// The Python server `name` in `tests/python/`, once it is listening.
pub(crate) async fn py_server_from(name: &str, settings: &Value) -> PyServer {
    let mut child = Command::new("python3")
        .arg(script(name))
        .arg(settings.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within("python server ready", lines.next_line()).await.unwrap().expect("a READY line");
    let port = line.strip_prefix("READY ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
    PyServer { port, _child: child }
}

async fn py_client(url: &str, settings: &Value, messages: &Value) {
    let mut child = Command::new("python3")
        .arg(script("pmd_client.py"))
        .args([url, &settings.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(messages.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = within("python client", child.wait_with_output()).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.starts_with("OK"), "client failed: {stdout}\n{stderr}");
}

/// Messages that exercise inflation: small, large (sidecar), repeated
/// (context takeover), binary, unicode and fragmented.
pub(crate) fn sample_messages() -> (Value, Vec<Vec<u8>>) {
    // 20 000 pseudo-random letters: compress by about half alone, but a
    // second copy within the 32 KiB window is almost free.
    let mut x = 12345u32;
    let long: String = (0..20_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((x >> 16) % 26) as u8)
        })
        .collect();
    let binary: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect();
    let hex = wstap::session::data::hex(&binary);
    let spec = json!([
        {"text": "hello"},
        {"text": long},
        {"text": long},
        {"hex": hex},
        {"text": "κόσμε, fragmented into several frames ".repeat(50), "fragments": 3},
        {"text": ""},
    ]);
    let bytes = vec![
        b"hello".to_vec(),
        long.clone().into_bytes(),
        long.into_bytes(),
        binary,
        "κόσμε, fragmented into several frames ".repeat(50).into_bytes(),
        Vec::new(),
    ];
    (spec, bytes)
}

pub(crate) fn messages(rec: &Recording, dir: Direction) -> Vec<&Message> {
    rec.events_in(dir)
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

pub(crate) fn violations(rec: &Recording) -> Vec<(Direction, String, u64)> {
    rec.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Violation { kind, offset, .. } => Some((e.dir, kind.clone(), *offset)),
            _ => None,
        })
        .collect()
}

pub(crate) fn upgrade_extensions(rec: &Recording) -> String {
    rec.events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Upgrade { extensions, .. } => Some(extensions.clone().unwrap_or_default()),
            _ => None,
        })
        .expect("an upgrade event")
}

/// Records the Python client sending `spec` to the Python echo server
/// through the proxy (writing a capture too if `pcap` is set); returns the
/// recording, its path and the directory holding it.
pub(crate) async fn record_python(
    settings: &Value,
    spec: &Value,
    pcap: Option<wstap::pcap::Format>,
) -> (Recording, std::path::PathBuf, tempfile::TempDir) {
    let server = py_server(settings).await;
    let proxy =
        TestProxy::start_with(loopback(), std::net::SocketAddr::from(([127, 0, 0, 1], server.port)), pcap).await;
    py_client(&proxy.url(), settings, spec).await;
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    (rec, recorded[0].path.clone(), dir)
}

/// Runs the Python client against the Python server through the proxy and
/// checks that every message, both ways, is recorded inflated exactly.
async fn python_session(test: &str, settings: Value, expect_params: &[&str]) -> Option<Recording> {
    if !have_websockets(test) {
        return None;
    }
    let (spec, sent) = sample_messages();
    let (rec, _, dir) = record_python(&settings, &spec, None).await;
    let ext = upgrade_extensions(&rec);
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
    for p in expect_params {
        assert!(ext.contains(p), "{p} not negotiated: {ext}");
    }
    assert_eq!(violations(&rec), [], "no violations");
    for dir in [C2S, S2C] {
        let got = messages(&rec, dir);
        assert_eq!(got.len(), sent.len(), "{dir:?}");
        for (i, (m, want)) in got.iter().zip(&sent).enumerate() {
            assert!(m.compressed, "{dir:?} message {i} was sent compressed");
            let inflated = m.inflated.as_ref().unwrap_or_else(|| panic!("{dir:?} message {i} not inflated"));
            assert_eq!((inflated.len, inflated.cut), (want.len() as u64, false), "{dir:?} message {i}");
            assert_eq!(rec.data_bytes(m.shown_payload()).unwrap(), *want, "{dir:?} message {i}");
        }
        // websockets sends the 3 fragments, then an empty final frame.
        assert_eq!(got[4].frames, if dir == C2S { 4 } else { 1 }, "the client fragments message 4");
        assert!(matches!(got[3].inflated.as_ref().unwrap().data, Data::Sidecar(_)), "40 kB inflated: sidecar");
    }
    // Frames keep the wire payload: rebuilding the streams still works.
    for dir in [C2S, S2C] {
        rec.stream(dir).expect("streams rebuild from wire payloads");
    }
    drop(dir);
    Some(rec)
}

/// Wire length of the first and second copy of the long message.
fn repeated_lengths(rec: &Recording, dir: Direction) -> (u64, u64) {
    let m = messages(rec, dir);
    (m[1].len, m[2].len)
}

#[tokio::test]
async fn python_peers_with_context_takeover() {
    let Some(rec) = python_session("python_peers_with_context_takeover", json!({}), &[]).await else { return };
    for dir in [C2S, S2C] {
        let (first, second) = repeated_lengths(&rec, dir);
        assert!(second * 4 < first, "{dir:?}: the repeat refers back to the first copy ({first} vs {second})");
    }
}

#[tokio::test]
async fn python_peers_without_context_takeover() {
    let settings = json!({"server_no_context_takeover": true, "client_no_context_takeover": true});
    let params = ["server_no_context_takeover", "client_no_context_takeover"];
    let Some(rec) = python_session("python_peers_without_context_takeover", settings, &params).await else {
        return;
    };
    for dir in [C2S, S2C] {
        let (first, second) = repeated_lengths(&rec, dir);
        assert_eq!(first, second, "{dir:?}: each message compressed on its own");
    }
}

#[tokio::test]
async fn python_peers_with_small_windows() {
    let settings = json!({"server_max_window_bits": 9, "client_max_window_bits": 10});
    let params = ["server_max_window_bits=9", "client_max_window_bits=10"];
    python_session("python_peers_with_small_windows", settings, &params).await;
}

#[tokio::test]
async fn python_peers_with_mixed_settings() {
    let settings = json!({"server_no_context_takeover": true, "client_max_window_bits": 9});
    let params = ["server_no_context_takeover", "client_max_window_bits=9"];
    python_session("python_peers_with_mixed_settings", settings, &params).await;
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

fn deflate_response(params: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate{params}\r\n\r\n"
    )
    .into_bytes()
}

fn server_frame(op: OpCode, rsv: u8, payload: &[u8]) -> Vec<u8> {
    FrameHeader { rsv, ..FrameHeader::new(op, payload.len() as u64) }.encode_frame(payload)
}

/// A raw server sends `reply` (a 101 and frames) through the proxy to a raw
/// client; returns the recording after checking the bytes passed unchanged.
async fn raw_exchange(reply: Vec<u8>) -> (Recording, tempfile::TempDir) {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = reply.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(&sent).await.unwrap();
        s.shutdown().await.unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got).await;
        got
    });
    let proxy = TestProxy::start(addr).await;
    let mut client = TcpStream::connect(proxy.addr).await.unwrap();
    client.write_all(REQUEST).await.unwrap();
    client.shutdown().await.unwrap();
    let mut got = Vec::new();
    within("client read", client.read_to_end(&mut got)).await.unwrap();
    assert_eq!(within("server read", server).await.unwrap(), REQUEST, "the request passed unchanged");
    assert!(got.len() == reply.len() && digest(&got) == digest(&reply), "the reply passed unchanged");
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    (wstap::store::load(&recorded[0].path).unwrap(), dir)
}

#[tokio::test]
async fn corrupt_compressed_frames_are_violations_and_recording_goes_on() {
    let head = deflate_response("");
    let mut reply = head.clone();
    let garbage_at = reply.len() as u64;
    reply.extend(server_frame(OpCode::TEXT, 4, &[0xff, 0xfe, 0xfd, 0x00, 0x13, 0x37]));
    let bad_block_at = reply.len() as u64;
    // BFINAL=1 with the reserved block type 11, split over two frames.
    let mut fragmented = FrameHeader { rsv: 4, fin: false, ..FrameHeader::new(OpCode::BINARY, 0) }.encode_frame(&[]);
    fragmented.extend(server_frame(OpCode::CONTINUATION, 0, &[0x07, 0x00]));
    reply.extend(fragmented);
    // A fresh, self-contained message still inflates after the failures.
    reply.extend(server_frame(OpCode::TEXT, 4, &Deflater::new(15, true).unwrap().compress_message(b"after")));
    reply.extend(server_frame(OpCode::CLOSE, 0, &[0x03, 0xe8]));
    let (rec, _dir) = raw_exchange(reply).await;
    let v = violations(&rec);
    assert_eq!(v[0], (S2C, "inflate_failed".to_string(), garbage_at), "{v:?}");
    // Found in the second frame of the fragmented message.
    assert_eq!(v[1], (S2C, "inflate_failed".to_string(), bad_block_at + 2), "{v:?}");
    assert_eq!(v.len(), 2, "{v:?}");
    let m = messages(&rec, S2C);
    assert!(m[0].compressed && m[0].inflated.as_ref().unwrap().cut);
    assert_eq!(m[1].frames, 2);
    assert_eq!(m[2].shown_payload(), &Data::Text("after".into()));
    assert!(!m[2].inflated.as_ref().unwrap().cut);
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test]
async fn decompression_bomb_is_capped_with_bounded_memory() {
    // 1 GiB of zeros: a sync-flushed segment for 1 MiB, repeated. Each
    // segment is byte-aligned and refers back only to its own zeros.
    let mut segment = Vec::new();
    let mut def = Deflater::new(15, true).unwrap();
    def.push(&vec![0; 1024 * 1024], &mut segment);
    def.end_message(&mut segment);
    segment.extend_from_slice(&SYNC_TAIL);
    let mut bomb = segment.repeat(1024);
    bomb.truncate(bomb.len() - SYNC_TAIL.len());
    assert!(bomb.len() < 2 * 1024 * 1024, "1 GiB compresses to {} bytes", bomb.len());

    let mut reply = deflate_response("; server_no_context_takeover");
    let bomb_at = reply.len() as u64;
    reply.extend(server_frame(OpCode::BINARY, 4, &bomb));
    reply.extend(server_frame(OpCode::TEXT, 4, &Deflater::new(15, true).unwrap().compress_message(b"still here")));
    let before = peak_rss();
    let (rec, dir) = raw_exchange(reply).await;
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < 512 * 1024 * 1024, "peak memory grew by {grew} bytes inflating a 1 GiB bomb");

    // The connection's inflation budget (4 MiB + 64 per compressed byte)
    // runs out long before the per-message cap (64 MiB): a note, not a
    // violation, and the rest of the direction is recorded compressed only.
    assert!(violations(&rec).is_empty(), "{:?}", violations(&rec));
    let _ = bomb_at;
    let notes: Vec<&str> = rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { kind, .. } => Some(kind.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(notes, ["inflate_budget_exhausted"]);
    let m = messages(&rec, S2C);
    let inflated = m[0].inflated.as_ref().unwrap();
    let budget = wstap::session::INFLATE_BUDGET_SLACK + wstap::session::INFLATE_BUDGET_RATIO * bomb.len() as u64;
    assert!(inflated.cut && inflated.len < DEFAULT_INFLATE_CAP && inflated.len <= budget, "{inflated:?}");
    let Data::Sidecar(r) = &inflated.data else { panic!("{inflated:?}") };
    let sidecar = dir.path().join(&r.file);
    assert_eq!(std::fs::metadata(&sidecar).unwrap().len(), inflated.len, "{}", sidecar.display());
    assert_eq!(m[0].len, bomb.len() as u64, "the wire payload is the compressed size");
    assert_eq!(m[1].inflated, None, "past the budget, compressed only");
    let still_here = Deflater::new(15, true).unwrap().compress_message(b"still here");
    assert_eq!(rec.data_bytes(&m[1].payload).unwrap(), still_here, "the wire bytes are recorded");
}

/// HAR of a compressed python websockets session, read by an independent
/// reader (haralyzer): the inflated text, the wire form under `_wireData`.
#[tokio::test]
async fn har_of_a_compressed_session_holds_the_inflated_text() {
    let test = "har_of_a_compressed_session_holds_the_inflated_text";
    if !have_websockets(test) || !have(Tool::PythonHaralyzer, test) {
        return;
    }
    let texts = ["hello compressed world", "the same words again and again and again"];
    let spec: Value = texts.iter().map(|t| json!({"text": t})).collect();
    let (rec, path, _dir) = record_python(&json!({}), &spec, None).await;
    assert!(upgrade_extensions(&rec).starts_with("permessage-deflate"));
    let har = path.with_extension("har");
    let out = std::process::Command::new(wstap_bin()).arg("convert").arg(&path).arg(&har).output().unwrap();
    assert!(out.status.success(), "convert: {}", String::from_utf8_lossy(&out.stderr));
    let read = std::process::Command::new("python3").arg(script("read_har.py")).arg(&har).output().unwrap();
    assert!(read.status.success(), "haralyzer: {}", String::from_utf8_lossy(&read.stderr));
    let v: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert!(v["browser"]["name"].as_str().is_some_and(|b| b.contains("websockets")), "the client's User-Agent: {v}");
    assert!(v["port"].as_i64().is_some_and(|p| p > 0), "{v}");
    let data: Vec<&str> = v["messages"].as_array().unwrap().iter().map(|m| m["data"].as_str().unwrap()).collect();
    let want: Vec<&str> = texts.iter().flat_map(|t| [*t, *t]).collect();
    assert_eq!(data, want, "the inflated text of every message, as Chrome exports it: {v}");
    let all_wire =
        v["messages"].as_array().unwrap().iter().all(|m| m["_compressed"] == true && m["_wireData"].is_string());
    assert!(all_wire, "the wire form kept: {v}");
}

/// tshark's `websocket.payload.text` values for `file`, in frame order.
fn tshark_texts(file: &std::path::Path, rec: &Recording, decompress: bool) -> Vec<String> {
    let pref = format!("websocket.decompress:{}", if decompress { "TRUE" } else { "FALSE" });
    let path = file.to_str().unwrap();
    let mut args = vec!["-r", path, "-o", &pref, "-Y", "websocket", "-T", "fields", "-e", "websocket.payload.text"];
    let rules = crate::pcap::decode_as_for_claimed_ports(rec);
    args.extend(rules.iter().flat_map(|rule| ["-d", rule.as_str()]));
    let out = std::process::Command::new("tshark").args(args).output().expect("tshark runs");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    // One line per packet; several frames in one packet are comma-separated.
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().flat_map(|l| l.split(',')).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

#[tokio::test]
async fn exported_capture_of_compressed_session_inflates_in_tshark() {
    let test = "exported_capture_of_compressed_session_inflates_in_tshark";
    if !have_websockets(test) {
        return;
    }
    if !have(Tool::Tshark, test) {
        return;
    }
    // Context takeover on, so the repeat only inflates with the first
    // message's history: Wireshark must have seen the handshake and every
    // earlier message.
    let texts = ["hello compressed world", "the same words again and again and again", "the same words again"];
    let spec: Value = texts.iter().map(|t| json!({"text": t})).collect();
    let (rec, path, _dir) = record_python(&json!({}), &spec, None).await;
    assert!(upgrade_extensions(&rec).starts_with("permessage-deflate"));
    let exported = path.with_extension("pcap");
    let out = std::process::Command::new(wstap_bin()).arg("convert").arg(&path).arg(&exported).output().unwrap();
    assert!(out.status.success(), "convert: {}", String::from_utf8_lossy(&out.stderr));

    // Each message goes out and comes back: client text, then its echo.
    let want: Vec<String> = texts.iter().flat_map(|t| [t.to_string(), t.to_string()]).collect();
    let got = tshark_texts(&exported, &rec, true);
    if got != want {
        // Say what tshark made of each packet, and where the ends were, so
        // a failure explains itself.
        let listing = std::process::Command::new("tshark").arg("-r").arg(&exported).output().unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        panic!("tshark shows {got:?}, not the inflated text of every message {want:?}\n{}:\n{listing}", rec.server);
    }
    let raw = tshark_texts(&exported, &rec, false);
    assert!(raw.iter().all(|t| !texts.contains(&t.as_str())), "without inflating, no plain text: {raw:?}");
}

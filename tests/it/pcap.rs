//! Captures of real sessions, judged by tshark and read back.
//!
//! tokio-tungstenite peers talk through the in-process proxy with `--pcap`
//! on, over IPv4 and IPv6; the capture written beside the recording, and
//! the one `wstap convert` exports, must decode in tshark frame by frame
//! as the recording says, with no expert warnings. Captures import back to
//! the same frames; tcpdump captures of direct sessions (whole, and joined
//! after the handshake) import to recordings of what the peers sent; HAR
//! output carries the messages. Without tshark or tcpdump their tests skip
//! with a line on stderr, and fail when `CI` is set (`util::have`).

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::Message;
use wstap::pcap::{Format, Item};
use wstap::session::{Direction, EventKind, Recording};
use wstap::wire::LenForm;

const FIELDS: [&str; 9] = [
    "websocket.opcode",
    "websocket.fin",
    "websocket.payload_length",
    "websocket.payload_length_ext_16",
    "websocket.payload_length_ext_64",
    "websocket.masking_key",
    "websocket.payload.close.status_code",
    "websocket.payload.close.reason",
    "websocket.payload.text",
];

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every frame type, then a close with code and reason.
pub(crate) async fn full_session(mut ws: Ws) {
    every_frame_type(&mut ws).await;
    close_going_away(ws).await;
}

/// tshark's fields for `file`, one list per field: every value of that
/// field over the file, in frame order. (A packet carrying several frames
/// lists each field's values comma-separated, and fields absent from a
/// frame are simply missing, so columns are compared, not lines.)
fn tshark_columns(file: &Path, decode_as: &[String]) -> Vec<Vec<String>> {
    let extra: Vec<&str> = decode_as.iter().flat_map(|rule| ["-d", rule.as_str()]).collect();
    tshark_columns_with(file, &extra)
}

/// tshark's Decode As rules (`tcp.port==P,http`) for the recording's ports
/// that another dissector claims. tshark hands a TCP conversation to the
/// dissector registered for one of its ports before any heuristic looks at
/// it: on such a port (44818 is EtherNet/IP, 57000 IRC, among the ephemeral
/// ports the tests bind) the HTTP upgrade is never seen, whatever the
/// capture holds. That is what docs/pcap.md tells users to do there; on
/// every other port the captures must decode with no options.
pub(crate) fn decode_as_for_claimed_ports(rec: &Recording) -> Vec<String> {
    static CLAIMED: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    let claimed = CLAIMED.get_or_init(|| {
        let table = run("tshark", &["-G", "decodes"]);
        let ports = table.lines().filter_map(|l| l.strip_prefix("tcp.port\t")?.split('\t').next()?.parse().ok());
        let ports: Vec<u16> = ports.collect();
        assert!(ports.contains(&80), "tshark -G decodes lists the TCP port table:\n{table}");
        ports
    });
    let addresses = [Some(&rec.client), Some(&rec.server), rec.upstream.as_ref()];
    let ports = addresses.into_iter().flatten().filter_map(|a| a.rsplit(':').next()?.parse::<u16>().ok());
    let mut rules: Vec<String> = ports.filter(|p| claimed.contains(p)).map(|p| format!("tcp.port=={p},http")).collect();
    rules.dedup();
    rules
}

/// [`tshark_columns`] with extra tshark options (`-o tls.keylog_file:…`).
pub(crate) fn tshark_columns_with(file: &Path, extra: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-r", file.to_str().unwrap(), "-Y", "websocket", "-T", "fields", "-E", "separator=/t"];
    args.extend(extra);
    FIELDS.iter().for_each(|f| args.extend(["-e", f]));
    let mut cols = vec![Vec::new(); FIELDS.len()];
    for line in run("tshark", &args).lines() {
        for (col, value) in cols.iter_mut().zip(line.split('\t')) {
            col.extend(value.split(',').filter(|v| !v.is_empty()).map(str::to_string));
        }
    }
    cols
}

/// The same columns, as the recording says they must be.
pub(crate) fn expected_columns(rec: &Recording) -> Vec<Vec<String>> {
    let mut cols = vec![Vec::new(); FIELDS.len()];
    let mut text: [Option<Vec<u8>>; 2] = [None, None];
    for (event, f) in rec.frames() {
        let form = f.header().unwrap().len_form;
        let short = match form {
            LenForm::Bits7 => f.len,
            LenForm::Bits16 => 126,
            LenForm::Bits64 => 127,
        };
        cols[0].push(f.opcode.to_string());
        cols[1].push(u8::from(f.fin).to_string());
        cols[2].push(short.to_string());
        let ext = if form == LenForm::Bits16 { 3 } else { 4 };
        if form != LenForm::Bits7 {
            cols[ext].push(f.len.to_string());
        }
        cols[5].extend(f.mask.clone());
        cols[6].extend(f.close_code.map(|c| c.to_string()));
        cols[7].extend(f.close_reason.clone());
        let slot = &mut text[event.dir.index()];
        match f.opcode {
            1 => *slot = Some(Vec::new()),
            0 => {}
            _ => continue,
        }
        if let Some(acc) = slot.as_mut() {
            acc.extend(rec.data_bytes(&f.payload).unwrap());
        }
        if f.fin
            && let Some(done) = slot.take()
        {
            cols[8].push(String::from_utf8(done).unwrap());
        }
    }
    cols
}

/// tshark decodes `file` frame by frame as `rec` says, with no expert
/// warnings. Our own captures must decode with no options (but on ports
/// another dissector claims, [`decode_as_for_claimed_ports`]); for captures
/// made by tcpdump under load, `decode_as` pins the server port to HTTP,
/// because tshark's heuristic HTTP detection is not reliable on them.
pub(crate) fn check_tshark(file: &Path, rec: &Recording, expert_clean: bool, decode_as: Option<&str>) {
    let mut rules = decode_as_for_claimed_ports(rec);
    rules.extend(decode_as.map(str::to_string));
    let (got, want) = (tshark_columns(file, &rules), expected_columns(rec));
    assert!(want[0].len() >= 13, "the session has frames both ways");
    for ((name, g), w) in FIELDS.iter().zip(&got).zip(&want) {
        assert_eq!(g, w, "{}: tshark's {name} differs from the recording", file.display());
    }
    if !expert_clean {
        return;
    }
    let path = file.to_str().unwrap();
    let mut args = vec!["-r", path, "-o", "tcp.check_checksum:TRUE", "-q", "-z", "expert"];
    args.extend(rules.iter().flat_map(|rule| ["-d", rule.as_str()]));
    let expert = run("tshark", &args);
    for level in ["Errors", "Warns"] {
        assert!(!expert.contains(level), "{}: tshark expert info has {level}:\n{expert}", file.display());
    }
    assert!(expert.contains("Chats"), "{}: no expert info at all:\n{expert}", file.display());
}

/// Header fields, mask and payload digest, one line per frame, in order.
fn frame_dump(rec: &Recording) -> Vec<String> {
    rec.frames()
        .map(|(e, f)| {
            let bytes = rec.data_bytes(&f.payload).unwrap();
            let (dir, off, fin, rsv, op, len) = (e.dir.short(), f.offset, f.fin, f.rsv, f.opcode, f.len);
            format!("{dir} @{off} fin={fin} rsv={rsv} op={op} mask={:?} len={len} {}", f.mask, digest(&bytes))
        })
        .collect()
}

fn convert(input: &Path, output: &Path) {
    let out = Command::new(wstap_bin()).arg("convert").arg(input).arg(output).output().unwrap();
    assert!(out.status.success(), "convert {input:?} {output:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn only_recording(dir: &Path) -> Recording {
    let files = yaml_files(dir);
    assert_eq!(files.len(), 1, "one recording expected in {dir:?}");
    wstap::store::load(&files[0]).unwrap()
}

/// Records the full session through a `--pcap` proxy listening on `bind`.
async fn record_with_pcap(bind: SocketAddr) -> (Recording, PathBuf, tempfile::TempDir) {
    let server = tungstenite_echo_at(bind).await;
    let proxy = TestProxy::start_with(bind, server, Some(Format::Pcap)).await;
    let (ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    full_session(ws).await;
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    assert_eq!(rec.server, server.to_string(), "the capture's server is the real upstream");
    (rec, recorded[0].path.with_extension("pcap"), dir)
}

async fn record_pcap_and_convert(bind: SocketAddr, test: &str) {
    let (rec, live, dir) = record_with_pcap(bind).await;
    assert!(live.exists(), "--pcap writes {live:?} beside the recording");
    assert_eq!(rec.summary().violations, 0);
    let yaml = live.with_extension("yaml");

    // The converted capture is the live one, byte for byte.
    let exported = dir.path().join("exported.pcap");
    convert(&yaml, &exported);
    assert!(std::fs::read(&exported).unwrap() == std::fs::read(&live).unwrap(), "convert .pcap == --pcap output");

    // Round trip: capture -> recording gives the same frames, masks included.
    let imported = dir.path().join("imported");
    convert(&live, &imported);
    let back = only_recording(&imported);
    assert_eq!(back.source.as_deref(), Some("import"));
    assert_eq!((&back.client, &back.server), (&rec.client, &rec.server));
    assert!(back.notes.is_empty(), "{:?}", back.notes);
    assert_eq!(frame_dump(&back), frame_dump(&rec));
    for d in Direction::BOTH {
        assert_eq!(back.stream(d).unwrap(), rec.stream(d).unwrap());
    }

    if have(Tool::Tshark, test) {
        check_tshark(&live, &rec, true, None);
        let ng = dir.path().join("exported.pcapng");
        convert(&yaml, &ng);
        check_tshark(&ng, &rec, true, None);
    }
}

#[tokio::test]
async fn record_pcap_ipv4_decodes_in_tshark_and_round_trips() {
    record_pcap_and_convert(loopback(), "record_pcap_ipv4_decodes_in_tshark_and_round_trips").await;
}

/// On a port another dissector claims (44818, EtherNet/IP) tshark never
/// sees the upgrade, and `-d tcp.port==44818,http` (docs/pcap.md) is what
/// makes it decode the capture; this is why the tshark checks above add
/// that rule when the OS happens to pick such a port.
#[tokio::test]
async fn capture_on_a_port_another_dissector_claims_decodes_with_decode_as() {
    let test = "capture_on_a_port_another_dissector_claims_decodes_with_decode_as";
    if !have(Tool::Tshark, test) {
        return;
    }
    let (rec, live, dir) = record_with_pcap(loopback()).await;
    // The same recording, as if the upstream had listened on 44818.
    let path = live.with_extension("yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let server = format!("server: {}\n", rec.server);
    assert!(yaml.contains(&server), "{yaml}");
    std::fs::write(&path, yaml.replacen(&server, "server: 127.0.0.1:44818\n", 1)).unwrap();
    let rec = wstap::store::load(&path).unwrap();
    let exported = dir.path().join("moved.pcap");
    convert(&path, &exported);
    assert_eq!(decode_as_for_claimed_ports(&rec), ["tcp.port==44818,http"]);
    assert!(tshark_columns(&exported, &[])[0].is_empty(), "tshark hands port 44818 to another dissector");
    check_tshark(&exported, &rec, true, None);
}

#[tokio::test]
async fn record_pcap_ipv6_decodes_in_tshark_and_round_trips() {
    record_pcap_and_convert(loopback_v6(), "record_pcap_ipv6_decodes_in_tshark_and_round_trips").await;
}

#[tokio::test]
async fn har_carries_messages_and_closes() {
    let (rec, live, dir) = record_with_pcap(loopback()).await;
    let har_path = dir.path().join("session.har");
    convert(&live.with_extension("yaml"), &har_path);
    let har: serde_json::Value = serde_json::from_slice(&std::fs::read(&har_path).unwrap()).unwrap();
    let entry = &har["log"]["entries"][0];
    assert_eq!(entry["_resourceType"], "websocket");
    assert_eq!(entry["request"]["method"], "GET");
    let url = entry["request"]["url"].as_str().unwrap();
    assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with("/test"), "{url}");
    assert_eq!(entry["response"]["status"], 101);
    let msgs = entry["_webSocketMessages"].as_array().unwrap();
    let of = |kind: &str| msgs.iter().filter(|m| m["type"] == kind).cloned().collect::<Vec<_>>();
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for kind in ["send", "receive"] {
        let m = of(kind);
        assert_eq!(m.len(), 4, "{kind}: {m:?}");
        assert_eq!((m[0]["opcode"].as_u64(), m[0]["data"].as_str()), (Some(1), Some("hello")));
        assert_eq!((m[1]["opcode"].as_u64(), m[1]["data"].as_str()), (Some(2), Some("AAEC/w==")));
        assert_eq!(m[2]["data"], "fragment");
        assert_eq!(m[3]["data"].as_str().unwrap(), b64(&big_payload()));
        let started = wstap::session::time::parse_rfc3339(&rec.started).unwrap() as f64 / 1e6;
        assert!(m.iter().all(|x| x["time"].as_f64().unwrap() >= started));
    }
    assert_eq!(of("send")[2]["_frames"], 2, "fragment count of the client's fragmented message");
    assert!(of("receive")[2].get("_frames").is_none());
    assert_eq!(entry["_webSocketClose"]["client"]["code"], 1001);
    assert_eq!(entry["_webSocketClose"]["client"]["reason"], "bye now");
    assert_eq!(entry["_webSocketClose"]["closedFirstBy"], "client");
    let control = entry["_webSocketControlFrames"].as_array().unwrap();
    assert!(control.iter().any(|c| c["opcode"] == 9 && c["type"] == "send"));
    assert!(control.iter().any(|c| c["opcode"] == 10 && c["type"] == "receive"));
}

/// tcpdump on `lo`, stopped with SIGINT (this process's own child) on drop.
pub(crate) struct Tcpdump(Child);

impl Tcpdump {
    pub(crate) fn start(file: &Path, port: u16) -> Tcpdump {
        let filter = format!("tcp port {port}");
        let mut child = Command::new("tcpdump")
            // A 64 MiB kernel buffer: 1 MiB bursts on loopback overflow the
            // default one on a busy machine, and dropped packets are gaps.
            .args(["-i", "lo", "-U", "-B", "65536", "-w", file.to_str().unwrap(), &filter])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ready = lines.by_ref().map_while(Result::ok).any(|l| l.contains("listening on"));
            let _ = tx.send(ready);
            lines.for_each(drop);
        });
        let ready = rx.recv_timeout(STEP).unwrap_or(false);
        let dump = Tcpdump(child);
        assert!(ready, "tcpdump never printed its \"listening on\" line");
        dump
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// Waits until the capture holds a conversation with both FINs.
pub(crate) async fn wait_for_both_fins(file: &Path) {
    within("capture shows the connection closed", async {
        loop {
            let closed = wstap::pcap::read(file).is_ok_and(|c| {
                c.conversations.iter().any(|conv| conv.entries.iter().filter(|e| e.item == Item::Fin).count() == 2)
            });
            if closed {
                return;
            }
            // Polling tcpdump's output file for a condition, not sleeping for readiness.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
}

fn c2s_ops(rec: &Recording) -> Vec<u8> {
    rec.frames().filter(|(e, _)| e.dir == Direction::ClientToServer).map(|(_, f)| f.opcode).collect()
}

async fn tcpdump_direct_session(bind: SocketAddr, test: &str) {
    let server = tungstenite_echo_at(bind).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lo.pcap");
    let dump = Tcpdump::start(&file, server.port());
    let (ws, _) = within("connect", tokio_tungstenite::connect_async(format!("ws://{server}/direct"))).await.unwrap();
    full_session(ws).await;
    wait_for_both_fins(&file).await;
    drop(dump);

    let out = dir.path().join("recs");
    convert(&file, &out);
    let rec = only_recording(&out);
    assert_eq!(rec.source.as_deref(), Some("import"));
    assert_eq!(rec.server, server.to_string());
    assert_eq!(c2s_ops(&rec), [1, 2, 1, 0, 9, 2, 8]);
    let big = rec.frames().find(|(e, f)| e.dir == Direction::ClientToServer && f.len > 1000).unwrap().1;
    assert_eq!(rec.data_bytes(&big.payload).unwrap(), big_payload());
    let s = rec.summary();
    assert!(s.upgraded && s.clean);
    assert_eq!(s.violations, 0);
    assert_eq!(s.client_close.unwrap().reason.as_deref(), Some("bye now"));
    let odd: Vec<_> =
        rec.events.iter().filter(|e| matches!(e.kind, EventKind::Gap { .. } | EventKind::Raw { .. })).collect();
    assert!(odd.is_empty(), "{odd:?}\nnotes: {:?}", rec.notes);
    if have(Tool::Tshark, test) {
        check_tshark(&file, &rec, false, Some(&format!("tcp.port=={},http", server.port())));
    }
}

#[tokio::test]
async fn tcpdump_capture_ipv4_imports_to_the_frames_sent() {
    if have(Tool::Tcpdump, "tcpdump_capture_ipv4_imports_to_the_frames_sent") {
        tcpdump_direct_session(loopback(), "tcpdump_capture_ipv4_imports_to_the_frames_sent").await;
    }
}

#[tokio::test]
async fn tcpdump_capture_ipv6_imports_to_the_frames_sent() {
    if have(Tool::Tcpdump, "tcpdump_capture_ipv6_imports_to_the_frames_sent") {
        tcpdump_direct_session(loopback_v6(), "tcpdump_capture_ipv6_imports_to_the_frames_sent").await;
    }
}

#[tokio::test]
async fn capture_started_after_the_handshake_imports_from_the_first_frame() {
    if !have(Tool::Tcpdump, "capture_started_after_the_handshake_imports_from_the_first_frame") {
        return;
    }
    let server = tungstenite_echo_at(loopback()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late.pcap");
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(format!("ws://{server}/late"))).await.unwrap();
    ws.send(Message::text("before the capture")).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    let dump = Tcpdump::start(&file, server.port());
    ws.send(Message::text("first seen")).await.unwrap();
    ws.send(Message::binary(vec![9u8; 300])).await.unwrap();
    for _ in 0..2 {
        within("echo", ws.next()).await.unwrap().unwrap();
    }
    close_going_away(ws).await;
    wait_for_both_fins(&file).await;
    drop(dump);

    let out = dir.path().join("recs");
    convert(&file, &out);
    let rec = only_recording(&out);
    assert!(rec.notes.iter().any(|n| n.contains("handshake not captured")), "{:?}", rec.notes);
    assert!(rec.head(Direction::ClientToServer).is_none());
    assert_eq!(rec.server, server.to_string(), "the side sending masked frames is the client");
    assert_eq!(c2s_ops(&rec), [1, 2, 8]);
    let texts: Vec<String> =
        rec.frames().filter(|(_, f)| f.opcode == 1).filter_map(|(_, f)| f.payload.as_text()).collect();
    assert_eq!(texts[..2], ["first seen".to_string(), "first seen".to_string()]);
    assert_eq!(rec.summary().client_close.unwrap().code, Some(1001));
    assert_eq!(rec.summary().violations, 0);
}

#[test]
fn convert_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture").unwrap();
    let yaml = dir.path().join("bad.yaml");
    std::fs::write(&yaml, "hello: world\n").unwrap();
    let cases: [(&Path, &str, &str); 3] = [
        (&junk, "out", "not a pcap or pcapng capture"),
        (&yaml, "x.pcap", "not a wstap recording"),
        (&yaml, "x.txt", "expected REC.yaml to OUT.pcap"),
    ];
    for (input, output, expect) in cases {
        let out = Command::new(wstap_bin()).arg("convert").arg(input).arg(dir.path().join(output)).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{input:?}: {stderr}");
        assert!(stderr.contains(expect) && stderr.contains(input.to_str().unwrap()), "{stderr}");
    }
}

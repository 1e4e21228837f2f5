//! Fault rules (`--fault`) against real peers: Python `websockets` and
//! tokio-tungstenite, each as client and as server, through the recording
//! proxy. Every wait is on a peer; the only timed waits assert that
//! nothing arrives (a held connection) and are short.

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use wstap::fault::{Plan, parse_rule};
use wstap::session::{Direction, EventKind, Recording};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn script() -> String {
    format!("{}/tests/python/fault_peer.py", env!("CARGO_MANIFEST_DIR"))
}

/// A proxy in front of `upstream` with these rules.
async fn proxy(upstream: SocketAddr, rules: &[&str]) -> TestProxy {
    let plan = Arc::new(Plan::new(rules.iter().map(|r| parse_rule(r).unwrap()).collect()));
    TestProxy::start_config(loopback(), upstream, move |c| c.faults = plan).await
}

/// The Python echo server (no compression); killed when dropped.
struct PyServer {
    addr: SocketAddr,
    _child: Child,
}

async fn py_server() -> PyServer {
    let mut child = Command::new("python3")
        .args([&script(), "server"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within("python server ready", lines.next_line()).await.unwrap().expect("a READY line");
    let port: u16 = line.strip_prefix("READY ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
    PyServer { addr: ([127, 0, 0, 1], port).into(), _child: child }
}

/// Runs the Python client with `spec`; what it saw.
async fn py_client(url: &str, spec: Value) -> Value {
    let out = Command::new("python3").args([&script(), "client", url, &spec.to_string()]).kill_on_drop(true).output();
    let out = within("python client", out).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python client failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

async fn ws_client(url: &str) -> Ws {
    within("connect", tokio_tungstenite::connect_async(url)).await.unwrap().0
}

/// The one recording the proxy made.
async fn only_recording(proxy: TestProxy) -> Recording {
    let (recorded, _dir) = proxy.finish().await;
    let [one] = &recorded[..] else { panic!("{} recordings", recorded.len()) };
    wstap::store::load(&one.path).unwrap()
}

/// The fault events: (direction, action, rule number, withheld bytes).
fn faults(rec: &Recording) -> Vec<(Direction, String, u32, u64)> {
    rec.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault { action, rule, withheld, .. } => Some((e.dir, action.clone(), *rule, *withheld)),
            _ => None,
        })
        .collect()
}

/// Offset and time of the first frame of `opcode` sent in `dir`.
fn first_frame(rec: &Recording, dir: Direction, opcode: u8) -> (u64, u64) {
    let (e, f) = rec.frames().find(|(e, f)| e.dir == dir && f.opcode == opcode).expect("the frame was recorded");
    (f.offset, e.at)
}

fn fault_offset(rec: &Recording) -> u64 {
    rec.events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Fault { offset, .. } => Some(*offset),
            _ => None,
        })
        .unwrap()
}

/// Whether the tungstenite client read a close frame before its stream ended.
async fn close_seen(ws: &mut Ws) -> Option<Option<CloseFrame>> {
    loop {
        match within("the end", ws.next()).await {
            Some(Ok(Message::Close(c))) => return Some(c),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn dropped_close_reply_python_client() {
    if !have(Tool::PythonWebsockets, "dropped_close_reply_python_client") {
        return;
    }
    let proxy = proxy(tungstenite_echo().await, &["s2c first=close drop"]).await;
    let seen = py_client(&proxy.url(), json!({"send": ["hi"], "close_timeout": 5.0})).await;
    assert_eq!(seen["received"], json!([2]), "{seen}");
    assert_eq!(seen["close_rcvd"], Value::Null, "the server's close never reached the client: {seen}");
    assert_eq!(seen["close_code"], json!(1006), "{seen}");
    let rec = only_recording(proxy).await;
    let (offset, _) = first_frame(&rec, S2C, 8);
    assert_eq!(faults(&rec), vec![(S2C, "drop".into(), 1, 7)], "the 7-byte close 1000 \"bye\" withheld");
    assert_eq!(fault_offset(&rec), offset, "the fault names the close frame the server sent");
}

#[tokio::test]
async fn dropped_close_reply_tungstenite_client() {
    if !have(Tool::PythonWebsockets, "dropped_close_reply_tungstenite_client") {
        return;
    }
    let server = py_server().await;
    let proxy = proxy(server.addr, &["s2c first=close drop"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await.unwrap();
    assert_eq!(close_seen(&mut ws).await, None, "the stream ends with no close frame (1006)");
    let rec = only_recording(proxy).await;
    assert!(rec.frames().any(|(e, f)| e.dir == S2C && f.close_code == Some(1000)), "the server did reply");
    assert_eq!(faults(&rec), vec![(S2C, "drop".into(), 1, 4)]);
}

#[tokio::test]
async fn held_close_reply_makes_the_clients_close_timeout_fire() {
    if !have(Tool::PythonWebsockets, "held_close_reply_makes_the_clients_close_timeout_fire") {
        return;
    }
    let proxy = proxy(tungstenite_echo().await, &["s2c first=close hold"]).await;
    let seen = py_client(&proxy.url(), json!({"send": ["hi"], "close_timeout": 0.5})).await;
    let took = seen["close_seconds"].as_f64().unwrap();
    assert!(took >= 0.45, "close() returned only after its timeout: {seen}");
    assert_eq!(seen["close_rcvd"], Value::Null, "{seen}");
    let rec = only_recording(proxy).await;
    let (_, close_at) = first_frame(&rec, C2S, 8);
    let client_end = rec.events_in(C2S).find(|e| matches!(e.kind, EventKind::Fin | EventKind::Rst { .. })).unwrap();
    assert!(client_end.at - close_at >= 450_000, "the recording shows the client ended TCP after its timeout");
    assert_eq!(faults(&rec), vec![(S2C, "hold".into(), 1, 7)]);
}

#[tokio::test]
async fn held_connection_delivers_nothing_not_even_an_end() {
    let proxy = proxy(tungstenite_echo().await, &["s2c message=2 hold"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::text("one")).await.unwrap();
    assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), Message::text("one"));
    ws.send(Message::text("two")).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(quiet.is_err(), "nothing more arrives on a held connection: {quiet:?}");
    drop(ws);
    let rec = only_recording(proxy).await;
    assert_eq!(rec.frames().filter(|(e, f)| e.dir == S2C && f.opcode == 1).count(), 2, "the server echoed both");
    assert_eq!(faults(&rec), vec![(S2C, "hold".into(), 1, 5)]);
}

#[tokio::test]
async fn cut_at_half_with_rst_python_client_sees_1006() {
    if !have(Tool::PythonWebsockets, "cut_at_half_with_rst_python_client_sees_1006") {
        return;
    }
    let proxy = proxy(tungstenite_echo().await, &["s2c first=binary cut=rst"]).await;
    let seen = py_client(&proxy.url(), json!({"send": [{"binary": 65536}]})).await;
    assert_eq!(seen["error"], json!("ConnectionClosedError"), "{seen}");
    assert_eq!(seen["close_code"], json!(1006), "{seen}");
    let rec = only_recording(proxy).await;
    let (_, f) = rec.frames().find(|(e, f)| e.dir == S2C && f.opcode == 2).unwrap();
    assert_eq!(f.len, 65536, "the server sent the whole frame");
    assert_eq!(faults(&rec), vec![(S2C, "cut".into(), 1, 32768)], "half the payload withheld");
}

#[tokio::test]
async fn cut_at_half_with_rst_tungstenite_client_is_reset() {
    if !have(Tool::PythonWebsockets, "cut_at_half_with_rst_tungstenite_client_is_reset") {
        return;
    }
    let server = py_server().await;
    let proxy = proxy(server.addr, &["s2c first=binary cut=rst"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::binary(vec![5u8; 65536])).await.unwrap();
    let got = within("the cut", ws.next()).await;
    assert!(matches!(got, Some(Err(_)) | None), "no message, the connection is gone: {got:?}");
    let rec = only_recording(proxy).await;
    assert_eq!(faults(&rec), vec![(S2C, "cut".into(), 1, 32768)]);
}

#[tokio::test]
async fn close_code_1000_replaced_by_1011_python_client() {
    if !have(Tool::PythonWebsockets, "close_code_1000_replaced_by_1011_python_client") {
        return;
    }
    let proxy = proxy(tungstenite_echo().await, &["s2c first=close close-code=1011"]).await;
    let seen = py_client(&proxy.url(), json!({"send": ["hi"], "close_code": 1000})).await;
    assert_eq!(seen["close_rcvd"], json!(1011), "{seen}");
    let rec = only_recording(proxy).await;
    assert!(rec.frames().any(|(e, f)| e.dir == S2C && f.close_code == Some(1000)), "the server sent 1000");
    assert_eq!(faults(&rec), vec![(S2C, "close_code".into(), 1, 0)]);
}

#[tokio::test]
async fn close_code_1000_replaced_by_1011_tungstenite_client() {
    if !have(Tool::PythonWebsockets, "close_code_1000_replaced_by_1011_tungstenite_client") {
        return;
    }
    let server = py_server().await;
    let proxy = proxy(server.addr, &["s2c first=close close-code=1011 reason=\"wstap\""]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await.unwrap();
    let close = close_seen(&mut ws).await.expect("a close frame").expect("with a code");
    assert_eq!((u16::from(close.code), close.reason.as_str()), (1011, "wstap"));
    let rec = only_recording(proxy).await;
    let delivered = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::Fault { delivered, .. } => delivered.clone(),
        _ => None,
    });
    let bytes = wstap::session::data::unhex(&delivered.expect("the close delivered is recorded")).unwrap();
    assert_eq!(bytes, [&[0x88, 7, 0x03, 0xf3][..], b"wstap"].concat());
}

#[tokio::test]
async fn rst_after_the_third_message_python_client() {
    if !have(Tool::PythonWebsockets, "rst_after_the_third_message_python_client") {
        return;
    }
    let proxy = proxy(tungstenite_echo().await, &["s2c message=3 rst"]).await;
    let seen = py_client(&proxy.url(), json!({"send": ["a", "bb", "ccc", "dddd", "eeeee"]})).await;
    assert_eq!(seen["received"], json!([1, 2]), "{seen}");
    assert_eq!(seen["error"], json!("ConnectionClosedError"), "{seen}");
    assert_eq!(seen["close_code"], json!(1006), "{seen}");
    let rec = only_recording(proxy).await;
    assert_eq!(faults(&rec), vec![(S2C, "rst".into(), 1, 5)]);
}

#[tokio::test]
async fn rst_after_the_third_message_tungstenite_client() {
    if !have(Tool::PythonWebsockets, "rst_after_the_third_message_tungstenite_client") {
        return;
    }
    let server = py_server().await;
    let proxy = proxy(server.addr, &["s2c message=3 rst"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    let mut echoed = 0;
    for text in ["a", "bb", "ccc"] {
        ws.send(Message::text(text)).await.unwrap();
    }
    while let Some(Ok(m)) = within("echoes", ws.next()).await {
        assert!(m.is_text(), "{m:?}");
        echoed += 1;
    }
    assert_eq!(echoed, 2, "the third echo was replaced by a reset");
    let rec = only_recording(proxy).await;
    assert_eq!(faults(&rec), vec![(S2C, "rst".into(), 1, 5)]);
}

/// What the peers exchanged, read boundaries and masks aside.
fn frames_of(rec: &Recording) -> Vec<(Direction, u8, bool, u64, Option<u16>)> {
    rec.frames().map(|(e, f)| (e.dir, f.opcode, f.fin, f.len, f.close_code)).collect()
}

fn messages_of(rec: &Recording) -> Vec<(Direction, wstap::session::Data)> {
    let messages = rec.events.iter().filter_map(|e| match &e.kind {
        EventKind::Message(m) => Some((e.dir, m.payload.clone())),
        _ => None,
    });
    messages.collect()
}

#[tokio::test]
async fn one_byte_slices_change_nothing_but_read_boundaries_python_client() {
    if !have(Tool::PythonWebsockets, "one_byte_slices_change_nothing_but_read_boundaries_python_client") {
        return;
    }
    let spec = json!({"send": ["hello", {"binary": 3000}, "κόσμε"]});
    let upstream = tungstenite_echo().await;
    let mut recs = Vec::new();
    for rules in [&[][..], &["s2c every slice=1", "c2s every slice=1"][..]] {
        let proxy = proxy(upstream, rules).await;
        let seen = py_client(&proxy.url(), spec.clone()).await;
        assert_eq!(seen["received"], json!([5, 3000, 5]), "{rules:?}: {seen}");
        assert_eq!(seen["close_rcvd"], json!(1000), "{rules:?}: {seen}");
        recs.push(only_recording(proxy).await);
    }
    assert_eq!(frames_of(&recs[0]), frames_of(&recs[1]));
    assert_eq!(messages_of(&recs[0]), messages_of(&recs[1]));
    let sliced = faults(&recs[1]);
    assert_eq!(sliced, vec![(C2S, "slice".into(), 2, 0), (S2C, "slice".into(), 1, 0)], "one event per direction");
}

#[tokio::test]
async fn one_byte_slices_change_nothing_but_read_boundaries_tungstenite_client() {
    if !have(Tool::PythonWebsockets, "one_byte_slices_change_nothing_but_read_boundaries_tungstenite_client") {
        return;
    }
    let server = py_server().await;
    let proxy = proxy(server.addr, &["s2c every slice=1", "c2s every slice=1"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::text("hello")).await.unwrap();
    ws.send(Message::binary(vec![9u8; 2000])).await.unwrap();
    ws.send(Message::Ping(Bytes::from_static(b"p"))).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(within("echoes and the pong", ws.next()).await.unwrap().unwrap());
    }
    // The server answers the ping at once; the echoes keep their order.
    assert!(got.contains(&Message::Pong(Bytes::from_static(b"p"))), "{got:?}");
    got.retain(|m| !m.is_pong());
    assert_eq!(got, [Message::text("hello"), Message::binary(vec![9u8; 2000])]);
    close_going_away(ws).await;
    let rec = only_recording(proxy).await;
    // The server read the client's frames a byte at a time: many reads.
    let reads = rec.events_in(C2S).filter(|e| matches!(e.kind, EventKind::Read { .. })).count();
    assert!(reads >= 3, "{reads}");
    assert_eq!(rec.summary().server_close.and_then(|c| c.code), Some(1001), "the close echoed through slices");
}

#[tokio::test]
async fn a_seeded_probability_faults_the_same_connections_twice() {
    let rule = "s2c first=text rst p=0.5 seed=3";
    let upstream = tungstenite_echo().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let proxy = proxy(upstream, &[rule]).await;
        let mut answered = Vec::new();
        for _ in 0..8 {
            let mut ws = ws_client(&proxy.url()).await;
            ws.send(Message::text("x")).await.unwrap();
            answered.push(matches!(within("echo or reset", ws.next()).await, Some(Ok(_))));
        }
        let (recorded, _dir) = proxy.finish().await;
        let faulted: Vec<bool> =
            recorded.iter().map(|r| !faults(&wstap::store::load(&r.path).unwrap()).is_empty()).collect();
        assert_eq!(answered.iter().map(|a| !a).collect::<Vec<_>>(), faulted, "recordings name the faulted ones");
        runs.push(answered);
    }
    assert_eq!(runs[0], runs[1], "same seed, same connections");
    let plan = Plan::new(vec![parse_rule(rule).unwrap()]);
    let expected: Vec<bool> = (1..=8).map(|n| plan.for_connection(n).is_none()).collect();
    assert_eq!(runs[0], expected);
    assert!(runs[0].contains(&true) && runs[0].contains(&false), "some faulted, some not: {:?}", runs[0]);
}

fn wstap(args: &[&str]) -> std::process::Output {
    std::process::Command::new(wstap_bin()).args(args).output().unwrap()
}

#[test]
fn fault_help_prints_the_catalogue() {
    for args in [&["record", "--fault", "help"][..], &["record", "--fault"][..]] {
        let out = wstap(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        for word in ["TRIGGER", "first=OPCODE", "close-code=CODE", "inject-before=FRAME", "slice=N", "p=PROB"] {
            assert!(stdout.contains(word), "{args:?} lists {word}: {stdout}");
        }
    }
}

#[test]
fn a_bad_rule_is_a_usage_error_with_its_column() {
    let out = wstap(&["record", "--listen", "127.0.0.1:0", "--fault", "s2c first=clse drop"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--fault: column 5: first= takes text, binary"), "{stderr}");
    assert!(stderr.contains("  s2c first=clse drop\n      ^"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.yaml");
    std::fs::write(&file, "- s2c first=close drop\n- s2c every slise=1\n").unwrap();
    let out = wstap(&["record", "--listen", "127.0.0.1:0", "--faults", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("faults.yaml: line 2, column 11: unknown action \"slise\""), "{stderr}");
}

/// Says hello, closes with 1000 "bye"; the close code it got back.
async fn hello_client(url: String) -> Option<u16> {
    let mut ws = ws_client(&url).await;
    ws.send(Message::text("hello")).await.unwrap();
    assert!(within("echo", ws.next()).await.unwrap().unwrap().is_text());
    ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))).await.unwrap();
    close_seen(&mut ws).await.flatten().map(|c| u16::from(c.code))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_fault_show_and_diff_name_the_fault() {
    use std::io::{BufRead, BufReader};
    let proxy = TestProxy::start(tungstenite_echo().await).await;
    assert_eq!(hello_client(proxy.url()).await, Some(1000));
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    let fixture = dir.path().join("hello.yaml");
    std::fs::copy(&recorded[0].path, &fixture).unwrap();
    let out = dir.path().join("out");
    let rule = "s2c first=close close-code=1011";
    let mut child = std::process::Command::new(wstap_bin())
        .arg("replay")
        .arg(&fixture)
        .args(["--fault", rule, "--record-dir"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let announced = lines.next().unwrap().unwrap();
    assert_eq!(announced, format!("wstap: fault rule 1: {rule}"));
    let line = lines.next().unwrap().unwrap();
    let url = line.split("connect a client to ").nth(1).unwrap_or_else(|| panic!("{line}")).trim().to_owned();
    std::thread::spawn(move || lines.for_each(drop));
    assert_eq!(hello_client(url).await, Some(1011), "the replayed server's close was faulted");
    within("replay exits", tokio::task::spawn_blocking(move || child.wait_with_output())).await.unwrap().unwrap();
    let observed = yaml_files(&out).pop().expect("the observed recording");
    let rec = wstap::store::load(&observed).unwrap();
    assert_eq!(faults(&rec), vec![(S2C, "close_code".into(), 1, 0)]);
    assert!(rec.frames().any(|(e, f)| e.dir == S2C && f.close_code == Some(1000)), "recorded as the server sent it");
    let wstap_out = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(wstap_bin()).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, text) = wstap_out(&["diff".as_ref(), fixture.as_os_str(), observed.as_os_str()]);
    assert_eq!(code, Some(1), "{text}");
    let cause = format!("- cause: a fault only in b, on the server's frames: rule 1 \"{rule}\": close code 1000");
    assert!(text.starts_with(&cause), "the fault is named first, as the cause:\n{text}");
    let (code, text) = wstap_out(&["show".as_ref(), observed.as_os_str()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("FAULT CLOSE_CODE (rule 1: {rule}): close code 1000 replaced by 1011")), "{text}");
}

#[test]
fn replay_refuses_client_side_rules() {
    let out = wstap(&["replay", "--fault", "c2s first=close drop", "scenarios"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("only s2c rules apply"), "{stderr}");
}

#[tokio::test]
async fn a_delayed_frame_arrives_late_and_the_other_direction_flows_on() {
    let proxy = proxy(tungstenite_echo().await, &["s2c first=text delay=400ms"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    let sent = std::time::Instant::now();
    ws.send(Message::text("one")).await.unwrap();
    ws.send(Message::text("two")).await.unwrap();
    assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), Message::text("one"));
    assert!(sent.elapsed() >= Duration::from_millis(400), "the first echo waited {:?}", sent.elapsed());
    assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), Message::text("two"), "order kept");
    close_going_away(ws).await;
    let rec = only_recording(proxy).await;
    let texts: Vec<(Direction, u64)> =
        rec.frames().filter(|(_, f)| f.opcode == 1).map(|(e, _)| (e.dir, e.at)).collect();
    let c2s: Vec<u64> = texts.iter().filter(|(d, _)| *d == C2S).map(|(_, at)| *at).collect();
    assert!(c2s[1] - c2s[0] < 300_000, "the client's frames were not held up: {texts:?}");
    assert_eq!(faults(&rec), vec![(S2C, "delay".into(), 1, 0)]);
}

#[tokio::test]
async fn an_injected_ping_is_answered_by_the_python_client() {
    if !have(Tool::PythonWebsockets, "an_injected_ping_is_answered_by_the_python_client") {
        return;
    }
    let proxy = proxy(tungstenite_echo().await, &["s2c first=text inject-before=ping:wstap"]).await;
    let seen = py_client(&proxy.url(), json!({"send": ["hi"]})).await;
    assert_eq!(seen["received"], json!([2]), "{seen}");
    let rec = only_recording(proxy).await;
    let pong = rec.frames().find(|(e, f)| e.dir == C2S && f.opcode == 10).expect("the client answered the ping");
    assert_eq!(pong.1.payload, wstap::session::Data::Text("wstap".into()));
    assert!(!rec.frames().any(|(e, f)| e.dir == S2C && f.opcode == 9), "the server itself sent no ping");
    assert_eq!(faults(&rec), vec![(S2C, "inject".into(), 1, 0)]);
}

#[tokio::test]
async fn an_injected_close_reaches_the_tungstenite_client() {
    let proxy = proxy(tungstenite_echo().await, &["s2c first=text inject-after=close:1001:going"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), Message::text("hi"));
    let close = close_seen(&mut ws).await.expect("a close").expect("with a code");
    assert_eq!((u16::from(close.code), close.reason.as_str()), (1001, "going"));
    drop(ws);
    let rec = only_recording(proxy).await;
    assert_eq!(faults(&rec), vec![(S2C, "inject".into(), 1, 0)]);
}

#[tokio::test]
async fn a_fault_on_one_connection_does_not_slow_another() {
    // A seed that faults the first connection and spares the second.
    let rule = |seed: u64| format!("s2c first=text delay=1500ms p=0.5 seed={seed}");
    let picks = |seed| {
        let plan = Plan::new(vec![parse_rule(&rule(seed)).unwrap()]);
        (plan.for_connection(1).is_some(), plan.for_connection(2).is_some())
    };
    let seed = (0..1000).find(|&s| picks(s) == (true, false)).unwrap();
    let proxy = proxy(tungstenite_echo().await, &[&rule(seed)]).await;
    let started = std::time::Instant::now();
    let mut slow = ws_client(&proxy.url()).await;
    slow.send(Message::text("slow")).await.unwrap();
    let mut quick = ws_client(&proxy.url()).await;
    quick.send(Message::text("quick")).await.unwrap();
    assert_eq!(within("echo", quick.next()).await.unwrap().unwrap(), Message::text("quick"));
    let quick_took = started.elapsed();
    assert_eq!(within("echo", slow.next()).await.unwrap().unwrap(), Message::text("slow"));
    let slow_took = started.elapsed();
    assert!(slow_took >= Duration::from_millis(1500), "{slow_took:?}");
    assert!(quick_took < Duration::from_millis(1000), "the other connection was not held up: {quick_took:?}");
}

#[tokio::test]
async fn an_empty_close_reaches_the_python_client_as_1005() {
    if !have(Tool::PythonWebsockets, "an_empty_close_reaches_the_python_client_as_1005") {
        return;
    }
    let proxy = proxy(tungstenite_echo().await, &["s2c first=close close-code=none"]).await;
    let seen = py_client(&proxy.url(), json!({"send": ["hi"]})).await;
    assert_eq!(seen["close_rcvd"], json!(1005), "{seen}");
    let rec = only_recording(proxy).await;
    assert_eq!(faults(&rec), vec![(S2C, "close_code".into(), 1, 0)]);
}

#[tokio::test]
async fn fin_instead_of_the_close_ends_the_stream_without_one() {
    let proxy = proxy(tungstenite_echo().await, &["s2c first=close fin"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await.unwrap();
    assert_eq!(close_seen(&mut ws).await, None, "TCP ended where the close frame should have been");
    drop(ws);
    let rec = only_recording(proxy).await;
    assert_eq!(faults(&rec), vec![(S2C, "fin".into(), 1, 4)], "the 4-byte close 1000");
}

#[tokio::test]
async fn a_text_match_drops_only_the_matching_message() {
    let proxy = proxy(tungstenite_echo().await, &["c2s text=\"secret\" drop"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    for text in ["keep", "the secret word", "keep too"] {
        ws.send(Message::text(text)).await.unwrap();
    }
    assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), Message::text("keep"));
    assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), Message::text("keep too"));
    close_going_away(ws).await;
    let rec = only_recording(proxy).await;
    let s2c: Vec<_> = messages_of(&rec).into_iter().filter(|(d, _)| *d == S2C).map(|(_, p)| p).collect();
    assert_eq!(s2c.len(), 2, "the server never got the secret: {s2c:?}");
    assert_eq!(faults(&rec), vec![(C2S, "drop".into(), 1, 21)]);
}

#[tokio::test]
async fn a_cut_at_byte_n_with_fin_leaves_the_client_a_partial_frame() {
    let proxy = proxy(tungstenite_echo().await, &["s2c bytes=1000 cut=fin"]).await;
    let mut ws = ws_client(&proxy.url()).await;
    ws.send(Message::binary(vec![1u8; 4000])).await.unwrap();
    let got = within("the cut", ws.next()).await;
    assert!(matches!(got, Some(Err(_)) | None), "no message, the stream ended inside it: {got:?}");
    drop(ws);
    let rec = only_recording(proxy).await;
    assert_eq!(faults(&rec), vec![(S2C, "cut".into(), 1, 4004 - 1000)], "bytes 1000.. withheld");
}

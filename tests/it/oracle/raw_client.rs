//! CI: what no library client does, done over raw TCP against the real
//! Autobahn 0.8.2 and `wstap serve` alike, and compared.
//!
//! * Case 7.1.1 (the fuzzer closes first) answered with a one-byte close
//!   payload, with a text frame that is not UTF-8, and, while still OPEN,
//!   with a one-byte close: the per-case JSON must be equal after
//!   [`normalise`](super::normalise) (issue 11, "Fixes found on the way").
//! * The spec's `options.failByDrop` and `exclude-agent-cases`, read by
//!   both servers from the same spec file: the same misbehaviours (and a
//!   client that never answers, so the kill timer fails the connection)
//!   under failByDrop, and an agent whose case is excluded (an empty close
//!   at once, no result).
//! * `/getCaseStatus` for a case with no result yet: both servers complete
//!   the handshake first and then wait; a driver that leaves gets the
//!   server's end of TCP at once (no socket left in CLOSE-WAIT); a waiter
//!   gets `{"behavior": "OK"}` when the case ends.
//!
//! The raw client is a real TCP peer written here because the bytes it must
//! send are the point; the frames it reads are the servers' real output.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// How the raw client answers the fuzzer.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Echoes the text, then answers the fuzzer's close with a 1-byte close payload.
    OneByteCloseReply,
    /// Echoes the text, then answers the fuzzer's close with a text that is not
    /// UTF-8 and a good close, in one write.
    BadUtf8WhileClosing,
    /// Answers the fuzzer's text with a 1-byte close (the fuzzer is still OPEN).
    OneByteCloseWhileOpen,
    /// Reads and never answers: the kill timer fails the connection.
    Silent,
    /// Echoes and answers the close, as a library does.
    Polite,
}

impl Misbehaviour {
    fn agent(self) -> &'static str {
        match self {
            Misbehaviour::OneByteCloseReply => "onebyte",
            Misbehaviour::BadUtf8WhileClosing => "badutf8",
            Misbehaviour::OneByteCloseWhileOpen => "openonebyte",
            Misbehaviour::Silent => "silent",
            Misbehaviour::Polite => "excluded-polite",
        }
    }
}

const WAIT: Duration = Duration::from_secs(10);

fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    assert!(payload.len() < 126);
    let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    out.extend(key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// Connects to `path` on `base` (`ws://HOST:PORT`) and returns the stream
/// after the 101, and any bytes read past it.
async fn upgrade(base: &str, path: &str) -> (TcpStream, Vec<u8>) {
    let addr = base.trim_start_matches("ws://");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("a 101 in time").unwrap();
        assert!(n > 0, "{path}: connection closed before the 101: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    assert!(buf.starts_with(b"HTTP/1.1 101 "), "{path}: {}", String::from_utf8_lossy(&buf));
    (tcp, buf.split_off(head_end))
}

/// Reads one unmasked server frame (opcode, payload); None at EOF.
async fn read_frame(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    loop {
        if buf.len() >= 2 {
            let (len, at) = match buf[1] & 0x7f {
                126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
                126 => (usize::MAX, 0),
                127 => panic!("no 64-bit lengths in these cases"),
                n => (n as usize, 2),
            };
            if len != usize::MAX && buf.len() >= at + len {
                let frame: Vec<u8> = buf.drain(..at + len).collect();
                return Some((frame[0] & 0x0f, frame[at..].to_vec()));
            }
        }
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("a frame in time").ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Runs case 1 on `base` as `how` does, until the server drops TCP;
/// returns the frames it read.
async fn run_case(base: &str, how: Misbehaviour) -> Vec<(u8, Vec<u8>)> {
    let (mut tcp, mut buf) = upgrade(base, &format!("/runCase?case=1&agent={}", how.agent())).await;
    let mut seen = Vec::new();
    while let Some((opcode, payload)) = read_frame(&mut tcp, &mut buf).await {
        seen.push((opcode, payload.clone()));
        let answer = match (how, opcode) {
            (Misbehaviour::Silent, _) => continue,
            (Misbehaviour::OneByteCloseWhileOpen, 1) => masked(8, &[3]),
            (_, 1 | 2) => masked(opcode, &payload),
            (_, 9) => masked(10, &payload),
            (Misbehaviour::OneByteCloseReply, 8) => masked(8, &[3]),
            (Misbehaviour::BadUtf8WhileClosing, 8) => {
                [masked(1, &[0xce, 0xba, 0xff, 0xfe]), masked(8, &[3, 0xe8])].concat()
            }
            (_, 8) => masked(8, &payload),
            _ => continue,
        };
        if tcp.write_all(&answer).await.is_err() {
            break;
        }
    }
    seen
}

/// A server's `finish`: stops it and reads its reports.
type Finish = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reports, String>>>>;

/// One server for 7.1.1, the real suite's or wstap's, from a spec with
/// `extra` keys (wstap reads it with `serve --spec`), driven by each of
/// `clients` in turn; the frames each client read, and the reports.
async fn misbehaving_run(
    fuzzer: Fuzzer,
    extra: serde_json::Value,
    clients: &[Misbehaviour],
) -> (Vec<Vec<(u8, Vec<u8>)>>, Run) {
    let selection = Selection::new(&["7.1.1"], &[]);
    let start = std::time::Instant::now();
    let (url, finish): (String, Finish) = match fuzzer {
        Fuzzer::Autobahn => {
            let spec = Selection { cases: selection.spec_cases(), exclude: vec![] };
            let server = suite::RealFuzzingServer::start_with(&spec, extra).await.unwrap();
            (server.url.clone(), Box::pin(server.finish()))
        }
        Fuzzer::Wstap => {
            let server = wstap_side::WstapServe::start_with_spec(&selection, extra).await.unwrap();
            (server.url.clone(), Box::pin(server.finish()))
        }
    };
    let mut seen = Vec::new();
    for how in clients {
        seen.push(run_case(&url, *how).await);
    }
    for how in clients {
        // Twice, for the reason given at `serve_side`.
        peers::update_reports(&url, how.agent()).await.unwrap();
        peers::update_reports(&url, how.agent()).await.unwrap();
    }
    (seen, Run { reports: finish.await.unwrap(), wall: start.elapsed() })
}

const MISBEHAVIOURS: [Misbehaviour; 3] =
    [Misbehaviour::OneByteCloseReply, Misbehaviour::BadUtf8WhileClosing, Misbehaviour::OneByteCloseWhileOpen];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_raw_client_gets_the_same_reports_as_from_autobahn() {
    let test = "a_misbehaving_raw_client_gets_the_same_reports_as_from_autobahn";
    if !tools::ready(test, &[tools::wstest().map(|_| ())]) {
        return;
    }
    let spec = serde_json::json!({});
    let (left, right) = tokio::join!(
        misbehaving_run(Fuzzer::Autobahn, spec.clone(), &MISBEHAVIOURS),
        misbehaving_run(Fuzzer::Wstap, spec, &MISBEHAVIOURS)
    );
    let (left, right) = (left.1, right.1);
    // The facts the issue names, on the oracle's side, so the comparison
    // below compares what it should.
    let case = |run: &Run, agent: &str| run.reports.agents[agent]["7.1.1"].1.clone();
    assert_eq!(case(&left, "onebyte")["rxFrameStats"], serde_json::json!({"1": 1}), "the echo only, no close");
    let bad = case(&left, "badutf8");
    let last_rf = bad["wirelog"].as_array().unwrap().iter().rev().find(|e| e[0] == "RF").unwrap().clone();
    assert_eq!(last_rf[1], serde_json::json!([0, ""]), "an RF with an empty payload: {last_rf}");
    let comparison = Comparison::new(("autobahn", "wstap"), left, right);
    comparison.assert_equal(MISBEHAVIOURS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_by_drop_and_exclude_agent_cases_from_the_spec_act_as_in_autobahn() {
    let test = "fail_by_drop_and_exclude_agent_cases_from_the_spec_act_as_in_autobahn";
    if !tools::ready(test, &[tools::wstest().map(|_| ())]) {
        return;
    }
    let spec = serde_json::json!({
        "options": {"failByDrop": true},
        "exclude-agent-cases": {"excluded*": ["7.1.*"]},
    });
    let mut clients = MISBEHAVIOURS.to_vec();
    clients.extend([Misbehaviour::Silent, Misbehaviour::Polite]);
    let (left, right) = tokio::join!(
        misbehaving_run(Fuzzer::Autobahn, spec.clone(), &clients),
        misbehaving_run(Fuzzer::Wstap, spec, &clients)
    );
    // The excluded agent read an empty close and nothing else, on both sides.
    assert_eq!(left.0.last().unwrap(), &[(8, vec![])], "autobahn");
    assert_eq!(right.0.last().unwrap(), &[(8, vec![])], "wstap");
    let (left, right) = (left.1, right.1);
    assert!(!left.reports.agents.contains_key("excluded-polite"), "autobahn stores no result");
    let silent = &left.reports.agents["silent"]["7.1.1"].1;
    assert_eq!(silent["wasNotCleanReason"], "I failed the WebSocket connection by dropping the TCP connection");
    let comparison = Comparison::new(("autobahn", "wstap"), left, right);
    comparison.assert_equal(clients.len() - 1);
}

/// Asks `base` for the status of case 1 (no result yet) as agent `agent`:
/// the 101 comes first; a waiter that leaves gets the server's end of TCP;
/// a second waiter gets the behavior once the case has run.
async fn case_status_waits_after_the_handshake(base: &str) -> String {
    let (mut leaving, _) = upgrade(base, "/getCaseStatus?case=1&agent=waiter").await;
    leaving.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(WAIT, leaving.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "{base}: the server kept its end open after the driver left (CLOSE-WAIT)");
    let (mut waiting, mut buf) = upgrade(base, "/getCaseStatus?case=1&agent=waiter").await;
    let status = tokio::spawn(async move {
        let mut text = String::new();
        while let Some((opcode, payload)) = read_frame(&mut waiting, &mut buf).await {
            match opcode {
                1 => text = String::from_utf8(payload).unwrap(),
                8 => {
                    let _ = waiting.write_all(&masked(8, &payload)).await;
                    break;
                }
                _ => {}
            }
        }
        text
    });
    // The normal client: echoes and answers the close.
    let (mut tcp, mut buf) = upgrade(base, "/runCase?case=1&agent=waiter").await;
    while let Some((opcode, payload)) = read_frame(&mut tcp, &mut buf).await {
        let reply = if opcode == 9 { 10 } else { opcode };
        if tcp.write_all(&masked(reply, &payload)).await.is_err() {
            break;
        }
    }
    tokio::time::timeout(WAIT, status).await.expect("the status in time").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_case_status_completes_the_handshake_then_waits_as_in_autobahn() {
    let test = "get_case_status_completes_the_handshake_then_waits_as_in_autobahn";
    if !tools::ready(test, &[tools::wstest().map(|_| ())]) {
        return;
    }
    let selection = Selection::new(&["7.1.1"], &[]);
    let real = suite::RealFuzzingServer::start(&selection).await.unwrap();
    let ours = wstap_side::WstapServe::start(&selection).await.unwrap();
    let (a, b) = tokio::join!(
        case_status_waits_after_the_handshake(&real.url),
        case_status_waits_after_the_handshake(&ours.url)
    );
    assert_eq!(a, r#"{"behavior": "OK"}"#, "autobahn");
    assert_eq!(b, a, "wstap");
}

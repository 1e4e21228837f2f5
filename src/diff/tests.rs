//! Diff tests over real recordings built from byte streams: the same
//! behaviour recorded twice with different masks, keys, dates, ports,
//! timestamps and read boundaries must compare equal; each behaviour change
//! must be named.

use super::*;
use crate::session::{FORMAT_VERSION, MemoryStore, SessionBuilder, TcpEnd};
use crate::wire::{Direction, FrameHeader, OpCode};
use flate2::{Compress, Compression, FlushCompress};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// What varies between two runs of the same behaviour.
struct Run {
    mask: u8,
    split: usize,
    tick: u64,
    port: u16,
    deflate: bool,
}

const RUN_A: Run = Run { mask: 0x11, split: 7, tick: 1000, port: 40001, deflate: false };
const RUN_B: Run = Run { mask: 0xc4, split: 1000, tick: 3000, port: 51234, deflate: false };

/// One scripted step of a connection.
#[derive(Clone)]
enum Step {
    /// A client frame (masked): opcode, fin, payload.
    C(u8, bool, Vec<u8>),
    /// A server frame (unmasked).
    S(u8, bool, Vec<u8>),
    /// A compressed client text message (RSV1), at this deflate level.
    Deflated(&'static str, u32),
    /// Time passes (µs).
    Wait(u64),
    /// The sender in this direction ends TCP.
    End(Direction),
}
use Step::*;

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn close(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

fn request(run: &Run) -> Vec<u8> {
    let ext = if run.deflate { "Sec-WebSocket-Extensions: permessage-deflate\r\n" } else { "" };
    format!(
        "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}AAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n",
        run.port,
        run.mask % 10
    )
    .into_bytes()
}

fn response(run: &Run) -> Vec<u8> {
    let ext = if run.deflate { "Sec-WebSocket-Extensions: permessage-deflate\r\n" } else { "" };
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Date: Tue, 24 Nov 2026 10:00:{:02} GMT\r\nSec-WebSocket-Accept: x{}=\r\n{ext}\r\n",
        run.mask % 60,
        run.port
    )
    .into_bytes()
}

fn deflate(s: &str, level: u32) -> Vec<u8> {
    let mut c = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(s.len() + 64);
    c.compress_vec(s.as_bytes(), &mut out, FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4); // RFC 7692: strip 00 00 ff ff
    out
}

/// Encodes one step's bytes, or `None` for steps that are not bytes.
fn encode(step: &Step, run: &Run, n: u8) -> Option<(Direction, Vec<u8>)> {
    let mask = Some([run.mask, n, run.mask ^ n, 0x5a]);
    let frame = |op: u8, fin: bool, rsv: u8, p: &[u8], mask| {
        FrameHeader { fin, rsv, mask, ..FrameHeader::new(OpCode::new(op), p.len() as u64) }.encode_frame(p)
    };
    match step {
        C(op, fin, p) => Some((C2S, frame(*op, *fin, 0, p, mask))),
        S(op, fin, p) => Some((S2C, frame(*op, *fin, 0, p, None))),
        Deflated(s, level) => Some((C2S, frame(1, true, 4, &deflate(s, *level), mask))),
        Wait(_) | End(_) => None,
    }
}

/// Records `steps` as `run` would: own masks, key, date, port, read sizes, clock.
fn record(steps: &[Step], run: &Run) -> Recording {
    let mut b = SessionBuilder::new(MemoryStore::default());
    let mut t = 0;
    let read = |b: &mut SessionBuilder<MemoryStore>, t: &mut u64, dir, bytes: &[u8]| {
        for chunk in bytes.chunks(run.split) {
            b.read(*t, dir, chunk).unwrap();
        }
        *t += run.tick;
    };
    read(&mut b, &mut t, C2S, &request(run));
    read(&mut b, &mut t, S2C, &response(run));
    for (n, step) in steps.iter().enumerate() {
        match (step, encode(step, run, n as u8)) {
            (_, Some((dir, bytes))) => read(&mut b, &mut t, dir, &bytes),
            (Wait(us), _) => t += us,
            (End(dir), _) => b.end(t, *dir, TcpEnd::Fin, None).unwrap(),
            _ => unreachable!(),
        }
    }
    b.finish().unwrap();
    let events = b.drain();
    Recording {
        wstap_recording: FORMAT_VERSION,
        started: format!("2026-11-24T10:00:{:02}.000000Z", run.mask % 60),
        client: format!("127.0.0.1:{}", run.port),
        server: "127.0.0.1:9001".into(),
        events,
        ..Recording::default()
    }
}

/// An echo session with a ping, closed by the server.
fn echo_session() -> Vec<Step> {
    vec![
        C(1, true, text("hello")),
        S(1, true, text("hello")),
        C(2, true, vec![0, 1, 2, 255]),
        S(2, true, vec![0, 1, 2, 255]),
        S(9, true, text("p")),
        C(10, true, text("p")),
        S(8, true, close(1000, "bye")),
        C(8, true, close(1000, "bye")),
        End(S2C),
        End(C2S),
    ]
}

fn diff_steps(a: &[Step], b: &[Step], opts: &DiffOptions) -> DiffOutcome {
    diff_recordings(&record(a, &RUN_A), &record(b, &RUN_B), opts, false)
}

fn texts(outcome: &DiffOutcome) -> Vec<String> {
    outcome.changes.iter().map(ToString::to_string).collect()
}

/// Asserts that `outcome` names `expected` among its changes.
fn assert_names(outcome: &DiffOutcome, expected: &str) {
    assert!(outcome.is_different(), "no change found; expected {expected:?}");
    let got = texts(outcome);
    assert!(got.iter().any(|t| t == expected), "expected {expected:?} in {got:#?}\n{}", outcome.unified);
}

fn replace(steps: &mut [Step], at: usize, with: Step) {
    steps[at] = with;
}

#[test]
fn the_same_behaviour_recorded_twice_is_no_difference() {
    let (a, b) = (record(&echo_session(), &RUN_A), record(&echo_session(), &RUN_B));
    assert_ne!(a.events.len(), b.events.len(), "the runs should differ in read events");
    let out = diff_recordings(&a, &b, &DiffOptions::default(), true);
    assert_eq!(texts(&out), Vec::<String>::new(), "{}", out.unified);
    assert!(!out.is_different());
    assert_eq!((out.unified.as_str(), out.colored.is_none()), ("", true));
}

#[test]
fn the_interleaving_of_the_two_directions_is_noise() {
    let (ca, cb) = (C(1, true, text("a")), C(1, true, text("b")));
    let (sa, sb) = (S(1, true, text("a")), S(1, true, text("b")));
    let batched = [ca.clone(), cb.clone(), sa.clone(), sb.clone(), End(C2S), End(S2C)];
    let interleaved = [ca, sa, cb, sb, End(C2S), End(S2C)];
    let out = diff_steps(&batched, &interleaved, &DiffOptions::default());
    assert_eq!(texts(&out), Vec::<String>::new(), "{}", out.unified);
}

#[test]
fn normalised_log_hides_masks_and_volatile_headers() {
    let view = normalize::View::new(&record(&echo_session(), &RUN_A), &DiffOptions::default());
    let log = view.lines.join("\n");
    assert!(log.contains("c2s frame text fin=1 rsv=0 len=5 mask=* \"hello\""), "{log}");
    assert!(log.contains("c2s message text frames=1 len=5 \"hello\""), "{log}");
    assert!(log.contains("c2s header Host: 127.0.0.1:*"), "{log}");
    assert!(log.contains("s2c frame close fin=1 rsv=0 len=5 unmasked code=1000 reason=\"bye\""), "{log}");
    for volatile in ["Sec-WebSocket-Key", "Sec-WebSocket-Accept", "Date", "read"] {
        assert!(!log.contains(volatile), "{volatile} left in {log}");
    }
}

#[test]
fn a_different_close_code_is_named() {
    let mut b = echo_session();
    replace(&mut b, 7, C(8, true, close(1001, "bye")));
    let out = diff_steps(&echo_session(), &b, &DiffOptions::default());
    assert_names(&out, "client close code 1000 → 1001");
    assert_eq!(out.changes.len(), 1, "{:#?}", texts(&out));
    assert_eq!(out.changes[0].side, Some(Side::Client));
    assert!(
        out.unified.contains("-c2s frame close fin=1 rsv=0 len=5 mask=* code=1000 reason=\"bye\""),
        "{}",
        out.unified
    );
    assert!(
        out.unified.contains("+c2s frame close fin=1 rsv=0 len=5 mask=* code=1001 reason=\"bye\""),
        "{}",
        out.unified
    );
}

#[test]
fn a_different_payload_is_named() {
    let mut b = echo_session();
    replace(&mut b, 0, C(1, true, text("hellp")));
    let out = diff_steps(&echo_session(), &b, &DiffOptions::default());
    assert_names(&out, "client message 1 payload differs: \"hello\" → \"hellp\"");
    assert_eq!(out.changes[0].kind, ChangeKind::Payload);
}

#[test]
fn an_extra_message_is_named() {
    let mut b = echo_session();
    b.insert(4, C(1, true, text("again")));
    let out = diff_steps(&echo_session(), &b, &DiffOptions::default());
    assert_names(&out, "extra client message 3: \"again\"");
    assert_eq!(texts(&out).len(), 1, "{:#?}", texts(&out));
}

#[test]
fn different_fragmentation_is_named() {
    let mut b = echo_session();
    b.splice(0..1, [C(1, false, text("he")), C(0, false, text("l")), C(0, true, text("lo"))]);
    let out = diff_steps(&echo_session(), &b, &DiffOptions::default());
    assert_names(&out, "fragmentation changed: client message 1: 1 frame → 3 frames");
    assert_eq!(out.changes[0].kind, ChangeKind::Fragmentation);
}

#[test]
fn a_missing_close_reply_is_named() {
    let mut b = echo_session();
    b.remove(7);
    let out = diff_steps(&echo_session(), &b, &DiffOptions::default());
    assert_names(&out, "server-initiated close is no longer answered");
}

#[test]
fn an_extra_pong_after_the_close_is_named() {
    let mut b = echo_session();
    b.insert(7, C(10, true, text("late")));
    let out = diff_steps(&echo_session(), &b, &DiffOptions::default());
    assert_names(&out, "client now sends a pong after the server's close");
    assert_eq!(texts(&out).len(), 1, "{:#?}", texts(&out));
}

#[test]
fn a_slow_close_reply_is_flagged_only_beyond_the_tolerance() {
    let mut b = echo_session();
    b.insert(7, Wait(900_000));
    let (ra, rb) = (record(&echo_session(), &RUN_A), record(&b, &RUN_A));
    let tight = DiffOptions { timing: Some(Duration::from_millis(50)), ..DiffOptions::default() };
    assert_names(&diff_recordings(&ra, &rb, &tight, false), "client close reply now takes 901 ms instead of 1 ms");
    let loose = DiffOptions { timing: Some(Duration::from_secs(1)), ..DiffOptions::default() };
    assert!(!diff_recordings(&ra, &rb, &loose, false).is_different());
    assert!(!diff_recordings(&ra, &rb, &DiffOptions::default(), false).is_different());
}

#[test]
fn segments_compare_read_sizes() {
    let opts = DiffOptions { segments: true, ..DiffOptions::default() };
    let out = diff_steps(&echo_session(), &echo_session(), &opts);
    let kinds: Vec<ChangeKind> = out.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [ChangeKind::Segments, ChangeKind::Segments], "{:#?}", texts(&out));
    assert!(out.unified.contains("-c2s read 7"), "{}", out.unified);
}

#[test]
fn ignored_headers_are_not_compared() {
    let mut ra = record(&echo_session(), &RUN_A);
    let rb = record(&echo_session(), &RUN_A);
    let head = ra.events.iter_mut().find_map(|e| match &mut e.kind {
        crate::session::EventKind::Http { data, .. } => Some(data),
        _ => None,
    });
    let data = head.unwrap();
    let head = data.as_text().unwrap().replace("Upgrade: websocket", "Upgrade: websocket\r\nUser-Agent: v2");
    *data = crate::session::Data::inline(head.as_bytes());
    let out = diff_recordings(&ra, &rb, &DiffOptions::default(), false);
    assert_names(&out, "client no longer sends header user-agent");
    let opts = DiffOptions { ignore_headers: vec!["USER-AGENT".into()], ..DiffOptions::default() };
    assert!(!diff_recordings(&ra, &rb, &opts, false).is_different());
}

#[test]
fn compressed_messages_compare_by_inflated_payload() {
    let a_run = Run { deflate: true, ..RUN_A };
    let b_run = Run { deflate: true, ..RUN_B };
    let steps = |level| vec![Deflated("hello hello hello", level), End(C2S), End(S2C)];
    let (ra, rb) = (record(&steps(9), &a_run), record(&steps(0), &b_run));
    let out = diff_recordings(&ra, &rb, &DiffOptions::default(), false);
    assert!(!out.is_different(), "{:#?}\n{}", texts(&out), out.unified);
    let other = record(&[Deflated("hello world", 9), End(C2S), End(S2C)], &b_run);
    let out = diff_recordings(&ra, &other, &DiffOptions::default(), false);
    assert_names(&out, "client message 1 payload differs: \"hello hello hello\" → \"hello world\"");
}

#[test]
fn colour_and_json_carry_the_same_diff() {
    let mut b = echo_session();
    replace(&mut b, 7, C(8, true, close(1001, "bye")));
    let out = diff_recordings(&record(&echo_session(), &RUN_A), &record(&b, &RUN_B), &DiffOptions::default(), true);
    let colored = out.colored.as_deref().unwrap();
    assert!(colored.contains("\x1b[31m-c2s frame close") && colored.contains("\x1b[32m+c2s frame close"), "{colored}");
    assert!(!out.unified.contains('\x1b'));
    let json: serde_json::Value = serde_json::from_str(&out.to_json()).unwrap();
    assert_eq!(json["changes"][0]["text"], "client close code 1000 → 1001");
    assert_eq!(json["changes"][0]["kind"], "closing");
    assert_eq!(json["changes"][0]["side"], "client");
    assert!(out.to_text().starts_with("- client close code 1000 → 1001\n"), "{}", out.to_text());
}

mod reports {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn case_json(mask: &str, client_code: u64, behavior: &str) -> serde_json::Value {
        json!({
            "behavior": behavior, "behaviorClose": "OK", "id": "7.1.5", "duration": 3,
            "closedByMe": true, "droppedByMe": true, "wasClean": true,
            "localCloseCode": 1000, "remoteCloseCode": client_code,
            "httpRequest": format!("GET /runCase?case=5 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nSec-WebSocket-Key: {mask}==\r\n\r\n"),
            "httpResponse": "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc=\r\n\r\n",
            "wirelog": [
                ["RO", [257, "474554"]],
                ["TF", [5, "hello"], 1, true, 0, null, null, null, false],
                ["TO", [7, "810568656c6c6f"], false],
                ["RF", [5, "hello"], 1, true, 0, true, mask],
                ["TF", [2, "0x03e8"], 8, true, 0, null, null, null, false],
                ["KL", 1],
                ["RF", [2, format!("0x{client_code:04x}")], 8, true, 0, true, mask],
            ],
        })
    }

    fn write_dir(dir: &Path, agent: &str, mask: &str, code: u64, behavior: &str) {
        let file = format!("{agent}_case_7_1_5.json");
        let index = json!({ agent: { "7.1.5": {
            "behavior": behavior, "behaviorClose": "OK", "duration": 3, "remoteCloseCode": code, "reportfile": file,
        }}});
        std::fs::write(dir.join("index.json"), serde_json::to_string_pretty(&index).unwrap()).unwrap();
        std::fs::write(dir.join(&file), case_json(mask, code, behavior).to_string()).unwrap();
    }

    #[test]
    fn same_reports_with_different_masks_and_agents_are_no_difference() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_dir(a.path(), "client_v1", "e3d50251", 1000, "OK");
        write_dir(b.path(), "client_v2", "0badf00d", 1000, "OK");
        assert!(is_report_dir(a.path()));
        let out = diff_reports(a.path(), b.path(), &DiffOptions::default(), false).unwrap();
        assert_eq!(texts(&out), Vec::<String>::new(), "{}", out.unified);
    }

    #[test]
    fn a_verdict_change_is_tabled_and_the_case_diffed() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_dir(a.path(), "client_v1", "e3d50251", 1000, "OK");
        write_dir(b.path(), "client_v2", "0badf00d", 1002, "FAILED");
        let out = diff_reports(a.path(), b.path(), &DiffOptions::default(), false).unwrap();
        assert_eq!(texts(&out), ["case 7.1.5: OK → FAILED", "case 7.1.5: client close code 1000 → 1002"]);
        let v = &out.verdicts[0];
        assert_eq!((v.case.as_str(), v.before.as_deref(), v.after.as_deref()), ("7.1.5", Some("OK"), Some("FAILED")));
        assert!(out.to_text().contains("case   a   b\n7.1.5  OK  FAILED\n"), "{}", out.to_text());
        let header = format!(
            "--- {}\n+++ {}\n",
            a.path().join("client_v1_case_7_1_5.json").display(),
            b.path().join("client_v2_case_7_1_5.json").display()
        );
        assert!(out.unified.contains(&header), "both files named: {}", out.unified);
        assert!(out.unified.contains("+c2s frame close fin=1 rsv=0 len=2 mask=* \"0x03ea\""), "{}", out.unified);
        assert!(!out.unified.contains("read"), "octets must be dropped: {}", out.unified);
    }

    #[test]
    fn a_wirelog_only_difference_is_still_named() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_dir(a.path(), "x", "e3d50251", 1000, "OK");
        write_dir(b.path(), "x", "e3d50251", 1000, "OK");
        let file = b.path().join("x_case_7_1_5.json");
        let edited = std::fs::read_to_string(&file)
            .unwrap()
            .replace("[5,\"hello\"],1,true,0,true", "[5,\"hellp\"],1,true,0,true");
        std::fs::write(&file, edited).unwrap();
        let out = diff_reports(a.path(), b.path(), &DiffOptions::default(), false).unwrap();
        assert_eq!(texts(&out), ["case 7.1.5: the wire log differs in 2 lines (see the diff)"]);
        assert!(out.unified.contains("+c2s frame text fin=1 rsv=0 len=5 mask=* \"hellp\""), "{}", out.unified);
    }

    #[test]
    fn a_missing_index_is_an_error() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_dir(a.path(), "x", "e3d50251", 1000, "OK");
        let err = diff_reports(a.path(), b.path(), &DiffOptions::default(), false).unwrap_err();
        assert!(matches!(err, ReportError::Io { .. }), "{err}");
    }
}

#[test]
fn run_case_urls_compare_without_agent_and_number() {
    let mask = normalize::mask_run_case;
    assert_eq!(mask("GET /runCase?case=3&agent=v1%20client HTTP/1.1"), "GET /runCase?case=*&agent=* HTTP/1.1");
    assert_eq!(mask("GET /runCase?casetuple=7.1.1&agent=x HTTP/1.1"), "GET /runCase?casetuple=7.1.1&agent=* HTTP/1.1");
    // Anybody else's agent= is their own business.
    assert_eq!(mask("GET /chat?agent=x HTTP/1.1"), "GET /chat?agent=x HTTP/1.1");
    assert_eq!(mask("HTTP/1.1 101 Switching Protocols"), "HTTP/1.1 101 Switching Protocols");
}

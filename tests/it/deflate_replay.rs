//! permessage-deflate in replay: Python `websockets` (an independent
//! implementation) is the client under test of scenarios that compress, and
//! of recordings of compressed sessions.
//!
//! Each replay also records what it observed; that recording's inflated
//! messages, lengths and frames are checked besides the client's own
//! report, so a message compressed wrongly fails twice over.
//!
//! The tests need `pip install websockets`; without it they print why and
//! pass without running.

use crate::deflate::{have_websockets, messages, py_server_from, script, upgrade_extensions};
use crate::util::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::net::TcpListener;
use tokio::process::Command;
use wstap::replay::{Case, CaseRun, Response, Settings, engine, from_recording, runner};
use wstap::report::Behavior;
use wstap::scenario::Scenario;
use wstap::session::{Direction, Recording};

const S2C: Direction = Direction::ServerToClient;

/// Messages that exercise the compressor: a long text that repeats itself
/// 3 000 bytes back (so a window smaller than the one used would fail to
/// inflate), the same text again (context takeover), binary, and empty.
fn sample() -> Vec<Value> {
    let mut x = 99u32;
    let chunk: String = (0..3000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((x >> 16) % 26) as u8)
        })
        .collect();
    let long = chunk.repeat(2);
    let binary: Vec<u8> = (0..2000u32).map(|i| (i % 7) as u8 * 31).collect();
    vec![
        json!({"text": "hello, compressed world"}),
        json!({"text": long}),
        json!({"text": long}),
        json!({"hex": wstap::session::data::hex(&binary)}),
        json!({"text": ""}),
    ]
}

fn bytes_of(m: &Value) -> Vec<u8> {
    match m.get("text") {
        Some(t) => t.as_str().unwrap().as_bytes().to_vec(),
        None => wstap::scenario::payload::decode_hex(m["hex"].as_str().unwrap()).unwrap(),
    }
}

/// A scenario accepting `extensions` that sends `sent` with `compress: true`
/// and expects each echoed, then closes normally.
fn scenario(extensions: &[&str], sent: &[Value]) -> Case {
    let frame = |m: &Value| match m.get("text") {
        Some(_) => json!({"frame": {"opcode": "text", "payload": m, "compress": true}}),
        None => json!({"frame": {"opcode": "binary", "payload": m, "compress": true}}),
    };
    let event = |m: &Value| match m.get("text") {
        Some(_) => json!({"text_message": m}),
        None => json!({"binary_message": m}),
    };
    let mut actions: Vec<Value> = sent.iter().map(frame).collect();
    actions.push(json!({"kill_after": 10}));
    let yaml = json!({
        "id": "9.9.1",
        "description": "compressed messages",
        "expectation": "echoed",
        "handshake": {"extensions": extensions},
        "actions": actions,
        "expect": {
            "events": {"OK": sent.iter().map(event).collect::<Vec<_>>()},
            "close": {"closed_by_me": true, "codes": [1000], "require_clean": true},
            "auto_close": true,
            "wrong_code_fails": true,
        },
    });
    let scenario = Scenario::parse(&yaml.to_string(), Path::new("test.yaml")).unwrap();
    Case {
        scenario,
        number: 1,
        response: Response::Autobahn,
        origin: PathBuf::from("test.yaml"),
        fixture: Default::default(),
    }
}

/// Runs the Python replay client with `settings` to completion; its report.
async fn py_client(url: &str, settings: &Value) -> Value {
    let child = Command::new("python3")
        .arg(script("pmd_replay_client.py"))
        .args([url, &settings.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let out = within("python client", child.wait_with_output()).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "client failed: {stdout}\n{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Replays `case` to the Python client; the run, the client's report and
/// the recording of what the replay observed.
async fn replay(case: &Case, client: &Value) -> (CaseRun, Value, Recording, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let mut settings = Settings::new("python-websockets");
    settings.record_dir = Some(dir.path().to_path_buf());
    let url = runner::case_url(listener.local_addr().unwrap(), case, &settings.agent);
    let client = tokio::spawn({
        let settings = client.clone();
        async move { py_client(&url, &settings).await }
    });
    let (stream, _) = within("client connects", listener.accept()).await.unwrap();
    let run = within("case ends", engine::run_case(stream, case, &settings)).await;
    let report = within("client ends", client).await.unwrap();
    let rec = wstap::store::load(run.recording.as_ref().expect("the replay was recorded")).unwrap();
    (run, report, rec, dir)
}

/// The case passed, the client got `sent` and saw `extensions` agreed, and
/// the replay's own recording inflates every server message to `sent`,
/// compressed exactly when something was agreed.
fn check(run: &CaseRun, report: &Value, rec: &Recording, sent: &[Value], extensions: Option<&str>) {
    assert_eq!(run.report.behavior, Behavior::Ok, "{}", run.report.result);
    assert!(run.passed(), "{:?} {:?}", run.report.behavior_close, run.report.result);
    assert_eq!(report["extensions"].as_str(), extensions, "{report}");
    assert_eq!(report["received"].as_array().unwrap(), sent, "the client received every message");
    assert_eq!(report["close"], 1000);
    let got = messages(rec, S2C);
    assert_eq!(got.len(), sent.len());
    for (i, (m, want)) in got.iter().zip(sent).enumerate() {
        assert_eq!(m.compressed, extensions.is_some(), "message {i}");
        assert_eq!(rec.data_bytes(m.shown_payload()).unwrap(), bytes_of(want), "message {i} inflates as sent");
    }
}

/// Wire lengths of the two copies of the long message.
fn copies(rec: &Recording) -> (u64, u64) {
    let m = messages(rec, S2C);
    (m[1].len, m[2].len)
}

#[tokio::test]
async fn scenario_compresses_with_context_takeover() {
    if !have_websockets("scenario_compresses_with_context_takeover") {
        return;
    }
    let sent = sample();
    let (run, report, rec, _dir) = replay(&scenario(&["permessage-deflate"], &sent), &json!({})).await;
    check(&run, &report, &rec, &sent, Some("permessage-deflate"));
    let (first, second) = copies(&rec);
    assert!(second * 10 < first, "the repeat refers back to the first copy ({first} vs {second})");
    assert!(first < 4000, "the first copy refers back into itself ({first} bytes for 6000)");
}

#[tokio::test]
async fn scenario_compresses_without_context_takeover() {
    if !have_websockets("scenario_compresses_without_context_takeover") {
        return;
    }
    let sent = sample();
    let case = scenario(&["permessage-deflate; server_no_context_takeover"], &sent);
    let (run, report, rec, _dir) = replay(&case, &json!({"client_no_context_takeover": true})).await;
    let agreed = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    check(&run, &report, &rec, &sent, Some(agreed));
    let (first, second) = copies(&rec);
    assert_eq!(first, second, "each message compressed on its own");
}

#[tokio::test]
async fn scenario_compresses_with_every_window_the_client_offers() {
    if !have_websockets("scenario_compresses_with_every_window_the_client_offers") {
        return;
    }
    let sent = sample();
    let case = scenario(&["permessage-deflate"], &sent);
    for bits in 9..=15 {
        let (run, report, rec, _dir) = replay(&case, &json!({"server_max_window_bits": bits})).await;
        check(&run, &report, &rec, &sent, Some(&format!("permessage-deflate; server_max_window_bits={bits}")));
    }
}

#[tokio::test]
async fn scenario_window_bits_limit_both_sides() {
    if !have_websockets("scenario_window_bits_limit_both_sides") {
        return;
    }
    // The client then compresses its echoes with 9 bits, which the replay inflates.
    let sent = sample();
    let case = scenario(&["permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"], &sent);
    let (run, report, rec, _dir) = replay(&case, &json!({})).await;
    let agreed = "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9";
    check(&run, &report, &rec, &sent, Some(agreed));
    assert!(messages(&rec, Direction::ClientToServer).iter().all(|m| m.compressed), "the echoes came compressed");
}

#[tokio::test]
async fn eight_bit_windows_are_declined_or_raised_to_nine() {
    if !have_websockets("eight_bit_windows_are_declined_or_raised_to_nine") {
        return;
    }
    let sent = sample();
    let (run, report, rec, _dir) =
        replay(&scenario(&["permessage-deflate"], &sent), &json!({"server_max_window_bits": 8})).await;
    check(&run, &report, &rec, &sent, None);
    let case = scenario(&["permessage-deflate; server_max_window_bits=8"], &sent);
    let (run, report, rec, _dir) = replay(&case, &json!({})).await;
    check(&run, &report, &rec, &sent, Some("permessage-deflate; server_max_window_bits=9"));
}

#[tokio::test]
async fn compress_without_agreement_sends_plain_messages() {
    if !have_websockets("compress_without_agreement_sends_plain_messages") {
        return;
    }
    let sent = sample();
    let (run, report, rec, _dir) =
        replay(&scenario(&["permessage-deflate"], &sent), &json!({"compression": false})).await;
    check(&run, &report, &rec, &sent, None);
}

/// Records the Python client echoing what the Python sending server sends,
/// through the proxy, both with `settings`.
async fn record_session(settings: &Value, sent: &[Value]) -> (Recording, PathBuf, tempfile::TempDir) {
    let mut server_settings = settings.clone();
    server_settings["send"] = json!(sent);
    let server = py_server_from("pmd_send_server.py", &server_settings).await;
    let proxy = TestProxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], server.port))).await;
    let report = py_client(&proxy.url(), settings).await;
    assert_eq!(report["received"].as_array().unwrap(), sent);
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    assert!(upgrade_extensions(&rec).starts_with("permessage-deflate"));
    (rec, recorded[0].path.clone(), dir)
}

/// The server's frames: header bits and a digest of the payload bytes as
/// on the wire, one line per frame.
fn server_frames(rec: &Recording) -> Vec<String> {
    rec.frames()
        .filter(|(e, _)| e.dir == S2C)
        .map(|(_, f)| {
            let payload = rec.data_bytes(&f.payload).unwrap();
            format!("fin={} rsv={} op={} len={} {}", f.fin, f.rsv, f.opcode, payload.len(), digest(&payload))
        })
        .collect()
}

#[tokio::test]
async fn recording_with_the_same_agreement_replays_byte_for_byte() {
    if !have_websockets("recording_with_the_same_agreement_replays_byte_for_byte") {
        return;
    }
    let sent = sample();
    let settings = json!({"server_max_window_bits": 11});
    let (original, path, _dir) = record_session(&settings, &sent).await;
    let case = from_recording::load(&path, Default::default()).unwrap();
    let (run, report, rec, _rdir) = replay(&case, &settings).await;
    let agreed = upgrade_extensions(&original);
    check(&run, &report, &rec, &sent, Some(&agreed));
    assert_eq!(server_frames(&rec), server_frames(&original), "the recorded frames went out as they are");
}

#[tokio::test]
async fn recording_under_another_agreement_is_recompressed() {
    if !have_websockets("recording_under_another_agreement_is_recompressed") {
        return;
    }
    let sent = sample();
    let (original, path, _dir) = record_session(&json!({}), &sent).await;
    let case = from_recording::load(&path, Default::default()).unwrap();
    let recorded = server_frames(&original);
    for (client, agreed) in [
        (json!({"client_no_context_takeover": true}), "permessage-deflate; client_no_context_takeover"),
        (json!({"server_no_context_takeover": true}), "permessage-deflate; server_no_context_takeover"),
        (json!({"server_max_window_bits": 9}), "permessage-deflate; server_max_window_bits=9"),
    ] {
        let (run, report, rec, _rdir) = replay(&case, &client).await;
        check(&run, &report, &rec, &sent, Some(agreed));
        assert_ne!(server_frames(&rec), recorded, "{client}: compressed again, not sent as recorded");
    }
    // No compression at all: the inflated messages go out plain.
    let (run, report, rec, _rdir) = replay(&case, &json!({"compression": false})).await;
    check(&run, &report, &rec, &sent, None);
}

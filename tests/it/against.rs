//! `wstap replay REC.yaml --against URL`: a client session recorded through
//! `wstap record` in front of python websockets, played back to a server
//! and judged, with the real binaries: the same server passes and diffs
//! clean, a server that closes with another code fails and diffs naming it,
//! and servers that never answer, reset or send garbage get a clear
//! verdict in bounded time.

use crate::bad_servers;
use crate::deflate::{have_websockets, py_server_from, script};
use crate::util::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wstap::session::Direction::ClientToServer as C2S;

/// The longest a broken server may hold up a replay: the 5 s opening
/// handshake or kill timer, plus slack for a loaded machine.
const BOUND: Duration = Duration::from_secs(20);

/// Records python's client saying `messages` then "bye" to python's server
/// (which closes with 1000) through `wstap record`; the recording's path.
async fn record_python_session(messages: serde_json::Value, out: &Path) -> PathBuf {
    let server = py_server_from("against_server.py", &json!({})).await;
    let upstream = format!("127.0.0.1:{}", server.port);
    let recorder = WstapChild::record(&["--upstream", &upstream, "--quiet", "--out", out.to_str().unwrap()]);
    let url = format!("ws://{}/chat?room=1", recorder.addr);
    let client = tokio::process::Command::new("python3")
        .arg(script("against_client.py"))
        .args([&url, &messages.to_string()])
        .kill_on_drop(true)
        .output();
    let client = within("python client", client).await.unwrap();
    let stdout = String::from_utf8_lossy(&client.stdout);
    assert!(client.status.success() && stdout.contains("CLOSED 1000"), "{stdout}{client:?}");
    wait_for_summaries(out, 1).await;
    let (status, lines) = recorder.interrupt().await;
    assert!(status.success(), "{lines:?}");
    let files = yaml_files(out);
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Runs `wstap ARGS` to its end (bounded); exit code, stdout, stderr, time.
async fn wstap(args: &[&str]) -> (i32, String, String, Duration) {
    let started = Instant::now();
    let run = tokio::process::Command::new(wstap_bin()).args(args).kill_on_drop(true).output();
    let out = tokio::time::timeout(BOUND, run).await.unwrap_or_else(|_| panic!("wstap {args:?} took over {BOUND:?}"));
    let out = out.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr), started.elapsed())
}

/// `wstap replay REC --against URL --report DIR`, and the observed recording.
async fn against(rec: &Path, url: &str, report: &Path) -> (i32, String, String, Option<PathBuf>) {
    let (code, stdout, stderr, _) =
        wstap(&["replay", rec.to_str().unwrap(), "--against", url, "--report", report.to_str().unwrap()]).await;
    let stem = rec.file_stem().unwrap().to_string_lossy().replace('.', "_");
    let observed = report.join("recordings").join(format!("server_case_{stem}.yaml"));
    (code, stdout, stderr, observed.exists().then_some(observed))
}

#[tokio::test]
async fn a_recorded_session_replays_against_python_websockets_and_diffs_clean_or_names_the_close_code() {
    if !have_websockets("a_recorded_session_replays_against_python_websockets") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rec = record_python_session(json!(["hello", {"hex": "00ff10"}, "hello"]), &tmp.path().join("rec")).await;

    // The same server: the verdict passes and nothing changed.
    let same = py_server_from("against_server.py", &json!({})).await;
    let url = format!("ws://127.0.0.1:{}", same.port);
    let (code, stdout, stderr, observed) = against(&rec, &url, &tmp.path().join("same")).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("OK"), "{stdout}");
    let observed = observed.unwrap_or_else(|| panic!("no observed recording: {stderr}"));
    let (code, diff, err, _) = wstap(&["diff", rec.to_str().unwrap(), observed.to_str().unwrap()]).await;
    assert_eq!(code, 0, "an unchanged server diffs clean:\n{diff}{err}");
    // It really was replayed: the server saw the recorded request target
    // and the messages, compressed as recorded.
    let seen = wstap::store::load(&observed).unwrap();
    let head = String::from_utf8_lossy(&seen.data_bytes(seen.head(C2S).unwrap()).unwrap()).into_owned();
    assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("Host: 127.0.0.1:{}\r\n", same.port)), "{head}");

    // --keep-masks: the recorded keys go out again, so the client's frames
    // are the recorded bytes.
    let kept = tmp.path().join("kept");
    let (code, stdout, stderr, _) = wstap(&[
        "replay",
        rec.to_str().unwrap(),
        "--against",
        &format!("ws://127.0.0.1:{}", same.port),
        "--keep-masks",
        "--record-dir",
        kept.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let masks = |path: &Path| {
        let rec = wstap::store::load(path).unwrap();
        let data = rec.frames().filter(|(e, f)| e.dir == C2S && !f.opcode().is_control());
        data.map(|(_, f)| f.mask.clone().unwrap()).collect::<Vec<String>>()
    };
    let recorded = masks(&rec);
    assert_eq!(recorded.len(), 4, "three messages and the bye");
    assert_eq!(masks(&yaml_files(&kept)[0]), recorded);
    assert!(masks(&observed).iter().zip(&recorded).all(|(new, old)| new != old), "new keys by default");

    // A server that closes with 4001: the verdict fails naming the code,
    // and diff names the change.
    let other = py_server_from("against_server.py", &json!({"close_code": 4001})).await;
    let url = format!("ws://127.0.0.1:{}", other.port);
    let (code, stdout, stderr, observed) = against(&rec, &url, &tmp.path().join("other")).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("WRONG CODE"), "{stdout}");
    let named = "expected close code 1000 from the server, the server closing first, clean; \
                 observed close code 4001 reason \"done\" from the server";
    assert!(stderr.contains(named), "{stderr}");
    let observed = observed.unwrap_or_else(|| panic!("no observed recording: {stderr}"));
    let (code, diff, err, _) = wstap(&["diff", rec.to_str().unwrap(), observed.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{diff}{err}");
    assert!(diff.contains("server close code 1000 → 4001"), "{diff}");
}

/// A recording of a tungstenite echo session, made through the proxy.
async fn tungstenite_recording() -> (PathBuf, tempfile::TempDir) {
    use futures_util::{SinkExt, StreamExt};
    let proxy = TestProxy::start(tungstenite_echo().await).await;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("ping me")).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    close_going_away(ws).await;
    let (recorded, dir) = proxy.finish().await;
    (recorded[0].path.clone(), dir)
}

#[tokio::test]
async fn servers_that_never_answer_reset_or_send_garbage_get_a_clear_verdict_in_bounded_time() {
    let (rec, _dir) = tungstenite_recording().await;
    let rec = rec.to_str().unwrap().to_owned();
    let (silent, reset, garbage, mute_after_101) = (
        bad_servers::silent().await,
        bad_servers::reset().await,
        bad_servers::garbage().await,
        bad_servers::mute_after_101().await,
    );
    let runs = [
        (silent, "the server did not answer the upgrade within 5 s"),
        (reset, "reset"),
        (garbage, "no valid 101 response"),
        (mute_after_101, "actual events differ from any expected"),
    ];
    for (url, why) in runs {
        let (code, stdout, stderr, took) = wstap(&["replay", &rec, "--against", &url]).await;
        assert_eq!(code, 1, "{url}: {stdout}{stderr}");
        assert!(
            stdout.contains("FAILED") && stdout.to_lowercase().contains(&why.to_lowercase()),
            "{url}: {why}: {stdout}{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(took < BOUND, "{url} took {took:?}");
    }
}

#[tokio::test]
async fn against_refuses_what_it_cannot_play_with_a_clear_error() {
    let scenario = format!("{}/scenarios/7/7.1.1.yaml", env!("CARGO_MANIFEST_DIR"));
    let (code, _, stderr, _) = wstap(&["replay", &scenario, "--against", "ws://127.0.0.1:1/"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("a scenario, not a recording") && stderr.contains("wstap fuzz"), "{stderr}");
    let (rec, _dir) = tungstenite_recording().await;
    let rec = rec.to_str().unwrap().to_owned();
    let (code, _, stderr, _) = wstap(&["replay", &rec, "--against", "http://127.0.0.1:1/"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("ws://"), "{stderr}");
    let (code, _, stderr, _) = wstap(&["replay", &rec, "--against", "ws://127.0.0.1:1/", "--client", "true"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let (code, _, stderr, _) = wstap(&["replay", &rec, "--keep-masks"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("--against"), "{stderr}");
    // Nothing listens on port 1: a FAILED case naming the connection, not a hang.
    let (code, stdout, stderr, took) = wstap(&["replay", &rec, "--against", "ws://127.0.0.1:1/"]).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("FAILED") && stdout.contains("127.0.0.1:1"), "{stdout}");
    assert!(took < BOUND);
}

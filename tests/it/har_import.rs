//! HAR import (`wstap convert SESSION.har DIR`) with real peers: a HAR that
//! wstap exported from a python websockets session, and a hand-made
//! Chrome-style HAR, each imported and then replayed by `wstap replay` to a
//! real client (python websockets, node ws) for a verdict.

use crate::deflate::{record_python, sample_messages, script, upgrade_extensions};
use crate::util::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use wstap::session::{Direction, Recording};

/// Runs the wstap binary; exit code, stdout, stderr.
fn wstap(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(wstap_bin()).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `wstap convert HAR DIR`: the recordings written.
fn import(har: &Path, dir: &Path) -> Vec<PathBuf> {
    let (code, stdout, stderr) = wstap(&["convert".as_ref(), har.as_os_str(), dir.as_os_str()]);
    assert_eq!(code, Some(0), "convert {}: {stderr}", har.display());
    stdout.lines().map(PathBuf::from).collect()
}

/// `wstap replay DIR --client CMD`: exit code and stdout (the summary).
fn replay(dir: &Path, client: &str) -> (Option<i32>, String) {
    let (code, stdout, stderr) = wstap(&["replay".as_ref(), dir.as_os_str(), "--client".as_ref(), client.as_ref()]);
    (code, format!("{stdout}\n{stderr}"))
}

/// Every text/binary message of `dir`, reassembled from its frames (the
/// imported recordings are uncompressed).
fn payloads(rec: &Recording, dir: Direction) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for (event, frame) in rec.frames().filter(|(e, f)| e.dir == dir && !f.opcode().is_control()) {
        assert_eq!(frame.rsv, 0, "imported uncompressed: {event:?}");
        current.extend(rec.data_bytes(&frame.payload).unwrap());
        if frame.fin {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn har_exported_from_a_python_session_imports_and_replays_to_python() {
    let test = "har_exported_from_a_python_session_imports_and_replays_to_python";
    if !have(Tool::PythonWebsockets, test) {
        return;
    }
    // Compressed, fragmented, binary, a sidecar-sized text, an empty one.
    let (spec, sent) = sample_messages();
    let (original, path, dir) = record_python(&json!({}), &spec, None).await;
    assert!(upgrade_extensions(&original).starts_with("permessage-deflate"));
    let har = dir.path().join("session.har");
    let (code, _, stderr) = wstap(&["convert".as_ref(), path.as_os_str(), har.as_os_str()]);
    assert_eq!(code, Some(0), "export: {stderr}");

    let imported_dir = dir.path().join("imported");
    let written = import(&har, &imported_dir);
    assert_eq!(written.len(), 1, "{written:?}");
    let rec = wstap::store::load(&written[0]).unwrap();
    for d in [Direction::ClientToServer, Direction::ServerToClient] {
        assert_eq!(payloads(&rec, d), sent, "{d:?}: the messages the peers exchanged, inflated");
    }
    let (summary, was) = (rec.summary(), original.summary());
    assert!(summary.clean && summary.closed_first_by == was.closed_first_by, "{summary:?} vs {was:?}");
    assert_eq!(summary.client_close, was.client_close);
    assert_eq!(upgrade_extensions(&rec), upgrade_extensions(&original), "the negotiated headers as recorded");

    // The imported recording as a regression test: the same client passes.
    let messages = dir.path().join("messages.json");
    std::fs::write(&messages, spec.to_string()).unwrap();
    let client = format!("python3 {} {{url}} '{{}}' < {}", script("pmd_client.py"), messages.display());
    let (code, out) = replay(&imported_dir, &client);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 cases: 1 passed, 0 failed"), "{out}");

    // And a client that sends something else fails it.
    let mut other = spec.clone();
    other[0] = json!({"text": "not what was recorded"});
    std::fs::write(&messages, other.to_string()).unwrap();
    let (code, out) = replay(&imported_dir, &client);
    assert_eq!(code, Some(1), "a different client must fail the imported case: {out}");
}

/// A HAR as Chrome DevTools writes one: the server greets, the client asks,
/// the server answers with text and binary; permessage-deflate negotiated,
/// messages inflated; no control frames.
fn chrome_har(port: u16) -> Value {
    json!({"log": {
        "version": "1.2",
        "creator": {"name": "WebInspector", "version": "537.36"},
        "pages": [{"startedDateTime": "2024-05-01T12:00:00.000Z", "id": "page_1", "title": "chat", "pageTimings": {}}],
        "entries": [
            {"startedDateTime": "2024-05-01T12:00:00.100Z", "time": 3.2, "request": {"method": "GET",
             "url": format!("http://127.0.0.1:{port}/"), "headers": []}, "response": {"status": 200, "headers": []}},
            {
                "_initiator": {"type": "script"},
                "_resourceType": "websocket",
                "startedDateTime": "2024-05-01T12:00:01.000Z",
                "time": 2500.0,
                "serverIPAddress": "127.0.0.1",
                "connection": "81342",
                "request": {"method": "GET", "url": format!("ws://127.0.0.1:{port}/chat?room=7"), "httpVersion": "HTTP/1.1",
                    "headers": [
                        {"name": "Host", "value": format!("127.0.0.1:{port}")},
                        {"name": "Connection", "value": "Upgrade"},
                        {"name": "Upgrade", "value": "websocket"},
                        {"name": "Origin", "value": format!("http://127.0.0.1:{port}")},
                        {"name": "Sec-WebSocket-Version", "value": "13"},
                        {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0.0.0"},
                        {"name": "Sec-WebSocket-Key", "value": "q4xkcO32u266gldTuKaSOw=="},
                        {"name": "Sec-WebSocket-Extensions", "value": "permessage-deflate; client_max_window_bits"}
                    ], "queryString": [{"name": "room", "value": "7"}], "cookies": [], "headersSize": -1, "bodySize": 0},
                "response": {"status": 101, "statusText": "Switching Protocols", "httpVersion": "HTTP/1.1",
                    "headers": [
                        {"name": "Upgrade", "value": "websocket"},
                        {"name": "Connection", "value": "Upgrade"},
                        {"name": "Sec-WebSocket-Accept", "value": "fA9dggdnMPU79lJgAE3W4TRnyDM="},
                        {"name": "Sec-WebSocket-Extensions", "value": "permessage-deflate"}
                    ], "cookies": [], "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
                    "headersSize": -1, "bodySize": -1, "_transferSize": 0},
                "cache": {}, "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": 0, "receive": 0},
                "_webSocketMessages": [
                    {"type": "receive", "time": 1714564801.010, "opcode": 1, "data": "welcome to room 7"},
                    {"type": "send", "time": 1714564801.500, "opcode": 1, "data": "who is here?"},
                    {"type": "receive", "time": 1714564801.502, "opcode": 1, "data": "{\"users\":[\"ana\",\"ben\"]}"},
                    {"type": "receive", "time": 1714564801.503, "opcode": 2, "data": "AAECA/79/P8="},
                    {"type": "send", "time": 1714564802.000, "opcode": 2, "data": "3q2+7w=="},
                    {"type": "receive", "time": 1714564802.100, "opcode": 1, "data": "bye, κόσμε"}
                ]
            }
        ]
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chrome_style_har_imports_and_replays_to_node_ws() {
    let test = "chrome_style_har_imports_and_replays_to_node_ws";
    if !crate::oracle::tools::ready(test, &[crate::oracle::tools::node_ws()]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("chrome.har");
    std::fs::write(&har, serde_json::to_string_pretty(&chrome_har(8080)).unwrap()).unwrap();
    let imported_dir = dir.path().join("imported");
    let written = import(&har, &imported_dir);
    assert_eq!(written.len(), 1, "{written:?}");
    let rec = wstap::store::load(&written[0]).unwrap();
    let c2s: Vec<Vec<u8>> = vec![b"who is here?".to_vec(), vec![0xde, 0xad, 0xbe, 0xef]];
    assert_eq!(payloads(&rec, Direction::ClientToServer), c2s);
    assert_eq!(payloads(&rec, Direction::ServerToClient).len(), 4);

    let steps = json!([
        {"expect": "welcome to room 7"},
        {"send": "who is here?"},
        {"expect": "{\"users\":[\"ana\",\"ben\"]}"},
        {"expect_b64": "AAECA/79/P8="},
        {"send_b64": "3q2+7w=="},
        {"expect": "bye, κόσμε"},
    ]);
    let steps_file = dir.path().join("steps.json");
    std::fs::write(&steps_file, steps.to_string()).unwrap();
    let node = crate::oracle::tools::peers_dir().join("node/steps_client.js");
    let client = format!("node {} {{url}} {}", node.display(), steps_file.display());
    let (code, out) = replay(&imported_dir, &client);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 cases: 1 passed, 0 failed"), "{out}");

    // A client that answers differently fails the case.
    let mut wrong = steps.clone();
    wrong[1] = json!({"send": "who else?"});
    std::fs::write(&steps_file, wrong.to_string()).unwrap();
    let (code, out) = replay(&imported_dir, &client);
    assert_eq!(code, Some(1), "a different client must fail the imported case: {out}");
}

use super::*;
use crate::session::{Data, EventKind};
use serde_json::json;

/// A Chrome-style HAR: one plain HTTP entry, one WebSocket entry.
fn chrome_har() -> Value {
    json!({"log": {
        "version": "1.2",
        "creator": {"name": "WebInspector", "version": "537.36"},
        "pages": [],
        "entries": [
            {"startedDateTime": "2024-05-01T12:00:00.000Z", "request": {"method": "GET", "url": "http://x/"},
             "response": {"status": 200}},
            {
                "startedDateTime": "2024-05-01T12:00:01.000Z",
                "_resourceType": "websocket",
                "serverIPAddress": "127.0.0.1",
                "request": {"method": "GET", "url": "ws://localhost:8080/chat?room=1", "headers": [
                    {"name": "Host", "value": "localhost:8080"},
                    {"name": "Upgrade", "value": "websocket"},
                    {"name": "Connection", "value": "Upgrade"},
                    {"name": "Sec-WebSocket-Key", "value": "dGhlIHNhbXBsZSBub25jZQ=="},
                    {"name": "Sec-WebSocket-Version", "value": "13"},
                    {"name": "User-Agent", "value": "Mozilla/5.0"}
                ]},
                "response": {"status": 101, "statusText": "Switching Protocols", "headers": [
                    {"name": "Upgrade", "value": "websocket"},
                    {"name": "Connection", "value": "Upgrade"},
                    {"name": "Sec-WebSocket-Accept", "value": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
                ]},
                "_webSocketMessages": [
                    {"type": "send", "time": 1714564801.5, "opcode": 1, "data": "hello"},
                    {"type": "receive", "time": 1714564801.502, "opcode": 1, "data": "hello"},
                    {"type": "send", "time": 1714564802.0, "opcode": 2, "data": "AAEC/w=="},
                    {"type": "receive", "time": 1714564802.001, "opcode": 2, "data": "AAEC/w=="}
                ]
            }
        ]
    }})
}

fn import(har: &Value) -> (Converted, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.har");
    std::fs::write(&input, serde_json::to_vec(har).unwrap()).unwrap();
    let done = convert(&input, &dir.path().join("out")).unwrap();
    (done, dir)
}

fn error(har: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.har");
    std::fs::write(&input, har).unwrap();
    convert(&input, &dir.path().join("out")).unwrap_err().to_string()
}

#[test]
fn chrome_entry_becomes_a_recording_of_those_messages() {
    let (done, dir) = import(&chrome_har());
    assert_eq!(done.written.len(), 1, "{:?}", done.messages);
    assert!(
        done.messages.iter().any(|m| m.contains("1 entries that are not WebSocket skipped")),
        "{:?}",
        done.messages
    );
    let path = &done.written[0];
    assert!(path.starts_with(dir.path().join("out")));
    assert_eq!(path.file_name().unwrap(), "20240501T120001.000000Z-000002.yaml");
    let rec = crate::store::load(path).unwrap();
    assert_eq!(rec.source.as_deref(), Some("import"));
    assert_eq!(rec.server, "127.0.0.1:8080");
    assert!(rec.notes[0].starts_with("imported from HAR, message level"), "{:?}", rec.notes);
    let summary = rec.summary();
    assert!(summary.upgraded, "{summary:?}");
    assert_eq!(summary.violations, 0);
    let frames: Vec<(Direction, u8, Vec<u8>, bool, u64)> = rec
        .frames()
        .map(|(e, f)| (e.dir, f.opcode, rec.data_bytes(&f.payload).unwrap(), f.mask.is_some(), e.at))
        .collect();
    let (c, s) = (Direction::ClientToServer, Direction::ServerToClient);
    let bin = vec![0, 1, 2, 255];
    assert_eq!(
        frames,
        [
            (c, 1, b"hello".to_vec(), true, 500_000),
            (s, 1, b"hello".to_vec(), false, 502_000),
            (c, 2, bin.clone(), true, 1_000_000),
            (s, 2, bin, false, 1_001_000),
        ]
    );
    // The recorded request is the HAR's, in order, with the path and query.
    let head = rec.data_bytes(rec.head(c).unwrap()).unwrap();
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\nHost: localhost:8080\r\n"), "{head}");
    assert!(head.contains("User-Agent: Mozilla/5.0\r\n"), "{head}");
    assert!(!rec.notes.iter().any(|n| n.contains("synthesised:")), "every header was in the HAR: {:?}", rec.notes);
}

#[test]
fn import_is_repeatable_and_masks_differ_per_frame() {
    let (a, _d1) = import(&chrome_har());
    let (b, _d2) = import(&chrome_har());
    assert_eq!(std::fs::read(&a.written[0]).unwrap(), std::fs::read(&b.written[0]).unwrap());
    let rec = crate::store::load(&a.written[0]).unwrap();
    let masks: Vec<_> = rec.frames().filter_map(|(_, f)| f.mask.clone()).collect();
    assert_eq!(masks.len(), 2);
    assert_ne!(masks[0], masks[1]);
}

#[test]
fn missing_handshake_fields_are_synthesised_and_noted() {
    // mitmproxy's form: an http:// URL, a +00:00 offset, no key, no response
    // headers, binary data without `_encoding`.
    let har = json!({"log": {"entries": [{
        "startedDateTime": "2024-05-01T14:00:00.250000+02:00",
        "request": {"method": "GET", "url": "http://example.com/ws", "headers": [{"name": ":authority", "value": "x"}]},
        "response": {"status": 0},
        "_resourceType": "websocket",
        "_webSocketMessages": [{"type": "receive", "time": 1714564800.25, "opcode": 2, "data": "/w=="}]
    }]}});
    let (done, _dir) = import(&har);
    let rec = crate::store::load(&done.written[0]).unwrap();
    assert_eq!(rec.started, "2024-05-01T12:00:00.250000Z");
    assert_eq!(rec.server, "example.com:80");
    let notes = rec.notes.join("\n");
    assert!(notes.contains("request headers not in the HAR, synthesised: Host, Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version"), "{notes}");
    assert!(notes.contains("a plain 101 is synthesised"), "{notes}");
    assert!(notes.contains("pseudo-headers left out of the HTTP/1.1 head: :authority"), "{notes}");
    assert!(rec.summary().upgraded);
    let (event, frame) = rec.frames().next().unwrap();
    assert_eq!((event.at, rec.data_bytes(&frame.payload).unwrap()), (0, vec![255]));
}

#[test]
fn wstap_extensions_keep_fragments_control_frames_and_base64_text() {
    let mut har = chrome_har();
    let entry = &mut har["log"]["entries"][1];
    entry["_webSocketMessages"] = json!([
        {"type": "send", "time": 1714564801.0, "opcode": 1, "data": "abcdef", "_frames": 3},
        {"type": "receive", "time": 1714564801.1, "opcode": 1, "data": "/w==", "_encoding": "base64"}
    ]);
    entry["_webSocketControlFrames"] = json!([
        {"type": "send", "time": 1714564801.2, "opcode": 8, "data": "A+hieWU="},
        {"type": "receive", "time": 1714564801.3, "opcode": 8, "data": "A+g="}
    ]);
    let (done, _dir) = import(&har);
    let rec = crate::store::load(&done.written[0]).unwrap();
    let ops: Vec<(u8, bool)> = rec.frames().map(|(_, f)| (f.opcode, f.fin)).collect();
    assert_eq!(ops, [(1, false), (0, false), (0, true), (1, true), (8, true), (8, true)]);
    let summary = rec.summary();
    assert!(summary.clean, "{summary:?}");
    assert_eq!(
        summary.client_close.as_ref().map(|c| (c.code, c.reason.clone())),
        Some((Some(1000), Some("bye".into())))
    );
    let text = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::Message(m) if e.dir == Direction::ServerToClient => Some(m.payload.clone()),
        _ => None,
    });
    assert!(matches!(text, Some(Data::Hex(ref h)) if h == "ff"), "{text:?}");
}

#[test]
fn bad_input_names_the_json_location() {
    let e = error("{\"log\": {\"entries\": [\n  {,}]}}");
    assert!(e.contains("in.har: line 2, column 4: not valid JSON"), "{e}");
    assert!(error("[]").contains("in.har: log: expected an object"), "{}", error("[]"));
    let cases: [(&str, Value, &str); 7] = [
        (
            "/_webSocketMessages/0/opcode",
            json!(9),
            "log.entries[1]._webSocketMessages[0].opcode: expected 1 (text) or 2 (binary), found 9",
        ),
        (
            "/_webSocketMessages/2/data",
            json!("not base64!"),
            "log.entries[1]._webSocketMessages[2].data: expected base64",
        ),
        ("/_webSocketMessages/1/type", json!("recv"), "log.entries[1]._webSocketMessages[1].type: expected \"send\""),
        (
            "/_webSocketMessages/1/time",
            json!("soon"),
            "log.entries[1]._webSocketMessages[1].time: expected a number, found a string",
        ),
        ("/startedDateTime", json!("yesterday"), "log.entries[1].startedDateTime: expected an ISO 8601 time"),
        (
            "/request/headers/0/value",
            json!("a\u{0}b"),
            "log.entries[1].request.headers[0].value: a header value with control characters",
        ),
        ("/request/method", json!("POST"), "log.entries[1].request.method: expected GET"),
    ];
    for (pointer, value, want) in cases {
        let mut har = chrome_har();
        *har["log"]["entries"][1].pointer_mut(pointer).unwrap() = value;
        let e = error(&har.to_string());
        assert!(e.contains(want), "{pointer}: {e}");
    }
    let mut har = chrome_har();
    har["log"]["entries"][1]["request"]["url"] = json!("ftp://x/");
    assert!(error(&har.to_string()).contains("log.entries[1].request.url: unknown scheme"));
}

#[test]
fn a_refused_upgrade_is_skipped_with_its_status_and_names_never_become_paths() {
    let mut har = chrome_har();
    har["log"]["entries"][1]["response"]["status"] = json!(403);
    let mut other = chrome_har()["log"]["entries"][1].clone();
    other["request"]["url"] = json!("ws://h/../../../etc/passwd");
    other["request"]["headers"] = json!([{"name": "X-Name", "value": "../../evil.yaml"}]);
    har["log"]["entries"].as_array_mut().unwrap().push(other);
    let (done, dir) = import(&har);
    assert!(
        done.messages.iter().any(|m| m.contains("log.entries[1]: not upgraded (HTTP 403); skipped")),
        "{:?}",
        done.messages
    );
    assert_eq!(done.written.len(), 1);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["20240501T120001.000000Z-000003.yaml"]);
}

#[test]
fn times_with_offsets() {
    assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1_000_000));
    assert_eq!(parse_time("1970-01-01T01:00:01.5+01:00"), Some(1_500_000));
    assert_eq!(parse_time("1970-01-01T00:00:00-01:00"), Some(3_600_000_000));
    assert_eq!(parse_time("1970-01-01T00:00:00+25:00"), None);
    assert_eq!(parse_time("1970-01-01T00:00:00"), None);
}

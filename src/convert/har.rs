//! A recording as a HAR 1.2 log in Chrome DevTools' WebSocket shape.
//!
//! One entry holds the upgrade: `request` and `response` come from the
//! recorded HTTP heads, and `_resourceType: "websocket"`. Its
//! `_webSocketMessages` lists every text and binary message as Chrome
//! writes them: `{type: "send" | "receive", time, opcode, data}`, `send`
//! being what the client sent, `time` the epoch seconds of the message's
//! last frame, `data` the text, or base64 for binary. What HAR has no field
//! for is added under `_` keys:
//! - per message: `_frames` (fragment count, when more than one),
//!   `_compressed` (permessage-deflate: `data` is the **inflated** message,
//!   as Chrome exports it, and `_wireData` the compressed payload as sent,
//!   base64; `_inflated: false` when wstap could not inflate it, `data`
//!   then being the compressed bytes), `_encoding: "base64"` whenever
//!   `data` is base64 (binary, or text that is not UTF-8);
//! - per entry: `_webSocketControlFrames` (pings, pongs, closes with
//!   `_closeCode` / `_closeReason`), `_webSocketClose` (each side's close
//!   code and reason, and who closed first) and `_tcpEnd`;
//! - HAR's optional fields that libraries read are filled: `connection`
//!   (the server's port, as a string), `log.browser` (the client's
//!   `User-Agent`, or `unknown`) beside `log.creator`.

use std::path::Path;

use base64::Engine;
use serde_json::{Value, json};

use super::{ConvertError, Converted};
use crate::session::{Data, Direction, EventKind, Frame, Recording, Side, time};
use crate::wire::{Head, OpCode};

/// Writes the recording at `input` as HAR to `output`.
pub fn convert(input: &Path, output: &Path) -> Result<Converted, ConvertError> {
    let mut done = Converted::default();
    let rec = super::load(input, &mut done.messages)?;
    let log = har(&rec).map_err(|m| ConvertError::content(input, m))?;
    let text = serde_json::to_string_pretty(&log).map_err(|e| ConvertError::write(output, e))?;
    std::fs::write(output, text + "\n").map_err(|e| ConvertError::write(output, e))?;
    done.written.push(output.to_path_buf());
    Ok(done)
}

/// The HAR log of a recording.
pub fn har(rec: &Recording) -> Result<Value, String> {
    let started = time::parse_rfc3339(&rec.started)
        .ok_or_else(|| format!("`started: {}` is not an RFC 3339 UTC time", rec.started))?;
    let request = head_text(rec, Direction::ClientToServer)?
        .ok_or("no HTTP upgrade request in the recording (imported mid-connection?); HAR needs one")?;
    let response = head_text(rec, Direction::ServerToClient)?;
    let (messages, control) = messages(rec, started)?;
    let summary = rec.summary();
    let mut entry = json!({
        "startedDateTime": time::rfc3339_millis(started),
        "time": summary.duration_us as f64 / 1000.0,
        "request": har_request(&request, &rec.server)?,
        "response": har_response(response.as_deref())?,
        "cache": {},
        "timings": { "send": 0, "wait": 0, "receive": 0 },
        "serverIPAddress": rec.server.rsplit_once(':').map_or(rec.server.as_str(), |(ip, _)| ip)
            .trim_matches(['[', ']']),
        "connection": rec.server.rsplit_once(':').map_or("", |(_, port)| port),
        "_resourceType": "websocket",
        "_webSocketMessages": messages,
        "_webSocketControlFrames": control,
        "_webSocketClose": {
            "client": close_json(summary.close_of(Side::Client)),
            "server": close_json(summary.close_of(Side::Server)),
            "closedFirstBy": summary.closed_first_by.map(side_name),
        },
        "_tcpEnd": {
            "client": summary.client_tcp_end.map(|e| format!("{e:?}").to_lowercase()),
            "server": summary.server_tcp_end.map(|e| format!("{e:?}").to_lowercase()),
        },
    });
    if !rec.notes.is_empty() {
        entry["_notes"] = json!(rec.notes);
    }
    let agent = Head::parse_request(request.as_bytes()).ok().and_then(|h| h.header("user-agent"));
    Ok(json!({ "log": {
        "version": "1.2",
        "creator": { "name": "wstap", "version": env!("CARGO_PKG_VERSION") },
        "browser": { "name": agent.unwrap_or_else(|| "unknown".to_owned()), "version": "" },
        "pages": [],
        "entries": [entry],
    }}))
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

fn close_json(close: Option<&crate::session::CloseInfo>) -> Value {
    close.map_or(Value::Null, |c| json!({ "code": c.code, "reason": c.reason }))
}

fn head_text(rec: &Recording, dir: Direction) -> Result<Option<String>, String> {
    let Some(data) = rec.head(dir) else { return Ok(None) };
    let bytes = rec.data_bytes(data).map_err(|e| format!("{} HTTP head: {e}", dir.short()))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn headers(head: &Head) -> Value {
    let list: Vec<Value> =
        head.headers.iter().map(|(n, v)| json!({ "name": n, "value": String::from_utf8_lossy(v) })).collect();
    Value::Array(list)
}

fn har_request(text: &str, server: &str) -> Result<Value, String> {
    let head = Head::parse_request(text.as_bytes()).map_err(|e| format!("upgrade request: {e}"))?;
    let version = text.lines().next().and_then(|l| l.rsplit(' ').next()).unwrap_or("HTTP/1.1");
    let host = head.header("host").unwrap_or_else(|| server.to_string());
    let query: Vec<Value> = head
        .path
        .split_once('?')
        .map(|(_, q)| q.split('&').filter(|p| !p.is_empty()).map(query_pair).collect())
        .unwrap_or_default();
    Ok(json!({
        "method": head.method,
        "url": format!("ws://{host}{}", head.path),
        "httpVersion": version.trim(),
        "headers": headers(&head),
        "queryString": query,
        "cookies": [],
        "headersSize": text.len(),
        "bodySize": 0,
    }))
}

fn query_pair(pair: &str) -> Value {
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    json!({ "name": name, "value": value })
}

fn har_response(text: Option<&str>) -> Result<Value, String> {
    let Some(text) = text else {
        return Ok(json!({
            "status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
            "content": { "size": 0, "mimeType": "x-unknown" }, "redirectURL": "", "headersSize": -1, "bodySize": 0,
            "_error": "no response recorded",
        }));
    };
    let head = Head::parse_response(text.as_bytes()).map_err(|e| format!("upgrade response: {e}"))?;
    let first = text.lines().next().unwrap_or_default();
    let mut parts = first.splitn(3, ' ');
    let version = parts.next().unwrap_or("HTTP/1.1");
    let status_text = parts.nth(1).unwrap_or("").trim();
    Ok(json!({
        "status": head.status,
        "statusText": status_text,
        "httpVersion": version,
        "headers": headers(&head),
        "cookies": [],
        "content": { "size": 0, "mimeType": "x-unknown" },
        "redirectURL": "",
        "headersSize": text.len(),
        "bodySize": 0,
    }))
}

/// A message being reassembled in one direction.
struct Pending {
    opcode: u8,
    bytes: Vec<u8>,
    frames: u32,
    compressed: bool,
}

/// `_webSocketMessages` and the control frames, in recorded order.
fn messages(rec: &Recording, started: u64) -> Result<(Vec<Value>, Vec<Value>), String> {
    // The inflated payloads of compressed messages, per direction, in order.
    let mut inflated: [std::collections::VecDeque<Option<Vec<u8>>>; 2] = Default::default();
    for event in &rec.events {
        if let EventKind::Message(m) = &event.kind
            && m.compressed
        {
            let bytes = match &m.inflated {
                Some(i) if !i.cut => Some(rec.data_bytes(&i.data).map_err(|e| format!("inflated message: {e}"))?),
                _ => None,
            };
            inflated[event.dir.index()].push_back(bytes);
        }
    }
    let mut pending: [Option<Pending>; 2] = [None, None];
    let (mut messages, mut control) = (Vec::new(), Vec::new());
    for (event, frame) in rec.frames() {
        let payload = rec.data_bytes(&frame.payload).map_err(|e| format!("frame at offset {}: {e}", frame.offset))?;
        let t = (started + event.at) as f64 / 1e6;
        let kind = if event.dir == Direction::ClientToServer { "send" } else { "receive" };
        let op = frame.opcode();
        if op.is_control() {
            control.push(control_json(kind, t, frame, &payload));
            continue;
        }
        let slot = &mut pending[event.dir.index()];
        if op.starts_message() || slot.is_none() {
            let compressed = frame.rsv & 0b100 != 0;
            *slot = Some(Pending { opcode: frame.opcode, bytes: Vec::new(), frames: 0, compressed });
        }
        let msg = slot.as_mut().expect("set above");
        msg.bytes.extend_from_slice(&payload);
        msg.frames += 1;
        if frame.fin {
            let msg = slot.take().expect("set above");
            let shown = if msg.compressed { inflated[event.dir.index()].pop_front().flatten() } else { None };
            messages.push(message_json(kind, t, msg, shown));
        }
    }
    Ok((messages, control))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One message; `inflated` is the inflated payload of a compressed one.
fn message_json(kind: &str, t: f64, msg: Pending, inflated: Option<Vec<u8>>) -> Value {
    let mut v = json!({ "type": kind, "time": t, "opcode": msg.opcode });
    let readable = !msg.compressed || inflated.is_some();
    let shown = inflated.as_deref().unwrap_or(&msg.bytes);
    let text = (msg.opcode == OpCode::TEXT.value() && readable).then(|| std::str::from_utf8(shown).ok()).flatten();
    match text {
        Some(s) => v["data"] = json!(s),
        None => {
            v["data"] = json!(b64(shown));
            v["_encoding"] = json!("base64");
        }
    }
    if msg.frames > 1 {
        v["_frames"] = json!(msg.frames);
    }
    if msg.compressed {
        v["_compressed"] = json!(true);
        v["_wireData"] = json!(b64(&msg.bytes));
        if inflated.is_none() {
            v["_inflated"] = json!(false);
        }
    }
    v
}

fn control_json(kind: &str, t: f64, frame: &Frame, payload: &[u8]) -> Value {
    let mut v = json!({ "type": kind, "time": t, "opcode": frame.opcode, "data": b64(payload) });
    if let Some(code) = frame.close_code {
        v["_closeCode"] = json!(code);
    }
    if let Some(reason) = &frame.close_reason {
        v["_closeReason"] = json!(reason);
    }
    if let Data::Text(s) = &frame.payload
        && frame.opcode() != OpCode::CLOSE
    {
        v["_text"] = json!(s);
    }
    v
}

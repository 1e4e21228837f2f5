//! HAR WebSocket entries as recordings: message level, the rest synthesised.
//!
//! A HAR file (Chrome DevTools, mitmproxy's `save.har`, wstap's own export)
//! holds, per WebSocket entry, the upgrade's request and response headers
//! and the messages (`_webSocketMessages`: `type` send/receive, `time` in
//! epoch seconds, `opcode`, `data`). It does not hold the bytes that
//! crossed the wire, so each entry becomes the byte stream a plain client
//! and server would have exchanged for those messages, decoded by the same
//! [`crate::session::SessionBuilder`] as a live connection:
//! - the request head is `GET <path> HTTP/1.1` and the HAR's headers in
//!   order; `Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Version` and
//!   `Sec-WebSocket-Key` are added when missing (HTTP/2 pseudo-headers are
//!   left out), and named in the recording's notes;
//! - the response is the HAR's 101 with its headers (`Sec-WebSocket-Accept`
//!   recomputed for the key); a missing response (status 0) becomes a plain
//!   101, noted; any other status skips the entry, with the reason;
//! - each message is one frame (or `_frames` fragments, as wstap exports
//!   them), FIN, RSV 0, minimal length; client frames are masked with keys
//!   derived from the entry's number, so an import is repeatable. Compressed
//!   sessions are imported uncompressed (RSV1 clear), which
//!   permessage-deflate allows, so the negotiated headers stay as recorded;
//! - wstap's `_webSocketControlFrames` (pings, pongs, closes) are kept;
//!   other HARs have no control frames, so no close is recorded;
//! - times are the messages' `time` relative to `startedDateTime`; the
//!   client address (not in HAR) is `0.0.0.0:0`; how TCP ended is unknown
//!   and not recorded.
//!
//! Every value is untrusted: errors name the JSON location
//! (`log.entries[2]._webSocketMessages[5].data`) and what was expected, and
//! nothing from the file is ever part of a path (recordings are named by
//! the start time and entry number).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use base64::Engine;
use serde_json::Value;

use super::json_at::At;
use super::{ConvertError, Converted};
use crate::session::{Direction, FORMAT_VERSION, Recording, time};
use crate::store::{LiveRecording, recording_file_name};
use crate::wire::handshake::MAX_HEADERS;
use crate::wire::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, accept_key};

/// The first note of every imported recording.
const MESSAGE_LEVEL: &str = "imported from HAR, message level: the HTTP heads are rebuilt from the HAR's headers; \
                             frame boundaries, masks and TCP reads are synthesised; no TCP end is recorded";

/// Events buffered before they are appended to the YAML.
const BATCH: usize = 256;

/// Most fragments one message is split into (`_frames`).
const MAX_FRAGMENTS: u64 = 4096;

/// One read of the synthesised conversation.
struct Chunk {
    at: u64,
    dir: Direction,
    bytes: Vec<u8>,
}

/// An entry turned into a recording's header and bytes.
struct Imported {
    header: Recording,
    start_us: u64,
    chunks: Vec<Chunk>,
}

/// Writes a recording per WebSocket entry of the HAR at `input` into `out_dir`.
pub fn convert(input: &Path, out_dir: &Path) -> Result<Converted, ConvertError> {
    let text = std::fs::read(input).map_err(|e| ConvertError::content(input, e.to_string()))?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| {
        ConvertError::content(input, format!("line {}, column {}: not valid JSON: {e}", e.line(), e.column()))
    })?;
    let imported = entries(&doc).map_err(|m| ConvertError::content(input, m))?;
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(ConvertError::write(out_dir, "exists and is not a directory; give a directory for the recordings"));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| ConvertError::write(out_dir, e))?;
    let mut done = Converted::default();
    let mut others = 0;
    for (seq, found) in imported.into_iter().enumerate() {
        match found {
            Found::NotWebSocket => others += 1,
            Found::Skipped(why) => done.messages.push(format!("{}: {why}", input.display())),
            Found::Entry(entry) => {
                let path = out_dir.join(recording_file_name(entry.start_us, seq as u64 + 1));
                write(&path, &entry).map_err(|e| ConvertError::write(&path, e))?;
                done.written.push(path);
            }
        }
    }
    if others > 0 {
        done.messages.push(format!("{}: {others} entries that are not WebSocket skipped", input.display()));
    }
    if done.written.is_empty() {
        done.messages.push(format!("{}: no WebSocket entry found; nothing written", input.display()));
    }
    Ok(done)
}

fn write(path: &Path, entry: &Imported) -> std::io::Result<()> {
    let mut live = LiveRecording::create(path, &entry.header)?;
    for (n, c) in entry.chunks.iter().enumerate() {
        live.builder().read(c.at, c.dir, &c.bytes)?;
        if n % BATCH == BATCH - 1 {
            live.write_out()?;
        }
    }
    live.close().map(drop)
}

/// What one HAR entry is.
enum Found {
    NotWebSocket,
    Skipped(String),
    Entry(Box<Imported>),
}

/// Every entry of the document, judged and converted.
fn entries(doc: &Value) -> Result<Vec<Found>, String> {
    let root = At::root(doc);
    let log = root.get("log");
    if !log.value.is_object() {
        return Err(log.expected("an object (a HAR file is {\"log\": {\"entries\": [...]}})"));
    }
    let creator = [log.get("creator").get("name"), log.get("creator").get("version")]
        .map(|v| v.value.as_str().unwrap_or_default().to_owned())
        .join(" ");
    let mut out = Vec::new();
    for (i, entry) in log.get("entries").items()?.into_iter().enumerate() {
        let websocket = entry.get("_resourceType").value.as_str() == Some("websocket")
            || entry.get("_webSocketMessages").value.is_array();
        if !websocket {
            out.push(Found::NotWebSocket);
            continue;
        }
        out.push(entry_to_recording(&entry, i as u64, creator.trim())?);
    }
    Ok(out)
}

fn entry_to_recording(entry: &At, index: u64, creator: &str) -> Result<Found, String> {
    let started = entry.get("startedDateTime");
    let start_us = parse_time(started.str()?)
        .ok_or_else(|| started.error("expected an ISO 8601 time such as 2024-05-01T12:00:00.000Z"))?;
    let request = entry.get("request");
    let url = Url::parse(&request.get("url"))?;
    let mut keys = Keys::new(index);
    let mut notes = vec![MESSAGE_LEVEL.to_owned()];
    if !creator.is_empty() {
        notes.push(format!("HAR written by {creator}, entry {index}"));
    }
    let (head, key) = request_head(&request, &url, &mut keys, &mut notes)?;
    let response = entry.get("response");
    let status = if response.get("status").is_null() { 0 } else { response.get("status").u64()? };
    let reply = match status {
        101 => response_head(&response, &key, &mut notes)?,
        0 => {
            notes.push("the HAR has no response: a plain 101 is synthesised".into());
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(&key)
            )
        }
        other => return Ok(Found::Skipped(format!("{}: not upgraded (HTTP {other}); skipped", entry.path()))),
    };
    let mut chunks = vec![
        Chunk { at: 0, dir: Direction::ClientToServer, bytes: head.into_bytes() },
        Chunk { at: 0, dir: Direction::ServerToClient, bytes: reply.into_bytes() },
    ];
    let messages = frames(&entry.get("_webSocketMessages"), false, start_us)?;
    let control = frames(&entry.get("_webSocketControlFrames"), true, start_us)?;
    for m in merge(messages, control) {
        m.encode(&mut keys, &mut chunks);
    }
    let server = match entry.get("serverIPAddress").opt_str()?.map(|s| s.trim_matches(['[', ']']).parse::<IpAddr>()) {
        Some(Ok(ip)) => SocketAddr::new(ip, url.port).to_string(),
        _ => url.authority(),
    };
    let origin = format!("{}://{}", url.scheme, url.authority());
    notes.push("the client's address is not in HAR: recorded as 0.0.0.0:0".into());
    let header = Recording {
        wstap_recording: FORMAT_VERSION,
        started: time::rfc3339_micros(start_us),
        client: "0.0.0.0:0".into(),
        server,
        upstream: Some(origin),
        source: Some("import".into()),
        notes,
        ..Recording::default()
    };
    Ok(Found::Entry(Box::new(Imported { header, start_us, chunks })))
}

/// The parts of the request URL a head and the header need.
struct Url {
    scheme: String,
    host: String,
    port: u16,
    target: String,
}

impl Url {
    fn parse(at: &At) -> Result<Url, String> {
        let text = at.str()?;
        let bad = |why: &str| at.error(format!("{why} (expected ws://, wss://, http:// or https://HOST[:PORT]/PATH)"));
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "ws" | "http" => 80,
            "wss" | "https" => 443,
            _ => return Err(bad("unknown scheme")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
            _ => (authority, default_port),
        };
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("no host, or a host with spaces or control characters"));
        }
        let target = match target {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        if !target.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("the path holds spaces or characters a request line cannot carry"));
        }
        Ok(Url { scheme, host: host.to_owned(), port, target })
    }

    fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The header lines of a HAR `headers` list, checked; pseudo-headers are
/// dropped (noted), a value with line breaks becomes several lines.
fn header_lines(list: &At, notes: &mut Vec<String>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut pseudo = Vec::new();
    for h in list.items_or_empty()? {
        let name = h.get("name");
        let name_text = name.str()?;
        if name_text.starts_with(':') {
            pseudo.push(name_text.to_owned());
            continue;
        }
        if name_text.is_empty() || !name_text.bytes().all(is_token) {
            return Err(name.error("expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"));
        }
        let value = h.get("value");
        let value_text = value.str()?;
        if value_text.bytes().any(|b| b == 0 || (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f) {
            return Err(value.error("a header value with control characters"));
        }
        for line in value_text.split('\n').map(|l| l.trim_end_matches('\r')) {
            out.push((name_text.to_owned(), line.to_owned()));
        }
    }
    if out.len() > MAX_HEADERS - 8 {
        return Err(list.error(format!(
            "{} header lines; at most {} fit a head wstap decodes",
            out.len(),
            MAX_HEADERS - 8
        )));
    }
    if !pseudo.is_empty() {
        notes.push(format!("HTTP/2 pseudo-headers left out of the HTTP/1.1 head: {}", pseudo.join(", ")));
    }
    Ok(out)
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
}

/// The request head and the `Sec-WebSocket-Key` it carries.
fn request_head(request: &At, url: &Url, keys: &mut Keys, notes: &mut Vec<String>) -> Result<(String, String), String> {
    let method = request.get("method");
    if method.opt_str()?.is_some_and(|m| m != "GET") {
        return Err(method.error("expected GET, the only method of a WebSocket upgrade"));
    }
    let mut headers = header_lines(&request.get("headers"), notes)?;
    let key = find(&headers, "sec-websocket-key").map(str::to_owned).unwrap_or_else(|| keys.handshake_key());
    let host = if url.port == if matches!(url.scheme.as_str(), "wss" | "https") { 443 } else { 80 } {
        url.host.clone()
    } else {
        url.authority()
    };
    let wanted = [
        ("Host", host),
        ("Upgrade", "websocket".to_owned()),
        ("Connection", "Upgrade".to_owned()),
        ("Sec-WebSocket-Key", key.clone()),
        ("Sec-WebSocket-Version", "13".to_owned()),
    ];
    let mut added = Vec::new();
    for (name, value) in wanted {
        if find(&headers, name).is_none() {
            added.push(name);
            headers.push((name.to_owned(), value));
        }
    }
    if !added.is_empty() {
        notes.push(format!("request headers not in the HAR, synthesised: {}", added.join(", ")));
    }
    let mut head = format!("GET {} HTTP/1.1\r\n", url.target);
    for (n, v) in &headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    Ok((head, key))
}

fn response_head(response: &At, key: &str, notes: &mut Vec<String>) -> Result<String, String> {
    let mut headers = header_lines(&response.get("headers"), notes)?;
    let accept = accept_key(key);
    let mut added = Vec::new();
    for (name, value) in [("Upgrade", "websocket"), ("Connection", "Upgrade")] {
        if find(&headers, name).is_none() {
            added.push(name);
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    match headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-accept")) {
        Some((_, v)) if v.trim() == accept => {}
        Some((_, v)) => {
            notes.push(format!("Sec-WebSocket-Accept {v:?} does not answer the key: recomputed"));
            *v = accept;
        }
        None => {
            added.push("Sec-WebSocket-Accept");
            headers.push(("Sec-WebSocket-Accept".into(), accept));
        }
    }
    if !added.is_empty() {
        notes.push(format!("response headers not in the HAR, synthesised: {}", added.join(", ")));
    }
    let reason = response.get("statusText").opt_str()?.filter(|r| r.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
    let mut head = format!("HTTP/1.1 101 {}\r\n", reason.filter(|r| !r.is_empty()).unwrap_or("Switching Protocols"));
    for (n, v) in &headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    Ok(head)
}

/// A message or control frame as the HAR gives it.
struct Message {
    at: u64,
    dir: Direction,
    opcode: u8,
    payload: Vec<u8>,
    frames: u64,
}

/// The messages (or, with `control`, the control frames) of one list, with
/// times made relative to `start_us` and never decreasing.
fn frames(list: &At, control: bool, start_us: u64) -> Result<Vec<Message>, String> {
    let mut out: Vec<Message> = Vec::new();
    for m in list.items_or_empty()? {
        let kind = m.get("type");
        let dir = match kind.str()? {
            "send" => Direction::ClientToServer,
            "receive" => Direction::ServerToClient,
            _ => return Err(kind.error("expected \"send\" (client to server) or \"receive\"")),
        };
        let previous = out.last().map_or(0, |p| p.at);
        let t = m.get("time");
        let at = if t.is_null() {
            previous
        } else {
            let secs = t.f64()?;
            if !(0.0..=253_402_300_799.0).contains(&secs) {
                return Err(t.error("expected epoch seconds between 1970 and 9999"));
            }
            ((secs * 1e6).round() as u64).saturating_sub(start_us).max(previous)
        };
        let op = m.get("opcode");
        let opcode = op.u64()?;
        let ok = if control { matches!(opcode, 8..=10) } else { matches!(opcode, 1 | 2) };
        if !ok {
            let want = if control { "8 (close), 9 (ping) or 10 (pong)" } else { "1 (text) or 2 (binary)" };
            return Err(op.error(format!("expected {want}, found {opcode}")));
        }
        let data = m.get("data");
        let text = data.str()?;
        let base64 = opcode != 1 || m.get("_encoding").value.as_str() == Some("base64");
        let payload = if base64 {
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| {
                data.error(format!(
                    "expected base64 (binary and control payloads are base64, as Chrome writes them): {e}"
                ))
            })?
        } else {
            text.as_bytes().to_vec()
        };
        if control && payload.len() as u64 > MAX_CONTROL_PAYLOAD {
            return Err(data.error(format!("{} bytes; a control frame carries at most 125", payload.len())));
        }
        let fragments = m.get("_frames");
        let frames = if fragments.is_null() { 1 } else { fragments.u64()?.clamp(1, MAX_FRAGMENTS) };
        let opcode = opcode as u8;
        out.push(Message { at, dir, opcode, payload, frames });
    }
    Ok(out)
}

/// Messages and control frames in time order; at equal times a message
/// comes first, and each list keeps its own order.
fn merge(messages: Vec<Message>, control: Vec<Message>) -> Vec<Message> {
    let mut all: Vec<Message> = messages.into_iter().chain(control).collect();
    all.sort_by_key(|m| m.at);
    all
}

impl Message {
    /// Appends this message's frames, one read each.
    fn encode(&self, keys: &mut Keys, out: &mut Vec<Chunk>) {
        let n = self.frames.min(self.payload.len().max(1) as u64) as usize;
        let size = self.payload.len().div_ceil(n).max(1);
        let parts: Vec<&[u8]> = if self.payload.is_empty() { vec![&[]] } else { self.payload.chunks(size).collect() };
        for (i, part) in parts.iter().enumerate() {
            let opcode = OpCode::new(if i == 0 { self.opcode } else { 0 });
            let mut header = FrameHeader::new(opcode, part.len() as u64);
            header.fin = i + 1 == parts.len();
            if self.dir == Direction::ClientToServer {
                header.mask = Some(keys.mask());
            }
            out.push(Chunk { at: self.at, dir: self.dir, bytes: header.encode_frame(part) });
        }
    }
}

/// Masks and keys: deterministic per entry (splitmix64), so the same HAR
/// always imports to the same recordings.
struct Keys(u64);

impl Keys {
    fn new(entry: u64) -> Keys {
        Keys(entry.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x7773_7461_7068_6172)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn mask(&mut self) -> [u8; 4] {
        (self.next() as u32).to_be_bytes()
    }

    fn handshake_key(&mut self) -> String {
        let mut bytes = self.next().to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.next().to_be_bytes());
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// Epoch microseconds of an ISO 8601 time with `Z` or a `±HH:MM` offset
/// (Chrome writes `Z`, mitmproxy `+00:00`).
fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.ends_with(['Z', 'z']) {
        return time::parse_rfc3339(&format!("{}Z", &text[..text.len() - 1]));
    }
    let split = text.len().checked_sub(6)?;
    let (base, offset) = (text.get(..split)?, text.get(split..)?);
    let sign = match offset.as_bytes()[0] {
        b'+' => 1i64,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = offset[1..].split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let local = time::parse_rfc3339(&format!("{base}Z"))? as i64;
    u64::try_from(local - sign * (h * 3600 + m * 60) * 1_000_000).ok()
}

#[cfg(test)]
#[path = "har_import_tests.rs"]
mod tests;

//! A capture's WebSocket connections as recordings.
//!
//! Each TCP conversation of the capture is judged first:
//! - the client's first bytes are an HTTP upgrade request: decoded from the
//!   handshake on, exactly as the proxy would have;
//! - no HTTP at all, but either direction holds plausible WebSocket frames
//!   (the capture started after the handshake): decoded from the first
//!   plausible frame boundary of each direction, with a header note saying
//!   so and the skipped bytes recorded as `raw`;
//! - anything else (plain HTTP, TLS, other protocols, no data) is skipped,
//!   and the skip is reported, because a directory of raw blobs helps nobody
//!   and `wstap show` could not say anything about them.
//!
//! Capture gaps become `gap` events ([`SessionBuilder::gap`]); the notes of
//! the conversation (guessed client, missing SYN, gaps, cut-off capture)
//! and of the file (snaplen truncation, skipped packets) go into the
//! recording header's `notes`.

use std::io;
use std::path::{Path, PathBuf};

use super::{ConvertError, Converted};
use crate::pcap::{self, Conversation, Item};
use crate::session::{Direction, FORMAT_VERSION, Recording, SessionBuilder, TcpEnd, time};
use crate::store::{LiveRecording, recording_file_name};
use crate::wire::resync::{MAX_RESYNC, Search, find_boundary};
use crate::wire::{Head, MAX_HEAD_LEN, find_head_end};

/// Reason given to bytes skipped before the first frame boundary.
const JOINED_RAW: &str = "capture starts mid-connection: bytes before the first plausible frame boundary";

/// Header note of a connection whose handshake was not captured.
const JOINED_NOTE: &str = "WebSocket handshake not captured: each direction is decoded from its first plausible \
                           frame boundary (bytes before it are `raw` events); extensions are unknown";

/// Events buffered before they are appended to the YAML.
const BATCH: usize = 256;

/// How a conversation is decoded, or why it is not.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    Handshake,
    Joined,
    /// Joined, and the capture's guess of the client was wrong: the other
    /// side sends the masked frames.
    JoinedSwapped,
    Skip(&'static str),
}

/// Writes a recording per WebSocket connection of `input` into `out_dir`.
pub fn convert(input: &Path, out_dir: &Path) -> Result<Converted, ConvertError> {
    let capture = pcap::read(input).map_err(|source| ConvertError::Capture { path: input.into(), source })?;
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(ConvertError::write(out_dir, "exists and is not a directory; give a directory for the recordings"));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| ConvertError::write(out_dir, e))?;
    let mut done = Converted::default();
    for (i, conv) in capture.conversations.iter().enumerate() {
        let what = format!("{}: connection {} -> {}", input.display(), conv.client, conv.server);
        match mode(conv) {
            Mode::Skip(why) => done.messages.push(format!("{what} skipped: {why}")),
            mode => {
                let path = recording_path(out_dir, conv, i as u64 + 1);
                let swapped;
                let conv = if mode == Mode::JoinedSwapped {
                    swapped = swap(conv);
                    &swapped
                } else {
                    conv
                };
                write_recording(&path, conv, &capture.notes, mode != Mode::Handshake)
                    .map_err(|e| ConvertError::write(&path, e))?;
                done.written.push(path);
            }
        }
    }
    if done.written.is_empty() {
        done.messages.push(format!("{}: no WebSocket connection found; nothing written", input.display()));
    }
    Ok(done)
}

/// Decides how to decode `conv` from its first bytes.
fn mode(conv: &Conversation) -> Mode {
    let c2s = leading(conv, Direction::ClientToServer);
    if let Some(end) = find_head_end(&c2s[..c2s.len().min(MAX_HEAD_LEN + 4)]) {
        return match Head::parse_request(&c2s[..end]) {
            Ok(head) if head.is_websocket_request() => Mode::Handshake,
            _ => Mode::Skip("HTTP without a WebSocket upgrade"),
        };
    }
    if c2s.starts_with(b"GET ") {
        return Mode::Handshake;
    }
    let s2c = leading(conv, Direction::ServerToClient);
    if c2s.is_empty() && s2c.is_empty() {
        return Mode::Skip("no data");
    }
    // Only clients mask, so frames also tell which side is the client.
    let fits = |bytes: &[u8], dir| u8::from(matches!(find_boundary(bytes, dir, 0, true), Search::Found(_)));
    let (c, s) = (Direction::ClientToServer, Direction::ServerToClient);
    let as_captured = fits(&c2s, c) + fits(&s2c, s);
    let reversed = fits(&c2s, s) + fits(&s2c, c);
    match (as_captured, reversed) {
        (0, 0) => Mode::Skip("neither a WebSocket upgrade nor WebSocket frames"),
        (a, r) if r > a => Mode::JoinedSwapped,
        _ => Mode::Joined,
    }
}

/// `conv` with client and server exchanged.
fn swap(conv: &Conversation) -> Conversation {
    let mut out = Conversation::new(conv.server, conv.client, conv.start_us);
    for e in &conv.entries {
        out.push(e.at_us, e.dir.reverse(), e.item.clone());
    }
    out.notes = conv.notes.iter().filter(|n| !n.contains("client guessed as")).cloned().collect();
    out.notes.push("TCP handshake not captured; client taken as the side that sends masked frames".into());
    out
}

/// The data `dir` sent before its first gap, up to [`MAX_RESYNC`] bytes.
fn leading(conv: &Conversation, dir: Direction) -> Vec<u8> {
    let mut out = Vec::new();
    for e in conv.entries.iter().filter(|e| e.dir == dir) {
        match &e.item {
            Item::Data(b) if out.len() < MAX_RESYNC => out.extend_from_slice(b),
            Item::Data(_) => break,
            _ => break,
        }
    }
    out
}

fn write_recording(path: &Path, conv: &Conversation, file_notes: &[String], joined: bool) -> io::Result<()> {
    let mut notes = conv.notes.clone();
    notes.extend(file_notes.iter().map(|n| format!("capture: {n}")));
    if joined {
        notes.push(JOINED_NOTE.into());
    }
    let header = Recording {
        wstap_recording: FORMAT_VERSION,
        started: time::rfc3339_micros(conv.start_us),
        client: conv.client.to_string(),
        server: conv.server.to_string(),
        source: Some("import".into()),
        notes,
        ..Recording::default()
    };
    let mut live = LiveRecording::create_with(path, &header, |store| {
        if joined { SessionBuilder::joined(JOINED_RAW, store) } else { SessionBuilder::new(store) }
    })?;
    for (n, e) in conv.entries.iter().enumerate() {
        let builder = live.builder();
        if builder.has_ended(e.dir) {
            continue;
        }
        match &e.item {
            Item::Data(bytes) => builder.read(e.at_us, e.dir, bytes)?,
            Item::Fin => builder.end(e.at_us, e.dir, TcpEnd::Fin, None)?,
            Item::Rst => builder.end(e.at_us, e.dir, TcpEnd::Rst, None)?,
            Item::Gap { len } => builder.gap(e.at_us, e.dir, *len)?,
        }
        if n % BATCH == BATCH - 1 {
            live.write_out()?;
        }
    }
    live.close().map(drop)
}

/// The path a recording of `conv` (number `seq` in its capture) gets in `dir`.
pub fn recording_path(dir: &Path, conv: &Conversation, seq: u64) -> PathBuf {
    dir.join(recording_file_name(conv.start_us, seq))
}

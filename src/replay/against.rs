//! `wstap replay REC.yaml --against URL`: a recording's client side played
//! to a real server, and what the recorded server did as the expectation.
//! The mirror of [`super::from_recording`]; the rules the two share
//! (sending byte for byte, pacing, pings, who closes, expectations, the
//! kill timer, compressed messages) are the walk's, stated in
//! [`super::walk`], here with the client as the played side and the
//! server as the peer under test.
//!
//! Client-side rules:
//! - Masks: every frame the recorded client masked is sent with a new key
//!   (the payload masked under it), unless `--keep-masks` keeps the
//!   recorded keys; a frame recorded unmasked is sent unmasked, as raw
//!   bytes. Header fields, length form and payload are as recorded either
//!   way. A new key per run is what RFC 6455 §5.3 asks of a client; the
//!   recorded ones are there for byte-exact reproductions.
//! - The request is the recorded one ([`RecordedRequest`]): its method,
//!   target and version, and every header in recorded order with its
//!   recorded value (so the extension offer, subprotocols, cookies and
//!   user agent are sent again), except `Sec-WebSocket-Key`, which is
//!   fresh, and `Host`, which names the server of the URL. A URL with a
//!   path (`ws://host:port/chat?x=1`) sends that target instead of the
//!   recorded one; a URL without (`ws://host:port`) sends the recorded one.
//! - permessage-deflate: the recorded client's compressed messages are
//!   sent as recorded when the new server agrees to exactly the recorded
//!   parameters ([`AgainstCase::recorded_deflate`]), else recompressed
//!   under the new agreement (uncompressed if the server declines).
//! - When the server closed first, the recorded client's reply (code and
//!   reason) is the reply sent to the new server's close.
//!
//! Everything here is pure: masks and keys come from the caller
//! ([`MaskSource`]), so a derivation is reproducible in tests.

use std::path::{Path, PathBuf};

use super::from_recording::{Timing, negotiated_deflate, recorded_response};
use super::walk::{MaskSource, Played, walk};
use crate::net::Target;
use crate::scenario::{LocalClose, Scenario, ScenarioError};
use crate::session::{Direction, EventKind, Recording};
use crate::wire::DeflateParams;

/// How a recording is played against a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// How the client's frames are paced.
    pub timing: Timing,
    /// Send the recorded masking keys instead of new ones.
    pub keep_masks: bool,
}

/// A recording's client side, ready to play to a server.
#[derive(Clone, Debug)]
pub struct AgainstCase {
    /// What the client sends and what the server is expected to do.
    pub scenario: Scenario,
    /// The recorded upgrade request.
    pub request: RecordedRequest,
    /// The permessage-deflate parameters the recorded server agreed to.
    pub recorded_deflate: Option<DeflateParams>,
    /// The recorded client's reply to the server's close, if the server
    /// closed first.
    pub close_reply: Option<LocalClose>,
    /// The recording file.
    pub origin: PathBuf,
}

impl AgainstCase {
    /// True if the recorded compressed messages may be sent byte for byte
    /// under the agreement the new server made (`agreed`): it is the
    /// recorded one.
    pub fn as_recorded(&self, agreed: Option<DeflateParams>) -> bool {
        agreed == self.recorded_deflate
    }
}

/// The recorded client's upgrade request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, as recorded.
    pub method: String,
    /// The request target (`/chat?room=1`).
    pub target: String,
    /// `HTTP/1.1`, as recorded.
    pub version: String,
    /// Header lines in recorded order, names as spelt.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The request head to send: `target` instead of the recorded one if
    /// given, `Host: host`, `Sec-WebSocket-Key: key`, every other header as
    /// recorded and in recorded order. A recording without a `Host` header
    /// gets none (the server judges that).
    pub fn head(&self, target: Option<&str>, host: &str, key: &str) -> Vec<u8> {
        let target = target.unwrap_or(&self.target);
        let mut out = format!("{} {target} {}\r\n", self.method, self.version);
        for (name, value) in &self.headers {
            let value = match name.to_ascii_lowercase().as_str() {
                "host" => host,
                "sec-websocket-key" => key,
                _ => value,
            };
            out += &format!("{name}: {value}\r\n");
        }
        out += "\r\n";
        out.into_bytes()
    }
}

/// A new `Sec-WebSocket-Key`: 16 bytes from `masks`, in base64.
pub fn fresh_key(masks: MaskSource<'_>) -> String {
    let nonce: Vec<u8> = (0..4).flat_map(|_| masks()).collect();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce)
}

/// Loads a recording file for `--against`, with fresh masks from `masks`
/// (unless `opts.keep_masks`).
pub fn load(path: &Path, opts: Options, masks: MaskSource<'_>) -> Result<AgainstCase, ScenarioError> {
    let error = |line, message| ScenarioError { file: path.to_path_buf(), position: line, message };
    let rec = crate::store::load(path).map_err(|e| error(e.line.map(|l| (l, 1)), e.message))?;
    let id = path.file_stem().map_or("recording".into(), |s| s.to_string_lossy().into_owned());
    let mut case = derive(&rec, &id, opts, masks).map_err(|m| error(None, m))?;
    case.origin = path.to_path_buf();
    Ok(case)
}

/// Derives the client's side of `rec` as a case against a server.
pub fn derive(rec: &Recording, id: &str, opts: Options, masks: MaskSource<'_>) -> Result<AgainstCase, String> {
    let request = recorded_request(rec)?;
    let (headers, opened_at) = recorded_response(rec)?;
    let recorded_deflate = negotiated_deflate(&headers);
    let masks = (!opts.keep_masks).then_some(masks);
    let played = Played { dir: Direction::ClientToServer, masks, timing: opts.timing };
    let walked = walk(rec, opened_at, recorded_deflate.is_some(), played)?;
    let scenario = Scenario {
        id: id.to_owned(),
        description: format!("Replay of the recording {id} against a server (client side as recorded)"),
        expectation: "The server behaves as the recorded server: same messages, same close.".into(),
        handshake: Default::default(),
        expect: walked.expect,
        actions: walked.actions,
        report: Default::default(),
    };
    let close_reply = walked.close_reply;
    Ok(AgainstCase { scenario, request, recorded_deflate, close_reply, origin: PathBuf::new() })
}

/// The recorded client's request head.
pub fn recorded_request(rec: &Recording) -> Result<RecordedRequest, String> {
    let data = rec
        .events_in(Direction::ClientToServer)
        .find_map(|e| match &e.kind {
            EventKind::Http { data, .. } => Some(data),
            _ => None,
        })
        .ok_or("the recording has no client request head (expected the upgrade request `wstap record` saves)")?;
    let bytes = rec.data_bytes(data).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(format!("the recorded request line is not `METHOD TARGET VERSION`: {line:?}"));
    };
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(RecordedRequest { method: method.into(), target: target.into(), version: version.into(), headers })
}

/// A `--against` URL: where to connect, and the request target it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgainstUrl {
    /// Host, port and TLS.
    pub target: Target,
    /// The path and query, if the URL has one (`/chat?x=1`); `None` sends
    /// the recorded target.
    pub path: Option<String>,
}

impl AgainstUrl {
    /// Parses `ws://HOST[:PORT][/PATH[?QUERY]]` or `wss://…`; a fragment is
    /// dropped, as a browser drops it.
    pub fn parse(text: &str) -> Result<AgainstUrl, String> {
        let lower = text.trim().to_ascii_lowercase();
        if !(lower.starts_with("ws://") || lower.starts_with("wss://")) {
            return Err(format!("{text:?} is not a ws:// or wss:// URL (expected ws://HOST:PORT/PATH)"));
        }
        let target = Target::parse(text)?;
        let rest = text.trim().split_once("://").map_or("", |(_, r)| r);
        let path = rest.find(['/', '?']).map(|at| &rest[at..]);
        let path = path.map(|p| p.split('#').next().unwrap_or_default());
        let path = path.map(|p| if p.starts_with('?') { format!("/{p}") } else { p.to_owned() });
        if let Some(bad) = path.as_ref().and_then(|p| p.chars().find(|c| !c.is_ascii_graphic())) {
            return Err(format!("{text:?}: {bad:?} cannot go into a request line (percent-encode it)"));
        }
        Ok(AgainstUrl { target, path })
    }
}

#[cfg(test)]
mod tests;

//! `wstap replay REC.yaml --against URL`: a recording's client side played
//! to a real server, and what the recorded server did as the expectation.
//! The mirror of [`super::from_recording`]; the rules the two share
//! (sending byte for byte, pacing, pings, who closes, expectations, the
//! kill timer, compressed messages) are the walk's, stated in
//! [`super::walk`], here with the client as the played side and the
//! server as the peer under test.
//!
//! Client-side rules:
//! - Masks: the recorded client's frames are planned without their keys,
//!   and the engine's client role masks each with a new random key as it
//!   writes it (what RFC 6455 §5.3 asks of a client), unless
//!   `--keep-masks` keeps the recorded keys for a byte-exact client
//!   stream. Header fields, length form and payload are as recorded either
//!   way. The close and the pongs the engine sends by itself always get
//!   new keys.
//! - The request is the recorded one ([`RecordedRequest`]): its method,
//!   target and version, and every header in recorded order with its
//!   recorded value (so the extension offer, subprotocols, cookies and
//!   user agent are sent again), except `Sec-WebSocket-Key`, which is
//!   fresh, and `Host`, which names the server of the URL. A URL with a
//!   path (`ws://host:port/chat?x=1`) sends that target instead of the
//!   recorded one; a URL without (`ws://host:port`) sends the recorded one.
//! - permessage-deflate: the recorded client's compressed messages are
//!   sent as recorded when the new server agrees to exactly the recorded
//!   parameters ([`Fixture::deflate`], [`as_recorded`]), else recompressed
//!   under the new agreement (uncompressed if the server declines).
//! - When the server closed first, the recorded client's reply (code and
//!   reason) is the reply sent to the new server's close.
//!
//! Everything here is pure: the derivation reads a recording and returns
//! data; the engine's client role carries it out.

use std::path::Path;

use super::as_client::Upgrade;
use super::from_recording::{Timing, negotiated_deflate, recorded_response};
use super::walk::{Played, walk};
use super::{Case, Fixture, Response};
use crate::scenario::{Scenario, ScenarioError};
use crate::session::{Direction, EventKind, Recording};
use crate::wire::deflate::negotiate::PERMESSAGE_DEFLATE;
use crate::wire::handshake::parse_extensions;
use crate::wire::{DeflateParams, Extension, Head};

/// How a recording is played against a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// How the client's frames are paced.
    pub timing: Timing,
    /// Send the recorded masking keys instead of new ones.
    pub keep_masks: bool,
}

/// True if the recorded client's compressed messages may be sent byte for
/// byte under the agreement the new server made (`agreed`): it is the one
/// the recorded server made (`fixture.deflate`).
pub fn as_recorded(fixture: &Fixture, agreed: Option<DeflateParams>) -> bool {
    agreed == fixture.deflate
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
    /// The request head to send: `Host: host`, `Sec-WebSocket-Key: key`,
    /// every other header as recorded and in recorded order. A recording
    /// without a `Host` header gets none (the server judges that).
    pub fn head(&self, host: &str, key: &str) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version);
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

/// Loads a recording file for `--against` as a case (unnumbered).
pub fn load(path: &Path, opts: Options) -> Result<Case, ScenarioError> {
    let error = |line, message| ScenarioError { file: path.to_path_buf(), position: line, message };
    let rec = crate::store::load(path).map_err(|e| error(e.line.map(|l| (l, 1)), e.message))?;
    let id = path.file_stem().map_or("recording".into(), |s| s.to_string_lossy().into_owned());
    let (scenario, fixture) = derive(&rec, &id, opts).map_err(|m| error(None, m))?;
    let origin = path.to_path_buf();
    Ok(Case { scenario, number: 0, response: Response::Autobahn, origin, fixture })
}

/// Derives the client's side of `rec`: the scenario (what the client sends,
/// what the server is expected to do) and the fixture (the recorded
/// request, the recorded agreement, the client's close reply).
pub fn derive(rec: &Recording, id: &str, opts: Options) -> Result<(Scenario, Fixture), String> {
    let request = recorded_request(rec)?;
    let (headers, opened_at) = recorded_response(rec)?;
    let recorded_deflate = negotiated_deflate(&headers);
    let played = Played { dir: Direction::ClientToServer, new_masks: !opts.keep_masks, timing: opts.timing };
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
    let fixture = Fixture {
        request_target: None,
        close_reply: walked.close_reply,
        request: Some(request),
        deflate: recorded_deflate,
    };
    Ok((scenario, fixture))
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

impl RecordedRequest {
    /// Every value of header `name` (case-insensitive), joined by `, `.
    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> =
            self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// What this request offered.
    pub fn offer(&self) -> Offer {
        Offer { extensions: self.header("sec-websocket-extensions"), protocols: self.header("sec-websocket-protocol") }
    }
}

/// What a client's upgrade request offered: its `Sec-WebSocket-Extensions`
/// and `Sec-WebSocket-Protocol` values (every header of each joined by
/// `, `), `None` where it sent none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Offer {
    /// The extensions offered, e.g. `permessage-deflate; client_max_window_bits`.
    pub extensions: Option<String>,
    /// The subprotocols offered, comma-separated.
    pub protocols: Option<String>,
}

impl Offer {
    /// Checks what the server's 101 accepted against this offer (RFC 6455
    /// §4.1, RFC 7692 §7.1): an extension or subprotocol that was not
    /// offered, more than one extension, or a permessage-deflate answer the
    /// offers do not allow fails the handshake, with the reason. Returns
    /// the agreed permessage-deflate parameters.
    pub fn check_answer(&self, response: &Head) -> Result<Option<DeflateParams>, String> {
        if let Some(chosen) = response.header("sec-websocket-protocol").filter(|p| !p.is_empty()) {
            let offered = self.protocols.clone().unwrap_or_default();
            if !offered.split(',').any(|p| p.trim() == chosen) {
                return Err(format!("subprotocol selected by server ({chosen}) not in the offer ({offered:?})"));
            }
        }
        let Some(accepted) = response.header("sec-websocket-extensions") else { return Ok(None) };
        let offers = parse_extensions(self.extensions.as_deref().unwrap_or_default());
        let answers = parse_extensions(&accepted);
        let [answer] = &answers[..] else {
            return Err(format!("server accepted {} extensions ({accepted:?}); the offer allows one", answers.len()));
        };
        let offered: Vec<_> = offers.iter().filter(|o| o.name.eq_ignore_ascii_case(&answer.name)).collect();
        if offered.is_empty() || !answer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            return Err(format!("server wants to use extension '{}' we did not request", answer.name));
        }
        let params =
            DeflateParams::from_extension(answer).map_err(|e| format!("bad permessage-deflate answer: {e}"))?;
        let allowed = |offer: &&Extension| {
            let client_bits_ok =
                answer.param("client_max_window_bits").is_none() || offer.param("client_max_window_bits").is_some();
            let server_bits_ok = match offer.param("server_max_window_bits").flatten().and_then(|v| v.parse().ok()) {
                Some(limit) => {
                    answer.param("server_max_window_bits").is_some() && params.server_max_window_bits <= limit
                }
                None => true,
            };
            client_bits_ok && server_bits_ok
        };
        match offered.iter().any(allowed) {
            true => Ok(Some(params)),
            false => Err(format!("the permessage-deflate answer {accepted:?} does not fit any offer")),
        }
    }
}

/// A `--against` URL: where to connect, and the request target it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgainstUrl {
    /// Host, port, TLS, and the target `wstap fuzz` would ask for.
    pub upgrade: Upgrade,
    /// The path and query, if the URL has one (`/chat?x=1`); `None` sends
    /// the recorded target.
    pub path: Option<String>,
}

impl AgainstUrl {
    /// Parses `ws://HOST[:PORT][/PATH[?QUERY]]` or `wss://…`, as `wstap
    /// fuzz` does ([`Upgrade::for_url`]).
    pub fn parse(text: &str) -> Result<AgainstUrl, String> {
        let upgrade = Upgrade::for_url(text)?;
        let rest = text.trim().split_once("://").map_or("", |(_, r)| r);
        let path = rest.contains(['/', '?']).then(|| upgrade.resource.clone());
        Ok(AgainstUrl { upgrade, path })
    }
}

#[cfg(test)]
mod tests;

//! A recording from `wstap record` as a case: the recorded server is played
//! back to a new client, and what the recorded client did becomes the
//! expectation. A recording is therefore a regression test as it stands.
//! [`super::against`] is the mirror: the recorded client played to a new
//! server.
//!
//! Derivation rules (the shared ones, sending, pacing, pings, who closes,
//! expectations, the kill timer and compressed messages, are the walk's,
//! stated in [`super::walk`], with the server as the played side and the
//! client as the peer):
//! - The server's frames are sent exactly as recorded, masks included
//!   (server frames are unmasked unless the recorded server broke the rule).
//! - When the client closed first, the server's recorded reply (code and
//!   reason) is the reply the fuzzer sends when the new client closes
//!   ([`Fixture::close_reply`]; Autobahn's 1000 if none was recorded).
//! - The client is sent to the recorded request target (path and query,
//!   [`Fixture::request_target`]) rather than to `/runCase?…`, so the
//!   request line it sends is the recorded one.
//! - The 101 response is the recorded one with a fresh
//!   `Sec-WebSocket-Accept` for the new key, and, if permessage-deflate
//!   was negotiated, the agreement made with the new client's offer.
//!   Expected client messages are their inflated payloads.

use std::path::Path;

use super::walk::{Played, walk};
use super::{Case, Fixture, Response};
use crate::scenario::{Scenario, ScenarioError};
use crate::session::{Direction, EventKind, Recording};

/// Seconds the kill timer allows beyond the recording.
pub const KILL_SLACK: f64 = 5.0;

/// How the played side's frames are paced (the server's for a replay to a
/// client, the client's for `--against`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Timing {
    /// Send each frame once the peer has caught up with the recording (same
    /// number of messages and pongs); no sleeping.
    #[default]
    Reactive,
    /// Keep the recorded delays between the played side's frames.
    Recorded,
}

/// Loads a recording file as a case (unnumbered).
pub fn load(path: &Path, timing: Timing) -> Result<Case, ScenarioError> {
    let error = |line, message| ScenarioError { file: path.to_path_buf(), position: line, message };
    let rec = crate::store::load(path).map_err(|e| error(e.line.map(|l| (l, 1)), e.message))?;
    let id = path.file_stem().map_or("recording".into(), |s| s.to_string_lossy().into_owned());
    let (scenario, response, fixture) = derive(&rec, &id, timing).map_err(|m| error(None, m))?;
    Ok(Case { scenario, number: 0, response, origin: path.to_path_buf(), fixture })
}

/// Derives the scenario, the 101 response and what else is reproduced
/// ([`Fixture`]) from a recording.
pub fn derive(rec: &Recording, id: &str, timing: Timing) -> Result<(Scenario, Response, Fixture), String> {
    let (headers, opened_at) = recorded_response(rec)?;
    let deflate = negotiated_deflate(&headers).is_some();
    let played = Played { dir: Direction::ServerToClient, masks: None, timing };
    let walked = walk(rec, opened_at, deflate, played)?;
    let scenario = Scenario {
        id: id.to_owned(),
        description: format!("Replay of the recording {id} (server side as recorded)"),
        expectation: "The client behaves as the recorded client: same messages, same close.".into(),
        handshake: Default::default(),
        expect: walked.expect,
        actions: walked.actions,
        report: Default::default(),
    };
    let fixture = Fixture { request_target: request_target(rec), close_reply: walked.close_reply };
    Ok((scenario, Response::Recorded(headers), fixture))
}

/// The permessage-deflate parameters a recorded 101's headers agreed to.
pub fn negotiated_deflate(headers: &[(String, String)]) -> Option<crate::wire::DeflateParams> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-extensions"))
        .find_map(|(_, v)| crate::wire::deflate::negotiate::wanted(v))
}

/// The recorded request's target (`/chat?x=1`), if the head has one that
/// can go into a URL: an origin-form target of printable ASCII. A `'` is
/// sent as `%27`, since the URL is single-quoted for the shell.
fn request_target(rec: &Recording) -> Option<String> {
    let data = rec.events_in(Direction::ClientToServer).find_map(|e| match &e.kind {
        EventKind::Http { data, .. } => Some(data),
        _ => None,
    })?;
    let bytes = rec.data_bytes(data).ok()?;
    let line = bytes.split(|&b| b == b'\r' || b == b'\n').next()?;
    let target = std::str::from_utf8(line).ok()?.split(' ').nth(1)?;
    let printable = target.starts_with('/') && target.bytes().all(|b| b.is_ascii_graphic());
    printable.then(|| target.replace('\'', "%27"))
}

/// The recorded 101's header lines, and when it was sent (µs); an error
/// if the recording has no 101.
pub fn recorded_response(rec: &Recording) -> Result<(Vec<(String, String)>, u64), String> {
    let (at, data) = rec
        .events_in(Direction::ServerToClient)
        .find_map(|e| match &e.kind {
            EventKind::Http { data, .. } => Some((e.at, data)),
            _ => None,
        })
        .ok_or("the recording has no server response head")?;
    let bytes = rec.data_bytes(data).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.contains(" 101") {
        return Err(format!("the recorded response is not a 101: {status:?}"));
    }
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((headers, at))
}

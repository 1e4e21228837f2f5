//! The client role: one case played as Autobahn's fuzzingclient plays it,
//! on a connection to the server under test.
//!
//! The API other commands build on (`wstap fuzz`, and replaying a
//! recording's client side to a server) is two calls:
//!
//! ```text
//! let io = WireIo::connected(tcp_stream, record_path);   // or WireIo::wrap_role(Role::Client, tls, ...)
//! let run = run_case_as_client(io, &case, &settings, &Upgrade::for_url(&url)?).await;
//! ```
//!
//! or [`connect_and_run`], which also connects (and names a connection
//! failure as the case's FAILED result). The case is any [`Case`]: the same
//! scenario files drive both roles.
//!
//! What happens, in Autobahn's order (autobahn-python 0.10.9's client):
//! 1. the upgrade request is written (`TO`): Autobahn's header set and
//!    order, `User-Agent: wstap/<version>`, a new random key, the
//!    scenario's `deflate_offer` if any; or, for a
//!    case from a recording (`replay --against`, [`super::against`]), the
//!    recorded request with a new key and the target's `Host`;
//! 2. the response is read (`RO`), bounded by the 5 s opening-handshake
//!    timer from connect, and checked as Autobahn checks it (101, `Upgrade`,
//!    `Connection`, `Sec-WebSocket-Accept`, no extension or subprotocol
//!    that was not offered: a scenario offers its `deflate_offer` (12.x and
//!    13.x: Autobahn's offers) or nothing, a recorded request offers what
//!    it recorded, and an accepted permessage-deflate is used);
//! 3. OPEN: the scenario's steps run as on-open, every frame masked, then
//!    the bytes that came with the response are decoded;
//! 4. the engine runs to the end with the tracker's client rules.
//!
//! The agent is `settings.agent`, or when that is empty, the server's
//! `Server` header (`UnknownServer` without one), as Autobahn does; the
//! observed recording then starts once the name is known.
//!
//! A response that fails a check ends the case FAILED with Autobahn's
//! reason as the result text and `wasNotCleanReason` (Autobahn itself
//! judges the events of such a case, so a case expecting no events would
//! pass there; wstap does not pass a server that never opened).

use super::against::Offer;
use super::engine::{Engine, no_connection, record_path, unopened_with};
use super::wire_io::{Response, WireIo};
use super::{Case, CaseRun, Settings};
use crate::judge::tracker::OPEN_HANDSHAKE_TIMEOUT;
use crate::judge::{Occurrence, Role, Tracker};
use crate::net::target::Target;
use crate::wire::{DeflateParams, accept_key};

/// The `User-Agent` of the upgrade request (Autobahn sends
/// `AutobahnTestSuite/<version>-0.10.9`).
pub const USER_AGENT: &str = concat!("wstap/", env!("CARGO_PKG_VERSION"));

/// The agent when neither `--agent` nor a `Server` header names the server.
pub const UNKNOWN_SERVER: &str = "UnknownServer";

/// What the client asks the server for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// Where to connect (`wss` when `target.tls`).
    pub target: Target,
    /// The request target: the URL's path and query (`/` when empty).
    pub resource: String,
}

impl Upgrade {
    /// Parses `ws://HOST[:PORT][/PATH][?QUERY]` (or `wss://`). A fragment
    /// is refused, as Autobahn refuses it.
    pub fn for_url(url: &str) -> Result<Upgrade, String> {
        let lower = url.trim().to_ascii_lowercase();
        if !lower.starts_with("ws://") && !lower.starts_with("wss://") {
            return Err(format!("{url:?}: expected a ws:// or wss:// URL"));
        }
        if url.contains('#') {
            return Err(format!("{url:?}: a WebSocket URL has no fragment (#...)"));
        }
        let target = Target::parse(url)?;
        let after_scheme = &url.trim()[url.trim().find("://").map_or(0, |i| i + 3)..];
        let resource = match after_scheme.find(['/', '?']) {
            Some(at) if after_scheme[at..].starts_with('?') => format!("/{}", &after_scheme[at..]),
            Some(at) => after_scheme[at..].to_owned(),
            None => "/".to_owned(),
        };
        if resource.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(format!("{url:?}: spaces or control characters in the path; percent-encode them"));
        }
        Ok(Upgrade { target, resource })
    }

    /// The URL it was made from, normalised (`ws://127.0.0.1:9001/`).
    pub fn url(&self) -> String {
        format!("{}{}", self.target.url(), self.resource)
    }

    /// The upgrade request with `key`, in Autobahn's header order; with
    /// `extensions`, a `Sec-WebSocket-Extensions` header where Autobahn
    /// puts it (after the key, before the version).
    pub fn request(&self, key: &str, extensions: Option<&str>) -> Vec<u8> {
        let extensions = extensions.map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n")).unwrap_or_default();
        format!(
            "GET {} HTTP/1.1\r\nUser-Agent: {USER_AGENT}\r\nHost: {}\r\nUpgrade: WebSocket\r\n\
             Connection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\
             Sec-WebSocket-Key: {key}\r\n{extensions}Sec-WebSocket-Version: 13\r\n\r\n",
            self.resource,
            self.target.authority(),
        )
        .into_bytes()
    }
}

/// A new random `Sec-WebSocket-Key` (16 bytes, base64).
pub fn new_key() -> String {
    let nonce: Vec<u8> = (0..4).flat_map(|_| crate::peer::next_mask()).collect();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce)
}

/// Connects to `upgrade.target` and runs `case` as the client; a
/// connection that cannot be made is the case's FAILED result, with why.
/// `wss` is spoken with `tls` (none: a `wss` target fails with a reason).
pub async fn connect_and_run(
    upgrade: &Upgrade,
    case: &Case,
    settings: &Settings,
    tls: Option<&crate::tls::UpstreamTls>,
) -> CaseRun {
    let connected = match tokio::time::timeout(
        OPEN_HANDSHAKE_TIMEOUT,
        crate::net::connect::connect(&upgrade.target, None, OPEN_HANDSHAKE_TIMEOUT),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return no_connection(case, settings, &e.to_string()),
        Err(_) => return no_connection(case, settings, &format!("cannot connect to {} within 5 s", upgrade.target)),
    };
    let record = record_path(settings, case);
    let record = record.as_deref().filter(|_| !settings.agent.is_empty());
    let io = match (upgrade.target.tls, tls) {
        (false, _) => WireIo::connected(connected.stream, record),
        (true, None) => return no_connection(case, settings, "wss:// needs TLS settings (none were given)"),
        (true, Some(tls)) => {
            let tcp = connected.stream;
            let _ = tcp.set_nodelay(true);
            let addrs = (tcp.local_addr().ok(), tcp.peer_addr().ok());
            let resetter = crate::net::stream::Resetter::of(&tcp);
            match tls.connect(tcp, &upgrade.target).await {
                Ok((stream, info)) => {
                    WireIo::wrap_role(Role::Client, Box::new(stream), addrs, Some(info), record).with_resetter(resetter)
                }
                Err(failure) => return no_connection(case, settings, &failure.detail),
            }
        }
    };
    let io = if record.is_none() && settings.record_dir.is_some() { io.defer() } else { io };
    run_case_as_client(io, case, settings, upgrade).await
}

/// Runs `case` as the client on `io` (a connection made for it, in the
/// client role: [`WireIo::connected`]); see the module docs.
pub async fn run_case_as_client(mut io: WireIo, case: &Case, settings: &Settings, upgrade: &Upgrade) -> CaseRun {
    io.set_faults(settings.faults.for_connection(u64::from(case.number)));
    let key = new_key();
    // A recording's client (`replay --against`) sends its recorded request;
    // a scenario's client its permessage-deflate offers, if it has any.
    let recorded = case.fixture.request.as_ref();
    let offers = &case.scenario.handshake.deflate_offer;
    let (request, offer) = match recorded {
        Some(recorded) => (recorded.head(&upgrade.target.host_header(), &key), Some(recorded.offer())),
        None if offers.is_empty() => (upgrade.request(&key, None), None),
        None => {
            let extensions = offers.join(", ");
            let request = upgrade.request(&key, Some(&extensions));
            (request, Some(Offer { extensions: Some(extensions), protocols: None }))
        }
    };
    let mut tracker = Tracker::new(&case.scenario.expect, settings.policy).with_role(Role::Client);
    io.write(&request, false).await;
    let response = match io.read_response().await {
        Ok(response) => response,
        Err(why) => {
            let settings = &named(settings, None, &mut io, case);
            if why == "timeout" {
                tracker.advance(OPEN_HANDSHAKE_TIMEOUT);
                let why =
                    format!("the server did not answer the upgrade within {} s", OPEN_HANDSHAKE_TIMEOUT.as_secs());
                return unopened_with(io, tracker, case, settings, &why, Some(&request)).await;
            }
            tracker.apply(io.now(), Occurrence::HandshakeFailed(why.clone()));
            let why = format!("no valid 101 response: {why}");
            return unopened_with(io, tracker, case, settings, &why, Some(&request)).await;
        }
    };
    let settings = &named(settings, Some(&response), &mut io, case);
    let deflate = match check_response(&response, &key, offer.as_ref()) {
        Ok(deflate) => deflate,
        Err(why) => {
            tracker.apply(io.now(), Occurrence::HandshakeFailed(why.clone()));
            let mut run = unopened_with(io, tracker, case, settings, &why, Some(&request)).await;
            run.report.http_response = String::from_utf8_lossy(&response.raw).into_owned();
            return run;
        }
    };
    let as_recorded = super::against::as_recorded(&case.fixture, deflate);
    let mut engine = Engine::new(io, case, settings.policy, deflate, as_recorded);
    engine.on_open().await;
    engine.run(response.rest.clone()).await;
    engine.finish(case, settings, &request, &response.raw).await
}

/// `settings` with the agent decided: the given one, else the server's
/// `Server` header, else [`UNKNOWN_SERVER`]; a deferred recording starts.
fn named(settings: &Settings, response: Option<&Response>, io: &mut WireIo, case: &Case) -> Settings {
    let mut settings = settings.clone();
    if settings.agent.is_empty() {
        let server = response.and_then(|r| r.head.header("server")).filter(|s| !s.is_empty());
        settings.agent = server.unwrap_or_else(|| UNKNOWN_SERVER.to_owned());
        if let Some(path) = record_path(&settings, case) {
            io.start_recording(&path);
        }
    }
    settings
}

/// Autobahn's checks of the 101 response, in its order, with its texts;
/// the permessage-deflate parameters agreed, if any. Without `offered`
/// wstap offered nothing, so any extension or subprotocol fails; with an
/// offer (a recorded request's, or a scenario's `deflate_offer`:
/// [`Offer::check_answer`]) the server may accept what was offered.
pub fn check_response(
    response: &Response,
    key: &str,
    offered: Option<&Offer>,
) -> Result<Option<DeflateParams>, String> {
    let head = &response.head;
    if head.status != 101 {
        return Err(format!("WebSocket connection upgrade failed ({})", head.status));
    }
    let upgrade = head.header("upgrade").ok_or("HTTP Upgrade header missing")?;
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(format!("HTTP Upgrade header different from 'websocket' (case-insensitive) : {upgrade}"));
    }
    let connection = head.header("connection").ok_or("HTTP Connection header missing")?;
    if !head.has_token("connection", "upgrade") {
        return Err(format!(
            "HTTP Connection header does not include 'upgrade' value (case-insensitive) : {connection}"
        ));
    }
    let count = |name: &str| head.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count();
    let got = head
        .header("sec-websocket-accept")
        .ok_or("HTTP Sec-WebSocket-Accept header missing in opening handshake reply")?;
    if count("sec-websocket-accept") > 1 {
        return Err("HTTP Sec-WebSocket-Accept header appears more than once in opening handshake reply".into());
    }
    let expected = accept_key(key);
    if got != expected {
        return Err(format!("HTTP Sec-WebSocket-Accept bogus value : expected {expected} / got {got}"));
    }
    if let Some(offer) = offered {
        return offer.check_answer(head);
    }
    if let Some(ext) = head.header("sec-websocket-extensions") {
        let name = ext.split([';', ',']).next().unwrap_or_default().trim().to_owned();
        return Err(format!(
            "server wants to use extension '{name}' we did not request, haven't implemented or did not enable"
        ));
    }
    match head.header("sec-websocket-protocol").filter(|p| !p.is_empty()) {
        Some(p) => {
            Err(format!("subprotocol selected by server ({p}) not in subprotocol list requested by client ([])"))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Head;

    #[test]
    fn urls_give_the_request_autobahn_sends() {
        let up = Upgrade::for_url("ws://127.0.0.1:9001").unwrap();
        assert_eq!((up.resource.as_str(), up.url()), ("/", "ws://127.0.0.1:9001/".to_owned()));
        let text = String::from_utf8(up.request("dGhlIHNhbXBsZSBub25jZQ==", None)).unwrap();
        assert_eq!(
            text,
            format!(
                "GET / HTTP/1.1\r\nUser-Agent: {USER_AGENT}\r\nHost: 127.0.0.1:9001\r\nUpgrade: WebSocket\r\n\
                 Connection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
        );
        let offer = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
        let text = String::from_utf8(up.request("dGhlIHNhbXBsZSBub25jZQ==", Some(offer))).unwrap();
        assert!(
            text.ends_with(&format!(
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: {offer}\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            )),
            "{text}"
        );
        assert_eq!(Upgrade::for_url("ws://localhost/a/b?x=1").unwrap().resource, "/a/b?x=1");
        assert_eq!(Upgrade::for_url("ws://localhost?x=1").unwrap().resource, "/?x=1");
        assert_eq!(Upgrade::for_url("wss://[::1]:8443/").unwrap().target.authority(), "[::1]:8443");
        assert!(Upgrade::for_url("http://x:1").unwrap_err().contains("ws://"));
        assert!(Upgrade::for_url("ws://x:1/#f").unwrap_err().contains("fragment"));
        assert!(Upgrade::for_url("ws://x:1/a b").unwrap_err().contains("percent-encode"));
        assert_eq!(new_key().len(), 24);
    }

    fn response(text: &str) -> Response {
        Response { raw: text.as_bytes().to_vec(), head: Head::parse_response(text.as_bytes()).unwrap(), rest: vec![] }
    }

    #[test]
    fn responses_are_checked_as_autobahn_checks_them() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(check_response(&response(ok), key, None), Ok(None));
        let refused = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            check_response(&response(refused), key, None).unwrap_err(),
            "WebSocket connection upgrade failed (404)"
        );
        let bogus = ok.replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA");
        assert!(
            check_response(&response(&bogus), key, None)
                .unwrap_err()
                .starts_with("HTTP Sec-WebSocket-Accept bogus value")
        );
        let no_upgrade = ok.replace("Connection: Upgrade", "Connection: close");
        assert!(check_response(&response(&no_upgrade), key, None).unwrap_err().contains("does not include 'upgrade'"));
        let ext = ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
        assert!(check_response(&response(&ext), key, None).unwrap_err().contains("extension 'permessage-deflate'"));
        let proto = ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
        assert!(
            check_response(&response(&proto), key, None).unwrap_err().contains("subprotocol selected by server (chat)")
        );
    }
}

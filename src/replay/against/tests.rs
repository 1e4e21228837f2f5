//! The client-side derivation, on recordings built from real bytes.

use super::*;
use crate::scenario::action::{Form, Opcode};
use crate::scenario::payload::MaskKey;
use crate::scenario::{Action, Event, FrameSpec, LocalClose, Step, WaitFor};
use crate::session::{MemoryStore, SessionBuilder, TcpEnd};
use crate::wire::{Deflater, FrameHeader, LenForm, OpCode};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;
const KEY1: [u8; 4] = [0x11, 0x22, 0x33, 0x44];
const REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:9002\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nUser-Agent: recorded/1.0\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
const RESPONSE_PMD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

/// A connection as bytes, one read per item, 1 ms apart.
struct Session {
    builder: SessionBuilder<MemoryStore>,
    at: u64,
}

impl Session {
    fn new(response: &[u8]) -> Session {
        let mut s = Session { builder: SessionBuilder::new(MemoryStore::default()), at: 0 };
        s.read(C2S, REQUEST).read(S2C, response);
        s
    }

    fn read(&mut self, dir: Direction, bytes: &[u8]) -> &mut Session {
        self.at += 1000;
        self.builder.read(self.at, dir, bytes).unwrap();
        self
    }

    fn frame(&mut self, dir: Direction, header: FrameHeader, payload: &[u8]) -> &mut Session {
        self.read(dir, &header.encode_frame(payload))
    }

    fn client(&mut self, opcode: OpCode, payload: &[u8]) -> &mut Session {
        let header = FrameHeader { mask: Some(KEY1), ..FrameHeader::new(opcode, payload.len() as u64) };
        self.frame(C2S, header, payload)
    }

    fn server(&mut self, opcode: OpCode, payload: &[u8]) -> &mut Session {
        self.frame(S2C, FrameHeader::new(opcode, payload.len() as u64), payload)
    }

    fn done(&mut self) -> Recording {
        self.at += 1000;
        self.builder.end(self.at, S2C, TcpEnd::Fin, None).unwrap();
        self.builder.end(self.at, C2S, TcpEnd::Fin, None).unwrap();
        Recording {
            started: "2026-12-02T00:00:00.000000Z".into(),
            events: self.builder.drain(),
            ..Recording::default()
        }
    }
}

fn derive_with(rec: &Recording, opts: Options) -> Case {
    let (scenario, fixture) = derive(rec, "1", opts).unwrap();
    Case { scenario, number: 1, response: Response::Autobahn, origin: "rec.yaml".into(), fixture }
}

fn request(case: &Case) -> &RecordedRequest {
    case.fixture.request.as_ref().expect("the recorded request")
}

/// The echo session most recordings are: hello, its echo, close 1000.
fn echo_session() -> Recording {
    Session::new(RESPONSE)
        .client(OpCode::TEXT, b"hello")
        .server(OpCode::TEXT, b"hello")
        .client(OpCode::CLOSE, &[3, 232])
        .server(OpCode::CLOSE, &[3, 232])
        .done()
}

fn frame(action: &Action) -> &FrameSpec {
    match action {
        Action::Frame(f) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[test]
fn the_client_is_played_and_the_server_expected() {
    let case = derive_with(&echo_session(), Options::default());
    let actions = &case.scenario.actions;
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert_eq!(actions[0], Action::KillAfter(crate::replay::from_recording::KILL_SLACK));
    let hello = frame(&actions[1]);
    assert_eq!((hello.opcode, hello.fin, hello.rsv.0), (Opcode(OpCode::TEXT), true, 0));
    assert_eq!(hello.payload_bytes(), b"hello");
    // The close waits for the echo, as the recorded client did.
    assert_eq!(actions[2], Action::Wait(WaitFor::Events(1)));
    let Action::Close(close) = &actions[3] else { panic!("the client's close last: {actions:?}") };
    assert_eq!((close.code, close.reason.as_ref()), (Some(1000), None));
    let expect = &case.scenario.expect;
    assert_eq!(expect.events.ok, Some(vec![Event::text("hello")]));
    assert!(expect.close.closed_by_me, "the recorded client closed first");
    assert_eq!(expect.close.codes, [1000]);
    assert!(expect.wrong_code_fails);
    assert_eq!(case.fixture.close_reply, None);
}

#[test]
fn masks_are_new_unless_kept_and_the_rest_is_byte_for_byte() {
    // A 16-bit length form for 5 bytes and RSV2: both must survive.
    let header =
        FrameHeader { mask: Some(KEY1), rsv: 2, len_form: LenForm::Bits16, ..FrameHeader::new(OpCode::BINARY, 5) };
    let recorded = header.encode_frame(b"abcde");
    let rec = Session::new(RESPONSE).read(C2S, &recorded).done();
    let sent = |opts| {
        let case = derive_with(&rec, opts);
        let f = frame(&case.scenario.actions[1]).clone();
        let [Step::Send(send)] = &crate::scenario::plan::compile(&[Action::Frame(f.clone())], true)[..] else {
            panic!("one send")
        };
        (f, send.bytes())
    };
    let (kept, kept_bytes) = sent(Options { keep_masks: true, ..Options::default() });
    assert_eq!(kept.mask, Some(MaskKey(KEY1)));
    assert_eq!(kept_bytes, recorded, "kept masks: the recorded bytes exactly");
    let (fresh, fresh_bytes) = sent(Options::default());
    assert_eq!(fresh.mask, None, "no key: the engine's client role masks it with a new one");
    assert_eq!(fresh.len_form, Some(Form(LenForm::Bits16)));
    let mut expected = header;
    expected.mask = None;
    assert_eq!(fresh_bytes, expected.encode_frame(b"abcde"), "the recorded header and payload, key left out");
}

#[test]
fn when_the_server_closes_first_the_clients_reply_is_kept() {
    let rec = Session::new(RESPONSE)
        .client(OpCode::TEXT, b"bye?")
        .server(OpCode::CLOSE, &[0x0f, 0xa1, b'x'])
        .client(OpCode::CLOSE, &[0x03, 0xe9, b'o', b'k'])
        .done();
    let case = derive_with(&rec, Options::default());
    assert!(!case.scenario.expect.close.closed_by_me);
    assert_eq!(case.scenario.expect.close.codes, [4001], "the server's code is the expectation");
    assert_eq!(case.fixture.close_reply, Some(LocalClose { code: Some(1001), reason: Some(b"ok".to_vec()) }));
    assert!(!case.scenario.actions.iter().any(|a| matches!(a, Action::Close(_))), "the reply is not played");
}

#[test]
fn client_pings_expect_the_servers_pongs_and_the_clients_own_pongs_are_not_played() {
    let rec = Session::new(RESPONSE)
        .client(OpCode::PING, b"p1")
        .server(OpCode::PONG, b"p1")
        .server(OpCode::PING, b"s1")
        .client(OpCode::PONG, b"s1")
        .client(OpCode::CLOSE, &[3, 232])
        .server(OpCode::CLOSE, &[3, 232])
        .done();
    let case = derive_with(&rec, Options::default());
    assert_eq!(case.scenario.expect.events.ok, Some(vec![Event::Pong(b"p1".to_vec())]));
    let played: Vec<OpCode> = case
        .scenario
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Frame(f) => Some(f.opcode.0),
            Action::Close(_) => Some(OpCode::CLOSE),
            _ => None,
        })
        .collect();
    assert_eq!(played, [OpCode::PING, OpCode::CLOSE], "the pong answering the server's ping is the engine's job");
}

#[test]
fn recorded_timing_keeps_the_gaps_between_client_frames() {
    let rec = echo_session();
    let case = derive_with(&rec, Options { timing: Timing::Recorded, ..Options::default() });
    let delays: Vec<u64> = case
        .scenario
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Delay(ms) => Some(*ms),
            _ => None,
        })
        .collect();
    // 101 at 2 ms, hello at 3 ms, close at 5 ms.
    assert_eq!(delays, [1, 2]);
    assert!(!case.scenario.actions.iter().any(|a| matches!(a, Action::Wait(_))));
    let Action::KillAfter(kill) = case.scenario.actions[0] else { panic!("kill timer first") };
    assert!(kill > crate::replay::from_recording::KILL_SLACK, "the recording's length is added: {kill}");
}

#[test]
fn the_request_is_the_recorded_one_with_a_new_key_and_host() {
    let case = derive_with(&echo_session(), Options::default());
    assert_eq!(request(&case).target, "/chat?room=1");
    let head = String::from_utf8(request(&case).head("localhost:8080", "bmV3a2V5bmV3a2V5bmV3aw==")).unwrap();
    assert_eq!(
        head,
        "GET /chat?room=1 HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: bmV3a2V5bmV3a2V5bmV3aw==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nUser-Agent: recorded/1.0\r\n\r\n"
    );
    let mut other = request(&case).clone();
    other.target = "/v2".into();
    let other = String::from_utf8(other.head("h", "k")).unwrap();
    assert!(other.starts_with("GET /v2 HTTP/1.1\r\nHost: h\r\n"), "{other}");
}

#[test]
fn compressed_client_messages_are_recompressible_and_server_ones_expected_inflated() {
    let mut deflater = Deflater::new(15, false).unwrap();
    let compressed = deflater.compress_message(b"squeeze me");
    let client = FrameHeader { rsv: 4, mask: Some(KEY1), ..FrameHeader::new(OpCode::TEXT, compressed.len() as u64) };
    let echoed = Deflater::new(15, false).unwrap().compress_message(b"squeeze me");
    let server = FrameHeader { rsv: 4, ..FrameHeader::new(OpCode::TEXT, echoed.len() as u64) };
    let rec = Session::new(RESPONSE_PMD).frame(C2S, client, &compressed).frame(S2C, server, &echoed).done();
    let case = derive_with(&rec, Options::default());
    assert_eq!(case.fixture.deflate, Some(DeflateParams::default()));
    assert!(as_recorded(&case.fixture, Some(DeflateParams::default())) && !as_recorded(&case.fixture, None));
    assert_eq!(case.scenario.expect.events.ok, Some(vec![Event::text("squeeze me")]));
    let Action::Recorded(message) = &case.scenario.actions[1] else { panic!("{:?}", case.scenario.actions) };
    let as_recorded = frame(&message.as_recorded[0]);
    assert_eq!((as_recorded.rsv.0, as_recorded.payload_bytes()), (4, compressed.clone()));
    let again = frame(&message.recompressed.as_ref().unwrap()[0]);
    assert!(again.compress && again.payload_bytes() == b"squeeze me");
    assert_eq!((again.mask, as_recorded.mask), (None, None), "new keys for both forms");
    let kept = derive_with(&rec, Options { keep_masks: true, ..Options::default() });
    let Action::Recorded(message) = &kept.scenario.actions[1] else { panic!("{:?}", kept.scenario.actions) };
    let again = frame(&message.recompressed.as_ref().unwrap()[0]);
    assert_eq!(again.mask, Some(MaskKey(KEY1)), "kept: the recompressed frame gets the recorded key");
}

#[test]
fn a_recording_without_a_request_or_a_101_is_refused_with_the_reason() {
    let mut b = SessionBuilder::new(MemoryStore::default());
    b.read(1, S2C, RESPONSE).unwrap();
    let no_request = Recording { events: b.drain(), ..Recording::default() };
    let err = derive(&no_request, "1", Options::default()).unwrap_err();
    assert!(err.contains("no client request head"), "{err}");
    let mut b = SessionBuilder::new(MemoryStore::default());
    b.read(1, C2S, REQUEST).unwrap();
    b.read(2, S2C, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").unwrap();
    let refused = Recording { events: b.drain(), ..Recording::default() };
    let err = derive(&refused, "1", Options::default()).unwrap_err();
    assert!(err.contains("not a 101"), "{err}");
}

#[test]
fn urls_name_the_server_and_maybe_the_target() {
    let url = AgainstUrl::parse("ws://127.0.0.1:9001").unwrap();
    assert_eq!((url.upgrade.target.authority(), url.path), ("127.0.0.1:9001".into(), None));
    let url = AgainstUrl::parse("wss://Example.com/chat?x=1").unwrap();
    assert_eq!((url.upgrade.target.port, url.upgrade.target.tls, url.path.as_deref()), (443, true, Some("/chat?x=1")));
    assert_eq!(AgainstUrl::parse("ws://h:1/").unwrap().path.as_deref(), Some("/"));
    assert_eq!(AgainstUrl::parse("ws://h:1?q").unwrap().path.as_deref(), Some("/?q"));
    for bad in ["127.0.0.1:9001", "http://h/", "ws://h:1/a b", "ws://h:99999/", "ws://h:1/#top"] {
        assert!(AgainstUrl::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_servers_answer_must_fit_the_recorded_offer() {
    let case = derive_with(&echo_session(), Options::default());
    let offer = request(&case);
    let answer = |extra: &str| {
        let text = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n{extra}\r\n");
        offer.offer().check_answer(&crate::wire::Head::parse_response(text.as_bytes()).unwrap())
    };
    assert_eq!(answer(""), Ok(None));
    let pmd = answer("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n").unwrap();
    assert_eq!(pmd.map(|p| p.client_max_window_bits), Some(12));
    let err = answer("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n").unwrap_err();
    assert!(err.contains("'x-webkit-deflate-frame' we did not request"), "{err}");
    let err = answer("Sec-WebSocket-Extensions: permessage-deflate; bogus\r\n").unwrap_err();
    assert!(err.contains("unknown parameter bogus"), "{err}");
    let err = answer("Sec-WebSocket-Protocol: chat\r\n").unwrap_err();
    assert!(err.contains("subprotocol selected by server (chat)"), "{err}");
    // An offer without client_max_window_bits does not allow it in the answer.
    let mut strict = offer.clone();
    for (name, value) in &mut strict.headers {
        if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            *value = "permessage-deflate; server_max_window_bits=10".into();
        }
    }
    let check = |extra: &str| {
        let text = format!("HTTP/1.1 101 Switching Protocols\r\n{extra}\r\n");
        strict.offer().check_answer(&crate::wire::Head::parse_response(text.as_bytes()).unwrap())
    };
    assert!(check("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n").is_err());
    assert!(check("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n").is_err());
    assert!(check("Sec-WebSocket-Extensions: permessage-deflate\r\n").is_err(), "the limit must be answered");
    assert!(check("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n").is_ok());
}

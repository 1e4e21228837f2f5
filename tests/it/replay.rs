//! Replay engine and verdicts: wstap as the fuzzingserver towards real
//! clients in process (tokio-tungstenite, and raw peers that misbehave on
//! purpose, one per row of the reference's §2.8).

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use wstap::judge::tracker::{NO_CLOSE_REPLY, PEER_DROPPED};
use wstap::peer::{Incoming, WsPeer};
use wstap::replay::{Case, CaseRun, Settings, catalogue, engine};
use wstap::report::{Behavior, CloseBehavior};
use wstap::wire::OpCode;

/// The shipped case `id`, numbered as in a full run.
fn shipped(id: &str) -> Case {
    let all = catalogue::select(catalogue::shipped(), &[], &[]).unwrap();
    all.into_iter().find(|c| c.scenario.id == id).unwrap_or_else(|| panic!("no case {id}"))
}

/// Runs `case` on a fresh port with `client` connecting to its URL.
pub(crate) async fn run_with<F, Fut>(case: Case, record: Option<&std::path::Path>, client: F) -> CaseRun
where
    F: FnOnce(String, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = Settings::new("Tungstenite");
    settings.record_dir = record.map(|p| p.to_path_buf());
    let url = wstap::replay::runner::case_url(addr, &case, &settings.agent);
    let client = tokio::spawn(client(url, addr));
    let (stream, _) = within("client connects", listener.accept()).await.unwrap();
    let run = within("case ends", engine::run_case(stream, &case, &settings)).await;
    within("client ends", client).await.unwrap();
    run
}

/// A well-behaved client: echo every message, let the library answer pings
/// and closes, read until the server hangs up.
pub(crate) async fn tungstenite_client(url: String, _: SocketAddr) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            break;
        }
    }
}

/// What tokio-tungstenite 0.30 does in each category-7 case, as observed:
/// (id, behavior, behaviorClose, remoteCloseCode).
const TUNGSTENITE: [(&str, &str, &str, Option<u16>); 37] = [
    ("7.1.1", "OK", "OK", Some(1000)),
    ("7.1.2", "OK", "OK", Some(1000)),
    ("7.1.3", "OK", "OK", Some(1000)),
    ("7.1.4", "OK", "OK", Some(1000)),
    ("7.1.5", "OK", "OK", Some(1000)),
    ("7.1.6", "INFORMATIONAL", "INFORMATIONAL", Some(1000)),
    ("7.3.1", "OK", "OK", None),
    ("7.3.2", "OK", "OK", None),
    ("7.3.3", "OK", "OK", Some(1000)),
    ("7.3.4", "OK", "OK", Some(1000)),
    ("7.3.5", "OK", "OK", Some(1000)),
    ("7.3.6", "OK", "OK", None),
    ("7.5.1", "OK", "OK", None),
    ("7.7.1", "OK", "OK", Some(1000)),
    ("7.7.2", "OK", "OK", Some(1001)),
    ("7.7.3", "OK", "OK", Some(1002)),
    ("7.7.4", "OK", "OK", Some(1003)),
    ("7.7.5", "OK", "OK", Some(1007)),
    ("7.7.6", "OK", "OK", Some(1008)),
    ("7.7.7", "OK", "OK", Some(1009)),
    ("7.7.8", "OK", "OK", Some(1010)),
    ("7.7.9", "OK", "OK", Some(1011)),
    ("7.7.10", "OK", "OK", Some(3000)),
    ("7.7.11", "OK", "OK", Some(3999)),
    ("7.7.12", "OK", "OK", Some(4000)),
    ("7.7.13", "OK", "OK", Some(4999)),
    ("7.9.1", "OK", "OK", Some(1002)),
    ("7.9.2", "OK", "OK", Some(1002)),
    ("7.9.3", "OK", "OK", Some(1002)),
    ("7.9.4", "OK", "OK", Some(1002)),
    ("7.9.5", "OK", "OK", Some(1002)),
    ("7.9.6", "OK", "OK", Some(1002)),
    ("7.9.7", "OK", "OK", Some(1002)),
    ("7.9.8", "OK", "OK", Some(1002)),
    ("7.9.9", "OK", "OK", Some(1002)),
    ("7.13.1", "INFORMATIONAL", "INFORMATIONAL", Some(1002)),
    ("7.13.2", "INFORMATIONAL", "INFORMATIONAL", Some(1002)),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tungstenite_passes_every_category_7_case() {
    let cases = catalogue::select(catalogue::shipped(), &["7.*".into()], &[]).unwrap();
    let runs = futures_util::future::join_all(cases.into_iter().map(|c| run_with(c, None, tungstenite_client))).await;
    let got: Vec<(String, &str, &str, Option<u16>)> = runs
        .iter()
        .map(|r| {
            let r = &r.report;
            (r.id.clone(), r.behavior.as_str(), r.behavior_close.as_str(), r.remote_close_code)
        })
        .collect();
    let want: Vec<(String, &str, &str, Option<u16>)> =
        TUNGSTENITE.iter().map(|(id, b, c, code)| (id.to_string(), *b, *c, *code)).collect();
    assert_eq!(got, want);
    for run in &runs {
        let r = &run.report;
        let flags = (r.closed_by_me, r.failed_by_me, r.dropped_by_me, r.was_clean, r.was_close_handshake_timeout);
        if ["7.3.2", "7.3.6", "7.5.1"].contains(&r.id.as_str()) {
            // tungstenite drops TCP on a malformed close; allowed there
            // (requireClean is false), as the reference's §1.4 says.
            assert_eq!(flags, (true, false, false, false, false), "{}", r.id);
            assert_eq!(r.was_not_clean_reason.as_deref(), Some(PEER_DROPPED), "{}", r.id);
        } else {
            // The fuzzer closed first, read the reply, dropped TCP; no timer fired.
            assert_eq!(flags, (true, false, true, true, false), "{}", r.id);
            assert_eq!(r.was_not_clean_reason, None, "{}", r.id);
        }
        assert!(run.passed(), "{}", r.id);
        assert!(r.duration < 900, "{} took {} ms: a timer must not have been waited for", r.id, r.duration);
    }
}

// ---- raw clients that misbehave, one per row of the reference's §2.8 ----

/// A raw client: upgrade, then run `script` on the connection.
fn raw<F, Fut>(script: F) -> impl FnOnce(String, SocketAddr) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
where
    F: FnOnce(WsPeer) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    move |_url, addr| {
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let ws = WsPeer::connect(stream, &addr.to_string(), "/runCase").await.unwrap();
            script(ws).await
        })
    }
}

/// Reads until the server's close frame; returns what came before it.
async fn until_close(ws: &mut WsPeer) -> Vec<Incoming> {
    let mut seen = Vec::new();
    loop {
        match ws.recv().await.unwrap() {
            Some(Incoming::Close(_)) | None => return seen,
            Some(other) => seen.push(other),
        }
    }
}

pub(crate) async fn drain(mut ws: WsPeer) {
    while let Ok(Some(_)) = ws.recv().await {}
}

type Flags = (bool, bool, bool, bool, Option<String>, bool, Option<u16>);

pub(crate) fn flags(run: &CaseRun) -> Flags {
    let r = &run.report;
    let reason = r.was_not_clean_reason.clone();
    (
        r.closed_by_me,
        r.failed_by_me,
        r.dropped_by_me,
        r.was_clean,
        reason,
        r.was_close_handshake_timeout,
        r.remote_close_code,
    )
}

pub(crate) fn verdict(run: &CaseRun) -> (Behavior, CloseBehavior) {
    (run.report.behavior, run.report.behavior_close)
}

#[tokio::test]
async fn no_reply_close_handshake_timer_wins() {
    let silent = || raw(drain);
    let (strict, lenient) =
        tokio::join!(run_with(shipped("7.3.3"), None, silent()), run_with(shipped("7.9.1"), None, silent()));
    let want: Flags = (true, false, true, false, Some(NO_CLOSE_REPLY.into()), true, None);
    assert_eq!(flags(&strict), want);
    assert_eq!(flags(&lenient), want);
    assert_eq!(verdict(&strict), (Behavior::Ok, CloseBehavior::Unclean));
    assert_eq!(verdict(&lenient), (Behavior::Ok, CloseBehavior::Ok), "requireClean=false leniency");
    assert!(!strict.passed() && lenient.passed());
    // The timer really ran: about 1 s, and the log ends with KL, no KLE.
    assert!((950..3000).contains(&strict.report.duration), "{}", strict.report.duration);
    let tags: Vec<&str> = strict.report.wirelog.iter().map(|e| e.tag()).collect();
    assert_eq!(tags, ["RO", "TO", "TF", "TO", "KL"]);
}

#[tokio::test]
async fn drop_without_close_is_unclean_only_when_clean_is_required() {
    let dropper = || {
        raw(|mut ws| async move {
            until_close(&mut ws).await;
        })
    };
    let (strict, lenient) =
        tokio::join!(run_with(shipped("7.3.3"), None, dropper()), run_with(shipped("7.3.2"), None, dropper()));
    let want: Flags = (true, false, false, false, Some(PEER_DROPPED.into()), false, None);
    assert_eq!(flags(&strict), want);
    assert_eq!(flags(&lenient), want);
    assert_eq!(verdict(&strict), (Behavior::Ok, CloseBehavior::Unclean));
    assert_eq!(verdict(&lenient), (Behavior::Ok, CloseBehavior::Ok));
    assert_eq!(strict.report.wirelog.last().map(|e| e.tag()), Some("KL"));
    assert!(!strict.report.dropped_by_me, "the last wire-log line reads TCP DROPPED BY PEER");
}

fn replier(code: u16) -> impl FnOnce(String, SocketAddr) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    raw(move |mut ws| async move {
        until_close(&mut ws).await;
        ws.close(Some(code), "").await.unwrap();
        drain(ws).await;
    })
}

#[tokio::test]
async fn wrong_code_fails_the_case_with_the_close_text() {
    let run = run_with(shipped("7.3.3"), None, replier(1001)).await;
    assert_eq!(flags(&run), (true, false, true, true, None, false, Some(1001)));
    assert_eq!(verdict(&run), (Behavior::Failed, CloseBehavior::WrongCode));
    assert_eq!(run.report.result, "The close code should have been 1000 or empty");
    let tags: Vec<&str> = run.report.wirelog.iter().map(|e| e.tag()).collect();
    assert_eq!(tags, ["RO", "TO", "TF", "TO", "KL", "RO", "RF"]);
}

#[tokio::test]
async fn invalid_code_fails_the_connection() {
    let (strict, lenient) =
        tokio::join!(run_with(shipped("7.3.3"), None, replier(1005)), run_with(shipped("7.9.1"), None, replier(1005)));
    let want: Flags = (true, true, true, false, None, false, Some(1005));
    assert_eq!(flags(&strict), want);
    assert_eq!(flags(&lenient), want);
    assert_eq!(verdict(&strict), (Behavior::Ok, CloseBehavior::Unclean));
    assert_eq!(verdict(&lenient), (Behavior::Failed, CloseBehavior::WrongCode));
    assert_eq!(lenient.report.result, "The close code should have been 1002 or empty");
}

#[tokio::test]
async fn client_closing_first_is_the_wrong_endpoint() {
    let closer = raw(|mut ws| async move {
        ws.close(Some(1000), "").await.unwrap();
        drain(ws).await;
    });
    let run = run_with(shipped("7.1.1"), None, closer).await;
    assert_eq!(flags(&run), (false, false, true, true, None, false, Some(1000)));
    assert_eq!(verdict(&run), (Behavior::Failed, CloseBehavior::Failed));
    assert_eq!(run.report.result_close, "The connection was failed by the wrong endpoint");
    assert_eq!(run.report.local_close_code, Some(1000), "the fuzzer's reply");
}

#[tokio::test]
async fn echo_or_pong_after_the_close_fails_the_events() {
    let echoer = raw(|mut ws| async move {
        let before = until_close(&mut ws).await;
        assert!(before.is_empty());
        // 7.1.4 sends a text after its close: echo it, then reply.
        if let Some(Incoming::Message { opcode, payload }) = ws.recv().await.unwrap() {
            ws.send(opcode, true, &payload).await.unwrap();
        }
        ws.close(Some(1000), "").await.unwrap();
        drain(ws).await;
    });
    let ponger = raw(|mut ws| async move {
        until_close(&mut ws).await;
        // 7.1.3 sends a ping after its close: answer it, then reply.
        if let Some(Incoming::Ping(p)) = ws.recv().await.unwrap() {
            ws.send(OpCode::PONG, true, &p).await.unwrap();
        }
        ws.close(Some(1000), "").await.unwrap();
        drain(ws).await;
    });
    let (echo, pong) = tokio::join!(run_with(shipped("7.1.4"), None, echoer), run_with(shipped("7.1.3"), None, ponger));
    for run in [&echo, &pong] {
        assert_eq!(flags(run), (true, false, true, true, None, false, Some(1000)));
        assert_eq!(verdict(run), (Behavior::Failed, CloseBehavior::Ok));
        assert_eq!(run.report.result, "Actual events differ from any expected.");
    }
    assert_eq!(echo.report.received, [wstap::report::CaseEvent::message(b"Hello World!", false)]);
    assert_eq!(pong.report.received, [wstap::report::CaseEvent::pong(b"")]);
}

// ---- the kill timer on a live connection (7.1.1 without the echo) ----

/// A client that reads 7.1.1's message but never echoes it, waits for the
/// server's close and answers it with `reply`.
fn silent_then(reply: u16) -> impl FnOnce(String, SocketAddr) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    raw(move |mut ws| async move {
        let hello = ws.recv().await.unwrap();
        assert_eq!(hello, Some(Incoming::Message { opcode: OpCode::TEXT, payload: b"Hello World!".to_vec() }));
        let close = ws.recv().await.unwrap();
        let Some(Incoming::Close(close)) = close else { panic!("expected the kill timer's close, got {close:?}") };
        assert_eq!((close.code, close.reason.as_slice()), (Some(1001), &b"Going Away"[..]));
        ws.close(Some(reply), "").await.unwrap();
        drain(ws).await;
    })
}

#[tokio::test]
async fn kill_timer_fails_an_open_connection_with_going_away() {
    let (echoed, normal) = tokio::join!(
        run_with(shipped("7.1.1"), None, silent_then(1001)),
        run_with(shipped("7.1.1"), None, silent_then(1000))
    );
    for (run, code) in [(&echoed, 1001), (&normal, 1000)] {
        let r = &run.report;
        // Failed by the kill timer, closed first, reply read, TCP dropped; clean.
        assert_eq!(flags(run), (true, true, true, true, None, false, Some(code)));
        assert_eq!((r.local_close_code, r.local_close_reason.as_deref()), (Some(1001), Some("Going Away")));
        assert!(r.received.is_empty(), "{:?}", r.received);
        assert!((950..3000).contains(&r.duration), "the kill timer is 1 s, took {} ms", r.duration);
        let tags: Vec<&str> = r.wirelog.iter().map(|e| e.tag()).collect();
        assert_eq!(tags, ["RO", "TO", "TF", "TO", "KL", "KLE", "TF", "TO", "RO", "RF"]);
        let html = wstap::report::render_html(r);
        assert!(html.contains("005 FAILING CONNECTION"), "{html}");
        assert!(!run.passed());
    }
    // §2.8's note: echoing 1001 is not an allowed code for 7.1.1.
    assert_eq!(verdict(&echoed), (Behavior::Failed, CloseBehavior::WrongCode));
    assert_eq!(echoed.report.result, "The close code should have been 1000 or empty");
    assert_eq!(verdict(&normal), (Behavior::Failed, CloseBehavior::Ok));
    assert_eq!(normal.report.result, "Actual events differ from any expected.");
}

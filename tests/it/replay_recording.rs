//! Recordings as regression tests: a session recorded through the proxy,
//! replayed to a new client and judged, with the server's recorded pace
//! kept or not (`--timing`).

use crate::replay::{flags, run_with, verdict};
use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wstap::replay::from_recording::Timing;
use wstap::report::{Behavior, CloseBehavior};
use wstap::session::{Direction, EventKind};
use wstap::wire::OpCode;

/// A tungstenite client that says `words` and closes with `code`.
fn talker(
    words: &'static [&'static str],
    code: u16,
) -> impl Fn(String) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    move |url| {
        Box::pin(async move {
            use tokio_tungstenite::tungstenite::protocol::CloseFrame;
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            for w in words {
                ws.send(Message::text(*w)).await.unwrap();
                // The recorded server's answer (the echo of the recorded word).
                assert!(ws.next().await.unwrap().unwrap().is_text());
            }
            ws.close(Some(CloseFrame { code: code.into(), reason: "".into() })).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        })
    }
}

#[tokio::test]
async fn a_recording_replays_as_a_regression_test() {
    let proxy = TestProxy::start(tungstenite_echo().await).await;
    talker(&["one", "two"], 1000)(proxy.url()).await;
    let (recorded, _dir) = proxy.finish().await;
    let case = wstap::replay::from_recording::load(&recorded[0].path, Default::default()).unwrap();
    let record_dir = tempfile::tempdir().unwrap();
    let same = run_with(case.clone(), Some(record_dir.path()), |url, _| talker(&["one", "two"], 1000)(url)).await;
    assert_eq!(verdict(&same), (Behavior::Ok, CloseBehavior::Ok), "{:?}", same.report.result);
    assert_eq!(flags(&same), (false, false, true, true, None, false, Some(1000)));
    // The recorded 101 (tungstenite's lowercase names), with a fresh accept key.
    let request = wstap::wire::Head::parse_request(same.report.http_request.as_bytes()).unwrap();
    let key = request.header("sec-websocket-key").unwrap();
    let response = &same.report.http_response;
    let accept = format!("sec-websocket-accept: {}\r\n", wstap::wire::accept_key(&key));
    assert!(response.starts_with("HTTP/1.1 101 ") && response.contains(&accept), "{response}");
    let changed = run_with(case.clone(), None, |url, _| talker(&["one", "TWO"], 1000)(url)).await;
    assert_eq!(verdict(&changed), (Behavior::Failed, CloseBehavior::Ok));
    let other_code = run_with(case, None, |url, _| talker(&["one", "two"], 4000)(url)).await;
    assert_eq!(verdict(&other_code), (Behavior::Failed, CloseBehavior::WrongCode));
    // What replay observed is itself a recording: it loads and replays.
    let observed = same.recording.expect("saved");
    let again = wstap::replay::from_recording::load(&observed, Default::default()).unwrap();
    assert_eq!(again.scenario.expect.events, same_expectation(&["one", "two"]));
}

fn same_expectation(words: &[&str]) -> wstap::scenario::ExpectedEvents {
    let ok = words.iter().map(|w| wstap::scenario::Event::text(*w)).collect();
    wstap::scenario::ExpectedEvents { ok: Some(ok), non_strict: None }
}

// ---- `--timing`: recorded gaps kept, or not waited for ----

/// What the recorded server does between its two messages.
const SERVER_PAUSE: Duration = Duration::from_millis(400);

/// A server that sends "a", pauses (the behaviour under test, not a
/// readiness wait), sends "b", and answers the client's close.
async fn pausing_server() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        ws.send(Message::text("a")).await.unwrap();
        tokio::time::sleep(SERVER_PAUSE).await;
        ws.send(Message::text("b")).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    addr
}

/// A client that reads "a" and "b", closes with 1000, and reports the gap
/// between the two messages it saw.
async fn gap_reader(url: String, gap: tokio::sync::oneshot::Sender<Duration>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("a"));
    let a = Instant::now();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("b"));
    let _ = gap.send(a.elapsed());
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
}

/// Microseconds between the recorded server's two text frames.
fn recorded_gap(path: &std::path::Path) -> Duration {
    let rec = wstap::store::load(path).unwrap();
    let at: Vec<u64> = rec
        .events
        .iter()
        .filter(|e| e.dir == Direction::ServerToClient)
        .filter(|e| matches!(&e.kind, EventKind::Frame(f) if f.opcode() == OpCode::TEXT))
        .map(|e| e.at)
        .collect();
    assert_eq!(at.len(), 2, "{path:?}");
    Duration::from_micros(at[1] - at[0])
}

/// Replays the recording at `path` under `timing`; the client's gap.
async fn replayed_gap(path: &std::path::Path, timing: Timing) -> Duration {
    let case = wstap::replay::from_recording::load(path, timing).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = run_with(case, None, |url, _| gap_reader(url, tx)).await;
    assert_eq!(verdict(&run), (Behavior::Ok, CloseBehavior::Ok), "{timing:?}: {}", run.report.result);
    rx.await.unwrap()
}

#[tokio::test]
async fn recorded_timing_keeps_the_servers_pause_and_reactive_does_not() {
    let proxy = TestProxy::start(pausing_server().await).await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    gap_reader(proxy.url(), tx).await;
    assert!(rx.await.unwrap() >= SERVER_PAUSE);
    let (recorded, _dir) = proxy.finish().await;
    let path = &recorded[0].path;
    let gap = recorded_gap(path);
    assert!(gap >= SERVER_PAUSE, "recorded gap {gap:?}");
    let kept = replayed_gap(path, Timing::Recorded).await;
    assert!(kept >= gap, "--timing recorded: client saw {kept:?}, recorded {gap:?}");
    let reactive = replayed_gap(path, Timing::Reactive).await;
    assert!(reactive < SERVER_PAUSE / 2, "--timing reactive waited {reactive:?}");
}

/// The client of README workflow 3: says hello, closes with 1000 "bye",
/// reads until the server hangs up.
async fn login_client(url: String) {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(url)).await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    assert!(within("echo", ws.next()).await.unwrap().unwrap().is_text());
    ws.close(Some(CloseFrame { code: 1000.into(), reason: "bye".into() })).await.unwrap();
    while let Some(Ok(_)) = within("close", ws.next()).await {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_client_diffs_clean_against_its_fixture() {
    use std::io::{BufRead, BufReader};
    // Record the fixture: the real server (tungstenite echoes the close
    // reason in its reply) at a path of its own.
    let proxy = TestProxy::start(tungstenite_echo().await).await;
    login_client(format!("ws://{}/login?user=ann", proxy.addr)).await;
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    let fixture = dir.path().join("login.yaml");
    std::fs::copy(&recorded[0].path, &fixture).unwrap();
    // README workflow 3: replay it to the same client, then diff the fixture
    // against what replay observed.
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(wstap_bin())
        .arg("replay")
        .arg(&fixture)
        .arg("--report")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let url = line.split("connect a client to ").nth(1).unwrap_or_else(|| panic!("{line}")).trim().to_owned();
    assert!(url.ends_with("/login?user=ann"), "the recorded request target: {url}");
    std::thread::spawn(move || lines.for_each(drop));
    login_client(url).await;
    let done =
        within("replay exits", tokio::task::spawn_blocking(move || child.wait_with_output())).await.unwrap().unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", String::from_utf8_lossy(&done.stdout));
    let observed = out.join("recordings/client_case_login.yaml");
    let diff = std::process::Command::new(wstap_bin()).arg("diff").arg(&fixture).arg(&observed).output().unwrap();
    let text = String::from_utf8_lossy(&diff.stdout);
    assert_eq!(diff.status.code(), Some(0), "a passing client diffs clean:\n{text}");
    assert!(text.starts_with("no behaviour changes"), "{text}");
    let rec = wstap::store::load(&observed).unwrap();
    let s = rec.summary();
    assert_eq!(s.server_close.and_then(|c| c.reason).as_deref(), Some("bye"), "the recorded reply, reason included");
    assert_eq!(s.client_tcp_end, Some(wstap::session::TcpEnd::Fin), "the client's own end of TCP is observed");
}

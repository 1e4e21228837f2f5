//! Replay: wstap as the fuzzingserver towards real clients (tokio-tungstenite
//! and raw peers that misbehave on purpose), the real binary's exit codes
//! and files, recordings as regression tests, and `serve` driven like an
//! Autobahn client driver.

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
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
async fn run_with<F, Fut>(case: Case, record: Option<&std::path::Path>, client: F) -> CaseRun
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
async fn tungstenite_client(url: String, _: SocketAddr) {
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
    let cases = catalogue::select(catalogue::shipped(), &[], &[]).unwrap();
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

async fn drain(mut ws: WsPeer) {
    while let Ok(Some(_)) = ws.recv().await {}
}

type Flags = (bool, bool, bool, bool, Option<String>, bool, Option<u16>);

fn flags(run: &CaseRun) -> Flags {
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

fn verdict(run: &CaseRun) -> (Behavior, CloseBehavior) {
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

// ---- recordings are regression tests ----

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

// ---- the real binary: exit codes, files, bad input ----

fn scenarios_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn replay_cmd(extra: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(wstap_bin());
    cmd.arg("replay").arg(scenarios_dir()).args(extra);
    cmd
}

#[test]
fn malformed_scenario_is_a_located_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "id: \"9.9.9\"\ndescription: d\nexpectation: e\nactions:\n  - frame: {opcode: 99}\n").unwrap();
    let out = std::process::Command::new(wstap_bin()).arg("replay").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.yaml:5:"), "{stderr}");
    assert!(stderr.contains("expected an opcode 0-15"), "{stderr}");
    let missing = replay_cmd(&["--cases", "no-such-case"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn failing_client_command_fails_each_case_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (report, junit) = (dir.path().join("reports"), dir.path().join("junit.xml"));
    let out = replay_cmd(&["--cases", "7.3.1", "7.3.3", "--client", "exit 3", "--agent", "My Agent"])
        .arg("--report")
        .arg(&report)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("7.")).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        assert!(row.contains("FAILED") && row.contains("exited (exit status: 3) before connecting"), "{row}");
    }
    for file in ["index.json", "index.html", "my_agent_case_7_3_1.json", "my_agent_case_7_3_3.html"] {
        assert!(report.join(file).is_file(), "{file} missing");
    }
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["My Agent"]["7.3.3"]["behavior"], "FAILED");
    assert_eq!(index["My Agent"]["7.3.3"]["reportfile"], "my_agent_case_7_3_3.json");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
}

#[test]
fn a_client_that_never_connects_times_out_and_the_run_goes_on() {
    let out = replay_cmd(&["--cases", "7.3.1", "7.3.2", "--connect-timeout", "0.2", "--jobs", "2"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.matches("no client connected within 0.2 s").count(), 2, "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("connect a client to ws://127.0.0.1:").count(), 2, "{stderr}");
}

/// Starts `wstap replay` without --client; connects a tungstenite client to
/// every URL it prints. Returns the exit code and stdout.
async fn replay_with_printed_urls(extra: &[&str]) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader};
    let mut child =
        replay_cmd(extra).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.split("connect a client to ").nth(1) {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let clients = tokio::spawn(async move {
        let mut running = Vec::new();
        while let Some(url) = rx.recv().await {
            running.push(tokio::spawn(tungstenite_client(url, loopback())));
        }
        for c in running {
            c.await.unwrap();
        }
    });
    let out = within("replay exits", tokio::task::spawn_blocking(move || child.wait_with_output())).await;
    within("clients end", clients).await.unwrap();
    let out = out.unwrap().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn a_good_client_exits_0_and_leaves_reports_and_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r");
    let report_arg = report.to_str().unwrap();
    let (code, stdout) =
        replay_with_printed_urls(&["--cases", "7.1*", "--jobs", "4", "--agent", "tungstenite", "--report", report_arg])
            .await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("8 cases: 8 passed, 0 failed"), "{stdout}");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("index.json")).unwrap()).unwrap();
    let ids: Vec<&String> = index["tungstenite"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["7.1.1", "7.1.2", "7.1.3", "7.1.4", "7.1.5", "7.1.6", "7.13.1", "7.13.2"]);
    let text = std::fs::read_to_string(report.join("tungstenite_case_7_1_1.txt")).unwrap();
    assert!(text.contains("tungstenite - Case 7.1.1 : Pass"), "{text}");
    let recording = report.join("recordings").join("tungstenite_case_7_1_1.yaml");
    let rec = wstap::store::load(&recording).unwrap();
    assert!(rec.summary.is_some() && rec.summary().clean, "{recording:?}");
    assert_eq!(rec.source.as_deref(), Some("replay"));
}

#[tokio::test]
async fn a_misbehaving_client_exits_1() {
    // Only 7.3.3, with a client that never answers the close.
    use std::io::{BufRead, BufReader};
    let mut child = replay_cmd(&["--cases", "7.3.3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let url = line.split("connect a client to ").nth(1).unwrap().trim().to_owned();
    std::thread::spawn(move || lines.for_each(drop));
    let addr: SocketAddr = url["ws://".len()..].split('/').next().unwrap().parse().unwrap();
    let ws = WsPeer::connect(TcpStream::connect(addr).await.unwrap(), &addr.to_string(), "/").await.unwrap();
    drain(ws).await;
    let out = within("exit", tokio::task::spawn_blocking(move || child.wait_with_output())).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("UNCLEAN"), "{stdout}");
}

// ---- serve: an Autobahn client driver, unchanged ----

async fn driver_text(url: &str) -> Option<String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut text = None;
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(t) = msg {
            text = Some(t.to_string());
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_autobahns_url_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let cases = catalogue::select(catalogue::shipped(), &["7.3*".into()], &["7.3.2".into()]).unwrap();
    let server = wstap::replay::serve::Server::bind(loopback(), cases, Settings::new(""), dir.path().to_path_buf())
        .await
        .unwrap();
    let base = format!("ws://{}", server.local_addr().unwrap());
    let running = tokio::spawn(server.run(std::future::pending()));
    let count: usize = within("count", driver_text(&format!("{base}/getCaseCount"))).await.unwrap().parse().unwrap();
    assert_eq!(count, 5, "7.3.2 excluded: numbering over the selected cases");
    let info = within("info", driver_text(&format!("{base}/getCaseInfo?case=2"))).await.unwrap();
    assert_eq!(
        info,
        r#"{"id": "7.3.3", "description": "Send a close frame with payload length 2 (regular close with a code)"}"#
    );
    for n in 1..=count {
        within("case", tungstenite_client(format!("{base}/runCase?case={n}&agent=driver"), loopback())).await;
    }
    let status = within("status", driver_text(&format!("{base}/getCaseStatus?case=5&agent=driver"))).await;
    assert_eq!(status.as_deref(), Some(r#"{"behavior": "OK"}"#));
    let err = tokio_tungstenite::connect_async(format!("{base}/runCase?case=9&agent=driver")).await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    let err = tokio_tungstenite::connect_async(format!("{base}/runCase?case=1")).await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    within("update", driver_text(&format!("{base}/updateReports?agent=driver"))).await;
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("index.json")).unwrap()).unwrap();
    let got: Vec<(&String, &serde_json::Value)> = index["driver"].as_object().unwrap().iter().collect();
    let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["7.3.1", "7.3.3", "7.3.4", "7.3.5", "7.3.6"]);
    assert!(got.iter().all(|(_, v)| v["behavior"] == "OK" && v["behaviorClose"] == "OK"), "{index}");
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("driver_case_7_3_3.json")).unwrap()).unwrap();
    assert_eq!(case["case"], 2);
    assert!(case["httpResponse"].as_str().unwrap().contains("Server: wstap/"));
    within("stop", driver_text(&format!("{base}/stopServer"))).await;
    within("server stops", running).await.unwrap();
}

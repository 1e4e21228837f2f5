//! `wstap fuzz` against servers that misbehave before or after the
//! upgrade, with the real binary and raw-TCP servers: one that never
//! answers, one that resets, one that answers with garbage instead of a
//! 101, one that goes mute after its 101, and one that sends an invalid
//! frame after its 101. Every case gets a FAILED verdict saying why, in
//! the summary, the report and the JUnit file; the run ends within the
//! case timers; nothing panics; the exit status is 1.

use crate::bad_servers::{garbage, mute_after_101, raw_server, read_head, reset, silent, switching};
use crate::util::*;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The longest one run may take: two cases each bounded by the 5 s
/// opening-handshake timer or the kill timer, run at once (`--jobs 2`),
/// plus slack for a loaded machine.
const BOUND: Duration = Duration::from_secs(30);

/// The cases each run plays: one echo case, one close case.
const CASES: &str = "1.1.1,7.1.1";

/// Runs `wstap fuzz URL --agent hostile --cases CASES` with a report and
/// a JUnit file under `dir`; exit code, stdout, stderr and time taken.
async fn fuzz(url: &str, dir: &Path) -> (i32, String, String, Duration) {
    let report = dir.join("report");
    let junit = dir.join("junit.xml");
    let args = [
        "fuzz",
        url,
        "--agent",
        "hostile",
        "--cases",
        CASES,
        "--jobs",
        "2",
        "--report",
        report.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ];
    let started = Instant::now();
    let run = tokio::process::Command::new(wstap_bin()).args(args).kill_on_drop(true).output();
    let out = tokio::time::timeout(BOUND, run).await.unwrap_or_else(|_| panic!("wstap fuzz {url} took over {BOUND:?}"));
    let out = out.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr), started.elapsed())
}

/// The report's verdicts: (case id, behavior, behaviorClose) per case.
fn verdicts(dir: &Path) -> Vec<(String, String, String)> {
    let index = std::fs::read_to_string(dir.join("report/index.json")).expect("index.json written");
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let cases = index["hostile"].as_object().unwrap_or_else(|| panic!("no agent `hostile` in {index}"));
    let mut out: Vec<_> = cases
        .iter()
        .map(|(id, c)| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (id.clone(), s("behavior"), s("behaviorClose"))
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_never_answer_reset_send_garbage_or_go_mute_fail_every_case_in_bounded_time() {
    let (silent, reset, garbage, mute) = (silent().await, reset().await, garbage().await, mute_after_101().await);
    let bad_frame = raw_server(|mut s| async move {
        let head = read_head(&mut s).await;
        let _ = s.write_all(switching(&head).as_bytes()).await;
        // Opcode 3 is reserved, and a server's frame must not be masked.
        let _ = s.write_all(&[0x83, 0x82, 1, 2, 3, 4, 5, 6]).await;
        let _ = s.read_to_end(&mut Vec::new()).await;
    })
    .await;
    let runs = [
        (silent, "did not answer the upgrade"),
        (reset, "reset"),
        (garbage, "no valid 101 response"),
        (mute, "actual events differ from any expected"),
        (bad_frame, "actual events differ from any expected"),
    ];
    for (url, why) in runs {
        let dir = tempfile::tempdir().unwrap();
        let (code, stdout, stderr, took) = fuzz(&url, dir.path()).await;
        let context = format!("{url} ({why}):\n{stdout}\n{stderr}");
        assert_eq!(code, 1, "{context}");
        assert!(!stderr.contains("panicked"), "{context}");
        assert!(took < BOUND, "{context}: took {took:?}");
        assert!(stdout.to_lowercase().contains(&why.to_lowercase()), "{context}");
        let got = verdicts(dir.path());
        let ids: Vec<&str> = got.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids, ["1.1.1", "7.1.1"], "{context}");
        for (id, behavior, _) in &got {
            assert_eq!(behavior, "FAILED", "{context}: case {id}");
        }
        let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
        assert_eq!(junit.matches("<failure").count(), 2, "{context}\n{junit}");
    }
}

#[tokio::test]
async fn a_server_that_refuses_connections_fails_each_case_naming_the_address() {
    // Bind, learn a free port, close it: nothing listens there now.
    let port = TcpListener::bind(loopback()).await.unwrap().local_addr().unwrap().port();
    let url = format!("ws://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr, took) = fuzz(&url, dir.path()).await;
    let context = format!("{stdout}\n{stderr}");
    assert_eq!(code, 1, "{context}");
    assert!(stdout.contains(&format!("127.0.0.1:{port}")), "{context}");
    assert!(took < BOUND, "{context}");
    let got = verdicts(dir.path());
    assert_eq!(got.len(), 2, "{context}");
    assert!(got.iter().all(|(_, b, _)| b == "FAILED"), "{got:?}");
}

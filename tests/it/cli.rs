//! The real binary: exit codes, signals, bad input.

use crate::util::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `wstap record` on port 0 and returns it with the proxy address it printed.
fn spawn_record(out: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(wstap_bin())
        .args(["record", "--listen", "127.0.0.1:0", "--out"])
        .arg(out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let line = lines.next().expect("record prints its address").unwrap();
    let url = line.split("connect to ").nth(1).unwrap_or_else(|| panic!("no URL in {line:?}")).trim().to_string();
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success();
    assert!(ok, "kill {sig}");
}

async fn talk(url: &str, close: bool) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(url)).await.unwrap();
    for i in 0..3 {
        ws.send(Message::text(format!("m{i}"))).await.unwrap();
        within("echo", ws.next()).await.unwrap().unwrap();
    }
    if close {
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = within("close", ws.next()).await {}
    } else {
        std::mem::forget(ws); // keep the connection open
    }
}

#[tokio::test]
async fn sigint_finalises_open_recordings_and_exits_0() {
    let out = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn_record(out.path());
    talk(&url, false).await;
    signal(&child, "-INT");
    let status = within("exit", tokio::task::spawn_blocking(move || child.wait())).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));
    let files = yaml_files(out.path());
    assert_eq!(files.len(), 1);
    let rec = wstap::store::load(&files[0]).unwrap();
    assert!(rec.summary.is_some(), "SIGINT writes the summary");
    assert!(rec.warnings.is_empty());
    assert_eq!(rec.frames().count(), 6);
}

#[tokio::test]
async fn sigkill_leftover_loads_up_to_the_last_event() {
    let out = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn_record(out.path());
    talk(&url, false).await;
    // Wait until the recording holds the third echo, frame and message both
    // ways (the recorder flushes whenever it is idle).
    let file = within("recording on disk", async {
        loop {
            if let Some(f) = yaml_files(out.path()).pop()
                && std::fs::read_to_string(&f).unwrap().matches("text: m2").count() == 4
            {
                return f;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let rec = wstap::store::load(&file).unwrap();
    assert!(rec.summary.is_none());
    assert!(!rec.warnings.is_empty());
    assert_eq!(rec.frames().count(), 6);
    assert!(rec.summary().upgraded);
}

fn show(path: &std::path::Path) -> std::process::Output {
    Command::new(wstap_bin()).arg("show").arg(path).output().unwrap()
}

#[test]
fn bad_recordings_get_located_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "version.yaml",
            "wstap_recording: 9\nstarted: x\nclient: a\nserver: b\nevents:\n",
            ":1: recording format version 9",
        ),
        ("notyaml.yaml", "wstap_recording: 1\nstarted: [unclosed\n", ":2:"),
        (
            "field.yaml",
            "wstap_recording: 1\nstarted: x\nclient: a\nserver: b\nevents:\n- at: soon\n  dir: c2s\n  type: fin\nsummary: {}\n",
            ":6: events[0]",
        ),
        ("other.yaml", "name: not a recording\n", ":1: not a wstap recording"),
    ];
    for (name, text, expect) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = show(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expect), "{name}: {stderr:?} should contain {expect:?}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let out = show(&dir.path().join("missing.yaml"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_runs_with_nothing_outside_and_writes_a_recording() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(wstap_bin()).args(["demo", "--out"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files = yaml_files(dir.path());
    assert_eq!(files.len(), 1);
    let rec = wstap::store::load(&files[0]).unwrap();
    let s = rec.summary();
    assert_eq!(s.client_close.unwrap().reason.as_deref(), Some(wstap::demo::CLOSE_REASON));
    assert_eq!(s.violations, 0);
}

#[test]
fn out_of_range_durations_are_usage_errors_not_panics() {
    for argv in [
        &["replay", "scenarios", "--connect-timeout", "1e30"][..],
        &["record", "--connect-timeout", "1e30"],
        &["diff", "a.yaml", "b.yaml", "--timing", "100000000000000000000000s"],
        &["record", "--connect-timeout", "0"],
    ] {
        let out = Command::new(wstap_bin()).args(argv).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{argv:?}: {stderr}");
        assert!(stderr.contains("invalid value"), "{argv:?}: {stderr}");
        assert!(stderr.contains(argv[argv.len() - 1]), "{argv:?} names the value: {stderr}");
    }
}

/// Library logs and the CLI's own lines share one style on stderr, and a
/// pipe gets no colour codes.
#[tokio::test]
async fn logs_are_one_plain_style_on_a_pipe() {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(wstap_bin());
    cmd.args(["record", "--listen", "127.0.0.1:0", "--out"]).arg(out.path()).env("WSTAP_LOG", "wstap=info");
    let child = WstapChild::spawn_cmd(cmd);
    talk(&format!("ws://{}/", child.addr), true).await;
    wait_for_summaries(out.path(), 1).await;
    let (status, lines) = child.interrupt().await;
    assert!(status.success(), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("wstap: info: recorded ")), "the tracing line: {lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("wstap: ")), "one style: {lines:?}");
    assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "no ANSI on a pipe: {lines:?}");
}

/// Completions load in the shells they are for; the man page is roff with
/// a page per subcommand.
#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let script = Command::new(wstap_bin()).args(["completions", "bash"]).output().unwrap();
    assert!(script.status.success());
    let bash = Command::new("bash")
        .arg("-c")
        .arg(format!("source <('{}' completions bash) && complete -p wstap", wstap_bin()))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.status.success(), "{}", String::from_utf8_lossy(&bash.stderr));
    assert!(said.contains("wstap"), "bash registered the completion: {said}");
    let text = String::from_utf8_lossy(&script.stdout);
    for sub in ["record", "show", "replay", "serve", "completions"] {
        assert!(text.contains(sub), "{sub} in the bash script");
    }
    for shell in ["zsh", "fish"] {
        let out = Command::new(wstap_bin()).args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("listen"), "{shell}");
    }
    let bad = Command::new(wstap_bin()).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let man = Command::new(wstap_bin()).arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success() && page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH wstap 1") && page.contains(".TH wstap-record 1"), "{page}");
    assert!(page.contains("9002"), "record's default port is documented");
}

/// The relay's worker threads of a running `wstap record` (named
/// `wstap-relay`; no connection has come, so none is a blocking thread),
/// once `expected` of them are there or [`STEP`] has passed: a thread is
/// named by itself as it starts, which can be just after the address is
/// printed on a loaded machine, so the count is read until it settles on
/// the expected one (a wrong count is still returned, at the deadline).
fn relay_threads(env: Option<&str>, expected: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(wstap_bin());
    cmd.args(["record", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--out"]).arg(dir.path());
    cmd.env_remove("TOKIO_WORKER_THREADS");
    if let Some(n) = env {
        cmd.env("TOKIO_WORKER_THREADS", n);
    }
    let child = WstapChild::spawn_cmd(cmd);
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", child.pid())).unwrap();
        let names: Vec<String> = tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|n| n.trim().to_string())
            .collect();
        let relays = names.iter().filter(|n| *n == "wstap-relay").count();
        let recorder = names.iter().any(|n| n == "wstap-recorder");
        if (recorder && relays == expected) || std::time::Instant::now() >= deadline {
            assert!(recorder, "no recorder thread among {names:?}");
            return relays;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn record_leaves_a_core_to_its_recorder_unless_told_otherwise() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let expected = (cores - 1).max(1);
    assert_eq!(relay_threads(None, expected), expected, "relay workers on {cores} cores");
    assert_eq!(relay_threads(Some("3"), 3), 3, "TOKIO_WORKER_THREADS=3");
}

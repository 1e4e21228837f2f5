//! `wstap record` and the other commands against files that cannot be
//! written or do not exist, run as real processes: a non-root user facing a
//! read-only directory, a directory removed mid-run, a file-size limit that
//! makes writes fail mid-run (as a full disk does), and stopping `record`
//! with connections open.

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// True when this process runs as root (then `setpriv` drops to nobody).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

#[test]
fn record_into_an_unwritable_directory_fails_at_once_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = tmp.path().join("ro");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).unwrap();
    // A real non-root user: root would ignore the mode.
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", wstap_bin()]);
        c
    } else {
        Command::new(wstap_bin())
    };
    let started = Instant::now();
    cmd.args(["record", "--listen", "127.0.0.1:0", "--out"]).arg(&out);
    let mut child = cmd.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().expect("setpriv (util-linux) runs");
    // It must refuse at once; one that starts listening is killed and fails the test.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(5) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("record started with an unwritable --out instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    let want = format!("--out {}: cannot create files in this directory: Permission denied", out.display());
    assert!(stderr.contains(&want), "{stderr}");
    assert!(!stderr.contains("recording into"), "it must not start: {stderr}");
}

/// The stderr of a child, read to its end by a thread.
struct Stderr(std::thread::JoinHandle<String>);

impl Stderr {
    /// Everything, once the child has closed it (it exited).
    fn all(self) -> String {
        self.0.join().unwrap()
    }
}

/// `record` with the embedded echo server, as `prefix` + wstap: returns it
/// with the URL it printed and its stderr.
fn spawn_record(prefix: &[&str], out: &Path) -> (std::process::Child, String, Stderr) {
    use std::io::{BufRead, BufReader};
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(wstap_bin());
            c
        }
        None => Command::new(wstap_bin()),
    };
    let mut child =
        cmd.args(["record", "--listen", "127.0.0.1:0", "--out"]).arg(out).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.split("connect to ").nth(1).unwrap_or_else(|| panic!("{first}")).trim().to_owned();
    let rest = std::thread::spawn(move || {
        let mut all = first + "\n";
        lines.map_while(Result::ok).for_each(|l| all.push_str(&(l + "\n")));
        all
    });
    (child, url, Stderr(rest))
}

async fn echo(ws: &mut Ws, msg: Message) {
    ws.send(msg.clone()).await.unwrap();
    let back = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(back, msg, "forwarding must go on whatever the recorder does");
}

fn interrupt(mut child: std::process::Child) -> Option<i32> {
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    child.wait().unwrap().code()
}

#[tokio::test]
async fn a_directory_removed_mid_run_is_reported_and_forwarding_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rec");
    let (child, url, stderr) = spawn_record(&[], &out);
    let (mut first, _) = within("connect", tokio_tungstenite::connect_async(&url)).await.unwrap();
    echo(&mut first, Message::text("before")).await;
    // The recorder thread opens the file asynchronously: wait for it, so
    // only the second connection meets the missing directory.
    within("the first recording is open", async {
        while yaml_files(&out).is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    std::fs::remove_dir_all(&out).unwrap();
    let (mut second, _) = within("connect", tokio_tungstenite::connect_async(&url)).await.unwrap();
    for i in 0..3 {
        echo(&mut second, Message::text(format!("after {i}"))).await;
    }
    let code = tokio::task::spawn_blocking(move || interrupt(child)).await.unwrap();
    let stderr = stderr.all();
    assert_eq!(code, Some(2), "a lost recording is a non-zero exit: {stderr}");
    let failures: Vec<&str> = stderr.lines().filter(|l| l.contains("failed: ")).collect();
    assert_eq!(failures.len(), 1, "once per connection: {stderr}");
    let line = failures[0];
    assert!(line.starts_with("wstap: connection 2: recording ") && line.contains(&out.display().to_string()), "{line}");
    assert!(line.contains("No such file or directory") && line.contains("still forwarded"), "{line}");
    assert!(stderr.contains("1 recording(s) could not be written"), "{stderr}");
}

#[tokio::test]
async fn a_write_failing_mid_run_is_reported_once_and_forwarding_goes_on() {
    // A file-size limit makes writes fail with EFBIG part-way through the
    // recording, as a full disk does with ENOSPC (SIGXFSZ ignored, so the
    // write fails instead of killing the process).
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rec");
    let prefix = ["sh", "-c", "trap '' XFSZ; exec prlimit --fsize=300000 \"$@\"", "sh"];
    let (child, url, stderr) = spawn_record(&prefix, &out);
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(&url)).await.unwrap();
    for i in 0..4u8 {
        echo(&mut ws, Message::binary(vec![i; 100_000])).await;
    }
    echo(&mut ws, Message::text("still here")).await;
    let code = tokio::task::spawn_blocking(move || interrupt(child)).await.unwrap();
    let stderr = stderr.all();
    assert_eq!(code, Some(2), "{stderr}");
    let failures: Vec<&str> = stderr.lines().filter(|l| l.contains("failed: ")).collect();
    assert_eq!(failures.len(), 1, "once per connection: {stderr}");
    assert!(failures[0].contains(".bin: File too large"), "the sidecar that failed is named: {}", failures[0]);
    assert!(failures[0].contains(&out.display().to_string()), "{}", failures[0]);
}

#[tokio::test]
async fn stopping_record_marks_open_connections_as_ended_by_the_proxy() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rec");
    let (child, url, _stderr) = spawn_record(&[], &out);
    let opened = Instant::now();
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(&url)).await.unwrap();
    echo(&mut ws, Message::text("hello")).await;
    // The connection then stays open, idle, until wstap is stopped.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let code = tokio::task::spawn_blocking(move || interrupt(child)).await.unwrap();
    let lasted = opened.elapsed();
    assert_eq!(code, Some(0));
    let file = yaml_files(&out).pop().unwrap();
    let rec = wstap::store::load(&file).unwrap();
    let last = rec.events.last().unwrap();
    let wstap::session::EventKind::Note { kind, .. } = &last.kind else { panic!("last event: {last:?}") };
    assert_eq!(kind, wstap::session::NOTE_ENDED_BY_PROXY);
    let s = rec.summary();
    assert!(s.duration_us >= 400_000, "true duration, not the last frame's time: {} µs", s.duration_us);
    assert!(s.duration_us <= lasted.as_micros() as u64, "{} µs > {lasted:?}", s.duration_us);
    assert_eq!((s.client_tcp_end, s.server_tcp_end), (None, None), "no peer ended TCP");
    let shown = Command::new(wstap_bin()).args(["show", "--format", "autobahn"]).arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("wasNotCleanReasonwstap record was stopped with the connection open"), "{text}");
}

#[test]
fn file_errors_name_the_path_and_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let file = d.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let reports = d.join("reports");
    std::fs::create_dir(&reports).unwrap();
    std::fs::write(reports.join("index.json"), "{}").unwrap();
    let f = file.display().to_string();
    let r = reports.display().to_string();
    let missing = d.join("missing").display().to_string();
    let under_file = format!("{f}/x.pcap");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["record", "--listen", "127.0.0.1:0", "--out", "/proc/wstap-x"],
            "--out /proc/wstap-x: cannot create the directory".into(),
        ),
        (vec!["record", "--listen", "127.0.0.1:0", "--out", &f], format!("--out {f}: exists and is not a directory")),
        (vec!["demo", "--out", "/proc/wstap-x"], "--out /proc/wstap-x: cannot create the directory".into()),
        (
            vec!["diff", &r, &missing],
            format!("B {missing}: no such file or directory (expected a recording .yaml or a report directory"),
        ),
        (vec!["diff", &r, &f], format!("cannot compare the report directory {r} with {f}")),
        (vec!["show", &r], format!("{r}: is a directory; expected a recording file")),
        (vec!["convert", &missing, "x.pcap"], format!("IN {missing}: no such file")),
        (vec!["convert", &f, &under_file], format!("OUT {under_file}: {f} is not a directory")),
    ];
    for (args, want) in cases {
        let out = Command::new(wstap_bin()).args(&args).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&want), "{args:?}: {stderr:?} should say {want:?}");
        assert!(!stderr.contains("cannot listen"), "{args:?}: {stderr}");
    }
}

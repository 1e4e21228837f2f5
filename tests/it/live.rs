//! `wstap record`'s live view: under a real pty, into a pipe, and with a
//! terminal that never reads.

use crate::pty::PtyChild;
use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::process::{Command, Stdio};
use tokio_tungstenite::tungstenite::Message;

/// `wstap record ARGS` with stdout on a pty (read if `reading`) and stderr
/// piped; returns it with the proxy's address from its first stderr line.
fn record_on_pty(args: &[&str], reading: bool) -> (PtyChild, std::net::SocketAddr, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut cmd = Command::new(wstap_bin());
    cmd.args(["record", "--listen", "127.0.0.1:0"]).args(args).env_remove("NO_COLOR").stderr(Stdio::piped());
    let mut pty = PtyChild::spawn_stdout(&mut cmd, reading);
    let mut lines = std::io::BufReader::new(pty.child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.split(" -> ").next().and_then(|s| s.rsplit(' ').next()).unwrap().parse().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    (pty, addr, rx)
}

fn interrupt(pty: &PtyChild) {
    let pid = pty.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
}

/// Drops ANSI colour codes.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn a_terminal_sees_a_line_for_every_frame_as_it_is_recorded() {
    let server = tungstenite_echo().await;
    let out = tempfile::tempdir().unwrap();
    let upstream = server.to_string();
    let (pty, addr, _stderr) = record_on_pty(&["--upstream", &upstream, "--out", out.path().to_str().unwrap()], true);
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(format!("ws://{addr}/chat"))).await.unwrap();
    ws.send(Message::text("hello \u{1b}[2J")).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    ws.send(Message::binary(vec![0u8, 1, 2, 0xff])).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    ws.send(Message::text("x".repeat(5000))).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close", ws.next()).await {}
    drop(ws);
    wait_for_summaries(out.path(), 1).await;
    // The closed line is printed once the recording is final: wait for it, then stop.
    within("the closed line", async {
        while !plain(&pty.text()).contains(" closed: ") {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    interrupt(&pty);
    let (status, text) = tokio::task::spawn_blocking(move || pty.wait()).await.unwrap();
    assert!(status.success(), "{text}");
    assert!(text.contains("\u{1b}[35m"), "coloured on a terminal: {text}");
    let text = plain(&text);
    let rec = wstap::store::load(&crate::util::yaml_files(out.path())[0]).unwrap();
    let frames = rec.frames().count();
    let frame_lines: Vec<&str> = text.lines().filter(|l| l.contains(" fin=")).collect();
    assert_eq!(frame_lines.len(), frames, "one line per recorded frame:\n{text}");
    assert!(text.contains("#1 open 127.0.0.1:"), "{text}");
    assert!(text.contains("#1 c→s GET /chat HTTP/1.1"), "{text}");
    assert!(text.contains("#1 s→c HTTP/1.1 101 Switching Protocols"), "{text}");
    assert!(text.contains(r#"c→s text   fin=1 rsv=0 masked         10 B "hello \u{1b}[2J""#), "escaped: {text}");
    assert!(text.contains("s→c binary fin=1 rsv=0 unmasked        4 B 000102ff"), "binary as hex: {text}");
    assert!(text.contains(&format!("{}\"… (5000 B)", "x".repeat(32))), "cut, with the length: {text}");
    assert!(text.contains("c→s close  fin=1 rsv=0 masked"), "{text}");
    let closed = text.lines().find(|l| l.contains("#1 closed: ")).unwrap();
    assert!(closed.contains("client closed first") && closed.contains(", clean;"), "{closed}");
}

#[tokio::test]
async fn the_filter_selects_lines_and_a_pipe_gets_them_only_with_live() {
    let server = tungstenite_echo().await;
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(wstap_bin());
    cmd.args(["record", "--listen", "127.0.0.1:0", "--upstream", &server.to_string(), "--live"])
        .args(["--live-filter", "op=close or kind=closed", "--out"])
        .arg(out.path())
        .stdout(Stdio::piped());
    let child = WstapChild::spawn_cmd(cmd);
    let (mut ws, _) =
        within("connect", tokio_tungstenite::connect_async(format!("ws://{}/", child.addr))).await.unwrap();
    ws.send(Message::text("not shown")).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close", ws.next()).await {}
    drop(ws);
    wait_for_summaries(out.path(), 1).await;
    let mut child = child;
    let stdout = child.child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let (status, _) = child.interrupt().await;
    assert!(status.success());
    let text = reader.join().unwrap();
    assert!(!text.contains('\u{1b}'), "no colour into a pipe: {text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "two close frames and the closed line: {text}");
    assert!(lines[..2].iter().all(|l| l.contains(" close  fin=1")), "{text}");
    assert!(lines[2].contains("#1 closed: "), "{text}");
    let bad = Command::new(wstap_bin()).args(["record", "--live-filter", "op=clse"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("at column 4: op is"), "{:?}", bad);
}

/// A terminal that never reads: forwarding goes on, lines are dropped and
/// counted, and every frame is recorded.
#[tokio::test]
async fn a_terminal_that_never_reads_does_not_hold_up_the_traffic() {
    let server = tungstenite_echo().await;
    let out = tempfile::tempdir().unwrap();
    let upstream = server.to_string();
    let (pty, addr, stderr) = record_on_pty(&["--upstream", &upstream, "--out", out.path().to_str().unwrap()], false);
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(format!("ws://{addr}/"))).await.unwrap();
    // Far more lines than a pty buffer and the view's queue hold.
    const N: usize = 20_000;
    let payload = "p".repeat(64);
    within("every echo with a blocked terminal", async {
        for i in 0..N {
            ws.send(Message::text(format!("{i} {payload}"))).await.unwrap();
            ws.next().await.unwrap().unwrap();
        }
    })
    .await;
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close", ws.next()).await {}
    drop(ws);
    wait_for_summaries(out.path(), 1).await;
    interrupt(&pty);
    let status = within("record exits with its terminal blocked", tokio::task::spawn_blocking(move || pty.wait()))
        .await
        .unwrap()
        .0;
    assert!(status.success());
    let said: Vec<String> = tokio::task::spawn_blocking(move || stderr.iter().collect()).await.unwrap();
    let dropped = said.iter().find(|l| l.contains("line(s) dropped in all")).unwrap_or_else(|| panic!("{said:?}"));
    let n: u64 = dropped.split("live view: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(n > 0, "{dropped}");
    let rec = wstap::store::load(&crate::util::yaml_files(out.path())[0]).unwrap();
    assert_eq!(rec.frames().count(), 2 * N + 2, "every frame recorded");
}

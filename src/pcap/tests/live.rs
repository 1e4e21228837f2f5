//! Import of captures made by real tools: tcpdump recording a real TCP
//! exchange on 127.0.0.1, and editcap rewriting captures. Skipped when the
//! tools are missing.
//!
//! Readiness is waited for, never slept for: the capture tool's "listening"
//! line before connecting, and a readable capture with both FINs before
//! stopping it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::fixtures::{C2S, S2C, START_US, have, logical, run, ws_conversation};
use crate::pcap::{Capture, Conversation, Item, read, write};

const DEADLINE: Duration = Duration::from_secs(20);

/// What the exchange sent, and when.
struct Exchange {
    client_port: u16,
    request: Vec<u8>,
    response: Vec<u8>,
    before_us: u64,
    after_us: u64,
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// Starts `tool args...` and waits for a stderr line containing `ready`.
fn start(tool: &str, args: &[&str], ready: &str) -> Child {
    let mut child = Command::new(tool).args(args).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        match rx.recv_timeout(DEADLINE) {
            Ok(line) if line.contains(ready) => return child,
            Ok(_) => {}
            Err(e) => {
                stop(child);
                panic!("{tool} never printed {ready:?}: {e}");
            }
        }
    }
}

/// A client sends a request, the server answers; both close.
fn exchange(listener: TcpListener) -> Exchange {
    let addr = listener.local_addr().unwrap();
    let before_us = now_us();
    let request: Vec<u8> = [&b"GET /live HTTP/1.1\r\n\r\n"[..], &vec![b'q'; 20_000]].concat();
    let response: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let server = {
        let response = response.clone();
        thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            sock.read_to_end(&mut got).unwrap();
            sock.write_all(&response).unwrap();
            sock.shutdown(Shutdown::Write).unwrap();
            got
        })
    };
    let mut client = TcpStream::connect(addr).unwrap();
    let client_port = client.local_addr().unwrap().port();
    client.write_all(&request).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(server.join().unwrap(), request);
    assert_eq!(got, response);
    Exchange { client_port, request, response, before_us, after_us: now_us() }
}

/// The exchange's conversation once the capture holds both FINs.
fn wait_for_close(path: &Path, port: u16) -> (Capture, Conversation) {
    let until = Instant::now() + DEADLINE;
    loop {
        let last = read(path);
        if let Ok(capture) = &last {
            let conv = capture.conversations.iter().find(|c| c.client.port() == port).cloned();
            if let Some(conv) = conv
                && conv.entries.iter().filter(|e| e.item == Item::Fin).count() == 2
            {
                return (last.unwrap(), conv);
            }
        }
        assert!(Instant::now() < until, "capture {path:?} never showed the connection closing: {last:?}");
        // Polling for a condition (the tool's write), not a readiness sleep.
        thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the capture tool (the one this test started) even on panic.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            stop(child);
        }
    }
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    child.wait().unwrap();
}

/// Captures one exchange with `tool`, returns the file and what was sent.
fn capture(tool: &str, args: &[&str], ready: &str, dir: &Path, name: &str) -> (PathBuf, Exchange, Conversation) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = dir.join(name);
    let filter = format!("tcp port {port}");
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["-w", path.to_str().unwrap(), &filter]);
    let child = Running(Some(start(tool, &full, ready)));
    let ex = exchange(listener);
    // tcpdump -U writes each packet at once, so the file is polled while it
    // runs, until it shows the connection closed.
    let (capture, conv) = wait_for_close(&path, ex.client_port);
    drop(child);
    assert_eq!(capture.conversations.len(), 1, "{:?}", capture.notes);
    (path, ex, conv)
}

fn check(conv: &Conversation, ex: &Exchange, what: &str) {
    assert_eq!(conv.client.port(), ex.client_port, "{what}");
    assert_eq!(conv.data(C2S), ex.request, "{what}");
    assert_eq!(conv.data(S2C), ex.response, "{what}");
    assert!(conv.notes.is_empty(), "{what}: {:?}", conv.notes);
    assert!((ex.before_us..=ex.after_us).contains(&conv.start_us), "{what}: start time {}", conv.start_us);
    assert!(!conv.entries.iter().any(|e| matches!(e.item, Item::Gap { .. })), "{what}");
}

fn link_type(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    u32::from_le_bytes(bytes[20..24].try_into().unwrap())
}

#[test]
fn tcpdump_captures_import_on_every_linux_link_type() {
    if !have("tcpdump") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = ["-U", "-Z", "root", "-n"];
    let cases: [(&[&str], u32); 3] =
        [(&["-i", "lo"], 1), (&["-i", "any", "-y", "LINUX_SLL2"], 276), (&["-i", "any", "-y", "LINUX_SLL"], 113)];
    for (i, (iface, link)) in cases.into_iter().enumerate() {
        let args: Vec<&str> = base.iter().chain(iface).copied().collect();
        let name = format!("{i}.pcap");
        let (path, ex, conv) = capture("tcpdump", &args, "listening on", dir.path(), &name);
        assert_eq!(link_type(&path), link, "{iface:?}");
        check(&conv, &ex, &format!("tcpdump {iface:?}"));
    }
}

/// editcap writes pcapng with the default microsecond resolution, which
/// pcap-file v2 alone would read 1000x too large.
#[test]
fn editcap_pcapng_with_microsecond_resolution_imports_with_right_times() {
    if !have("editcap") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conv = ws_conversation("192.0.2.10:51000", "198.51.100.20:8080");
    let (pcap, ng) = (dir.path().join("a.pcap"), dir.path().join("b.pcapng"));
    write(&pcap, std::slice::from_ref(&conv)).unwrap();
    run("editcap", &["-F", "pcapng", pcap.to_str().unwrap(), ng.to_str().unwrap()]);
    assert_eq!(&std::fs::read(&ng).unwrap()[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    let capture = read(&ng).unwrap();
    assert_eq!(capture.conversations.len(), 1);
    let back = &capture.conversations[0];
    assert_eq!(back.start_us, START_US);
    assert_eq!(logical(back), logical(&conv));
}

/// editcap -s cuts every packet; the rest of each segment becomes a gap.
#[test]
fn editcap_snaplen_cut_becomes_gaps_and_notes() {
    if !have("tcpdump") || !have("editcap") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = ["-U", "-Z", "root", "-n", "-i", "lo"];
    let (path, ex, _) = capture("tcpdump", &args, "listening on", dir.path(), "full.pcap");
    let cut = dir.path().join("cut.pcap");
    run("editcap", &["-s", "120", path.to_str().unwrap(), cut.to_str().unwrap()]);
    let capture = read(&cut).unwrap();
    let conv = capture.conversations.iter().find(|c| c.client.port() == ex.client_port).unwrap();
    assert!(conv.notes.iter().any(|n| n.contains("truncated to 120 of")), "{:?}", conv.notes);
    for (dir, sent) in [(C2S, &ex.request), (S2C, &ex.response)] {
        let mut stream = Vec::new();
        for e in conv.entries.iter().filter(|e| e.dir == dir) {
            match &e.item {
                Item::Data(d) => stream.extend_from_slice(d),
                Item::Gap { len } => stream.extend(std::iter::repeat_n(None, *len as usize).map(|_: Option<u8>| 0)),
                _ => {}
            }
        }
        assert_eq!(stream.len(), sent.len(), "{dir:?}");
        // Captured bytes are where they belong.
        let mut offset = 0;
        for e in conv.entries.iter().filter(|e| e.dir == dir) {
            match &e.item {
                Item::Data(d) => {
                    assert_eq!(&sent[offset..offset + d.len()], &d[..], "{dir:?} at {offset}");
                    offset += d.len();
                }
                Item::Gap { len } => offset += *len as usize,
                _ => {}
            }
        }
    }
    assert_eq!(conv.entries.iter().filter(|e| e.item == Item::Fin).count(), 2);
}

//! Hostile peers and exhausted resources, against the real `wstap record`
//! process (issue 17): an upstream that never answers a connect, ...

use crate::util::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wstap::session::{Direction, EventKind};

/// A loopback listener whose accept queue is full: backlog 1, never
/// accepted, with connections queued until the next SYN is dropped. A
/// connect to it hangs in SYN retransmission, as against a server whose
/// SYN queue is full. Keep the returned value alive.
struct FullUpstream {
    addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: Vec<std::net::TcpStream>,
}

impl FullUpstream {
    fn new() -> FullUpstream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(loopback()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => queued.push(s),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("filling the accept queue: {e}"),
            }
            assert!(queued.len() < 64, "the accept queue never filled");
        }
        FullUpstream { addr, _listener: listener, _queued: queued }
    }
}

const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Reads until the proxy closes the connection (EOF or reset).
async fn until_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

fn the_recording(dir: &std::path::Path) -> wstap::session::Recording {
    let files = yaml_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    wstap::store::load(&files[0]).unwrap()
}

fn upstream_error(rec: &wstap::session::Recording) -> String {
    rec.events_in(Direction::ServerToClient)
        .find_map(|e| match &e.kind {
            EventKind::Rst { error } => error.clone(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reset recorded: {:?}", rec.events))
}

#[tokio::test]
async fn connect_timeout_ends_a_connection_to_an_unanswering_upstream() {
    let upstream = FullUpstream::new();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let up = upstream.addr.to_string();
    let wstap = RecordChild::spawn("", &["--upstream", &up, "--out", dir, "--connect-timeout", "700ms"]);
    let started = Instant::now();
    let mut client = TcpStream::connect(wstap.addr).await.unwrap();
    client.write_all(UPGRADE).await.unwrap();
    within("the proxy gives up on the upstream", until_closed(&mut client)).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(600), "closed after {waited:?}, before the timeout");
    let (status, stderr) = wstap.interrupt().await;
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    let rec = the_recording(out.path());
    let error = upstream_error(&rec);
    assert!(error.contains("timed out after 700ms"), "{error}");
    assert!(stderr.iter().any(|l| l.contains("timed out after 700ms")), "{stderr:?}");
    assert_eq!(rec.summary.unwrap().server_tcp_end, Some(wstap::session::TcpEnd::Rst));
}

#[tokio::test]
async fn sigint_cancels_a_pending_upstream_connect() {
    let upstream = FullUpstream::new();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let up = upstream.addr.to_string();
    let wstap = RecordChild::spawn("", &["--upstream", &up, "--out", dir, "--connect-timeout", "600s"]);
    let mut client = TcpStream::connect(wstap.addr).await.unwrap();
    client.write_all(UPGRADE).await.unwrap();
    // The recording is opened before the upstream connect starts.
    within("the connection is being recorded", async {
        while yaml_files(out.path()).is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let asked = Instant::now();
    let (status, stderr) = wstap.interrupt().await;
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    assert!(asked.elapsed() < Duration::from_secs(10), "exit took {:?}", asked.elapsed());
    within("the client is closed", until_closed(&mut client)).await;
    let rec = the_recording(out.path());
    assert!(rec.summary.is_some(), "finalised");
    assert!(upstream_error(&rec).contains("shutting down"), "{:?}", rec.events);
}

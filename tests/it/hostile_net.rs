//! Hostile peers and exhausted resources, against real `wstap` processes
//! (issue 17): an upstream that never answers a connect, file descriptors
//! running out under `record` and `serve`.

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
    let wstap = WstapChild::record(&["--upstream", &up, "--out", dir, "--connect-timeout", "700ms"]);
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
    let wstap = WstapChild::record(&["--upstream", &up, "--out", dir, "--connect-timeout", "600s"]);
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

/// Descriptor limits of a running process, set from outside with
/// prlimit(1) (the setrlimit of another process).
struct FdLimit {
    pid: u32,
    soft: u64,
}

impl FdLimit {
    fn of(pid: u32) -> FdLimit {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
        let soft = line.split_whitespace().nth(3).unwrap().parse().unwrap();
        FdLimit { pid, soft }
    }

    fn set_soft(&self, soft: u64) {
        let status = std::process::Command::new("prlimit")
            .args(["--pid", &self.pid.to_string(), &format!("--nofile={soft}:")])
            .status()
            .expect("prlimit (util-linux) runs");
        assert!(status.success(), "prlimit --nofile={soft}:");
    }

    /// The lowest descriptor number the process has free.
    fn lowest_free(&self) -> u64 {
        let used: std::collections::BTreeSet<u64> = std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        (0..).find(|n| !used.contains(n)).unwrap()
    }

    /// Lowers the limit to the lowest free descriptor number: from now on
    /// every socket(), accept() and open() in the process fails with EMFILE.
    /// A descriptor the process closes just after (the last session's
    /// sockets, closed by their tasks a moment later) would free a number
    /// below the limit, so the limit is lowered again until none does for
    /// 200 ms.
    fn exhaust(&self) {
        for _ in 0..25 {
            let limit = self.lowest_free();
            self.set_soft(limit);
            std::thread::sleep(Duration::from_millis(200));
            if self.lowest_free() >= limit {
                return;
            }
        }
        panic!("the process kept closing descriptors; cannot exhaust them");
    }

    fn restore(&self) {
        self.set_soft(self.soft);
    }
}

/// How many descriptors of `pid` are open on files under `dir`.
fn open_files_under(pid: u32, dir: &std::path::Path) -> usize {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .count()
}

/// User + system CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// The listening TCP sockets of `pid` other than `known`: the embedded
/// echo server of `wstap record`.
fn other_listener(pid: u32, known: SocketAddr) -> SocketAddr {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| Some(l.to_str()?.strip_prefix("socket:[")?.trim_end_matches(']').to_string()))
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[3] == "0A" && inodes.iter().any(|i| i == f[9])).then_some(f[1])
        })
        .map(|local| {
            let (ip, port) = local.split_once(':').unwrap();
            let ip = u32::from_str_radix(ip, 16).unwrap().to_le_bytes();
            SocketAddr::from((ip, u16::from_str_radix(port, 16).unwrap()))
        })
        .find(|a| *a != known)
        .expect("the embedded echo server listens")
}

/// One text message echoed through `wstap record` and a clean close.
async fn echo_round_trip(proxy: SocketAddr) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{proxy}/")).await.unwrap();
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("still here"));
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
}

/// CPU the process burns over `window` while its listeners cannot accept.
async fn cpu_over(pid: u32, window: Duration) -> Duration {
    let before = cpu_time(pid);
    tokio::time::sleep(window).await;
    cpu_time(pid) - before
}

/// Spinning on accept burns a core; backing off costs a few wake-ups.
const MAX_IDLE_CPU: Duration = Duration::from_millis(200);
const WINDOW: Duration = Duration::from_millis(1500);

#[tokio::test]
async fn record_survives_running_out_of_descriptors() {
    let out = tempfile::tempdir().unwrap();
    let wstap = WstapChild::record(&["--out", out.path().to_str().unwrap()]);
    within("a session before", echo_round_trip(wstap.addr)).await;
    // Its recording is closed before the count: no descriptor frees up later.
    within("the recording is closed", async {
        while open_files_under(wstap.pid(), out.path()) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let echo = other_listener(wstap.pid(), wstap.addr);
    let limit = FdLimit::of(wstap.pid());
    limit.exhaust();
    // Both the proxy's and the embedded echo server's accepts now fail.
    let _waiting = [TcpStream::connect(wstap.addr).await.unwrap(), TcpStream::connect(echo).await.unwrap()];
    let burnt = cpu_over(wstap.pid(), WINDOW).await;
    let lines_while_out = wstap.stderr_lines().len();
    limit.restore();
    assert!(burnt < MAX_IDLE_CPU, "{burnt:?} of CPU in {WINDOW:?} without descriptors");
    assert!(lines_while_out < 10, "{lines_while_out} stderr lines while out of descriptors");
    within("a session after descriptors free up", echo_round_trip(wstap.addr)).await;
    let (status, stderr) = wstap.interrupt().await;
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    for who in ["record", "echo server"] {
        let first = format!("{who}: cannot accept connections: Too many open files");
        assert_eq!(stderr.iter().filter(|l| l.contains(&first)).count(), 1, "{who}: {stderr:#?}");
        let again = format!("{who}: accepting again after ");
        assert!(stderr.iter().any(|l| l.contains(&again) && l.contains("failed attempt(s)")), "{stderr:#?}");
    }
}

#[tokio::test]
async fn serve_survives_running_out_of_descriptors() {
    use futures_util::StreamExt;
    let reports = tempfile::tempdir().unwrap();
    let wstap = WstapChild::spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--cases",
        "7.*",
        "--report",
        reports.path().to_str().unwrap(),
    ]);
    let limit = FdLimit::of(wstap.pid());
    limit.exhaust();
    let _waiting = TcpStream::connect(wstap.addr).await.unwrap();
    let burnt = cpu_over(wstap.pid(), WINDOW).await;
    limit.restore();
    let count = within("serve answers again", async {
        let url = format!("ws://{}/getCaseCount", wstap.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.next().await.unwrap().unwrap().into_text().unwrap().to_string()
    })
    .await;
    assert_eq!(count, "37");
    let (_, stderr) = wstap.interrupt().await;
    assert!(burnt < MAX_IDLE_CPU, "{burnt:?} of CPU in {WINDOW:?} without descriptors");
    assert!(stderr.iter().any(|l| l.contains("serve: accepting again after")), "{stderr:#?}");
}

/// Peak resident memory of a running process.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_server_that_speaks_first_and_floods_is_bounded_and_recorded_in_sidecars() {
    const FLOOD: usize = 16 * 1024 * 1024;
    let upstream = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let up = upstream.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut s, _) = upstream.accept().await.unwrap();
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..FLOOD / block.len() {
            s.write_all(&block).await.unwrap();
        }
        s.shutdown().await.unwrap();
    });
    let out = tempfile::tempdir().unwrap();
    let wstap = WstapChild::record(&["--upstream", &up, "--out", out.path().to_str().unwrap()]);
    let mut client = TcpStream::connect(wstap.addr).await.unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    within("the flood is forwarded", async {
        loop {
            match client.read(&mut buf).await.unwrap() {
                0 => break,
                n => got += n,
            }
        }
    })
    .await;
    assert_eq!(got, FLOOD, "forwarded byte-exact in length");
    drop(client);
    wait_for_summaries(out.path(), 1).await;
    let peak = peak_rss_kib(wstap.pid());
    let (status, _) = wstap.interrupt().await;
    assert_eq!(status.code(), Some(0));
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB for a {FLOOD}-byte flood before any request");
    let file = &yaml_files(out.path())[0];
    let yaml_len = std::fs::metadata(file).unwrap().len();
    assert!(yaml_len < 1024 * 1024, "the YAML is {yaml_len} bytes: raw bytes belong in the sidecar");
    let rec = wstap::store::load(file).unwrap();
    let raws: Vec<_> = rec
        .events_in(Direction::ServerToClient)
        .filter_map(|e| match &e.kind {
            EventKind::Raw { reason, data, .. } => Some((reason.clone(), data.clone())),
            _ => None,
        })
        .collect();
    assert!(raws[0].0.contains("server sent over 1048576 bytes before the client's request head"), "{:?}", raws[0].0);
    let mut total = 0u64;
    for (_, data) in &raws {
        match data {
            wstap::session::Data::Sidecar(r) => total += r.len,
            inline => {
                let len = rec.data_bytes(inline).unwrap().len();
                assert!(len <= wstap::session::INLINE_MAX, "a raw run of {len} bytes inline");
                total += len as u64;
            }
        }
    }
    assert_eq!(total, FLOOD as u64, "every byte recorded");
    assert_eq!(rec.stream(Direction::ServerToClient).unwrap().len(), FLOOD, "and rebuilt from the sidecar");
}

/// An upstream for the bomb test: `/bomb` accepts permessage-deflate and
/// discards what it gets (it inflates nothing, so it costs nothing);
/// anything else is a tokio-tungstenite echo.
async fn bomb_sink_and_echo() -> SocketAddr {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut bomb = false;
                #[allow(clippy::result_large_err)] // the callback type is tungstenite's
                let callback = |req: &Request, mut resp: Response| {
                    if req.uri().path() == "/bomb" {
                        bomb = true;
                        resp.headers_mut().insert("Sec-WebSocket-Extensions", "permessage-deflate".parse().unwrap());
                    }
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
                if bomb {
                    let mut buf = vec![0u8; 64 * 1024];
                    while matches!(ws.get_mut().read(&mut buf).await, Ok(n) if n > 0) {}
                    return;
                }
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Round-trip times of `n` echoes on `ws`, or until `until` says stop.
async fn echo_times(ws: &mut Ws, n: usize, until: &dyn Fn() -> bool) -> Vec<Duration> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mut times = Vec::new();
    while times.len() < n && !until() {
        let t = Instant::now();
        ws.send(Message::text("ping ".repeat(20))).await.unwrap();
        within("echo", ws.next()).await.unwrap().unwrap();
        times.push(t.elapsed());
    }
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deflate_bomb_spends_its_budget_and_does_not_stall_other_connections() {
    let test = "a_deflate_bomb_spends_its_budget_and_does_not_stall_other_connections";
    if !crate::deflate::have_websockets(test) {
        return;
    }
    const MESSAGES: usize = 12;
    const SIZE: usize = 16 * 1024 * 1024;
    let proxy = TestProxy::start(bomb_sink_and_echo().await).await;
    let (mut victim, _) = tokio_tungstenite::connect_async(format!("ws://{}/echo", proxy.addr)).await.unwrap();
    let baseline = echo_times(&mut victim, 300, &|| false).await;
    let script = format!("{}/tests/python/pmd_bomb_client.py", env!("CARGO_MANIFEST_DIR"));
    let bomb = std::process::Command::new("python3")
        .args([&script, &format!("ws://{}/bomb", proxy.addr), &MESSAGES.to_string(), &SIZE.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let bomb = std::sync::Arc::new(std::sync::Mutex::new(bomb));
    let running = bomb.clone();
    let during =
        echo_times(&mut victim, usize::MAX, &move || running.lock().unwrap().try_wait().unwrap().is_some()).await;
    let out = within(
        "the bomb is sent",
        tokio::task::spawn_blocking(move || {
            let child = std::sync::Arc::try_unwrap(bomb).ok().unwrap().into_inner().unwrap();
            child.wait_with_output().unwrap()
        }),
    )
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    victim.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close reply", futures_util::StreamExt::next(&mut victim)).await {}
    drop(victim);
    wait_for_summaries(proxy.dir.path(), 2).await;
    let (recorded, dir) = proxy.finish().await;

    // What the recorder did: spent the budget, said so, recorded the rest compressed.
    let bomb_rec = recorded
        .iter()
        .map(|r| wstap::store::load(&r.path).unwrap())
        .find(|r| r.events.iter().any(|e| matches!(&e.kind, EventKind::Upgrade { extensions: Some(_), .. })))
        .expect("the bomb's recording");
    let notes: Vec<&str> = bomb_rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { kind, .. } => Some(kind.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(notes, ["inflate_budget_exhausted"]);
    let messages: Vec<&wstap::session::Message> = bomb_rec
        .events_in(Direction::ClientToServer)
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(messages.len(), MESSAGES, "every message is recorded");
    let compressed: u64 = messages.iter().map(|m| m.len).sum();
    let inflated: u64 = messages.iter().filter_map(|m| m.inflated.as_ref()).map(|i| i.len).sum();
    let budget = wstap::session::INFLATE_BUDGET_SLACK + wstap::session::INFLATE_BUDGET_RATIO * compressed;
    assert!(inflated <= budget, "{inflated} bytes inflated, budget {budget}");
    assert!(messages.iter().skip(1).all(|m| m.inflated.is_none()), "compressed only after the budget");
    let sidecars: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".inflated.bin"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(sidecars <= budget, "{sidecars} bytes of inflated sidecar for {} bytes sent", compressed);

    // And the other connection kept its pace (generous: a loaded 2-core machine).
    let worst = |t: &[Duration]| t.iter().copied().max().unwrap_or_default();
    let mut sorted = baseline.clone();
    sorted.sort();
    let p99 = sorted[sorted.len() * 99 / 100];
    let bound = (p99 * 50).max(Duration::from_millis(250));
    eprintln!(
        "echo latency: baseline p99 {p99:?} max {:?}; during the bomb ({} echoes) max {:?}",
        worst(&baseline),
        during.len(),
        worst(&during)
    );
    assert!(!during.is_empty(), "the victim echoed while the bomb was sent");
    assert!(worst(&during) < bound, "an echo took {:?} during the bomb (bound {bound:?})", worst(&during));
}

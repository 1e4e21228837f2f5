//! Shared helpers: peers, the in-process proxy, timeouts.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wstap::proxy::{Proxy, ProxyConfig, recorder::Recorded};

/// Generous bound for any single step; tests wait on readiness, never sleep.
pub const STEP: Duration = Duration::from_secs(20);

pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

pub fn loopback_v6() -> SocketAddr {
    (std::net::Ipv6Addr::LOCALHOST, 0).into()
}

/// A tokio-tungstenite echo server (messages echoed; pings answered by the library).
pub async fn tungstenite_echo() -> SocketAddr {
    tungstenite_echo_at(loopback()).await
}

/// [`tungstenite_echo`] listening on `bind` (port 0 for any).
pub async fn tungstenite_echo_at(bind: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// An in-process recording proxy.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<Vec<Recorded>>,
}

impl TestProxy {
    pub async fn start(upstream: impl Into<wstap::net::Target>) -> TestProxy {
        TestProxy::start_with(loopback(), upstream, None).await
    }

    /// A proxy listening on `listen`, optionally writing captures.
    pub async fn start_with(
        listen: SocketAddr,
        upstream: impl Into<wstap::net::Target>,
        pcap: Option<wstap::pcap::Format>,
    ) -> TestProxy {
        TestProxy::start_config(listen, upstream, |c| c.pcap = pcap).await
    }

    /// A proxy listening on `listen`, its configuration adjusted by `tweak`.
    pub async fn start_config(
        listen: SocketAddr,
        upstream: impl Into<wstap::net::Target>,
        tweak: impl FnOnce(&mut ProxyConfig),
    ) -> TestProxy {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ProxyConfig::new(upstream, dir.path(), "test");
        tweak(&mut config);
        let proxy = Proxy::bind(listen, config).await.unwrap();
        let addr = proxy.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(proxy.run(async {
            let _ = stopped.await;
        }));
        TestProxy { addr, dir, stop: Some(stop), task }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/test", self.addr)
    }

    /// Stops the proxy and returns every finalised recording, sorted by file name.
    pub async fn finish(mut self) -> (Vec<Recorded>, tempfile::TempDir) {
        let _ = self.stop.take().unwrap().send(());
        let mut done = within("proxy shutdown", self.task).await.unwrap();
        done.sort_by(|a, b| a.path.cmp(&b.path));
        (done, self.dir)
    }
}

/// Waits until `n` recordings in `dir` are finalised (their summary written).
pub async fn wait_for_summaries(dir: &Path, n: usize) {
    within("recordings finalised", async {
        loop {
            let done = yaml_files(dir)
                .iter()
                .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("\nsummary:\n")))
                .count();
            if done >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// The recording files (YAML) in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

pub fn sha256(bytes: &[u8]) -> String {
    wstap::session::data::sha256_hex(bytes)
}

/// Path of the real binary.
pub fn wstap_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wstap")
}

/// A tokio-tungstenite client connection.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The 1 MiB binary payload of [`every_frame_type`].
pub fn big_payload() -> Vec<u8> {
    (0..1024 * 1024).map(|i| (i % 253) as u8).collect()
}

/// Text "hello", binary 00 01 02 ff, text "frag"+"ment" in two frames, a
/// ping "p1" and [`big_payload`]; checks the pong and the four echoes.
pub async fn every_frame_type(ws: &mut Ws) {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::{Bytes, Message};
    let big = big_payload();
    ws.send(Message::text("hello")).await.unwrap();
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
    let part = |b: &'static [u8], op, fin| Message::Frame(Frame::message(Bytes::from_static(b), op, fin));
    ws.send(part(b"frag", OpCode::Data(Data::Text), false)).await.unwrap();
    ws.send(part(b"ment", OpCode::Data(Data::Continue), true)).await.unwrap();
    ws.send(Message::Ping(Bytes::from_static(b"p1"))).await.unwrap();
    ws.send(Message::binary(big.clone())).await.unwrap();
    let mut echoes = Vec::new();
    while echoes.len() < 4 {
        match within("echo", ws.next()).await.unwrap().unwrap() {
            Message::Pong(p) => assert_eq!(&p[..], b"p1"),
            m => echoes.push(m),
        }
    }
    assert_eq!(echoes[0], Message::text("hello"));
    assert_eq!(echoes[1], Message::binary(vec![0u8, 1, 2, 255]));
    assert_eq!(echoes[2], Message::text("fragment"));
    assert_eq!(echoes[3].clone().into_data(), big);
}

/// Closes with 1001 "bye now" and waits for the close reply and the end.
pub async fn close_going_away(mut ws: Ws) {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let close = CloseFrame { code: CloseCode::Away, reason: "bye now".into() };
    ws.close(Some(close)).await.unwrap();
    while let Some(Ok(_)) = within("close reply", ws.next()).await {}
}

/// A `wstap` child process that listens (record, serve), its stderr
/// collected as it goes.
pub struct WstapChild {
    pub child: std::process::Child,
    /// Where it accepts clients.
    pub addr: SocketAddr,
    /// Every stderr line so far (the reader thread keeps appending).
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl WstapChild {
    /// `wstap record --listen 127.0.0.1:0 ARGS`.
    pub fn record(args: &[&str]) -> WstapChild {
        WstapChild::spawn(&[&["record", "--listen", "127.0.0.1:0"], args].concat())
    }

    /// Runs `wstap ARGS` and waits for the first stderr line, which names
    /// the address (`... connect to ws://ADDR/`, `ADDR -> UPSTREAM` or
    /// `serving N cases on ws://ADDR/`).
    pub fn spawn(args: &[&str]) -> WstapChild {
        use std::io::BufRead;
        let mut child =
            std::process::Command::new(wstap_bin()).args(args).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("wstap prints its address").unwrap();
        let addr = match first.split_once("ws://") {
            Some((_, rest)) => rest.split('/').next(),
            None => first.split(" -> ").next().and_then(|s| s.rsplit(' ').next()),
        };
        let addr = addr.and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("no address in {first:?}"));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(vec![first]));
        let sink = stderr.clone();
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| sink.lock().unwrap().push(l)));
        WstapChild { child, addr, stderr }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The stderr lines so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGINT and waits (at most [`STEP`]) for the exit status.
    pub async fn interrupt(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let status = within("wstap exits after SIGINT", async {
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let lines = self.stderr_lines();
        (status, lines)
    }
}

impl Drop for WstapChild {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

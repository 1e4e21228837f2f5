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

/// The digest recordings carry (BLAKE3, lowercase hex): for comparing bytes
/// and for checking recorded digests.
pub fn digest(bytes: &[u8]) -> String {
    wstap::session::data::Digest::of(bytes).hex().to_string()
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

/// An outside tool some tests need. `.ci/run` installs every one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Wireshark's command line, judging exported captures.
    Tshark,
    /// Real captures to import.
    Tcpdump,
    /// Python `websockets`, an independent WebSocket implementation.
    PythonWebsockets,
    /// Python `junitparser`, an independent reader of JUnit XML.
    PythonJunitparser,
    /// Python `haralyzer`, an independent reader of HAR.
    PythonHaralyzer,
}

impl Tool {
    /// The command that succeeds when the tool is usable.
    fn probe(self) -> &'static [&'static str] {
        match self {
            Tool::Tshark => &["tshark", "--version"],
            Tool::Tcpdump => &["tcpdump", "--version"],
            Tool::PythonWebsockets => &["python3", "-c", "import websockets"],
            Tool::PythonJunitparser => &["python3", "-c", "import junitparser"],
            Tool::PythonHaralyzer => &["python3", "-c", "import haralyzer"],
        }
    }

    /// How to get it (what `.ci/run` does).
    fn install(self) -> &'static str {
        match self {
            Tool::Tshark | Tool::Tcpdump => "apt-get install tshark tcpdump",
            Tool::PythonWebsockets => "python3 -m pip install 'websockets==17.4'",
            Tool::PythonJunitparser => "python3 -m pip install 'junitparser==5.0.3'",
            Tool::PythonHaralyzer => "python3 -m pip install 'haralyzer==2.4.0'",
        }
    }
}

/// True if `tool` is usable; probed once per test binary.
fn tool_present(tool: Tool) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashMap<Tool, bool>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner());
    *seen.entry(tool).or_insert_with(|| {
        let (cmd, args) = tool.probe().split_first().expect("a command");
        std::process::Command::new(cmd)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Whether `test`, which needs `tool`, can run. When the tool is missing:
/// with `CI` set this panics (CI must run every test); otherwise it writes
/// one `SKIPPED` line straight to stderr (past the test harness's output
/// capture, so it shows in a plain `cargo test`) and returns false, and
/// the test returns without running.
pub fn have(tool: Tool, test: &str) -> bool {
    if tool_present(tool) {
        return true;
    }
    let command = tool.probe().join(" ");
    skip_or_fail(test, &format!("{tool:?} is missing (`{command}` failed); install: {}", tool.install()));
    false
}

/// The one place a test skips: panics under `CI`, else one line on stderr.
/// For tools [`Tool`] does not list, call it when the probe fails.
pub fn skip_or_fail(test: &str, why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{test}: {why}. CI is set, so a missing tool fails the run (see README, Development)");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Runs one test of this binary in a child with no tools on `PATH`.
fn run_without_tools(test: &str, ci: bool) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--test-threads", "1"]).env("PATH", "/nonexistent").env_remove("CI");
    if ci {
        cmd.env("CI", "1");
    }
    cmd.output().unwrap()
}

#[test]
fn a_missing_tool_fails_the_test_under_ci_and_skips_loudly_outside() {
    for test in [
        "pcap::tcpdump_capture_ipv4_imports_to_the_frames_sent",
        "deflate_replay::scenario_window_bits_limit_both_sides",
        "oracle::category7::category_7_equals_autobahn_with_node_ws",
    ] {
        let out = run_without_tools(test, false);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{test} without CI: {stderr}");
        let name = test.rsplit("::").next().unwrap();
        let skipped: Vec<&str> = stderr.lines().filter(|l| l.starts_with("SKIPPED ")).collect();
        assert_eq!(skipped.len(), 1, "one line per skipped test, shown by a plain run: {stderr}");
        assert!(skipped[0].starts_with(&format!("SKIPPED {name}: ")), "{stderr}");
        let out = run_without_tools(test, true);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{test} with CI set must fail: {stdout}");
        assert!(stdout.contains("CI is set, so a missing tool fails the run"), "{stdout}");
    }
}

/// A `wstap` child process that listens (record, serve), its stderr
/// collected as it goes.
pub struct WstapChild {
    pub child: std::process::Child,
    /// Where it accepts clients.
    pub addr: SocketAddr,
    /// Every stderr line so far (the reader thread keeps appending).
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Says when the reader thread has read stderr to its end.
    stderr_done: std::sync::mpsc::Receiver<()>,
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
        let mut cmd = std::process::Command::new(wstap_bin());
        cmd.args(args);
        WstapChild::spawn_cmd(cmd)
    }

    /// [`WstapChild::spawn`] of a prepared command (environment, stdout).
    pub fn spawn_cmd(mut cmd: std::process::Command) -> WstapChild {
        use std::io::BufRead;
        let mut child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("wstap prints its address").unwrap();
        let addr = match first.split_once("ws://") {
            Some((_, rest)) => rest.split('/').next(),
            None => first.split(" -> ").next().and_then(|s| s.rsplit(' ').next()),
        };
        let addr = addr.and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("no address in {first:?}"));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(vec![first]));
        let sink = stderr.clone();
        let (done, stderr_done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            lines.map_while(Result::ok).for_each(|l| sink.lock().unwrap().push(l));
            let _ = done.send(());
        });
        WstapChild { child, addr, stderr, stderr_done }
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
        // The exit can be seen before the reader thread has taken the last
        // lines from the pipe: wait for its end of file (bounded, in case
        // something else still holds the pipe open).
        let _ = self.stderr_done.recv_timeout(STEP);
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

//! Whole-path benchmark: what does recording cost the traffic it records?
//!
//! `cargo bench --bench proxy` (add `-- --quick`, or set `WSTAP_BENCH_QUICK=1`,
//! for a smoke run of a few seconds).
//!
//! One tokio-tungstenite echo server; load clients reach it over each
//! [`PATHS`] entry: directly, through a plain `copy_bidirectional` relay (the
//! no-decoding baseline), and through the recording proxy. Each workload runs
//! every path once per round, in a rotating order, for several rounds; the
//! table shows medians over rounds and ratios against the baselines measured
//! in the same run, because absolute numbers on a shared machine are noise.
//!
//! The big-message workload runs the proxy as a child process (the real
//! `wstap record` binary) so that its peak RSS (`VmHWM`) can be read.
//!
//! `wstap, idle fault rules` has a rule on each direction that
//! never fires: its ratio to `wstap record` is what a fault tap costs the
//! frames it watches (connections without rules have none).
//!
//! The wss rows compare TLS on both legs: `direct wss` is the client
//! speaking TLS straight to a wss echo server (the same tokio-tungstenite
//! echo behind tokio-rustls), `wstap --tls, wss upstream` is the client
//! speaking TLS to the recording proxy (`--tls`, a certificate from a
//! temporary wstap CA), which speaks TLS to that server. Their ratios are
//! against `direct wss`, measured in the same run. Both are in-process
//! (no RSS figure).

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use wstap::proxy::{Proxy, ProxyConfig};

/// How a client reaches the echo server.
#[derive(Clone, Copy)]
enum Via {
    /// Straight to the server.
    Direct,
    /// Through `tokio::io::copy_bidirectional`.
    Relay,
    /// TLS straight to the wss echo server.
    DirectWss,
    /// TLS to the recording proxy (`--tls`), which speaks TLS to the wss echo server.
    WstapTls,
    /// Through the recording proxy: in-process for the timed workloads, the
    /// `wstap record` binary with `args` for the big-message one.
    Wstap {
        /// Adjusts the in-process proxy's configuration.
        tweak: fn(&mut ProxyConfig),
        /// Extra `wstap record` arguments.
        args: &'static [&'static str],
    },
}

/// One row per path; `None` marks a path that cannot be measured yet.
const PATHS: &[(&str, Option<Via>)] = &[
    ("direct", Some(Via::Direct)),
    ("plain relay", Some(Via::Relay)),
    ("wstap record", Some(Via::Wstap { tweak: |_| {}, args: &[] })),
    (
        "wstap record --pcap",
        Some(Via::Wstap { tweak: |c| c.pcap = Some(wstap::pcap::Format::Pcap), args: &["--pcap"] }),
    ),
    (
        "wstap, idle fault rules",
        Some(Via::Wstap { tweak: |c| c.faults = idle_faults(), args: &["--fault", IDLE_C2S, "--fault", IDLE_S2C] }),
    ),
    ("direct wss", Some(Via::DirectWss)),
    ("wstap --tls, wss up", Some(Via::WstapTls)),
];

/// Fault rules that never fire: every frame of both directions goes through
/// a fault tap, and is forwarded unchanged (the cost of the tap itself).
const IDLE_C2S: &str = "c2s frame=4000000000 drop";
const IDLE_S2C: &str = "s2c frame=4000000000 drop";

fn idle_faults() -> std::sync::Arc<wstap::fault::Plan> {
    let rules = [IDLE_C2S, IDLE_S2C].iter().map(|r| wstap::fault::parse_rule(r).unwrap()).collect();
    std::sync::Arc::new(wstap::fault::Plan::new(rules))
}

/// The baseline a path's `/direct` ratio is taken against.
fn direct_of(path: &str) -> &'static str {
    if path.contains("wss") || path.contains("tls") { "direct wss" } else { "direct" }
}

/// TLS for the wss paths: a temporary wstap CA, a wss echo server with a
/// certificate from it, and client settings that trust it.
struct Tls {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    server: wstap::tls::ServerTls,
    client: std::sync::Arc<rustls::ClientConfig>,
    echo: SocketAddr,
}

impl Tls {
    async fn start() -> Tls {
        use rustls::pki_types::pem::PemObject;
        let dir = tempfile::tempdir().unwrap();
        let ca = std::sync::Arc::new(wstap::tls::Ca::load_or_create(dir.path()).unwrap());
        let server = wstap::tls::ServerTls::new(wstap::tls::CertSource::Ca(ca.clone()), "localhost", None);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from_pem_file(&ca.cert_path).unwrap()).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(wstap::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let echo = wss_echo_server(server.clone()).await;
        Tls { ca_file: ca.cert_path.clone(), _dir: dir, server, client: std::sync::Arc::new(client), echo }
    }
}

async fn wss_echo_server(tls: wstap::tls::ServerTls) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok((stream, _)) = tls.accept(stream, None).await else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await else {
                    return;
                };
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

/// One traffic shape.
#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    conns: usize,
    size: usize,
    /// Messages outstanding per connection.
    in_flight: usize,
    /// A single message per round instead of a timed window; reports RSS.
    single: bool,
}

struct Settings {
    quick: bool,
    rounds: usize,
    big_rounds: usize,
    window: Duration,
    big: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("WSTAP_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        match quick {
            true => Settings { quick, rounds: 2, big_rounds: 1, window: Duration::from_millis(300), big: 32 << 20 },
            false => Settings { quick, rounds: 5, big_rounds: 3, window: Duration::from_secs(2), big: 256 << 20 },
        }
    }

    fn workloads(&self) -> Vec<Workload> {
        let timed = |name, conns, size, in_flight| Workload { name, conns, size, in_flight, single: false };
        let big_name = if self.big == 256 << 20 { "1 conn x 256 MiB, one message" } else { "1 conn x 32 MiB (quick)" };
        vec![
            timed("1 conn x 64 B, 32 in flight", 1, 64, 32),
            timed("50 conns x 64 B, 1 in flight each", 50, 64, 1),
            timed("1 conn x 1 MiB, 4 in flight", 1, 1 << 20, 4),
            Workload { name: big_name, conns: 1, size: self.big, in_flight: 1, single: true },
        ]
    }
}

/// One path × workload × round.
#[derive(Default)]
struct Sample {
    msgs_per_s: f64,
    mb_per_s: f64,
    p50: Duration,
    p99: Duration,
    rss: Option<u64>,
}

/// The limits the issue sets; checked at the end from the medians.
struct Row {
    workload: &'static str,
    path: &'static str,
    median: Sample,
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(None).max_frame_size(None)
}

const STEP: Duration = Duration::from_secs(120);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await else {
                    return;
                };
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

/// A running path: where clients connect, and what to tear down after.
enum Endpoint {
    Direct(SocketAddr),
    Relay(SocketAddr, tokio::task::JoinHandle<()>),
    Proxy {
        addr: SocketAddr,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<Vec<wstap::proxy::recorder::Recorded>>,
        _dir: tempfile::TempDir,
    },
    Child(WstapChild),
}

impl Endpoint {
    async fn start(via: Via, echo: SocketAddr, child: bool, tls: &Tls) -> Endpoint {
        match via {
            Via::Direct => Endpoint::Direct(echo),
            Via::DirectWss => Endpoint::Direct(tls.echo),
            Via::WstapTls => {
                let dir = tempfile::tempdir().unwrap();
                let target = wstap::net::Target::parse(&format!("wss://localhost:{}", tls.echo.port())).unwrap();
                let mut config = ProxyConfig::new(target, dir.path(), "bench");
                let options =
                    wstap::tls::UpstreamOptions { extra_roots: vec![tls.ca_file.clone()], ..Default::default() };
                config.upstream_tls = Some(wstap::tls::UpstreamTls::new(&options).unwrap());
                config.client_tls = Some(tls.server.clone());
                let proxy = Proxy::bind(loopback(), config).await.unwrap();
                let addr = proxy.local_addr().unwrap();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(proxy.run(async {
                    let _ = stopped.await;
                }));
                Endpoint::Proxy { addr, stop, task, _dir: dir }
            }
            Via::Relay => {
                let listener = TcpListener::bind(loopback()).await.unwrap();
                let addr = listener.local_addr().unwrap();
                Endpoint::Relay(addr, tokio::spawn(relay(listener, echo)))
            }
            Via::Wstap { args, .. } if child => Endpoint::Child(WstapChild::start(echo, args).await),
            Via::Wstap { tweak, .. } => {
                let dir = tempfile::tempdir().unwrap();
                let mut config = ProxyConfig::new(echo, dir.path(), "bench");
                tweak(&mut config);
                let proxy = Proxy::bind(loopback(), config).await.unwrap();
                let addr = proxy.local_addr().unwrap();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(proxy.run(async {
                    let _ = stopped.await;
                }));
                Endpoint::Proxy { addr, stop, task, _dir: dir }
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Endpoint::Direct(a) | Endpoint::Relay(a, _) | Endpoint::Proxy { addr: a, .. } => *a,
            Endpoint::Child(c) => c.listen,
        }
    }

    /// Tears down; for proxies, waits until every recording is final (so a
    /// recorder's backlog never spills into the next measurement) and returns
    /// the child's peak RSS.
    async fn stop(self, conns: usize) -> Option<u64> {
        match self {
            Endpoint::Direct(_) => None,
            Endpoint::Relay(_, task) => {
                task.abort();
                None
            }
            Endpoint::Proxy { stop, task, .. } => {
                let _ = stop.send(());
                let recorded = within("proxy shutdown", task).await.unwrap();
                assert_eq!(recorded.len(), conns, "every connection recorded");
                None
            }
            Endpoint::Child(child) => Some(child.finish(conns).await),
        }
    }
}

async fn relay(listener: TcpListener, upstream: SocketAddr) {
    while let Ok((mut client, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else { return };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

/// `wstap record --listen 127.0.0.1:0 --upstream ECHO --out DIR` as a child.
struct WstapChild {
    child: tokio::process::Child,
    listen: SocketAddr,
    dir: tempfile::TempDir,
}

fn wstap_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wstap"))
}

impl WstapChild {
    async fn start(upstream: SocketAddr, extra: &[&str]) -> WstapChild {
        let dir = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(wstap_bin())
            .args(["record", "--listen", "127.0.0.1:0", "--upstream", &upstream.to_string(), "--out"])
            .arg(dir.path())
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn wstap record");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let listen = within("wstap record ready", async {
            loop {
                let line = lines.next_line().await.unwrap().expect("wstap record exited before it was ready");
                if let Some(addr) = parse_ready(&line) {
                    return addr;
                }
            }
        })
        .await;
        // Keep draining stderr so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        WstapChild { child, listen, dir }
    }

    /// Waits for `conns` finalised recordings, reads `VmHWM`, stops the child.
    async fn finish(mut self, conns: usize) -> u64 {
        wait_for_summaries(self.dir.path(), conns).await;
        let pid = self.child.id().expect("child running");
        let rss = vm_hwm(pid).expect("VmHWM in /proc/PID/status");
        let _ = self.child.kill().await;
        rss
    }
}

/// `wstap: recording into DIR; LISTEN -> UPSTREAM` → LISTEN.
fn parse_ready(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix("wstap: recording into ")?;
    let (_, addrs) = rest.rsplit_once("; ")?;
    addrs.split_once(" -> ")?.0.parse().ok()
}

/// Peak resident set of `pid`, in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

async fn wait_for_summaries(dir: &Path, n: usize) {
    within("recordings finalised", async {
        loop {
            let done = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("\nsummary:\n")))
                .count();
            if done >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn wstap::net::stream::Io>>;

/// A client connection, over TLS when `tls` is given (SNI localhost).
async fn connect(addr: SocketAddr, tls: Option<&std::sync::Arc<rustls::ClientConfig>>) -> Ws {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn wstap::net::stream::Io> = match tls {
        None => Box::new(tcp),
        Some(config) => {
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            Box::new(within("TLS handshake", connector.connect(name, tcp)).await.unwrap())
        }
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let url = format!("{scheme}://localhost:{}/bench", addr.port());
    let (ws, _) =
        within("connect", tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))).await.unwrap();
    ws
}

/// A message carrying its send time (nanoseconds since `base`) in its first 8 bytes.
fn stamped(template: &[u8], base: Instant) -> Message {
    let mut payload = template.to_vec();
    let now = base.elapsed().as_nanos() as u64;
    payload[..8].copy_from_slice(&now.to_le_bytes());
    Message::Binary(Bytes::from(payload))
}

fn rtt_of(msg: &Message, base: Instant) -> Duration {
    let Message::Binary(b) = msg else { panic!("unexpected echo {msg:?}") };
    let sent = u64::from_le_bytes(b[..8].try_into().unwrap());
    Duration::from_nanos(base.elapsed().as_nanos() as u64 - sent)
}

/// Keeps `in_flight` messages outstanding until `end` (at least one is
/// sent), then drains. Returns
/// the round-trip times and the instant the last echo arrived.
async fn client(mut ws: Ws, size: usize, in_flight: usize, base: Instant, end: Instant) -> (Vec<Duration>, Instant) {
    let template = vec![0x5a; size.max(8)];
    let mut rtts = Vec::new();
    let (mut outstanding, mut sent) = (0, 0u64);
    loop {
        while outstanding < in_flight && (sent == 0 || Instant::now() < end) {
            ws.feed(stamped(&template, base)).await.unwrap();
            outstanding += 1;
            sent += 1;
        }
        ws.flush().await.unwrap();
        if outstanding == 0 {
            break;
        }
        let echo = within("echo", ws.next()).await.expect("echo stream ended").unwrap();
        rtts.push(rtt_of(&echo, base));
        outstanding -= 1;
    }
    let last = Instant::now();
    let _ = ws.close(None).await;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {}
    (rtts, last)
}

/// One measurement: connect, warm up, run the window (or one message).
async fn measure(
    addr: SocketAddr,
    w: Workload,
    window: Duration,
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
) -> Sample {
    let base = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..w.conns {
        let mut ws = connect(addr, tls).await;
        if !w.single {
            for _ in 0..4 {
                ws.send(stamped(&vec![0; w.size], base)).await.unwrap();
                within("warm-up echo", ws.next()).await.unwrap().unwrap();
            }
        }
        conns.push(ws);
    }
    let start = Instant::now();
    let end = if w.single { start + Duration::from_nanos(1) } else { start + window };
    let clients: Vec<_> =
        conns.into_iter().map(|ws| tokio::spawn(client(ws, w.size, w.in_flight.max(1), base, end))).collect();
    let mut rtts = Vec::new();
    let mut last = start;
    for c in clients {
        let (r, l) = c.await.unwrap();
        rtts.extend(r);
        last = last.max(l);
    }
    let secs = (last - start).as_secs_f64();
    rtts.sort();
    let pct =
        |p: usize| rtts.get((rtts.len() * p / 100).min(rtts.len().saturating_sub(1))).copied().unwrap_or_default();
    let msgs = rtts.len() as f64;
    Sample {
        msgs_per_s: msgs / secs,
        mb_per_s: msgs * w.size as f64 / secs / 1e6,
        p50: pct(50),
        p99: pct(99),
        rss: None,
    }
}

fn median_by<T: Copy + PartialOrd>(xs: &[Sample], f: impl Fn(&Sample) -> T) -> T {
    let mut v: Vec<T> = xs.iter().map(f).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn median(samples: &[Sample]) -> Sample {
    Sample {
        msgs_per_s: median_by(samples, |s| s.msgs_per_s),
        mb_per_s: median_by(samples, |s| s.mb_per_s),
        p50: median_by(samples, |s| s.p50),
        p99: median_by(samples, |s| s.p99),
        rss: samples.iter().filter_map(|s| s.rss).max(),
    }
}

fn us(d: Duration) -> String {
    match d.as_micros() {
        n if n >= 100_000 => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        n => format!("{n} µs"),
    }
}

fn print_workload(w: &Workload, rows: &[Row]) {
    let find = |name: &str| rows.iter().find(|r| r.path == name && r.workload == w.name).map(|r| &r.median);
    let relay = find("plain relay");
    println!("\n{}", w.name);
    println!(
        "  {:<22} {:>11} {:>9} {:>9} {:>9} {:>8} {:>8} {:>12} {:>9}",
        "path", "msgs/s", "MB/s", "p50", "p99", "/direct", "/relay", "p99-relay", "peak RSS"
    );
    for (path, via) in PATHS {
        let Some(s) = find(path) else {
            let why = if via.is_none() { "not yet available" } else { "not measured" };
            println!("  {path:<22} {why}");
            continue;
        };
        let ratio = |b: Option<&Sample>| b.map_or("-".into(), |b| format!("{:.2}x", s.msgs_per_s / b.msgs_per_s));
        let (direct, relay) = match direct_of(path) {
            "direct" => (find("direct"), relay),
            wss => (find(wss), None),
        };
        let added = relay.map_or("-".into(), |r| {
            let d = s.p99.as_secs_f64() - r.p99.as_secs_f64();
            format!("{:+.0} µs", d * 1e6)
        });
        let rss = s.rss.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64));
        println!(
            "  {:<22} {:>11.0} {:>9.1} {:>9} {:>9} {:>8} {:>8} {:>12} {:>9}",
            path,
            s.msgs_per_s,
            s.mb_per_s,
            us(s.p50),
            us(s.p99),
            ratio(direct),
            ratio(relay),
            added,
            rss
        );
    }
}

fn print_targets(workloads: &[Workload], rows: &[Row]) {
    let get = |w: &str, p: &str| rows.iter().find(|r| r.workload == w && r.path == p).map(|r| &r.median);
    let mark = |ok: bool| if ok { "met" } else { "NOT MET" };
    println!("\ntargets");
    for w in workloads {
        let (Some(wstap), Some(relay), Some(direct)) =
            (get(w.name, "wstap record"), get(w.name, "plain relay"), get(w.name, "direct"))
        else {
            continue;
        };
        let vs_relay = wstap.msgs_per_s / relay.msgs_per_s;
        println!("  {:<40} throughput >= 0.9x relay: {:.2}x {}", w.name, vs_relay, mark(vs_relay >= 0.9));
        if w.size == 64 {
            let vs_direct = wstap.msgs_per_s / direct.msgs_per_s;
            println!("  {:<40} throughput >= 0.8x direct: {:.2}x {}", w.name, vs_direct, mark(vs_direct >= 0.8));
        }
        if !w.single {
            let added = wstap.p99.as_secs_f64() - relay.p99.as_secs_f64();
            let ok = added < 200e-6;
            println!("  {:<40} p99 added over relay < 200 µs: {:+.0} µs {}", w.name, added * 1e6, mark(ok));
        }
        if let (Some(tls), Some(wss)) = (get(w.name, "wstap --tls, wss up"), get(w.name, "direct wss")) {
            println!(
                "  {:<40} wss both legs vs direct wss: {:.2}x (measured, no target)",
                w.name,
                tls.msgs_per_s / wss.msgs_per_s
            );
        }
        if let Some(rss) = wstap.rss {
            let mib = rss as f64 / (1 << 20) as f64;
            println!("  {:<40} proxy peak RSS < 64 MiB: {:.1} MiB {}", w.name, mib, mark(mib < 64.0));
        }
    }
}

fn main() {
    let settings = Settings::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(settings));
}

async fn run(s: Settings) {
    let echo = echo_server().await;
    let tls = Tls::start().await;
    // For profiling: WSTAP_BENCH_ONLY / WSTAP_BENCH_WORKLOAD keep paths / workloads whose name contains them.
    let keep = |var: &str, name: &str| std::env::var(var).map_or(true, |only| name.contains(only.as_str()));
    let workloads: Vec<Workload> = s.workloads().into_iter().filter(|w| keep("WSTAP_BENCH_WORKLOAD", w.name)).collect();
    let live: Vec<(&'static str, Via)> =
        PATHS.iter().filter(|(n, _)| keep("WSTAP_BENCH_ONLY", n)).filter_map(|(n, v)| v.map(|v| (*n, v))).collect();
    println!(
        "wstap proxy benchmark ({} mode): {} rounds of {:?} per timed workload, {} for the big message; \
         medians over rounds; MB/s counts each echoed payload once",
        if s.quick { "quick" } else { "full" },
        s.rounds,
        s.window,
        s.big_rounds
    );
    let mut rows = Vec::new();
    for w in &workloads {
        let rounds = if w.single { s.big_rounds } else { s.rounds };
        let mut samples: Vec<Vec<Sample>> = live.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            for k in 0..live.len() {
                let i = (k + round) % live.len();
                let via = live[i].1;
                let endpoint = Endpoint::start(via, echo, w.single, &tls).await;
                let client_tls = matches!(via, Via::DirectWss | Via::WstapTls).then_some(&tls.client);
                let mut sample = measure(endpoint.addr(), *w, s.window, client_tls).await;
                sample.rss = endpoint.stop(w.conns).await;
                samples[i].push(sample);
            }
        }
        for ((path, _), samples) in live.iter().zip(&samples) {
            rows.push(Row { workload: w.name, path, median: median(samples) });
        }
        print_workload(w, &rows);
    }
    print_targets(&workloads, &rows);
}
